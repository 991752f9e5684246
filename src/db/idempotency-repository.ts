import { type Kysely, sql, type Transaction } from 'kysely'
import { AppError } from '../domain/errors.js'
import type { Database } from './database.js'
import { type WriteBatch, writeOrDefer } from './write-batch.js'

/** A path into a JSON answer: property names and array indexes. */
export type JsonPath = Array<string | number>

/**
 * The case an answer shows, for answers stored with its personal data masked: the case resource (its collection
 * path, e.g. `/v1/referrals`), the case's id, and the paths of the strings the stored body holds masked.
 */
export interface StoredSubject {
  kind: string
  id: string
  paths: JsonPath[]
}

export interface StoredResponse {
  requestHash: string
  status: number
  body: string
  headers: Record<string, string>
  /** Present when `body` shows a case with its personal data masked (to be shown again as the caller may see it then). */
  subject?: StoredSubject
}

/** An answer to store: its body as text or as that text's UTF-8 bytes (a large answer: json-bytes.ts). */
export type AnswerToStore = Omit<StoredResponse, 'body'> & { body: string | Buffer }

interface StoredRow {
  request_hash: string
  response_status: number
  response_body: string
  response_headers: Record<string, string>
  subject_kind: string | null
  subject_id: string | null
  personal_paths: JsonPath[] | null
}

function storedOf(row: StoredRow): StoredResponse {
  const res: StoredResponse = { requestHash: row.request_hash, status: row.response_status, body: row.response_body, headers: row.response_headers }
  if (row.subject_kind !== null && row.subject_id !== null) res.subject = { kind: row.subject_kind, id: row.subject_id, paths: row.personal_paths ?? [] }
  return res
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
  const r = await sql<{ ok: boolean } & { [K in keyof StoredRow]: StoredRow[K] | null }>`
    SELECT l.ok, k.request_hash, k.response_status, k.response_body, k.response_headers, k.subject_kind, k.subject_id, k.personal_paths
    FROM (SELECT pg_try_advisory_xact_lock(hashtextextended(${`${clientId}:${key}`}, 7243)) AS ok) l
    LEFT JOIN idempotency_keys k ON l.ok AND k.client_id = ${clientId} AND k.key = ${key}`.execute(trx)
  const row = r.rows[0]
  if (row?.ok !== true) return { kind: 'in_use' }
  if (row.request_hash === null) return { kind: 'claimed', prior: undefined }
  return { kind: 'claimed', prior: storedOf(row as StoredRow) }
}

export async function findStored(db: Kysely<Database> | Transaction<Database>, clientId: string, key: string): Promise<StoredResponse | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response_status', 'response_body', 'response_headers', 'subject_kind', 'subject_id', 'personal_paths'])
    .where('client_id', '=', clientId)
    .where('key', '=', key)
    .executeTakeFirst()
  return row ? storedOf(row) : undefined
}

/**
 * Takes the (client, key) claims of many keys for this transaction without waiting (as {@link claimKey} does for
 * one) and returns the keys another transaction holds (in flight: 409 idempotency_key_in_use). A key taken twice
 * in one transaction is taken (advisory locks are re-entrant).
 */
export async function claimKeys(trx: Transaction<Database>, clientId: string, keys: readonly string[]): Promise<Set<string>> {
  const unique = [...new Set(keys)]
  if (!unique.length) return new Set()
  const r = await sql<{ key: string; ok: boolean }>`
    SELECT k AS key, pg_try_advisory_xact_lock(hashtextextended(${clientId}::text || ':' || k, 7243)) AS ok
    FROM unnest(${unique}::text[]) AS k`.execute(trx)
  return new Set(r.rows.filter((x) => !x.ok).map((x) => x.key))
}

/**
 * The stored answers of many keys. Read after {@link claimKeys} in a statement of its own: its snapshot, taken once
 * the claims are held, shows every answer committed under those keys (a writer stores only while it holds the
 * claim), so none can appear after it.
 */
export async function findStoredMany(trx: Transaction<Database>, clientId: string, keys: readonly string[]): Promise<Map<string, StoredResponse>> {
  const unique = [...new Set(keys)]
  if (!unique.length) return new Map()
  const rows = await trx
    .selectFrom('idempotency_keys')
    .select(['key', 'request_hash', 'response_status', 'response_body', 'response_headers', 'subject_kind', 'subject_id', 'personal_paths'])
    .where('client_id', '=', clientId)
    .where('key', 'in', unique)
    .execute()
  return new Map(rows.map((r) => [r.key, storedOf(r)]))
}

/**
 * Stores the answer, in `batch` (the effect's last statement) when there is one. An answer showing a case must come
 * with its personal data already masked, and its `subject`: the store never holds personal data in clear.
 */
export async function store(trx: Transaction<Database>, clientId: string, key: string, res: AnswerToStore, batch?: WriteBatch): Promise<void> {
  await writeOrDefer(
    trx.insertInto('idempotency_keys').values({
      client_id: clientId,
      key,
      request_hash: res.requestHash,
      response_status: res.status,
      // A Buffer goes as a parameter in binary format, which for text is its UTF-8 bytes.
      response_body: res.body as string,
      response_headers: JSON.stringify(res.headers),
      ...(res.subject ? { subject_kind: res.subject.kind, subject_id: res.subject.id, personal_paths: JSON.stringify(res.subject.paths) } : {}),
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

/** A stored answer as it is sent again. */
export interface Outcome {
  replay: boolean
  status: number
  body: string
  headers: Record<string, string>
  /** A replay of a case answer: its body is stored masked. */
  subject?: StoredSubject
}

export function replayOf(prior: StoredResponse, hash: string): Outcome {
  if (prior.requestHash !== hash) throw new AppError(422, 'idempotency_key_reused', '该 Idempotency-Key 已用于内容不同的请求')
  return { replay: true, status: prior.status, body: prior.body, headers: prior.headers, ...(prior.subject ? { subject: prior.subject } : {}) }
}

/**
 * After a failed attempt, the answer of a duplicate that committed between this attempt's snapshot and its claim,
 * if there is one (an effect that lost such a race fails with a conflict, a refused transition or a stale version).
 */
export async function storedAfterFailure(db: Kysely<Database>, clientId: string, key: string, hash: string, err: unknown): Promise<Outcome | undefined> {
  // in_use: the lock is held by a replay of a finished request (its answer is stored: replay it too) or by the request
  // itself, still in flight (nothing stored yet: the 409 stands).
  if (err instanceof AppError && (err.status === 400 || err.code === 'idempotency_key_reused')) return undefined
  const prior = await findStored(db, clientId, key).catch(() => undefined)
  return prior ? replayOf(prior, hash) : undefined
}
