import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Head-of-line checks (is an earlier delivery of this subscription and subject pending? which one is next?)
    -- read this index and test the status on the row. They cannot use the partial indexes of pending deliveries:
    -- with statistics taken while few deliveries were pending (the normal state), the planner takes any of them
    -- for empty and scans one whole for every delivery checked, which during a drain after an outage is the
    -- whole backlog per claim (EXPLAIN ANALYZE: 20,000 rows read per claimed delivery). A subject has a handful of
    -- deliveries per subscription, so this index finds them in one probe, whatever the statistics say.
    CREATE INDEX deliveries_subject_order_idx ON deliveries (subscription_id, subject_id, sequence);
    -- Room on each page for the claim's update (it writes only lease_until, in no index) to stay on the page
    -- as a HOT update, instead of a new version in every index of the table. Applies to pages written from now on.
    ALTER TABLE deliveries SET (fillfactor = 70);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE deliveries RESET (fillfactor);
    DROP INDEX deliveries_subject_order_idx;
  `.execute(db)
}
