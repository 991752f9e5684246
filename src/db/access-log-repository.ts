import { type Kysely, type Transaction } from 'kysely'
import type { Database } from './database.js'
import { type WriteBatch, writeOrDefer } from './write-batch.js'

type Db = Kysely<Database> | Transaction<Database>

export interface AccessEntry {
  clientId: string
  subjectId: string
  fields: string[]
  requestId: string
}

/** Records that a client was shown full personal data of a case (contract §8). */
export async function recordAccess(db: Db, entries: AccessEntry[], batch?: WriteBatch): Promise<void> {
  if (!entries.length) return
  await writeOrDefer(
    db.insertInto('access_log').values(entries.map((e) => ({ client_id: e.clientId, subject_id: e.subjectId, fields: e.fields, request_id: e.requestId }))),
    batch,
  )
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

/**
 * Batches access-trail entries of read requests into one INSERT per interval, so a GET showing full personal data
 * does not pay a commit of its own. Writes inside a transaction (creates, transitions) record directly with it.
 * `flush()` before reading the trail; `close()` flushes on shutdown.
 */
export class AccessTrail {
  private buffer: AccessEntry[] = []
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()

  constructor(
    private readonly db: Kysely<Database>,
    private readonly onError: (err: Error) => void,
    private readonly intervalMs = 100,
    private readonly maxBatch = 500,
  ) {}

  record(entries: AccessEntry[]): void {
    if (!entries.length) return
    this.buffer.push(...entries)
    if (this.buffer.length >= this.maxBatch) void this.flush()
    else this.timer ??= setTimeout(() => void this.flush(), this.intervalMs)
  }

  flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.buffer
    this.buffer = []
    this.flushing = this.flushing.then(async () => {
      if (!batch.length) return
      try {
        await recordAccess(this.db, batch)
      } catch (err) {
        // Keep the entries for the next flush rather than lose the trail while the database is away.
        this.buffer.unshift(...batch)
        this.onError(err as Error)
      }
    })
    return this.flushing
  }

  async close(): Promise<void> {
    await this.flush()
  }
}
