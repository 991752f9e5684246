import type { FastifyInstance } from 'fastify'
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'

/**
 * Prometheus metrics on a registry owned by this app instance (no global registry: tests build many apps in one
 * process). Request duration by route pattern (never the raw URL: ids would explode the label set) and status.
 */
export function registerMetrics(app: FastifyInstance, registry = new Registry()): Registry {
  // Several app instances may share one registry (one per process): register the metrics once.
  if (!registry.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics({ register: registry })
  const existing = registry.getSingleMetric('http_request_duration_seconds') as Histogram<'method' | 'route' | 'status_code'> | undefined
  const duration =
    existing ??
    new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    })
  app.addHook('onResponse', async (req, reply) => {
    duration.observe({ method: req.method, route: req.routeOptions.url ?? 'not_found', status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })
  app.get(
    '/metrics',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus 指标 / Prometheus metrics',
        security: [],
        produces: ['text/plain'],
        response: { 200: { type: 'string' } },
      },
    },
    async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  )
  return registry
}
