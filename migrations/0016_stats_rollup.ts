import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- GET /v1/stats from counters instead of counting referrals and events (issue 16, goal 7: a year as the operator
    -- took 9–13 s at 1,000,000 referrals). The counted units and outcomes are exactly those of the direct query
    -- (src/db/stats-repository.ts computeStats); src/db/stats-rollup.ts keeps these tables in the transaction of
    -- every write that moves a figure (intake, transitions, confirmations, an organization's region).
    --
    -- One cell per (grain, created_on, court_code, dispute_type, held_by, unit):
    --   grain 'r': the unit is a referral (groupBy court, disputeType, month); unit = ''.
    --   grain 'o': a referral per organization that held it (groupBy organization); unit = the organization id,
    --              dispute_type = ''. Outcomes count for the organization holding the case when reached.
    --   grain 'g': a referral per region of the organizations that held it (groupBy region, the organizations'
    --              regions as they are now); unit = the region code, dispute_type = ''.
    -- created_on is the referral's creation date in Asia/Shanghai: periods are whole days, months come from it, and
    -- open referrals' ages (today − created_on) are exact from the open count per day. held_by (the organizations
    -- that ever held the referral) is kept so that every caller's scope (referralScopeOverlapSql) and the regionCode
    -- filter are the same array conditions as on referrals.
    CREATE TABLE stats_cells (
      grain "char" NOT NULL CHECK (grain IN ('r', 'o', 'g')),
      created_on date NOT NULL,
      court_code text NOT NULL,
      dispute_type text NOT NULL,
      held_by text[] NOT NULL,
      unit text NOT NULL,
      referrals integer NOT NULL DEFAULT 0,
      accepted integer NOT NULL DEFAULT 0,
      declined integer NOT NULL DEFAULT 0,
      agreed integer NOT NULL DEFAULT 0,
      terminated integer NOT NULL DEFAULT 0,
      litigated integer NOT NULL DEFAULT 0,
      performance_reported integer NOT NULL DEFAULT 0,
      performed integer NOT NULL DEFAULT 0,
      open integer NOT NULL DEFAULT 0,
      confirmations_applied integer NOT NULL DEFAULT 0,
      confirmations_ruled_valid integer NOT NULL DEFAULT 0,
      -- Intake adds to one of 16 rows of its cell (a random shard), so concurrent intakes of one court, day and
      -- organization do not queue on one row lock until each other's commit; readers sum the shards. Every other
      -- write uses shard 0. A shard's counters may be negative (a transition takes out of shard 0 what an intake
      -- put in shard 5): only the sum over the shards of a cell means anything.
      shard smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 15),
      PRIMARY KEY (grain, created_on, court_code, dispute_type, held_by, unit, shard)
    );
    -- How many units of a cell reached an outcome (agreement or termination) this many days (Asia/Shanghai dates)
    -- after their acceptance: the median of days to outcome, exactly, from the counts.
    CREATE TABLE stats_outcome_days (
      grain "char" NOT NULL,
      created_on date NOT NULL,
      court_code text NOT NULL,
      dispute_type text NOT NULL,
      held_by text[] NOT NULL,
      unit text NOT NULL,
      days integer NOT NULL,
      n integer NOT NULL DEFAULT 0,
      PRIMARY KEY (grain, created_on, court_code, dispute_type, held_by, unit, days)
    );
    -- How many of a cell's confirmation applications are under review with this review due date: those due before
    -- today are the overdue ones, whatever today is.
    CREATE TABLE stats_review_due (
      grain "char" NOT NULL,
      created_on date NOT NULL,
      court_code text NOT NULL,
      dispute_type text NOT NULL,
      held_by text[] NOT NULL,
      unit text NOT NULL,
      review_due_on date NOT NULL,
      n integer NOT NULL DEFAULT 0,
      PRIMARY KEY (grain, created_on, court_code, dispute_type, held_by, unit, review_due_on)
    );

    -- A court's "what changed since my last poll" (GET /v1/referrals?updatedSince=<recent>): the list filters the
    -- court's recently updated rows, then pages them by id. With referrals_court_updated_idx (court_code, updated_at)
    -- the planner still preferred referrals_updated_idx and filtered the court afterwards ("Index Scan using
    -- referrals_updated_idx ... Rows Removed by Filter: 48044, Buffers: shared hit=61111", 88.9 ms, p99 1,434 ms over
    -- HTTP at 1,000,000 referrals) and copied 13,365 whole rows into its CTE to keep 51. With id in the index the list
    -- picks the page's ids from the index alone (the court's recent entries, sorted by id, cut at the page) and reads
    -- only those rows (src/db/referral-repository.ts listReferrals). It replaces referrals_court_updated_idx, which
    -- it covers. Platforms and organization clients have no court code: their recent updates come from
    -- referrals_updated_idx filtered by held_by, as before.
    CREATE INDEX referrals_court_updated_id_idx ON referrals (court_code, updated_at, id);
    DROP INDEX referrals_court_updated_idx;
  `.execute(db)
  await backfill(db)
}

/**
 * Fills the rollup from the referrals, their outcome events and their confirmations, as they are: an existing
 * database answers the same figures after the migration as before it. The same rules as the direct query, written
 * once over all referrals (exported for the test that compares the two).
 */
export async function backfill(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TEMPORARY TABLE stats_backfill_pairs ON COMMIT DROP AS
    WITH refs AS (
      SELECT id, (created_at AT TIME ZONE 'Asia/Shanghai')::date AS created_on, court_code, dispute_type, status, organization_id, held_by
      FROM referrals
    ),
    pairs AS (
      SELECT 'r'::"char" AS grain, b.id, b.created_on, b.court_code, b.dispute_type, b.held_by, ''::text AS unit, true AS cur, b.status FROM refs b
      UNION ALL
      SELECT 'o', b.id, b.created_on, b.court_code, '', b.held_by, h.org, h.org = b.organization_id, b.status
      FROM refs b CROSS JOIN LATERAL unnest(b.held_by) AS h(org)
      UNION ALL
      SELECT 'g', b.id, b.created_on, b.court_code, '', b.held_by, o.region_code, bool_or(o.id = b.organization_id), b.status
      FROM refs b JOIN organizations o ON o.id = ANY(b.held_by)
      GROUP BY b.id, b.created_on, b.court_code, b.held_by, o.region_code, b.status
    )
    SELECT p.*, x.*,
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
      WHERE e.subject_id = p.id
        AND e.type IN ('referral.accepted', 'referral.declined', 'referral.agreement_recorded', 'referral.terminated',
                       'referral.case_registered', 'referral.trial_resumed', 'referral.performance_reported')
        AND (p.grain = 'r' OR (p.grain = 'o' AND e.organization_id = p.unit) OR (p.grain = 'g' AND e.region_code = p.unit))
    ) x
  `.execute(db)
  await sql`
    CREATE TEMPORARY TABLE stats_backfill_confs ON COMMIT DROP AS
    SELECT p.grain, p.created_on, p.court_code, p.dispute_type, p.held_by, p.unit, p.id, c.status, c.review_due_on
    FROM stats_backfill_pairs p
    JOIN judicial_confirmations c ON c.referral_id = p.id
      AND (p.grain = 'r' OR (p.grain = 'o' AND c.organization_id = p.unit)
           OR (p.grain = 'g' AND EXISTS (SELECT 1 FROM organizations co WHERE co.id = c.organization_id AND co.region_code = p.unit)))
  `.execute(db)
  await sql`
    INSERT INTO stats_cells (grain, created_on, court_code, dispute_type, held_by, unit, referrals, accepted, declined, agreed, terminated,
                             litigated, performance_reported, performed, open, confirmations_applied, confirmations_ruled_valid)
    SELECT f.grain, f.created_on, f.court_code, f.dispute_type, f.held_by, f.unit,
      count(*),
      count(*) FILTER (WHERE f.accepted),
      count(*) FILTER (WHERE f.declined),
      count(*) FILTER (WHERE f.agreed),
      count(*) FILTER (WHERE f.terminated),
      count(*) FILTER (WHERE f.litigated),
      count(*) FILTER (WHERE f.agreed AND f.perf_seq IS NOT NULL),
      count(*) FILTER (WHERE f.agreed AND f.performance = 'performed'),
      count(*) FILTER (WHERE f.cur AND f.status <> ALL ('{case_registered,trial_resumed,closed,recalled}'::text[])),
      coalesce(sum(c.applied), 0),
      coalesce(sum(c.ruled_valid), 0)
    FROM stats_backfill_pairs f
    LEFT JOIN (
      SELECT grain, id, unit, count(*) AS applied, count(*) FILTER (WHERE status = 'ruled_valid') AS ruled_valid
      FROM stats_backfill_confs GROUP BY grain, id, unit
    ) c ON c.grain = f.grain AND c.id = f.id AND c.unit = f.unit
    GROUP BY f.grain, f.created_on, f.court_code, f.dispute_type, f.held_by, f.unit
  `.execute(db)
  await sql`
    INSERT INTO stats_outcome_days (grain, created_on, court_code, dispute_type, held_by, unit, days, n)
    SELECT grain, created_on, court_code, dispute_type, held_by, unit,
      (outcome_at AT TIME ZONE 'Asia/Shanghai')::date - (accepted_at AT TIME ZONE 'Asia/Shanghai')::date, count(*)
    FROM stats_backfill_pairs
    WHERE accepted_at IS NOT NULL AND outcome_at IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7
  `.execute(db)
  await sql`
    INSERT INTO stats_review_due (grain, created_on, court_code, dispute_type, held_by, unit, review_due_on, n)
    SELECT grain, created_on, court_code, dispute_type, held_by, unit, review_due_on, count(*)
    FROM stats_backfill_confs
    WHERE status = 'under_review' AND review_due_on IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7
  `.execute(db)
  await sql`DROP TABLE stats_backfill_confs; DROP TABLE stats_backfill_pairs;`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE INDEX referrals_court_updated_idx ON referrals (court_code, updated_at);
    DROP INDEX referrals_court_updated_id_idx;
    DROP TABLE stats_review_due;
    DROP TABLE stats_outcome_days;
    DROP TABLE stats_cells;
  `.execute(db)
}
