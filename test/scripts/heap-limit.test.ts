import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { TEST_DIR } from '../helpers/harness.js'

/**
 * The service's V8 heap limit is set in two places that must agree: the npm start scripts (what `npm start` and the
 * bench run) and the container's NODE_OPTIONS. Without it V8 sizes the heap from the machine's memory and lets
 * garbage grow the process far past its live size (bench/README.md: peak RSS).
 */
const ROOT = path.resolve(TEST_DIR, '..', '..')
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
const LIMIT = /--max-old-space-size=(\d+)/

t.test('every start script and the image set the same heap limit', async (t) => {
  const limits = ['start', 'start:api', 'start:worker'].map((s) => {
    const m = LIMIT.exec(pkg.scripts[s] ?? '')
    t.ok(m, `scripts.${s} sets --max-old-space-size: ${pkg.scripts[s]}`)
    return Number(m?.[1])
  })
  const env = /^ENV NODE_OPTIONS=(.*)$/m.exec(dockerfile)?.[1] ?? ''
  const image = Number(LIMIT.exec(env)?.[1])
  t.ok(image > 0, `the image's NODE_OPTIONS sets it: ${env}`)
  t.same(new Set([...limits, image]).size, 1, `one limit everywhere: ${[...limits, image].join(', ')} MB`)
  // Room for the largest requests (batch intake bodies of 8 MiB) beside a live heap of ~60-120 MB.
  t.ok(image >= 384, 'the limit leaves room for the largest requests')
})

t.test('node takes the flag as written in the start script', async (t) => {
  const flags = pkg.scripts.start!.split(' ').filter((w) => w.startsWith('--'))
  const limitMb = Number(LIMIT.exec(pkg.scripts.start!)?.[1])
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [...flags, '-p', 'require("node:v8").getHeapStatistics().heap_size_limit'], (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  )
  const mb = Number(out.trim()) / 1024 / 1024
  // heap_size_limit = the old generation's limit plus the young generation's.
  t.ok(mb >= limitMb && mb < limitMb + 128, `heap_size_limit ${mb.toFixed(0)} MB for --max-old-space-size=${limitMb}`)
})
