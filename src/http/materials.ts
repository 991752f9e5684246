import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify'
import Type from 'typebox'
import { uuidv7 } from 'uuidv7'
import { claimKey, findStored, store } from '../db/idempotency-repository.js'
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
} from '../db/material-repository.js'
import { AppError, conflict, fieldInvalid, notFound } from '../domain/errors.js'
import type { AppDeps } from './app-deps.js'
import { semanticChecks } from './checks.js'
import { errorResponses } from './common-schemas.js'
import { IdParam } from '../schemas/common.js'
import { IDEMPOTENCY_HEADER, storedAfterFailure } from './idempotency.js'
import { sendProblem, toProblem } from './problem.js'
import { createValidatorCompiler, refuseHostileText } from './validation.js'

/** No query parameters: an unknown one is a 400 (contract §1). */
const NoQuery = Type.Object({}, { additionalProperties: false })

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

const TITLE_MAX = 200

const MaterialView = Type.Object(
  {
    id: Type.String(),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: '文件内容的 SHA-256（小写十六进制）/ lowercase hex SHA-256 of the bytes' }),
    sizeBytes: Type.Integer({ minimum: 1 }),
    contentType: Type.String(),
    title: Type.String(),
  },
  {
    examples: [
      {
        id: '019372b4-5d1e-7c3a-9f20-6a2b1c0d9e8f',
        sha256: 'e3b98a4da31a127d4bde6e43033f66ba274cab0eb7eb1c70ec41402bf6273dd8',
        sizeBytes: 482133,
        contentType: 'application/pdf',
        title: '起诉状.pdf',
      },
    ],
  },
)

const tooLarge = () =>
  new AppError(413, 'payload_too_large', `材料大小超过上限（${MAX_MATERIAL_BYTES / 1024 / 1024} MiB）`, { headers: { connection: 'close' } })

const unsupported = () => new AppError(415, 'unsupported_media_type', `不支持的材料类型；允许：${MATERIAL_TYPES.join('、')}`)

/** The rest of the body is not read: the connection closes after the answer. */
const mismatch = (contentType: string) =>
  new AppError(415, 'content_type_mismatch', `文件内容与声明的类型（${contentType}）不符：开头不是该类型的文件标识`, {
    headers: { connection: 'close' },
  })

const quotaExceeded = (quotaBytes: number, usedBytes: number) =>
  new AppError(507, 'quota_exceeded', `材料存储配额已满：该客户端已存 ${usedBytes} 字节，上限 ${quotaBytes} 字节（未被任何案件引用的材料到期后自动删除）`, {
    extra: { title: 'Insufficient Storage', quotaBytes, usedBytes },
    headers: { connection: 'close' },
  })

function mediaTypeOf(req: FastifyRequest): string | undefined {
  const raw = req.headers['content-type']
  return raw === undefined ? undefined : raw.split(';')[0].trim().toLowerCase()
}

/** `X-Material-Title`: percent-encoded UTF-8 (so any title fits an ASCII header), 1–200 code points, no controls. */
function decodeTitle(req: FastifyRequest): string {
  const raw = req.headers['x-material-title']
  if (raw === undefined) throw fieldInvalid('/headers/x-material-title', 'required', '缺少 X-Material-Title 请求头')
  const encoded = Array.isArray(raw) ? raw[0] : raw
  if (!/^[\x20-\x7e]*$/.test(encoded))
    throw fieldInvalid('/headers/x-material-title', 'invalid_format', 'X-Material-Title 须为百分号编码的 UTF-8（仅 ASCII 字符）')
  let title: string
  try {
    title = decodeURIComponent(encoded)
  } catch {
    throw fieldInvalid('/headers/x-material-title', 'invalid_format', 'X-Material-Title 须为百分号编码的 UTF-8')
  }
  const length = [...title].length
  if (length < 1 || length > TITLE_MAX || refuseHostileText(title, '/headers/x-material-title')) {
    throw fieldInvalid('/headers/x-material-title', 'invalid_format', `标题须为 1–${TITLE_MAX} 个字符且不含控制字符`)
  }
  return title
}

function idempotencyKey(req: FastifyRequest): string {
  const raw = req.headers['idempotency-key']
  if (raw === undefined) {
    throw new AppError(400, 'idempotency_key_required', '此请求必须携带 Idempotency-Key 请求头', {
      errors: [{ path: 'headers/idempotency-key', code: 'required', message: '缺少 Idempotency-Key' }],
    })
  }
  const key = Array.isArray(raw) ? raw[0] : raw
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new AppError(400, 'validation_failed', 'Idempotency-Key 必须为 1–255 个可见 ASCII 字符', {
      errors: [{ path: 'headers/idempotency-key', code: 'invalid_format', message: 'Idempotency-Key 格式不正确' }],
    })
  }
  return key
}

