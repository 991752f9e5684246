import { randomInt } from 'node:crypto'
import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely'
import { FINISHED_STATUSES } from '../domain/referral-machine.js'
import type { Database } from './database.js'
import { WriteBatch } from './write-batch.js'

/**
 * The statistics rollup (migrations/0016_stats_rollup.ts): counters per (grain, creation date, court, dispute type,
 * holders, unit) from which GET /v1/stats answers exactly what the direct query (stats-repository.ts computeStats)
 * answers, without reading referrals or events.
 *
 * How it stays exact: a referral's *contribution* to the rollup is a function of its row, its outcome events, its
 * confirmations and the organizations' regions, written here once as SQL ({@link contributionSql}: the same rules as
 * computeStats, per referral). A write that may move a figure adds `contribution(after) − contribution(before)`
 * to the counters, in the same transaction:
 *   - intake (single and batch): the new referrals' contribution;
 *   - every referral transition (commitTransition: actions, timers, recall, recomputed deadlines): before = the
 *     locked row and its stored events, after = the new row and the stored events plus the event being written;
 *   - a confirmation applied or decided (insert, commitConfirmationTransition): the referral's contribution with the
 *     application as it was and as it is;
 *   - an organization changing region (the region grouping follows the organizations' current regions).
 * The delta is one more part of the unit of work's write batch: a SELECT of the signed contributions and six
 * `INSERT … ON CONFLICT DO UPDATE` adding them to the counters, in the one statement the batch already sends: the
 * cells with holders and their two histograms, and the same summed over holders (stats_court_cells and its
 * histograms, migrations/0018_stats_court_cells.ts), which the callers whose scope is no condition on holders read.
 *
 * Both contributions are read from the statement's snapshot, which does not hold the writes of the same batch: a
 * batch must not carry two deltas of one referral (see {@link addDelta}, which sends the batch first when it would).
 */

type Trx = Transaction<Database>
type Db = Kysely<Database> | Trx

export const TZ = 'Asia/Shanghai'

/** Event types counted as outcomes a referral reached (contract §5: whatever happened after). */
export const OUTCOME_EVENTS = [
  'referral.accepted',
  'referral.declined',
  'referral.agreement_recorded',
  'referral.terminated',
  'referral.case_registered',
  'referral.trial_resumed',
  'referral.performance_reported',
] as const

const FINISHED: readonly string[] = FINISHED_STATUSES

/** The grains of the rollup: referral, organization, region (see the migration). */
export type Grain = 'r' | 'o' | 'g'
const ALL_GRAINS: readonly Grain[] = ['r', 'o', 'g']

/** The measure columns of stats_cells, in order. */
const MEASURES = [
  'referrals',
  'accepted',
  'declined',
  'agreed',
  'terminated',
  'litigated',
  'performance_reported',
  'performed',
  'open',
  'confirmations_applied',
  'confirmations_ruled_valid',
] as const

const KEY = ['grain', 'created_on', 'court_code', 'dispute_type', 'held_by', 'unit'] as const

/** The rows of one stats_cells cell that single intake spreads its counts over (migrations/0016_stats_rollup.ts). */
const SHARDS = 16

/**
 * Where a contribution reads from. Each is a relation (a subquery) with these columns:
 *   refs:  id, created_on, court_code, dispute_type, status, organization_id, held_by
 *   evs:   subject_id, type, occurred_at, organization_id, region_code, sequence, perf (outcome events only; perf is
 *          the performance status of a report not yet stored, else null and read from `events`)
 *   confs: referral_id, status, review_due_on, organization_id
 * Every value is a parameter: the result goes into a WriteBatch, whose parts may hold no literals.
 */
interface Sources {
  refs: RawBuilder<unknown>
  evs: RawBuilder<unknown>
  confs: RawBuilder<unknown>
  grains?: readonly Grain[]
}

const t = (s: string) => sql`${s}::text`
const local = (col: RawBuilder<unknown>) => sql`((${col}) AT TIME ZONE ${t(TZ)})::date`

