import type { Redis } from 'ioredis'

/**
 * A rate-limit store for @fastify/rate-limit that keeps the per-client counts in Redis (shared by every instance,
 * contract §8) without a Redis round trip on most requests.
 *
 * Each key's window lives in Redis as today (a counter with the window's TTL). An instance keeps, per key, the
 * count Redis last answered and the requests it admitted since (pending). Far from the limit a request is decided
 * locally and its increment is sent with the others in one pipeline every `flushMs`; within `slack` of the limit
 * (and for the first request of a window) every request goes to Redis at once, carrying the pending increments, so
 * the decision near the limit is taken on the shared count.
 *
 * The bound on over-admission: a request near the limit does not see the increments other instances admitted
 * locally and have not flushed yet, at most `flushMs` worth of their traffic. With k instances each serving r
 * requests/s of one client, a window admits at most `max + (k − 1) · r · flushMs / 1000` requests (with one instance,
 * exactly `max`). The slack (10 % of the limit, at least 20, at most the limit itself) keeps the local path away from
 * the limit: a limit of 20 or less is always decided in Redis.
 */

interface Entry {
  /** The count Redis last answered for the window (every instance's flushed increments), plus those sent since. */
  known: number
  /** Increments admitted here and not yet sent. */
  pending: number
  /** When the window ends, in this process's clock (ms). */
  endsAt: number
}

type Callback = (err: Error | null, res: { current: number; ttl: number } | null) => void

const ADD = `
  local current = redis.call('INCRBY', KEYS[1], ARGV[1])
  if current == tonumber(ARGV[1]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {current, tonumber(ARGV[2])}
  end
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  end
  return {current, ttl}
`

type AddingRedis = Redis & { zdzRateLimitAdd(key: string, by: number, windowMs: number): Promise<[number, number]> }

export interface BatchedStoreOptions {
  redis: Redis
  /** Prefix of the Redis keys. */
  nameSpace: string
  /** How often the pending increments go to Redis (default 100 ms). */
  flushMs?: number
  /** The clock (tests). */
  now?: () => number
}

export class BatchedRedisStore {
  private readonly redis: AddingRedis
  private readonly entries = new Map<string, Entry>()
  private readonly flushMs: number
  private readonly now: () => number
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly o: BatchedStoreOptions) {
    this.redis = o.redis as AddingRedis
    this.flushMs = o.flushMs ?? 100
    this.now = o.now ?? Date.now
    if (typeof this.redis.zdzRateLimitAdd !== 'function') this.redis.defineCommand('zdzRateLimitAdd', { numberOfKeys: 1, lua: ADD })
  }

  /** The @fastify/rate-limit store interface: count one request of `key` and answer the window's count and TTL. */
  incr(key: string, cb: Callback, timeWindow: number, max: number): void {
    const now = this.now()
    const e = this.entries.get(key)
    const slack = Math.min(max, Math.max(20, Math.ceil(max / 10)))
    if (e && e.endsAt > now && e.known + e.pending + 1 <= max - slack) {
      e.pending++
      this.schedule()
      cb(null, { current: e.known + e.pending, ttl: e.endsAt - now })
      return
    }
    // The first request of a window, or near the limit: decided on the shared count.
    const fresh = !e || e.endsAt <= now
    const by = 1 + (fresh ? 0 : e.pending)
    if (e && !fresh) e.pending = 0
    this.redis.zdzRateLimitAdd(this.o.nameSpace + key, by, timeWindow).then(
      ([current, ttl]) => {
        const at = this.now()
        const live = this.entries.get(key)
        // One connection answers in order: `current` counts every increment flushed before this one. Those admitted
        // locally meanwhile stay pending on top of it.
        if (live && live.endsAt > at) {
          live.known = current
          live.endsAt = at + ttl
        } else {
          this.entries.set(key, { known: current, pending: 0, endsAt: at + ttl })
        }
        cb(null, { current: current + (this.entries.get(key) as Entry).pending, ttl })
      },
      (err: Error) => cb(err, null),
    )
  }

  /** The store interface's per-route child: one store serves every route (the limit is per client, not per route). */
  child(): BatchedRedisStore {
    return this
  }

  private schedule(): void {
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.flush()
    }, this.flushMs)
    this.timer.unref()
  }

  /** Sends every key's pending increments in one pipeline; forgets windows that ended. */
  async flush(): Promise<void> {
    const now = this.now()
    const batch: Array<[string, Entry]> = []
    const pipeline = this.redis.pipeline() as unknown as { zdzRateLimitAdd(k: string, by: number, w: number): void; exec: Redis['exec'] }
    for (const [key, e] of this.entries) {
      if (e.endsAt <= now) {
        this.entries.delete(key)
        continue
      }
      if (e.pending === 0) continue
      pipeline.zdzRateLimitAdd(this.o.nameSpace + key, e.pending, e.endsAt - now)
      e.known += e.pending
      e.pending = 0
      batch.push([key, e])
    }
    if (!batch.length) return
    // Redis away: the increments are dropped, as the limiter steps aside when Redis is away (skipOnError).
    const results = await pipeline.exec().catch(() => null)
    const at = this.now()
    batch.forEach(([key, e], i) => {
      const r = results?.[i]
      if (!r || r[0] || this.entries.get(key) !== e) return
      const [current, ttl] = r[1] as [number, number]
      // Other instances' flushed increments show here.
      e.known = Math.max(e.known, current)
      e.endsAt = Math.min(e.endsAt, at + ttl)
    })
  }
}
