import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig } from './config/config.js'
import { ensureDatabase } from './db/connection.js'
import { createDeps } from './deps.js'
import { createLogger } from './logging.js'
import { startWorkers } from './worker-runtime.js'

/** Worker-only entry point (`npm run start:worker`): timers, delivery and sweeps, no HTTP. */
async function main(): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(78)
    }
    throw err
  }
  const logger = createLogger(config.logLevel)
  await ensureDatabase(config.databaseUrl)
  const deps = await createDeps(config, logger, { migrate: true })
  const workers = startWorkers(deps)
  closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'worker shutting down after an error')
    else logger.info({ signal }, 'worker shutting down')
    await workers.close()
    await deps.close()
  })
  logger.info('zdz connector worker started')
}

main().catch((err: unknown) => {
  process.stderr.write(`worker start-up failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
