import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Judicial confirmation applications (司法确认, contract §3). Indexed columns for scope, filters, the review
    -- deadline and statistics; the application file (agreement, sealed parties, decisions) in doc (jsonb).
    CREATE TABLE judicial_confirmations (
      id uuid PRIMARY KEY,
      version integer NOT NULL,
      status text NOT NULL,
      referral_id uuid REFERENCES referrals (id),
      court_code text NOT NULL,
      organization_id text NOT NULL,
      subject text NOT NULL,
      late boolean NOT NULL,
      applied_at timestamptz NOT NULL,
      case_number text,
      review_due_on date,
      agreement_sha256 text NOT NULL,
      chain_head text NOT NULL,
      doc jsonb NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    );
    -- One live application per referral: while one is pending or has been ruled valid, another would ask the court
    -- the same question twice. After not_accepted, withdrawn or ruled_rejected the parties may apply again.
    CREATE UNIQUE INDEX judicial_confirmations_referral_live_uidx ON judicial_confirmations (referral_id)
      WHERE referral_id IS NOT NULL AND status IN ('applied', 'under_review', 'ruled_valid');
    CREATE INDEX judicial_confirmations_referral_idx ON judicial_confirmations (referral_id);
    CREATE INDEX judicial_confirmations_court_idx ON judicial_confirmations (court_code, id);
    CREATE INDEX judicial_confirmations_org_idx ON judicial_confirmations (organization_id, id);
    CREATE INDEX judicial_confirmations_status_idx ON judicial_confirmations (status, id);
    CREATE INDEX judicial_confirmations_review_due_idx ON judicial_confirmations (review_due_on) WHERE status = 'under_review';
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE judicial_confirmations;`.execute(db)
}
