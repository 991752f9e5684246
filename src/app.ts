import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { ChannelSubscriber } from './delivery/pubsub.js'
import { badKeyLimiter } from './http/abuse.js'
import { registerAuth } from './http/auth.js'
import { KeyCache } from './http/key-cache.js'
import type { AppDeps } from './http/app-deps.js'
import { semanticChecks } from './http/checks.js'
import clientsPlugin from './http/clients.js'
import { registerConsole } from './http/console.js'
import healthPlugin from './http/health.js'
import { registerMetrics } from './http/metrics.js'
import { MethodTable, registerProblemHandlers } from './http/problem.js'
import { pagedSerializerFactory } from './http/page-serializer.js'
import { registerDocs } from './http/swagger.js'
import { createValidatorCompiler } from './http/validation.js'
import { registerRateLimits } from './http/rate-limit.js'
import resourcePlugins from './http/routes.js'
import type { Drain } from './lifecycle.js'

function operationId(method: string, url: string): string {
  const words = url.split(/[/:{}-]+/).filter(Boolean)
  return method.toLowerCase() + words.map((w) => w[0].toUpperCase() + w.slice(1)).join('')
}

export interface BuildAppOptions {
  /** Record every registered route (the route-table tests use it). */
  onRoute?: (route: { method: string | string[]; url: string; config?: unknown }) => void
  /** Extra hooks before the routes are registered (tests use it to hold a request in flight). */
  configure?: (app: FastifyInstance) => void
  /** Graceful stop (src/lifecycle.ts): its hook runs first, answering 503 once the drain has started. */
  drain?: Drain
}

/** What buildApp takes from the composition root: the HTTP layer's dependencies and the key cache's subscriber. */
export type BuildAppDeps = AppDeps & { subscriber: ChannelSubscriber }

/**
 * Builds the Fastify application from its dependencies. Never listens: server.ts does, tests use inject() or
 * listen on port 0 themselves. Opens no connection of its own: they all come from deps.
 */
export async function buildApp(deps: BuildAppDeps, opts: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && /^[A-Za-z0-9._-]{8,64}$/.test(given) ? given : randomUUID()
    },
    requestIdHeader: false,
    bodyLimit: 1024 * 1024,
    connectionTimeout: 60_000,
    requestTimeout: 60_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    trustProxy: deps.config.trustProxy as boolean | string[],
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { maxParamLength: 200 },
    // Pages of many items are serialized item by item (http/page-serializer.ts).
    schemaController: { compilersFactory: { buildSerializer: pagedSerializerFactory() } },
  }) as unknown as FastifyInstance

  const methods = new MethodTable()
  app.addHook('onRoute', (r) => {
    methods.add(r.method, r.url)
    // A stable operationId for every documented route: method + path, e.g. postV1ReferralsIdAcceptance.
    if (r.schema && !(r.schema as { operationId?: string }).operationId && !r.schema.hide) {
      ;(r.schema as { operationId?: string }).operationId = operationId(String(r.method), r.url)
    }
    opts.onRoute?.({ method: r.method, url: r.url, config: r.config })
  })

  opts.drain?.install(app)
  opts.configure?.(app)
  app.setValidatorCompiler(createValidatorCompiler(semanticChecks))
  registerProblemHandlers(app, methods)
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id)
  })

  await registerDocs(app)
  const keyCache = new KeyCache({ prefix: deps.config.queuePrefix, publisher: deps.redis, subscriber: deps.subscriber })
  keyCache.start()
  app.addHook('onClose', async () => keyCache.close())
  const keys = registerAuth(app, {
    db: deps.db,
    cache: keyCache,
    bootstrap: deps.bootstrap,
    onBadKey: badKeyLimiter(deps.redis, deps.config.queuePrefix, deps.config.authFailuresPerMinute),
  })
  await registerRateLimits(app, deps)
  registerMetrics(app, { ...deps, metricsToken: deps.config.metricsToken })
  await app.register(healthPlugin, { deps })
  await app.register(clientsPlugin, { deps, keyCache })
  for (const plugin of resourcePlugins) await app.register(plugin, { deps })
  await registerConsole(app, { deps, keys })
  return app
}