/**
 * The signed contribution rows of the referrals in `s.refs`: kind 'c' (a cell's measures), 'd' (one unit's days
 * to outcome, in `days`) and 'v' (one application under review, by `review_due_on`), each with the cell key.
 * The rules are computeStats's, unit by unit.
 */
export function contributionSql(s: Sources, sign: 1 | -1): RawBuilder<unknown> {
  const grains = s.grains ?? ALL_GRAINS
  const [R, O, G] = [t('r'), t('o'), t('g')]
  const empty = t('')
  const pairParts: Array<RawBuilder<unknown>> = []
  if (grains.includes('r')) {
    pairParts.push(sql`SELECT ${R} AS grain, b.id, b.created_on, b.court_code, b.dispute_type, b.held_by, ${empty} AS unit, true AS cur, b.status FROM refs b`)
  }
  if (grains.includes('o')) {
    pairParts.push(sql`SELECT ${O} AS grain, b.id, b.created_on, b.court_code, ${empty} AS dispute_type, b.held_by, h.org AS unit, h.org = b.organization_id AS cur, b.status
      FROM refs b CROSS JOIN LATERAL unnest(b.held_by) AS h(org)`)
  }
  if (grains.includes('g')) {
    pairParts.push(sql`SELECT ${G} AS grain, b.id, b.created_on, b.court_code, ${empty} AS dispute_type, b.held_by, o.region_code AS unit,
        bool_or(o.id = b.organization_id) AS cur, b.status
      FROM refs b JOIN organizations o ON o.id = ANY(b.held_by)
      GROUP BY b.id, b.created_on, b.court_code, b.held_by, o.region_code, b.status`)
  }
  const type = (x: string) => t(x)
  const n = sql.lit(sign)
  return sql`
    WITH refs AS (${s.refs}),
    -- Not materialized: the probe of each unit becomes an index probe of events_referral_outcome_idx.
    evs AS NOT MATERIALIZED (${s.evs}),
    confs AS (${s.confs}),
    pairs AS (${sql.join(pairParts, sql` UNION ALL `)}),
    facts AS (
      SELECT p.*, x.*,
        CASE WHEN x.perf_seq IS NOT NULL THEN coalesce(
          (SELECT v.perf FROM evs v WHERE v.subject_id = p.id AND v.sequence = x.perf_seq AND v.perf IS NOT NULL LIMIT 1),
          (SELECT pe.data #>> ${sql.val(['referral', 'performance', 'status'])}::text[] FROM events pe WHERE pe.subject_id = p.id AND pe.sequence = x.perf_seq))
        END AS performance
      FROM pairs p
      CROSS JOIN LATERAL (
        SELECT
          coalesce(bool_or(e.type = ${type('referral.accepted')}), false) AS accepted,
          coalesce(bool_or(e.type = ${type('referral.declined')}), false) AS declined,
          coalesce(bool_or(e.type = ${type('referral.agreement_recorded')}), false) AS agreed,
          coalesce(bool_or(e.type = ${type('referral.terminated')}), false) AS terminated,
          coalesce(bool_or(e.type IN (${type('referral.case_registered')}, ${type('referral.trial_resumed')})), false) AS litigated,
          min(e.occurred_at) FILTER (WHERE e.type = ${type('referral.accepted')}) AS accepted_at,
          min(e.occurred_at) FILTER (WHERE e.type IN (${type('referral.agreement_recorded')}, ${type('referral.terminated')})) AS outcome_at,
          max(e.sequence) FILTER (WHERE e.type = ${type('referral.performance_reported')}) AS perf_seq
        FROM evs e
        WHERE e.subject_id = p.id AND (p.grain = ${R} OR (p.grain = ${O} AND e.organization_id = p.unit) OR (p.grain = ${G} AND e.region_code = p.unit))
      ) x
    ),
    cf AS (
      SELECT p.grain, p.id, p.created_on, p.court_code, p.dispute_type, p.held_by, p.unit, c.status, c.review_due_on
      FROM pairs p JOIN confs c ON c.referral_id = p.id
        AND (p.grain = ${R} OR (p.grain = ${O} AND c.organization_id = p.unit)
             OR (p.grain = ${G} AND EXISTS (SELECT 1 FROM organizations co WHERE co.id = c.organization_id AND co.region_code = p.unit)))
    ),
    cfa AS (
      SELECT grain, id, unit, count(*) AS applied, count(*) FILTER (WHERE status = ${t('ruled_valid')}) AS ruled_valid FROM cf GROUP BY grain, id, unit
    )
    SELECT ${t('c')} AS kind, f.grain, f.created_on, f.court_code, f.dispute_type, f.held_by, f.unit, NULL::integer AS days, NULL::date AS review_due_on,
      ${n} AS referrals,
      ${n} * f.accepted::int AS accepted,
      ${n} * f.declined::int AS declined,
      ${n} * f.agreed::int AS agreed,
      ${n} * f.terminated::int AS terminated,
      ${n} * f.litigated::int AS litigated,
      ${n} * (f.agreed AND f.perf_seq IS NOT NULL)::int AS performance_reported,
      ${n} * coalesce(f.agreed AND f.performance = ${t('performed')}, false)::int AS performed,
      ${n} * (f.cur AND f.status <> ALL(${sql.val(FINISHED)}::text[]))::int AS open,
      ${n} * coalesce(a.applied, 0)::int AS confirmations_applied,
      ${n} * coalesce(a.ruled_valid, 0)::int AS confirmations_ruled_valid,
      0 AS n
    FROM facts f LEFT JOIN cfa a ON a.grain = f.grain AND a.id = f.id AND a.unit = f.unit
    UNION ALL
    SELECT ${t('d')}, f.grain, f.created_on, f.court_code, f.dispute_type, f.held_by, f.unit, ${local(sql`f.outcome_at`)} - ${local(sql`f.accepted_at`)}, NULL,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ${n}
    FROM facts f WHERE f.accepted_at IS NOT NULL AND f.outcome_at IS NOT NULL
    UNION ALL
    SELECT ${t('v')}, c.grain, c.created_on, c.court_code, c.dispute_type, c.held_by, c.unit, NULL, c.review_due_on,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ${n}
    FROM cf c WHERE c.status = ${t('under_review')} AND c.review_due_on IS NOT NULL`
}

