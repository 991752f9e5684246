import type { Logger } from 'pino'
import { type Config, ConfigError, loadConfig } from './config/config.js'
import { ensureDatabase } from './db/connection.js'
import { createDeps, type Deps, MissingDataKeysError } from './deps.js'
import { removeHalfWrittenUploads } from './delivery/maintenance.js'
import { createLogger } from './logging.js'

/**
 * What every entry point does first: check the environment (a bad variable stops start-up with exit code 78,
 * naming it), create the database if missing, apply migrations, build the dependencies (stored data needing a data key
 * that is not configured stops start-up with exit code 78, naming the key ids), and remove material uploads a crash
 * left half-written.
 */
export async function boot(): Promise<{ config: Config; logger: Logger; deps: Deps }> {
  let config: Config
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
  let deps: Deps
  try {
    deps = await createDeps(config, logger, { migrate: true })
  } catch (err) {
    if (err instanceof MissingDataKeysError) {
      logger.fatal({ missingKeyIds: err.keyIds }, err.message)
      process.exit(78)
    }
    throw err
  }
  // Uploads a crash left half-written; the worker removes later ones. Housekeeping: a failure does not stop start-up.
  await removeHalfWrittenUploads({ db: deps.db, logger }).catch((err: unknown) =>
    logger.warn({ err: { message: (err as Error).message } }, 'could not remove half-written material uploads; the worker will'),
  )
  return { config, logger, deps }
}
