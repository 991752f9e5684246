import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { Kysely } from 'kysely'
import { uuidv7 } from 'uuidv7'
import type { Config } from '../../config/config.js'
import type { Database } from '../../db/database.js'
import { claimKey, findStored, store, storedAfterFailure } from '../../db/idempotency-repository.js'
import {
  appendChunk,
  beginUpload,
  CHUNK_SIZE,
  completeUpload,
  discardUpload,
  getMaterial,
  lockClientQuota,
  readableMaterialIds,
  readChunk,
  storedBytes,
  type Material,
} from '../../db/material-repository.js'
import { AppError, conflict, fieldInvalid, notFound } from '../../domain/errors.js'
import type { Principal } from '../../domain/principal.js'

/**
 * The material service (contract §6): an upload streamed into PostgreSQL chunk by chunk (type, size and quota checked
 * as the bytes arrive, exactly once per Idempotency-Key), and a download for the clients that may read it. The route
 * (src/http/materials.ts) only declares the routes and reads the headers.
 */

/** Contract §6: the largest material accepted. */
export const MAX_MATERIAL_BYTES = 50 * 1024 * 1024

/** Contract §6 allow-list: PDF, OFD (GB/T 33190), JPEG, PNG, DOCX. */
export const MATERIAL_TYPES = [
  'application/pdf',
  'application/ofd',
  'image/jpeg',
  'image/png',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
] as const

export type MaterialType = (typeof MATERIAL_TYPES)[number]

const ZIP = Buffer.from([0x50, 0x4b, 0x03, 0x04])

/**
 * The bytes each declared type starts with (its magic number), checked on the first bytes of the stream. OFD
 * (GB/T 33190) and DOCX (OOXML) are both zip containers: the check tells a zip from anything else, not an OFD from a
 * DOCX.
 */
export const MATERIAL_MAGIC: Record<MaterialType, Buffer> = {
  'application/pdf': Buffer.from('%PDF-', 'latin1'),
  'application/ofd': ZIP,
  'image/jpeg': Buffer.from([0xff, 0xd8, 0xff]),
  'image/png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': ZIP,
}

export const tooLarge = () =>
  new AppError(413, 'payload_too_large', `材料大小超过上限（${MAX_MATERIAL_BYTES / 1024 / 1024} MiB）`, {
    headers: { connection: 'close' },
    detailEn: `The material is larger than ${MAX_MATERIAL_BYTES / 1024 / 1024} MiB`,
  })

export const unsupported = () =>
  new AppError(415, 'unsupported_media_type', `不支持的材料类型；允许：${MATERIAL_TYPES.join('、')}`, {
    detailEn: `Unsupported material type; allowed: ${MATERIAL_TYPES.join(', ')}`,
  })

/** The rest of the body is not read: the connection closes after the answer. */
const mismatch = (contentType: string) =>
  new AppError(415, 'content_type_mismatch', `文件内容与声明的类型（${contentType}）不符：开头不是该类型的文件标识`, {
    headers: { connection: 'close' },
    detailEn: `The file does not start like a ${contentType} file`,
  })

const quotaExceeded = (quotaBytes: number, usedBytes: number) =>
  new AppError(507, 'quota_exceeded', `材料存储配额已满：该客户端已存 ${usedBytes} 字节，上限 ${quotaBytes} 字节（未被任何案件引用的材料到期后自动删除）`, {
    extra: { title: 'Insufficient Storage', quotaBytes, usedBytes },
    detailEn: `Material storage quota reached: the client stores ${usedBytes} bytes of at most ${quotaBytes} (materials no case references expire)`,
    headers: { connection: 'close' },
  })

/**
 * The idempotency fingerprint of an upload. A streamed body cannot be hashed before it is read, so the request is
 * identified after streaming by what defines it: the content type, the title and the content's SHA-256 and size.
 */
function uploadFingerprint(contentType: string, title: string, sha256: string, size: number): string {
  return createHash('sha256').update(`POST\n/v1/materials\n${contentType}\n${title}\n${sha256}\n${size}`, 'utf8').digest('hex')
}

export function materialView(m: Material) {
  return { id: m.id, sha256: m.sha256, sizeBytes: m.sizeBytes, contentType: m.contentType, title: m.title }
}

/** Streams the stored chunks in order, one query (and one chunk in memory) at a time. */
function chunkStream(db: Kysely<Database>, id: string): Readable {
  async function* chunks() {
    for (let seq = 0; ; seq++) {
      const data = await readChunk(db, id, seq)
      if (!data) return
      yield data
    }
  }
  return Readable.from(chunks(), { objectMode: false })
}

export interface MaterialServiceDeps {
  db: Kysely<Database>
  config: Pick<Config, 'materialQuotaBytesPerClient'>
}

/** What an upload request carries besides its bytes. */
export interface UploadRequest {
  contentType: MaterialType
  title: string
  /** The Idempotency-Key. */
  key: string
  /** The declared Content-Length, when there is one. */
  declared: number | undefined
  body: AsyncIterable<Buffer>
}

/** An upload's answer as stored for replay: status and body (the material's view), and whether it is a replay. */
export interface UploadOutcome {
  replay: boolean
  status: number
  body: string
}

