#!/usr/bin/env node
/**
 * `npm run bench`: the service's throughput and latency against baselines measured in the same run.
 *
 *   node bench/run.mjs            full run (~5 min): baselines, intake, read, end-to-end at 500/s, drain of 20 000;
 *                                 writes bench/results/latest.{json,md} and the table in bench/README.md
 *   node bench/run.mjs --smoke    a few seconds per phase, tiny backlog; writes bench/results/smoke.{json,md}
 *   node bench/run.mjs --scale    1 000 000 seeded referrals: list p99, statistics wall time, EXPLAIN plans;
 *                                 merged into bench/results/latest.{json,md} (see bench/lib/scale.mjs)
 *   --profile                     CPU-profiles the service per phase (bench/results/profiles/); results go to
 *                                 bench/results/profile-run.json, never to latest.json (profiling slows it down)
 *   --keep-db                     keeps the bench database (its name is printed) instead of dropping it
 *   --drain-only                  only the drain phase (its backlog as in the mode: 20 000, or 300 with --smoke);
 *                                 prints its figures and where the CPU went, writes no result file and no README table
 *   --intake-only, --batch-only, --e2e-only
 *                                 only that phase, with the service's CPU per operation (and its profile with
 *                                 --profile); prints its figures, writes no result file and no README table
 *   --read-only                   only the reads, on referrals written raw: pkRoute, a court's and the operator's
 *                                 GET /v1/referrals/{id}, a court's list pages of 50 full views; prints their figures
 *                                 and CPU per request, writes no result file and no README table
 *
 * Needs `npm run build` and `npm run build:tools` first (the service runs from dist/, the bodies draw with the
 * simulators' PRNG from dist/tools/), PostgreSQL and Redis as for the tests
 * (BENCH_ADMIN_DATABASE_URL, BENCH_REDIS_URL override the local defaults).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { Redis } from 'ioredis'
import { seedCreatedReferrals } from './lib/backlog.mjs'
import { BENCH_ORGANIZATIONS, referralFactory } from './lib/bodies.mjs'
import { forkChild } from './lib/child.mjs'
import { heapMarkdown, profileMarkdown, summarizeHeapProfile, summarizeProfile } from './lib/cpuprofile.mjs'
import { withCpu } from './lib/cpu.mjs'
import { cannon, figures } from './lib/load.mjs'
import { paced } from './lib/paced.mjs'
import { evaluateTargets, markdownTable, updateReadme, writeResults } from './lib/report.mjs'
import { ADMIN_URL, createDatabase, dbUrl, dropDatabase, dropRedisPrefix, REDIS_URL, startService } from './lib/service.mjs'
import { benchCipher, intakeDoc, sameRowsTemplate } from './lib/shape.mjs'
import { api, hex, log, quantile, RESULTS_DIR, round, sleep, until, wallMs } from './lib/util.mjs'

const argv = process.argv.slice(2)
const flag = (f) => argv.includes(f)
const SMOKE = flag('--smoke')
const PROFILE = flag('--profile')
const KEEP_DB = flag('--keep-db')
const DRAIN_ONLY = flag('--drain-only')
const E2E_ONLY = flag('--e2e-only')
const BATCH_ONLY = flag('--batch-only')
const INTAKE_ONLY = flag('--intake-only')
const READ_ONLY = flag('--read-only')

const P = SMOKE
  ? {
      baselineSeconds: 2,
      intakeSeconds: 3,
      batchRequestsPerConnection: 1,
      overloadSeconds: 0,
      readSeconds: 3,
      e2eSeconds: 4,
      e2eMaxSeconds: 3,
      e2eLowRate: 20,
      e2eLowSeconds: 2,
      drainBacklog: 300,
      bullmqJobs: 2_000,
      drainTimeoutMs: 60_000,
    }
  : {
      baselineSeconds: 10,
      intakeSeconds: 20,
      batchRequestsPerConnection: 20,
      overloadSeconds: 8,
      readSeconds: 15,
      e2eSeconds: 20,
      e2eMaxSeconds: 15,
      e2eLowRate: 50,
      e2eLowSeconds: 10,
      drainBacklog: 20_000,
      bullmqJobs: 20_000,
      drainTimeoutMs: 300_000,
    }
/**
 * Concurrency. The read test and the bare route use the same. Writes stay below the service's pool of 10: the
 * intake transaction asks the pool for a second connection (the legal calendar's refresh, every 2 s), so with 10
 * intake transactions open the pool deadlocks until its 5 s connection timeout (503s); `overload` shows that.
 */
const C = { intake: 9, read: 10, e2e: 9, backlog: 9, overload: 50, batch: 3 }
/** Items per POST /v1/referrals/batch (the contract's maximum). */
const BATCH_ITEMS = 100
for (const k of Object.keys(C)) {
  const i = argv.indexOf(`--${k}-connections`)
  if (i >= 0) C[k] = Number(argv[i + 1])
}

/** The running service's queue prefix (its outbox wake-up channel derives from it). */
let runQueuePrefix

const ID_RE = /^\{"id":"([0-9a-f-]{36})"/

async function machineInfo(databaseUrl) {
  const c = new pg.Client({ connectionString: databaseUrl })
  await c.connect()
  const v = await c.query(`SELECT split_part(version(), ' ', 2) AS v, current_setting('shared_buffers') AS sb, current_setting('synchronous_commit') AS sc`)
  await c.end()
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await r.connect()
  const info = await r.info('server')
  r.disconnect()
  const cpus = os.cpus()
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    memGb: Math.round(os.totalmem() / 1e8) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: `PostgreSQL ${v.rows[0].v} (shared_buffers ${v.rows[0].sb}, synchronous_commit ${v.rows[0].sc})`,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
  }
}

