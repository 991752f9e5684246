import { type Kysely, type Selectable, sql, type SqlBool, type Transaction } from 'kysely'
import { uuidv7 } from 'uuidv7'
import type { Database, DeliveryAttemptRow, DeliveryRow, EventRow, SubscriptionRow } from './database.js'
import { type Subscription, toSubscription } from './subscription-repository.js'
import { PLAN_EACH_TIME } from './connection.js'

type Db = Kysely<Database> | Transaction<Database>

// ---------------------------------------------------------------------------------------------
// Outbox and fan-out

/**
 * Takes up to `limit` outbox rows, oldest first, and deletes them in the caller's transaction; rows another
 * relay holds are skipped rather than waited for, so several relays share the work. Returns their events.
 * A rollback puts the rows back.
 */
export async function takeOutboxBatch(trx: Transaction<Database>, limit: number): Promise<EventRow[]> {
  // One round trip: the rows taken and their events. Planned each time, like the delivery claim: a generic plan
  // made while events held a few hundred rows joined them by a sequential scan of events (50 ms per batch once
  // tens of thousands were there, the relay's whole delay in the bench's end-to-end runs).
  const r = await sql<EventRow>`${sql.raw(PLAN_EACH_TIME)}
    WITH taken AS (
      DELETE FROM outbox WHERE event_pos IN (
        SELECT event_pos FROM outbox ORDER BY event_pos LIMIT ${limit} FOR UPDATE SKIP LOCKED
      ) RETURNING event_pos
    )
    SELECT e.* FROM events e JOIN taken t ON e.pos = t.event_pos ORDER BY e.pos`.execute(trx)
  return r.rows
}

export interface NewDelivery {
  subscriptionId: string
  event: EventRow
  /** Created already dead (its subscription is disabled): kept so that a later recovery can re-send it. */
  deadReason?: string
}

export interface CreatedDelivery {
  id: string
  subscriptionId: string
  status: 'pending' | 'dead'
}

