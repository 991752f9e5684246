/**
 * The headline fault run, short (reliability row 4; the full run is `npm run headline`): 60 referrals, the API
 * and worker processes SIGKILLed every 2–3 s of uptime for ~20 s, both peer simulators failing 30% of the
 * webhook calls (5xx, resets, hangs). Afterwards, eventually: exactly 60 referrals, identical replays, every
 * event pushed to both peers in sequence order per case, no dead delivery, no duplicate effect, every case's
 * history exactly its planned life. No timing is asserted ("eventually" has a generous deadline).
 *
 * The service runs as real child processes. Started through the TypeScript loader they would need 8–15 s each
 * on a busy machine (longer than the kill interval), so the sources are transpiled once into a temporary
 * directory, the way the loader does it (transpile only), and plain node runs them.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import ts from 'typescript'
import { runHeadline } from '../../tools/simulators/headline-run.js'
import { REDIS_URL, TEST_DIR } from '../helpers/harness.js'

t.setTimeout(300_000)

const root = path.resolve(TEST_DIR, '../..')

/** Transpiles src/ and migrations/ into `out` (ES modules, as ts-node's transpile-only mode would). */
function transpileService(out: string): void {
  for (const dir of ['src', 'migrations']) {
    const walk = (rel: string) => {
      for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
        const r = path.join(rel, entry.name)
        if (entry.isDirectory()) walk(r)
        else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
          const js = ts.transpileModule(readFileSync(path.join(root, r), 'utf8'), {
            fileName: r,
            compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true, isolatedModules: true },
          }).outputText
          mkdirSync(path.join(out, path.dirname(r)), { recursive: true })
          writeFileSync(path.join(out, r.replace(/\.ts$/, '.js')), js)
        }
      }
    }
    walk(dir)
  }
  writeFileSync(path.join(out, 'package.json'), JSON.stringify({ type: 'module' }))
  symlinkSync(path.join(root, 'node_modules'), path.join(out, 'node_modules'), 'dir')
  symlinkSync(path.join(root, 'data'), path.join(out, 'data'), 'dir')
  symlinkSync(path.join(root, 'console'), path.join(out, 'console'), 'dir')
}

const build = path.join(os.tmpdir(), `zdz-ci-build-${randomBytes(5).toString('hex')}`)
transpileService(build)
t.teardown(() => rmSync(build, { recursive: true, force: true }))

const result = await runHeadline({
  referrals: 60,
  killEveryMs: 2_500,
  failureRate: 0.3,
  faultMs: 20_000,
  settleMs: Infinity,
  deadlineMs: 150_000,
  concurrency: 4,
  lives: 'full',
  declineRate: 0.1,
  seed: 4242,
  apiArgs: [path.join(build, 'src/server.js'), '--api-only'],
  workerArgs: [path.join(build, 'src/worker.js')],
  cwd: root,
  databaseUrl: process.env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: REDIS_URL,
  log: (line) => t.comment(line),
})
const s = result.summary
t.comment(JSON.stringify(s))

t.same(result.violations, [], 'no promise violated')
t.ok(s.kills.api >= 1 && s.kills.worker >= 1, `the processes were really killed (API ${s.kills.api}×, worker ${s.kills.worker}×)`)
for (const [name, p] of Object.entries(s.peers)) {
  t.ok(p.injected.error + p.injected.reset + p.injected.hang > 0, `${name} really failed calls (${JSON.stringify(p.injected)})`)
  t.equal(p.missingPushes, 0, `${name}: every event arrived by push`)
  t.equal(p.orderErrors + p.gapFills, 0, `${name}: in sequence order per case, no gap`)
  t.equal(p.duplicateEffects + p.failedActions, 0, `${name}: every effect once`)
  t.equal(p.badSignatures, 0, `${name}: every request correctly signed`)
}
t.equal(s.referrals.inDatabase, 60, 'exactly 60 referrals')
t.equal(s.replays.identical, 60, 'every replay identical')
t.equal(s.replays.otherBodyRefused, 5, 'same key, other body: 422')
t.equal(s.deliveries.dead + s.deliveries.pending, 0, 'everything delivered, nothing dead')
t.equal(s.deliveries.total, s.events * 2, 'one delivery per event and peer')
t.equal(s.lives.complete, 60, 'every case lived its planned life')
