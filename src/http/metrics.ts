import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { type Kysely, sql } from 'kysely'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Database } from '../db/database.js'
import { caseCounts, deliveryHealth, type DeliveryHealth, lastAttemptId, newAttempts } from '../db/metrics-repository.js'
import { shanghaiDate } from '../domain/calendar.js'
import { CONFIRMATION_STATUSES } from '../domain/confirmation.js'
import { REFERRAL_STATUSES } from '../domain/referral-machine.js'
import { unauthorized } from './auth.js'
import { errorResponses } from './common-schemas.js'

/**
 * Prometheus metrics on a registry owned by this app instance (no global registry: tests build many apps in one
 * process). Request duration by route pattern (never the raw URL: ids would explode the label set) and status.
 *
 * Business metrics (contract §6 v1.1) come from PostgreSQL at scrape time, so every process that serves
 * /metrics — the one-process `npm start`, or any of several API processes beside separate workers — reports
 * the same truth; sum nothing across instances (take `max`). The delivery, outbox and deadline gauges are one
 * aggregate statement over partial indexes, reused for {@link HEALTH_TTL_MS}; the case counts read every case
 * (index-only) and are reused for {@link CASES_TTL_MS}. Each statement runs under a statement timeout; a failed
 * refresh drops the gauges from that scrape (and logs) rather than failing it, and `zdz_ready` says why.
 *
 * `zdz_delivery_attempts_total` is derived from the attempt log (`delivery_attempts`), which every worker writes:
 * this process counts the attempts recorded since it first served /metrics (a counter starting at zero, as after
 * any restart), by outcome — `delivered`, `retry`, or `dead` (a 410 Gone, a refused answer, an exhausted retry
 * window). An attempt whose row commits after a higher id was counted is looked for again for
 * {@link RECHECK_MS}, so attempts in flight during a scrape are not lost.
 */

/** How long one refresh of the delivery, outbox and deadline gauges (and the attempt count) is reused. */
export const HEALTH_TTL_MS = 10_000
/** How long the case counts are reused: they read every case. */
export const CASES_TTL_MS = 60_000
/** How long an attempt id skipped by a count (its transaction had not committed) is looked for again. */
const RECHECK_MS = 5 * 60_000
/** Skipped ids kept at most (beyond, the oldest are given up). */
const MAX_RECHECK = 10_000
/** Statement timeout of each metrics query: a scrape must not hang on the database. */
const QUERY_TIMEOUT_MS = 5_000
/** Readiness probe timeout, as GET /health/ready. */
const PROBE_TIMEOUT_MS = 2_000

const ATTEMPT_OUTCOMES = ['delivered', 'retry', 'dead'] as const
type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number]
/** The attempt log's outcomes as the counter's labels: a 410 Gone ended the delivery, like any other death. */
const OUTCOME_LABEL: Record<string, AttemptOutcome> = { delivered: 'delivered', retry: 'retry', dead: 'dead', gone: 'dead' }

