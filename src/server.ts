import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { boot } from './boot.js'
import { Drain, stopGracefully, warnIfNoOperator } from './lifecycle.js'
import { startWorkers, type RunningWorkers, warnIfProvisional } from './worker-runtime.js'

/**
 * `npm start`: check the environment, create the database if missing, apply migrations, then serve the API and
 * (unless --api-only) run the workers in the same process. SIGTERM/SIGINT stop gracefully (src/lifecycle.ts): new
 * requests and connections get 503 with `Connection: close` while in-flight requests finish, then the workers,
 * the server, queues and pools close, and a last `stopped` line is logged. A second signal, or a stop longer
 * than SHUTDOWN_TIMEOUT_MS, exits at once with code 1.
 */
async function main(): Promise<void> {
  const apiOnly = process.argv.includes('--api-only')
  const { config, logger, deps } = await boot()
  await warnIfProvisional(deps, logger)
  await warnIfNoOperator(deps)
  const drain = new Drain()
  const app = await buildApp(deps, { drain })
  let workers: RunningWorkers | undefined
  closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    // Leave a margin inside close-with-grace's own deadline for the workers and pools.
    await stopGracefully({ logger, drain, app, workers, deps, timeoutMs: Math.max(500, config.shutdownTimeoutMs - 5_000) })
  })
  await app.listen({ host: config.host, port: config.port })
  if (!apiOnly) workers = startWorkers(deps)
  logger.info({ apiOnly, docs: '/docs' }, 'zdz connector started')
}

main().catch((err: unknown) => {
  process.stderr.write(`start-up failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
