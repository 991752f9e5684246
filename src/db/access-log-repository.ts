import { type Kysely, type Transaction } from 'kysely'
import type { Database } from './database.js'

type Db = Kysely<Database> | Transaction<Database>

export interface AccessEntry {
  clientId: string
  subjectId: string
  fields: string[]
  requestId: string
}

/** Records that a client was shown full personal data of a case (contract §8). */
export async function recordAccess(db: Db, entries: AccessEntry[]): Promise<void> {
  if (!entries.length) return
  await db
    .insertInto('access_log')
    .values(entries.map((e) => ({ client_id: e.clientId, subject_id: e.subjectId, fields: e.fields, request_id: e.requestId })))
    .execute()
}

export interface AccessLogFilters {
  subjectId?: string
  clientId?: string
  since?: string
  until?: string
  afterId?: string
  limit: number
}

export async function listAccess(db: Db, f: AccessLogFilters) {
  let q = db.selectFrom('access_log').selectAll()
  if (f.subjectId) q = q.where('subject_id', '=', f.subjectId)
  if (f.clientId) q = q.where('client_id', '=', f.clientId)
  if (f.since) q = q.where('at', '>=', new Date(f.since))
  if (f.until) q = q.where('at', '<', new Date(f.until))
  if (f.afterId) q = q.where('id', '>', f.afterId)
  return q.orderBy('id').limit(f.limit).execute()
}