/** The key of a cell without holders (stats_court_cells and its histograms, migrations/0018_stats_court_cells.ts). */
const COURT_KEY = ['grain', 'created_on', 'court_code', 'dispute_type', 'unit'] as const
const HELD_TABLES = ['stats_cells', 'stats_outcome_days', 'stats_review_due'] as const
const COURT_TABLES = ['stats_court_cells', 'stats_court_outcome_days', 'stats_court_review_due'] as const

/**
 * The statements that add the signed rows of part `from` (a {@link contributionSql} union) to the six tables: the
 * cells with holders and their histograms, then the same without holders. The cells without holders are shared by
 * every referral of a court, day and dispute type, so each write adds to a random one of their 16 rows (as single
 * intake does), and in key order, so that two writes' row locks are taken in one order.
 */
function upsertsFrom(from: string): RawBuilder<unknown>[] {
  const src = sql.table(from)
  const upserts = (tables: readonly [string, string, string], keyCols: readonly string[], shard?: number) => {
    const [table, daysTable, dueTable] = tables
    const key = sql.raw(keyCols.join(', '))
    const sel = sql.raw(keyCols.map((k) => (k === 'grain' ? 'grain::"char"' : k)).join(', '))
    const shardCol = shard === undefined ? sql`` : sql`, shard`
    const shardVal = shard === undefined ? sql`` : sql`, ${shard}::smallint`
    const cells = sql`
    INSERT INTO ${sql.table(table)} AS s (${key}${shardCol}, ${sql.raw(MEASURES.join(', '))})
    SELECT ${sel}${shardVal}, ${sql.raw(MEASURES.map((m) => `sum(${m})`).join(', '))}
    FROM ${src} WHERE kind = ${t('c')}
    GROUP BY ${key}
    HAVING ${sql.raw(MEASURES.map((m) => `sum(${m}) <> 0`).join(' OR '))}
    ${shard === undefined ? sql`` : sql`ORDER BY ${key}`}
    ON CONFLICT (${key}, shard) DO UPDATE SET ${sql.raw(MEASURES.map((m) => `${m} = s.${m} + excluded.${m}`).join(', '))}`
    const hist = (histTable: string, col: string, kind: string) => sql`
    INSERT INTO ${sql.table(histTable)} AS s (${key}, ${sql.ref(col)}, n)
    SELECT ${sel}, ${sql.ref(col)}, sum(n)
    FROM ${src} WHERE kind = ${t(kind)}
    GROUP BY ${key}, ${sql.ref(col)}
    HAVING sum(n) <> 0
    ${shard === undefined ? sql`` : sql`ORDER BY ${key}, ${sql.ref(col)}`}
    ON CONFLICT (${key}, ${sql.ref(col)}) DO UPDATE SET n = s.n + excluded.n`
    return [cells, hist(daysTable, 'days', 'd'), hist(dueTable, 'review_due_on', 'v')]
  }
  return [...upserts(HELD_TABLES, KEY), ...upserts(COURT_TABLES, COURT_KEY, randomInt(SHARDS))]
}

