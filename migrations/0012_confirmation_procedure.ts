import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- The whole confirmation procedure (contract §3 v1.1): an application waiting for ordered materials
    -- (materials_requested, 民诉法解释 354) and one whose ruling is under objection (objection_filed, 372) are live
    -- as well: one live application per referral.
    DROP INDEX judicial_confirmations_referral_live_uidx;
    CREATE UNIQUE INDEX judicial_confirmations_referral_live_uidx ON judicial_confirmations (referral_id)
      WHERE referral_id IS NOT NULL AND status IN ('applied', 'under_review', 'materials_requested', 'ruled_valid', 'objection_filed');
    -- The deemed-withdrawal sweep (357): applications waiting for materials, by the day they are due.
    CREATE INDEX judicial_confirmations_supplement_due_idx ON judicial_confirmations ((doc #>> '{requestedMaterials,dueOn}'))
      WHERE status = 'materials_requested';
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX judicial_confirmations_supplement_due_idx;
    DROP INDEX judicial_confirmations_referral_live_uidx;
    CREATE UNIQUE INDEX judicial_confirmations_referral_live_uidx ON judicial_confirmations (referral_id)
      WHERE referral_id IS NOT NULL AND status IN ('applied', 'under_review', 'ruled_valid');
  `.execute(db)
}