/** Clients and organizations, created through the API as an operator and a platform would. */
async function seedWorld(base, operatorKey) {
  const court = (
    await api(base, 'POST', '/v1/clients', {
      key: operatorKey,
      idem: true,
      body: { name: '北京市朝阳区人民法院（bench）', role: 'court', courtCodes: ['京0105'] },
    })
  ).body
  const platform = (
    await api(base, 'POST', '/v1/clients', {
      key: operatorKey,
      idem: true,
      body: { name: '北京市非诉讼纠纷化解平台（bench）', role: 'mediation', regionCodes: ['11'] },
    })
  ).body
  for (const o of BENCH_ORGANIZATIONS) {
    await api(base, 'PUT', `/v1/organizations/${o.id}`, {
      key: platform.apiKey,
      body: {
        name: o.name,
        kind: o.kind,
        regionCode: o.regionCode,
        disputeTypes: ['neighbor', 'property_management', 'labor', 'contract', 'traffic', 'marriage_family', 'consumer', 'finance'],
        fullTimeMediators: 3,
        rosters: { ministry: true },
        active: true,
      },
    })
    // The special roster is the court's to grant (contract §5).
    await api(base, 'PUT', `/v1/courts/${encodeURIComponent('京0105')}/special-roster/${o.id}`, { key: court.apiKey })
  }
  return { court, platform, organizationIds: BENCH_ORGANIZATIONS.map((o) => o.id) }
}

/** The drain's `around`: its CPU accounted per delivery (and profiled in profile mode); `cpu()` gives the figures after. */
function drainMeter(svc, profileDir) {
  let cpu
  return {
    async around(fn) {
      const r = await withCpu(
        svc.pid,
        () => profiled(svc, profileDir, 'drain', fn),
        (s) => s?.distinct,
      )
      cpu = r.cpu
      return r.result
    },
    cpu: () => cpu,
  }
}

