import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { buildApp, type BuildAppOptions } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config/config.js'
import { createDb } from '../../src/db/connection.js'
import { MIGRATIONS_DIR, migrateToLatest } from '../../src/db/migrate.js'
import { createDeps, type Deps } from '../../src/deps.js'
import { createLogger } from '../../src/logging.js'
import { formatDataKeys, generateThrowawayKeys } from '../../src/security/field-cipher.js'
import { newReceiptKeyEntry } from '../../src/security/receipts.js'

const ADMIN_URL = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

function dbUrl(name: string): string {
  const u = new URL(ADMIN_URL)
  u.pathname = `/${name}`
  return u.toString()
}

function migrationsHash(): string {
  const h = createHash('sha256')
  for (const f of readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.ts'))
    .sort()) {
    h.update(f)
    h.update(readFileSync(path.join(MIGRATIONS_DIR, f)))
  }
  return h.digest('hex').slice(0, 12)
}

/**
 * A migrated template database, built once per migration set (an advisory lock makes parallel test files wait
 * for the first to build it); each test file then gets its own copy, so files run in parallel.
 */
async function ensureTemplate(): Promise<string> {
  const name = `zdz_tpl_${migrationsHash()}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  try {
    await admin.query('SELECT pg_advisory_lock(7243002)')
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (exists.rowCount === 0) {
      const building = `${name}_build`
      await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`)
      await admin.query(`CREATE DATABASE ${building}`)
      const silent = createLogger('silent')
      const { db } = createDb(dbUrl(building), 2, silent)
      try {
        await migrateToLatest(db)
      } finally {
        await db.destroy()
      }
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`)
    }
    await admin.query('SELECT pg_advisory_unlock(7243002)')
  } finally {
    await admin.end()
  }
  return name
}

export interface TestDb {
  name: string
  url: string
  drop(): Promise<void>
}

export async function createTestDb(): Promise<TestDb> {
  const template = await ensureTemplate()
  const name = `zdz_t_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`)
        break
      } catch (err) {
        // "source database is being accessed by other users": a parallel file is copying it too; try again.
        if ((err as { code?: string }).code !== '55006' || attempt > 50) throw err
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200))
      }
    }
  } finally {
    await admin.end()
  }
  return {
    name,
    url: dbUrl(name),
    async drop() {
      const a = new pg.Client({ connectionString: ADMIN_URL })
      await a.connect()
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await a.end()
      }
    },
  }
}

/** Collects every log line the service writes, so tests can assert on them (e.g. no personal data). */
export class LogCapture extends Writable {
  readonly lines: string[] = []
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line) this.lines.push(line)
    cb()
  }
}

export interface Harness {
  app: FastifyInstance
  deps: Deps
  config: Config
  db: TestDb
  logs: LogCapture
  operatorKey: string
  prefix: string
  routes: Array<{ method: string | string[]; url: string; config?: unknown }>
  /** inject() with a bearer key. */
  call(key: string | null, opts: InjectOptions): Promise<LightMyRequestResponse>
  /** Creates a client through the API and returns its key and id. */
  client(
    role: 'court' | 'mediation' | 'operator',
    scope?: { courtCodes?: string[]; organizationIds?: string[]; regionCodes?: string[] },
  ): Promise<{ id: string; key: string; keyId: string }>
  close(): Promise<void>
}

export interface HarnessOptions {
  env?: Record<string, string>
  app?: BuildAppOptions
}

let keySeq = 0
/** The data key of this test process. */
export const TEST_DATA_KEYS = formatDataKeys(generateThrowawayKeys())
/** The receipt key of this test process (Ed25519), so that no test writes a key file under the working directory. */
export const TEST_RECEIPT_KEYS = newReceiptKeyEntry('EdDSA')
export const idemKey = (): string => `k-${Date.now()}-${process.pid}-${++keySeq}-${randomBytes(4).toString('hex')}`

/** A real service on its own database and queue prefix: PostgreSQL and Redis over real connections. */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const db = await createTestDb()
  const prefix = `t_${randomBytes(5).toString('hex')}`
  const operatorKey = `op_${randomBytes(24).toString('base64url')}`
  const config = loadConfig({
    DATABASE_URL: db.url,
    DATABASE_POOL_SIZE: '5',
    REDIS_URL: REDIS_URL,
    QUEUE_PREFIX: prefix,
    OPERATOR_API_KEY: operatorKey,
    LOG_LEVEL: 'info',
    // A key of this test process (tests that restart with the same key pass their own DATA_KEYS or DATA_KEYS_FILE).
    ...(opts.env?.DATA_KEYS_FILE ? {} : { DATA_KEYS: TEST_DATA_KEYS, RECEIPT_KEYS: TEST_RECEIPT_KEYS }),
    ...opts.env,
  })
  const logs = new LogCapture()
  const logger = createLogger(config.logLevel, logs)
  const deps = await createDeps(config, logger)
  const routes: Harness['routes'] = []
  const app = await buildApp(deps, { onRoute: (r) => routes.push(r), ...opts.app })
  await app.ready()
  const call: Harness['call'] = (key, o) => app.inject({ ...o, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(o.headers ?? {}) } })
  return {
    app,
    deps,
    config,
    db,
    logs,
    operatorKey,
    prefix,
    routes,
    call,
    async client(role, scope = {}) {
      const res = await call(operatorKey, {
        method: 'POST',
        url: '/v1/clients',
        headers: { 'idempotency-key': idemKey() },
        payload: { name: `${role} client ${++keySeq}`, role, ...scope },
      })
      if (res.statusCode !== 201) throw new Error(`client creation failed: ${res.statusCode} ${res.body}`)
      const b = res.json() as { id: string; apiKey: string; keyId: string }
      return { id: b.id, key: b.apiKey, keyId: b.keyId }
    },
    async close() {
      await app.close()
      await deps.close()
      await db.drop()
    },
  }
}

export const TEST_DIR = path.dirname(fileURLToPath(import.meta.url))
