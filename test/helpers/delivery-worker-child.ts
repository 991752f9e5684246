/**
 * A delivery worker in its own process, for tests that kill it (SIGKILL mid-send). Configured from the
 * environment like the real worker; CHILD_TIMEOUT_MS shortens the attempt timeout. Sends 'ready' over IPC.
 */
import { loadConfig } from '../../src/config/config.js'
import { startDeliveryWorker } from '../../src/delivery/delivery-worker.js'
import { createDeps } from '../../src/deps.js'
import { createLogger } from '../../src/logging.js'

const config = loadConfig(process.env)
const deps = await createDeps(config, createLogger('warn'))
const worker = startDeliveryWorker(deps, {
  timeoutMs: Number(process.env.CHILD_TIMEOUT_MS ?? 15_000),
  lockDurationMs: 1_000,
  stalledIntervalMs: 500,
  leaseMarginMs: 500,
})
const sweep = setInterval(() => void worker.sweep().catch(() => undefined), 500)
process.on('SIGTERM', () => {
  clearInterval(sweep)
  void worker
    .close()
    .then(() => deps.close())
    .then(() => process.exit(0))
})
process.send?.('ready')
