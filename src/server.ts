import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { boot } from './boot.js'
import { startWorkers, type RunningWorkers, warnIfProvisional } from './worker-runtime.js'

/**
 * `npm start`: check the environment, create the database if missing, apply migrations, then serve the API and
 * (unless --api-only) run the workers in the same process. SIGTERM/SIGINT close gracefully: in-flight requests
 * finish, new ones get 503, queues and pools close.
 */
async function main(): Promise<void> {
  const apiOnly = process.argv.includes('--api-only')
  const { config, logger, deps } = await boot()
  await warnIfProvisional(deps, logger)
  const app = await buildApp(deps)
  let workers: RunningWorkers | undefined
  closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    await app.close()
    await workers?.close()
    await deps.close()
  })
  await app.listen({ host: config.host, port: config.port })
  if (!apiOnly) workers = startWorkers(deps)
  logger.info({ apiOnly, docs: '/docs' }, 'zdz connector started')
}

main().catch((err: unknown) => {
  process.stderr.write(`start-up failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
