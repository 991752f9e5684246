/**
 * The sweeper: makes Redis disposable. Every pass re-creates, from PostgreSQL, whatever work BullMQ should be
 * carrying and is not: outbox rows no relay took (the relay drains them), pending deliveries that are due and
 * first in line but have no live job (after a FLUSHALL, a Redis restart, a failed enqueue, a job that went to
 * "failed"), and operator recoveries whose job was lost.
 *
 * Safe on several workers at once: adding a job whose id exists is a no-op, the relay's batches skip each
 * other's rows, a delivery's lease stops two jobs sending it together, and a recovery runs under a row lock.
 */
import type { Queue } from 'bullmq'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import { orphanCandidates, runRecovery, staleRecoveryJobs } from '../db/delivery-repository.js'
import { enqueueAt, enqueueDeliveries } from './queues.js'
import type { OutboxRelay } from './relay.js'

export interface SweepOptions {
  /** A due delivery is only looked at once it has been due this long (it may simply be on its way). @defaultValue 2 000 */
  graceMs?: number
  /** Deliveries looked at per pass. @defaultValue 2 000 */
  limit?: number
}

export interface SweepResult {
  /** Events the relay took from the outbox. */
  relayed: number
  /** Deliveries given a new job (or whose delayed job was brought forward). */
  requeued: number
  /** Recoveries run because their job was lost. */
  recoveries: number
}

export interface SweepContext {
  db: Kysely<Database>
  queue: Queue
  relay: OutboxRelay
  logger: Logger
}

const LIVE = new Set(['waiting', 'active', 'prioritized', 'waiting-children'])

/** One pass of the sweeper. */
export async function sweepDeliveries(ctx: SweepContext, opts: SweepOptions = {}): Promise<SweepResult> {
  const relayed = await ctx.relay.drain()
  const candidates = await orphanCandidates(ctx.db, opts.graceMs ?? 2_000, opts.limit ?? 2_000)
  let requeued = 0
  for (let i = 0; i < candidates.length; i += 50) {
    const batch = candidates.slice(i, i + 50)
    const states = await Promise.all(batch.map((c) => ctx.queue.getJobState(c.id)))
    const missing: string[] = []
    const stuck: string[] = []
    batch.forEach((c, k) => {
      if (states[k] === 'unknown') missing.push(c.id)
      else if (!LIVE.has(states[k])) stuck.push(c.id)
    })
    if (missing.length) await enqueueDeliveries(ctx.queue, missing)
    // Delayed although due in PostgreSQL (an operator brought it forward while Redis was away), or finished
    // in BullMQ while still pending here: make it run now.
    for (const id of stuck) await enqueueAt(ctx.queue, id)
    requeued += missing.length + stuck.length
  }
  let recoveries = 0
  for (const id of await staleRecoveryJobs(ctx.db, opts.graceMs ?? 2_000)) {
    const ids = await runRecovery(ctx.db, id)
    if (ids) {
      recoveries++
      if (ids.length) await enqueueDeliveries(ctx.queue, ids)
    }
  }
  if (requeued || recoveries) ctx.logger.info({ requeued, recoveries, relayed }, 'sweeper re-created lost delivery work')
  return { relayed, requeued, recoveries }
}
