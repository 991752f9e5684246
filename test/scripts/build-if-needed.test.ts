import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { TEST_DIR } from '../helpers/harness.js'

const SCRIPT = path.resolve(TEST_DIR, '..', '..', 'scripts', 'build-if-needed.mjs')

/** A copy of the script in a directory laid out like the container image: package.json, scripts/, no TypeScript. */
function imageLike(withDist: boolean): string {
  const root = mkdtempSync(path.join(tmpdir(), 'zdz-image-'))
  mkdirSync(path.join(root, 'scripts'))
  copyFileSync(SCRIPT, path.join(root, 'scripts', 'build-if-needed.mjs'))
  writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'zdz-connector', type: 'module' }))
  if (withDist) {
    mkdirSync(path.join(root, 'dist', 'src'), { recursive: true })
    writeFileSync(path.join(root, 'dist', 'src', 'server.js'), '')
  }
  return root
}

const runIn = (root: string) =>
  new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [path.join(root, 'scripts', 'build-if-needed.mjs')], { cwd: root }, (err, _out, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
    )
  })

t.test('without TypeScript (the image) the compiled dist/ is used as it is', async (t) => {
  const r = await runIn(imageLike(true))
  t.equal(r.code, 0)
  t.equal(r.stderr, '')
})

t.test('without TypeScript and without dist/ it stops with a message', async (t) => {
  const r = await runIn(imageLike(false))
  t.equal(r.code, 1)
  t.match(r.stderr, /dist\/ is missing and TypeScript is not installed/)
})
