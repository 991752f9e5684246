import closeWithGrace from 'close-with-grace'
import { boot } from './boot.js'
import { stopGracefully } from './lifecycle.js'
import { startWorkers } from './worker-runtime.js'

/** Worker-only entry point (`npm run start:worker`): timers, delivery and sweeps, no HTTP. */
async function main(): Promise<void> {
  const { config, logger, deps } = await boot()
  const workers = startWorkers(deps)
  closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'worker shutting down after an error')
    else logger.info({ signal }, 'worker shutting down')
    await stopGracefully({ logger, workers, deps, timeoutMs: config.shutdownTimeoutMs })
  })
  logger.info('zdz connector worker started')
}

main().catch((err: unknown) => {
  process.stderr.write(`worker start-up failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
