/**
 * The relay's wake-up: "committed events wait in the outbox".
 *
 * It is sent after the writing transaction has committed, never inside it. (It used to be a `pg_notify` in the
 * transaction; PostgreSQL serialises the commits of notifying transactions on one global lock, and the benchmark
 * measured that halving the commit rate.) A relay in the same process is called directly; otherwise a Redis
 * PUBLISH reaches the relays of the other processes, coalesced to one message per event-loop turn however many
 * transactions committed in it. A lost wake-up costs latency only: every relay also polls PostgreSQL.
 */
import type { Redis } from 'ioredis'

/** The Redis channel of one deployment (its queue prefix keeps test runs and deployments apart). */
export function outboxChannel(queuePrefix: string): string {
  return `${queuePrefix}:outbox`
}

export class OutboxSignal {
  readonly #local = new Set<() => void>()
  readonly #publisher: Redis | undefined
  readonly #channel: string
  readonly #onError: (err: Error) => void
  #scheduled = false

  constructor(publisher: Redis | undefined, channel: string, onError: (err: Error) => void) {
    this.#publisher = publisher
    this.#channel = channel
    this.#onError = onError
  }

  /** Registers a relay of this process; returns its removal. */
  onWake(fn: () => void): () => void {
    this.#local.add(fn)
    return () => this.#local.delete(fn)
  }

  /** Says that events were committed. Never throws, never waits. */
  wake(): void {
    if (this.#local.size) {
      for (const fn of this.#local) fn()
      return
    }
    if (this.#scheduled || !this.#publisher) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#publisher?.publish(this.#channel, '').catch(this.#onError)
    })
  }
}
