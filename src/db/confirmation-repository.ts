import { type Kysely, sql, type Transaction } from 'kysely'
import type { Confirmation, ConfirmationDoc, ConfirmationStatus, ConfirmationSubject } from '../domain/confirmation.js'
import type { EventEnvelope } from '../domain/event-chain.js'
import type { Principal } from '../domain/principal.js'
import { confirmationScopeSql } from './access-sql.js'
import type { Database, JudicialConfirmationRow } from './database.js'
import { commitVersioned } from './event-repository.js'
import { rollupConfirmation } from './stats-rollup.js'
import { type WriteBatch, writeOrDefer } from './write-batch.js'

type Db = Kysely<Database> | Transaction<Database>

export function toConfirmation(r: JudicialConfirmationRow): Confirmation {
  return {
    id: r.id,
    version: r.version,
    status: r.status as ConfirmationStatus,
    referralId: r.referral_id,
    courtCode: r.court_code,
    organizationId: r.organization_id,
    subject: r.subject as ConfirmationSubject,
    late: r.late,
    caseNumber: r.case_number,
    reviewDueOn: r.review_due_on,
    agreementSha256: r.agreement_sha256,
    chainHead: r.chain_head,
    doc: r.doc as ConfirmationDoc,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

/** Inserts a new application. A second live application for one referral violates a unique index (23505). */
export async function insertConfirmation(trx: Transaction<Database>, c: Confirmation): Promise<void> {
  // The statistics rollup counts the application (of a referral) in the same transaction.
  await rollupConfirmation(trx, undefined, c)
  await trx
    .insertInto('judicial_confirmations')
    .values({
      id: c.id,
      version: c.version,
      status: c.status,
      referral_id: c.referralId,
      court_code: c.courtCode,
      organization_id: c.organizationId,
      subject: c.subject,
      late: c.late,
      applied_at: c.doc.appliedAt,
      case_number: c.caseNumber,
      review_due_on: c.reviewDueOn,
      agreement_sha256: c.agreementSha256,
      chain_head: c.chainHead,
      doc: JSON.stringify(c.doc),
      created_at: c.createdAt,
      updated_at: c.updatedAt,
    })
    .execute()
}

export async function getConfirmation(db: Db, id: string): Promise<Confirmation | undefined> {
  const row = await db.selectFrom('judicial_confirmations').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? toConfirmation(row) : undefined
}

/** Loads the application and locks its row until the transaction ends: decisions on one application are serialised. */
export async function lockConfirmation(trx: Transaction<Database>, id: string): Promise<Confirmation | undefined> {
  const row = await trx.selectFrom('judicial_confirmations').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
  return row ? toConfirmation(row) : undefined
}

/**
 * The states in which an application is live (pending, ruled valid, or its ruling under objection): another
 * application for the same referral would ask the court the same question twice. Migration 0012's unique index
 * holds the same list.
 */
export const LIVE_STATUSES: readonly ConfirmationStatus[] = ['applied', 'under_review', 'materials_requested', 'ruled_valid', 'objection_filed']

/** The live application of a referral, if any. */
export async function findLiveConfirmation(db: Db, referralId: string): Promise<{ id: string; status: string } | undefined> {
  return db
    .selectFrom('judicial_confirmations')
    .select(['id', 'status'])
    .where('referral_id', '=', referralId)
    .where('status', 'in', [...LIVE_STATUSES])
    .executeTakeFirst()
}

/**
 * Applications whose ordered materials (民诉法解释 354) were not supplied by the end of their `dueOn`, as of
 * `today` (Asia/Shanghai): the deemed-withdrawal sweep's candidates (357), oldest first.
 */
export async function findSupplementOverdue(db: Db, today: string, limit: number): Promise<Array<{ id: string }>> {
  return db
    .selectFrom('judicial_confirmations')
    .select('id')
    .where('status', '=', 'materials_requested')
    .where(sql<string>`doc #>> '{requestedMaterials,dueOn}'`, '<', today)
    .orderBy('id')
    .limit(limit)
    .execute()
}

/** Copies a referral's blind-index entries to the application made from it, so both answer an ID-number search. */
export async function copyPartyIndex(trx: Transaction<Database>, fromSubject: string, toSubject: string): Promise<void> {
  await sql`
    INSERT INTO party_index (subject_id, id_hash)
    SELECT ${toSubject}::uuid, id_hash FROM party_index WHERE subject_id = ${fromSubject}::uuid
    ON CONFLICT DO NOTHING
  `.execute(trx)
}

async function saveConfirmation(trx: Transaction<Database>, c: Confirmation, batch?: WriteBatch): Promise<void> {
  const q = trx
    .updateTable('judicial_confirmations')
    .set({
      version: c.version,
      status: c.status,
      case_number: c.caseNumber,
      review_due_on: c.reviewDueOn,
      chain_head: c.chainHead,
      doc: JSON.stringify(c.doc),
      updated_at: c.updatedAt,
    })
    .where('id', '=', c.id)
  await writeOrDefer(q, batch)
}

export interface ConfirmationFilters {
  status?: string
  courtCode?: string
  organizationId?: string
  referralId?: string
  /** Exact 司法确认案号, in its stored (normalised) form. */
  caseNumber?: string
  /** true: under review past reviewDueOn as of `today`; false: everything else. */
  overdue?: boolean
  today: string
  afterId?: string
  limit: number
}

/**
 * Lists the applications the principal may read (`confirmationStanding(…).read`), keyset-paginated by id (UUIDv7:
 * creation order). Courts see their court codes; mediation clients their organizations (by id or region); operators
 * everything.
 */
export async function listConfirmations(db: Db, p: Principal, f: ConfirmationFilters): Promise<Confirmation[]> {
  let q = db.selectFrom('judicial_confirmations as c').selectAll('c').where(confirmationScopeSql(p, 'c'))
  if (f.status) q = q.where('c.status', '=', f.status)
  if (f.courtCode) q = q.where('c.court_code', '=', f.courtCode)
  if (f.organizationId) q = q.where('c.organization_id', '=', f.organizationId)
  if (f.referralId) q = q.where('c.referral_id', '=', f.referralId)
  if (f.caseNumber) q = q.where('c.case_number', '=', f.caseNumber)
  if (f.overdue === true) q = q.where('c.status', '=', 'under_review').where('c.review_due_on', '<', f.today)
  if (f.overdue === false) {
    const today = f.today
    q = q.where((eb) => eb.or([eb('c.status', '<>', 'under_review'), eb('c.review_due_on', 'is', null), eb('c.review_due_on', '>=', today)]))
  }
  if (f.afterId) q = q.where('c.id', '>', f.afterId)
  const rows = await q.orderBy('c.id').limit(f.limit).execute()
  return rows.map(toConfirmation)
}

export interface ConfirmationCommit {
  before: Confirmation
  after: Confirmation
  eventType: string
  actor: EventEnvelope['actor']
  eventData: unknown
  /** The region of the organization concerned (event read scope). */
  organizationRegion: string | null
  now: Date
  batch?: WriteBatch
}

/**
 * Writes a decision: the new state with its version bumped and its one hash-chained event, in the caller's
 * transaction (the state change, the version bump and the event are one). The statistics rollup follows every
 * decision here (db/stats-rollup.ts), before the writes.
 */
export async function commitConfirmationTransition(trx: Transaction<Database>, c: ConfirmationCommit): Promise<Confirmation> {
  await rollupConfirmation(trx, c.before, c.after, c.batch)
  return commitVersioned(trx, {
    ...c,
    subjectKind: 'judicial_confirmation',
    scope: { courtCode: c.after.courtCode, organizationId: c.after.organizationId, regionCode: c.organizationRegion, audience: 'case' },
    save: saveConfirmation,
  })
}
