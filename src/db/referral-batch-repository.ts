import { sql, type Transaction } from 'kysely'
import type { EventEnvelope } from '../domain/event-chain.js'
import type { Organization } from '../domain/organization.js'
import type { Referral } from '../domain/referral.js'
import { jsonBytes } from '../json-bytes.js'
import type { Database } from './database.js'
import type { StoredResponse } from './idempotency-repository.js'
import { toOrganization } from './organization-repository.js'
import { referralColumns } from './referral-repository.js'
import { intakeContributionSql, upsertsSql } from './stats-rollup.js'

/**
 * The batch intake's reads and its one write (POST /v1/referrals/batch): whatever N single intakes would read one by
 * one is read here in one statement each, and everything they would write goes into ONE multi-row statement.
 */

type Trx = Transaction<Database>

/** The statuses that free a 案号 for a new referral: the predicate of the unique index referrals_active_case_uidx (migration 0011). */
const CLOSED_STATUSES = ['case_registered', 'trial_resumed', 'closed', 'recalled'] as const

const caseKey = (courtCode: string, caseNumber: string) => `${courtCode}\u0000${caseNumber}`

/** The (court, 案号) pairs among `pairs` that an active referral already holds, as {@link caseKey}s. */
export async function activeCaseKeys(trx: Trx, pairs: ReadonlyArray<{ courtCode: string; caseNumber: string }>): Promise<Set<string>> {
  if (!pairs.length) return new Set()
  const r = await sql<{ court_code: string; case_number: string }>`
    SELECT r.court_code, r.case_number FROM referrals r
    JOIN unnest(${pairs.map((p) => p.courtCode)}::text[], ${pairs.map((p) => p.caseNumber)}::text[]) AS q(court_code, case_number)
      ON r.court_code = q.court_code AND r.case_number = q.case_number
    WHERE r.status NOT IN (${sql.join(CLOSED_STATUSES.map((s) => sql.lit(s)))})`.execute(trx)
  return new Set(r.rows.map((x) => caseKey(x.court_code, x.case_number)))
}

export { caseKey }

/** The organizations of `ids` that exist, by id. */
export async function organizationsById(trx: Trx, ids: readonly string[]): Promise<Map<string, Organization>> {
  const unique = [...new Set(ids)]
  if (!unique.length) return new Map()
  const rows = await trx.selectFrom('organizations').selectAll().where('id', 'in', unique).execute()
  return new Map(rows.map((r) => [r.id, toOrganization(r)]))
}

/** One intake as the batch writes it. */
export interface IntakeRows {
  referral: Referral
  hashes: string[]
  event: { envelope: EventEnvelope; hash: string; prevHash: string; scope: { courtCode: string; organizationId: string; regionCode: string } }
  access: { clientId: string; fields: string[]; requestId: string }
  /** The item's stored answer under its own Idempotency-Key (personal data masked, with its subject). */
  stored: { clientId: string; key: string; answer: StoredResponse }
}

/**
 * Writes every intake of a batch in ONE statement: the referrals (multi-row, `ON CONFLICT DO NOTHING`), and, for
 * the referrals actually inserted only, their first events, outbox rows, party blind-index rows, access-trail rows,
 * stored idempotent answers and statistics counters, each table one multi-row insert (data-modifying CTEs reading the referrals'
 * `RETURNING`). Returns the ids of the referrals inserted: one missing means another transaction took its 案号
 * after the batch checked it (referrals_active_case_uidx), and nothing of that intake was written.
 */
