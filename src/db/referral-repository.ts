import { type CompiledQuery, type Kysely, sql, type SqlBool, type Transaction } from 'kysely'
import type { Principal } from '../domain/principal.js'
import type { Referral, ReferralDoc } from '../domain/referral.js'
import type { ReferralStatus } from '../domain/referral-machine.js'
import { referralScopeSql } from './access-sql.js'
import type { Database, ReferralRow } from './database.js'
import { commitVersioned } from './event-repository.js'
import { rollupIntake, rollupTransition } from './stats-rollup.js'
import { type WriteBatch, writeOrDefer } from './write-batch.js'
import type { EventEnvelope } from '../domain/event-chain.js'

type Db = Kysely<Database> | Transaction<Database>

export function toReferral(r: ReferralRow): Referral {
  return {
    id: r.id,
    version: r.version,
    status: r.status as ReferralStatus,
    referralType: r.referral_type as Referral['referralType'],
    courtCode: r.court_code,
    caseNumber: r.case_number,
    disputeType: r.dispute_type,
    organizationId: r.organization_id,
    heldBy: r.held_by,
    chainHead: r.chain_head,
    doc: r.doc as ReferralDoc,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

/** The unique index that allows one active referral per (court, case number). */
export const ACTIVE_CASE_CONSTRAINT = 'referrals_active_case_uidx'

/** Inserts the referral now, or in `batch`; `onDuplicate` is the error for an active referral of the same case. */
/** A new referral's indexed columns (everything but `doc` and the instants, which single and batch inserts pass differently). */
export function referralColumns(r: Referral) {
  return {
    id: r.id,
    version: r.version,
    status: r.status,
    referral_type: r.referralType,
    court_code: r.courtCode,
    case_number: r.caseNumber,
    dispute_type: r.disputeType,
    organization_id: r.organizationId,
    held_by: r.heldBy,
    acceptance_due_on: r.doc.deadlines.acceptanceDueOn,
    mediation_due_on: r.doc.deadlines.mediationDueOn,
    chain_head: r.chainHead,
  }
}

export async function insertReferral(trx: Transaction<Database>, r: Referral, batch?: WriteBatch, onDuplicate?: () => Error): Promise<void> {
  // The statistics rollup counts it in the same statement (or transaction).
  await rollupIntake(trx, r, batch)
  const q = trx.insertInto('referrals').values({ ...referralColumns(r), doc: JSON.stringify(r.doc), created_at: r.createdAt, updated_at: r.updatedAt })
  if (batch) batch.add(q, onDuplicate ? { onUniqueViolation: { constraint: ACTIVE_CASE_CONSTRAINT, error: onDuplicate } } : {})
  else await q.execute()
}

/**
 * `getReferral`'s statement, compiled on first use and then only given its id: every read of a case runs it, and
 * building it through Kysely's query builder and compiler took about a third of the service's CPU for the query
 * (~40 µs of ~120 µs per read, in-process A/B). The SQL is the dialect's, the same for every Kysely instance.
 */
let referralByIdQuery: CompiledQuery<ReferralRow> | undefined

export async function getReferral(db: Db, id: string): Promise<Referral | undefined> {
  referralByIdQuery ??= db.selectFrom('referrals').selectAll().where('id', '=', id).compile()
  const { rows } = await db.executeQuery<ReferralRow>({ ...referralByIdQuery, parameters: [id] })
  return rows.length ? toReferral(rows[0]) : undefined
}

/** Loads the referral and locks its row until the transaction ends: transitions on one case are serialised. */
export async function lockReferral(trx: Transaction<Database>, id: string): Promise<Referral | undefined> {
  const row = await trx.selectFrom('referrals').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
  return row ? toReferral(row) : undefined
}

export async function saveReferral(trx: Transaction<Database>, r: Referral, batch?: WriteBatch): Promise<void> {
  const q = trx
    .updateTable('referrals')
    .set({
      version: r.version,
      status: r.status,
      organization_id: r.organizationId,
      held_by: r.heldBy,
      acceptance_due_on: r.doc.deadlines.acceptanceDueOn,
      mediation_due_on: r.doc.deadlines.mediationDueOn,
      chain_head: r.chainHead,
      doc: JSON.stringify(r.doc),
      updated_at: r.updatedAt,
    })
    .where('id', '=', r.id)
  await writeOrDefer(q, batch)
}

export async function insertPartyIndex(trx: Transaction<Database>, subjectId: string, hashes: string[], batch?: WriteBatch): Promise<void> {
  const unique = [...new Set(hashes)]
  if (!unique.length) return
  await writeOrDefer(
    trx
      .insertInto('party_index')
      .values(unique.map((h) => ({ subject_id: subjectId, id_hash: h })))
      .onConflict((oc) => oc.doNothing()),
    batch,
  )
}

/** Organization ids and region codes of the organizations that ever held the referral. */
export async function holderRegions(db: Db, heldBy: string[]): Promise<Array<{ id: string; regionCode: string }>> {
  if (!heldBy.length) return []
  // One array parameter: the statement's text (and its prepared plan) is the same for any number of ids, which a list
  // page's holders need (referral-service.ts list).
  const rows = await db
    .selectFrom('organizations')
    .select(['id', 'region_code'])
    .where(sql<SqlBool>`id = ANY(${sql.val(heldBy)}::text[])`)
    .execute()
  const known = new Map(rows.map((r) => [r.id, r.region_code]))
  return heldBy.map((id) => ({ id, regionCode: known.get(id) ?? '' }))
}

export interface ReferralFilters {
  status?: string
  courtCode?: string
  organizationId?: string
  disputeType?: string
  updatedSince?: string
  partyIdHash?: string
  /** Exact 案号, in its stored (normalised) form. */
  caseNumber?: string
  afterId?: string
  limit: number
}

/** Lists referrals the principal may read (`referralStanding(…).read`), keyset-paginated by id (UUIDv7: creation order). */
export async function listReferrals(db: Db, p: Principal, f: ReferralFilters): Promise<Referral[]> {
  let q = db.selectFrom('referrals as r').where(referralScopeSql(p, 'r'))
  if (f.status) q = q.where('r.status', '=', f.status)
  if (f.courtCode) q = q.where('r.court_code', '=', f.courtCode)
  if (f.organizationId) q = q.where('r.organization_id', '=', f.organizationId)
  if (f.disputeType) q = q.where('r.dispute_type', '=', f.disputeType)
  if (f.caseNumber) q = q.where('r.case_number', '=', f.caseNumber)
  if (f.updatedSince) q = q.where('r.updated_at', '>=', new Date(f.updatedSince))
  if (f.partyIdHash) {
    const hash = f.partyIdHash
    q = q.where((eb) =>
      eb.exists(eb.selectFrom('party_index as pi').select('pi.subject_id').whereRef('pi.subject_id', '=', 'r.id').where('pi.id_hash', '=', hash)),
    )
  }
  if (f.afterId) q = q.where('r.id', '>', f.afterId)
  if (f.updatedSince && Date.now() - new Date(f.updatedSince).getTime() <= RECENT_UPDATES_MS) {
    // What changed since a recent moment is few rows, but they sit at the end of the id order (ids follow creation):
    // walking the primary key and filtering read 765,415 rows at 1,000,000 referrals (bench/results/scale-plans.md).
    // Filtering first (referrals_court_updated_id_idx, referrals_updated_idx), then ordering the few, reads only them;
    // and only their ids: the page's rows are read once it is cut (a court's week was 13,365 whole rows copied to
    // keep 51; migrations/0016_stats_rollup.ts). `OFFSET 0` keeps the filter a subquery of its own, planned on its
    // own (PostgreSQL does not pull up a subquery with an OFFSET), without the tuplestore a materialized CTE copies
    // every matching id into (pgbench: 6.0 against 7.2 ms a page).
    const rows = await db
      .selectFrom('referrals')
      .selectAll()
      .where('id', 'in', (eb) => eb.selectFrom(q.select('r.id').offset(0).as('recent')).select('recent.id').orderBy('recent.id').limit(f.limit))
      .orderBy('id')
      .execute()
    return rows.map(toReferral)
  }
  const rows = await q.selectAll('r').orderBy('r.id').limit(f.limit).execute()
  return rows.map(toReferral)
}

/**
 * `updatedSince` within this window is a synchronising client's "what changed since my last poll": filtered first.
 * An older one may match most of the caller's referrals, which the id order serves better.
 */
const RECENT_UPDATES_MS = 31 * 86_400_000

export interface TransitionCommit {
  before: Referral
  after: Referral
  eventType: string
  actor: EventEnvelope['actor']
  eventData: unknown
  /** The region of the organization holding the case after the transition (event read scope). */
  holderRegion: string | null
  now: Date
  batch?: WriteBatch
}

/**
 * Writes a transition: the new state with its version bumped, and its one event (hash-chained, in the outbox),
 * in the caller's transaction (contract §2: the state change, the version bump and its event are one). Every
 * referral transition goes through here, so here the statistics rollup follows it (db/stats-rollup.ts), before the
 * writes: it reads the case's stored history as it was.
 */
export async function commitTransition(trx: Transaction<Database>, c: TransitionCommit): Promise<Referral> {
  const event = {
    type: c.eventType,
    occurredAt: c.now,
    sequence: c.before.version + 1,
    organizationId: c.after.organizationId,
    regionCode: c.holderRegion,
    data: c.eventData,
  }
  await rollupTransition(trx, c.before, c.after, event, c.batch)
  return commitVersioned(trx, {
    ...c,
    subjectKind: 'referral',
    scope: { courtCode: c.after.courtCode, organizationId: c.after.organizationId, regionCode: c.holderRegion },
    save: saveReferral,
  })
}

/** Referrals whose acceptance or mediation deadline has passed as of `today` (Asia/Shanghai). */
export async function findOverdue(db: Db, today: string, limit: number): Promise<Array<{ id: string; kind: 'acceptance' | 'mediation' }>> {
  const a = await db.selectFrom('referrals').select('id').where('status', '=', 'referred').where('acceptance_due_on', '<', today).limit(limit).execute()
  const m = await db.selectFrom('referrals').select('id').where('status', '=', 'mediating').where('mediation_due_on', '<', today).limit(limit).execute()
  return [...a.map((r) => ({ id: r.id, kind: 'acceptance' as const })), ...m.map((r) => ({ id: r.id, kind: 'mediation' as const }))]
}
