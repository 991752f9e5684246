import type { Redis } from 'ioredis'

/** What a listener of one channel is told. */
export interface ChannelListener {
  message(payload: string): void
  /**
   * The connection is (re)established (ioredis subscribes its channels again by itself): whatever was published
   * while it was down is lost, so a listener that must not miss anything looks for itself now.
   */
  ready?(): void
}

export interface ChannelSubscription {
  /** Settles when Redis confirmed the subscription (at once when the channel was subscribed already). */
  subscribed: Promise<void>
  /** Stops this listener; the channel is unsubscribed when it was the last one. */
  close(): void
}

/**
 * The process's one Redis connection in subscriber mode (a connection that subscribed can run no other
 * command), shared by every listener: key revocations for the key cache, wake-ups for the outbox relay. It is
 * opened on the first `listen`, so a process that never listens opens none; ioredis reconnects and re-subscribes
 * on its own. Made and closed by the composition root (deps.ts).
 */
export class ChannelSubscriber {
  readonly #connect: () => Redis
  readonly #channels = new Map<string, { listeners: Set<ChannelListener>; subscribed: Promise<void> }>()
  #connection: Redis | undefined
  #closed = false

  /** `connect` opens the connection (one that waits for Redis forever: see redisOptions 'worker'). */
  constructor(connect: () => Redis) {
    this.#connect = connect
  }

  listen(channel: string, listener: ChannelListener): ChannelSubscription {
    if (this.#closed) throw new Error('ChannelSubscriber is closed')
    const conn = this.#open()
    let entry = this.#channels.get(channel)
    if (!entry) {
      const subscribed = conn.subscribe(channel).then(() => undefined)
      // Listeners may ignore the outcome (the key cache's TTL, the relay's poll cover a failed subscription).
      subscribed.catch(() => undefined)
      entry = { listeners: new Set(), subscribed }
      this.#channels.set(channel, entry)
    }
    const { listeners, subscribed } = entry
    listeners.add(listener)
    return {
      subscribed,
      close: () => {
        if (!listeners.delete(listener) || listeners.size || this.#channels.get(channel)?.listeners !== listeners) return
        this.#channels.delete(channel)
        if (!this.#closed) conn.unsubscribe(channel).catch(() => undefined)
      },
    }
  }

  close(): void {
    this.#closed = true
    this.#channels.clear()
    this.#connection?.disconnect()
    this.#connection = undefined
  }

  #open(): Redis {
    if (this.#connection) return this.#connection
    const conn = this.#connect()
    conn.on('message', (channel: string, payload: string) => {
      for (const l of this.#channels.get(channel)?.listeners ?? []) l.message(payload)
    })
    conn.on('ready', () => {
      for (const { listeners } of this.#channels.values()) for (const l of listeners) l.ready?.()
    })
    this.#connection = conn
    return conn
  }
}
