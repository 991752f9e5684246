import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { KeyRecord } from '../db/client-repository.js'
import { redisOptions } from '../delivery/queues.js'

/**
 * A short-lived cache of key lookups, so a request does not pay a database round trip to authenticate. Revocation
 * stays immediate: the revoking instance drops the entry at once and tells the others over Redis pub/sub; the TTL
 * bounds staleness should that message be lost (Redis away).
 */
export class KeyCache {
  private readonly entries = new Map<string, { rec: KeyRecord; until: number }>()
  private subscriber: Redis | undefined
  private readonly channel: string

  constructor(
    private readonly opts: { redisUrl: string; prefix: string; publisher: Redis; logger: Logger; ttlMs?: number; maxEntries?: number },
  ) {
    this.channel = `${opts.prefix}:api-key-revoked`
  }

  start(): void {
    const sub = new Redis({ ...redisOptions(this.opts.redisUrl, 'worker'), lazyConnect: false })
    sub.on('error', (err) => this.opts.logger.debug({ err: { message: err.message } }, 'key cache subscriber error'))
    sub.subscribe(this.channel).catch(() => undefined)
    sub.on('message', (_channel, keyId: string) => this.entries.delete(keyId))
    this.subscriber = sub
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
    this.subscriber?.disconnect()
    this.entries.clear()
  }
}