/** What the business metrics read. */
export interface MetricsDeps {
  metrics: Registry
  db: Kysely<Database>
  redis: Pick<Redis, 'ping'>
  logger: Logger
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Runs one metrics query in a transaction whose statements stop after {@link QUERY_TIMEOUT_MS}; the scrape stops
 * waiting a second later (a pool waiting for a connection is not bounded by PostgreSQL's timeout).
 */
function bounded<T>(db: Kysely<Database>, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const run = db.transaction().execute(async (trx) => {
    await sql.raw(`SET LOCAL statement_timeout = ${QUERY_TIMEOUT_MS}`).execute(trx)
    return fn(trx)
  })
  return withTimeout(run, QUERY_TIMEOUT_MS + 1_000)
}

/** A value refreshed at most once per `ttlMs`; concurrent readers share one refresh; a failure is not kept. */
class Cached<T> {
  private value: { at: number; promise: Promise<T> } | undefined
  constructor(
    private readonly ttlMs: number,
    private readonly load: () => Promise<T>,
  ) {}
  get(): Promise<T> {
    const now = Date.now()
    if (!this.value || now - this.value.at >= this.ttlMs) {
      const promise = this.load()
      const entry = { at: now, promise }
      this.value = entry
      promise.catch(() => {
        if (this.value === entry) this.value = undefined
      })
    }
    return this.value.promise
  }
  invalidate(): void {
    this.value = undefined
  }
}

/** The state behind the business metrics of one registry. */
class BusinessMetrics {
  readonly health: Cached<DeliveryHealth>
  readonly cases: Cached<Awaited<ReturnType<typeof caseCounts>>>
  readonly attempts: Cached<Record<AttemptOutcome, number>>
  private readonly totals: Record<AttemptOutcome, number> = { delivered: 0, retry: 0, dead: 0 }
  /** The highest attempt id counted; undefined until the first count sets the baseline. */
  private high: bigint | undefined
  /** Attempt ids skipped by a count, with when they were first missed. */
  private readonly recheck = new Map<bigint, number>()
  private lastFailureLog = 0

  constructor(private readonly deps: MetricsDeps) {
    this.health = new Cached(HEALTH_TTL_MS, () => bounded(deps.db, (db) => deliveryHealth(db, shanghaiDate(new Date()))))
    this.cases = new Cached(CASES_TTL_MS, () => bounded(deps.db, caseCounts))
    this.attempts = new Cached(HEALTH_TTL_MS, () => this.countAttempts())
  }

  private async countAttempts(): Promise<Record<AttemptOutcome, number>> {
    if (this.high === undefined) {
      // Counting starts here: the attempts recorded before this process looked are not its to report.
      this.high = await bounded(this.deps.db, lastAttemptId)
      return { ...this.totals }
    }
    const now = Date.now()
    for (const [id, since] of this.recheck) if (now - since > RECHECK_MS) this.recheck.delete(id)
    const found = await bounded(this.deps.db, (db) => newAttempts(db, this.high as bigint, [...this.recheck.keys()]))
    for (const [outcome, n] of Object.entries(found.counts)) {
      const label = OUTCOME_LABEL[outcome]
      if (label) this.totals[label] += n
    }
    for (const id of found.found) this.recheck.delete(id)
    for (const id of found.missing) this.recheck.set(id, now)
    while (this.recheck.size > MAX_RECHECK) this.recheck.delete(this.recheck.keys().next().value as bigint)
    this.high = found.high
    return { ...this.totals }
  }

  /** A refresh failed: log it (at most once a minute) and let the scrape go on without those series. */
  failed(what: string, err: unknown): undefined {
    if (Date.now() - this.lastFailureLog > 60_000) {
      this.lastFailureLog = Date.now()
      this.deps.logger.warn({ err: { message: (err as Error).message }, metrics: what }, 'could not compute business metrics; left out of this scrape')
    }
    return undefined
  }

  async ready(): Promise<boolean> {
    const probe = async (fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), PROBE_TIMEOUT_MS)
        return true
      } catch {
        return false
      }
    }
    const [pg, redis] = await Promise.all([probe(() => sql`SELECT 1`.execute(this.deps.db)), probe(() => this.deps.redis.ping())])
    return pg && redis
  }

  invalidate(): void {
    this.health.invalidate()
    this.cases.invalidate()
    this.attempts.invalidate()
  }
}

const business = new WeakMap<Registry, BusinessMetrics>()

/** Forgets the cached business metrics of a registry, so the next scrape reads PostgreSQL afresh (tests). */
export function refreshBusinessMetrics(registry: Registry): void {
  business.get(registry)?.invalidate()
}