/** The subjects each batch holds a delta of (a second one must see the first's writes: the batch is sent first). */
const pending = new WeakMap<WriteBatch, Set<string>>()

/** Adds `contribution(after) − contribution(before)` to the rollup: in `batch`, or now. */
async function addDelta(trx: Trx, subject: string, parts: { after?: Sources; before?: Sources }, batch?: WriteBatch): Promise<void> {
  const writes = batch ?? new WriteBatch()
  let seen = pending.get(writes)
  if (seen?.has(subject)) {
    await writes.execute(trx)
    seen = undefined
  }
  if (!seen) pending.set(writes, (seen = new Set()))
  seen.add(subject)
  const rows = [parts.after && contributionSql(parts.after, 1), parts.before && contributionSql(parts.before, -1)].filter((x) => x !== undefined)
  if (!rows.length) return
  const name = `st${writes.size}`
  writes.add(
    sql`SELECT * FROM (${sql.join(
      rows.map((r) => sql`(${r})`),
      sql` UNION ALL `,
    )}) AS d`.compile(trx),
    { name },
  )
  for (const q of upsertsFrom(name)) writes.add(q.compile(trx))
  if (!batch) {
    await writes.execute(trx)
    pending.delete(writes)
  }
}

// ---------------------------------------------------------------------------------------------
// Sources

/** A referral's state as the rollup needs it. */
export interface RollupReferral {
  id: string
  createdAt: Date
  courtCode: string
  disputeType: string
  status: string
  organizationId: string
  heldBy: string[]
}

function refFromValues(r: RollupReferral): RawBuilder<unknown> {
  return sql`SELECT ${r.id}::uuid AS id, ${local(sql`${r.createdAt.toISOString()}::timestamptz`)} AS created_on, ${t(r.courtCode)} AS court_code,
    ${t(r.disputeType)} AS dispute_type, ${t(r.status)} AS status, ${t(r.organizationId)} AS organization_id, ${sql.val(r.heldBy)}::text[] AS held_by`
}

const refFromTable = (id: string) =>
  sql`SELECT id, ${local(sql`created_at`)} AS created_on, court_code, dispute_type, status, organization_id, held_by FROM referrals WHERE id = ${id}::uuid`

