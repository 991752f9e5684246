import { type Kysely, sql, type Transaction } from 'kysely'
import type { Database } from './database.js'

export interface StoredResponse {
  requestHash: string
  status: number
  body: string
  headers: Record<string, string>
}

/**
 * Takes the (client, key) claim for this transaction without waiting. The advisory lock lives until the
 * transaction ends, so a crashed request releases it with its rollback and a retry can proceed.
 */
export async function tryClaim(trx: Transaction<Database>, clientId: string, key: string): Promise<boolean> {
  const r = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(hashtextextended(${`${clientId}:${key}`}, 7243)) AS ok`.execute(trx)
  return r.rows[0]?.ok === true
}

export async function findStored(db: Kysely<Database> | Transaction<Database>, clientId: string, key: string): Promise<StoredResponse | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response_status', 'response_body', 'response_headers'])
    .where('client_id', '=', clientId)
    .where('key', '=', key)
    .executeTakeFirst()
  return row ? { requestHash: row.request_hash, status: row.response_status, body: row.response_body, headers: row.response_headers } : undefined
}

export async function store(trx: Transaction<Database>, clientId: string, key: string, res: StoredResponse): Promise<void> {
  await trx
    .insertInto('idempotency_keys')
    .values({
      client_id: clientId,
      key,
      request_hash: res.requestHash,
      response_status: res.status,
      response_body: res.body,
      response_headers: JSON.stringify(res.headers),
    })
    .execute()
}

/** Deletes keys older than the retention (the contract keeps them at least 24 h). */
export async function deleteExpired(db: Kysely<Database>, olderThanHours: number): Promise<number> {
  const r = await db
    .deleteFrom('idempotency_keys')
    .where('created_at', '<', sql<Date>`now() - make_interval(hours => ${olderThanHours})`)
    .executeTakeFirst()
  return Number(r.numDeletedRows)
}