/** Inserts one delivery per (subscription, event); a pair that already has one is left alone. */
export async function insertDeliveries(trx: Transaction<Database>, items: NewDelivery[], now = new Date()): Promise<CreatedDelivery[]> {
  if (!items.length) return []
  const out: CreatedDelivery[] = []
  for (let i = 0; i < items.length; i += 500) {
    const rows = await trx
      .insertInto('deliveries')
      .values(
        items.slice(i, i + 500).map((d) => ({
          id: uuidv7(),
          subscription_id: d.subscriptionId,
          event_id: d.event.id,
          event_pos: d.event.pos,
          event_type: d.event.type,
          subject_kind: d.event.subject_kind,
          subject_id: d.event.subject_id,
          sequence: d.event.sequence,
          status: d.deadReason ? ('dead' as const) : ('pending' as const),
          next_attempt_at: now,
          lease_until: null,
          first_attempt_at: null,
          last_attempt_at: null,
          last_status: null,
          last_error: d.deadReason ?? null,
          created_at: now,
          delivered_at: null,
          dead_at: d.deadReason ? now : null,
        })),
      )
      .onConflict((oc) => oc.columns(['subscription_id', 'event_id']).doNothing())
      .returning(['id', 'subscription_id', 'status'])
      .execute()
    for (const r of rows) out.push({ id: r.id, subscriptionId: r.subscription_id, status: r.status as CreatedDelivery['status'] })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Claiming an attempt

export type ClaimResult =
  | ({ kind: 'claimed' } & ClaimedDelivery)
  /** No such delivery, or it is no longer pending: nothing to do. */
  | { kind: 'finished' }
  /** An earlier delivery for the same subscription and subject is still pending (or still being fanned out). */
  | { kind: 'blocked' }
  /** Not due yet, or another attempt holds the lease: try again at `at`. */
  | { kind: 'later'; at: Date }

/** A claimed delivery with what its attempt needs, read in the claiming statement. */
export interface ClaimedDelivery {
  delivery: DeliveryRow
  /** Undefined when the subscription was deleted. */
  subscription: Subscription | undefined
  /** Undefined when the event is missing. */
  event: EventRow | undefined
}

/**
 * A delivery looked up by id, or by subscription and subject (the head-of-line checks), is tested for "pending"
 * through this expression, never `status = 'pending'` itself: that would let the planner pick one of the partial
 * indexes of pending deliveries and filter it for the id or the subject. With statistics taken while few
 * deliveries were pending (the normal state), that plan looks cheaper than the primary key or
 * `deliveries_subject_order_idx`, and during a drain it read the whole pending set for every delivery (the bench
 * measured 4–7 ms of PostgreSQL time per claim, with auto_explain showing "Index Scan using
 * deliveries_pending_order_idx ... Filter: (id = ...)"; EXPLAIN ANALYZE of a head-of-line check, 20,000 rows of
 * deliveries_pending_due_idx read for each delivery checked).
 */
const PENDING = (alias: string) => sql.raw<SqlBool>(`coalesce(${alias}.status, '') = 'pending'`)

/**
 * "No earlier delivery of its subscription and subject is pending", for a pending delivery `alias`: its sequence is
 * the lowest pending one (the statement's snapshot shows the delivery itself pending, so the lowest exists). A
 * scalar subquery rather than NOT EXISTS, so that it is always one probe of deliveries_subject_order_idx per
 * delivery checked and never a join over the whole table; {@link PENDING} keeps the partial indexes out of it.
 */
const FIRST_IN_LINE = (alias: string) =>
  sql.raw<SqlBool>(`${alias}.sequence <= (
    SELECT p.sequence FROM deliveries p
    WHERE p.subscription_id = ${alias}.subscription_id AND p.subject_id = ${alias}.subject_id AND coalesce(p.status, '') = 'pending'
    ORDER BY p.sequence LIMIT 1)`)

/** Slack for the clocks of the worker and the database, so a job that fires on time is never turned away. */
const DUE_SLACK_MS = 500

/**
 * A row type's column list, checked complete: a list that misses a column of `Row` does not compile (the claim
 * below must name every column of the three tables it returns, or a column added later would go missing).
 */
function columnsOf<Row>() {
  return <const L extends ReadonlyArray<keyof Row & string>>(
    list: L & ([Exclude<keyof Row, L[number]>] extends [never] ? unknown : { missing: Exclude<keyof Row, L[number]> }),
  ): L => list
}
const DELIVERY_COLUMNS = columnsOf<DeliveryRow>()([
  'id',
  'subscription_id',
  'event_id',
  'event_pos',
  'event_type',
  'subject_kind',
  'subject_id',
  'sequence',
  'status',
  'attempts',
  'next_attempt_at',
  'lease_until',
  'first_attempt_at',
  'last_attempt_at',
  'last_status',
  'last_error',
  'created_at',
  'delivered_at',
  'dead_at',
])
const SUBSCRIPTION_COLUMNS = columnsOf<SubscriptionRow>()([
  'id',
  'client_id',
  'url',
  'event_types',
  'description',
  'allow_private_network',
  'signature_algorithm',
  'secret_enc',
  'previous_secret_enc',
  'previous_secret_expires_at',
  'enabled',
  'disabled_reason',
  'disabled_at',
  'created_at',
  'updated_at',
  'deleted_at',
])
const EVENT_COLUMNS = columnsOf<EventRow>()([
  'pos',
  'id',
  'txid',
  'type',
  'occurred_at',
  'subject_kind',
  'subject_id',
  'sequence',
  'case_version',
  'actor',
  'data',
  'court_code',
  'organization_id',
  'region_code',
  'audience',
  'prev_hash',
  'hash',
])
/** The claim's select list: the delivery's columns as they are, its subscription's and event's prefixed. */
const CLAIM_COLUMNS = sql.raw(
  [...DELIVERY_COLUMNS.map((c) => `c.${c}`), ...SUBSCRIPTION_COLUMNS.map((c) => `s.${c} AS s__${c}`), ...EVENT_COLUMNS.map((c) => `e.${c} AS e__${c}`)].join(
    ', ',
  ),
)

function pick<Row>(row: Record<string, unknown>, prefix: string, columns: readonly string[]): Row {
  const out: Record<string, unknown> = {}
  for (const c of columns) out[c] = row[prefix + c]
  return out as Row
}

/** A claimed row as the claims select it ({@link CLAIMED_FROM_C}): the delivery, its live subscription, its event. */
function claimedOf(row: Record<string, unknown>): ClaimedDelivery {
  return {
    delivery: pick<DeliveryRow>(row, '', DELIVERY_COLUMNS),
    subscription: row.s__id === null ? undefined : toSubscription(pick<SubscriptionRow>(row, 's__', SUBSCRIPTION_COLUMNS)),
    event: row.e__pos === null ? undefined : pick<EventRow>(row, 'e__', EVENT_COLUMNS),
  }
}

/**
 * What makes a pending delivery (`alias`) claimable, for every claim: due (within {@link DUE_SLACK_MS}), out of
 * lease, first in line for its (subscription, subject), and no earlier event of its subject still in the outbox.
 * With `graceMs`, due and out of lease for at least that long. The status condition stays with each claim: the
 * pump's reads the partial index by `status = 'pending'`, the claim by ids must not ({@link PENDING}).
 */
const CLAIMABLE = (alias: string, graceMs = 0) => sql<SqlBool>`
  ${sql.ref(`${alias}.next_attempt_at`)} <= now() + ${DUE_SLACK_MS - graceMs} * interval '1 millisecond'
  AND (${sql.ref(`${alias}.lease_until`)} IS NULL OR ${sql.ref(`${alias}.lease_until`)} <= now() - ${graceMs} * interval '1 millisecond')
  AND ${FIRST_IN_LINE(alias)}
  AND NOT EXISTS (
    SELECT 1 FROM outbox o JOIN events e ON e.pos = o.event_pos
    WHERE e.subject_id = ${sql.ref(`${alias}.subject_id`)} AND e.sequence < ${sql.ref(`${alias}.sequence`)})`

/** The claims' answer: the deliveries just leased (CTE `c`) with their live subscription and their event. */
const CLAIMED_FROM_C = sql`
  SELECT ${CLAIM_COLUMNS}
  FROM c
  LEFT JOIN subscriptions s ON s.id = c.subscription_id AND s.deleted_at IS NULL
  LEFT JOIN events e ON e.pos = c.event_pos`

/**
 * Claims deliveries for one attempt each: pending, due, not leased, and first in line for their (subscription,
 * subject). One statement claims them all, whatever their number; results come back in the order of `ids`.
 *
 * Head of line (contract §4): a delivery is not attempted while an earlier-sequence delivery for the same
 * subscription and subject is pending. An earlier event may also still be on its way: several relays take
 * outbox batches in parallel and may commit out of order, so an earlier event of the subject that still sits
 * in the outbox blocks too (its row stays visible until the relay that took it commits its deliveries). The
 * check looks at pending rows, never at leases, so two deliveries of one subject in the same statement cannot
 * both pass it: the later one sees the earlier one pending in the statement's snapshot and is blocked.
 *
 * The lease is taken in the same statement as the checks, so two jobs for one delivery (a sweeper's duplicate, a
 * stalled job handed to another worker) never send it at the same time, whether their claims run in one
 * statement (an id appears once in its WHERE, so one of them gets it) or in two (the second waits for the first's
 * row lock and then finds the lease); it expires on its own if the worker dies mid-send. The same statement reads
 * each claimed delivery's live subscription and its event; only the ids not claimed need a second query, to say
 * why.
 */
/**
 * The claim and the record are planned for their parameters every time ({@link PLAN_EACH_TIME}), never from a
 * prepared statement's generic plan: one made while the table held a few rows (after a quiet spell, or before
 * statistics were taken) kept a sequential scan of deliveries per batch once 20,000 were pending (0.6 s per record
 * statement in the bench's drain). Planning costs ~0.5 ms per statement, shared by the batch.
 */
export async function claimDeliveries(db: Db, ids: readonly string[], leaseMs: number): Promise<ClaimResult[]> {
  if (!ids.length) return []
  const distinct = [...new Set(ids)]
  const claimed = await sql<Record<string, unknown>>`${sql.raw(PLAN_EACH_TIME)}
    WITH c AS (
      UPDATE deliveries d SET lease_until = now() + ${leaseMs} * interval '1 millisecond'
      WHERE d.id = ANY(${distinct}::uuid[]) AND ${PENDING('d')} AND ${CLAIMABLE('d')}
      RETURNING d.*
    )
    ${CLAIMED_FROM_C}`.execute(db)
  const byId = new Map<string, ClaimResult>()
  for (const c of claimed.rows) byId.set(c.id as string, { kind: 'claimed', ...claimedOf(c) })
  const missed = distinct.filter((id) => !byId.has(id))
  if (missed.length) {
    const rows = await db
      .selectFrom('deliveries')
      .select(['id', 'status', 'next_attempt_at', 'lease_until'])
      .where('id', '=', sql<string>`ANY(${missed}::uuid[])`)
      .execute()
    const found = new Map(rows.map((r) => [r.id, r]))
    const now = Date.now()
    for (const id of missed) {
      const row = found.get(id)
      if (!row || row.status !== 'pending') byId.set(id, { kind: 'finished' })
      else if (row.lease_until && row.lease_until.getTime() > now) byId.set(id, { kind: 'later', at: row.lease_until })
      else if (row.next_attempt_at.getTime() > now + DUE_SLACK_MS) byId.set(id, { kind: 'later', at: row.next_attempt_at })
      else byId.set(id, { kind: 'blocked' })
    }
  }
  // An id asked for twice is claimed once: the first asker gets it, the others find its lease.
  const given = new Set<string>()
  return ids.map((id) => {
    const r = byId.get(id) as ClaimResult
    if (r.kind !== 'claimed') return r
    if (given.has(id)) return { kind: 'later', at: r.delivery.lease_until ?? new Date() }
    given.add(id)
    return r
  })
}

/**
 * Claims up to `limit` deliveries that are due, not leased and first in line for their (subscription, subject),
 * oldest due first, in one statement, whatever ids they have: the pump's claim (src/delivery/pump.ts), which needs
 * no queue job per delivery. The conditions are those of {@link claimDeliveries} ({@link CLAIMABLE}); rows another claimer has locked
 * are skipped, not waited for, so several workers share the work. With `graceMs`, only deliveries due (and out of
 * lease) for at least that long are taken: a periodic pass that leaves what is on its way to another claimer to it.
 *
 * Read through `deliveries_pending_due_idx` in due order, so a statement reads the backlog's first rows only (and
 * the leased or blocked ones among them); planned each time for the same reason as the other claims, once per
 * batch.
 */
export async function claimDue(db: Db, limit: number, leaseMs: number, graceMs = 0): Promise<ClaimedDelivery[]> {
  if (limit <= 0) return []
  const claimed = await sql<Record<string, unknown>>`${sql.raw(PLAN_EACH_TIME)}
    WITH pick AS (
      SELECT x.id FROM deliveries x
      WHERE x.status = 'pending' AND ${CLAIMABLE('x', graceMs)}
      ORDER BY x.next_attempt_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), c AS (
      UPDATE deliveries d SET lease_until = now() + ${leaseMs} * interval '1 millisecond'
      FROM pick WHERE d.id = pick.id
      RETURNING d.*
    )
    ${CLAIMED_FROM_C}
    ORDER BY c.next_attempt_at`.execute(db)
  return claimed.rows.map(claimedOf)
}

/** Claims one delivery for one attempt ({@link claimDeliveries} with one id). */
export async function claimDelivery(db: Db, id: string, leaseMs: number): Promise<ClaimResult> {
  const [r] = await claimDeliveries(db, [id], leaseMs)
  return r
}

// ---------------------------------------------------------------------------------------------
// Recording attempts and outcomes

export interface AttemptRecord {
  attemptedAt: Date
  httpStatus: number | null
  latencyMs: number
  responseBody: string | null
  error: string | null
  outcome: string
}

export type DeliveryUpdate =
  { status: 'delivered' } | { status: 'dead'; error: string | null } | { status: 'pending'; nextAttemptAt: Date; error: string | null }

export interface RecordedAttempt {
  /** The delivery as updated. */
  delivery: DeliveryRow
  /** The next pending delivery in line for its (subscription, subject), when asked for and this one finished. */
  next: { id: string; nextAttemptAt: Date } | undefined
}

/** One attempt to record: the delivery, the attempt's log row and the outcome it leads to. */
export interface AttemptToRecord {
  id: string
  attempt: AttemptRecord
  update: DeliveryUpdate
  /** When the outcome was decided (`delivered_at`, `dead_at`). @defaultValue the time of the call */
  now?: Date
  /** Find the next pending delivery in line for the (subscription, subject) when this one finishes. */
  findNext?: boolean
}

/**
 * Records attempts of distinct deliveries in one statement (atomic without a transaction), whatever their number:
 * inserts their rows in the attempt log, writes each outcome and releases each lease. Only a pending delivery
 * changes: an operator's action that finished it meanwhile wins (the attempt is logged all the same). Results
 * come back in the order of `items`, undefined for a delivery that did not change.
 *
 * With `findNext`, a delivery that finished (delivered or dead) comes back with the next pending delivery in line
 * for its (subscription, subject), found in the same statement: the earliest pending one other than those this
 * statement finishes (its snapshot still shows them pending). One fanned out while the statement runs is not
 * seen; its own job, enqueued by the relay, claims it, or the sweeper does if that job came before this commit.
 */
export async function recordAttempts(db: Db, items: readonly AttemptToRecord[]): Promise<Array<RecordedAttempt | undefined>> {
  if (!items.length) return []
  if (new Set(items.map((i) => i.id)).size !== items.length) throw new TypeError('recordAttempts: one item per delivery')
  const at = new Date()
  const col = <T>(f: (i: AttemptToRecord) => T) => items.map(f)
  const r = await sql<DeliveryRow & { next_id: string | null; next_at: Date | null }>`${sql.raw(PLAN_EACH_TIME)}
    WITH i AS (
      SELECT * FROM unnest(
        ${col((i) => i.id)}::uuid[], ${col((i) => i.attempt.attemptedAt)}::timestamptz[], ${col((i) => i.attempt.httpStatus)}::int[],
        ${col((i) => Math.max(0, Math.round(i.attempt.latencyMs)))}::int[], ${col((i) => i.attempt.responseBody)}::text[],
        ${col((i) => i.attempt.error)}::text[], ${col((i) => i.attempt.outcome)}::text[], ${col((i) => i.update.status)}::text[],
        ${col((i) => (i.update.status === 'pending' ? i.update.nextAttemptAt : null))}::timestamptz[],
        ${col((i) => (i.update.status === 'delivered' ? null : i.update.error))}::text[], ${col((i) => i.now ?? at)}::timestamptz[],
        ${col((i) => i.findNext === true && i.update.status !== 'pending')}::boolean[]
      ) WITH ORDINALITY AS i(id, attempted_at, http_status, latency_ms, response_body, error, outcome, status, next_at, last_error, decided_at, find_next, ord)
    ), a AS (
      INSERT INTO delivery_attempts (delivery_id, attempted_at, http_status, latency_ms, response_body, error, outcome)
      SELECT id, attempted_at, http_status, latency_ms, response_body, error, outcome FROM i ORDER BY ord
    ), u AS (
      UPDATE deliveries d SET
        attempts = d.attempts + 1,
        first_attempt_at = coalesce(d.first_attempt_at, i.attempted_at),
        last_attempt_at = i.attempted_at,
        last_status = i.http_status,
        lease_until = NULL,
        status = i.status,
        next_attempt_at = CASE WHEN i.status = 'pending' THEN i.next_at ELSE d.next_attempt_at END,
        delivered_at = CASE WHEN i.status = 'delivered' THEN i.decided_at ELSE d.delivered_at END,
        dead_at = CASE WHEN i.status = 'dead' THEN i.decided_at ELSE d.dead_at END,
        last_error = i.last_error
      FROM i
      WHERE d.id = i.id AND d.id = ANY(${col((i) => i.id)}::uuid[]) AND ${PENDING('d')}
      RETURNING d.*, i.find_next
    )
    SELECT u.*, n.id AS next_id, n.next_attempt_at AS next_at FROM u LEFT JOIN LATERAL (
      SELECT p.id, p.next_attempt_at FROM deliveries p
      WHERE u.find_next AND p.subscription_id = u.subscription_id AND p.subject_id = u.subject_id AND ${PENDING('p')}
        AND p.id NOT IN (SELECT f.id FROM u f WHERE f.status <> 'pending')
      ORDER BY p.sequence LIMIT 1) n ON true`.execute(db)
  const byId = new Map<string, RecordedAttempt>()
  for (const row of r.rows) {
    const { next_id, next_at, find_next: _, ...delivery } = row as typeof row & { find_next: boolean }
    byId.set(delivery.id, { delivery, next: next_id && next_at ? { id: next_id, nextAttemptAt: next_at } : undefined })
  }
  return items.map((i) => byId.get(i.id))
}

/** Records one attempt ({@link recordAttempts} with one item). Returns undefined when the delivery did not change. */
export async function recordAttempt(
  db: Db,
  id: string,
  a: AttemptRecord,
  u: DeliveryUpdate,
  opts: { now?: Date; findNext?: boolean } = {},
): Promise<RecordedAttempt | undefined> {
  const [r] = await recordAttempts(db, [{ id, attempt: a, update: u, now: opts.now, findNext: opts.findNext }])
  return r
}

/** Ends a pending delivery without an attempt (its subscription was disabled or deleted meanwhile). */
export async function killDelivery(db: Db, id: string, reason: string, now = new Date()): Promise<boolean> {
  const r = await db
    .updateTable('deliveries')
    .set({ status: 'dead', dead_at: now, last_error: reason, lease_until: null })
    .where('id', '=', id)
    .where(PENDING('deliveries'))
    .executeTakeFirst()
  return Number(r.numUpdatedRows) > 0
}

/**
 * Ends every pending delivery of a subscription that was just disabled (410 Gone, or by an operator), so the
 * sync status says what happened at once; a recovery after re-enabling re-sends them.
 */
export async function killPendingOf(db: Db, subscriptionId: string, reason: string, now = new Date()): Promise<number> {
  const r = await db
    .updateTable('deliveries')
    .set({ status: 'dead', dead_at: now, last_error: reason, lease_until: null })
    .where('subscription_id', '=', subscriptionId)
    .where('status', '=', 'pending')
    .executeTakeFirst()
  return Number(r.numUpdatedRows)
}

/** The next pending delivery in line for a (subscription, subject), if any. */
export async function nextInLine(db: Db, subscriptionId: string, subjectId: string): Promise<{ id: string; nextAttemptAt: Date } | undefined> {
  const row = await db
    .selectFrom('deliveries')
    .select(['id', 'next_attempt_at'])
    .where('subscription_id', '=', subscriptionId)
    .where('subject_id', '=', subjectId)
    .where(PENDING('deliveries'))
    .orderBy('sequence')
    .limit(1)
    .executeTakeFirst()
  return row ? { id: row.id, nextAttemptAt: row.next_attempt_at } : undefined
}

/** The chain head of a subject's events (for the next event's prevHash and sequence). */
export async function subjectHead(db: Db, subjectId: string): Promise<{ sequence: number; hash: string } | undefined> {
  return db.selectFrom('events').select(['sequence', 'hash']).where('subject_id', '=', subjectId).orderBy('sequence', 'desc').limit(1).executeTakeFirst()
}

// ---------------------------------------------------------------------------------------------
// Operator actions

/**
 * Puts a dead or pending delivery back in line for an attempt now, with a fresh retry window. The same event is
 * sent again, so the receiver sees the same webhook-id. Returns the row, or undefined if it is delivered.
 */
export async function requeueDelivery(trx: Transaction<Database>, id: string, now = new Date()): Promise<DeliveryRow | undefined> {
  return trx
    .updateTable('deliveries')
    .set({ status: 'pending', next_attempt_at: now, first_attempt_at: null, dead_at: null })
    .where('id', '=', id)
    .where('status', 'in', ['pending', 'dead'])
    .returningAll()
    .executeTakeFirst()
}

/** Re-opens every dead delivery of the subscription created within [since, until]; returns their ids. */
export async function requeueDeadInWindow(trx: Transaction<Database>, subscriptionId: string, since: Date, until: Date, now = new Date()): Promise<string[]> {
  const rows = await trx
    .updateTable('deliveries')
    .set({ status: 'pending', next_attempt_at: now, first_attempt_at: null, dead_at: null })
    .where('subscription_id', '=', subscriptionId)
    .where('status', '=', 'dead')
    .where('created_at', '>=', since)
    .where('created_at', '<=', until)
    .returning('id')
    .execute()
  return rows.map((r) => r.id)
}

export async function getDelivery(db: Db, id: string): Promise<DeliveryRow | undefined> {
  return db.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirst()
}

export interface DeliveryFilters {
  subscriptionId?: string
  status?: 'pending' | 'delivered' | 'dead'
  eventType?: string
  since?: Date
  until?: Date
  beforeId?: string
  limit: number
}

/** Deliveries, newest first (keyset on the UUIDv7 id, which follows creation time). */
export async function listDeliveries(db: Db, f: DeliveryFilters): Promise<DeliveryRow[]> {
  let q = db.selectFrom('deliveries').selectAll()
  if (f.subscriptionId) q = q.where('subscription_id', '=', f.subscriptionId)
  if (f.status) q = q.where('status', '=', f.status)
  if (f.eventType) q = q.where('event_type', '=', f.eventType)
  if (f.since) q = q.where('created_at', '>=', f.since)
  if (f.until) q = q.where('created_at', '<=', f.until)
  if (f.beforeId) q = q.where('id', '<', f.beforeId)
  return q.orderBy('id', 'desc').limit(f.limit).execute()
}

/** The attempt log of each delivery (the latest `perDelivery`, oldest first). */
export async function attemptsOf(db: Db, deliveryIds: string[], perDelivery = 50): Promise<Map<string, DeliveryAttemptRow[]>> {
  const out = new Map<string, DeliveryAttemptRow[]>()
  if (!deliveryIds.length) return out
  const rows = await sql<DeliveryAttemptRow>`
    SELECT * FROM (
      SELECT a.*, row_number() OVER (PARTITION BY a.delivery_id ORDER BY a.id DESC) AS rn
      FROM delivery_attempts a WHERE a.delivery_id = ANY(${deliveryIds}::uuid[])
    ) x WHERE x.rn <= ${perDelivery} ORDER BY x.delivery_id, x.id`.execute(db)
  for (const r of rows.rows) {
    const list = out.get(r.delivery_id) ?? []
    list.push(r)
    out.set(r.delivery_id, list)
  }
  return out
}

export interface SyncStatusRow {
  subscriptionId: string
  pending: number
  oldestPendingAgeSeconds: number | null
  dead: number
  lastDeliveredAt: Date | null
}

/** Per live subscription (of one client, or all): pending and dead counts, age of the oldest pending, last success. */
export async function syncStatus(db: Db, clientId: string | undefined): Promise<SyncStatusRow[]> {
  const byClient = clientId ? sql<SqlBool>`s.client_id = ${clientId}` : sql<SqlBool>`true`
  const r = await sql<{ id: string; pending: string; oldest_age: string | null; dead: string; last_delivered_at: Date | null }>`
    SELECT s.id,
      (SELECT count(*) FROM deliveries d WHERE d.subscription_id = s.id AND d.status = 'pending') AS pending,
      (SELECT floor(extract(epoch FROM now() - min(d.created_at))) FROM deliveries d WHERE d.subscription_id = s.id AND d.status = 'pending') AS oldest_age,
      (SELECT count(*) FROM deliveries d WHERE d.subscription_id = s.id AND d.status = 'dead') AS dead,
      (SELECT max(d.delivered_at) FROM deliveries d WHERE d.subscription_id = s.id AND d.status = 'delivered') AS last_delivered_at
    FROM subscriptions s
    WHERE s.deleted_at IS NULL AND ${byClient}
    ORDER BY s.id`.execute(db)
  return r.rows.map((x) => ({
    subscriptionId: x.id,
    pending: Number(x.pending),
    oldestPendingAgeSeconds: x.oldest_age === null ? null : Math.max(0, Number(x.oldest_age)),
    dead: Number(x.dead),
    lastDeliveredAt: x.last_delivered_at,
  }))
}

// ---------------------------------------------------------------------------------------------
// Recovery jobs

export interface RecoveryJob {
  id: string
  subscriptionId: string
  since: Date
  until: Date
  status: 'queued' | 'done'
  requeued: number | null
  createdAt: Date
  finishedAt: Date | null
}

const toRecovery = (r: Selectable<Database['recovery_jobs']>): RecoveryJob => ({
  id: r.id,
  subscriptionId: r.subscription_id,
  since: r.since,
  until: r.until,
  status: r.status,
  requeued: r.requeued,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
})

export async function insertRecoveryJob(trx: Transaction<Database>, subscriptionId: string, since: Date, until: Date): Promise<RecoveryJob> {
  const row = await trx
    .insertInto('recovery_jobs')
    .values({ id: uuidv7(), subscription_id: subscriptionId, since, until, status: 'queued', requeued: null, finished_at: null })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toRecovery(row)
}

export async function getRecoveryJob(db: Db, id: string): Promise<RecoveryJob | undefined> {
  const row = await db.selectFrom('recovery_jobs').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? toRecovery(row) : undefined
}

/**
 * Runs a queued recovery once: re-opens the dead deliveries in its window and marks it done, in one transaction
 * (the row lock makes a second runner wait, then find it done). Returns the re-opened ids, or undefined if it
 * was already done.
 */
export async function runRecovery(db: Kysely<Database>, id: string): Promise<string[] | undefined> {
  return db.transaction().execute(async (trx) => {
    const job = await trx.selectFrom('recovery_jobs').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
    if (!job || job.status !== 'queued') return undefined
    const ids = await requeueDeadInWindow(trx, job.subscription_id, job.since, job.until)
    await trx.updateTable('recovery_jobs').set({ status: 'done', requeued: ids.length, finished_at: new Date() }).where('id', '=', id).execute()
    return ids
  })
}

/** Recovery jobs still queued after `graceMs` (their BullMQ job was lost, or never added). */
export async function staleRecoveryJobs(db: Db, graceMs: number): Promise<string[]> {
  const rows = await db
    .selectFrom('recovery_jobs')
    .select('id')
    .where('status', '=', 'queued')
    .where('created_at', '<=', sql<Date>`now() - ${graceMs} * interval '1 millisecond'`)
    .orderBy('created_at')
    .limit(100)
    .execute()
  return rows.map((r) => r.id)
}
