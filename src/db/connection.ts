import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Logger } from 'pino'
import type { Database } from './database.js'

// DATE columns stay 'YYYY-MM-DD' strings: legal dates are calendar dates in Asia/Shanghai, never instants.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v)
// date[] (oid 1182) likewise.
pg.types.setTypeParser(1182 as never, (v: string) => (v === '{}' ? [] : v.slice(1, -1).split(',')))

export interface DbHandle {
  db: Kysely<Database>
  pool: pg.Pool
}

/**
 * One pool per process. The pool's 'error' listener is what keeps a PostgreSQL restart from killing the
 * process (idle clients emit errors when the server goes away).
 */
export interface DbOptions {
  /**
   * `synchronous_commit = off` on every connection: commits return before the WAL reaches disk. Only for work whose
   * loss in a crash is harmless by design — delivery bookkeeping, where a lost "delivered" mark means one more
   * (deduplicated) delivery, and a lost fan-out is redone because the outbox row comes back with it.
   */
  asyncCommit?: boolean
  applicationName?: string
}

export function createDb(url: string, poolSize: number, logger: Logger, opts: DbOptions = {}): DbHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 30_000,
    application_name: opts.applicationName ?? 'zdz-connector',
    ...(opts.asyncCommit ? { options: '-c synchronous_commit=off' } : {}),
  })
  pool.on('error', (err) => logger.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'idle PostgreSQL client error'))
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  return { db, pool }
}

/** Creates the database named in `url` when it does not exist (connecting to the `postgres` database to do so). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url)
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''))
  if (!name) return
  const admin = new URL(url)
  admin.pathname = '/postgres'
  const client = new pg.Client({ connectionString: admin.toString() })
  await client.connect()
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
      } catch (err) {
        // Another process may have created it in the meantime.
        if ((err as { code?: string }).code !== '42P04') throw err
      }
    }
  } finally {
    await client.end()
  }
}
