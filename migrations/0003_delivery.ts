import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Webhook subscriptions (contract §4). The secret must stay usable for HMAC, so it is stored encrypted
    -- (field cipher), never in plain text; during rotation the previous secret keeps signing until it expires.
    CREATE TABLE subscriptions (
      id uuid PRIMARY KEY,
      client_id uuid NOT NULL REFERENCES clients(id),
      url text NOT NULL,
      event_types text[] NOT NULL,
      description text,
      allow_private_network boolean NOT NULL DEFAULT false,
      signature_algorithm text NOT NULL DEFAULT 'hmac-sha256' CHECK (signature_algorithm IN ('hmac-sha256', 'hmac-sm3')),
      secret_enc text NOT NULL,
      previous_secret_enc text,
      previous_secret_expires_at timestamptz,
      enabled boolean NOT NULL DEFAULT true,
      disabled_reason text,
      disabled_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      deleted_at timestamptz
    );
    CREATE INDEX subscriptions_client_idx ON subscriptions (client_id) WHERE deleted_at IS NULL;

    -- One row per (subscription, event): PostgreSQL is the truth about what was delivered; BullMQ only carries
    -- the work (job id = delivery id). lease_until marks an attempt in flight so that a duplicate job (sweeper,
    -- stalled-job recovery) never sends the same delivery twice at once.
    CREATE TABLE deliveries (
      id uuid PRIMARY KEY,
      subscription_id uuid NOT NULL REFERENCES subscriptions(id),
      event_id uuid NOT NULL,
      event_pos bigint NOT NULL,
      event_type text NOT NULL,
      subject_kind text NOT NULL,
      subject_id uuid NOT NULL,
      sequence integer NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      lease_until timestamptz,
      first_attempt_at timestamptz,
      last_attempt_at timestamptz,
      last_status integer,
      last_error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      delivered_at timestamptz,
      dead_at timestamptz,
      UNIQUE (subscription_id, event_id)
    );
    -- Head-of-line checks: the earliest pending delivery per (subscription, subject).
    CREATE INDEX deliveries_pending_order_idx ON deliveries (subscription_id, subject_id, sequence) WHERE status = 'pending';
    -- The sweeper: due pending deliveries.
    CREATE INDEX deliveries_pending_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
    CREATE INDEX deliveries_dead_idx ON deliveries (subscription_id, created_at) WHERE status = 'dead';
    CREATE INDEX deliveries_delivered_idx ON deliveries (subscription_id, delivered_at) WHERE status = 'delivered';
    CREATE INDEX deliveries_subscription_idx ON deliveries (subscription_id, id);

    -- The attempt log shown to operators: time, HTTP status, latency, the first KiB of the answer, the error.
    CREATE TABLE delivery_attempts (
      id bigserial PRIMARY KEY,
      delivery_id uuid NOT NULL REFERENCES deliveries(id),
      attempted_at timestamptz NOT NULL,
      http_status integer,
      latency_ms integer NOT NULL,
      response_body text,
      error text,
      outcome text NOT NULL
    );
    CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id, id);

    -- Time-window recoveries requested by operators: kept here so a wiped Redis loses none of them.
    CREATE TABLE recovery_jobs (
      id uuid PRIMARY KEY,
      subscription_id uuid NOT NULL REFERENCES subscriptions(id),
      since timestamptz NOT NULL,
      until timestamptz NOT NULL,
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'done')),
      requeued integer,
      created_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz
    );
    CREATE INDEX recovery_jobs_queued_idx ON recovery_jobs (created_at) WHERE status = 'queued';
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE recovery_jobs; DROP TABLE delivery_attempts; DROP TABLE deliveries; DROP TABLE subscriptions;`.execute(db)
}
