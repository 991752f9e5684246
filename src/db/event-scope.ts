import { type Expression, type Kysely, type SqlBool, sql, type Transaction } from 'kysely'
import { courtRegion, REGION_PROVINCE_PREFIXES, regionCovers, regionPrefix, regionsOnOneBranch } from '../domain/identifiers.js'
import type { Principal } from '../domain/principal.js'
import type { Database, EventRow } from './database.js'

type Db = Kysely<Database> | Transaction<Database>

/**
 * Who may read an event: the one definition, used as a JS predicate by the fan-out relay ({@link mayReadEvent})
 * and as a SQL condition by the pull feed ({@link eventScopeSql}). The two are checked against each other by
 * test/http/events-feed.test.ts, so they cannot drift apart.
 *
 * The columns are those written on every event (contract §4 read scope):
 * - `case`: the court of `court_code`, and mediation clients whose scope covers `organization_id` (listed) or
 *   `region_code` (one of their region codes covers it; `*` covers everything);
 * - `court` (warnings raised by the mediation side): courts whose region is on one branch with `region_code`;
 * - `mediation` (warnings raised by courts): mediation clients whose region codes are on one branch with
 *   `region_code`, or national ones;
 * - `operator` (operational events such as `delivery.exhausted`): operators only.
 * Operators read everything. An unknown audience is readable by operators only (fail closed).
 */
export interface EventScope {
  audience: string
  courtCode: string | null
  organizationId: string | null
  regionCode: string | null
}

/** The scope columns of an event row. */
export function scopeOf(e: Pick<EventRow, 'audience' | 'court_code' | 'organization_id' | 'region_code'>): EventScope {
  return { audience: e.audience, courtCode: e.court_code, organizationId: e.organization_id, regionCode: e.region_code }
}

function courtRegions(p: Principal): string[] {
  return p.courtCodes.map(courtRegion).filter((r): r is string => r !== null)
}

/** Whether the principal may read an event with this scope (fan-out uses it for each subscription's client). */
export function mayReadEvent(p: Principal, e: EventScope): boolean {
  if (p.role === 'operator') return true
  const national = p.role === 'mediation' && p.regionCodes.includes('*')
  switch (e.audience) {
    case 'case':
      if (p.role === 'court') return e.courtCode !== null && p.courtCodes.includes(e.courtCode)
      if (national) return true
      if (e.organizationId !== null && p.organizationIds.includes(e.organizationId)) return true
      return e.regionCode !== null && p.regionCodes.some((r) => regionCovers(r, e.regionCode as string))
    case 'court':
      if (p.role !== 'court' || e.regionCode === null) return false
      return courtRegions(p).some((r) => regionsOnOneBranch(r, e.regionCode as string))
    case 'mediation':
      if (p.role !== 'mediation') return false
      if (national) return true
      return e.regionCode !== null && p.regionCodes.some((r) => regionsOnOneBranch(r, e.regionCode as string))
    default:
      return false
  }
}

const PROVINCES = [...REGION_PROVINCE_PREFIXES]

/** SQL twin of `isValidRegionPrefix`: 2, 4 or 6 digits with a known province. */
function validRegionSql(col: Expression<unknown>): Expression<SqlBool> {
  return sql<SqlBool>`(${col} ~ '^([0-9]{2}){1,3}$' AND left(${col}, 2) = ANY(${sql.val(PROVINCES)}::text[]))`
}

/** SQL twin of `regionPrefix`: `PP0000` → `PP`, `PPCC00` → `PPCC`, anything else unchanged. */
function regionPrefixSql(col: Expression<unknown>): Expression<string> {
  return sql<string>`(CASE WHEN ${col} ~ '^[0-9]{2}0000$' THEN left(${col}, 2) WHEN ${col} ~ '^[0-9]{4}00$' THEN left(${col}, 4) ELSE ${col} END)`
}

/** `regionCovers(known, col)`: the column starts with the known region's prefix. */
function knownCoversSql(known: string, col: Expression<unknown>): Expression<SqlBool> {
  return sql<SqlBool>`(${col} LIKE ${`${regionPrefix(known)}%`})`
}

/** `regionCovers(col, known)`: the column's prefix is one of the known region's own prefixes. */
function colCoversSql(col: Expression<unknown>, known: string): Expression<SqlBool> {
  const own = [2, 4, 6].filter((n) => n <= known.length).map((n) => known.slice(0, n))
  return sql<SqlBool>`(${regionPrefixSql(col)} = ANY(${sql.val(own)}::text[]))`
}

function onOneBranchSql(known: string[], col: Expression<unknown>): Expression<SqlBool> {
  const valid = known.filter((r) => /^(\d{2}|\d{4}|\d{6})$/.test(r) && REGION_PROVINCE_PREFIXES.has(r.slice(0, 2)))
  if (!valid.length) return sql<SqlBool>`false`
  const parts = valid.map((r) => sql<SqlBool>`${knownCoversSql(r, col)} OR ${colCoversSql(col, r)}`)
  return sql<SqlBool>`(${col} IS NOT NULL AND ${validRegionSql(col)} AND (${sql.join(parts, sql` OR `)}))`
}

