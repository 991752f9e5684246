import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- The statistics rollup's cells without holders (issue 16, goal 7: the operator's year by court took 328 ms at
    -- 1,000,000 referrals, target 300 ms). stats_cells (0016) keeps held_by in each cell's key because a mediation
    -- client's scope and the regionCode filter are array conditions on it, so a year holds about a third as many
    -- cells as referrals, and reading them is what the operator's and a court's statistics cost. Their scope does not
    -- depend on holders (the operator: everything; a court: its court codes; a national platform: everything), so they
    -- read these cells instead: the same counters summed over held_by, one cell per
    -- (grain, created_on, court_code, dispute_type, unit), a few dozen times fewer per year.
    --
    -- The grains, units and counters mean what they mean in stats_cells. The regionCode filter is an array condition
    -- on held_by too, but for the organization and region grains it follows from the unit's own region (a unit in
    -- the region is a holder in the region), so only the referral grain with a regionCode filter still needs
    -- stats_cells. src/db/stats-rollup.ts writes both in the same statements, in every transaction that moves a figure.
    CREATE TABLE stats_court_cells (
      grain "char" NOT NULL CHECK (grain IN ('r', 'o', 'g')),
      created_on date NOT NULL,
      court_code text NOT NULL,
      dispute_type text NOT NULL,
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
      -- As in stats_cells: a write adds to one of 16 rows of its cell (intake and every other write pick one at
      -- random here: without holders a cell is shared by all of a court's referrals of one day and dispute type),
      -- readers sum the shards; only that sum means anything.
      shard smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 15),
      PRIMARY KEY (grain, created_on, court_code, dispute_type, unit, shard)
    );
    -- stats_outcome_days and stats_review_due without holders: the histograms of the exact medians and overdue counts.
    CREATE TABLE stats_court_outcome_days (
      grain "char" NOT NULL,
      created_on date NOT NULL,
      court_code text NOT NULL,
      dispute_type text NOT NULL,
      unit text NOT NULL,
      days integer NOT NULL,
      n integer NOT NULL DEFAULT 0,
      PRIMARY KEY (grain, created_on, court_code, dispute_type, unit, days)
    );
    CREATE TABLE stats_court_review_due (
      grain "char" NOT NULL,
      created_on date NOT NULL,
      court_code text NOT NULL,
      dispute_type text NOT NULL,
      unit text NOT NULL,
      review_due_on date NOT NULL,
      n integer NOT NULL DEFAULT 0,
      PRIMARY KEY (grain, created_on, court_code, dispute_type, unit, review_due_on)
    );
  `.execute(db)
  await backfill(db)
}

/**
 * Fills the cells without holders from the rollup's cells with holders (kept exact in every write since 0016): their
 * sums over held_by and the shards. Seconds at 1,000,000 referrals, where counting the referrals again takes minutes.
 * Exported for the test that compares it with the maintained cells.
 */
export async function backfill(db: Kysely<unknown>): Promise<void> {
  await sql`
    INSERT INTO stats_court_cells (grain, created_on, court_code, dispute_type, unit, referrals, accepted, declined, agreed, terminated,
                                   litigated, performance_reported, performed, open, confirmations_applied, confirmations_ruled_valid)
    SELECT grain, created_on, court_code, dispute_type, unit,
      sum(referrals), sum(accepted), sum(declined), sum(agreed), sum(terminated), sum(litigated), sum(performance_reported),
      sum(performed), sum(open), sum(confirmations_applied), sum(confirmations_ruled_valid)
    FROM stats_cells
    GROUP BY grain, created_on, court_code, dispute_type, unit
    HAVING sum(referrals) <> 0 OR sum(accepted) <> 0 OR sum(declined) <> 0 OR sum(agreed) <> 0 OR sum(terminated) <> 0
      OR sum(litigated) <> 0 OR sum(performance_reported) <> 0 OR sum(performed) <> 0 OR sum(open) <> 0
      OR sum(confirmations_applied) <> 0 OR sum(confirmations_ruled_valid) <> 0
  `.execute(db)
  await sql`
    INSERT INTO stats_court_outcome_days (grain, created_on, court_code, dispute_type, unit, days, n)
    SELECT grain, created_on, court_code, dispute_type, unit, days, sum(n)
    FROM stats_outcome_days
    GROUP BY grain, created_on, court_code, dispute_type, unit, days
    HAVING sum(n) <> 0
  `.execute(db)
  await sql`
    INSERT INTO stats_court_review_due (grain, created_on, court_code, dispute_type, unit, review_due_on, n)
    SELECT grain, created_on, court_code, dispute_type, unit, review_due_on, sum(n)
    FROM stats_review_due
    GROUP BY grain, created_on, court_code, dispute_type, unit, review_due_on
    HAVING sum(n) <> 0
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE stats_court_review_due;
    DROP TABLE stats_court_outcome_days;
    DROP TABLE stats_court_cells;
  `.execute(db)
}
