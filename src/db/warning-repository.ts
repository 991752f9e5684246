import { type Expression, type Kysely, sql, type SqlBool, type Transaction } from 'kysely'
import { courtRegion, isValidRegionPrefix, regionPrefix, regionsOnOneBranch } from '../domain/identifiers.js'
import type { Principal } from '../domain/principal.js'
import type { Database, WarningRow } from './database.js'

type Db = Kysely<Database> | Transaction<Database>

export type WarningLevel = 'red' | 'orange' | 'yellow'

/** A 重大矛盾纠纷预警 as the domain sees it. */
export interface Warning {
  id: string
  level: WarningLevel
  regionCode: string
  disputeType: string
  summary: string
  involvedPersons: number
  referralId: string | null
  raisedBy: { clientId: string; role: 'court' | 'mediation'; name: string }
  chainHead: string
  createdAt: Date
}

function toWarning(r: WarningRow): Warning {
  return {
    id: r.id,
    level: r.level as WarningLevel,
    regionCode: r.region_code,
    disputeType: r.dispute_type,
    summary: r.summary,
    involvedPersons: r.involved_persons,
    referralId: r.referral_id,
    raisedBy: { clientId: r.raised_by_client, role: r.raised_by_role, name: r.raised_by_name },
    chainHead: r.chain_head,
    createdAt: r.created_at,
  }
}

export async function insertWarning(trx: Transaction<Database>, w: Warning): Promise<void> {
  await trx
    .insertInto('warnings')
    .values({
      id: w.id,
      level: w.level,
      region_code: w.regionCode,
      dispute_type: w.disputeType,
      summary: w.summary,
      involved_persons: w.involvedPersons,
      referral_id: w.referralId,
      raised_by_client: w.raisedBy.clientId,
      raised_by_role: w.raisedBy.role,
      raised_by_name: w.raisedBy.name,
      chain_head: w.chainHead,
      created_at: w.createdAt,
    })
    .execute()
}

export async function getWarning(db: Db, id: string): Promise<Warning | undefined> {
  const row = await db.selectFrom('warnings').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? toWarning(row) : undefined
}

/** The regions a principal's side is matched on: a court's regions from its codes, a platform's region codes. */
function sideRegions(p: Principal): string[] {
  const raw = p.role === 'court' ? p.courtCodes.map(courtRegion).filter((r): r is string => r !== null) : p.regionCodes
  return raw.filter(isValidRegionPrefix)
}

/**
 * Who may read a warning (contract §5, the same rule the delivery engine applies to `warning.raised`): the client
 * that raised it; on the other side, courts whose region and the warning's are on one branch (one covers the
 * other), and mediation clients whose region codes are on one branch with it, or national ones; operators all.
 * Other clients of the raiser's own side do not see it: it is addressed to the other side.
 */
export function mayReadWarning(p: Principal, w: Pick<Warning, 'regionCode' | 'raisedBy'>): boolean {
  if (p.role === 'operator' || w.raisedBy.clientId === p.clientId) return true
  if (p.role === w.raisedBy.role) return false
  if (p.role === 'mediation' && p.regionCodes.includes('*')) return true
  return sideRegions(p).some((r) => regionsOnOneBranch(r, w.regionCode))
}

/** {@link mayReadWarning} as SQL on `warnings` aliased `w` (region_code is always a valid 6-digit code). */
function warningScopeSql(p: Principal): Expression<SqlBool> {
  if (p.role === 'operator') return sql<SqlBool>`true`
  const own = sql<SqlBool>`w.raised_by_client = ${p.clientId}`
  const otherSide = p.role === 'court' ? 'mediation' : 'court'
  if (p.role === 'mediation' && p.regionCodes.includes('*')) return sql<SqlBool>`(${own} OR w.raised_by_role = ${otherSide})`
  const regions = sideRegions(p)
  if (!regions.length) return own
  const wPrefix = sql`(CASE WHEN w.region_code ~ '^[0-9]{2}0000$' THEN left(w.region_code, 2) WHEN w.region_code ~ '^[0-9]{4}00$' THEN left(w.region_code, 4) ELSE w.region_code END)`
  const branches = regions.map((r) => {
    // The scope covers the warning's region, or the warning's region (PP0000 / PPCC00 / a district) covers the scope.
    const ownPrefixes = [2, 4, 6].filter((n) => n <= r.length).map((n) => r.slice(0, n))
    return sql<SqlBool>`(w.region_code LIKE ${`${regionPrefix(r)}%`} OR ${wPrefix} = ANY(${sql.val(ownPrefixes)}::text[]))`
  })
  return sql<SqlBool>`(${own} OR (w.raised_by_role = ${otherSide} AND (${sql.join(branches, sql` OR `)})))`
}

export interface WarningFilters {
  level?: string
  regionCode?: string
  disputeType?: string
  since?: string
  afterId?: string
  limit: number
}

/** The warnings the principal may read, oldest first, keyset-paginated by id (UUIDv7: creation order). */
export async function listWarnings(db: Db, p: Principal, f: WarningFilters): Promise<Warning[]> {
  let q = db.selectFrom('warnings as w').selectAll('w').where(warningScopeSql(p))
  if (f.level) q = q.where('w.level', '=', f.level)
  if (f.regionCode) q = q.where('w.region_code', 'like', `${regionPrefix(f.regionCode)}%`)
  if (f.disputeType) q = q.where('w.dispute_type', '=', f.disputeType)
  if (f.since) q = q.where('w.created_at', '>=', new Date(f.since))
  if (f.afterId) q = q.where('w.id', '>', f.afterId)
  const rows = await q.orderBy('w.id').limit(f.limit).execute()
  return rows.map(toWarning)
}
