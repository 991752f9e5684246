/**
 * The headline fault run (reliability rows 1 and 4, with 5, 6 and 11 along the way).
 *
 * The connector runs as two processes, API-only and worker, on a fresh database. The court simulator creates
 * referrals with a client that retries with the same Idempotency-Key until the answer is definitive; the
 * platform simulator accepts and mediates them and the court acts on the outcomes, every step driven by a
 * pushed event. Meanwhile both processes are SIGKILLed and restarted every few seconds and both simulators
 * fail a share of the webhook calls (5xx, connection resets, hangs past the sender's timeout). When the faults
 * stop, everything must be delivered within `settleMs`, and then:
 *
 * - exactly N referrals exist, and replaying each creation returns the identical status and body;
 * - every event in the database arrived by push at both simulators, per case in sequence order;
 * - no delivery is dead, and every effect happened once (receiver dedup + Idempotency-Keys), so each case's
 *   history is exactly the life the platform planned for it;
 * - both simulators are in sync with the pull feed.
 *
 * Used by `tools/headline.ts` (the full run) and by the short CI version in test/delivery/headline.test.ts.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { formatDataKeys, generateThrowawayKeys } from '../../src/security/field-cipher.js'
import { clearRedisPrefix, dropDatabase, freePort, ServiceProcess, withDatabase } from './service-process.js'
import { keyedRandom, seededRandom, sleep } from './shared.js'
import type { CreatedReferral } from './court-simulator.js'
import { checkSync } from './sync-check.js'
import { createWorld, type World } from './world.js'

export interface HeadlineOptions {
  /** Referrals to create. */
  referrals: number
  /** Uptime of each API and worker process before it is SIGKILLed (±20 % jitter), ms. */
  killEveryMs: number
  /** Share of webhook calls each simulator fails while the faults last. */
  failureRate: number
  /** How long the faults last at least, ms; they go on until every referral is created (which starts with them). */
  faultMs: number
  /** Everything must be delivered within this after the faults stop; Infinity to only require "eventually". */
  settleMs: number
  /** Stop waiting for "everything delivered" after this, ms after the faults stopped. */
  deadlineMs: number
  /** Parallel creating requests. */
  concurrency: number
  /**
   * Requests each simulator has in flight at most (a peer's HTTP connection pool). @defaultValue 4
   * Higher values than the service's database pool can hold expose the calendar-refresh pool deadlock.
   */
  apiConcurrency?: number
  /** `full`: every case is mediated to its end; `accept`: lives stop at acceptance. */
  lives: 'full' | 'accept'
  /** Share of cases whose first designation is declined (then redesignated). */
  declineRate: number
  seed: number
  /** Node arguments of the API-only process (entry script and flags), and of the worker process. */
  apiArgs: string[]
  workerArgs: string[]
  /** Working directory of both processes. */
  cwd: string
  /** Any database URL of the PostgreSQL server to use; a fresh database is created there and dropped after. */
  databaseUrl: string
  redisUrl: string
  /** Where the processes' logs go. @defaultValue a new directory under the OS temp dir */
  logDir?: string
  /** Keep the database for inspection. */
  keepDatabase?: boolean
  log?: (line: string) => void
}

export interface HeadlineSummary {
  referrals: { requested: number; created: number; inDatabase: number; distinctCaseNumbers: number; creationRequests: number; creationRetries: number }
  replays: { checked: number; identical: number; otherBodyRefused: number }
  events: number
  deliveries: {
    total: number
    delivered: number
    pending: number
    dead: number
    attempts: number
    failedAttempts: number
    maxAttempts: number
    attemptErrors: Record<string, number>
  }
  kills: { api: number; worker: number; apiStartupMsMedian: number; workerStartupMsMedian: number }
  peers: Record<
    string,
    {
      requests: number
      injected: Record<string, number>
      pushedNew: number
      pushDuplicates: number
      missingPushes: number
      orderErrors: number
      gapFills: number
      actions: number
      failedActions: number
      duplicateEffects: number
      badSignatures: number
    }
  >
  lives: { expected: number; complete: number; mismatched: number }
  /** The pending deliveries when the faults stopped: what the settle time is made of. */
  atFaultsOff: { pending: number; leased: number; backingOff: number; behindEarlier: number; runnable: number; latestRetryInS: number | null }
  timings: { faultPhaseS: number; creationS: number; settleS: number | null; totalS: number }
  logDir: string
}

