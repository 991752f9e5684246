/**
 * `npm run headline`: the headline fault run (reliability row 4) against the built service (dist/).
 *
 *   node dist/tools/headline.js [--referrals 1000] [--kill-every 5] [--failure-rate 0.3] [--duration 120]
 *     [--settle 60] [--deadline 600] [--concurrency 8] [--api-concurrency 4] [--lives accept|full] [--decline-rate 0.1] [--seed 42]
 *     [--database-url postgres://…] [--redis-url redis://…] [--keep-db] [--json]
 *
 * Times are in seconds. Prints what happens, then a summary; exits 1 on any violated promise.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runHeadline } from './simulators/headline-run.js'
import { killAllServiceProcesses } from './simulators/service-process.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), process.argv[1]?.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..')

const { values } = parseArgs({
  options: {
    referrals: { type: 'string', default: '1000' },
    'kill-every': { type: 'string', default: '5' },
    'failure-rate': { type: 'string', default: '0.3' },
    duration: { type: 'string', default: '120' },
    settle: { type: 'string', default: '60' },
    deadline: { type: 'string', default: '600' },
    concurrency: { type: 'string', default: '8' },
    'api-concurrency': { type: 'string', default: '4' },
    lives: { type: 'string', default: 'accept' },
    'decline-rate': { type: 'string', default: '0.1' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    'database-url': { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    'keep-db': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})

if (values.help) {
  process.stdout.write(`${readUsage()}\n`)
  process.exit(0)
}

function num(name: string, value: string, min: number, max: number): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be a number between ${min} and ${max}, got "${value}"\n`)
    process.exit(2)
  }
  return n
}

function readUsage(): string {
  return [
    'npm run headline -- [options]   (times in seconds)',
    '  --referrals N       referrals to create (1000)',
    '  --kill-every S      uptime of the API and worker processes before each SIGKILL (5)',
    '  --failure-rate R    share of webhook calls the simulators fail: 5xx, resets, hangs (0.3)',
    '  --duration S        how long the faults last at least; they go on until every referral is created (120)',
    '  --settle S          everything must be delivered this long after the faults stop (60)',
    '  --deadline S        give up waiting after this (600)',
    '  --concurrency N     parallel creating requests (8)',
    '  --api-concurrency N requests each simulator has in flight at most, like an HTTP connection pool (4)',
    "  --lives accept|full stop each case at the platform's acceptance, or mediate it to its end (accept)",
    '  --decline-rate R    share of first designations declined, then redesignated (0.1)',
    '  --seed N            seeds the plans and the faults',
    '  --database-url URL  PostgreSQL server to use (a fresh database is created and dropped)',
    '  --redis-url URL     Redis to use (a fresh queue prefix, cleared after)',
    '  --keep-db           keep the database for inspection',
    '  --json              print the summary as JSON',
  ].join('\n')
}

const lives = values.lives === 'accept' ? 'accept' : values.lives === 'full' ? 'full' : undefined
if (!lives) {
  process.stderr.write('--lives must be full or accept\n')
  process.exit(2)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllServiceProcesses()
    process.stderr.write(`\ninterrupted: connector processes killed; the zdz_headline_* database and hl_* Redis keys named above are left behind\n`)
    process.exit(130)
  })
}

const started = Date.now()
const stamp = () => `[${String(Math.round((Date.now() - started) / 1000)).padStart(4)}s]`
const result = await runHeadline({
  referrals: num('referrals', values.referrals, 1, 100_000),
  killEveryMs: num('kill-every', values['kill-every'], 0.5, 3600) * 1000,
  failureRate: num('failure-rate', values['failure-rate'], 0, 0.95),
  faultMs: num('duration', values.duration, 1, 86_400) * 1000,
  settleMs: num('settle', values.settle, 1, 86_400) * 1000,
  deadlineMs: num('deadline', values.deadline, 1, 86_400) * 1000,
  concurrency: num('concurrency', values.concurrency, 1, 200),
  apiConcurrency: num('api-concurrency', values['api-concurrency'], 1, 1000),
  lives,
  declineRate: num('decline-rate', values['decline-rate'], 0, 1),
  seed: num('seed', values.seed, 0, 2 ** 31),
  apiArgs: [path.join(root, 'dist/src/server.js'), '--api-only'],
  workerArgs: [path.join(root, 'dist/src/worker.js')],
  cwd: root,
  databaseUrl: values['database-url'],
  redisUrl: values['redis-url'],
  keepDatabase: values['keep-db'],
  log: (line) => process.stdout.write(`${stamp()} ${line}\n`),
})

const s = result.summary
if (values.json) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
} else {
  const lines = [
    '',
    '=== 总对总 headline fault run / 头号故障演练 ===',
    `referrals     requested ${s.referrals.requested}, created ${s.referrals.created}, in database ${s.referrals.inDatabase} (distinct case numbers ${s.referrals.distinctCaseNumbers}); ${s.referrals.creationRequests} creating requests (${s.referrals.creationRetries} retries)`,
    `replays       ${s.replays.identical}/${s.replays.checked} identical status and body; other body with the same key refused ${s.replays.otherBodyRefused}/5`,
    `faults        ${s.timings.faultPhaseS} s: API SIGKILLed ${s.kills.api}×, worker SIGKILLed ${s.kills.worker}× (median start-up ${s.kills.apiStartupMsMedian} / ${s.kills.workerStartupMsMedian} ms)`,
    `events        ${s.events} (lives complete ${s.lives.complete}/${s.lives.expected}, mismatched ${s.lives.mismatched})`,
    `deliveries    ${s.deliveries.total}: delivered ${s.deliveries.delivered}, pending ${s.deliveries.pending}, dead ${s.deliveries.dead}; ${s.deliveries.attempts} attempts, ${s.deliveries.failedAttempts} failed, max ${s.deliveries.maxAttempts} for one delivery`,
    `attempt errs  ${
      Object.entries(s.deliveries.attemptErrors)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
    ...Object.entries(s.peers).map(
      ([name, p]) =>
        `${name.padEnd(13)} ${p.requests} requests; failed on purpose ${p.injected.error} 5xx, ${p.injected.reset} resets, ${p.injected.hang} hangs; ${p.pushedNew} events, ${p.pushDuplicates} duplicate pushes ignored; missing ${p.missingPushes}, out of order ${p.orderErrors}, gaps ${p.gapFills}; ${p.actions} actions, ${p.failedActions} failed, ${p.duplicateEffects} duplicate effects; bad signatures ${p.badSignatures}`,
    ),
    `at faults-off ${s.atFaultsOff.pending} pending: ${s.atFaultsOff.runnable} runnable, ${s.atFaultsOff.leased} leased by a killed worker, ${s.atFaultsOff.backingOff} in retry backoff, ${s.atFaultsOff.behindEarlier} behind an earlier one of their case; last retry due in ${s.atFaultsOff.latestRetryInS ?? '—'} s`,
    `timings       creation ${s.timings.creationS} s, everything delivered ${s.timings.settleS ?? '—'} s after the faults stopped, total ${s.timings.totalS} s`,
    `logs          ${s.logDir}`,
    '',
    result.ok
      ? 'RESULT: PASS — 0 lost, in order per case, 0 duplicate effects'
      : `RESULT: FAIL — ${result.violations.length} violations:\n  - ${result.violations.join('\n  - ')}`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
}
process.exit(result.ok ? 0 : 1)