/** Stores an upload, or replays the answer of its Idempotency-Key; 413, 415, 507 and 422 refusals leave nothing stored. */
export async function uploadMaterial(deps: MaterialServiceDeps, p: Principal, u: UploadRequest): Promise<UploadOutcome> {
  const { contentType, title, key, declared, body } = u
  if (declared !== undefined && declared > MAX_MATERIAL_BYTES) throw tooLarge()

  // The quota counts the client's complete materials plus this upload, checked on every piece as it arrives (and
  // again, serialised per client, when the upload completes). A key that already holds an answer stores nothing
  // (it replays, or is refused as reused), so a retry at a full quota still gets its first answer.
  const quota = deps.config.materialQuotaBytesPerClient
  const replaying = (await findStored(deps.db, p.clientId, key)) !== undefined
  const used = replaying ? 0 : await storedBytes(deps.db, p.clientId)
  const room = replaying ? Number.POSITIVE_INFINITY : quota - used
  if (declared !== undefined && declared > room) throw quotaExceeded(quota, used)

  const magic = MATERIAL_MAGIC[contentType as MaterialType]
  const id = uuidv7()
  const hash = createHash('sha256')
  // The first bytes, until there are enough to compare with the type's magic number (then undefined).
  let head: Buffer | undefined = Buffer.alloc(0)
  let begun = false
  let size = 0
  let seq = 0
  let pending: Buffer[] = []
  let pendingBytes = 0
  const flush = async (all: boolean) => {
    while (pendingBytes >= CHUNK_SIZE || (all && pendingBytes > 0)) {
      // The row is written with the first chunk: a body refused on its first bytes never reaches the database.
      if (!begun) {
        await beginUpload(deps.db, { id, clientId: p.clientId, clientRole: p.role, contentType, title })
        begun = true
      }
      const joined = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes)
      const take = Math.min(CHUNK_SIZE, joined.length)
      await appendChunk(deps.db, id, seq++, joined.subarray(0, take))
      const rest = joined.subarray(take)
      pending = rest.length ? [rest] : []
      pendingBytes = rest.length
    }
  }
  try {
    // for await reads the next piece only when this one is stored: the socket is paused meanwhile (backpressure).
    for await (const piece of body as AsyncIterable<Buffer>) {
      size += piece.length
      if (size > MAX_MATERIAL_BYTES) throw tooLarge()
      if (size > room) throw quotaExceeded(quota, used)
      if (head) {
        head = Buffer.concat([head, piece.subarray(0, magic.length)])
        if (head.length >= magic.length) {
          if (!head.subarray(0, magic.length).equals(magic)) throw mismatch(contentType)
          head = undefined
        }
      }
      hash.update(piece)
      pending.push(piece)
      pendingBytes += piece.length
      await flush(false)
    }
    if (size === 0) throw fieldInvalid('/body', 'required', '材料内容不能为空')
    // Shorter than its type's magic number.
    if (head) throw mismatch(contentType)
    await flush(true)
  } catch (err) {
    if (begun) await discardUpload(deps.db, id).catch(() => undefined)
    throw err
  }

  const sha256 = hash.digest('hex')
  const fingerprint = uploadFingerprint(contentType, title, sha256, size)
  let outcome: { replay: boolean; status: number; body: string }
  try {
    outcome = await deps.db.transaction().execute(async (trx) => {
      const claim = await claimKey(trx, p.clientId, key)
      if (claim.kind === 'in_use') throw conflict('idempotency_key_in_use', '相同 Idempotency-Key 的请求正在处理中，请稍后重试')
      const prior = claim.prior
      if (prior) {
        if (prior.requestHash !== fingerprint) throw new AppError(422, 'idempotency_key_reused', '该 Idempotency-Key 已用于内容不同的请求')
        await discardUpload(trx, id)
        return { replay: true, status: prior.status, body: prior.body }
      }
      // Concurrent uploads of one client each checked the quota against what was stored when they began: the
      // last word is this check, one completing upload of the client at a time.
      await lockClientQuota(trx, p.clientId)
      const stored = await storedBytes(trx, p.clientId)
      if (stored + size > quota) throw quotaExceeded(quota, stored)
      const material = await completeUpload(trx, id, sha256, size)
      const payload = JSON.stringify(materialView(material))
      await store(trx, p.clientId, key, { requestHash: fingerprint, status: 201, body: payload, headers: { location: `/v1/materials/${id}` } })
      return { replay: false, status: 201, body: payload }
    })
  } catch (err) {
    await discardUpload(deps.db, id).catch(() => undefined)
    const stored = await storedAfterFailure(deps.db, p.clientId, key, fingerprint, err)
    if (!stored) throw err
    outcome = stored
  }
  return outcome
}

/** A material the principal may read (404 otherwise), with its bytes as a stream, one chunk in memory at a time. */
export async function readMaterial(db: Kysely<Database>, p: Principal, id: string): Promise<{ material: Material; stream: Readable }> {
  const m = await getMaterial(db, id)
  if (!m || !(await readableMaterialIds(db, p, [m.id])).has(m.id)) throw notFound('材料')
  return { material: m, stream: chunkStream(db, m.id) }
}
