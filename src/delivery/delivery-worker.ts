/**
 * The delivery worker: attempts of deliveries, PostgreSQL as the truth, by two ways in.
 *
 * Deliveries that become due a few at a time (a relay batch or a recovery of fewer than `pumpFrom`, a delivery
 * released by the one ahead of it, an operator's retry) get one BullMQ job each. A job claims its delivery
 * (pending, due, first in line for its subscription and subject, not leased) and reads its subscription and event
 * in the same statement, sends it, and writes the attempt and the outcome in one more statement, which also finds
 * the next delivery in line. Neither statement is per job: the claims that the worker's concurrent jobs ask for
 * within one event-loop turn go to PostgreSQL as one statement, and so do their records (coalescer.ts; while two
 * such statements run, further requests gather for the next one). (The rare outcomes that change more — a 410
 * disabling the subscription, an exhausted retry window emitting its event — run in a transaction of their own.)
 * A job's retry moves it to BullMQ's delayed set until `next_attempt_at`; a delivery that finished (delivered or
 * dead) enqueues the next one in line for its subject at once.
 *
 * Deliveries that become due many at once (a large fan-out, a recovery re-opening a backlog) go to the pump
 * (pump.ts) instead: it claims due deliveries in batches straight from PostgreSQL, with the same lease and
 * head-of-line rules, and sends them without a job each — the job's Redis round trips and CPU were most of a
 * drain's cost beside the HTTP call. The pump's retries and releases are timers in this process; its periodic
 * pass (the sweeper's) takes whatever has been due for a while with nobody on it, from PostgreSQL, so whatever
 * Redis or a killed process loses is taken up again.
 *
 * Worker settings follow BullMQ's production guide: a connection that waits for Redis forever
 * (`maxRetriesPerRequest: null`), an `error` listener, and a very high `maxStalledCount`, because a job whose
 * worker was killed mid-send must go back to the queue however often that happens, never to "failed".
 */
import { DelayedError, type Job, type Queue, Worker } from 'bullmq'
import type { Kysely, Transaction } from 'kysely'
import type { Logger } from 'pino'
import type { Database, DeliveryRow, EventRow } from '../db/database.js'
import {
  type AttemptRecord,
  type AttemptToRecord,
  claimDeliveries,
  claimDue,
  type ClaimedDelivery,
  type ClaimResult,
  killDelivery,
  killPendingOf,
  nextInLine,
  recordAttempt,
  recordAttempts,
  type RecordedAttempt,
  runRecovery,
  subjectHead,
  type DeliveryUpdate,
} from '../db/delivery-repository.js'
import { appendEvent, toEnvelope } from '../db/event-repository.js'
import { disableSubscription, type Subscription } from '../db/subscription-repository.js'
import { GENESIS_HASH } from '../domain/event-chain.js'
import { classifyResponse, nextRetryDelayMs, parseRetryAfter, shouldGiveUp } from '../domain/retry-policy.js'
import type { FieldCipher } from '../security/field-cipher.js'
import { Coalescer } from './coalescer.js'
import { DELIVERY_JOB, type DeliveryJobData, enqueueAt, enqueueDeliveries, QUEUES, RECOVERY_JOB, redisOptions } from './queues.js'
import { outboxChannel } from './outbox-signal.js'
import type { ChannelSubscriber } from './pubsub.js'
import { DeliveryPump, type PumpOutcome } from './pump.js'
import { OutboxRelay } from './relay.js'
import { closeAgents, DELIVERY_TIMEOUT_MS, sendWebhook, type SendResult } from './sender.js'
import { SECRET_CONTEXT, webhookHeaders, type SigningKey } from './signing.js'
import { sweepDeliveries, type SweepOptions, type SweepResult } from './sweeper.js'
import type { ResolveAll } from './url-guard.js'