/** The stored outcome events of referrals (an index-only probe of events_referral_outcome_idx per referral). */
const storedEvents = (ids: RawBuilder<unknown>) => sql`
  SELECT subject_id, type, occurred_at, organization_id, region_code, sequence, NULL::text AS perf FROM events
  WHERE subject_id IN (${ids}) AND type = ANY(${sql.val([...OUTCOME_EVENTS])}::text[])`

const storedConfs = (ids: RawBuilder<unknown>) => sql`
  SELECT referral_id, status, review_due_on, organization_id FROM judicial_confirmations WHERE referral_id IN (${ids})`

const noEvents = sql`SELECT NULL::uuid AS subject_id, NULL::text AS type, NULL::timestamptz AS occurred_at, NULL::text AS organization_id,
  NULL::text AS region_code, NULL::integer AS sequence, NULL::text AS perf WHERE false`
const noConfs = sql`SELECT NULL::uuid AS referral_id, NULL::text AS status, NULL::date AS review_due_on, NULL::text AS organization_id WHERE false`

// ---------------------------------------------------------------------------------------------
// The writes that move figures

/**
 * A new referral (single intake): its contribution, with no events or confirmations yet. That contribution is
 * known without reading anything: one referral (and one open one, unless it starts finished) in its 'r' cell, in
 * the 'o' cell of each holder and in the 'g' cell of each holder's region, open where the holder is the current
 * one; no outcome, no confirmation. So intake skips {@link contributionSql} and sends one small upsert, the
 * statement intake pays for on every referral (the random-history test holds both forms to the direct count).
 */
export async function rollupIntake(trx: Trx, r: RollupReferral, batch?: WriteBatch): Promise<void> {
  const open = FINISHED.includes(r.status) ? 0 : 1
  const day = local(sql`${r.createdAt.toISOString()}::timestamptz`)
  const held = sql`${sql.val(r.heldBy)}::text[]`
  const org = t(r.organizationId)
  // A random one of the cell's 16 rows (see the migration): concurrent intakes rarely wait for each other's lock.
  const shard = sql`${randomInt(SHARDS)}::smallint`
  // The same rows with holders and without them (stats_court_cells): two upserts, in the batch's one statement.
  const v = sql`
      SELECT ${t('r')}::"char" AS grain, ${t(r.disputeType)} AS dispute_type, ${t('')} AS unit, ${open}::integer AS open
      UNION ALL
      SELECT ${t('o')}::"char", ${t('')}, h.org, ${open}::integer * (h.org = ${org})::integer
        FROM (SELECT DISTINCT unnest(${held}) AS org) h
      UNION ALL
      SELECT ${t('g')}::"char", ${t('')}, o.region_code, ${open}::integer * bool_or(o.id = ${org})::integer
        FROM organizations o WHERE o.id = ANY(${held}) GROUP BY o.region_code`
  const set = sql`DO UPDATE SET referrals = s.referrals + excluded.referrals, open = s.open + excluded.open`
  const held_ = sql`
    INSERT INTO stats_cells AS s (grain, created_on, court_code, dispute_type, held_by, unit, shard, referrals, open)
    SELECT v.grain, ${day}, ${t(r.courtCode)}, v.dispute_type, ${held}, v.unit, ${shard}, 1, v.open FROM (${v}) v
    ON CONFLICT (${sql.raw(KEY.join(', '))}, shard) ${set}`
  const free = sql`
    INSERT INTO stats_court_cells AS s (grain, created_on, court_code, dispute_type, unit, shard, referrals, open)
    SELECT v.grain, ${day}, ${t(r.courtCode)}, v.dispute_type, v.unit, ${shard}, 1, v.open FROM (${v}) v ORDER BY v.grain, v.unit
    ON CONFLICT (${sql.raw(COURT_KEY.join(', '))}, shard) ${set}`
  if (batch) {
    // The row of a new referral has no earlier delta in this batch to see: nothing to order.
    batch.add(held_.compile(trx))
    batch.add(free.compile(trx))
    const seen = pending.get(batch)
    if (seen) seen.add(r.id)
    else pending.set(batch, new Set([r.id]))
  } else {
    await sql`WITH held AS (${held_}) ${free}`.execute(trx)
  }
}

