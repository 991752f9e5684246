import { loadConfig } from '../src/config/config.js'
import { createDb, ensureDatabase } from '../src/db/connection.js'
import { migrateToLatest } from '../src/db/migrate.js'
import { createLogger } from '../src/logging.js'

/**
 * `npm run migrate`: creates the database if missing and applies pending migrations, then exits (`npm start` does
 * the same before serving; run this first when several processes start together, or before a rolling upgrade).
 */
const config = loadConfig()
const logger = createLogger(config.logLevel)
await ensureDatabase(config.databaseUrl)
const { db } = createDb(config.databaseUrl, 2, logger)
try {
  const applied = await migrateToLatest(db)
  logger.info({ applied }, applied.length ? 'migrations applied' : 'the database is up to date')
} finally {
  await db.destroy()
}
