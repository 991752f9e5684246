import { type Kysely, sql, type SqlBool, type Transaction } from 'kysely'
import { regionPrefix } from '../domain/identifiers.js'
import { designatableRosters } from '../domain/organization.js'
import { coveringRegionCodes, type RoutingCandidate } from '../domain/routing.js'
import type { Database } from './database.js'
import { toOrganization } from './organization-repository.js'

type Db = Kysely<Database> | Transaction<Database>

/** More candidates than this are not ranked (a whole province's village committees for a province-wide query). */
export const MAX_ROUTING_CANDIDATES = 10_000

/**
 * The organizations worth ranking for a court and a region: active, on a roster the court may designate from or
 * on the ministry roster, and either on the same branch of the region tree as the dispute or on the court's
 * special roster. A superset of what `rankOrganizations` keeps (it applies the same rules again, exactly).
 * Served by organizations_region_idx (prefix LIKE and equality) and organizations_court_special_idx (&&).
 */
export async function routingCandidates(db: Db, courtCode: string, region: string | null): Promise<RoutingCandidate[]> {
  const rosters = designatableRosters(courtCode)
  const onRoster = sql<SqlBool>`(o.ministry_roster OR o.court_special && ${sql.val(rosters)}::text[])`
  let q = db.selectFrom('organizations as o').selectAll('o').where('o.active', '=', true).where(onRoster)
  if (region !== null) {
    q = q.where(
      sql<SqlBool>`(o.region_code LIKE ${`${regionPrefix(region)}%`} OR o.region_code = ANY(${sql.val(coveringRegionCodes(region))}::text[]) OR o.court_special && ${sql.val(rosters)}::text[])`,
    )
  }
  const rows = await q.orderBy('o.id').limit(MAX_ROUTING_CANDIDATES).execute()
  return rows.map(toOrganization)
}