/**
 * The contribution of the referrals a batch intake inserted, as a SELECT for its statement: `rows` is the JSON of
 * the referrals' columns (json_populate_recordset(null::referrals, …)), `inserted` the relation of the ids inserted.
 * Literal-free like the rest; the caller adds {@link upsertsSql} reading it.
 */
export function intakeContributionSql(rows: string, inserted: RawBuilder<unknown>): RawBuilder<unknown> {
  return contributionSql(
    {
      refs: sql`SELECT x.id, ${local(sql`x.created_at`)} AS created_on, x.court_code, x.dispute_type, x.status, x.organization_id, x.held_by
        FROM json_populate_recordset(null::referrals, ${rows}::json) AS x WHERE x.id IN (${inserted})`,
      evs: noEvents,
      confs: noConfs,
    },
    1,
  )
}

/** The upserts adding the rows of the named relation to the rollup's six tables (for a caller's own statement). */
export const upsertsSql = upsertsFrom

/** An event a transition writes, as the rollup needs it. */
export interface RollupEvent {
  type: string
  occurredAt: Date
  sequence: number
  organizationId: string | null
  regionCode: string | null
  data: unknown
}

/** Whether a transition can move a figure: an outcome event, or a change of open-ness, holder or holders. */
function movesFigures(before: RollupReferral, after: RollupReferral, e: RollupEvent): boolean {
  return (
    (OUTCOME_EVENTS as readonly string[]).includes(e.type) ||
    FINISHED.includes(before.status) !== FINISHED.includes(after.status) ||
    before.organizationId !== after.organizationId ||
    before.heldBy.length !== after.heldBy.length ||
    before.heldBy.some((h, i) => after.heldBy[i] !== h)
  )
}

const performanceOf = (data: unknown): string | null => {
  const s = (data as { referral?: { performance?: { status?: unknown } | null } } | null)?.referral?.performance?.status
  return typeof s === 'string' ? s : null
}

/**
 * A referral transition (commitTransition): before = the locked row with its stored events, after = the new row
 * with the stored events and `e`. Transitions that move no figure (suspension, extension, recomputed deadlines…)
 * add nothing.
 */
export async function rollupTransition(trx: Trx, before: RollupReferral, after: RollupReferral, e: RollupEvent, batch?: WriteBatch): Promise<void> {
  if (!movesFigures(before, after, e)) return
  const id = sql`${before.id}::uuid`
  const stored = storedEvents(id)
  const withNew = (OUTCOME_EVENTS as readonly string[]).includes(e.type)
    ? sql`${stored} UNION ALL SELECT ${id}, ${t(e.type)}, ${e.occurredAt.toISOString()}::timestamptz, ${e.organizationId}::text, ${e.regionCode}::text,
        ${e.sequence}::integer, ${performanceOf(e.data)}::text`
    : stored
  await addDelta(
    trx,
    before.id,
    {
      before: { refs: refFromValues(before), evs: stored, confs: storedConfs(id) },
      after: { refs: refFromValues(after), evs: withNew, confs: storedConfs(id) },
    },
    batch,
  )
}

/** A confirmation application as the rollup needs it. */
export interface RollupConfirmation {
  id: string
  referralId: string | null
  status: string
  reviewDueOn: string | null
  organizationId: string
}

const confFigures = (c: RollupConfirmation) => [c.referralId, c.status === 'ruled_valid', c.status === 'under_review' ? c.reviewDueOn : null, c.organizationId]

/**
 * An application applied (`before` undefined) or decided: the referral's contribution with the application as it was
 * and as it is. Standalone applications, and decisions that move none of its figures, add nothing.
 */
