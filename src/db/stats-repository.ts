import { type Expression, type Kysely, type RawBuilder, sql, type SqlBool, type Transaction } from 'kysely'
import { addCalendarDays, endOfShanghaiDay, shanghaiDate, startOfShanghaiDay } from '../domain/calendar.js'
import { isNational } from '../domain/access.js'
import { regionPrefix } from '../domain/identifiers.js'
import type { Principal } from '../domain/principal.js'
import { FINISHED_STATUSES } from '../domain/referral-machine.js'
import { confirmationScopeSql, orgsUnderSql, referralScopeOverlapSql } from './access-sql.js'
import type { Database } from './database.js'
import { PLAN_EACH_TIME } from './connection.js'
import { OUTCOME_EVENTS } from './stats-rollup.js'

type Db = Kysely<Database> | Transaction<Database>

export const STATS_GROUPINGS = ['court', 'organization', 'disputeType', 'region', 'month'] as const
export type StatsGrouping = (typeof STATS_GROUPINGS)[number]

export interface StatsQuery {
  /** First instant of the period (start of the `from` date, Asia/Shanghai). */
  start: Date
  /** First instant after the period (end of the `to` date, Asia/Shanghai). */
  end: Date
  /** Today (Asia/Shanghai): the reference for ages and overdue reviews. */
  today: string
  groupBy: StatsGrouping
  courtCode?: string
  regionCode?: string
}

/** One group's figures, straight from SQL (rates already rounded to 4 decimals, null without a denominator). */
export interface StatsGroupRow {
  key: string
  referrals: number
  accepted: number
  declined: number
  agreed: number
  terminated: number
  successRate: number | null
  performanceReported: number
  performed: number
  autoPerformanceRate: number | null
  medianDaysToOutcome: number | null
  litigatedAfterFailure: number
  confirmationsApplied: number
  confirmationsRuledValid: number
  confirmationsOverdue: number
  openReferrals: number
  openReferralMedianAgeDays: number | null
  openReferralMaxAgeDays: number | null
}

// Literals, not a parameter: the planner must see the list to use the partial index events_referral_outcome_idx.
const OUTCOME_EVENTS_SQL = sql.raw(OUTCOME_EVENTS.map((t) => `'${t}'`).join(', '))

/** Referral states that need nothing more from anyone: not "open". */
/** Referrals no longer open: the exits of the state machine (a recalled case included). */
const FINISHED: readonly string[] = FINISHED_STATUSES

const LOCAL_DATE = (col: RawBuilder<unknown> | Expression<unknown>) => sql`((${col}) AT TIME ZONE 'Asia/Shanghai')::date`

/**
 * The figures computeStats and readStatsRollup both take straight from a group's counters (alias `a`), with the
 * contract's names and its rounding of the rates: one text, so the two answers cannot drift apart.
 */
const COUNTER_FIGURES = sql.raw(`a.referrals::int AS "referrals",
      a.accepted::int AS "accepted",
      a.declined::int AS "declined",
      a.agreed::int AS "agreed",
      a.terminated::int AS "terminated",
      round(a.agreed::numeric / NULLIF(a.agreed + a.terminated, 0), 4)::float8 AS "successRate",
      a.performance_reported::int AS "performanceReported",
      a.performed::int AS "performed",
      round(a.performed::numeric / NULLIF(a.performance_reported, 0), 4)::float8 AS "autoPerformanceRate"`)

/** Whether `judicial_confirmations` exists (it is optional for statistics: counts are 0 without it). */
export async function hasConfirmations(db: Db): Promise<boolean> {
  const r = await sql<{ present: boolean }>`SELECT to_regclass('judicial_confirmations') IS NOT NULL AS present`.execute(db)
  return r.rows[0]?.present === true
}

/**
 * Statistics per group (contract §5), in one SQL statement.
 *
 * The unit counted is a referral created in the period and readable by the principal. For `organization` and
 * `region` the unit is a referral *per organization that held it* (a referral declined by one committee and
 * agreed by another counts once for each), and each outcome counts for the organization (or region) that held
 * the case when it was reached: `events.organization_id` / `events.region_code` record exactly that.
 *
 * Outcomes are read from the events (every transition wrote one), so a referral counts as declined, terminated
 * etc. if it ever reached that state, whatever happened after. The latest performance report wins.
 *
 * Query plan (see the index notes in migrations/0005_materials_warnings.ts): the period's referrals come from
 * referrals_created_idx / referrals_court_created_idx, their outcome events from events_referral_outcome_idx by
 * subject id (an index-only scan), confirmations from judicial_confirmations_referral_idx.
 */
