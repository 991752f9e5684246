/**
 * The delivery pump: claims due deliveries in batches straight from PostgreSQL and sends them with bounded
 * concurrency, with no queue job per delivery.
 *
 * A queue job per delivery costs Redis round trips and the worker's CPU for each one (taking the job, its lock,
 * finishing it), which in a drain of a backlog was most of the work beside the HTTP call. The pump asks
 * PostgreSQL instead: one statement claims as many due, first-in-line, unleased deliveries as it has free slots
 * (`claimDue`, the same lease and head-of-line rules as a job's claim), and their outcomes are recorded in shared
 * statements as before. PostgreSQL stays the only truth: what the pump does not know about (a delivery whose
 * retry another process scheduled, a lease left by a killed worker) its periodic pass finds there, so Redis
 * losing everything loses nothing here either.
 *
 * When it runs: {@link DeliveryPump.kick} when deliveries became due in this process (a large fan-out, a
 * recovery, a delivery finished and the next in line is due); at the times it was told about
 * ({@link DeliveryPump.wakeAt}: retries, the next in line not due yet); and {@link DeliveryPump.sweep}, the
 * periodic pass, which takes only what has been due (and out of lease) for a grace period, so as not to race a
 * queue job that is about to claim it.
 */
import type { Logger } from 'pino'
import type { ClaimedDelivery } from '../db/delivery-repository.js'

/** What one pumped attempt came to, as far as the pump cares. */
export type PumpOutcome =
  /** Finished (or ended without an attempt); the next in line for its subject, if any. */
  { kind: 'delivered' | 'dead' | 'skipped'; next: { nextAttemptAt: Date } | undefined } | { kind: 'retry'; at: Date }

export interface PumpOptions {
  /** Claims up to `limit` due deliveries (due and out of lease for at least `graceMs`). */
  claim(limit: number, graceMs: number): Promise<ClaimedDelivery[]>
  /** Sends one claimed delivery and records its outcome. */
  attempt(claimed: ClaimedDelivery): Promise<PumpOutcome>
  logger: Logger
  /** Attempts in flight at most. @defaultValue 50 */
  concurrency?: number
  /**
   * While attempts are in flight, a claim that only refills waits until at least this many slots are free, so
   * that a drain claims in batches rather than one delivery per finished attempt. A kick claims at once.
   * @defaultValue a quarter of `concurrency`
   */
  refillAt?: number
  /** How long to wait before claiming again after a claim failed (PostgreSQL away). @defaultValue 1 000 */
  retryAfterFailureMs?: number
}

export class DeliveryPump {
  readonly #o: Required<PumpOptions>
  #inFlight = 0
  readonly #attempts = new Set<Promise<void>>()
  /** A kick came: claim as soon as a slot is free. */
  #urgent = false
  /** The last claim filled every slot it asked for: there may be more due. */
  #more = false
  #claiming = false
  #scheduled = false
  #closing = false
  /** Times to claim at (sorted), and the timer for the first of them. */
  #wakeTimes: number[] = []
  #timer: NodeJS.Timeout | undefined
  #timerAt = Infinity
  /** Claim statements and deliveries claimed, for tests and diagnostics. */
  readonly stats = { claims: 0, claimed: 0 }

  constructor(opts: PumpOptions) {
    const concurrency = opts.concurrency ?? 50
    this.#o = { refillAt: Math.max(1, Math.floor(concurrency / 4)), retryAfterFailureMs: 1_000, ...opts, concurrency }
  }

