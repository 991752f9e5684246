import type { Redis } from 'ioredis'
import type { KeyRecord } from '../db/client-repository.js'
import type { ChannelSubscriber, ChannelSubscription } from '../delivery/pubsub.js'

/**
 * A short-lived cache of key lookups, so a request does not pay a database round trip to authenticate. Revocation
 * stays immediate: the revoking instance drops the entry at once and tells the others over Redis pub/sub; the TTL
 * bounds staleness should that message be lost (Redis away).
 */
export class KeyCache {
  private readonly entries = new Map<string, { rec: KeyRecord; until: number }>()
  private subscription: ChannelSubscription | undefined
  private readonly channel: string

  /** `publisher` and `subscriber` are the process's connections (deps.ts); the cache opens none of its own. */
  constructor(private readonly opts: { prefix: string; publisher: Redis; subscriber: ChannelSubscriber; ttlMs?: number; maxEntries?: number }) {
    this.channel = `${opts.prefix}:api-key-revoked`
  }

  start(): void {
    this.subscription = this.opts.subscriber.listen(this.channel, { message: (keyId) => this.entries.delete(keyId) })
  }

  get(keyId: string): KeyRecord | undefined {
    const e = this.entries.get(keyId)
    if (!e) return undefined
    if (e.until < Date.now()) {
      this.entries.delete(keyId)
      return undefined
    }
    return e.rec
  }

  set(keyId: string, rec: KeyRecord): void {
    if (this.entries.size >= (this.opts.maxEntries ?? 10_000)) this.entries.clear()
    this.entries.set(keyId, { rec, until: Date.now() + (this.opts.ttlMs ?? 10_000) })
  }

  async revoked(keyId: string): Promise<void> {
    this.entries.delete(keyId)
    try {
      await this.opts.publisher.publish(this.channel, keyId)
    } catch {
      // Other instances fall back on the TTL.
    }
  }

  close(): void {
    this.subscription?.close()
    this.subscription = undefined
    this.entries.clear()
  }
}

export interface KeyUsageOptions {
  /** Writes a batch of uses (client-repository's recordKeyUse). */
  record: (uses: Array<{ keyId: string; at: Date }>) => Promise<void>
  /** Called when a batch could not be written (the uses are dropped: the next minute's use writes them). */
  onError?: (err: unknown) => void
  /** A key's use is written at most once per this interval by this process. @defaultValue 60 000 */
  intervalMs?: number
  /** How long uses gather before a batch is written. @defaultValue 1 000 */
  flushDelayMs?: number
  /** Keys remembered; past it, the oldest memories are forgotten (a key then writes once more). @defaultValue 10 000 */
  maxEntries?: number
}

/**
 * When each key was last used (`api_keys.last_used_at`), kept off the requests' path: a request only notes the
 * use in memory, at most once a minute per key; the noted uses are written in one statement a second later,
 * after the answer, and never awaited by a request. Losing a batch (database away, process killed) loses at most
 * a minute of precision.
 */
export class KeyUsage {
  /** keyId → when this process last noted a use to write. */
  private readonly noted = new Map<string, number>()
  private pending = new Map<string, Date>()
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> | undefined
  private closed = false

  constructor(private readonly opts: KeyUsageOptions) {}

  /** Notes a use of the key; cheap and synchronous. */
  used(keyId: string, now = Date.now()): void {
    if (this.closed) return
    const last = this.noted.get(keyId)
    if (last !== undefined && now - last < (this.opts.intervalMs ?? 60_000)) return
    if (this.noted.size >= (this.opts.maxEntries ?? 10_000)) this.forgetOld(now)
    this.noted.set(keyId, now)
    this.pending.set(keyId, new Date(now))
    this.timer ??= setTimeout(() => void this.flush(), this.opts.flushDelayMs ?? 1_000).unref()
  }

  /** Writes the uses noted so far (tests and shutdown call it; the timer does otherwise). */
  async flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    // One batch at a time; a flush called meanwhile waits for it, then writes what came after.
    while (this.writing) await this.writing
    if (!this.pending.size) return
    const uses = [...this.pending].map(([keyId, at]) => ({ keyId, at }))
    this.pending = new Map()
    const writing: Promise<void> = this.opts
      .record(uses)
      .catch((err: unknown) => this.opts.onError?.(err))
      .finally(() => {
        if (this.writing === writing) this.writing = undefined
      })
    this.writing = writing
    await writing
  }

  /** Writes what is pending and notes nothing more. */
  async close(): Promise<void> {
    this.closed = true
    await this.flush()
  }

  private forgetOld(now: number): void {
    const interval = this.opts.intervalMs ?? 60_000
    for (const [keyId, at] of this.noted) if (now - at >= interval) this.noted.delete(keyId)
    // Every key was used within the interval: forget them all rather than grow (each writes once more at worst).
    if (this.noted.size >= (this.opts.maxEntries ?? 10_000)) this.noted.clear()
  }
}
