import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Contract §2 v1.1: a referral the court recalled before mediation started no longer blocks its 案号, like one
    -- that was registered, resumed or closed. The partial unique index of active referrals per (court, 案号) is
    -- recreated under the same name (the write path maps a violation of it to 409 duplicate_referral).
    DROP INDEX referrals_active_case_uidx;
    CREATE UNIQUE INDEX referrals_active_case_uidx ON referrals (court_code, case_number)
      WHERE status NOT IN ('case_registered', 'trial_resumed', 'closed', 'recalled');
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // Fails when a recalled referral and an active one share a 案号: the old index cannot hold both.
  await sql`
    DROP INDEX referrals_active_case_uidx;
    CREATE UNIQUE INDEX referrals_active_case_uidx ON referrals (court_code, case_number)
      WHERE status NOT IN ('case_registered', 'trial_resumed', 'closed');
  `.execute(db)
}
