import { type Expression, type RawBuilder, sql, type SqlBool } from 'kysely'
import { isNational, regionsOf } from '../domain/access.js'
import { isValidRegionPrefix, REGION_PROVINCE_PREFIXES, regionPrefix } from '../domain/identifiers.js'
import type { Principal } from '../domain/principal.js'

/**
 * The SQL twins of the access rules in domain/access.ts: for lists, feeds and statistics, the same rule as a condition
 * on the rows. Each one answers for a row what its rule answers for the same facts; test/db/access-twins.test.ts checks
 * every pair over a table of principals × rows in PostgreSQL, so they cannot drift apart. The pure rules decide which
 * SQL to emit (role, national scope); nothing here decides access on its own.
 */

const TRUE = sql<SqlBool>`true`
const FALSE = sql<SqlBool>`false`

const ref = (alias: string, column: string) => sql.ref(`${alias}.${column}`)

/**
 * `courtInScope` on a court code column. A list of parameters, not an array parameter: the planner of a prepared
 * statement then knows how many codes there are.
 */
function courtCodeSql(p: Principal, col: Expression<unknown>): Expression<SqlBool> {
  if (p.role !== 'court' || !p.courtCodes.length) return FALSE
  return sql<SqlBool>`${col} IN (${sql.join(p.courtCodes)})`
}

/** The `LIKE` patterns of a mediation client's region codes (`*` and malformed codes have none). */
function regionPatterns(p: Principal): string[] {
  return p.regionCodes.filter(isValidRegionPrefix).map((r) => `${regionPrefix(r)}%`)
}

/**
 * `organizationInScope` as SQL: the organization id (`asArray`: any of the ids in an array column) is listed, or the
 * organization's region falls under one of the principal's region codes; national clients cover all.
 */
export function orgScopeSql(p: Principal, orgIds: Expression<unknown>, asArray: boolean): Expression<SqlBool> {
  if (p.role !== 'mediation') return FALSE
  if (isNational(p)) return TRUE
  const ids = p.organizationIds
  const prefixes = regionPatterns(p)
  const idCond = asArray ? sql<SqlBool>`${orgIds} && ${sql.val(ids)}::text[]` : sql<SqlBool>`${orgIds} = ANY(${sql.val(ids)}::text[])`
  if (!prefixes.length) return idCond
  // `scope_o`, not `o`: the caller's own rows may be aliased `o` (the roster), and an inner `o` would shadow them.
  const regionCond = asArray
    ? sql<SqlBool>`EXISTS (SELECT 1 FROM organizations scope_o WHERE scope_o.id = ANY(${orgIds}) AND scope_o.region_code LIKE ANY(${sql.val(prefixes)}::text[]))`
    : sql<SqlBool>`EXISTS (SELECT 1 FROM organizations scope_o WHERE scope_o.id = ${orgIds} AND scope_o.region_code LIKE ANY(${sql.val(prefixes)}::text[]))`
  return sql<SqlBool>`(${idCond} OR ${regionCond})`
}

/** `referralStanding(…).read` on `referrals` aliased `alias`: the referral lists. */
export function referralScopeSql(p: Principal, alias = 'r'): Expression<SqlBool> {
  if (p.role === 'operator') return TRUE
  if (p.role === 'court') return courtCodeSql(p, ref(alias, 'court_code'))
  return orgScopeSql(p, ref(alias, 'held_by'), true)
}

/** The ids of the organizations under any of these `LIKE` patterns, as an array computed once per query (an InitPlan). */
export function orgsUnderSql(patterns: string[]): RawBuilder<string[]> {
  return sql<string[]>`ARRAY(SELECT o.id FROM organizations o WHERE o.region_code LIKE ANY(${sql.val(patterns)}::text[]))`
}

/**
 * The same rule as {@link referralScopeSql}, written as array overlaps on `held_by` so that referrals_held_by_idx
 * (GIN) finds a platform's referrals instead of testing every referral of a period: the statistics.
 */
export function referralScopeOverlapSql(p: Principal, alias = 'r'): Expression<SqlBool> {
  if (p.role === 'operator') return TRUE
  if (p.role === 'court') return courtCodeSql(p, ref(alias, 'court_code'))
  if (isNational(p)) return TRUE
  const heldBy = ref(alias, 'held_by')
  const byId = p.organizationIds.length ? sql<SqlBool>`${heldBy} && ${sql.val(p.organizationIds)}::text[]` : FALSE
  const prefixes = regionPatterns(p)
  if (!prefixes.length) return byId
  return sql<SqlBool>`(${byId} OR ${heldBy} && ${orgsUnderSql(prefixes)})`
}

