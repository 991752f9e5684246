import { randomBytes, randomUUID } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import { type Caller, inWork, type Work } from '../../src/cases/case-kit.js'
import { loadConfig } from '../../src/config/config.js'
import type { Database, EventRow } from '../../src/db/database.js'
import { upsertOrganization } from '../../src/db/organization-repository.js'
import { createDeps, type Deps } from '../../src/deps.js'
import { AppError } from '../../src/domain/errors.js'
import type { Organization } from '../../src/domain/organization.js'
import type { Principal, Role } from '../../src/domain/principal.js'
import { createLogger } from '../../src/logging.js'
import { createTestDb, REDIS_URL, TEST_DATA_KEYS, TEST_RECEIPT_KEYS, type TestDb } from './harness.js'

/**
 * Service-level tests of src/cases: the composition root's Deps on a per-file copy of the migrated template
 * database, with no HTTP server. Principals are built directly; units of work are opened with inWork.
 */

export interface CaseWorld {
  deps: Deps
  db: TestDb
  /** Runs `fn` in one unit of work (a transaction and its write batch), as the timers and HTTP do. */
  work<T>(fn: (w: Work) => Promise<T>): Promise<T>
  close(): Promise<void>
}

export async function startCaseWorld(): Promise<CaseWorld> {
  const db = await createTestDb()
  const config = loadConfig({
    DATABASE_URL: db.url,
    DATABASE_POOL_SIZE: '5',
    REDIS_URL,
    QUEUE_PREFIX: `t_${randomBytes(5).toString('hex')}`,
    LOG_LEVEL: 'silent',
    DATA_KEYS: TEST_DATA_KEYS,
    RECEIPT_KEYS: TEST_RECEIPT_KEYS,
  })
  const deps = await createDeps(config, createLogger(config.logLevel))
  return {
    deps,
    db,
    work: (fn) => inWork(deps.db, fn),
    async close() {
      await deps.close()
      await db.drop()
    },
  }
}

export function principal(role: Role, scope: Partial<Pick<Principal, 'courtCodes' | 'organizationIds' | 'regionCodes' | 'name'>> = {}): Principal {
  return {
    clientId: randomUUID(),
    role,
    name: scope.name ?? `${role} test client`,
    courtCodes: scope.courtCodes ?? [],
    organizationIds: scope.organizationIds ?? [],
    regionCodes: scope.regionCodes ?? [],
  }
}

export const caller = (p: Principal, ifMatch?: string): Caller => ({ principal: p, requestId: 'test', ...(ifMatch !== undefined ? { ifMatch } : {}) })

/** Creates or replaces an organization directly through the repository (defaults: a Chaoyang township committee). */
export async function seedOrganization(
  db: Kysely<Database>,
  id: string,
  over: Partial<Omit<Organization, 'id' | 'version' | 'createdAt' | 'updatedAt'>> = {},
): Promise<Organization> {
  const { org } = await db.transaction().execute((trx) =>
    upsertOrganization(trx, {
      id,
      name: '八里庄街道人民调解委员会',
      kind: 'township_committee',
      regionCode: '110105',
      uscc: null,
      disputeTypes: ['neighbor', 'marriage_family'],
      fullTimeMediators: 2,
      rosters: { ministry: true, courtSpecial: ['京0105'] },
      active: true,
      ...over,
    }),
  )
  return org
}

/**
 * Runs a service call that must be refused and returns its error; a success or a non-AppError fails the test.
 * A function is called inside the try, for calls that refuse before returning a promise (intake checks).
 */
export async function refusal(call: Promise<unknown> | (() => unknown)): Promise<AppError> {
  let out: unknown
  try {
    out = await (typeof call === 'function' ? call() : call)
  } catch (err) {
    if (err instanceof AppError) return err
    throw err
  }
  throw new Error(`expected a refusal, the call succeeded: ${JSON.stringify(out)?.slice(0, 300)}`)
}

export interface Trail {
  events: EventRow[]
  /** Outbox rows pointing at the subject's events. */
  outbox: number
  /** Access-trail rows of the subject, per client id. */
  access: Record<string, number>
}

/** What the database holds about one case besides its row: its events, their outbox rows, its access trail. */
export async function trailOf(db: Kysely<Database>, subjectId: string): Promise<Trail> {
  const events = await db.selectFrom('events').selectAll().where('subject_id', '=', subjectId).orderBy('sequence').execute()
  const outbox = await sql<{
    n: number
  }>`SELECT count(*)::int AS n FROM outbox o JOIN events e ON e.pos = o.event_pos WHERE e.subject_id = ${subjectId}`.execute(db)
  const access = await db
    .selectFrom('access_log')
    .select(['client_id'])
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('subject_id', '=', subjectId)
    .groupBy('client_id')
    .execute()
  return { events, outbox: outbox.rows[0]!.n, access: Object.fromEntries(access.map((a) => [a.client_id, Number(a.n)])) }
}

/** The row of a case and everything written with it: equal before and after a refused action means nothing was written. */
export async function snapshotOf(db: Kysely<Database>, table: 'referrals' | 'judicial_confirmations', id: string): Promise<unknown> {
  const row = await db.selectFrom(table).selectAll().where('id', '=', id).executeTakeFirst()
  const trail = await trailOf(db, id)
  return { row, events: trail.events.map((e) => e.hash), outbox: trail.outbox, access: trail.access }
}
