/**
 * Fan-out relay: turns outbox rows into delivery rows, one per subscription that may read the event and asked
 * for its type, and hands them to BullMQ.
 *
 * Wake-ups come from `LISTEN zdz_outbox` on a dedicated connection (the NOTIFY is sent in the transaction that
 * wrote the event, so PostgreSQL delivers it only on commit), with a periodic poll behind it for notifications
 * missed while the connection was down. Each batch deletes its outbox rows and inserts their deliveries in one
 * transaction, so an event is fanned out exactly once however many relays run; BullMQ jobs are added after the
 * commit, and a job lost there (Redis away) is re-created by the sweeper from PostgreSQL.
 */
import type { Queue } from 'bullmq'
import type { Kysely } from 'kysely'
import pg from 'pg'
import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import { insertDeliveries, takeOutboxBatch, type NewDelivery } from '../db/delivery-repository.js'
import { mayReadEvent, scopeOf } from '../db/event-scope.js'
import { fanOutTargets, wantsType } from '../db/subscription-repository.js'

/** The NOTIFY channel appendEvent signals on. */
export const OUTBOX_CHANNEL = 'zdz_outbox'

/** BullMQ job name of a delivery attempt. */
export const DELIVERY_JOB = 'deliver'

export interface DeliveryJobData {
  deliveryId: string
}

/** Jobs vanish once finished: PostgreSQL keeps the history, and a finished id must be addable again (retries). */
const JOB_OPTS = { removeOnComplete: true, removeOnFail: true } as const

/**
 * Adds one job per delivery (job id = delivery id). An id that already has a job is left as it is, so adding
 * twice is harmless.
 */
export async function enqueueDeliveries(queue: Queue, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    await queue.addBulk(ids.slice(i, i + 500).map((id) => ({ name: DELIVERY_JOB, data: { deliveryId: id } satisfies DeliveryJobData, opts: { jobId: id, ...JOB_OPTS } })))
  }
}

/**
 * Makes sure the delivery's job runs at `at` (now by default): adds it, or brings forward a job already waiting
 * in the delayed set (an operator retry of a delivery whose next attempt was hours away).
 */
export async function enqueueAt(queue: Queue, id: string, at?: Date): Promise<void> {
  const delay = at ? Math.max(0, at.getTime() - Date.now()) : 0
  const state = await queue.getJobState(id)
  if (state === 'delayed' && delay === 0) {
    const job = await queue.getJob(id)
    await job?.promote().catch(() => undefined)
    return
  }
  if (state === 'completed' || state === 'failed') {
    const job = await queue.getJob(id)
    await job?.remove().catch(() => undefined)
  }
  await queue.add(DELIVERY_JOB, { deliveryId: id } satisfies DeliveryJobData, { jobId: id, delay, ...JOB_OPTS })
}

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
  /** Where LISTEN connects (a dedicated client, not one from the pool). */
  databaseUrl: string
  queue: Queue
  logger: Logger
  /** @defaultValue 200 */
  batchSize?: number
}

/** The relay of one process: LISTEN plus on-demand draining. Safe to run in several processes at once. */
export class OutboxRelay {
  readonly #opts: Required<RelayOptions>
  #listener: pg.Client | undefined
  #closing = false
  #reconnectTimer: NodeJS.Timeout | undefined
  #reconnectDelay = 200
  #draining: Promise<number> | undefined
  #again = false

  constructor(opts: RelayOptions) {
    this.#opts = { ...opts, batchSize: opts.batchSize ?? 200 }
  }

  /** Starts listening (and drains once, for whatever was written while no relay listened). */
  start(): void {
    void this.#connect()
  }

  async #connect(): Promise<void> {
    if (this.#closing) return
    const client = new pg.Client({ connectionString: this.#opts.databaseUrl, application_name: 'zdz-outbox-relay' })
    this.#listener = client
    let failed = false
    const onFailure = (err?: Error) => {
      if (failed) return
      failed = true
      if (!this.#closing) this.#opts.logger.warn({ err: err ? { message: err.message } : undefined }, 'outbox listener lost; reconnecting')
      client.removeAllListeners('notification')
      client.end().catch(() => undefined)
      this.#scheduleReconnect()
    }
    client.on('error', onFailure)
    client.on('end', () => onFailure())
    client.on('notification', () => this.kick())
    try {
      await client.connect()
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`)
      this.#reconnectDelay = 200
      this.kick()
    } catch (err) {
      onFailure(err as Error)
    }
  }

  #scheduleReconnect(): void {
    if (this.#closing || this.#reconnectTimer) return
    const delay = this.#reconnectDelay
    this.#reconnectDelay = Math.min(this.#reconnectDelay * 2, 5_000)
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined
      void this.#connect()
    }, delay)
    this.#reconnectTimer.unref()
  }

  /** Asks for a drain without waiting for it (notifications). */
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
                await enqueueDeliveries(this.#opts.queue, pending)
              } catch (err) {
                this.#opts.logger.warn({ err: { message: (err as Error).message }, deliveries: pending.length }, 'could not enqueue deliveries; the sweeper will')
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
    clearTimeout(this.#reconnectTimer)
    await this.#draining?.catch(() => undefined)
    const l = this.#listener
    this.#listener = undefined
    if (l) await l.end().catch(() => undefined)
  }
}