/** `confirmationStanding(…).read` on `judicial_confirmations` aliased `alias`: the court concerned, the applying organization's clients. */
export function confirmationScopeSql(p: Principal, alias = 'c'): Expression<SqlBool> {
  if (p.role === 'operator') return TRUE
  if (p.role === 'court') return courtCodeSql(p, ref(alias, 'court_code'))
  return orgScopeSql(p, ref(alias, 'organization_id'), false)
}

// ---------------------------------------------------------------------------------------------
// Regions

const PROVINCES = [...REGION_PROVINCE_PREFIXES]

/** `isValidRegionPrefix`: 2, 4 or 6 digits with a known province. */
function validRegionSql(col: Expression<unknown>): Expression<SqlBool> {
  return sql<SqlBool>`(${col} ~ '^([0-9]{2}){1,3}$' AND left(${col}, 2) = ANY(${sql.val(PROVINCES)}::text[]))`
}

/** `regionPrefix`: `PP0000` → `PP`, `PPCC00` → `PPCC`, anything else unchanged. */
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

/**
 * `regionsOnOneBranch(r, col)` for some r of `known` (valid region prefixes), on a column known to hold a valid
 * region code (`warnings.region_code`, checked on the way in).
 */
function onOneBranchOfValidSql(known: string[], col: Expression<unknown>): Expression<SqlBool> {
  if (!known.length) return FALSE
  return sql<SqlBool>`(${sql.join(
    known.map((r) => sql<SqlBool>`${knownCoversSql(r, col)} OR ${colCoversSql(col, r)}`),
    sql` OR `,
  )})`
}

/** The same on a column that may be null or malformed (`events.region_code`): such a value is on no branch. */
function onOneBranchSql(known: string[], col: Expression<unknown>): Expression<SqlBool> {
  if (!known.length) return FALSE
  return sql<SqlBool>`(${col} IS NOT NULL AND ${validRegionSql(col)} AND ${onOneBranchOfValidSql(known, col)})`
}

/** `regionCovers(r, col)` for some r of `known`: a null or malformed value is covered by none. */
function coveredBySql(known: string[], col: Expression<unknown>): Expression<SqlBool> {
  const valid = known.filter(isValidRegionPrefix)
  if (!valid.length) return FALSE
  return sql<SqlBool>`(${col} IS NOT NULL AND ${validRegionSql(col)} AND (${sql.join(
    valid.map((r) => knownCoversSql(r, col)),
    sql` OR `,
  )}))`
}

// ---------------------------------------------------------------------------------------------
// Events and warnings

/** `mayReadEvent` as a SQL condition on the `events` row aliased `alias`: the pull feed. */
export function eventScopeSql(p: Principal, alias = 'e'): Expression<SqlBool> {
  if (p.role === 'operator') return TRUE
  const col = (c: string) => ref(alias, c)
  const audience = col('audience')
  if (p.role === 'court') {
    const own = p.courtCodes.length ? sql<SqlBool>`${col('court_code')} = ANY(${sql.val(p.courtCodes)}::text[])` : FALSE
    return sql<SqlBool>`((${audience} = 'case' AND ${own}) OR (${audience} IN ('court', 'warning') AND ${onOneBranchSql(regionsOf(p), col('region_code'))}))`
  }
  if (isNational(p)) return sql<SqlBool>`(${audience} IN ('case', 'mediation', 'warning'))`
  const byOrg = p.organizationIds.length ? sql<SqlBool>`${col('organization_id')} = ANY(${sql.val(p.organizationIds)}::text[])` : FALSE
  const caseCond = sql<SqlBool>`(${byOrg} OR ${coveredBySql(p.regionCodes, col('region_code'))})`
  return sql<SqlBool>`((${audience} = 'case' AND ${caseCond}) OR (${audience} IN ('mediation', 'warning') AND ${onOneBranchSql(regionsOf(p), col('region_code'))}))`
}

/** `mayReadWarning` as a SQL condition on `warnings` aliased `alias` (region_code is always a valid 6-digit code). */
export function warningScopeSql(p: Principal, alias = 'w'): Expression<SqlBool> {
  if (p.role === 'operator') return TRUE
  const own = sql<SqlBool>`${ref(alias, 'raised_by_client')} = ${p.clientId}`
  const otherSide = sql<SqlBool>`${ref(alias, 'raised_by_role')} = ${p.role === 'court' ? 'mediation' : 'court'}`
  if (isNational(p)) return sql<SqlBool>`(${own} OR ${otherSide})`
  const regions = regionsOf(p)
  if (!regions.length) return own
  return sql<SqlBool>`(${own} OR (${otherSide} AND ${onOneBranchOfValidSql(regions, ref(alias, 'region_code'))}))`
}
