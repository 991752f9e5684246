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
  /** Prepare parameterised statements (PreparingClient). @defaultValue true */
  prepare?: boolean
}

/** SQL that must be planned for its parameters every time (a statistics period may be a day or a year). */
export const PLAN_EACH_TIME = '/* plan each time */'

/**
 * Distinct statements prepared per process at most; beyond that, new texts run unnamed. Each connection keeps a
 * plan per statement it ran, so this bounds PostgreSQL's memory per connection too.
 */
const MAX_PREPARED = 500

/**
 * Statements with more parameters than this run unnamed: they are multi-row inserts whose text changes with the
 * row count (an access-trail batch, a fan-out), rarely repeated, and would crowd out the hot statements.
 */
const MAX_PREPARED_PARAMETERS = 100

const statementNames = new Map<string, string>()

function statementName(text: string, parameters: number): string | undefined {
  if (parameters > MAX_PREPARED_PARAMETERS) return undefined
  let name = statementNames.get(text)
  if (name === undefined) {
    if (statementNames.size >= MAX_PREPARED || text.startsWith(PLAN_EACH_TIME)) return undefined
    name = `zdz_${statementNames.size}`
    statementNames.set(text, name)
  }
  return name
}

/**
 * A client that prepares every parameterised statement once per connection (a named statement) and then only binds
 * and executes it: parsing and planning were most of PostgreSQL's work per statement on the hot paths (0.3–0.7 ms
 * against ~0.05 ms of execution), and every statement Kysely sends is parameterised, so texts repeat. Statements
 * marked {@link PLAN_EACH_TIME} are left unnamed.
 *
 * A prepared statement whose result type changed under it (a column added by a migration while this process runs)
 * fails once with "cached plan must not change result type"; the connection then prepares under new names.
 */
class PreparingClient extends pg.Client {
  #generation = 0

  override query(...args: unknown[]): never {
    const [text, values, callback] = args
    if (typeof text === 'string' && Array.isArray(values) && values.length > 0 && callback === undefined) {
      const base = statementName(text, values.length)
      if (base !== undefined) {
        const name = this.#generation ? `${base}_${this.#generation}` : base
        return (super.query({ name, text, values }) as Promise<unknown>).catch((err: { code?: string }) => {
          if (err.code === '0A000') this.#generation++
          throw err
        }) as never
      }
    }
    return (super.query as (...a: unknown[]) => never)(...args)
  }
}

export function createDb(url: string, poolSize: number, logger: Logger, opts: DbOptions = {}): DbHandle {
  const pool = new pg.Pool({
    ...(opts.prepare === false ? {} : { Client: PreparingClient as unknown as typeof pg.Client }),
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
