import { type Kysely, sql, type Transaction } from 'kysely'
import { regionPrefix } from '../domain/identifiers.js'
import type { Organization, OrganizationKind } from '../domain/organization.js'
import type { Principal } from '../domain/principal.js'
import { orgScopeSql } from './access-sql.js'
import type { Database, OrganizationRow } from './database.js'
import { rollupRegionChange } from './stats-rollup.js'

type Db = Kysely<Database> | Transaction<Database>

export function toOrganization(r: OrganizationRow): Organization {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind as OrganizationKind,
    regionCode: r.region_code,
    uscc: r.uscc,
    disputeTypes: r.dispute_types,
    fullTimeMediators: r.full_time_mediators,
    rosters: { ministry: r.ministry_roster, courtSpecial: r.court_special },
    active: r.active,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

export async function getOrganization(db: Db, id: string): Promise<Organization | undefined> {
  const row = await db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? toOrganization(row) : undefined
}

export type OrganizationInput = Omit<Organization, 'version' | 'createdAt' | 'updatedAt'>

/**
 * Creates or replaces, with no rule on who may change what (seeding and tests; the API locks, checks, then inserts or
 * updates); `created` tells which.
 */
export async function upsertOrganization(trx: Transaction<Database>, o: OrganizationInput): Promise<{ org: Organization; created: boolean }> {
  const values = { id: o.id, ...organizationValues(o) }
  // A region that changes moves the organization's referrals between groups of the region statistics.
  const row = await rollupRegionChange(trx, o.id, o.regionCode, () =>
    trx
      .insertInto('organizations')
      .values(values)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          ...values,
          version: sql`organizations.version + 1`,
          updated_at: sql`now()`,
        }),
      )
      .returningAll()
      .returning(sql<boolean>`(xmax = 0)`.as('inserted'))
      .executeTakeFirstOrThrow(),
  )
  return { org: toOrganization(row), created: row.inserted }
}

/** Reads an organization and locks its row until the end of the transaction (undefined when there is none). */
export async function lockOrganization(trx: Transaction<Database>, id: string): Promise<Organization | undefined> {
  const row = await trx.selectFrom('organizations').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
  return row ? toOrganization(row) : undefined
}

function organizationValues(o: OrganizationInput) {
  return {
    name: o.name,
    kind: o.kind,
    region_code: o.regionCode,
    uscc: o.uscc,
    dispute_types: o.disputeTypes,
    full_time_mediators: o.fullTimeMediators,
    ministry_roster: o.rosters.ministry,
    court_special: o.rosters.courtSpecial,
    active: o.active,
  }
}

/** Creates an organization unless one with its id exists (then undefined: lock and update that one instead). */
export async function insertOrganization(trx: Transaction<Database>, o: OrganizationInput): Promise<Organization | undefined> {
  const row = await trx
    .insertInto('organizations')
    .values({ id: o.id, ...organizationValues(o) })
    .onConflict((oc) => oc.column('id').doNothing())
    .returningAll()
    .executeTakeFirst()
  return row ? toOrganization(row) : undefined
}

/** Replaces an existing organization's attributes, bumping its version. */
export async function updateOrganization(trx: Transaction<Database>, o: OrganizationInput): Promise<Organization> {
  // A region that changes moves the organization's referrals between groups of the region statistics.
  const row = await rollupRegionChange(trx, o.id, o.regionCode, () =>
    trx
      .updateTable('organizations')
      .set({ ...organizationValues(o), version: sql`version + 1`, updated_at: sql`now()` })
      .where('id', '=', o.id)
      .returningAll()
      .executeTakeFirstOrThrow(),
  )
  return toOrganization(row)
}

/**
 * Puts an organization on court `courtCode`'s special roster (`on`) or takes it off, in one statement; the version
 * and `updatedAt` move only when the roster changes. Undefined when there is no such organization.
 */
export async function setOnCourtRoster(db: Db, id: string, courtCode: string, on: boolean): Promise<Organization | undefined> {
  const changed = await db
    .updateTable('organizations')
    .set({
      court_special: on ? sql`array_append(court_special, ${courtCode}::text)` : sql`array_remove(court_special, ${courtCode}::text)`,
      version: sql`version + 1`,
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .where(on ? sql<boolean>`NOT (${courtCode}::text = ANY(court_special))` : sql<boolean>`${courtCode}::text = ANY(court_special)`)
    .returningAll()
    .executeTakeFirst()
  return changed ? toOrganization(changed) : getOrganization(db, id)
}

export interface OrganizationFilters {
  regionCode?: string
  disputeType?: string
  courtCode?: string
  roster?: 'ministry' | 'court_special'
  afterId?: string
  limit: number
  activeOnly?: boolean
}

export async function listOrganizations(db: Db, f: OrganizationFilters, scope?: Principal): Promise<Organization[]> {
  let q = db.selectFrom('organizations as o').selectAll('o')
  if (scope?.role === 'mediation') q = q.where(orgScopeSql(scope, sql.ref('o.id'), false))
  if (f.regionCode) q = q.where('o.region_code', 'like', `${regionPrefix(f.regionCode)}%`)
  if (f.disputeType) q = q.where(sql<boolean>`${f.disputeType} = ANY(o.dispute_types)`)
  if (f.courtCode) q = q.where(sql<boolean>`o.court_special && ${sql.val([f.courtCode, [...f.courtCode][0]])}::text[]`)
  if (f.roster === 'ministry') q = q.where('o.ministry_roster', '=', true)
  if (f.roster === 'court_special') q = q.where(sql<boolean>`cardinality(o.court_special) > 0`)
  if (f.activeOnly) q = q.where('o.active', '=', true)
  if (f.afterId) q = q.where('o.id', '>', f.afterId)
  const rows = await q.orderBy('o.id').limit(f.limit).execute()
  return rows.map(toOrganization)
}