export async function computeStats(db: Kysely<Database>, p: Principal, q: StatsQuery, withConfirmations: boolean): Promise<StatsGroupRow[]> {
  const prefix = q.regionCode ? `${regionPrefix(q.regionCode)}%` : null

  const baseFilters: Array<Expression<SqlBool>> = [
    sql<SqlBool>`r.created_at >= ${q.start}`,
    sql<SqlBool>`r.created_at < ${q.end}`,
    referralScopeOverlapSql(p, 'r'),
  ]
  if (q.courtCode) baseFilters.push(sql<SqlBool>`r.court_code = ${q.courtCode}`)
  if (prefix) baseFilters.push(sql<SqlBool>`r.held_by && ${orgsUnderSql([prefix])}`)
  const base = sql`SELECT r.id, r.court_code, r.dispute_type, r.held_by, r.organization_id, r.status, r.created_at FROM referrals r WHERE ${sql.join(baseFilters, sql` AND `)}`

  // pairs(id, key, current): the counted units; `current` = the group holds the case now (for the age of open ones).
  let pairs: RawBuilder<unknown>
  switch (q.groupBy) {
    case 'court':
      pairs = sql`SELECT b.id, b.court_code AS key, true AS current, b.status, b.created_at FROM base b`
      break
    case 'disputeType':
      pairs = sql`SELECT b.id, b.dispute_type AS key, true AS current, b.status, b.created_at FROM base b`
      break
    case 'month':
      pairs = sql`SELECT b.id, to_char(b.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS key, true AS current, b.status, b.created_at FROM base b`
      break
    case 'organization':
      pairs = sql`SELECT b.id, h.org AS key, h.org = b.organization_id AS current, b.status, b.created_at
        FROM base b CROSS JOIN LATERAL unnest(b.held_by) AS h(org)
        ${prefix ? sql`WHERE EXISTS (SELECT 1 FROM organizations o WHERE o.id = h.org AND o.region_code LIKE ${prefix})` : sql``}`
      break
    case 'region':
      pairs = sql`SELECT b.id, o.region_code AS key, bool_or(o.id = b.organization_id) AS current, b.status, b.created_at
        FROM base b JOIN organizations o ON o.id = ANY(b.held_by)
        ${prefix ? sql`WHERE o.region_code LIKE ${prefix}` : sql``}
        GROUP BY b.id, o.region_code, b.status, b.created_at`
      break
  }
  const attribution = q.groupBy === 'organization' ? sql`AND e.organization_id = p.key` : q.groupBy === 'region' ? sql`AND e.region_code = p.key` : sql``

  const confAttribution =
    q.groupBy === 'organization'
      ? sql`AND c.organization_id = p.key`
      : q.groupBy === 'region'
        ? sql`AND EXISTS (SELECT 1 FROM organizations co WHERE co.id = c.organization_id AND co.region_code = p.key)`
        : sql``
  const conf = withConfirmations
    ? sql`SELECT p.key,
          count(*) AS applied,
          count(*) FILTER (WHERE c.status = 'ruled_valid') AS ruled_valid,
          count(*) FILTER (WHERE c.status = 'under_review' AND c.review_due_on < ${q.today}::date) AS overdue
        FROM pairs p JOIN judicial_confirmations c ON c.referral_id = p.id ${confAttribution}
        GROUP BY p.key`
    : sql`SELECT NULL::text AS key, 0::bigint AS applied, 0::bigint AS ruled_valid, 0::bigint AS overdue WHERE false`

  // Planned for its parameters every time: the period decides between index probes and scans.
  const query = sql<StatsGroupRow>`${sql.raw(PLAN_EACH_TIME)}
    WITH base AS MATERIALIZED (${base}),
    pairs AS MATERIALIZED (${pairs}),
    -- Per unit, its outcome events: an index-only probe of events_referral_outcome_idx per referral.
    facts AS (
      SELECT p.key, p.current, p.status, p.created_at, x.*,
        CASE WHEN x.perf_seq IS NOT NULL THEN
          (SELECT pe.data -> 'referral' -> 'performance' ->> 'status' FROM events pe WHERE pe.subject_id = p.id AND pe.sequence = x.perf_seq)
        END AS performance
      FROM pairs p
      CROSS JOIN LATERAL (
        SELECT
          coalesce(bool_or(e.type = 'referral.accepted'), false) AS accepted,
          coalesce(bool_or(e.type = 'referral.declined'), false) AS declined,
          coalesce(bool_or(e.type = 'referral.agreement_recorded'), false) AS agreed,
          coalesce(bool_or(e.type = 'referral.terminated'), false) AS terminated,
          coalesce(bool_or(e.type IN ('referral.case_registered', 'referral.trial_resumed')), false) AS litigated,
          min(e.occurred_at) FILTER (WHERE e.type = 'referral.accepted') AS accepted_at,
          min(e.occurred_at) FILTER (WHERE e.type IN ('referral.agreement_recorded', 'referral.terminated')) AS outcome_at,
          max(e.sequence) FILTER (WHERE e.type = 'referral.performance_reported') AS perf_seq
        FROM events e
        WHERE e.subject_kind = 'referral' AND e.subject_id = p.id AND e.type IN (${OUTCOME_EVENTS_SQL}) ${attribution}
      ) x
    ),
    agg AS (
      SELECT key,
        count(*) AS referrals,
        count(*) FILTER (WHERE accepted) AS accepted,
        count(*) FILTER (WHERE declined) AS declined,
        count(*) FILTER (WHERE agreed) AS agreed,
        count(*) FILTER (WHERE terminated) AS terminated,
        count(*) FILTER (WHERE agreed AND perf_seq IS NOT NULL) AS performance_reported,
        count(*) FILTER (WHERE agreed AND performance = 'performed') AS performed,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY ${LOCAL_DATE(sql`outcome_at`)} - ${LOCAL_DATE(sql`accepted_at`)})
          FILTER (WHERE accepted_at IS NOT NULL AND outcome_at IS NOT NULL) AS median_days,
        count(*) FILTER (WHERE litigated) AS litigated,
        count(*) FILTER (WHERE current AND status <> ALL(${sql.val(FINISHED)}::text[])) AS open,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY ${q.today}::date - ${LOCAL_DATE(sql`created_at`)})
          FILTER (WHERE current AND status <> ALL(${sql.val(FINISHED)}::text[])) AS open_median_age,
        max(${q.today}::date - ${LOCAL_DATE(sql`created_at`)})
          FILTER (WHERE current AND status <> ALL(${sql.val(FINISHED)}::text[])) AS open_max_age
      FROM facts
      GROUP BY key
    ),
    conf AS (${conf})
    SELECT a.key, ${COUNTER_FIGURES},
      round(a.median_days::numeric, 2)::float8 AS "medianDaysToOutcome",
      a.litigated::int AS "litigatedAfterFailure",
      COALESCE(c.applied, 0)::int AS "confirmationsApplied",
      COALESCE(c.ruled_valid, 0)::int AS "confirmationsRuledValid",
      COALESCE(c.overdue, 0)::int AS "confirmationsOverdue",
      a.open::int AS "openReferrals",
      round(a.open_median_age::numeric, 2)::float8 AS "openReferralMedianAgeDays",
      a.open_max_age::int AS "openReferralMaxAgeDays"
    FROM agg a LEFT JOIN conf c ON c.key = a.key
    ORDER BY a.key COLLATE "C"
  `
  // One read-only transaction with room to sort and hash a period's referrals in memory (the default 4 MB spills
  // a month of a busy province to disk and turns the bitmap heap scan lossy).
  return db.transaction().execute(async (trx) => {
    await sql`SET TRANSACTION READ ONLY`.execute(trx)
    await sql`SET LOCAL work_mem = '64MB'`.execute(trx)
    await sql`SET LOCAL jit = off`.execute(trx)
    return (await query.execute(trx)).rows
  })
}

