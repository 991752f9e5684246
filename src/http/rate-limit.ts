import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import type { AppDeps } from './app-deps.js'
import { AppError } from '../domain/errors.js'

/**
 * Per-client request limits, counted in Redis so every instance shares them (contract §8). When Redis is away the
 * limiter steps aside (skipOnError) rather than failing requests the database could still serve.
 */
export async function registerRateLimits(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: deps.config.rateLimitPerMinute,
    timeWindow: 60_000,
    redis: deps.redis,
    nameSpace: `${deps.config.queuePrefix}:ratelimit:`,
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