export async function rollupConfirmation(trx: Trx, before: RollupConfirmation | undefined, after: RollupConfirmation, batch?: WriteBatch): Promise<void> {
  const referralId = after.referralId
  if (!referralId) return
  if (before && JSON.stringify(confFigures(before)) === JSON.stringify(confFigures(after))) return
  const id = sql`${referralId}::uuid`
  const others = sql`SELECT referral_id, status, review_due_on, organization_id FROM judicial_confirmations WHERE referral_id = ${id} AND id <> ${after.id}::uuid`
  const withNew = sql`${others} UNION ALL SELECT ${id}, ${t(after.status)}, ${after.reviewDueOn}::date, ${t(after.organizationId)}`
  const withOld = before ? sql`${others} UNION ALL SELECT ${id}, ${t(before.status)}, ${before.reviewDueOn}::date, ${t(before.organizationId)}` : others
  await addDelta(
    trx,
    referralId,
    {
      before: { refs: refFromTable(referralId), evs: storedEvents(id), confs: withOld },
      after: { refs: refFromTable(referralId), evs: storedEvents(id), confs: withNew },
    },
    batch,
  )
}

/**
 * An organization's region changes (`change` writes it): the region grouping counts a referral per region of its
 * holders as they are now, so the region contributions of every referral it held (or whose application it made)
 * are taken out before and put back after. Nothing when the region stays.
 */
export async function rollupRegionChange<T>(trx: Trx, organizationId: string, newRegion: string, change: () => Promise<T>): Promise<T> {
  const cur = await trx.selectFrom('organizations').select('region_code').where('id', '=', organizationId).executeTakeFirst()
  if (!cur || cur.region_code === newRegion) return change()
  const ids = sql`SELECT id FROM referrals WHERE held_by @> ARRAY[${t(organizationId)}]
    UNION SELECT referral_id FROM judicial_confirmations WHERE organization_id = ${organizationId} AND referral_id IS NOT NULL`
  const src: Sources = {
    refs: sql`SELECT id, ${local(sql`created_at`)} AS created_on, court_code, dispute_type, status, organization_id, held_by FROM referrals WHERE id IN (${ids})`,
    evs: storedEvents(ids),
    confs: storedConfs(ids),
    grains: ['g'],
  }
  await applySigned(trx, src, -1)
  const out = await change()
  await applySigned(trx, src, 1)
  return out
}

async function applySigned(db: Db, src: Sources, sign: 1 | -1): Promise<void> {
  const body = contributionSql(src, sign)
  const upserts = upsertsFrom('contrib').map((u, i) => sql`${sql.raw(`u${i}`)} AS (${u})`)
  await sql`WITH contrib AS (${body}), ${sql.join(upserts)} SELECT 1`.execute(db)
}

/**
 * Rebuilds the rollup from the tables (a database seeded around the write path: the benchmark's seed, tests that
 * insert rows directly). Holds an exclusive lock on the rollup meanwhile.
 */
export async function rebuildStatsRollup(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const tables = sql.raw([...HELD_TABLES, ...COURT_TABLES].join(', '))
    await sql`LOCK TABLE ${tables} IN EXCLUSIVE MODE`.execute(trx)
    await sql`TRUNCATE ${tables}`.execute(trx)
    await sql`SET LOCAL work_mem = '256MB'`.execute(trx)
    // One statement over every referral: minutes at 1,000,000, beyond any request's statement timeout.
    await sql`SET LOCAL statement_timeout = 0`.execute(trx)
    const all = sql`SELECT id FROM referrals`
    await applySigned(
      trx,
      {
        refs: sql`SELECT id, ${local(sql`created_at`)} AS created_on, court_code, dispute_type, status, organization_id, held_by FROM referrals`,
        evs: sql`SELECT subject_id, type, occurred_at, organization_id, region_code, sequence, NULL::text AS perf FROM events
          WHERE subject_kind = ${t('referral')} AND type = ANY(${sql.val([...OUTCOME_EVENTS])}::text[])`,
        confs: sql`SELECT referral_id, status, review_due_on, organization_id FROM judicial_confirmations WHERE referral_id IN (${all})`,
      },
      1,
    )
  })
}
