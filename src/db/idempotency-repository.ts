import { type Kysely, sql, type Transaction } from 'kysely'
import type { Database } from './database.js'
import { type WriteBatch, writeOrDefer } from './write-batch.js'

export interface StoredResponse {
  requestHash: string
  status: number
  body: string
  headers: Record<string, string>
}

export type Claim = { kind: 'in_use' } | { kind: 'claimed'; prior: StoredResponse | undefined }

/**
 * Takes the (client, key) claim for this transaction without waiting, and reads a stored answer, in one round
 * trip. The advisory lock lives until the transaction ends, so a crashed request releases it with its rollback
 * and a retry can proceed.
 *
 * The read uses the statement's snapshot, taken just before the lock: a duplicate that committed in between is
 * not seen here. Its stored row then makes this transaction fail at the latest when it stores its own answer
 * (primary key), and the caller answers with the stored one ({@link findStored} after the rollback).
 */
export async function claimKey(trx: Transaction<Database>, clientId: string, key: string): Promise<Claim> {
  const r = await sql<{
    ok: boolean
    request_hash: string | null
    response_status: number | null
    response_body: string | null
    response_headers: Record<string, string> | null
  }>`
    SELECT l.ok, k.request_hash, k.response_status, k.response_body, k.response_headers
    FROM (SELECT pg_try_advisory_xact_lock(hashtextextended(${`${clientId}:${key}`}, 7243)) AS ok) l
    LEFT JOIN idempotency_keys k ON l.ok AND k.client_id = ${clientId} AND k.key = ${key}`.execute(trx)
  const row = r.rows[0]
  if (row?.ok !== true) return { kind: 'in_use' }
  if (row.request_hash === null) return { kind: 'claimed', prior: undefined }
  return { kind: 'claimed', prior: { requestHash: row.request_hash, status: row.response_status!, body: row.response_body!, headers: row.response_headers! } }
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

/** Stores the answer, in `batch` (the effect's last statement) when there is one. */
export async function store(trx: Transaction<Database>, clientId: string, key: string, res: StoredResponse, batch?: WriteBatch): Promise<void> {
  await writeOrDefer(
    trx.insertInto('idempotency_keys').values({
      client_id: clientId,
      key,
      request_hash: res.requestHash,
      response_status: res.status,
      response_body: res.body,
      response_headers: JSON.stringify(res.headers),
    }),
    batch,
  )
}

/** Deletes keys older than the retention (the contract keeps them at least 24 h). */
export async function deleteExpired(db: Kysely<Database>, olderThanHours: number): Promise<number> {
  const r = await db
    .deleteFrom('idempotency_keys')
    .where('created_at', '<', sql<Date>`now() - make_interval(hours => ${olderThanHours})`)
    .executeTakeFirst()
  return Number(r.numDeletedRows)
}
