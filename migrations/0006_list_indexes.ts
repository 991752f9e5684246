import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Referral lists (GET /v1/referrals), measured with EXPLAIN (ANALYZE, BUFFERS) on the benchmark's scale database
    -- (1,000,000 referrals, 4,250,414 events; bench/results/scale-plans.md). A court's list is keyset-paginated by
    -- id and filtered by its court code. With a second filter the planner walked the primary key and filtered:
    --   status=mediating:      "Index Scan using referrals_pkey ... Filter: ((court_code = '京0105') AND (status =
    --                           'mediating')) Rows Removed by Filter: 910929, Buffers: shared hit=16722 read=48918"
    --                           (238 ms; p99 1,471 ms over HTTP)
    --   updatedSince=<7 days>: "Index Scan using referrals_pkey ... Rows Removed by Filter: ..., Buffers: shared
    --                           hit=13787 read=40928" (252 ms; p99 1,887 ms over HTTP)
    -- (court_code, status, id) serves the first in id order, so the page stops after its 51 rows; the second reads
    -- only the court's recently updated rows, then sorts that handful by id.
    CREATE INDEX referrals_court_status_idx ON referrals (court_code, status, id);
    CREATE INDEX referrals_court_updated_idx ON referrals (court_code, updated_at);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX referrals_court_updated_idx; DROP INDEX referrals_court_status_idx;`.execute(db)
}
