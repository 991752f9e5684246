import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Daily reconciliation (GET /v1/reconciliation, POST /v1/reconciliation/diff) reads the cases whose updated_at
    -- lies in one Asia/Shanghai day: a range [00:00 +08:00, next 00:00 +08:00) on updated_at, in the caller's scope.
    -- Referrals have it already (referrals_updated_idx from 0002, referrals_court_updated_idx from 0006); judicial
    -- confirmations had no index on updated_at, so a day was a sequential scan of every application. The same pair:
    -- the day's range for operators and platforms (scope filtered on the day's rows), and court code + range for courts.
    CREATE INDEX judicial_confirmations_updated_idx ON judicial_confirmations (updated_at);
    CREATE INDEX judicial_confirmations_court_updated_idx ON judicial_confirmations (court_code, updated_at);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX judicial_confirmations_court_updated_idx; DROP INDEX judicial_confirmations_updated_idx;`.execute(db)
}
