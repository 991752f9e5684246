import type { FastifyRequest } from 'fastify'
import type { Redis } from 'ioredis'
import { AppError } from '../domain/errors.js'

const WINDOW_MS = 60_000

/**
 * Repeated bad keys from one address are slowed down, then refused with 429 for the rest of the minute. The
 * address is `req.ip`, which honours X-Forwarded-For only from proxies named in TRUST_PROXY, so a spoofed header
 * cannot reset the count. Counted in Redis (shared by all instances); without Redis the check steps aside.
 */
export function badKeyLimiter(redis: Redis, prefix: string, blockAfter: number, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))) {
  const slowAfter = Math.max(1, Math.floor(blockAfter / 6))
  return async (req: FastifyRequest): Promise<void> => {
    const key = `${prefix}:badkey:${req.ip}`
    let count: number
    let ttl: number
    try {
      const res = await redis.multi().incr(key).pexpire(key, WINDOW_MS, 'NX').pttl(key).exec()
      count = Number(res?.[0]?.[1] ?? 0)
      ttl = Number(res?.[2]?.[1] ?? WINDOW_MS)
    } catch {
      return
    }
    if (count > blockAfter) {
      const seconds = Math.max(1, Math.ceil(ttl / 1000))
      throw new AppError(429, 'too_many_failed_authentications', `认证失败次数过多，请在 ${seconds} 秒后重试`, {
        headers: { 'retry-after': String(seconds) },
        detailEn: `Too many failed authentications; retry in ${seconds} seconds`,
      })
    }
    if (count > slowAfter) await sleep(Math.min((count - slowAfter) * 100, 2_000))
  }
}
