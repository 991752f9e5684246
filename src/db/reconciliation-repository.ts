import { createHash } from 'node:crypto'
import { type Kysely, sql, type Transaction } from 'kysely'
import { isNational } from '../domain/access.js'
import { endOfShanghaiDay, startOfShanghaiDay } from '../domain/calendar.js'
import { type FieldError, validationFailed } from '../domain/errors.js'
import { isUuid } from '../domain/ids.js'
import type { Principal } from '../domain/principal.js'
import { confirmationScopeSql, referralScopeOverlapSql, referralScopeSql } from './access-sql.js'
import type { Database } from './database.js'

type Db = Kysely<Database> | Transaction<Database>

/**
 * Daily reconciliation (contract §4): the cases of one kind a caller may read whose last change (`updatedAt`) fell on
 * one Asia/Shanghai date, summed up so that both sides can prove a day's exchange complete.
 */

export const RECONCILIATION_KINDS = ['referral', 'judicial_confirmation'] as const
export type ReconciliationKind = (typeof RECONCILIATION_KINDS)[number]

/** The most items one diff request may hold (contract §4). */
export const MAX_DIFF_ITEMS = 10_000

/** What reconciliation knows of a case: its id, its version and its status. */
export interface CaseStamp {
  id: string
  version: number
  status: string
}

export interface DaySummary {
  date: string
  kind: ReconciliationKind
  count: number
  byStatus: Record<string, number>
  digest: string
}

export interface DayDiff {
  missing: Array<{ id: string; version: number }>
  unknown: string[]
  matched: number
}

// ---------------------------------------------------------------------------------------------
// Queries

/**
 * The cases of `kind` the principal may read (the lists' read scope) whose `updated_at` lies in the Shanghai day
 * `date`, i.e. in [00:00 +08:00, next 00:00 +08:00), sorted by id. A range on `updated_at`, so referrals_updated_idx /
 * referrals_court_updated_id_idx (and the confirmations' pair, migration 0012) find the day's rows. PostgreSQL orders
 * uuids bytewise, which is the order of their lowercase text.
 */
export async function casesChangedOn(db: Db, p: Principal, kind: ReconciliationKind, date: string): Promise<CaseStamp[]> {
  const start = startOfShanghaiDay(date)
  const end = endOfShanghaiDay(date)
  if (kind === 'judicial_confirmation') {
    return db
      .selectFrom('judicial_confirmations as c')
      .select(['c.id', 'c.version', 'c.status'])
      .where('c.updated_at', '>=', start)
      .where('c.updated_at', '<', end)
      .where(confirmationScopeSql(p, 'c'))
      .orderBy('c.id')
      .execute()
  }
  const day = db.selectFrom('referrals as r').where('r.updated_at', '>=', start).where('r.updated_at', '<', end)
  if (p.role === 'mediation' && !isNational(p) && p.regionCodes.length) {
    // A regional platform: its organizations may hold most of a day's referrals. Given `held_by && <its organizations>`
    // beside the day's range, the planner walks referrals_held_by_idx over every referral the region ever held and
    // intersects (1,076 ms at 1,000,000 referrals, 620,031 of them in region 11: bench/reconciliation.mjs). The day's
    // rows are read first instead, then each is tested; in the overlap form of the lists' rule (referralScopeOverlapSql,
    // checked against referralStanding with referralScopeSql in test/db/access-twins), the region's organizations are
    // looked up once, not once per row as referralScopeSql's EXISTS does (560 → 142 ms for 30,814 rows).
    return db
      .with(
        (cte) => cte('day').materialized(),
        () => day.select(['r.id', 'r.version', 'r.status', 'r.court_code', 'r.held_by']),
      )
      .selectFrom('day')
      .select(['day.id', 'day.version', 'day.status'])
      .where(referralScopeOverlapSql(p, 'day'))
      .orderBy('day.id')
      .execute()
  }
  // Operators (everything), courts (referrals_court_updated_id_idx), platforms bound to organization ids (the held_by
  // index is selective for them).
  return day.select(['r.id', 'r.version', 'r.status']).where(referralScopeSql(p, 'r')).orderBy('r.id').execute()
}

