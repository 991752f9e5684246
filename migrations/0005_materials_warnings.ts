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

    -- Statistics (GET /v1/stats). Measured with EXPLAIN (ANALYZE, BUFFERS) on a seeded database of 1,000,000 referrals
    -- created over 365 days (ids time-ordered as UUIDv7, rows in creation order, ~1 KiB docs), 3,745,749 events,
    -- 3,000 organizations, 46,693 confirmation applications; a 30-day period holds ~80,400 referrals.
    --
    -- 1. The period's referrals. Without an index on created_at every statistics call is a sequential scan of the
    --    whole table: "Seq Scan on referrals r ... Rows Removed by Filter: 919609, Buffers: shared read=166667"
    --    (operator, 30 days). With referrals_created_idx: "Index Scan using referrals_created_idx ... rows=80391,
    --    Buffers: shared read=13621". A court reads its own courts' referrals of the period through
    --    referrals_court_created_idx: "Bitmap Index Scan on referrals_court_created_idx ... rows=129, Buffers:
    --    shared hit=4" (4 ms in all for 京0105's month). A regional platform's scope is an overlap on held_by, so the
    --    two indexes combine: "BitmapAnd -> Bitmap Index Scan on referrals_held_by_idx (held_by && $0) rows=33330,
    --    Bitmap Index Scan on referrals_created_idx rows=80391 -> Heap Blocks: exact=2489, Buffers: shared hit=3079"
    --    (a prefecture's 2,677 referrals; testing every referral's organizations instead read 254,795 buffers).
    CREATE INDEX referrals_created_idx ON referrals (created_at);
    CREATE INDEX referrals_court_created_idx ON referrals (court_code, created_at);

    -- 2. The outcomes each referral reached, from its events. Through events_subject_id_sequence_key every probe
    --    visits the heap (events carry their data): "Index Scan using events_subject_id_sequence_key ... loops=80391,
    --    Rows Removed by Filter: 2, Buffers: shared hit=446676 read=95456". This partial covering index holds only
    --    the outcome events and the columns the statistics read; events are append-only, so the visibility map stays
    --    set and the probes never touch the heap: "Index Only Scan using events_referral_outcome_idx ... loops=80391,
    --    Heap Fetches: 0, Buffers: shared hit=323054 read=1". 200 MB at this size (events_subject_id_sequence_key:
    --    167 MB). The statistics query lists the same types as literals so the planner can prove the predicate.
    CREATE INDEX events_referral_outcome_idx ON events (subject_id) INCLUDE (type, occurred_at, sequence, organization_id, region_code)
      WHERE subject_kind = 'referral' AND type IN ('referral.accepted', 'referral.declined', 'referral.agreement_recorded',
        'referral.terminated', 'referral.case_registered', 'referral.trial_resumed', 'referral.performance_reported');
    -- 3. Confirmations join on judicial_confirmations_referral_idx (migration 0004) and the latest performance report
    --    is one probe of events_subject_id_sequence_key for the referrals that have one: no further index needed.
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX events_referral_outcome_idx; DROP INDEX referrals_court_created_idx; DROP INDEX referrals_created_idx;
    DROP TABLE warnings; DROP TABLE material_links; DROP TABLE material_chunks; DROP TABLE materials;
  `.execute(db)
}