/** Runs `fn` with the service's CPU profiler on (profile mode); the profile is saved as <phase>.cpuprofile. */
async function profiled(svc, profileDir, phase, fn) {
  if (!profileDir) return fn()
  const before = new Set(readdirSync(profileDir))
  svc.toggleProfiler()
  await sleep(200)
  try {
    return await fn()
  } finally {
    svc.toggleProfiler()
    const file = await until(() => readdirSync(profileDir).find((f) => /^profile-\d+\.cpuprofile$/.test(f) && !before.has(f)), 60_000, 200)
    if (file) {
      const target = path.join(profileDir, `${phase}.cpuprofile`)
      renameSync(path.join(profileDir, file), target)
      const heap = path.join(profileDir, file.replace(/\.cpuprofile$/, '.heapprofile'))
      if (existsSync(heap)) renameSync(heap, path.join(profileDir, `${phase}.heapprofile`))
      log(`profile of ${phase}: ${path.relative(process.cwd(), target)}`)
    } else {
      log(`no profile appeared for ${phase}`)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Phases

async function bareFastifyBaseline() {
  const child = await forkChild('bare-fastify.mjs')
  try {
    const res = await cannon({ url: `http://127.0.0.1:${child.ready.port}/`, connections: C.read, duration: P.baselineSeconds })
    return figures(res)
  } finally {
    child.kill()
  }
}

async function rawInsertBaseline(databaseUrl, docsFile, variant = 'plain') {
  const child = await forkChild('pg-baseline.mjs', [databaseUrl, String(P.baselineSeconds), '10', docsFile, variant])
  const r = await new Promise((resolve, reject) => child.next().then(resolve, reject))
  child.kill()
  return {
    tps: Math.round(r.tps),
    transactions: r.transactions,
    p50Ms: round(r.p50Ms, 1),
    p99Ms: round(r.p99Ms, 1),
    docBytes: r.docBytes,
    pool: 10,
    statement: `BEGIN; INSERT INTO bench_raw_insert (id, case_number, doc jsonb) …;${variant === 'notify' ? ` SELECT pg_notify(…);` : ''} COMMIT`,
  }
}

/**
 * The rows one intake writes (referral, blind indexes, event with its hash, outbox, access trail, stored answer),
 * written raw in one transaction per referral: the limit of intake on this machine (bench/lib/pg-same-rows.mjs).
 */
async function sameRowsBaseline(databaseUrl, intakesFile, clientId) {
  const child = await forkChild('pg-same-rows.mjs', [databaseUrl, String(P.baselineSeconds), '10', intakesFile, clientId], { timeoutMs: 60_000 })
  const r = await child.next()
  child.kill()
  return {
    tps: Math.round(r.tps),
    transactions: r.transactions,
    p50Ms: round(r.p50Ms, 1),
    p99Ms: round(r.p99Ms, 1),
    pool: 10,
    statement:
      'BEGIN; one prepared statement inserting the referral, its party_index rows, its event (hash-chained), the outbox row, the access_log row and the idempotency_keys row; COMMIT',
  }
}

/** A bare Fastify route reading one referral row by primary key through pg and returning it as JSON (bench/lib/pk-route.mjs). */
async function pkRouteBaseline(databaseUrl, ids) {
  const child = await forkChild('pk-route.mjs', [databaseUrl])
  try {
    let i = 0
    const res = await cannon({
      url: `http://127.0.0.1:${child.ready.port}`,
      connections: C.read,
      duration: P.baselineSeconds,
      requests: [
        {
          method: 'GET',
          setupRequest(req) {
            req.path = `/v1/referrals/${ids[i++ % ids.length]}`
            return req
          },
        },
      ],
    })
    return { ...figures(res), ids: ids.length }
  } finally {
    child.kill()
  }
}

/** POST /v1/referrals/batch with BATCH_ITEMS new referrals per request, a few requests at a time. */
async function batchIntakePhase(base, world, factory, runId) {
  let k = 0
  let created = 0
  let refused = 0
  const errors = []
  // autocannon reports an `amount` run's duration at its next one-second tick after the last answer, which
  // understated this short phase's rate by up to a second in eight; the rate is taken up to the last answer.
  const started = performance.now()
  let lastAnswerAt = started
  const res = await cannon({
    url: base,
    connections: C.batch,
    // A fixed number of requests, each answered (a duration would cut the last ones off mid-batch).
    amount: C.batch * P.batchRequestsPerConnection,
    timeout: 120,
    requests: [
      {
        method: 'POST',
        path: '/v1/referrals/batch',
        setupRequest(req) {
          const n = ++k
          const items = Array.from({ length: BATCH_ITEMS }, (_, i) => ({ idempotencyKey: `bench-${runId}-b${n}-${i}`, referral: factory.next() }))
          req.body = JSON.stringify({ items })
          req.headers = { 'content-type': 'application/json', authorization: `Bearer ${world.court.apiKey}`, 'idempotency-key': `bench-${runId}-batch-${n}` }
          return req
        },
        onResponse(status, body) {
          lastAnswerAt = performance.now()
          if (status === 200) {
            const ok = String(body).match(/"index":\d+,"status":201/g)?.length ?? 0
            created += ok
            refused += BATCH_ITEMS - ok
            if (ok < BATCH_ITEMS && errors.length < 5) errors.push(String(body).match(/"problem":\{[^}]*\}/)?.[0] ?? 'an item was refused')
          } else if (errors.length < 5) {
            errors.push(`${status} ${String(body).slice(0, 300)}`)
          }
        },
      },
    ],
  })
  const f = figures(res)
  if (errors.length) log(`batch intake: unexpected answers, e.g. ${errors[0]}`)
  const seconds = (lastAnswerAt - started) / 1000
  return {
    perSecond: Math.round(created / seconds),
    created,
    refusedItems: refused,
    requests: f.ok,
    itemsPerRequest: BATCH_ITEMS,
    connections: C.batch,
    seconds: round(seconds, 2),
    autocannonSeconds: f.seconds,
    requestP50Ms: f.p50Ms,
    requestP99Ms: f.p99Ms,
    non2xx: f.non2xx,
    sampleErrors: errors,
  }
}

async function bullmqBaseline(prefix) {
  const child = await forkChild('bullmq-baseline.mjs', [REDIS_URL, `${prefix}_noop`, String(P.bullmqJobs)], { timeoutMs: 120_000 })
  const r = await child.next()
  child.kill()
  return { addPerSecond: Math.round(r.addPerSecond), processPerSecond: Math.round(r.processPerSecond), jobs: r.jobs, concurrency: 50 }
}

function intakeRequest(base, key, factory, runId, onCreated, errors) {
  let k = 0
  return {
    url: base,
    requests: [
      {
        method: 'POST',
        path: '/v1/referrals',
        setupRequest(req) {
          req.body = JSON.stringify(factory.next())
          req.headers = { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'idempotency-key': `bench-${runId}-${++k}` }
          return req
        },
        onResponse(status, body) {
          if (status === 201) {
            const m = ID_RE.exec(body)
            if (m) onCreated(m[1])
          } else if (errors.length < 5) {
            errors.push(`${status} ${String(body).slice(0, 300)}`)
          }
        },
      },
    ],
  }
}

/** Writes bench/results/profiles/summary.md: `head`, then each phase's CPU and allocation summary that was profiled. */
function writeProfileSummary(profileDir, head, phases) {
  const parts = [...head]
  for (const phase of phases) {
    const file = path.join(profileDir, `${phase}.cpuprofile`)
    if (existsSync(file)) parts.push(profileMarkdown(phase, summarizeProfile(file, 25)))
    const heap = path.join(profileDir, `${phase}.heapprofile`)
    if (existsSync(heap)) parts.push(heapMarkdown(phase, summarizeHeapProfile(heap, 15)))
  }
  writeFileSync(path.join(profileDir, 'summary.md'), `${parts.join('\n')}\n`)
  log(`profile summaries: bench/results/profiles/summary.md`)
}

async function intakePhase(base, world, factory, runId) {
  const ids = []
  const errors = []
  const res = await cannon({
    ...intakeRequest(base, world.court.apiKey, factory, runId, (id) => ids.push(id), errors),
    connections: C.intake,
    duration: P.intakeSeconds,
  })
  if (errors.length) log(`intake: unexpected answers, e.g. ${errors[0]}`)
  if (!res['2xx']) log(`intake: no 2xx at all: ${JSON.stringify({ errors: res.errors, timeouts: res.timeouts, statusCodeStats: res.statusCodeStats })}`)
  return { ids, figures: figures(res), errors }
}

async function readPhase(base, key, ids, seconds) {
  let i = 0
  const res = await cannon({
    url: base,
    connections: C.read,
    duration: seconds,
    headers: { authorization: `Bearer ${key}` },
    requests: [
      {
        method: 'GET',
        setupRequest(req) {
          req.path = `/v1/referrals/${ids[i++ % ids.length]}`
          return req
        },
        // No onResponse: it would make autocannon buffer every body, which the bare-route baseline does not pay.
      },
    ],
  })
  if (res.non2xx || !res['2xx']) {
    const probe = await api(base, 'GET', `/v1/referrals/${ids[0]}`, { key, expect: [200, 400, 401, 403, 404, 429, 500, 503] }).catch((e) => ({
      status: 'error',
      body: e.message,
    }))
    log(
      `read: ${res.non2xx} non-2xx, ${res.errors} errors, ${res.timeouts} timeouts ${JSON.stringify(res.statusCodeStats)}; a probe got ${probe.status} ${JSON.stringify(probe.body).slice(0, 300)}`,
    )
  }
  return figures(res)
}

/**
 * End to end: intake answer at the client → webhook received by the subscriber, matched on the referral id.
 * `rate` set: an evenly paced open loop (lib/paced.mjs); unset: closed loop, as fast as the connections go (the
 * maximum). `deliveredPerSecond` counts the receipts that arrived while intake ran: the rate the whole pipeline
 * kept up with, which bounds the maximum when deliveries fall behind the intake.
 */
async function e2ePhase(base, world, factory, runId, subscriber, { rate, seconds }) {
  const answered = new Map()
  const errors = []
  await subscriber.call({ cmd: 'reset' })
  const onCreated = (id) => answered.set(id, wallMs())
  const started = wallMs()
  let intake
  if (rate) {
    let k = 0
    intake = await paced({
      base,
      rate,
      seconds,
      request: () => ({
        method: 'POST',
        path: '/v1/referrals',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${world.court.apiKey}`, 'idempotency-key': `bench-${runId}-${++k}` },
        body: JSON.stringify(factory.next()),
      }),
      onResponse(status, body) {
        const m = status === 201 ? ID_RE.exec(body) : null
        if (m) onCreated(m[1])
        else if (errors.length < 5) errors.push(`${status} ${body.slice(0, 300)}`)
      },
    })
  } else {
    const res = await cannon({ ...intakeRequest(base, world.court.apiKey, factory, runId, onCreated, errors), connections: C.e2e, duration: seconds })
    intake = figures(res)
  }
  const intakeEnded = wallMs()
  if (errors.length) log(`e2e: unexpected intake answers, e.g. ${errors[0]}`)
  // Wait for these referrals' own webhooks: late deliveries of an earlier phase also count in the subscriber's totals.
  const all = await until(
    async () => {
      const { receipts } = await subscriber.call({ cmd: 'receipts' }, 60_000)
      const seen = new Set(receipts.map(([id]) => id))
      return [...answered.keys()].every((id) => seen.has(id)) ? true : undefined
    },
    60_000,
    250,
  )
  if (!all) log('e2e: not every referral reached the subscriber within 60 s')
  const { receipts } = await subscriber.call({ cmd: 'receipts' }, 60_000)
  const lat = []
  let deliveredDuringIntake = 0
  for (const [referralId, at] of receipts) {
    const a = answered.get(referralId)
    if (a === undefined) continue
    lat.push(at - a)
    if (at <= intakeEnded) deliveredDuringIntake++
  }
  lat.sort((x, y) => x - y)
  const intakeSeconds = (intakeEnded - started) / 1000
  return {
    ...(rate ? { rate } : {}),
    seconds,
    achievedRate: intake.rps,
    deliveredPerSecond: Math.round(deliveredDuringIntake / intakeSeconds),
    created: answered.size,
    matched: lat.length,
    missing: answered.size - lat.length,
    p50Ms: round(quantile(lat, 0.5), 1),
    p95Ms: round(quantile(lat, 0.95), 1),
    p99Ms: round(quantile(lat, 0.99), 1),
    maxMs: round(lat.at(-1), 1),
    minMs: round(lat[0], 1),
    intakeP99Ms: intake.p99Ms,
    intake,
  }
}

/**
 * The end-to-end phases: the pipeline's own latency at a low even pace; the maximum rate the whole pipeline keeps
 * up with (closed loop); then an even pace at 80 % of that maximum, which is the target's load.
 */
async function e2eSuite(svc, world, factory, runId, subscriber, subscriptionId, databaseUrl, profileDir) {
  log(`end-to-end: ${P.e2eLowRate}/s evenly paced for ${P.e2eLowSeconds} s`)
  const lowSince = new Date().toISOString()
  const { intake: lowIntake, ...low } = await e2ePhase(svc.base, world, factory, `${runId}-low`, subscriber, { rate: P.e2eLowRate, seconds: P.e2eLowSeconds })
  low.intakeP99Ms = lowIntake.p99Ms
  low.breakdown = await pipelineBreakdown(databaseUrl, subscriptionId, lowSince)
  log(`  p50 ${low.p50Ms} ms, p95 ${low.p95Ms} ms, p99 ${low.p99Ms} ms (intake p99 ${low.intakeP99Ms} ms)`)
  log(`end-to-end maximum: ${C.e2e} connections, closed loop, ${P.e2eMaxSeconds} s`)
  const { intake: maxIntake, ...max } = await e2ePhase(svc.base, world, factory, `${runId}-max`, subscriber, { seconds: P.e2eMaxSeconds })
  max.intakeP99Ms = maxIntake.p99Ms
  max.connections = C.e2e
  const maxPerSecond = Math.min(max.achievedRate, max.deliveredPerSecond)
  const offered = Math.max(1, Math.round(0.8 * maxPerSecond))
  log(`  intake ${max.achievedRate}/s, delivered ${max.deliveredPerSecond}/s while it ran: maximum ${maxPerSecond}/s`)
  await sleep(SMOKE ? 500 : 3000)
  log(`end-to-end: ${offered}/s (80 % of the maximum) evenly paced for ${P.e2eSeconds} s`)
  const since = new Date().toISOString()
  const run = await withCpu(
    svc.pid,
    () => profiled(svc, profileDir, 'e2e', () => e2ePhase(svc.base, world, factory, `${runId}-e2e`, subscriber, { rate: offered, seconds: P.e2eSeconds })),
    (r) => r.matched,
  )
  const e2e = { ...run.result, offeredPerSecond: offered, maxPerSecond, cpu: run.cpu, max, lowRate: low }
  e2e.breakdown = await pipelineBreakdown(databaseUrl, subscriptionId, since)
  log(`  p50 ${e2e.p50Ms} ms, p95 ${e2e.p95Ms} ms, p99 ${e2e.p99Ms} ms; achieved ${e2e.achievedRate}/s, missing ${e2e.missing}`)
  return e2e
}

/**
 * Where the end-to-end time goes, from the service's own tables: event written (occurred_at, inside the intake
 * transaction) → delivery row created by the relay → first attempt started by the worker → attempt's HTTP time.
 */
async function pipelineBreakdown(databaseUrl, subscriptionId, since) {
  const c = new pg.Client({ connectionString: databaseUrl })
  await c.connect()
  try {
    const q = (expr) => `percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY ${expr})`
    const r = await c.query(
      `SELECT ${q('extract(epoch FROM d.created_at - e.occurred_at) * 1000')} AS relay,
              ${q('extract(epoch FROM a.attempted_at - d.created_at) * 1000')} AS queue,
              ${q('a.latency_ms')} AS send,
              count(*)::int AS n
         FROM deliveries d
         JOIN events e ON e.pos = d.event_pos
         JOIN LATERAL (SELECT attempted_at, latency_ms FROM delivery_attempts WHERE delivery_id = d.id ORDER BY id LIMIT 1) a ON true
        WHERE d.subscription_id = $1 AND d.created_at >= $2`,
      [subscriptionId, since],
    )
    const pct = (a) => (a ? { p50: round(a[0], 1), p95: round(a[1], 1), p99: round(a[2], 1) } : null)
    const row = r.rows[0]
    return { deliveries: row.n, eventToDeliveryRowMs: pct(row.relay), deliveryRowToFirstAttemptMs: pct(row.queue), attemptHttpMs: pct(row.send) }
  } finally {
    await c.end()
  }
}

/** The platform's subscription for `referral.created`, pointing at the bench's subscriber process. */
async function subscribe(base, operatorKey, world, subscriber) {
  const sub = (
    await api(base, 'POST', '/v1/subscriptions', {
      key: operatorKey,
      idem: true,
      body: {
        clientId: world.platform.id,
        url: `http://127.0.0.1:${subscriber.ready.port}/hook`,
        eventTypes: ['referral.created'],
        allowPrivateNetwork: true,
        description: 'bench subscriber',
      },
    })
  ).body
  // Events from before the subscription's creation are not fanned out to it: let the clocks move on.
  await sleep(1100)
  return sub
}

async function drainPhase(base, operatorKey, world, subscriber, subscriptionId, databaseUrl, around = (fn) => fn(), onRecovery) {
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    // The outage: the operator takes the subscription out of service (what a 410 from the subscriber does too);
    // every event meanwhile gets its delivery row, created dead, nothing is attempted.
    await api(base, 'PATCH', `/v1/subscriptions/${subscriptionId}`, { key: operatorKey, body: { enabled: false } })
    const since = new Date(Date.now() - 1000).toISOString()
    const t = wallMs()
    await seedCreatedReferrals(databaseUrl, {
      count: P.drainBacklog,
      court: world.court,
      organizations: BENCH_ORGANIZATIONS,
      firstSeq: 5_000_000,
      redisUrl: REDIS_URL,
      queuePrefix: runQueuePrefix,
    })
    const seedSeconds = round((wallMs() - t) / 1000, 1)
    const dead = await until(
      async () => {
        const r = await db.query(
          `SELECT (SELECT count(*) FROM outbox)::int AS outbox, (SELECT count(*) FROM deliveries WHERE subscription_id = $1 AND status = 'dead')::int AS dead`,
          [subscriptionId],
        )
        return r.rows[0].outbox === 0 && r.rows[0].dead >= P.drainBacklog ? r.rows[0].dead : undefined
      },
      120_000,
      500,
    )
    if (!dead) throw new Error('drain: the relay did not fan the backlog out within 120 s')
    const fanOutSeconds = round((wallMs() - t) / 1000 - seedSeconds, 1)
    log(`drain: ${dead} deliveries waiting; subscriber back, recovery requested`)
    onRecovery?.()

    // The subscriber is back: re-enable, and re-open everything dead since the outage began.
    await subscriber.call({ cmd: 'reset' })
    await api(base, 'PATCH', `/v1/subscriptions/${subscriptionId}`, { key: operatorKey, body: { enabled: true } })
    let t0
    const done = await around(async () => {
      t0 = wallMs()
      await api(base, 'POST', `/v1/subscriptions/${subscriptionId}/recovery`, { key: operatorKey, idem: true, body: { since } })
      return until(
        async () => {
          const s = await subscriber.call({ cmd: 'stats' })
          return s.distinct >= dead ? s : undefined
        },
        P.drainTimeoutMs,
        100,
      )
    })
    const { receipts } = await subscriber.call({ cmd: 'receipts' }, 60_000)
    const times = receipts.map(([, at]) => at).sort((a, b) => a - b)
    const delivered = times.length
    const last = times.at(-1) ?? t0
    const perSecond = delivered ? delivered / ((last - t0) / 1000) : 0
    const t10 = quantile(times, 0.1)
    const t90 = quantile(times, 0.9)
    return {
      backlog: dead,
      delivered,
      drained: !!done,
      perSecond: Math.round(perSecond),
      steadyPerSecond: t90 > t10 ? Math.round((0.8 * delivered) / ((t90 - t10) / 1000)) : null,
      timeToFirstMs: times.length ? round(times[0] - t0, 0) : null,
      seconds: round((last - t0) / 1000, 1),
      how: "subscription disabled during the outage; referral.created events seeded in the service's shape and fanned out by its relay (deliveries created dead, unattempted); then re-enabled and POST /v1/subscriptions/{id}/recovery re-opens them all; timed from the recovery request to the last receipt",
      backlogSeedSeconds: seedSeconds,
      fanOutSeconds,
    }
  } finally {
    await db.end()
  }
}

/**
 * `--read-only`: the reads alone, for A/B runs of the read path. Referrals are written raw in the service's row shape
 * (lib/backlog.mjs, as the drain's backlog: all created now, so a week's `updatedSince` matches every one), then: the
 * `pkRoute` baseline, `GET /v1/referrals/{id}` as the court (full views, access trail) and as the operator (masked),
 * and the court's list `GET /v1/referrals?updatedSince=<7 days ago>&limit=50` (50 full views a page), each with the
 * service's CPU per request.
 */
async function readOnlySuite(svc, world, databaseUrl, operatorKey, queuePrefix, profileDir) {
  const count = SMOKE ? 500 : 9_000
  log(`read only: seeding ${count} referrals`)
  await seedCreatedReferrals(databaseUrl, {
    count,
    court: world.court,
    organizations: BENCH_ORGANIZATIONS,
    firstSeq: 5_000_000,
    redisUrl: REDIS_URL,
    queuePrefix,
  })
  const c = new pg.Client({ connectionString: databaseUrl })
  await c.connect()
  let ids
  try {
    // The relay fans the seeded events out (to no subscription) before anything is measured.
    await until(async () => (await c.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n === 0 || undefined, 120_000, 500)
    await c.query('ANALYZE')
    ids = (await c.query('SELECT id FROM referrals ORDER BY id')).rows.map((r) => r.id)
  } finally {
    await c.end()
  }
  log('baseline: bare Fastify route reading one referral by primary key')
  const pkRoute = await pkRouteBaseline(databaseUrl, ids)
  log(`  ${pkRoute.rps} req/s, p99 ${pkRoute.p99Ms} ms`)
  log(`read: ${C.read} connections, ${P.readSeconds} s over ${ids.length} ids`)
  const { result: read, cpu: readCpu } = await withCpu(
    svc.pid,
    () => profiled(svc, profileDir, 'read', () => readPhase(svc.base, world.court.apiKey, ids, P.readSeconds)),
    (r) => r.ok,
  )
  log(`  court ${read.rps} req/s, p99 ${read.p99Ms} ms (pkRatio ${round(read.rps / pkRoute.rps, 3)}); service ${readCpu?.msPerOp?.service} ms CPU per read`)
  const { result: masked, cpu: maskedCpu } = await withCpu(
    svc.pid,
    () => readPhase(svc.base, operatorKey, ids, Math.max(2, Math.round(P.readSeconds / 2))),
    (r) => r.ok,
  )
  log(`  masked ${masked.rps} req/s; service ${maskedCpu?.msPerOp?.service} ms CPU per read`)
  const weekAgo = new Date(Date.now() - 7 * 86_400_000).toISOString()
  const listUrl = `/v1/referrals?updatedSince=${encodeURIComponent(weekAgo)}&limit=50`
  const probe = await api(svc.base, 'GET', listUrl, { key: world.court.apiKey })
  if (probe.body.items.length !== 50) throw new Error(`list: a page of ${probe.body.items.length} items`)
  log(`list: ${C.read} connections, ${P.readSeconds} s, ${listUrl.replace(/updatedSince=[^&]+/, 'updatedSince=<7 days ago>')}`)
  const { result: list, cpu: listCpu } = await withCpu(
    svc.pid,
    () =>
      profiled(svc, profileDir, 'list', async () =>
        figures(
          await cannon({
            url: `${svc.base}${listUrl}`,
            connections: C.read,
            duration: P.readSeconds,
            headers: { authorization: `Bearer ${world.court.apiKey}` },
          }),
        ),
      ),
    (r) => r.ok,
  )
  log(`  ${list.rps} pages/s, p50 ${list.p50Ms} ms, p99 ${list.p99Ms} ms; service ${listCpu?.msPerOp?.service} ms CPU per page`)
  if (profileDir) writeProfileSummary(profileDir, ['# CPU profiles of the service: --read-only', ''], ['read', 'list'])
  return {
    pkRoute,
    read: { ...read, cpu: readCpu, ids: ids.length, pkRatio: round(read.rps / pkRoute.rps, 3) },
    masked: { ...masked, cpu: maskedCpu, pkRatio: round(masked.rps / pkRoute.rps, 3) },
    list: { ...list, cpu: listCpu, query: 'updatedSince=<7 days ago>&limit=50', itemsPerPage: 50 },
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (flag('--scale')) {
    const { runScale } = await import('./lib/scale.mjs')
    return runScale(argv)
  }
  const runId = hex(4)
  const database = `zdz_bench_${runId}`
  const queuePrefix = `bench_${runId}`
  runQueuePrefix = queuePrefix
  const operatorKey = `op_${hex(24)}`
  const databaseUrl = dbUrl(database)
  const started = Date.now()
  const mode = `${SMOKE ? 'smoke' : 'full'}${PROFILE ? '+profile' : ''}`
  mkdirSync(RESULTS_DIR, { recursive: true })
  const profileDir = PROFILE ? path.join(RESULTS_DIR, 'profiles') : undefined
  if (profileDir) {
    rmSync(profileDir, { recursive: true, force: true })
    mkdirSync(profileDir, { recursive: true })
  }

  log(`mode ${mode}; database ${database}, queue prefix ${queuePrefix}`)
  await createDatabase(database)
  let svc
  let subscriber
  const result = { mode, date: new Date().toISOString(), machine: await machineInfo(ADMIN_URL), params: { ...P, connections: C } }
  result.machine.loadAverageAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100)
  try {
    svc = await startService({ database, queuePrefix, operatorKey, profileDir })
    log(`service pid ${svc.pid} on ${svc.base} (log ${svc.logFile})`)
    const world = await seedWorld(svc.base, operatorKey)
    if (INTAKE_ONLY) {
      // Single intake alone, with where its CPU went: for A/B runs of the write path.
      const factory = referralFactory({ seed: 42, organizationIds: world.organizationIds })
      const { result: intake, cpu } = await withCpu(
        svc.pid,
        () => profiled(svc, profileDir, 'intake', () => intakePhase(svc.base, world, factory, runId)),
        (r) => r.figures.ok,
      )
      process.stdout.write(`${JSON.stringify({ intake: { ...intake.figures, cpu, sampleErrors: intake.errors }, machine: result.machine }, null, 2)}\n`)
      return
    }
    if (READ_ONLY) {
      const read = await readOnlySuite(svc, world, databaseUrl, operatorKey, queuePrefix, profileDir)
      process.stdout.write(`${JSON.stringify({ ...read, machine: result.machine }, null, 2)}\n`)
      return
    }
    if (BATCH_ONLY) {
      // The phase that sets the peak RSS, alone: for A/B runs of the service's memory settings.
      const factory = referralFactory({ seed: 42, organizationIds: world.organizationIds })
      const { result: batchIntake, cpu } = await withCpu(
        svc.pid,
        () => profiled(svc, profileDir, 'batchIntake', () => batchIntakePhase(svc.base, world, factory, runId)),
        (r) => r.created,
      )
      const rss = { batchIntakeMb: svc.takePhasePeakMb(), ...svc.memory() }
      if (profileDir) writeProfileSummary(profileDir, ['# CPU profiles of the service: --batch-only', ''], ['batchIntake'])
      process.stdout.write(`${JSON.stringify({ batchIntake: { ...batchIntake, cpu }, rss, machine: result.machine }, null, 2)}\n`)
      return
    }
    if (E2E_ONLY) {
      subscriber = await forkChild('subscriber.mjs')
      const sub = await subscribe(svc.base, operatorKey, world, subscriber)
      const factory = referralFactory({ seed: 42, organizationIds: world.organizationIds })
      const e2e = await e2eSuite(svc, world, factory, runId, subscriber, sub.id, databaseUrl, profileDir)
      process.stdout.write(`${JSON.stringify({ e2e, machine: result.machine }, null, 2)}\n`)
      return
    }
    if (DRAIN_ONLY) {
      subscriber = await forkChild('subscriber.mjs')
      const sub = await subscribe(svc.base, operatorKey, world, subscriber)
      log(`drain only: backlog of ${P.drainBacklog}`)
      const meter = drainMeter(svc, profileDir)
      const drain = await drainPhase(svc.base, operatorKey, world, subscriber, sub.id, databaseUrl, meter.around)
      drain.cpu = meter.cpu()
      log(`  ${drain.perSecond} deliveries/s (steady ${drain.steadyPerSecond}/s), ${drain.delivered}/${drain.backlog} in ${drain.seconds} s`)
      if (drain.cpu) log(`  CPU ms per delivery: ${JSON.stringify(drain.cpu.msPerOp)}, machine busy ${drain.cpu.machineBusyPct} %`)
      process.stdout.write(`${JSON.stringify({ drain, machine: result.machine }, null, 2)}\n`)
      if (!drain.delivered) throw new Error(`drain: 0 of ${drain.backlog} delivered`)
      return
    }
    const phaseRss = {}
    const phaseStarts = {}
    const mark = (phase) => (phaseStarts[phase] = svc.elapsedS())

    // Baselines first, while the service idles. The raw insert uses referral documents sealed exactly as the
    // service seals them, so the rows are the same size.
    const cipher = benchCipher()
    const docFactory = referralFactory({ seed: 7, organizationIds: world.organizationIds })
    const docs = Array.from(
      { length: 200 },
      () => intakeDoc(cipher, docFactory.next(), { acceptanceDueOn: '2026-12-02', mediationDueOn: null, provisional: false }).doc,
    )
    const docsFile = path.join(os.tmpdir(), `zdz-bench-docs-${runId}.json`)
    writeFileSync(docsFile, JSON.stringify(docs))
    log('baseline: bare Fastify route')
    const bareFastify = await bareFastifyBaseline()
    log(`  ${bareFastify.rps} req/s, p99 ${bareFastify.p99Ms} ms`)
    log('baseline: raw PostgreSQL insert transactions')
    const rawInsert = await rawInsertBaseline(databaseUrl, docsFile)
    log(`  ${rawInsert.tps} tps, p99 ${rawInsert.p99Ms} ms, ${rawInsert.docBytes} B per doc`)
    // Diagnostic, not a target's denominator: the same transaction with a pg_notify, as every event write made
    // before the relay's wake-up moved after the commit (src/delivery/outbox-signal.ts): why it moved.
    const rawInsertNotify = await rawInsertBaseline(databaseUrl, docsFile, 'notify')
    rmSync(docsFile, { force: true })
    log(`  with pg_notify: ${rawInsertNotify.tps} tps, p99 ${rawInsertNotify.p99Ms} ms`)
    log('baseline: the rows of one intake, raw, one transaction per referral')
    const regionOf = new Map(BENCH_ORGANIZATIONS.map((o) => [o.id, o.regionCode]))
    const sameFactory = referralFactory({ seed: 11, organizationIds: world.organizationIds })
    const intakes = Array.from({ length: 200 }, () => {
      const body = sameFactory.next()
      return sameRowsTemplate(
        cipher,
        body,
        { acceptanceDueOn: '2026-12-02', mediationDueOn: null, provisional: false },
        regionOf.get(body.designation.organizationId) ?? null,
      )
    })
    const intakesFile = path.join(os.tmpdir(), `zdz-bench-intakes-${runId}.json`)
    writeFileSync(intakesFile, JSON.stringify(intakes))
    const rawSameRows = await sameRowsBaseline(databaseUrl, intakesFile, world.court.id)
    rmSync(intakesFile, { force: true })
    log(`  ${rawSameRows.tps} tps, p99 ${rawSameRows.p99Ms} ms`)
    log('baseline: BullMQ no-op worker')
    const bullmq = await bullmqBaseline(queuePrefix)
    log(`  add ${bullmq.addPerSecond}/s, process ${bullmq.processPerSecond}/s`)
    result.baselines = { bareFastify, rawInsert, rawInsertNotify, rawSameRows, bullmq }
    svc.takePhasePeakMb()

    const factory = referralFactory({ seed: 42, organizationIds: world.organizationIds })

    mark('intake')
    log(`intake: ${C.intake} connections, ${P.intakeSeconds} s`)
    const { result: intake, cpu: intakeCpu } = await withCpu(
      svc.pid,
      () => profiled(svc, profileDir, 'intake', () => intakePhase(svc.base, world, factory, runId)),
      (r) => r.figures.ok,
    )
    phaseRss.intake = svc.takePhasePeakMb()
    const c = new pg.Client({ connectionString: databaseUrl })
    await c.connect()
    const rowBytes = (await c.query('SELECT avg(pg_column_size(doc))::int AS bytes FROM referrals')).rows[0].bytes
    await c.end()
    result.intake = {
      ...intake.figures,
      ratio: round(intake.figures.rps / rawInsert.tps, 3),
      baselineTps: rawInsert.tps,
      sameRowsRatio: round(intake.figures.rps / rawSameRows.tps, 3),
      sameRowsTps: rawSameRows.tps,
      docBytes: rowBytes,
      sampleErrors: intake.errors,
      cpu: intakeCpu,
    }
    log(`  ${result.intake.rps} req/s, p99 ${result.intake.p99Ms} ms (ratio ${result.intake.ratio}); ${intake.ids.length} referrals`)
    if (!intake.ids.length) throw new Error(`intake created nothing: ${intake.errors[0] ?? 'no answer'}`)
    if (P.overloadSeconds) {
      // More concurrent intake transactions than pool connections: what a burst of clients gets.
      log(`intake overload: ${C.overload} connections, ${P.overloadSeconds} s`)
      const res = await cannon({
        ...intakeRequest(svc.base, world.court.apiKey, factory, `${runId}-over`, (id) => intake.ids.push(id), []),
        connections: C.overload,
        duration: P.overloadSeconds,
      })
      const f = figures(res)
      result.intake.overload = {
        connections: C.overload,
        seconds: f.seconds,
        created: f.ok,
        status503: res.statusCodeStats?.['503']?.count ?? 0,
        otherNon2xx: f.non2xx - (res.statusCodeStats?.['503']?.count ?? 0),
        rps: f.rps,
        p50Ms: f.p50Ms,
        p99Ms: f.p99Ms,
      }
      log(`  ${f.ok} created, ${result.intake.overload.status503} × 503, p50 ${f.p50Ms} ms`)
      await sleep(6000)
    }

    mark('batchIntake')
    log(`batch intake: ${C.batch} connections × ${P.batchRequestsPerConnection} requests × ${BATCH_ITEMS} items`)
    const { result: batchIntake, cpu: batchCpu } = await withCpu(
      svc.pid,
      () => profiled(svc, profileDir, 'batchIntake', () => batchIntakePhase(svc.base, world, factory, runId)),
      (r) => r.created,
    )
    phaseRss.batchIntake = svc.takePhasePeakMb()
    result.batchIntake = { ...batchIntake, ratio: round(batchIntake.perSecond / rawInsert.tps, 3), baselineTps: rawInsert.tps, cpu: batchCpu }
    log(`  ${batchIntake.perSecond} referrals/s (ratio ${result.batchIntake.ratio}); ${batchIntake.requests} requests, p99 ${batchIntake.requestP99Ms} ms`)
    await sleep(SMOKE ? 1000 : 4000)

    log('baseline: bare Fastify route reading one referral by primary key')
    const pkRoute = await pkRouteBaseline(databaseUrl, intake.ids)
    result.baselines.pkRoute = pkRoute
    log(`  ${pkRoute.rps} req/s, p99 ${pkRoute.p99Ms} ms`)

    mark('read')
    log(`read: ${C.read} connections, ${P.readSeconds} s over ${intake.ids.length} ids`)
    const { result: read, cpu: readCpu } = await withCpu(
      svc.pid,
      () => profiled(svc, profileDir, 'read', () => readPhase(svc.base, world.court.apiKey, intake.ids, P.readSeconds)),
      (r) => r.ok,
    )
    const masked = await readPhase(svc.base, operatorKey, intake.ids, Math.max(2, Math.round(P.readSeconds / 2)))
    phaseRss.read = svc.takePhasePeakMb()
    result.read = {
      ...read,
      cpu: readCpu,
      ids: intake.ids.length,
      ratio: round(read.rps / bareFastify.rps, 3),
      baselineRps: bareFastify.rps,
      pkRatio: round(read.rps / pkRoute.rps, 3),
      pkRouteRps: pkRoute.rps,
      masked: { ...masked, ratio: round(masked.rps / bareFastify.rps, 3) },
    }
    log(`  court ${read.rps} req/s, p99 ${read.p99Ms} ms (ratio ${result.read.ratio}); masked ${masked.rps} req/s`)

    mark('e2e')
    subscriber = await forkChild('subscriber.mjs')
    const sub = await subscribe(svc.base, operatorKey, world, subscriber)
    result.e2e = await e2eSuite(svc, world, factory, runId, subscriber, sub.id, databaseUrl, profileDir)
    phaseRss.e2e = svc.takePhasePeakMb()

    mark('drain')
    log(`drain: backlog of ${P.drainBacklog}`)
    const meter = drainMeter(svc, profileDir)
    result.drain = await drainPhase(svc.base, operatorKey, world, subscriber, sub.id, databaseUrl, meter.around, () => mark('recovery'))
    result.drain.cpu = meter.cpu()
    result.drain.ratio = round(result.drain.perSecond / bullmq.processPerSecond, 3)
    phaseRss.drain = svc.takePhasePeakMb()
    log(
      `  ${result.drain.perSecond} deliveries/s (steady ${result.drain.steadyPerSecond}/s), ${result.drain.delivered}/${result.drain.backlog} in ${result.drain.seconds} s`,
    )

    const mem = svc.memory()
    result.rssPeakMb = mem?.hwmMb ?? Math.max(...Object.values(phaseRss))
    result.rssByPhaseMb = phaseRss
    result.rssSeriesMb = svc.rssSeries()
    result.phaseStartsS = phaseStarts
    result.targets = evaluateTargets(result)
    result.machine.loadAverageAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100)
    result.totalSeconds = Math.round((Date.now() - started) / 1000)
  } catch (err) {
    if (svc) process.stderr.write(`--- service log tail ---\n${svc.logTail()}\n`)
    throw err
  } finally {
    subscriber?.kill()
    if (svc) {
      const exit = await svc.stop()
      log(`service stopped (${JSON.stringify(exit)})`)
    }
    if (KEEP_DB) log(`kept database ${database}`)
    else await dropDatabase(database)
    await dropRedisPrefix(queuePrefix).catch((err) => log(`could not clean Redis keys: ${err.message}`))
    await dropRedisPrefix(`${queuePrefix}_noop`).catch(() => undefined)
  }

  if (profileDir) {
    writeProfileSummary(
      profileDir,
      [
        '# CPU profiles of the service, per bench phase',
        '',
        `Run ${result.date}. Open the .cpuprofile files in Chrome DevTools or speedscope for the full picture.`,
        '',
      ],
      ['intake', 'batchIntake', 'read', 'e2e', 'drain'],
    )
  }

  const name = PROFILE ? 'profile-run' : SMOKE ? 'smoke' : 'latest'
  const file = path.join(RESULTS_DIR, `${name}.json`)
  if (name === 'latest' && existsSync(file)) {
    // Keep the scale part of an earlier `--scale` run: it is measured separately.
    try {
      const { readFileSync } = await import('node:fs')
      const prev = JSON.parse(readFileSync(file, 'utf8'))
      if (prev.scale) result.scale = prev.scale
    } catch {
      // an unreadable previous file is simply replaced
    }
  }
  writeResults(file, result)
  if (name === 'latest') log(updateReadme(result) ? 'bench/README.md table updated' : 'bench/README.md has no bench markers; table not written there')
  process.stdout.write(`\n${markdownTable(result)}\n\n`)
  log(`results: ${path.relative(process.cwd(), file)} (${result.totalSeconds} s)`)
  // Missed targets are results, not failures; a phase that did not work at all is a failure (what CI's smoke run checks).
  const broken = []
  if (!result.read?.ok) broken.push('read: no successful request')
  if (!result.batchIntake?.created) broken.push(`batch intake: no referral created (${result.batchIntake?.sampleErrors?.[0] ?? 'no answer'})`)
  if (!result.baselines?.rawSameRows?.transactions) broken.push('rawSameRows baseline: no transaction')
  if (!result.baselines?.pkRoute?.ok) broken.push('pkRoute baseline: no successful read')
  if (!result.e2e?.matched || result.e2e.missing) broken.push(`end-to-end: ${result.e2e?.missing ?? '?'} referrals never reached the subscriber`)
  if (!result.drain?.delivered || (SMOKE && !result.drain.drained))
    broken.push(`drain: ${result.drain?.delivered ?? 0} of ${result.drain?.backlog ?? '?'} delivered`)
  if (broken.length) throw new Error(`the bench ran but a phase did not work: ${broken.join('; ')}`)
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${err?.stack ?? err}\n`)
    process.exit(1)
  },
)
