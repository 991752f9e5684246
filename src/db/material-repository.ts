import { type Kysely, sql, type SqlBool, type Transaction } from 'kysely'
import { AppError } from '../domain/errors.js'
import { isUuid } from '../domain/ids.js'
import type { Principal } from '../domain/principal.js'
import { confirmationScopeSql, referralScopeSql } from './access-sql.js'
import type { Database, MaterialRow } from './database.js'

type Db = Kysely<Database> | Transaction<Database>

/**
 * Bytes per stored chunk. 256 KiB keeps the rows few (200 for a 50 MiB file) while a request never holds more than
 * one chunk (plus one network read) in memory, on upload and on download.
 */
export const CHUNK_SIZE = 256 * 1024

/**
 * An upload still `uploading` after this long is half-written: its process crashed, or its client went away
 * without the request noticing. A live upload cannot be that old: the HTTP server gives a request 60 s to arrive
 * whole (`requestTimeout` in src/app.ts, checked every 30 s), and an upload ends, stored or discarded, with its request.
 * So the start-up and worker cleanups never remove an upload that another instance is still receiving.
 */
export const ABANDONED_UPLOAD_MINUTES = 5

/** The kinds of case that reference materials. */
export type MaterialSubjectKind = 'referral' | 'judicial_confirmation'

export interface Material {
  id: string
  clientId: string
  contentType: string
  title: string
  sizeBytes: number
  sha256: string
  createdAt: Date
}

function toMaterial(r: MaterialRow): Material {
  return {
    id: r.id,
    clientId: r.client_id,
    contentType: r.content_type,
    title: r.title,
    sizeBytes: Number(r.size_bytes),
    sha256: r.sha256 ?? '',
    createdAt: r.created_at,
  }
}

/** Starts an upload: the row exists from the first byte, so its chunks have an owner, but no one can read it yet. */
export async function beginUpload(db: Db, m: { id: string; clientId: string; clientRole: string; contentType: string; title: string }): Promise<void> {
  await db
    .insertInto('materials')
    .values({
      id: m.id,
      client_id: m.clientId,
      client_role: m.clientRole,
      content_type: m.contentType,
      title: m.title,
      chunk_size: CHUNK_SIZE,
      status: 'uploading',
    })
    .execute()
}

/** Stores one chunk (committed at once: an upload holds no transaction while the client is still sending). */
export async function appendChunk(db: Db, materialId: string, seq: number, data: Buffer): Promise<void> {
  await db.insertInto('material_chunks').values({ material_id: materialId, seq, data }).execute()
}

/** Marks the upload complete with its digest and size; from then on it can be read and referenced. */
export async function completeUpload(trx: Transaction<Database>, materialId: string, sha256: string, sizeBytes: number): Promise<Material> {
  const row = await trx
    .updateTable('materials')
    .set({ status: 'complete', sha256, size_bytes: sizeBytes, completed_at: new Date() })
    .where('id', '=', materialId)
    .where('status', '=', 'uploading')
    .returningAll()
    .executeTakeFirstOrThrow()
  return toMaterial(row)
}

/** Removes an unfinished upload and its chunks (the client went away, the body was too large, or it was a replay). */
export async function discardUpload(db: Db, materialId: string): Promise<void> {
  await db.deleteFrom('materials').where('id', '=', materialId).where('status', '=', 'uploading').execute()
}

/**
 * Removes half-written uploads (status not complete) older than the grace, chunks included (ON DELETE CASCADE).
 * Safe to run in several processes at once: a row another one is deleting is waited for, then skipped.
 */
export async function deleteAbandonedUploads(db: Db, olderThanMinutes = ABANDONED_UPLOAD_MINUTES): Promise<number> {
  const r = await db
    .deleteFrom('materials')
    .where('status', '=', 'uploading')
    .where('created_at', '<', sql<Date>`now() - make_interval(mins => ${olderThanMinutes})`)
    .executeTakeFirst()
  return Number(r.numDeletedRows)
}

