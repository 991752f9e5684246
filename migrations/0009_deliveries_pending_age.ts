import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- The age of the oldest pending delivery (zdz_delivery_oldest_pending_seconds on /metrics, computed at every
    -- scrape): min(created_at) over the pending deliveries is one probe of this index, where without it every
    -- pending row was read (a backlog of a million after a long outage). Pending rows only, like the other partial
    -- indexes of deliveries, so it stays as small as the backlog.
    CREATE INDEX deliveries_pending_created_idx ON deliveries (created_at) WHERE status = 'pending';
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX deliveries_pending_created_idx;`.execute(db)
}