/** How the worker stands to the rest of the process. */
export interface DeliveryContext {
  db: Kysely<Database>
  cipher: FieldCipher
  logger: Logger
  config: { redisUrl: string; queuePrefix: string }
  queues: { deliveries: Queue; jobs: Queue }
  /** The process's subscriber connection: the relay listens to its wake-up channel there. */
  subscriber: ChannelSubscriber
}

export interface DeliveryWorkerOptions {
  /**
   * Parallel attempts per process. Each attempt holds a database connection only for its short queries, never
   * during the HTTP call, so this may exceed the pool size, but not by so much that API requests in the same
   * process wait for connections. @defaultValue 50
   */
  concurrency?: number
  /** Total time allowed per attempt. @defaultValue 15 000 ms (Standard Webhooks) */
  timeoutMs?: number
  /** Delay before retry number `attempt`; the default is the retry policy's backoff with jitter. */
  retryDelayMs?: (attempt: number, retryAfterMs: number | undefined) => number
  /** BullMQ lock duration: how long a killed worker's job stays active before it counts as stalled (renewed while it runs). @defaultValue 10 000 */
  lockDurationMs?: number
  /** How often BullMQ looks for stalled jobs. @defaultValue 5 000 */
  stalledIntervalMs?: number
  /** Name resolution for the URL checks (tests). */
  resolve?: ResolveAll
  /** How much longer than the timeout an attempt's lease lasts (the database writes around the call). @defaultValue 10 000 */
  leaseMarginMs?: number
  /** Relay batch size. @defaultValue 200 */
  relayBatchSize?: number
  /** Start the relay's wake-up subscription. @defaultValue true */
  listen?: boolean
  /**
   * Claim and record statements that may run at once; requests made meanwhile gather for the next statement.
   * @defaultValue 2 (each)
   */
  statementsInFlight?: number
  /** Attempts the pump (pump.ts) runs at once, beside the queue jobs' `concurrency`. @defaultValue 64 */
  pumpConcurrency?: number
  /**
   * Deliveries made due together (one relay batch, one recovery) from this many on go to the pump, which claims
   * them in batches from PostgreSQL; fewer get a queue job each. @defaultValue 16
   */
  pumpFrom?: number
  sweep?: SweepOptions
}

export interface DeliveryWorker {
  worker: Worker
  /** How the claims and records were batched (statements and deliveries in them). */
  batching: { claims: Coalescer<string, ClaimResult>['stats']; records: Coalescer<AttemptToRecord, RecordedAttempt | undefined>['stats'] }
  recoveryWorker: Worker
  relay: OutboxRelay
  pump: DeliveryPump
  /** One sweeper pass (the runtime calls it periodically). */
  sweep(): Promise<SweepResult>
  close(): Promise<void>
}

const defaultRetryDelay = (attempt: number, retryAfterMs: number | undefined) => nextRetryDelayMs(attempt, Math.random, retryAfterMs)

/**
 * Subscription secrets as decrypted, keyed by their ciphertext. Every attempt reads its subscription afresh (the
 * claim joins it), and a changed or rotated secret is a new ciphertext (a fresh IV each time it is sealed), so an
 * entry can never sign with a stale secret: a rotation simply misses and the old entry ages out. Bounded: when full,
 * the oldest entry goes (Map keeps insertion order).
 */
export class SecretCache {
  readonly #entries = new Map<string, string>()
  constructor(
    readonly cipher: FieldCipher,
    readonly max = 1_000,
  ) {}