/**
 * Whether the rollup's cells without holders (stats_court_cells, migrations/0018_stats_court_cells.ts) answer this
 * caller: its scope is no condition on holders (the operator and national platforms read everything, a court its
 * court codes: referralScopeOverlapSql is then a condition on court_code alone), and neither is the regionCode filter
 * (for the organization and region grains it follows from the unit's region; for the referral grain it does not).
 */
function readsCourtCells(p: Principal, grain: 'r' | 'o' | 'g', regionFilter: boolean): boolean {
  const scopeFree = p.role === 'operator' || p.role === 'court' || (p.role === 'mediation' && isNational(p))
  return scopeFree && !(regionFilter && grain === 'r')
}

/**
 * The same figures as {@link computeStats}, read from the rollup (db/stats-rollup.ts, migrations/0016_stats_rollup.ts)
 * instead of counted: what GET /v1/stats answers. Undefined when the period is not whole Asia/Shanghai days (the
 * rollup counts by creation date; the HTTP route only asks for whole days): the caller counts directly then.
 *
 * Every scope and filter is a condition on the cells' own columns, as computeStats puts it on referrals: the caller's
 * scope is referralScopeOverlapSql on (court_code, held_by), courtCode is court_code, regionCode is held_by overlapping
 * the organizations now in the region, plus, for the organization and region groupings, the group's own region.
 * Medians come from the counts per value (days to outcome; open referrals per creation date, whose age is today −
 * that date), the overdue reviews from the counts per review due date before today. The operator, courts and national
 * platforms read the cells without holders where they can ({@link readsCourtCells}); `cells: 'held'` makes any caller
 * read the cells with holders (the test holds both to the direct count).
 */
