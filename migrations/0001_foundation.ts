import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE clients (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      role text NOT NULL CHECK (role IN ('court', 'mediation', 'operator')),
      court_codes text[] NOT NULL DEFAULT '{}',
      organization_ids text[] NOT NULL DEFAULT '{}',
      region_codes text[] NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE api_keys (
      key_id text PRIMARY KEY,
      client_id uuid NOT NULL REFERENCES clients(id),
      key_hash bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz
    );
    CREATE INDEX api_keys_client_idx ON api_keys (client_id);

    -- One row per (client, Idempotency-Key), written in the same transaction as the effect it records,
    -- so a crash before commit leaves neither.
    CREATE TABLE idempotency_keys (
      client_id uuid NOT NULL,
      key text NOT NULL,
      request_hash text NOT NULL,
      response_status integer NOT NULL,
      response_body text NOT NULL,
      response_headers jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (client_id, key)
    );
    CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE idempotency_keys; DROP TABLE api_keys; DROP TABLE clients;`.execute(db)
}