/** Of `ids` (UUIDs in lowercase), the ones of `kind` that exist and the principal may read. */
async function readableIds(db: Db, p: Principal, kind: ReconciliationKind, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set()
  const list = sql`ANY(${sql.val(ids)}::uuid[])`
  const rows =
    kind === 'referral'
      ? await db
          .selectFrom('referrals as r')
          .select('r.id')
          .where(sql<boolean>`r.id = ${list}`)
          .where(referralScopeSql(p, 'r'))
          .execute()
      : await db
          .selectFrom('judicial_confirmations as c')
          .select('c.id')
          .where(sql<boolean>`c.id = ${list}`)
          .where(confirmationScopeSql(p, 'c'))
          .execute()
  return new Set(rows.map((r) => r.id))
}

// ---------------------------------------------------------------------------------------------
// The rules (pure)

/** Lowercase hex SHA-256 of the lines `<id>:<version>:<status>\n`, in the order given (sorted by id). */
export function dayDigest(cases: readonly CaseStamp[]): string {
  const h = createHash('sha256')
  for (const c of cases) h.update(`${c.id}:${c.version}:${c.status}\n`, 'utf8')
  return h.digest('hex')
}

/** The count per status, statuses in alphabetical order, those with no case left out. */
export function countByStatus(cases: readonly CaseStamp[]): Record<string, number> {
  const counts = new Map<string, number>()
  for (const c of cases) counts.set(c.status, (counts.get(c.status) ?? 0) + 1)
  return Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/**
 * The caller's list against the day's cases. Each case of the day is matched when the caller holds it at its current
 * version, else missing (with the current version): absent from the list, or held at another version. An id that is
 * not a case of the day is unknown when the service has no such case of this kind or the caller may not read it;
 * one the caller may read whose last change fell on another day is neither (it is reconciled on that day), so
 * `matched + missing.length` is always the day's `count`. Ids compare case-insensitively (UUIDs).
 */
export function diffDay(day: readonly CaseStamp[], items: ReadonlyArray<{ id: string; version: number }>, readableElsewhere: ReadonlySet<string>): DayDiff {
  const held = new Map(items.map((i) => [i.id.toLowerCase(), i.version]))
  const missing: DayDiff['missing'] = []
  let matched = 0
  const ofDay = new Set<string>()
  for (const c of day) {
    ofDay.add(c.id)
    if (held.get(c.id) === c.version) matched++
    else missing.push({ id: c.id, version: c.version })
  }
  const unknown = items.filter((i) => {
    const id = i.id.toLowerCase()
    return !ofDay.has(id) && !readableElsewhere.has(id)
  })
  return { missing, unknown: unknown.map((i) => i.id), matched }
}

/** 400 validation_failed naming each item whose id (case-insensitively) came earlier in the list. */
function refuseDuplicates(items: ReadonlyArray<{ id: string }>): void {
  const seen = new Set<string>()
  const errors: FieldError[] = []
  for (const [n, i] of items.entries()) {
    const id = i.id.toLowerCase()
    if (seen.has(id)) errors.push({ path: `/items/${n}/id`, code: 'duplicate_id', message: '同一 id 在 items 中出现多次 / the id is listed twice' })
    seen.add(id)
  }
  if (errors.length) throw validationFailed(errors.slice(0, 100), 'items 中有重复的 id')
}

// ---------------------------------------------------------------------------------------------
// The two answers

/** `GET /v1/reconciliation`: the day's count, count per status and digest over what the principal may read. */
export async function reconcileDay(db: Db, p: Principal, kind: ReconciliationKind, date: string): Promise<DaySummary> {
  const day = await casesChangedOn(db, p, kind, date)
  return { date, kind, count: day.length, byStatus: countByStatus(day), digest: dayDigest(day) }
}

/** `POST /v1/reconciliation/diff`: the caller's `{ id, version }` list for the day against the service's. */
export async function diffWithDay(
  db: Db,
  p: Principal,
  kind: ReconciliationKind,
  date: string,
  items: ReadonlyArray<{ id: string; version: number }>,
): Promise<DayDiff> {
  refuseDuplicates(items)
  const day = await casesChangedOn(db, p, kind, date)
  const ofDay = new Set(day.map((c) => c.id))
  // Only well-formed UUIDs can name a case; anything else is unknown without asking the database.
  const others = items.map((i) => i.id.toLowerCase()).filter((id) => !ofDay.has(id) && isUuid(id))
  const elsewhere = await readableIds(db, p, kind, others)
  return diffDay(day, items, elsewhere)
}