function coveredBySql(known: string[], col: Expression<unknown>): Expression<SqlBool> {
  const valid = known.filter((r) => /^(\d{2}|\d{4}|\d{6})$/.test(r) && REGION_PROVINCE_PREFIXES.has(r.slice(0, 2)))
  if (!valid.length) return sql<SqlBool>`false`
  return sql<SqlBool>`(${col} IS NOT NULL AND ${validRegionSql(col)} AND (${sql.join(valid.map((r) => knownCoversSql(r, col)), sql` OR `)}))`
}

/** The same rule as {@link mayReadEvent}, as a SQL condition on the `events` row aliased `alias`. */
export function eventScopeSql(p: Principal, alias = 'e'): Expression<SqlBool> {
  if (p.role === 'operator') return sql<SqlBool>`true`
  const col = (c: string) => sql.ref(`${alias}.${c}`)
  const audience = col('audience')
  if (p.role === 'court') {
    const own = p.courtCodes.length ? sql<SqlBool>`${col('court_code')} = ANY(${sql.val(p.courtCodes)}::text[])` : sql<SqlBool>`false`
    return sql<SqlBool>`((${audience} = 'case' AND ${own}) OR (${audience} = 'court' AND ${onOneBranchSql(courtRegions(p), col('region_code'))}))`
  }
  if (p.regionCodes.includes('*')) return sql<SqlBool>`(${audience} IN ('case', 'mediation'))`
  const byOrg = p.organizationIds.length ? sql<SqlBool>`${col('organization_id')} = ANY(${sql.val(p.organizationIds)}::text[])` : sql<SqlBool>`false`
  const caseCond = sql<SqlBool>`(${byOrg} OR ${coveredBySql(p.regionCodes, col('region_code'))})`
  return sql<SqlBool>`((${audience} = 'case' AND ${caseCond}) OR (${audience} = 'mediation' AND ${onOneBranchSql(p.regionCodes, col('region_code'))}))`
}

/** Position in the pull feed: the writing transaction's id and the event's position, both as decimal strings. */
export interface FeedCursor {
  txid: string
  pos: string
}

export const FEED_START: FeedCursor = { txid: '0', pos: '0' }

/**
 * One page of the pull feed: the events the principal may read after `after`, ordered by (txid, pos).
 *
 * Why not simply `pos > cursor`? `pos` comes from a sequence, taken when a row is inserted, but rows become
 * visible when their transaction commits, in whatever order the commits happen. If transaction A takes pos 10
 * and transaction B takes pos 11 and commits first, a reader that sees 11 and moves its cursor past it would
 * never see 10 once A commits: the event is skipped for good.
 *
 * The technique: every event records the id of the transaction that wrote it (`txid`, xid8), and the feed only
 * serves events whose transaction id lies below a *horizon* that no transaction still able to commit can be
 * under. Every transaction id below the horizon belongs to a transaction that had finished (committed or rolled
 * back) when the reading statement took its snapshot, so the set of events below the horizon can never grow
 * again. Serving only those, ordered by (txid, pos) with the cursor on the same pair, means everything at or
 * below a cursor has been served and nothing can later appear there.
 *
 * The horizon is the snapshot's xmin (`pg_snapshot_xmin(pg_current_snapshot())`, the oldest transaction still
 * running) refined in one way: transaction ids are cluster-wide, and a long transaction in *another database*
 * of the same cluster cannot write our events, so it should not hold the feed back. The horizon is therefore
 * the smallest in-progress id of the snapshot (`pg_snapshot_xip`) that is not positively known, from
 * `pg_stat_activity`, to belong to another database, or the snapshot's xmax when there is none (every later
 * transaction will get a larger id). An id not found there (its backend just finished, or the role may not see
 * other sessions) counts as ours: the feed may wait a moment longer, it never skips.
 *
 * The price is a short delay: an event waits until every older transaction of this database has finished (a
 * long-running transaction holds the feed back; it never makes it skip).
 */
export async function readFeed(db: Db, p: Principal, after: FeedCursor, types: string[] | undefined, limit: number): Promise<EventRow[]> {
  const horizon = sql<string>`(
    SELECT coalesce(min(x.id), pg_snapshot_xmax(pg_current_snapshot()))
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x(id)
    WHERE NOT EXISTS (
      SELECT 1 FROM pg_stat_activity a
      WHERE a.backend_xid = x.id::xid AND a.datname IS DISTINCT FROM current_database()))`
  let q = db
    .selectFrom('events as e')
    .selectAll('e')
    .where(sql<SqlBool>`e.txid < ${horizon}`)
    .where(sql<SqlBool>`(e.txid, e.pos) > (${after.txid}::xid8, ${after.pos}::bigint)`)
    .where(eventScopeSql(p, 'e'))
  if (types?.length) q = q.where('e.type', 'in', types)
  return q.orderBy(sql`e.txid`).orderBy('e.pos').limit(limit).execute()
}
