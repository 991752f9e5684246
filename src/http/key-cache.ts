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