export async function readStatsRollup(db: Kysely<Database>, p: Principal, q: StatsQuery, opts: { cells?: 'held' } = {}): Promise<StatsGroupRow[] | undefined> {
  const from = shanghaiDate(q.start)
  const to = addCalendarDays(shanghaiDate(q.end), -1)
  if (startOfShanghaiDay(from).getTime() !== q.start.getTime() || endOfShanghaiDay(to).getTime() !== q.end.getTime() || to < from) return undefined
  const prefix = q.regionCode ? `${regionPrefix(q.regionCode)}%` : null
  const grain = q.groupBy === 'organization' ? 'o' : q.groupBy === 'region' ? 'g' : 'r'
  const free = opts.cells !== 'held' && readsCourtCells(p, grain, prefix !== null)
  const [cellsTable, daysTable, dueTable] = free
    ? ['stats_court_cells', 'stats_court_outcome_days', 'stats_court_review_due']
    : ['stats_cells', 'stats_outcome_days', 'stats_review_due']
  const filters: Array<Expression<SqlBool>> = [
    sql<SqlBool>`c.grain = ${grain}`,
    sql<SqlBool>`c.created_on BETWEEN ${from}::date AND ${to}::date`,
    referralScopeOverlapSql(p, 'c'),
  ]
  if (q.courtCode) filters.push(sql<SqlBool>`c.court_code = ${q.courtCode}`)
  if (prefix) {
    // For the organization and region grains this condition follows from the next one (a unit in the region is a
    // holder in the region): the cells without holders can leave it out.
    if (!free) filters.push(sql<SqlBool>`c.held_by && ${orgsUnderSql([prefix])}`)
    if (grain === 'o') filters.push(sql<SqlBool>`EXISTS (SELECT 1 FROM organizations o WHERE o.id = c.unit AND o.region_code LIKE ${prefix})`)
    if (grain === 'g') filters.push(sql<SqlBool>`c.unit LIKE ${prefix}`)
  }
  const where = sql.join(filters, sql` AND `)
  const key =
    q.groupBy === 'court'
      ? sql`c.court_code`
      : q.groupBy === 'disputeType'
        ? sql`c.dispute_type`
        : q.groupBy === 'month'
          ? sql`to_char(c.created_on, 'YYYY-MM')`
          : sql`c.unit`
  /** The median (percentile_cont(0.5)) of a histogram (key, v, n): the mean of the values at ranks ⌊(N−1)/2⌋ and ⌊N/2⌋. */
  const median = (hist: RawBuilder<unknown>) => sql`
    SELECT key, (min(v) FILTER (WHERE upto > (total - 1) / 2) + min(v) FILTER (WHERE upto > total / 2)) / 2.0 AS median
    FROM (
      SELECT key, v, sum(n) OVER (PARTITION BY key ORDER BY v)::bigint AS upto, sum(n) OVER (PARTITION BY key)::bigint AS total
      FROM (SELECT key, v, sum(n) AS n FROM (${hist}) h GROUP BY key, v HAVING sum(n) > 0) g
    ) w
    GROUP BY key`
  const query = sql<StatsGroupRow>`
    WITH cells AS MATERIALIZED (
      -- Only what is summed, per group and creation day: the cells' arrays and codes stay behind, and the shards of a
      -- cell (whose own counters mean nothing alone) are added up before "open > 0" is asked below.
      SELECT ${key} AS key, c.created_on, sum(c.referrals) AS referrals, sum(c.accepted) AS accepted, sum(c.declined) AS declined,
        sum(c.agreed) AS agreed, sum(c.terminated) AS terminated, sum(c.performance_reported) AS performance_reported,
        sum(c.performed) AS performed, sum(c.litigated) AS litigated, sum(c.open) AS open,
        sum(c.confirmations_applied) AS confirmations_applied, sum(c.confirmations_ruled_valid) AS confirmations_ruled_valid
      FROM ${sql.table(cellsTable)} c WHERE ${where}
      GROUP BY 1, 2
    ),
    agg AS (
      SELECT key,
        sum(referrals) AS referrals, sum(accepted) AS accepted, sum(declined) AS declined, sum(agreed) AS agreed,
        sum(terminated) AS terminated, sum(performance_reported) AS performance_reported, sum(performed) AS performed,
        sum(litigated) AS litigated, sum(open) AS open, sum(confirmations_applied) AS applied,
        sum(confirmations_ruled_valid) AS ruled_valid,
        max(${q.today}::date - created_on) FILTER (WHERE open > 0) AS open_max_age
      FROM cells GROUP BY key HAVING sum(referrals) > 0
    ),
    open_age AS (${median(sql`SELECT key, ${q.today}::date - created_on AS v, open AS n FROM cells WHERE open > 0`)}),
    days AS (${median(sql`SELECT ${key} AS key, c.days AS v, c.n FROM ${sql.table(daysTable)} c WHERE ${where}`)}),
    overdue AS (
      SELECT ${key} AS key, sum(c.n) AS n FROM ${sql.table(dueTable)} c WHERE ${where} AND c.review_due_on < ${q.today}::date GROUP BY 1
    )
    SELECT a.key, ${COUNTER_FIGURES},
      round(d.median::numeric, 2)::float8 AS "medianDaysToOutcome",
      a.litigated::int AS "litigatedAfterFailure",
      a.applied::int AS "confirmationsApplied",
      a.ruled_valid::int AS "confirmationsRuledValid",
      COALESCE(o.n, 0)::int AS "confirmationsOverdue",
      a.open::int AS "openReferrals",
      round(g.median::numeric, 2)::float8 AS "openReferralMedianAgeDays",
      a.open_max_age::int AS "openReferralMaxAgeDays"
    FROM agg a
    LEFT JOIN days d ON d.key = a.key
    LEFT JOIN open_age g ON g.key = a.key
    LEFT JOIN overdue o ON o.key = a.key
    ORDER BY a.key COLLATE "C"
  `
  return db.transaction().execute(async (trx) => {
    await sql`SET TRANSACTION READ ONLY`.execute(trx)
    await sql`SET LOCAL jit = off`.execute(trx)
    return (await query.execute(trx)).rows
  })
}

/**
 * Confirmation applications in the principal's scope whose review is overdue today (under review past
 * reviewDueOn, 民诉法 art. 187), whatever the period: a snapshot, standalone applications included.
 */
export async function countOverdueConfirmations(db: Db, p: Principal, today: string, f: { courtCode?: string; regionCode?: string }): Promise<number> {
  const filters: Array<Expression<SqlBool>> = [sql<SqlBool>`c.status = 'under_review'`, sql<SqlBool>`c.review_due_on < ${today}::date`]
  filters.push(confirmationScopeSql(p, 'c'))
  if (f.courtCode) filters.push(sql<SqlBool>`c.court_code = ${f.courtCode}`)
  if (f.regionCode)
    filters.push(sql<SqlBool>`EXISTS (SELECT 1 FROM organizations o WHERE o.id = c.organization_id AND o.region_code LIKE ${`${regionPrefix(f.regionCode)}%`})`)
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM judicial_confirmations c WHERE ${sql.join(filters, sql` AND `)}`.execute(db)
  return r.rows[0]?.n ?? 0
}
