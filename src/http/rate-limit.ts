import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import type { AppDeps } from './app-deps.js'
import { AppError } from '../domain/errors.js'
import { BatchedRedisStore } from './rate-limit-store.js'

/**
 * Per-client request limits, counted in Redis so every instance shares them (contract §8), without a Redis round trip
 * on most requests (BatchedRedisStore: the bound on over-admission is in its comment). When Redis is away the limiter
 * steps aside (skipOnError) rather than failing requests the database could still serve.
 */
export async function registerRateLimits(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const store = new BatchedRedisStore({ redis: deps.redis, nameSpace: `${deps.config.queuePrefix}:ratelimit:` })
  await app.register(rateLimit, {
    // The plugin constructs its store with `new`: this one hands back the shared instance.
    store: class {
      constructor() {
        return store
      }
    } as never,
    global: true,
    hook: 'preHandler',
    max: deps.config.rateLimitPerMinute,
    timeWindow: 60_000,
    skipOnError: true,
    keyGenerator: (req) => (req.principal ? `client:${req.principal.clientId}` : `ip:${req.ip}`),
    allowList: (req) => !req.routeOptions.url?.startsWith('/v1/'),
    errorResponseBuilder: (_req, context) => {
      const seconds = Math.ceil(context.ttl / 1000)
      const err = new AppError(429, 'rate_limited', `请求过于频繁，请在 ${seconds} 秒后重试`, { detailEn: `Too many requests; retry in ${seconds} seconds` })
      return Object.assign(err, { statusCode: 429, retryAfter: seconds })
    },
  })
}
