import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- The recomputation of open cases' due dates after PUT /v1/calendar/{year} (contract §2 "Recomputation"), one row
    -- per year. The PUT stores the year's arrangement and (re)starts this row in one transaction, then walks the open
    -- cases in batches, each case in its own short transaction, recording after every batch where it stands: a crash
    -- mid-way resumes at the next start or the next PUT from (phase, after_id), and a case done twice moves nothing
    -- the second time (dates only move later). generation counts the arrangements put: a newer PUT restarts the walk.
    CREATE TABLE calendar_recomputations (
      year integer PRIMARY KEY,
      generation integer NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'done')),
      phase text NOT NULL,
      after_id uuid,
      examined integer NOT NULL DEFAULT 0,
      changed integer NOT NULL DEFAULT 0,
      requested_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz
    );
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE calendar_recomputations;`.execute(db)
}
