import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- When each key was last used (GET /v1/clients), so operators can see keys nobody uses any more before they
    -- revoke them. Written asynchronously, at most once a minute per key (src/http/key-cache.ts), never on the
    -- request's own way to the database; null for a key never used since this column exists.
    ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE api_keys DROP COLUMN last_used_at;`.execute(db)
}
