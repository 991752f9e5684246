import type { FastifyPluginAsync } from 'fastify'
import { sql } from 'kysely'
import type { AppDeps } from './app-deps.js'

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Resolves once the connection is up. A probe made while ioredis is between reconnect attempts (it waits longer
 * after each failed one, up to 2 s) waits for the next attempt rather than answering "down" while Redis is in
 * fact reachable again; a connection that does not come back within `ms` fails as unreachable.
 */
function connected(redis: AppDeps['redis'], ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer)
      redis.off('ready', done)
      resolve()
    }
    const timer = setTimeout(() => {
      redis.off('ready', done)
      reject(new Error('unreachable'))
    }, ms)
    redis.once('ready', done)
  })
}

const CheckSchema = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['up', 'down'] }, latencyMs: { type: 'number' }, error: { type: 'string' } },
}

const healthPlugin: FastifyPluginAsync<{ deps: AppDeps }> = async (app, { deps }) => {
  app.get(
    '/health/live',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: '存活检查 / Liveness',
        security: [],
        response: { 200: { type: 'object', properties: { status: { type: 'string', const: 'ok' } } } },
      },
    },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/health/ready',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: '就绪检查（PostgreSQL 与 Redis）/ Readiness: PostgreSQL and Redis answer',
        security: [],
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              checks: { type: 'object', additionalProperties: CheckSchema },
              calendar: { type: 'object', additionalProperties: true },
            },
          },
          503: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              checks: { type: 'object', additionalProperties: CheckSchema },
              calendar: { type: 'object', additionalProperties: true },
            },
          },
        },
      },
    },
    async (_req, reply) => {
      const probe = async (fn: () => Promise<unknown>) => {
        const started = performance.now()
        try {
          await withTimeout(fn(), 2000)
          return { status: 'up' as const, latencyMs: Math.round((performance.now() - started) * 10) / 10 }
        } catch (err) {
          return {
            status: 'down' as const,
            latencyMs: Math.round(performance.now() - started),
            error: (err as Error).message === 'timeout' ? 'timeout' : 'unreachable',
          }
        }
      }
      const [postgres, redis] = await Promise.all([
        probe(() => sql`SELECT 1`.execute(deps.db)),
        probe(async () => {
          await connected(deps.redis, 1_900)
          return deps.redis.ping()
        }),
      ])
      const ok = postgres.status === 'up' && redis.status === 'up'
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', checks: { postgres, redis }, calendar: await deps.calendar.coverage() })
    },
  )
}

export default healthPlugin