  decrypt(secretEnc: string): string {
    let secret = this.#entries.get(secretEnc)
    if (secret === undefined) {
      secret = this.cipher.decrypt(secretEnc, SECRET_CONTEXT)
      if (this.#entries.size >= this.max) this.#entries.delete(this.#entries.keys().next().value as string)
      this.#entries.set(secretEnc, secret)
    }
    return secret
  }
}

/** The per-context caches (a context is the worker's; tests call attemptDelivery with contexts of their own). */
const secretCaches = new WeakMap<FieldCipher, SecretCache>()
function secretCache(cipher: FieldCipher): SecretCache {
  let c = secretCaches.get(cipher)
  if (!c) secretCaches.set(cipher, (c = new SecretCache(cipher)))
  return c
}

function signingKeys(cipher: FieldCipher, s: Subscription, now: Date): SigningKey[] {
  const secrets = secretCache(cipher)
  const keys: SigningKey[] = [{ secret: secrets.decrypt(s.secretEnc), algorithm: s.signatureAlgorithm }]
  if (s.previousSecretEnc && s.previousSecretExpiresAt && s.previousSecretExpiresAt.getTime() > now.getTime()) {
    keys.push({ secret: secrets.decrypt(s.previousSecretEnc), algorithm: s.signatureAlgorithm })
  }
  return keys
}

function describeFailure(r: SendResult): string | null {
  if (r.errorKind) return `${r.errorKind}: ${r.error ?? ''}`.trim()
  if (r.status !== null && (r.status < 200 || r.status > 299)) return `HTTP ${r.status}`
  return null
}

/** The next pending delivery in line for a (subscription, subject). */
type NextInLine = { id: string; nextAttemptAt: Date }

/** What one attempt decided. */
export type AttemptOutcome =
  /** `next`: the delivery in line behind this one, to enqueue now. */
  | { kind: 'delivered' | 'dead'; next: NextInLine | undefined }
  /** Ended without an attempt, or finished meanwhile by someone else: the next in line is not known. */
  | { kind: 'skipped' }
  | { kind: 'retry'; at: Date }

/**
 * Sends one claimed delivery and records the outcome. Exported for tests; the job processor is its only caller
 * in production.
 */
export async function attemptDelivery(
  ctx: DeliveryContext,
  claimed: ClaimedDelivery,
  opts: Pick<DeliveryWorkerOptions, 'timeoutMs' | 'retryDelayMs' | 'resolve'> & {
    /** Records a common outcome (delivered, retry, refused); the worker coalesces these. @defaultValue one statement of its own */
    record?: (item: AttemptToRecord) => Promise<RecordedAttempt | undefined>
  } = {},
): Promise<AttemptOutcome> {
  const { db } = ctx
  const { delivery: d, subscription: sub, event } = claimed
  // What the log lines say about a delivery: ids and types only, never the event's body (personal data) or the
  // subscription's URL (it may carry a token).
  const about = { subscriptionId: d.subscription_id, deliveryId: d.id, eventId: d.event_id, eventType: d.event_type }
  if (!sub || !sub.enabled || !event) {
    const reason = !sub ? 'subscription_deleted' : !sub.enabled ? 'subscription_disabled' : 'event_missing'
    if (await killDelivery(db, d.id, reason)) ctx.logger.error({ ...about, attempts: d.attempts, reason }, 'webhook delivery dead')
    return { kind: 'skipped' }
  }
  const body = JSON.stringify(toEnvelope(event))
  const attemptedAt = new Date()
  const headers = webhookHeaders(event.id, Math.floor(attemptedAt.getTime() / 1000), body, signingKeys(ctx.cipher, sub, attemptedAt))
  const result = await sendWebhook({
    url: sub.url,
    body,
    headers,
    allowPrivateNetwork: sub.allowPrivateNetwork,
    timeoutMs: opts.timeoutMs ?? DELIVERY_TIMEOUT_MS,
    resolve: opts.resolve,
  })
  const now = new Date()
  const verdict = classifyResponse(result.status, result.errorKind)
  const failure = describeFailure(result)

  let update: DeliveryUpdate
  let exhausted = false
  if (verdict === 'delivered') update = { status: 'delivered' }
  else if (verdict === 'dead') update = { status: 'dead', error: failure }
  else if (verdict === 'gone') update = { status: 'dead', error: 'HTTP 410: endpoint gone, subscription disabled' }
  else if (shouldGiveUp(d.first_attempt_at ?? attemptedAt, now)) {
    exhausted = true
    update = { status: 'dead', error: `retry window exhausted; last: ${failure ?? 'unknown'}` }
  } else {
    const delay = (opts.retryDelayMs ?? defaultRetryDelay)(d.attempts + 1, parseRetryAfter(result.retryAfter, now))
    update = { status: 'pending', nextAttemptAt: new Date(now.getTime() + delay), error: failure }
  }

  const attempt: AttemptRecord = {
    attemptedAt,
    httpStatus: result.status,
    latencyMs: result.latencyMs,
    responseBody: result.responseExcerpt,
    error: failure,
    // An exhausted retry window ends the delivery: its last attempt says so, like the delivery's status.
    outcome: exhausted ? 'dead' : verdict,
  }
  const emits = exhausted && event.type !== 'delivery.exhausted'
  let othersEnded = 0
  // The common case is one statement (atomic on its own, shared with other attempts' records); the outcomes that
  // write more take a transaction.
  const record = opts.record ?? (async (item: AttemptToRecord) => (await recordAttempts(db, [item]))[0])
  const saved =
    verdict !== 'gone' && !emits
      ? await record({ id: d.id, attempt, update, now, findNext: true })
      : await db.transaction().execute(async (trx) => {
          // After a 410 every pending delivery of the subscription ends with it: nothing is left to release.
          const rec = await recordAttempt(trx, d.id, attempt, update, { now, findNext: verdict !== 'gone' })
          if (!rec) return undefined
          if (verdict === 'gone') {
            await disableSubscription(trx, sub.id, 'gone_410', now)
            othersEnded = await killPendingOf(trx, sub.id, 'subscription_disabled', now)
          }
          // An exhausted delivery of a delivery.exhausted event emits nothing more (`emits` is false for it): a
          // dead operator endpoint must not feed itself a new event every day.
          if (emits) await emitExhausted(trx, rec.delivery, event)
          return rec
        })
  logAttempt(ctx.logger, about, { attempt: d.attempts + 1, result, failure, update, saved: saved !== undefined, othersEnded })
  if (!saved) return { kind: 'skipped' }
  if (update.status === 'pending') return { kind: 'retry', at: update.nextAttemptAt }
  return { kind: update.status, next: saved.next }
}

/**
 * The log lines of one attempt (contract §7): a failed attempt at `warn` — subscription, event id and type, the
 * HTTP status or the error, the attempt's number and when the next one is due (null when none is) — and a
 * delivery that died with it at `error`, with the reason. A delivered attempt logs nothing (the attempt log in
 * PostgreSQL and the metrics have it).
 */
function logAttempt(
  logger: Logger,
  about: Record<string, string>,
  a: { attempt: number; result: SendResult; failure: string | null; update: DeliveryUpdate; saved: boolean; othersEnded: number },
): void {
  if (a.update.status === 'delivered' && a.saved) return
  const failed = {
    ...about,
    attempt: a.attempt,
    httpStatus: a.result.status,
    error: a.result.errorKind ? (a.failure ?? a.result.errorKind) : null,
    latencyMs: Math.round(a.result.latencyMs),
  }
  if (!a.saved) {
    // An operator's action (or another worker) finished the delivery while this attempt ran; it changes nothing.
    if (a.failure) logger.warn({ ...failed, nextAttemptAt: null }, 'webhook delivery attempt failed; the delivery was finished meanwhile')
    return
  }
  if (a.update.status === 'pending') {
    logger.warn({ ...failed, nextAttemptAt: a.update.nextAttemptAt.toISOString() }, 'webhook delivery attempt failed; will retry')
    return
  }
  if (a.update.status === 'dead') {
    logger.warn({ ...failed, nextAttemptAt: null }, 'webhook delivery attempt failed; no retry')
    logger.error(
      { ...about, attempts: a.attempt, httpStatus: a.result.status, reason: a.update.error, ...(a.othersEnded ? { othersEnded: a.othersEnded } : {}) },
      'webhook delivery dead',
    )
  }
}

async function emitExhausted(trx: Transaction<Database>, d: DeliveryRow, event: EventRow): Promise<void> {
  const head = await subjectHead(trx, d.id)
  await appendEvent(trx, {
    type: 'delivery.exhausted',
    subject: { kind: 'delivery', id: d.id },
    sequence: (head?.sequence ?? 0) + 1,
    caseVersion: null,
    actor: 'system',
    data: {
      deliveryId: d.id,
      subscriptionId: d.subscription_id,
      eventId: event.id,
      eventType: event.type,
      subject: { kind: event.subject_kind, id: event.subject_id },
      sequence: event.sequence,
      attempts: d.attempts,
      firstAttemptAt: d.first_attempt_at?.toISOString() ?? null,
      lastAttemptAt: d.last_attempt_at?.toISOString() ?? null,
      lastStatus: d.last_status,
      lastError: d.last_error,
    },
    prevHash: head?.hash ?? GENESIS_HASH,
    scope: { audience: 'operator' },
  })
}

/**
 * After a delivery finished, the next one in line for its subject goes at once (head of line released).
 *
 * A due one is added plainly (job id = delivery id, one Redis round trip) rather than through enqueueAt, whose
 * state check handles cases that do not arise here: a waiting or active job runs anyway (enqueueAt adds too, a
 * no-op); a delayed one runs at the time written with it (a retry's `next_attempt_at`, due by now, so BullMQ
 * promotes it on its own, or a stale lease's expiry); bringing a delayed job forward is an operator's retry,
 * whose route calls enqueueAt itself; and completed or failed jobs are never kept (removeOnComplete,
 * removeOnFail). Whatever else leaves a due delivery without a live job, the sweeper re-creates. One that is
 * not due yet (it failed before and waits for its retry) goes through enqueueAt.
 */
async function releaseNext(ctx: DeliveryContext, next: NextInLine | undefined): Promise<void> {
  if (!next) return
  if (next.nextAttemptAt.getTime() <= Date.now()) await enqueueDeliveries(ctx.queues.deliveries, [next.id])
  else await enqueueAt(ctx.queues.deliveries, next.id, next.nextAttemptAt)
}

/** Starts the delivery worker, the recovery worker and the outbox relay of this process. */
export function startDeliveryWorker(ctx: DeliveryContext, opts: DeliveryWorkerOptions = {}): DeliveryWorker {
  const log = ctx.logger.child({ component: 'delivery' })
  const timeoutMs = opts.timeoutMs ?? DELIVERY_TIMEOUT_MS
  // The lease outlives the longest attempt (timeout plus the database writes around it).
  const leaseMs = timeoutMs + (opts.leaseMarginMs ?? 10_000)
  const pumpFrom = opts.pumpFrom ?? 16
  // Deliveries made due together: a few get a queue job each (one Redis round trip for all), many go to the
  // pump, which claims them in batches without a job each (see pump.ts).
  const handOff = async (ids: string[]) => {
    if (!ids.length) return
    if (ids.length >= pumpFrom) pump.kick()
    else await enqueueDeliveries(ctx.queues.deliveries, ids)
  }
  const relay = new OutboxRelay({
    db: ctx.db,
    subscriber: ctx.subscriber,
    channel: outboxChannel(ctx.config.queuePrefix),
    queue: ctx.queues.deliveries,
    handOff,
    logger: log,
    batchSize: opts.relayBatchSize,
  })

  const connection = redisOptions(ctx.config.redisUrl, 'worker')
  const attemptCtx: DeliveryContext = { ...ctx, logger: log }
  // The concurrent jobs' claims and records, one statement per batch (see the module comment).
  const maxInFlight = opts.statementsInFlight ?? 2
  const claims = new Coalescer<string, ClaimResult>({
    many: (ids) => claimDeliveries(ctx.db, ids, leaseMs),
    one: async (id) => (await claimDeliveries(ctx.db, [id], leaseMs))[0],
    key: (id) => id,
    maxInFlight,
  })
  const records = new Coalescer<AttemptToRecord, RecordedAttempt | undefined>({
    many: (items) => recordAttempts(ctx.db, items),
    one: async (item) => (await recordAttempts(ctx.db, [item]))[0],
    key: (item) => item.id,
    maxInFlight,
  })
  const attemptOpts = { ...opts, record: (item: AttemptToRecord) => records.submit(item) }
  const pump = new DeliveryPump({
    claim: (limit, graceMs) => claimDue(ctx.db, limit, leaseMs, graceMs),
    attempt: async (claimed): Promise<PumpOutcome> => {
      const outcome = await attemptDelivery(attemptCtx, claimed, attemptOpts)
      if (outcome.kind !== 'skipped') return outcome
      // Ended without an attempt (rare): the next in line, if any, is not known yet.
      const d = claimed.delivery
      return { kind: 'skipped', next: await nextInLine(ctx.db, d.subscription_id, d.subject_id) }
    },
    logger: log,
    concurrency: opts.pumpConcurrency ?? 64,
  })
  if (opts.listen !== false) relay.start()
  const worker = new Worker<DeliveryJobData>(
    QUEUES.deliveries,
    async (job: Job<DeliveryJobData>, token?: string) => {
      if (job.name !== DELIVERY_JOB) return 'ignored'
      const claim = await claims.submit(job.data.deliveryId)
      if (claim.kind === 'finished' || claim.kind === 'blocked') return claim.kind
      if (claim.kind === 'later') {
        await job.moveToDelayed(claim.at.getTime(), token)
        throw new DelayedError()
      }
      const d = claim.delivery
      const outcome = await attemptDelivery(attemptCtx, claim, attemptOpts)
      if (outcome.kind === 'retry') {
        await job.moveToDelayed(outcome.at.getTime(), token)
        throw new DelayedError()
      }
      try {
        // The recording statement found the next in line; a skipped delivery (rare) looks it up.
        await releaseNext(ctx, outcome.kind === 'skipped' ? await nextInLine(ctx.db, d.subscription_id, d.subject_id) : outcome.next)
      } catch (err) {
        log.warn({ err: { message: (err as Error).message } }, 'could not enqueue the next delivery in line; the sweeper will')
      }
      return outcome.kind
    },
    {
      connection: connection as never,
      prefix: ctx.config.queuePrefix,
      concurrency: opts.concurrency ?? 50,
      maxStalledCount: 1_000_000,
      lockDuration: opts.lockDurationMs ?? 10_000,
      stalledInterval: opts.stalledIntervalMs ?? 5_000,
    },
  )
  worker.on('error', (err) => log.warn({ err: { message: err.message } }, 'delivery worker error'))
  worker.on('failed', (job, err) =>
    log.warn({ deliveryId: job?.data.deliveryId, err: { message: err.message } }, 'delivery job failed; the sweeper will re-enqueue it'),
  )

  const recoveryWorker = new Worker<{ recoveryId: string }>(
    QUEUES.jobs,
    async (job) => {
      if (job.name !== RECOVERY_JOB) return 'ignored'
      const ids = await runRecovery(ctx.db, job.data.recoveryId)
      if (ids?.length) await handOff(ids)
      return ids?.length ?? 0
    },
    { connection: connection as never, prefix: ctx.config.queuePrefix, concurrency: 2, maxStalledCount: 1_000_000 },
  )
  recoveryWorker.on('error', (err) => log.warn({ err: { message: err.message } }, 'recovery worker error'))

  return {
    worker,
    batching: { claims: claims.stats, records: records.stats },
    recoveryWorker,
    relay,
    pump,
    sweep: () => sweepDeliveries({ db: ctx.db, relay, pump, handOff, logger: log }, opts.sweep),
    async close() {
      await Promise.allSettled([worker.close(), recoveryWorker.close(), pump.close()])
      await relay.close()
      // The attempts are over: the webhook connections kept alive for the next ones can go.
      closeAgents()
    },
  }
}
