import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- The warning lifecycle (contract §5 v1.1: 双向预警, 续报, 结报): raised → acknowledged (by the other side) → closed
    -- (by the raising side), follow-ups from either side meanwhile, and one warning.overdue event when nobody
    -- acknowledged in time. A warning is now a versioned resource: version = the sequence of its last event
    -- (warning.raised is 1), chain_head = that event's hash.
    ALTER TABLE warnings
      ADD COLUMN status text NOT NULL DEFAULT 'raised' CHECK (status IN ('raised', 'acknowledged', 'closed')),
      ADD COLUMN version integer NOT NULL DEFAULT 1,
      ADD COLUMN updated_at timestamptz,
      -- When the acknowledgement is due (created_at + 2 h red, 12 h orange, 24 h yellow), and when the overdue event
      -- was written (null: not yet; it is written once).
      ADD COLUMN ack_due_at timestamptz,
      ADD COLUMN overdue_at timestamptz,
      ADD COLUMN acknowledged_at timestamptz,
      ADD COLUMN acknowledged_by jsonb,
      ADD COLUMN acknowledgement_note text,
      -- [{ at, by: { clientId, role }, report }] in the order received.
      ADD COLUMN follow_ups jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN closed_at timestamptz,
      ADD COLUMN closed_by jsonb,
      ADD COLUMN closure_report text;

    -- Warnings raised before the lifecycle existed: raised, due from their creation by their level. Those already
    -- past due get their one warning.overdue event from the worker's first sweep.
    UPDATE warnings SET
      updated_at = created_at,
      ack_due_at = created_at + CASE level WHEN 'red' THEN interval '2 hours' WHEN 'orange' THEN interval '12 hours' ELSE interval '24 hours' END;
    ALTER TABLE warnings ALTER COLUMN updated_at SET NOT NULL, ALTER COLUMN ack_due_at SET NOT NULL;
    -- The same for a row inserted without them (a seed script, a writer that predates the lifecycle): the due time
    -- is a function of the level and the creation time, never left unset.
    CREATE FUNCTION warnings_lifecycle_defaults() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.updated_at := coalesce(NEW.updated_at, NEW.created_at);
      NEW.ack_due_at := coalesce(NEW.ack_due_at, NEW.created_at + CASE NEW.level WHEN 'red' THEN interval '2 hours'
        WHEN 'orange' THEN interval '12 hours' ELSE interval '24 hours' END);
      RETURN NEW;
    END $$;
    CREATE TRIGGER warnings_lifecycle_defaults BEFORE INSERT ON warnings FOR EACH ROW EXECUTE FUNCTION warnings_lifecycle_defaults();

    -- The overdue timer's scan (src/cases/warnings/warning-timers.ts): only warnings still waiting for an
    -- acknowledgement and not yet marked overdue, by due time; the index empties as warnings are acknowledged.
    CREATE INDEX warnings_ack_due_idx ON warnings (ack_due_at) WHERE status = 'raised' AND overdue_at IS NULL;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX warnings_ack_due_idx;
    DROP TRIGGER warnings_lifecycle_defaults ON warnings;
    DROP FUNCTION warnings_lifecycle_defaults();
    ALTER TABLE warnings
      DROP COLUMN status, DROP COLUMN version, DROP COLUMN updated_at, DROP COLUMN ack_due_at, DROP COLUMN overdue_at,
      DROP COLUMN acknowledged_at, DROP COLUMN acknowledged_by, DROP COLUMN acknowledgement_note, DROP COLUMN follow_ups,
      DROP COLUMN closed_at, DROP COLUMN closed_by, DROP COLUMN closure_report;
  `.execute(db)
}
