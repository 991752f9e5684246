import type { Kysely, Transaction } from 'kysely'
import { regionPrefix } from '../domain/identifiers.js'
import type { Principal } from '../domain/principal.js'
import type { WarningLevel, WarningStatus } from '../domain/warning.js'
import { warningScopeSql } from './access-sql.js'
import type { Database, WarningActorJson, WarningFollowUpJson, WarningRow } from './database.js'
import type { WriteBatch } from './write-batch.js'

type Db = Kysely<Database> | Transaction<Database>

export type { WarningLevel } from '../domain/warning.js'

export type WarningActor = WarningActorJson
export type WarningFollowUp = WarningFollowUpJson

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
  /** The lifecycle (contract §5 v1.1); version = the sequence of the warning's last event. */
  status: WarningStatus
  version: number
  updatedAt: Date
  acknowledgementDueAt: Date
  /** When the one warning.overdue event was written; null while it was not. */
  overdueAt: Date | null
  acknowledgement: { at: Date; by: WarningActor; note: string | null } | null
  followUps: WarningFollowUp[]
  closure: { at: Date; by: WarningActor; report: string } | null
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
    status: r.status,
    version: r.version,
    updatedAt: r.updated_at,
    acknowledgementDueAt: r.ack_due_at,
    overdueAt: r.overdue_at,
    acknowledgement: r.acknowledged_at && r.acknowledged_by ? { at: r.acknowledged_at, by: r.acknowledged_by, note: r.acknowledgement_note } : null,
    followUps: r.follow_ups,
    closure: r.closed_at && r.closed_by ? { at: r.closed_at, by: r.closed_by, report: r.closure_report ?? '' } : null,
  }
}

/** The lifecycle columns of a warning (everything that changes after it was raised). */
function lifecycleColumns(w: Warning) {
  return {
    status: w.status,
    version: w.version,
    chain_head: w.chainHead,
    updated_at: w.updatedAt,
    overdue_at: w.overdueAt,
    acknowledged_at: w.acknowledgement?.at ?? null,
    acknowledged_by: w.acknowledgement ? JSON.stringify(w.acknowledgement.by) : null,
    acknowledgement_note: w.acknowledgement?.note ?? null,
    follow_ups: JSON.stringify(w.followUps),
    closed_at: w.closure?.at ?? null,
    closed_by: w.closure ? JSON.stringify(w.closure.by) : null,
    closure_report: w.closure?.report ?? null,
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
      created_at: w.createdAt,
      ack_due_at: w.acknowledgementDueAt,
      ...lifecycleColumns(w),
    })
    .execute()
}

export async function getWarning(db: Db, id: string): Promise<Warning | undefined> {
  const row = await db.selectFrom('warnings').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? toWarning(row) : undefined
}

/** The warning, locked for a transition (FOR UPDATE: racing acknowledgements and timers take turns). */
export async function lockWarning(trx: Transaction<Database>, id: string): Promise<Warning | undefined> {
  const row = await trx.selectFrom('warnings').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
  return row ? toWarning(row) : undefined
}

/** Writes a transition's new lifecycle state (the warning's raised fields never change), or defers it to `batch`. */
export async function saveWarning(trx: Transaction<Database>, w: Warning, batch?: WriteBatch): Promise<void> {
  const q = trx.updateTable('warnings').set(lifecycleColumns(w)).where('id', '=', w.id)
  if (batch) batch.add(q)
  else await q.execute()
}

/**
 * Warnings whose acknowledgement is overdue at `now` and not yet marked (warnings_ack_due_idx), most overdue first.
 * A candidate list only: the timer re-checks each on the locked row.
 */
export async function findAcknowledgementOverdue(db: Db, now: Date, limit: number): Promise<Array<{ id: string }>> {
  return db
    .selectFrom('warnings')
    .select('id')
    .where('status', '=', 'raised')
    .where('overdue_at', 'is', null)
    .where('ack_due_at', '<=', now)
    .orderBy('ack_due_at')
    .limit(limit)
    .execute()
}

export interface WarningFilters {
  level?: string
  status?: string
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
  if (f.status) q = q.where('w.status', '=', f.status as Warning['status'])
  if (f.regionCode) q = q.where('w.region_code', 'like', `${regionPrefix(f.regionCode)}%`)
  if (f.disputeType) q = q.where('w.dispute_type', '=', f.disputeType)
  if (f.since) q = q.where('w.created_at', '>=', new Date(f.since))
  if (f.afterId) q = q.where('w.id', '>', f.afterId)
  const rows = await q.orderBy('w.id').limit(f.limit).execute()
  return rows.map(toWarning)
}
