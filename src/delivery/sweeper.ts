/**
 * The sweeper: makes Redis disposable. Every pass takes up, from PostgreSQL, whatever work should be under way
 * and is not: outbox rows no relay took (the relay drains them), pending deliveries that have been due and first
 * in line for a while without anyone claiming them (after a FLUSHALL, a Redis restart, a failed enqueue, a job
 * that went to "failed", a retry scheduled by a process that died, a lease left by a killed worker), which the
 * delivery pump claims straight from PostgreSQL, and operator recoveries whose job was lost.
 *
 * Safe on several workers at once: the relay's batches skip each other's rows, claims skip rows another claimer
 * holds and a delivery's lease stops two attempts at once, and a recovery runs under a row lock.
 */
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import { runRecovery, staleRecoveryJobs } from '../db/delivery-repository.js'
import type { OutboxRelay } from './relay.js'

export interface SweepOptions {
  /** A due delivery is only looked at once it has been due this long (it may simply be on its way). @defaultValue 2 000 */
  graceMs?: number
}

export interface SweepResult {
  /** Events the relay took from the outbox. */
  relayed: number
  /** Deliveries claimed by this pass (due for longer than the grace period with nobody on them). */
  requeued: number
  /** Recoveries run because their job was lost. */
  recoveries: number
}

export interface SweepContext {
  db: Kysely<Database>
  relay: OutboxRelay
  /** The delivery pump: its periodic pass claims what has been due for `graceMs`. */
  pump: { sweep(graceMs: number): Promise<number> }
  /** Hands re-opened deliveries on for their attempts. */
  handOff(ids: string[]): Promise<void>
  logger: Logger
}

/** One pass of the sweeper. */
export async function sweepDeliveries(ctx: SweepContext, opts: SweepOptions = {}): Promise<SweepResult> {
  const graceMs = opts.graceMs ?? 2_000
  const relayed = await ctx.relay.drain()
  const requeued = await ctx.pump.sweep(graceMs)
  let recoveries = 0
  for (const id of await staleRecoveryJobs(ctx.db, graceMs)) {
    const ids = await runRecovery(ctx.db, id)
    if (ids) {
      recoveries++
      if (ids.length) await ctx.handOff(ids)
    }
  }
  if (requeued || recoveries) ctx.logger.info({ requeued, recoveries, relayed }, 'sweeper took up delivery work nobody was doing')
  return { relayed, requeued, recoveries }
}