/**
 * The idempotency fingerprint of an upload. A streamed body cannot be hashed before it is read, so the request is
 * identified after streaming by what defines it: the content type, the title and the content's SHA-256 and size.
 */
function uploadFingerprint(contentType: string, title: string, sha256: string, size: number): string {
  return createHash('sha256').update(`POST\n/v1/materials\n${contentType}\n${title}\n${sha256}\n${size}`, 'utf8').digest('hex')
}

function view(m: Material) {
  return { id: m.id, sha256: m.sha256, sizeBytes: m.sizeBytes, contentType: m.contentType, title: m.title }
}

/** Streams the stored chunks in order, one query (and one chunk in memory) at a time. */
function chunkStream(deps: AppDeps, id: string): Readable {
  async function* chunks() {
    for (let seq = 0; ; seq++) {
      const data = await readChunk(deps.db, id, seq)
      if (!data) return
      yield data
    }
  }
  return Readable.from(chunks(), { objectMode: false })
}

const materialsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  // This scope parses only the allowed file types, and hands their body over as the raw stream: nothing is buffered
  // here, the handler reads it chunk by chunk. Every other type (JSON included) answers 415 before any byte is read.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser([...MATERIAL_TYPES], (_req, payload, done) => done(null, payload))
  app.addContentTypeParser('*', (_req, _payload, done) => done(unsupported(), undefined))

  // The body schema below documents the upload in OpenAPI only: the body is a stream, validated while it is read.
  const strict = createValidatorCompiler(semanticChecks)
  const validatorCompiler: FastifySchemaCompiler<unknown> = (route) => (route.httpPart === 'body' ? () => true : strict(route))
  const binary = { type: 'string', format: 'binary' }

  app.post(
    '/v1/materials',
    {
      config: { roles: ['court', 'mediation'] },
      bodyLimit: MAX_MATERIAL_BYTES,
      validatorCompiler,
      schema: {
        tags: ['materials'],
        summary: '上传案件材料 / Upload a case material',
        description:
          '请求体为文件本身（流式上传，不整体缓存），Content-Type 为文件类型：PDF（application/pdf）、OFD（application/ofd）、JPEG（image/jpeg）、PNG（image/png）、' +
          'DOCX（application/vnd.openxmlformats-officedocument.wordprocessingml.document），其他类型 415 unsupported_media_type；超过 50 MiB 413 payload_too_large；' +
          '空文件 400。文件开头须为所声明类型的文件标识（PDF %PDF-，PNG、JPEG 签名，OFD 与 DOCX 为 zip：PK\\x03\\x04），否则 415 content_type_mismatch。' +
          '每个客户端已存材料的总字节数不超过 MATERIAL_QUOTA_BYTES_PER_CLIENT（默认 10 GiB）：会超出配额的上传在流式接收中一旦超出即拒绝，507 quota_exceeded，不留任何数据。' +
          '未被任何案件（委派、退回材料、司法确认申请）引用的材料在上传 MATERIAL_ORPHAN_TTL_HOURS（默认 72）小时后删除。' +
          'X-Material-Title 为百分号编码的 UTF-8 标题（1–200 字）。服务边接收边计算 SHA-256 并分块（256 KiB）存入 PostgreSQL。' +
          '幂等：须带 Idempotency-Key；流式请求体无法预先计算摘要，故在接收完毕后以 内容类型 + 标题 + 内容 SHA-256 + 大小 作为请求指纹：' +
          '相同指纹重放首次的应答（Idempotent-Replayed: true，不再另存），不同指纹 422 idempotency_key_reused；同一键的另一上传正在落库时 409 idempotency_key_in_use。' +
          '材料可由上传方下载；被委派案件、退回材料或司法确认申请引用后，可读该案件的调用方亦可下载。\n\n' +
          'The body is the file itself, streamed (never buffered whole), with its own Content-Type (PDF, OFD, JPEG, PNG, DOCX; else 415); above 50 MiB 413; ' +
          'empty 400. The content must start with the magic number of its declared type (PDF %PDF-, PNG and JPEG signatures, OFD and DOCX a zip: PK\\x03\\x04), ' +
          'else 415 content_type_mismatch. A client keeps at most MATERIAL_QUOTA_BYTES_PER_CLIENT bytes of materials (default 10 GiB): an upload is refused with ' +
          '507 quota_exceeded as soon as its streamed bytes would pass the quota, leaving nothing stored. A material no case (referral, returned materials, ' +
          'confirmation application) references is removed MATERIAL_ORPHAN_TTL_HOURS (default 72) hours after its upload. ' +
          'X-Material-Title is percent-encoded UTF-8. SHA-256 is computed while streaming; the bytes are stored in PostgreSQL in 256 KiB chunks. ' +
          'Idempotency-Key is required; since a streamed body cannot be hashed up front, the request fingerprint is content type + title + content SHA-256 + size, ' +
          'checked once the body has been read: same fingerprint → the first answer replayed (nothing stored twice), different → 422 idempotency_key_reused.',
        headers: {
          type: 'object',
          properties: {
            ...IDEMPOTENCY_HEADER.properties,
            'x-material-title': {
              type: 'string',
              description: '材料标题，百分号编码的 UTF-8 / title, percent-encoded UTF-8',
              examples: ['%E8%B5%B7%E8%AF%89%E7%8A%B6.pdf'],
            },
          },
        },
        querystring: NoQuery,
        body: { content: Object.fromEntries(MATERIAL_TYPES.map((t) => [t, { schema: binary }])) },
        response: {
          201: MaterialView,
          ...errorResponses(409, 413, 415, 422),
          507: {
            description: '材料存储配额已满 quota_exceeded / the client’s material quota is used up',
            content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
          },
        },
      } as never,
    },
    async (req, reply) => {
      try {
        return await receive(req, reply)
      } catch (err) {
        // A full quota is the client's condition, not a failure of the service: a warning, not an error with a stack.
        if (!(err instanceof AppError) || err.code !== 'quota_exceeded') throw err
        req.log.warn({ code: err.code, clientId: req.principal.clientId, ...err.extra }, 'material upload refused: quota exceeded')
        return sendProblem(reply, toProblem(err).problem, err.headers)
      }
    },
  )

  async function receive(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const p = req.principal
    const contentType = mediaTypeOf(req)
    const body = req.body as unknown
    if (!contentType || !(MATERIAL_TYPES as readonly string[]).includes(contentType) || !(body instanceof Readable)) throw unsupported()
    const key = idempotencyKey(req)
    const title = decodeTitle(req)
    const declared = Number(req.headers['content-length'] ?? NaN)
    if (Number.isFinite(declared) && declared > MAX_MATERIAL_BYTES) throw tooLarge()

    // The quota counts the client's complete materials plus this upload, checked on every piece as it arrives (and
    // again, serialised per client, when the upload completes). A key that already holds an answer stores nothing
    // (it replays, or is refused as reused), so a retry at a full quota still gets its first answer.
    const quota = deps.config.materialQuotaBytesPerClient
    const replaying = (await findStored(deps.db, p.clientId, key)) !== undefined
    const used = replaying ? 0 : await storedBytes(deps.db, p.clientId)
    const room = replaying ? Number.POSITIVE_INFINITY : quota - used
    if (Number.isFinite(declared) && declared > room) throw quotaExceeded(quota, used)

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
        const payload = JSON.stringify(view(material))
        await store(trx, p.clientId, key, { requestHash: fingerprint, status: 201, body: payload, headers: { location: `/v1/materials/${id}` } })
        return { replay: false, status: 201, body: payload }
      })
    } catch (err) {
      await discardUpload(deps.db, id).catch(() => undefined)
      const stored = await storedAfterFailure(deps.db, p.clientId, key, fingerprint, err)
      if (!stored) throw err
      outcome = stored
    }
    if (outcome.replay) reply.header('idempotent-replayed', 'true')
    const answered = JSON.parse(outcome.body) as { id: string }
    reply.header('location', `/v1/materials/${answered.id}`)
    return reply
      .code(outcome.status)
      .type('application/json; charset=utf-8')
      .serializer((s: unknown) => s as string)
      .send(outcome.body)
  }

  app.get(
    '/v1/materials/:id',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['materials'],
        summary: '下载案件材料 / Download a material',
        description:
          '以上传时的 Content-Type 流式返回文件；ETag 为内容 SHA-256。可读者：上传方，以及可读引用该材料的委派案件或司法确认申请的调用方；其他情况 404。\n\n' +
          'Streams the file with its content type; the ETag is its SHA-256. Readable by the uploading client and by clients that may read a referral or ' +
          'confirmation application referencing it; 404 otherwise.',
        querystring: NoQuery,
        params: IdParam,
        response: {
          200: {
            description: '文件内容 / the file',
            content: Object.fromEntries(MATERIAL_TYPES.map((t) => [t, { schema: binary }])),
          },
          ...errorResponses(404),
        },
      } as never,
    },
    async (req, reply) => {
      const id = (req.params as { id: string }).id
      const m = await getMaterial(deps.db, id)
      if (!m || !(await readableMaterialIds(deps.db, req.principal, [m.id])).has(m.id)) throw notFound('材料')
      reply
        .type(m.contentType)
        .header('content-length', String(m.sizeBytes))
        .header('etag', `"${m.sha256}"`)
        .header('repr-digest', `sha-256=:${Buffer.from(m.sha256, 'hex').toString('base64')}:`)
        .header('x-content-type-options', 'nosniff')
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(m.title)}`)
      return reply.send(chunkStream(deps, m.id))
    },
  )
}

export default materialsPlugin
