import type { Kysely, Transaction } from 'kysely'
import { regionPrefix } from '../domain/identifiers.js'
import type { Principal } from '../domain/principal.js'
import { warningScopeSql } from './access-sql.js'
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

/** The rule lives in domain/access.ts; re-exported for src/http/warnings.ts, which still imports it from here. */

export interface WarningFilters {
  level?: string
  regionCode?: string
  disputeType?: string
  since?: string
  afterId?: string
  limit: number
}

/** The warnings the principal may read (`mayReadWarning`), oldest first, keyset-paginated by id (UUIDv7: creation order). */
export async function listWarnings(db: Db, p: Principal, f: WarningFilters): Promise<Warning[]> {
  let q = db.selectFrom('warnings as w').selectAll('w').where(warningScopeSql(p, 'w'))
  if (f.level) q = q.where('w.level', '=', f.level)
  if (f.regionCode) q = q.where('w.region_code', 'like', `${regionPrefix(f.regionCode)}%`)
  if (f.disputeType) q = q.where('w.dispute_type', '=', f.disputeType)
  if (f.since) q = q.where('w.created_at', '>=', new Date(f.since))
  if (f.afterId) q = q.where('w.id', '>', f.afterId)
  const rows = await q.orderBy('w.id').limit(f.limit).execute()
  return rows.map(toWarning)
}
