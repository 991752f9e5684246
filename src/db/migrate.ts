import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { FileMigrationProvider, type Kysely, Migrator, sql } from 'kysely'
import type { Database } from './database.js'

/** migrations/ next to src/ (works from the sources and from dist/). */
export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations')

/**
 * Applies pending migrations. An advisory lock makes concurrent starters (API and worker processes
 * starting together) take turns. Throws on failure: a failed migration must stop start-up.
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  return db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(7243001)`.execute(conn)
    try {
      const { error, results } = await new Migrator({
        db: conn as unknown as Kysely<unknown>,
        provider: new FileMigrationProvider({ fs, path, migrationFolder: MIGRATIONS_DIR }),
      }).migrateToLatest()
      const failed = results?.find((r) => r.status === 'Error')
      if (error || failed) {
        throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`)
      }
      return (results ?? []).map((r) => r.migrationName)
    } finally {
      await sql`SELECT pg_advisory_unlock(7243001)`.execute(conn)
    }
  })
}