/**
 * Bytes of the client's complete materials: what counts against MATERIAL_QUOTA_BYTES_PER_CLIENT (uploads in
 * progress are counted by their own request as they stream).
 */
export async function storedBytes(db: Db, clientId: string): Promise<number> {
  const row = await db
    .selectFrom('materials')
    .select(sql<string>`coalesce(sum(size_bytes), 0)`.as('bytes'))
    .where('client_id', '=', clientId)
    .where('status', '=', 'complete')
    .executeTakeFirstOrThrow()
  return Number(row.bytes)
}

/**
 * Serialises the quota check of one client's completing uploads until the transaction ends: two uploads that each
 * fit cannot both complete when together they pass the quota (the second sees the first's size once it commits).
 */
export async function lockClientQuota(trx: Transaction<Database>, clientId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${clientId}, 7244))`.execute(trx)
}

/** `materials as m` has no `material_links` row: no case references it. */
const UNREFERENCED = sql<SqlBool>`NOT EXISTS (SELECT 1 FROM material_links l WHERE l.material_id = m.id)`

export interface ExpiredMaterial {
  id: string
  clientId: string
  sizeBytes: number
}

/**
 * Removes complete materials no case references (no `material_links` row: referral, returned materials or
 * confirmation application) that were uploaded more than `ttlHours` ago, chunks included; `limit` per transaction,
 * repeated until none is left.
 *
 * Never removes a referenced material, even against a case being written at the same moment:
 * - a case's transaction pins the materials it quotes ({@link assertMaterialsExist} takes `FOR KEY SHARE`, as does the
 *   foreign key of its `material_links` insert) until it commits; the candidates are taken `FOR UPDATE SKIP LOCKED`,
 *   so a pinned material is skipped, and by the next pass its link is visible;
 * - a link committed after the candidates were chosen is seen by the DELETE, which re-checks `NOT EXISTS` in a
 *   statement of its own (a newer snapshot) while the rows are locked: no new link can appear in between, since
 *   pinning waits for this transaction, after which the case finds the material gone (422 `unknown_material`);
 * - the foreign key from `material_links` (no cascade) stays the last guard;
 * - a material is only a candidate `ttlHours` (at least 1) after its upload: one uploaded in order to be quoted by a
 *   case being prepared is not taken from under it.
 * Safe on several workers at once (SKIP LOCKED) and idempotent.
 */
export async function expireOrphanMaterials(db: Kysely<Database>, ttlHours: number, limit = 50): Promise<ExpiredMaterial[]> {
  const expired: ExpiredMaterial[] = []
  for (;;) {
    const batch = await db.transaction().execute(async (trx) => {
      const candidates = await trx
        .selectFrom('materials as m')
        .select('m.id')
        .where('m.status', '=', 'complete')
        .where(sql<Date>`coalesce(m.completed_at, m.created_at)`, '<', sql<Date>`now() - make_interval(hours => ${ttlHours})`)
        .where(UNREFERENCED)
        .orderBy('m.id')
        .limit(limit)
        .forUpdate()
        .skipLocked()
        .execute()
      if (!candidates.length) return { found: 0, rows: [] }
      const ids = candidates.map((c) => c.id)
      const rows = await trx
        .deleteFrom('materials as m')
        .where('m.id', 'in', ids)
        .where(UNREFERENCED)
        .returning(['m.id', 'm.client_id', 'm.size_bytes'])
        .execute()
      return { found: candidates.length, rows }
    })
    for (const r of batch.rows) expired.push({ id: r.id, clientId: r.client_id, sizeBytes: Number(r.size_bytes) })
    if (batch.found < limit) return expired
  }
}

/** A complete material, whoever may read it (the caller checks with {@link readableMaterialIds}). */
export async function getMaterial(db: Db, id: string): Promise<Material | undefined> {
  if (!isUuid(id)) return undefined
  const row = await db.selectFrom('materials').selectAll().where('id', '=', id).where('status', '=', 'complete').executeTakeFirst()
  return row ? toMaterial(row) : undefined
}

/** One chunk's bytes, or undefined past the last one. */
export async function readChunk(db: Db, materialId: string, seq: number): Promise<Buffer | undefined> {
  const row = await db.selectFrom('material_chunks').select('data').where('material_id', '=', materialId).where('seq', '=', seq).executeTakeFirst()
  return row?.data
}

/**
 * The ids among `ids` of complete materials the principal may read: those it uploaded, and those referenced by a
 * case (referral or confirmation application) it may read (contract §6). One query, whatever the number of ids.
 */
export async function readableMaterialIds(db: Db, p: Principal, ids: readonly string[]): Promise<Set<string>> {
  const valid = [...new Set(ids.filter(isUuid))]
  if (!valid.length) return new Set()
  const rows = await db
    .selectFrom('materials as m')
    .select('m.id')
    .where('m.id', 'in', valid)
    .where('m.status', '=', 'complete')
    .where(
      sql<SqlBool>`(
        m.client_id = ${p.clientId}
        OR EXISTS (SELECT 1 FROM material_links l JOIN referrals r ON r.id = l.subject_id
                   WHERE l.material_id = m.id AND l.subject_kind = 'referral' AND ${referralScopeSql(p)})
        OR EXISTS (SELECT 1 FROM material_links l JOIN judicial_confirmations c ON c.id = l.subject_id
                   WHERE l.material_id = m.id AND l.subject_kind = 'judicial_confirmation' AND ${confirmationScopeSql(p)})
      )`,
    )
    .execute()
  return new Set(rows.map((r) => r.id))
}

/**
 * Checks that every id names a complete material — and, when `principal` is given, one it may read (uploaded it, or
 * may read a case referencing it), so a case cannot be used to reach someone else's file by quoting its id.
 * Throws 422 `unknown_material` naming the missing ids; a material the principal may not read is reported exactly
 * like a missing one, so existence does not leak. The materials found stay locked (`FOR KEY SHARE`) until the
 * transaction ends: call it in the transaction that links them.
 */
export async function assertMaterialsExist(trx: Db, ids: readonly string[], principal?: Principal): Promise<void> {
  const unique = [...new Set(ids)]
  if (!unique.length) return
  // Pin the quoted materials until the caller's transaction ends, so the orphan expiry cannot remove one between
  // this check and the link (see expireOrphanMaterials); one being removed right now is waited for, then missing.
  const valid = unique.filter(isUuid)
  const rows = valid.length
    ? await trx.selectFrom('materials').select('id').where('id', 'in', valid).where('status', '=', 'complete').orderBy('id').forKeyShare().execute()
    : []
  let found = new Set(rows.map((r) => r.id))
  if (principal && found.size) found = await readableMaterialIds(trx, principal, [...found])
  const missing = unique.filter((id) => !found.has(id))
  if (missing.length) {
    throw new AppError(422, 'unknown_material', `材料不存在或不可引用：${missing.join('、')}`, {
      extra: { materialIds: missing },
      detailEn: `Unknown or unreferenceable materials: ${missing.join(', ')}`,
      errors: missing.map((id) => ({
        path: `/materials/${ids.indexOf(id)}/materialId`,
        code: 'unknown_material',
        message: `材料 ${id} 不存在或不可引用`,
        messageEn: `material ${id} is unknown or may not be referenced`,
      })),
    })
  }
}

/**
 * Records that a case references materials, in the caller's transaction (with the case's own write). Idempotent:
 * linking again is a no-op. Call {@link assertMaterialsExist} first.
 */
export async function linkMaterials(trx: Db, subjectKind: MaterialSubjectKind, subjectId: string, ids: readonly string[]): Promise<void> {
  const unique = [...new Set(ids)].filter(isUuid)
  if (!unique.length) return
  await trx
    .insertInto('material_links')
    .values(unique.map((id) => ({ material_id: id, subject_kind: subjectKind, subject_id: subjectId })))
    .onConflict((oc) => oc.doNothing())
    .execute()
}