export interface HeadlineResult {
  ok: boolean
  violations: string[]
  summary: HeadlineSummary
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : 0)
const seconds = (ms: number) => Math.round(ms / 100) / 10

/** Runs the scenario and reports; never throws for a violated promise, only for a broken set-up. */
export async function runHeadline(o: HeadlineOptions): Promise<HeadlineResult> {
  const log = o.log ?? (() => undefined)
  const t0 = Date.now()
  const hex = randomBytes(5).toString('hex')
  const databaseUrl = withDatabase(o.databaseUrl, `zdz_headline_${hex}`)
  const prefix = `hl_${hex}`
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const operatorKey = `op_${randomBytes(24).toString('base64url')}`
  const logDir = o.logDir ?? path.join(os.tmpdir(), `zdz-headline-${hex}`)
  mkdirSync(logDir, { recursive: true })
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_OPTIONS: '',
    NODE_ENV: 'development',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '10',
    REDIS_URL: o.redisUrl,
    QUEUE_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: String(port),
    OPERATOR_API_KEY: operatorKey,
    DATA_KEYS: formatDataKeys(generateThrowawayKeys()),
    // One court creating a thousand referrals in a minute is the load here, not abuse.
    RATE_LIMIT_PER_MINUTE: '10000000',
    SHUTDOWN_TIMEOUT_MS: '10000',
  }
  const api = new ServiceProcess({
    name: 'api',
    args: o.apiArgs,
    cwd: o.cwd,
    env: { ...env, LOG_LEVEL: 'warn' },
    ready: { url: `${baseUrl}/health/ready` },
    logFile: path.join(logDir, 'api.log'),
  })
  const worker = new ServiceProcess({
    name: 'worker',
    args: o.workerArgs,
    cwd: o.cwd,
    env: { ...env, LOG_LEVEL: 'info' },
    ready: { logPattern: /zdz connector worker started/ },
    logFile: path.join(logDir, 'worker.log'),
  })
  const violations: string[] = []
  const violate = (v: string) => {
    violations.push(v)
    log(`✗ ${v}`)
  }
  let world: World | undefined
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 3 })
  pool.on('error', () => undefined)
  const q = async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) => (await pool.query<T>(text, params)).rows

  try {
    log(`数据库 / database ${databaseUrl.replace(/\/\/[^@]*@/, '//')}, 队列前缀 / queue prefix ${prefix}, 日志 / logs ${logDir}`)
    await api.start()
    await worker.start()
    log(`服务已启动 / service up: API ${baseUrl} (${api.startupMs[0]} ms), worker (${worker.startupMs[0]} ms)`)

    world = await createWorld({
      baseUrl,
      operatorKey,
      seed: o.seed,
      api: { timeoutMs: 10_000, giveUpAfterMs: o.faultMs + o.deadlineMs + 120_000, maxBackoffMs: 1_000, maxInFlight: o.apiConcurrency ?? 4 },
      platform: { agreeRate: 0.5, declineRate: o.declineRate, mediate: o.lives === 'full' },
    })
    const { court, platform } = world
    const sims = [court, platform]

    // --- Faults on -------------------------------------------------------------------------------------
    for (const s of sims) s.setFaults({ failureRate: o.failureRate, modes: ['error', 'reset', 'hang'], hangMs: 20_000 })
    const tFaults = Date.now()
    const faultsUntil = tFaults + o.faultMs
    let faulting = true
    const rnd = seededRandom(o.seed)
    const killLoop = async (p: ServiceProcess, offsetMs: number) => {
      await sleep(offsetMs)
      while (faulting) {
        const uptime = o.killEveryMs * (0.8 + 0.4 * rnd())
        const at = (p.readyAt ?? Date.now()) + uptime
        while (faulting && Date.now() < at) await sleep(Math.min(100, at - Date.now()))
        if (!faulting) break
        await p.kill('SIGKILL')
        await startAgain(p)
      }
    }
    const startAgain = async (p: ServiceProcess) => {
      for (let i = 0; ; i++) {
        try {
          return await p.start()
        } catch (err) {
          if (i >= 5) throw err
          log(`${p.opts.name} 重启失败，重试 / restart failed, retrying: ${(err as Error).message}`)
          await sleep(500)
        }
      }
    }
    const loops = Promise.all([killLoop(api, 0), killLoop(worker, o.killEveryMs / 2)])
    log(
      `故障开始 / faults on: 每 ~${o.killEveryMs / 1000} s 杀死 API 与 worker 进程 / SIGKILL API and worker every ~${o.killEveryMs / 1000} s of uptime; 对端失败率 / peers fail ${Math.round(o.failureRate * 100)}% (5xx, reset, hang); ≥ ${o.faultMs / 1000} s and until every referral is created`,
    )

    // --- Load ------------------------------------------------------------------------------------------
    const types: Array<'pre_filing' | 'in_litigation'> = Array.from({ length: o.referrals }, (_, i) =>
      keyedRandom(o.seed, `type:${i}`) < 0.7 ? 'pre_filing' : 'in_litigation',
    )
    let nextIndex = 0
    let creationDone = 0
    const creation = (async () => {
      await Promise.all(
        Array.from({ length: o.concurrency }, async () => {
          while (nextIndex < o.referrals) {
            const i = nextIndex++
            try {
              await court.createReferral({ referralType: types[i], seed: o.seed * 1_000_003 + i })
            } catch (err) {
              violate(`referral ${i} got no definitive answer: ${(err as Error).message}`)
            }
          }
        }),
      )
      creationDone = Date.now()
    })()

    const progress = setInterval(() => {
      void q<{ pending: string; delivered: string; events: string }>(
        `SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending') AS pending, (SELECT count(*) FROM deliveries WHERE status = 'delivered') AS delivered, (SELECT count(*) FROM events) AS events`,
      )
        .then(([r]) =>
          log(
            `t=${seconds(Date.now() - tFaults)}s 委派 / referrals ${court.created.length}/${o.referrals}, 事件 / events ${r.events}, 投递 / deliveries delivered ${r.delivered} pending ${r.pending}, ` +
              `kills api ${api.kills} worker ${worker.kills}${faulting ? '' : ' (faults off)'}`,
          ),
        )
        .catch(() => undefined)
    }, 5_000)

    // The faults last at least `faultMs`, and until every referral has its definitive answer: the whole load
    // runs under them.
    await sleep(Math.max(0, faultsUntil - Date.now()))
    await creation
    faulting = false
    await loops
    for (const p of [api, worker]) if (!p.alive) await startAgain(p)
    for (const s of sims) s.setFaults({ failureRate: 0 })
    const tStop = Date.now()
    log(`故障停止 / faults off at t=${seconds(tStop - tFaults)}s (API killed ${api.kills}×, worker killed ${worker.kills}×)`)
    const [snap] = await q<{ pending: string; leased: string; backing_off: string; behind: string; runnable: string; latest: number | null }>(
      `SELECT count(*) AS pending,
              count(*) FILTER (WHERE lease_until > now()) AS leased,
              count(*) FILTER (WHERE next_attempt_at > now() AND NOT coalesce(lease_until > now(), false)) AS backing_off,
              count(*) FILTER (WHERE EXISTS (SELECT 1 FROM deliveries p WHERE p.subscription_id = d.subscription_id AND p.subject_id = d.subject_id AND p.status = 'pending' AND p.sequence < d.sequence)) AS behind,
              count(*) FILTER (WHERE next_attempt_at <= now() AND (lease_until IS NULL OR lease_until <= now()) AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.subscription_id = d.subscription_id AND p.subject_id = d.subject_id AND p.status = 'pending' AND p.sequence < d.sequence)) AS runnable,
              extract(epoch FROM max(greatest(next_attempt_at, lease_until)) - now())::float AS latest
         FROM deliveries d WHERE status = 'pending'`,
    )
    const atFaultsOff = {
      pending: Number(snap.pending),
      leased: Number(snap.leased),
      backingOff: Number(snap.backing_off),
      behindEarlier: Number(snap.behind),
      runnable: Number(snap.runnable),
      latestRetryInS: snap.latest === null ? null : Math.round(snap.latest),
    }
    log(`故障停止时待投递 / pending at faults-off: ${JSON.stringify(atFaultsOff)}`)

    log(`委派创建完成 / creation finished: ${court.created.length} answers in ${seconds(creationDone - tFaults)} s`)

    // --- Settle: everything delivered, every life at its end ---------------------------------------------
    const expectedTypes = (c: CreatedReferral): string[] => {
      const plan = platform.planFor({ caseNumber: c.caseNumber })
      const head = plan.decline
        ? ['referral.created', 'referral.declined', 'referral.redesignated', 'referral.accepted']
        : ['referral.created', 'referral.accepted']
      if (o.lives === 'accept') return head
      const preFiling = c.body.referralType === 'pre_filing'
      return plan.outcome === 'agree'
        ? [...head, 'referral.agreement_recorded', 'referral.closed', 'referral.performance_reported']
        : [...head, 'referral.terminated', 'referral.materials_returned', preFiling ? 'referral.case_registered' : 'referral.trial_resumed']
    }
    const byId = new Map(court.created.filter((c) => c.id).map((c) => [c.id as string, c]))
    const histories = async () => {
      const rows = await q<{ subject_id: string; types: string[] }>(
        `SELECT subject_id, array_agg(type ORDER BY sequence) AS types FROM events WHERE subject_kind = 'referral' GROUP BY subject_id`,
      )
      return new Map(rows.map((r) => [r.subject_id, r.types]))
    }
    const deadline = tStop + o.deadlineMs
    let settledAt: number | undefined
    let lastState = ''
    for (;;) {
      const [st] = await q<{ pending: string; outbox: string }>(
        `SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending') AS pending, (SELECT count(*) FROM outbox) AS outbox`,
      )
      const ids = (await q<{ id: string }>(`SELECT id FROM events WHERE audience <> 'operator'`)).map((r) => r.id)
      const unpushed = sims.map((s) => ids.filter((id) => !s.pushed.has(id)).length)
      const h = await histories()
      let complete = 0
      for (const [id, c] of byId) if (JSON.stringify(h.get(id) ?? []) === JSON.stringify(expectedTypes(c))) complete++
      lastState = `pending ${st.pending}, outbox ${st.outbox}, not yet pushed court ${unpushed[0]} platform ${unpushed[1]}, lives complete ${complete}/${byId.size}`
      if (Number(st.pending) === 0 && Number(st.outbox) === 0 && unpushed.every((n) => n === 0) && complete === byId.size && sims.every((s) => s.isIdle())) {
        settledAt = Date.now()
        break
      }
      if (Date.now() > deadline) break
      await sleep(500)
    }
    clearInterval(progress)
    const settleFrom = tStop
    if (settledAt === undefined) violate(`not everything was delivered ${seconds(o.deadlineMs)} s after the faults stopped: ${lastState}`)
    else {
      log(`全部送达 / everything delivered ${seconds(settledAt - settleFrom)} s after the faults stopped`)
      if (settledAt - settleFrom > o.settleMs)
        violate(`delivery took ${seconds(settledAt - settleFrom)} s after the faults stopped (limit ${seconds(o.settleMs)} s)`)
    }
    for (const s of sims) await s.idle(30_000).catch((err: Error) => violate(err.message))

    // --- Checks ----------------------------------------------------------------------------------------
    const created = court.created
    const notCreated = created.filter((c) => c.answer.status !== 201)
    if (notCreated.length)
      violate(`${notCreated.length} creations ended without 201, e.g. ${notCreated[0].answer.status} ${notCreated[0].answer.body.slice(0, 200)}`)
    const [counts] = await q<{ n: string; distinct_numbers: string }>(`SELECT count(*) AS n, count(DISTINCT case_number) AS distinct_numbers FROM referrals`)
    if (Number(counts.n) !== o.referrals) violate(`${counts.n} referrals in the database, expected exactly ${o.referrals}`)
    if (Number(counts.distinct_numbers) !== Number(counts.n)) violate(`${Number(counts.n) - Number(counts.distinct_numbers)} duplicated case numbers`)

    // Replays: the same key and body give the identical status and body; the same key with another body, 422.
    let identical = 0
    const replayMismatch: string[] = []
    let cursor = 0
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (cursor < created.length) {
          const c = created[cursor++]
          const again = await court.api.post('/v1/referrals', c.body, c.idempotencyKey)
          if (
            again.status === c.answer.status &&
            again.body === c.answer.body &&
            (c.answer.status !== 201 || again.headers.get('idempotent-replayed') === 'true')
          )
            identical++
          else replayMismatch.push(`${c.caseNumber}: first ${c.answer.status}, replay ${again.status}${again.body === c.answer.body ? '' : ' (other body)'}`)
        }
      }),
    )
    if (replayMismatch.length) violate(`${replayMismatch.length} replays differ from the first answer, e.g. ${replayMismatch.slice(0, 3).join('; ')}`)
    let otherBodyRefused = 0
    for (const c of created.slice(0, 5)) {
      const other = await court.api.post<{ code?: string }>('/v1/referrals', { ...c.body, claimSummary: '另一项请求' }, c.idempotencyKey)
      if (other.status === 422 && other.json?.code === 'idempotency_key_reused') otherBodyRefused++
      else violate(`same key + other body answered ${other.status} ${other.body.slice(0, 120)}, expected 422 idempotency_key_reused`)
    }

    // Deliveries: none dead, one per event and subscription, every event pushed to both peers.
    const [events] = await q<{ n: string }>(`SELECT count(*) AS n FROM events WHERE audience <> 'operator'`)
    const deliveries = await q<{ status: string; n: string; max_attempts: number }>(
      `SELECT status, count(*) AS n, max(attempts) AS max_attempts FROM deliveries GROUP BY status`,
    )
    const dCount = (s: string) => Number(deliveries.find((d) => d.status === s)?.n ?? 0)
    const totalDeliveries = deliveries.reduce((a, d) => a + Number(d.n), 0)
    if (dCount('dead')) violate(`${dCount('dead')} dead deliveries`)
    if (dCount('pending')) violate(`${dCount('pending')} deliveries still pending`)
    if (totalDeliveries !== Number(events.n) * 2) violate(`${totalDeliveries} deliveries for ${events.n} events and 2 subscriptions`)
    const exhausted = await q<{ n: string }>(`SELECT count(*) AS n FROM events WHERE type = 'delivery.exhausted'`)
    if (Number(exhausted[0].n)) violate(`${exhausted[0].n} delivery.exhausted events`)
    const attempts = await q<{ outcome: string; error: string | null; n: string }>(
      `SELECT outcome, CASE WHEN error IS NULL THEN NULL WHEN error LIKE 'HTTP %' THEN left(error, 8) ELSE split_part(error, ':', 1) END AS error, count(*) AS n FROM delivery_attempts GROUP BY 1, 2`,
    )
    const attemptErrors: Record<string, number> = {}
    for (const a of attempts) if (a.error) attemptErrors[a.error] = (attemptErrors[a.error] ?? 0) + Number(a.n)

    const allIds = (await q<{ id: string }>(`SELECT id FROM events WHERE audience <> 'operator'`)).map((r) => r.id)
    const peers: HeadlineSummary['peers'] = {}
    for (const [name, s] of [
      ['court', court],
      ['platform', platform],
    ] as const) {
      const missing = allIds.filter((id) => !s.pushed.has(id))
      if (missing.length) violate(`${name}: ${missing.length} events never arrived by push`)
      if (s.orderErrors.length) violate(`${name}: ${s.orderErrors.length} events out of sequence, e.g. ${s.orderErrors[0]}`)
      if (s.stats.historyFilled) violate(`${name}: ${s.stats.historyFilled} events had to be filled from history (a sequence gap in the pushes)`)
      if (s.duplicateEffects().length) violate(`${name}: duplicate effects ${s.duplicateEffects().slice(0, 3).join(', ')}`)
      if (s.failedActions().length) violate(`${name}: ${s.failedActions().length} actions failed, e.g. ${JSON.stringify(s.failedActions()[0])}`)
      if (s.errors.length) violate(`${name}: ${s.errors.length} processing errors, e.g. ${s.errors[0]}`)
      if (s.stats.badSignatures) violate(`${name}: ${s.stats.badSignatures} requests with a bad signature`)
      const sync = await checkSync(s)
      if (!sync.ok)
        violate(
          `${name} not in sync with the pull feed: missing ${sync.missing.length}, out of order ${sync.outOfOrder.length}, extra ${sync.extra.length}, service gaps ${sync.serviceGaps.length}`,
        )
      peers[name] = {
        requests: s.stats.requests,
        injected: s.stats.injected,
        pushedNew: s.stats.pushedNew,
        pushDuplicates: s.stats.pushDuplicates,
        missingPushes: missing.length,
        orderErrors: s.orderErrors.length,
        gapFills: s.stats.historyFilled,
        actions: s.stats.actions,
        failedActions: s.failedActions().length,
        duplicateEffects: s.duplicateEffects().length,
        badSignatures: s.stats.badSignatures,
      }
    }

    // Each case's history is exactly its planned life: an effect applied twice would show as an extra event.
    const h = await histories()
    let complete = 0
    const mismatched: string[] = []
    for (const [id, c] of byId) {
      const got = h.get(id) ?? []
      if (JSON.stringify(got) === JSON.stringify(expectedTypes(c))) complete++
      else
        mismatched.push(
          `${c.caseNumber}: ${got.map((t) => t.replace('referral.', '')).join(' → ')} (expected ${expectedTypes(c)
            .map((t) => t.replace('referral.', ''))
            .join(' → ')})`,
        )
    }
    if (mismatched.length) violate(`${mismatched.length} cases do not have their planned history, e.g. ${mismatched.slice(0, 2).join('; ')}`)

    // Tamper evidence still holds after all that (a sample).
    for (const id of [...byId.keys()].slice(0, 20)) {
      const integrity = await court.api.getOk<{ valid: boolean }>(`/v1/referrals/${id}/integrity`)
      if (!integrity.valid) violate(`hash chain of ${id} is broken`)
    }

    const summary: HeadlineSummary = {
      referrals: {
        requested: o.referrals,
        created: created.length - notCreated.length,
        inDatabase: Number(counts.n),
        distinctCaseNumbers: Number(counts.distinct_numbers),
        creationRequests: created.reduce((a, c) => a + c.answer.attempts, 0),
        creationRetries: created.reduce((a, c) => a + c.answer.attempts - 1, 0),
      },
      replays: { checked: created.length, identical, otherBodyRefused },
      events: Number(events.n),
      deliveries: {
        total: totalDeliveries,
        delivered: dCount('delivered'),
        pending: dCount('pending'),
        dead: dCount('dead'),
        attempts: attempts.reduce((a, r) => a + Number(r.n), 0),
        failedAttempts: attempts.filter((r) => r.outcome !== 'delivered').reduce((a, r) => a + Number(r.n), 0),
        maxAttempts: Math.max(0, ...deliveries.map((d) => Number(d.max_attempts))),
        attemptErrors,
      },
      kills: { api: api.kills, worker: worker.kills, apiStartupMsMedian: median(api.startupMs), workerStartupMsMedian: median(worker.startupMs) },
      peers,
      lives: { expected: byId.size, complete, mismatched: mismatched.length },
      atFaultsOff,
      timings: {
        faultPhaseS: seconds(tStop - tFaults),
        creationS: seconds(creationDone - tFaults),
        settleS: settledAt === undefined ? null : seconds(settledAt - settleFrom),
        totalS: seconds(Date.now() - t0),
      },
      logDir,
    }
    return { ok: violations.length === 0, violations, summary }
  } finally {
    await world?.close().catch(() => undefined)
    await Promise.allSettled([api.stop(15_000), worker.stop(15_000)])
    await pool.end().catch(() => undefined)
    if (!o.keepDatabase) await dropDatabase(databaseUrl).catch((err: Error) => log(`could not drop the database: ${err.message}`))
    await clearRedisPrefix(o.redisUrl, prefix).catch(() => undefined)
  }
}