  /** Deliveries may be due now: claim them (at once, or as soon as a slot is free). */
  kick(): void {
    if (this.#closing) return
    this.#urgent = true
    this.#schedule()
  }

  /** Claim again at `at` (a retry, or the next in line once due). */
  wakeAt(at: Date): void {
    if (this.#closing) return
    const t = at.getTime()
    if (t <= Date.now()) return this.kick()
    // Sorted insert; times within 10 ms of one already there share its wake-up.
    let lo = 0
    let hi = this.#wakeTimes.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.#wakeTimes[mid] < t) lo = mid + 1
      else hi = mid
    }
    if (this.#wakeTimes[lo] !== undefined && this.#wakeTimes[lo] - t <= 10) return
    this.#wakeTimes.splice(lo, 0, t)
    this.#arm()
  }

  /**
   * The periodic pass: claims, as slots allow, what has been due and out of lease for `graceMs` (a retry
   * scheduled by another process, a lease left by a killed worker, a delivery whose queue job Redis lost).
   * Returns how many it claimed.
   */
  async sweep(graceMs: number): Promise<number> {
    if (this.#closing || this.#claiming) return 0
    const free = this.#o.concurrency - this.#inFlight
    if (free <= 0) return 0
    return this.#claim(free, graceMs)
  }

  /** Stops claiming and waits for the attempts in flight to finish (graceful shutdown). */
  async close(): Promise<void> {
    this.#closing = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#wakeTimes = []
    while (this.#attempts.size) await Promise.allSettled([...this.#attempts])
  }

  get inFlight(): number {
    return this.#inFlight
  }

  #arm(): void {
    const first = this.#wakeTimes[0]
    if (first === undefined || first >= this.#timerAt) return
    if (this.#timer) clearTimeout(this.#timer)
    this.#timerAt = first
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        this.#timerAt = Infinity
        const now = Date.now()
        let k = 0
        while (k < this.#wakeTimes.length && this.#wakeTimes[k] <= now) k++
        this.#wakeTimes.splice(0, k)
        this.kick()
        this.#arm()
      },
      Math.max(0, first - Date.now()),
    )
    this.#timer.unref()
  }

  /** Fills free slots at the end of this event-loop turn, so that attempts finishing together refill together. */
  #schedule(): void {
    if (this.#scheduled || this.#closing) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      void this.#fill()
    })
  }

  async #fill(): Promise<void> {
    if (this.#claiming || this.#closing) return
    for (;;) {
      const free = this.#o.concurrency - this.#inFlight
      const refill = this.#more && (free >= this.#o.refillAt || this.#inFlight === 0)
      if (free <= 0 || !(this.#urgent || refill)) return
      this.#urgent = false
      const n = await this.#claim(free, 0)
      // A claim that did not fill its slots found nothing more due; a kick meanwhile goes round again.
      if (n < free && !this.#urgent) return
    }
  }

  async #claim(limit: number, graceMs: number): Promise<number> {
    this.#claiming = true
    let claimed: ClaimedDelivery[]
    try {
      claimed = await this.#o.claim(limit, graceMs)
    } catch (err) {
      this.#o.logger.warn({ err: { message: (err as Error).message } }, 'delivery pump could not claim; will try again')
      this.wakeAt(new Date(Date.now() + this.#o.retryAfterFailureMs))
      return 0
    } finally {
      this.#claiming = false
      // A kick that came while this claim ran (and found the pump busy claiming) is served now.
      if (this.#urgent) this.#schedule()
    }
    this.stats.claims++
    this.stats.claimed += claimed.length
    this.#more = claimed.length >= limit
    for (const c of claimed) this.#start(c)
    return claimed.length
  }

  #start(c: ClaimedDelivery): void {
    this.#inFlight++
    const run = (async () => {
      try {
        const outcome = await this.#o.attempt(c)
        if (outcome.kind === 'retry') this.wakeAt(outcome.at)
        else if (outcome.next) this.wakeAt(outcome.next.nextAttemptAt)
      } catch (err) {
        // Not recorded: the lease runs out and the periodic pass takes the delivery again.
        this.#o.logger.warn({ deliveryId: c.delivery.id, err: { message: (err as Error).message } }, 'pumped delivery attempt failed; it will be retried')
      }
    })()
    this.#attempts.add(run)
    void run.finally(() => {
      this.#attempts.delete(run)
      this.#inFlight--
      this.#schedule()
    })
  }
}