export async function insertIntakes(trx: Trx, intakes: readonly IntakeRows[]): Promise<Set<string>> {
  if (!intakes.length) return new Set()
  const referrals = intakes.map(({ referral: r }) => ({
    ...referralColumns(r),
    doc: r.doc,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  }))
  const events = intakes.map(({ event: { envelope: e, hash, prevHash, scope } }) => ({
    id: e.id,
    type: e.type,
    occurred_at: e.occurredAt,
    subject_kind: e.subject.kind,
    subject_id: e.subject.id,
    sequence: e.sequence,
    case_version: e.caseVersion,
    actor: e.actor,
    data: e.data,
    court_code: scope.courtCode,
    organization_id: scope.organizationId,
    region_code: scope.regionCode,
    prev_hash: prevHash,
    hash,
  }))
  // What the statistics rollup reads of each new referral (the doc is not parsed a second time for it).
  const counted = intakes.map(({ referral: r }) => ({
    id: r.id,
    created_at: r.createdAt.toISOString(),
    court_code: r.courtCode,
    dispute_type: r.disputeType,
    status: r.status,
    organization_id: r.organizationId,
    held_by: r.heldBy,
  }))
  const rollup = upsertsSql('st').map((u, i) => sql`${sql.raw(`s${i}`)} AS (${u})`)
  const parties = intakes.flatMap(({ referral, hashes }) => [...new Set(hashes)].map((h) => ({ subject_id: referral.id, id_hash: h })))
  const access = intakes.map(({ referral, access: a }) => ({ client_id: a.clientId, subject_id: referral.id, fields: a.fields, request_id: a.requestId }))
  const stored = intakes.map(({ referral, stored: { clientId, key, answer } }) => ({
    client_id: clientId,
    key,
    request_hash: answer.requestHash,
    response_status: answer.status,
    response_body: answer.body,
    response_headers: answer.headers,
    subject_kind: answer.subject?.kind ?? null,
    subject_id: answer.subject?.id ?? null,
    personal_paths: answer.subject?.paths ?? null,
    referral_id: referral.id,
  }))
  // The referrals, events and stored answers (Chinese text, ~1.5–3 KB an item) go as UTF-8 bytes built item by item
  // (json-bytes.ts): one JSON string of 100 of them would be a large two-byte string, faulted in page by page.
  const r = await sql<{ id: string }>`
    WITH r AS (
      INSERT INTO referrals (id, version, status, referral_type, court_code, case_number, dispute_type, organization_id, held_by,
                             acceptance_due_on, mediation_due_on, chain_head, doc, created_at, updated_at)
      SELECT id, version, status, referral_type, court_code, case_number, dispute_type, organization_id, held_by,
             acceptance_due_on, mediation_due_on, chain_head, doc, created_at, updated_at
      FROM json_populate_recordset(null::referrals, ${jsonBytes(referrals)}::json)
      -- One order for every batch: two batches contending for the same 案号 wait on each other, never in a cycle.
      ORDER BY court_code, case_number
      ON CONFLICT DO NOTHING
      RETURNING id
    ), ev AS (
      INSERT INTO events (id, type, occurred_at, subject_kind, subject_id, sequence, case_version, actor, data, court_code, organization_id,
                          region_code, prev_hash, hash)
      SELECT e.id, e.type, e.occurred_at, e.subject_kind, e.subject_id, e.sequence, e.case_version, e.actor, e.data, e.court_code,
             e.organization_id, e.region_code, e.prev_hash, e.hash
      FROM json_populate_recordset(null::events, ${jsonBytes(events)}::json) WITH ORDINALITY AS e
      WHERE e.subject_id IN (SELECT id FROM r)
      ORDER BY e.ordinality
      RETURNING pos
    ), ob AS (
      INSERT INTO outbox (event_pos) SELECT pos FROM ev
    ), pi AS (
      INSERT INTO party_index (subject_id, id_hash)
      SELECT p.subject_id, p.id_hash FROM json_populate_recordset(null::party_index, ${JSON.stringify(parties)}::json) AS p
      WHERE p.subject_id IN (SELECT id FROM r)
      ON CONFLICT DO NOTHING
    ), al AS (
      INSERT INTO access_log (client_id, subject_id, fields, request_id)
      SELECT a.client_id, a.subject_id, a.fields, a.request_id FROM json_populate_recordset(null::access_log, ${JSON.stringify(access)}::json) AS a
      WHERE a.subject_id IN (SELECT id FROM r)
    ), ik AS (
      INSERT INTO idempotency_keys (client_id, key, request_hash, response_status, response_body, response_headers, subject_kind, subject_id, personal_paths)
      SELECT k.client_id, k.key, k.request_hash, k.response_status, k.response_body, k.response_headers, k.subject_kind, k.subject_id, k.personal_paths
      FROM json_to_recordset(${jsonBytes(stored)}::json) AS k(client_id uuid, key text, request_hash text, response_status integer,
        response_body text, response_headers jsonb, subject_kind text, subject_id uuid, personal_paths jsonb, referral_id uuid)
      WHERE k.referral_id IN (SELECT id FROM r)
    ), st AS (
      -- The statistics rollup: the inserted referrals' counters, one upsert per table (db/stats-rollup.ts).
      ${intakeContributionSql(JSON.stringify(counted), sql`SELECT id FROM r`)}
    ), ${sql.join(rollup)}
    SELECT id FROM r`.execute(trx)
  return new Set(r.rows.map((x) => x.id))
}
