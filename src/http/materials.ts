import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify'
import Type from 'typebox'
import { AppError, fieldInvalid } from '../domain/errors.js'
import type { AppDeps } from './app-deps.js'
import { semanticChecks } from './checks.js'
import { errorResponses } from './common-schemas.js'
import { IdParam } from '../schemas/common.js'
import { IDEMPOTENCY_HEADER, idempotencyKeyOf } from './idempotency.js'
import { MATERIAL_TYPES, MAX_MATERIAL_BYTES, type MaterialType, readMaterial, unsupported, uploadMaterial } from '../cases/materials/material-service.js'
import { sendProblem, toProblem } from './problem.js'
import { createValidatorCompiler, refuseHostileText } from './validation.js'

/** No query parameters: an unknown one is a 400 (contract §1). */
const NoQuery = Type.Object({}, { additionalProperties: false })

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
    const contentType = mediaTypeOf(req)
    const body = req.body as unknown
    if (!contentType || !(MATERIAL_TYPES as readonly string[]).includes(contentType) || !(body instanceof Readable)) throw unsupported()
    const key = idempotencyKeyOf(req)
    const title = decodeTitle(req)
    const length = Number(req.headers['content-length'] ?? NaN)
    const outcome = await uploadMaterial(deps, req.principal, {
      contentType: contentType as MaterialType,
      title,
      key,
      declared: Number.isFinite(length) ? length : undefined,
      body: body as AsyncIterable<Buffer>,
    })

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
      const { material: m, stream } = await readMaterial(deps.db, req.principal, (req.params as { id: string }).id)
      reply
        .type(m.contentType)
        .header('content-length', String(m.sizeBytes))
        .header('etag', `"${m.sha256}"`)
        .header('repr-digest', `sha-256=:${Buffer.from(m.sha256, 'hex').toString('base64')}:`)
        .header('x-content-type-options', 'nosniff')
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(m.title)}`)
      return reply.send(stream)
    },
  )
}

export default materialsPlugin
