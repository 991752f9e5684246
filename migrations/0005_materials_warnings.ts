import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Case materials (contract §6). The file itself lives in PostgreSQL, in 256 KiB chunks (material_chunks), so it
    -- survives restarts, is covered by the same backups, replication and transactions as the cases that reference it,
    -- and can be streamed both ways holding one chunk in memory. Large objects were the alternative: they need the
    -- lo_* API on one connection inside one transaction for a whole download, are not removed with their owner row
    -- (vacuumlo), and are skipped by logical replication.
    -- status: 'uploading' while the body streams in (chunks are committed one by one, so no transaction or pool
    -- connection is held while the client sends), 'complete' once the SHA-256 is known and the answer is stored.
    CREATE TABLE materials (
      id uuid PRIMARY KEY,
      client_id uuid NOT NULL,
      client_role text NOT NULL,
      content_type text NOT NULL,
      title text NOT NULL,
      size_bytes bigint NOT NULL DEFAULT 0,
      sha256 text,
      chunk_size integer NOT NULL,
      status text NOT NULL DEFAULT 'uploading' CHECK (status IN ('uploading', 'complete')),
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz
    );
    -- Abandoned uploads (a client that disconnects mid-body) are found by age and removed.
    CREATE INDEX materials_uploading_idx ON materials (created_at) WHERE status = 'uploading';
    CREATE INDEX materials_client_idx ON materials (client_id, id);

    CREATE TABLE material_chunks (
      material_id uuid NOT NULL REFERENCES materials (id) ON DELETE CASCADE,
      seq integer NOT NULL,
      data bytea NOT NULL,
      PRIMARY KEY (material_id, seq)
    );
    -- PDF, OFD, DOCX, JPEG and PNG are already compressed: storing out of line without pglz saves the CPU of a
    -- compression attempt that gains nothing.
    ALTER TABLE material_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

    -- Which cases reference a material (a referral, its returned materials, a confirmation application): a client
    -- that may read one of those cases may download the material.
    CREATE TABLE material_links (
      material_id uuid NOT NULL REFERENCES materials (id),
      subject_kind text NOT NULL,
      subject_id uuid NOT NULL,
      linked_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (material_id, subject_kind, subject_id)
    );
    CREATE INDEX material_links_subject_idx ON material_links (subject_kind, subject_id);

    -- 重大矛盾纠纷预警 (contract §5). Raised once, never changed: its one event (warning.raised) is the chain's head.
    CREATE TABLE warnings (
      id uuid PRIMARY KEY,
      level text NOT NULL CHECK (level IN ('red', 'orange', 'yellow')),
      region_code text NOT NULL,
      dispute_type text NOT NULL,
      summary text NOT NULL,
      involved_persons integer NOT NULL CHECK (involved_persons >= 0),
      referral_id uuid,
      raised_by_client uuid NOT NULL,
      raised_by_role text NOT NULL CHECK (raised_by_role IN ('court', 'mediation')),
      raised_by_name text NOT NULL,
      chain_head text NOT NULL,
      created_at timestamptz NOT NULL
    );
    CREATE INDEX warnings_raiser_idx ON warnings (raised_by_client, id);
    CREATE INDEX warnings_region_idx ON warnings (region_code text_pattern_ops);

    -- Statistics (GET /v1/stats): the period selects referrals by creation time, per court for court clients.
    CREATE INDEX referrals_created_idx ON referrals (created_at);
    CREATE INDEX referrals_court_created_idx ON referrals (court_code, created_at);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX referrals_court_created_idx; DROP INDEX referrals_created_idx;
    DROP TABLE warnings; DROP TABLE material_links; DROP TABLE material_chunks; DROP TABLE materials;
  `.execute(db)
}