function registerBusinessMetrics(deps: MetricsDeps): void {
  const registry = deps.metrics
  if (business.has(registry)) return
  const m = new BusinessMetrics(deps)
  business.set(registry, m)
  const registers = [registry]
  const health = () => m.health.get().catch((err: unknown) => m.failed('deliveries', err))

  const pending: Gauge<'subscription_id'> = new Gauge({
    name: 'zdz_deliveries_pending',
    help: 'Deliveries not yet delivered nor dead, by subscription (0 for a live subscription with none)',
    labelNames: ['subscription_id'] as const,
    registers,
    async collect() {
      const h = await health()
      pending.reset()
      for (const s of h?.subscriptions ?? []) pending.set({ subscription_id: s }, 0)
      for (const p of h?.pending ?? []) pending.set({ subscription_id: p.subscriptionId }, p.count)
    },
  })
  const dead: Gauge<'subscription_id'> = new Gauge({
    name: 'zdz_deliveries_dead',
    help: 'Dead deliveries (retry or recover them through the API), by subscription that is not deleted',
    labelNames: ['subscription_id'] as const,
    registers,
    async collect() {
      const h = await health()
      dead.reset()
      for (const s of h?.subscriptions ?? []) dead.set({ subscription_id: s }, 0)
      for (const d of h?.dead ?? []) dead.set({ subscription_id: d.subscriptionId }, d.count)
    },
  })
  /** A gauge of one figure of the delivery health, read at scrape time (absent when PostgreSQL could not answer). */
  const healthGauge = (name: string, help: string, pick: (h: NonNullable<Awaited<ReturnType<typeof health>>>) => number): Gauge => {
    const g: Gauge = new Gauge({
      name,
      help,
      registers,
      async collect() {
        const h = await health()
        g.reset()
        if (h) g.set(pick(h))
      },
    })
    return g
  }
  healthGauge('zdz_delivery_oldest_pending_seconds', 'Age of the oldest pending delivery in seconds (0 when none is pending)', (h) => h.oldestPendingSeconds)
  healthGauge(
    'zdz_outbox_lag_seconds',
    'Age of the oldest event not yet fanned out to subscriptions, in seconds (0 when the outbox is empty)',
    (h) => h.outboxLagSeconds,
  )
  healthGauge(
    'zdz_deadlines_overdue',
    'Open referrals past their acceptance or mediation due date that the deadline timers have not expired yet',
    (h) => h.overdueDeadlines,
  )
  const cases: Gauge<'kind' | 'status'> = new Gauge({
    name: 'zdz_cases',
    help: `Cases by kind and status (refreshed at most every ${CASES_TTL_MS / 1000} s)`,
    labelNames: ['kind', 'status'] as const,
    registers,
    async collect() {
      const counts = await m.cases.get().catch((err: unknown) => m.failed('cases', err))
      cases.reset()
      if (!counts) return
      // Every known status, 0 when no case has it, so dashboards and alerts see the series from the start.
      for (const status of REFERRAL_STATUSES) cases.set({ kind: 'referral', status }, 0)
      for (const status of CONFIRMATION_STATUSES) cases.set({ kind: 'judicial_confirmation', status }, 0)
      for (const c of counts) cases.set({ kind: c.kind, status: c.status }, c.count)
    },
  })
  const attempts: Counter<'outcome'> = new Counter({
    name: 'zdz_delivery_attempts_total',
    help: 'Delivery attempts recorded since this process started counting, by outcome (delivered, retry, dead); from the attempt log',
    labelNames: ['outcome'] as const,
    registers,
    async collect() {
      const totals = await m.attempts.get().catch((err: unknown) => m.failed('attempts', err))
      if (!totals) return
      attempts.reset()
      for (const outcome of ATTEMPT_OUTCOMES) attempts.inc({ outcome }, totals[outcome])
    },
  })
  const ready: Gauge = new Gauge({
    name: 'zdz_ready',
    help: '1 when PostgreSQL and Redis answer (as GET /health/ready), else 0',
    registers,
    async collect() {
      ready.set((await m.ready()) ? 1 : 0)
    },
  })
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/**
 * The check of `Authorization: Bearer <METRICS_TOKEN>` (contract §6): both sides are hashed first, so the comparison
 * takes the same time whatever the length or content of what was sent. No token configured: always true.
 */
export function metricsTokenAccepts(token: string | undefined, authorization: string | undefined): boolean {
  if (!token) return true
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
  return timingSafeEqual(sha256(m ? m[1] : ''), sha256(token)) && m !== null
}

export function registerMetrics(app: FastifyInstance, deps: MetricsDeps & { metricsToken?: string }): Registry {
  const registry = deps.metrics
  // Several app instances may share one registry (one per process): register the metrics once.
  if (!registry.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics({ register: registry })
  registerBusinessMetrics(deps)
  const existing = registry.getSingleMetric('http_request_duration_seconds') as Histogram<'method' | 'route' | 'status_code'> | undefined
  const duration =
    existing ??
    new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    })
  app.addHook('onResponse', async (req, reply) => {
    duration.observe({ method: req.method, route: req.routeOptions.url ?? 'not_found', status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })
  app.get(
    '/metrics',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus 指标 / Prometheus metrics',
        description:
          '除 HTTP 与进程指标外，另有投递、发件箱、案件与期限的业务指标（取自 PostgreSQL）。Besides HTTP and process metrics: zdz_deliveries_pending, ' +
          'zdz_deliveries_dead, zdz_delivery_oldest_pending_seconds, zdz_delivery_attempts_total, zdz_outbox_lag_seconds, zdz_cases, ' +
          'zdz_deadlines_overdue and zdz_ready, read from PostgreSQL (the same in every process: aggregate with max, not sum). ' +
          '设置 METRICS_TOKEN 时须带 `Authorization: Bearer <METRICS_TOKEN>`，否则答 401。With METRICS_TOKEN set, the scrape must send ' +
          '`Authorization: Bearer <METRICS_TOKEN>` (401 otherwise); without it the endpoint is open.',
        security: [],
        produces: ['text/plain'],
        response: { 200: { type: 'string' }, 401: errorResponses()[401] },
      },
    },
    async (req, reply) => {
      if (!metricsTokenAccepts(deps.metricsToken, req.headers.authorization)) throw unauthorized()
      return reply.type(registry.contentType).send(await registry.metrics())
    },
  )
  return registry
}
