import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE organizations (
      id text PRIMARY KEY,
      name text NOT NULL,
      kind text NOT NULL,
      region_code text NOT NULL,
      uscc text,
      dispute_types text[] NOT NULL DEFAULT '{}',
      full_time_mediators integer NOT NULL DEFAULT 0,
      ministry_roster boolean NOT NULL DEFAULT false,
      court_special text[] NOT NULL DEFAULT '{}',
      active boolean NOT NULL DEFAULT true,
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX organizations_region_idx ON organizations (region_code text_pattern_ops);
    CREATE INDEX organizations_court_special_idx ON organizations USING gin (court_special);

    -- The referral: indexed columns for scope, filters and timers; the rest of the case file in doc (jsonb),
    -- with personal data inside it encrypted field by field.
    CREATE TABLE referrals (
      id uuid PRIMARY KEY,
      version integer NOT NULL,
      status text NOT NULL,
      referral_type text NOT NULL,
      court_code text NOT NULL,
      case_number text NOT NULL,
      dispute_type text NOT NULL,
      organization_id text NOT NULL,
      held_by text[] NOT NULL,
      acceptance_due_on date,
      mediation_due_on date,
      chain_head text NOT NULL,
      doc jsonb NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    );
    CREATE UNIQUE INDEX referrals_active_case_uidx ON referrals (court_code, case_number)
      WHERE status NOT IN ('case_registered', 'trial_resumed', 'closed');
    CREATE INDEX referrals_court_idx ON referrals (court_code, id);
    CREATE INDEX referrals_held_by_idx ON referrals USING gin (held_by);
    CREATE INDEX referrals_status_idx ON referrals (status, id);
    CREATE INDEX referrals_updated_idx ON referrals (updated_at);
    CREATE INDEX referrals_acceptance_due_idx ON referrals (acceptance_due_on) WHERE status = 'referred';
    CREATE INDEX referrals_mediation_due_idx ON referrals (mediation_due_on) WHERE status = 'mediating';

    -- Blind index (keyed hash) of party ID numbers for exact search without decrypting.
    CREATE TABLE party_index (
      subject_id uuid NOT NULL,
      id_hash text NOT NULL,
      PRIMARY KEY (id_hash, subject_id)
    );
    CREATE INDEX party_index_subject_idx ON party_index (subject_id);

    -- Every transition's event (contract §4). Append-only and hash-chained per subject.
    -- txid records the writing transaction so the pull feed can avoid skipping events of transactions
    -- that commit out of order (see src/db/event-repository.ts).
    CREATE TABLE events (
      pos bigserial PRIMARY KEY,
      id uuid NOT NULL UNIQUE,
      txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      type text NOT NULL,
      occurred_at timestamptz NOT NULL,
      subject_kind text NOT NULL,
      subject_id uuid NOT NULL,
      sequence integer NOT NULL,
      case_version integer,
      actor jsonb NOT NULL,
      data jsonb NOT NULL,
      court_code text,
      organization_id text,
      region_code text,
      audience text NOT NULL DEFAULT 'case',
      prev_hash text NOT NULL,
      hash text NOT NULL,
      UNIQUE (subject_id, sequence)
    );
    CREATE INDEX events_feed_idx ON events (txid, pos);
    CREATE INDEX events_court_idx ON events (court_code, txid, pos);
    CREATE INDEX events_org_idx ON events (organization_id, txid, pos);

    -- The application may only append events: updates and deletes are refused for every role
    -- (a superuser can still bypass triggers with session_replication_role, which is what the tamper test does).
    CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'events are append-only' USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
      FOR EACH ROW EXECUTE FUNCTION events_append_only();
    CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
      FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

    -- Events not yet fanned out to subscriptions: written with the event, removed by the relay.
    CREATE TABLE outbox (
      event_pos bigint PRIMARY KEY,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    -- Who saw whose full personal data, when, through which request (contract §8 access trail).
    CREATE TABLE access_log (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      client_id uuid NOT NULL,
      subject_id uuid NOT NULL,
      fields text[] NOT NULL,
      request_id text NOT NULL
    );
    CREATE INDEX access_log_subject_idx ON access_log (subject_id, at);
    CREATE INDEX access_log_client_idx ON access_log (client_id, at);

    CREATE TABLE calendar_years (
      year integer PRIMARY KEY,
      holidays date[] NOT NULL,
      workdays date[] NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE calendar_years; DROP TABLE access_log; DROP TABLE outbox; DROP TABLE events; DROP FUNCTION events_append_only();
    DROP TABLE party_index; DROP TABLE referrals; DROP TABLE organizations;
  `.execute(db)
}
