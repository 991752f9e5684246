/**
 * Fan-out relay: turns outbox rows into delivery rows, one per subscription that may read the event and asked
 * for its type, and hands them on for their attempts (a BullMQ job each, or the delivery pump for many).
 *
 * Wake-ups come from the writers after their commit (see outbox-signal.ts: directly in the same process, over a
 * Redis channel from other processes), with a periodic poll behind them for wake-ups lost while Redis was away.
 * Each batch deletes its outbox rows and inserts their deliveries in one transaction, so an event is fanned out
 * exactly once however many relays run; the deliveries are handed on after the commit, and one whose job is lost
 * there (Redis away) is taken up by the sweeper from PostgreSQL.
 */
import type { Queue } from 'bullmq'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import { insertDeliveries, takeOutboxBatch, type NewDelivery } from '../db/delivery-repository.js'
import { scopeOf } from '../db/event-scope.js'
import { mayReadEvent } from '../domain/access.js'
import { fanOutTargets, wantsType } from '../db/subscription-repository.js'
import type { ChannelSubscriber, ChannelSubscription } from './pubsub.js'
import { enqueueDeliveries } from './queues.js'

/**
 * One relay batch: takes up to `batchSize` outbox rows and inserts their deliveries, in one transaction.
 * Returns the number of events taken and the ids of the deliveries to enqueue.
 */
export async function relayBatch(db: Kysely<Database>, batchSize: number): Promise<{ events: number; pending: string[] }> {
  return db.transaction().execute(async (trx) => {
    const events = await takeOutboxBatch(trx, batchSize)
    if (!events.length) return { events: 0, pending: [] }
    const targets = await fanOutTargets(trx)
    const items: NewDelivery[] = []
    for (const event of events) {
      const scope = scopeOf(event)
      for (const { subscription: s, principal } of targets) {
        // "From its creation on": earlier events are the pull feed's business.
        if (event.occurred_at.getTime() < s.createdAt.getTime()) continue
        if (!wantsType(s, event.type)) continue
        if (!mayReadEvent(principal, scope)) continue
        items.push({ subscriptionId: s.id, event, ...(s.enabled ? {} : { deadReason: 'subscription_disabled' }) })
      }
    }
    const created = await insertDeliveries(trx, items)
    return { events: events.length, pending: created.filter((d) => d.status === 'pending').map((d) => d.id) }
  })
}

export interface RelayOptions {
  db: Kysely<Database>
  /** The process's subscriber connection, where the wake-up channel is listened to. */
  subscriber: ChannelSubscriber
  /** The wake-up channel ({@link outboxChannel}). */
  channel: string
  queue: Queue
  /**
   * Hands the pending deliveries of a committed batch on for their attempts (the delivery worker's job or pump).
   * @defaultValue one queue job each
   */
  handOff?: (ids: string[]) => Promise<void>
  logger: Logger
  /** @defaultValue 200 */
  batchSize?: number
}

/** The relay of one process: wake-ups plus on-demand draining. Safe to run in several processes at once. */
export class OutboxRelay {
  readonly #opts: Required<Omit<RelayOptions, 'handOff'>>
  readonly #handOff: (ids: string[]) => Promise<void>
  #subscription: ChannelSubscription | undefined
  #closing = false
  #draining: Promise<number> | undefined
  #again = false

  constructor(opts: RelayOptions) {
    this.#opts = { ...opts, batchSize: opts.batchSize ?? 200 }
    this.#handOff = opts.handOff ?? ((ids) => enqueueDeliveries(opts.queue, ids))
  }

  /**
   * Subscribes to the wake-up channel and drains at once, and again whenever the subscription is (re)established,
   * for whatever was written while no relay listened. ioredis reconnects and re-subscribes on its own.
   */
  start(): void {
    const sub = this.#opts.subscriber.listen(this.#opts.channel, { message: () => this.kick(), ready: () => this.kick() })
    this.#subscription = sub
    sub.subscribed.catch((err: unknown) =>
      this.#opts.logger.warn({ err: { message: (err as Error).message } }, 'could not subscribe to the outbox wake-up channel; the poll covers'),
    )
    this.kick()
  }

  /** Asks for a drain without waiting for it (wake-ups). */
  kick(): void {
    this.drain().catch((err: unknown) => this.#opts.logger.warn({ err: { message: (err as Error).message } }, 'outbox relay failed; the poll will retry'))
  }

  /**
   * Fans out everything in the outbox, batch after batch; returns how many events were taken. Calls while a
   * drain runs join it, and make it go round once more so nothing written meanwhile waits for the next poll.
   */
  drain(): Promise<number> {
    if (this.#closing) return Promise.resolve(0)
    if (this.#draining) {
      this.#again = true
      return this.#draining
    }
    const run = async () => {
      let total = 0
      try {
        do {
          this.#again = false
          for (;;) {
            const { events, pending } = await relayBatch(this.#opts.db, this.#opts.batchSize)
            total += events
            if (pending.length) {
              try {
                await this.#handOff(pending)
              } catch (err) {
                this.#opts.logger.warn(
                  { err: { message: (err as Error).message }, deliveries: pending.length },
                  'could not enqueue deliveries; the sweeper will',
                )
              }
            }
            if (events === 0 || events < this.#opts.batchSize || this.#closing) break
          }
        } while (this.#again && !this.#closing)
      } finally {
        this.#draining = undefined
      }
      return total
    }
    this.#draining = run()
    return this.#draining
  }

  async close(): Promise<void> {
    this.#closing = true
    await this.#draining?.catch(() => undefined)
    this.#subscription?.close()
    this.#subscription = undefined
  }
}
