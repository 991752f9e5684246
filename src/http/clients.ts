import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { findClient, insertApiKey, insertClient, type KeyInfo, listClients, listKeyIds, listKeysOf, revokeApiKey } from '../db/client-repository.js'
import { type FieldError, notFound, validationFailed as validationFailedOf } from '../domain/errors.js'
import { isUuid } from '../domain/ids.js'
import { generateApiKey } from '../security/api-keys.js'
import type { AppDeps } from './app-deps.js'
import type { KeyCache } from './key-cache.js'
import { errorResponses } from './common-schemas.js'
import { CursorQuery, IdParam, LimitQuery, listOf, Nullable, StringEnum, Timestamp } from '../schemas/common.js'
import { IDEMPOTENCY_HEADER, runIdempotent } from './idempotency.js'
import { listPage } from './pagination.js'

const OPERATOR = ['operator'] as const
const ROLES = ['court', 'mediation', 'operator'] as const

const CourtCode = Type.String({ minLength: 1, maxLength: 16, 'x-check': 'courtCode', description: '法院代字 / court code, e.g. 京0105' })
const OrganizationId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })
const RegionScope = Type.String({ 'x-check': 'regionScope', description: '行政区划代码前缀（2/4/6 位）或 * / region prefix or *' })

const ClientBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: StringEnum(ROLES),
    courtCodes: Type.Optional(Type.Array(CourtCode, { maxItems: 500, uniqueItems: true })),
    organizationIds: Type.Optional(Type.Array(OrganizationId, { maxItems: 5000, uniqueItems: true })),
    regionCodes: Type.Optional(Type.Array(RegionScope, { maxItems: 500, uniqueItems: true })),
  },
  { additionalProperties: false },
)

const ClientView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  courtCodes: Type.Array(Type.String()),
  organizationIds: Type.Array(Type.String()),
  regionCodes: Type.Array(Type.String()),
  createdAt: Timestamp,
})

/** A key as operators see it: its id and dates, never the key or its hash. */
const KeyView = Type.Object({
  keyId: Type.String(),
  createdAt: Timestamp,
  lastUsedAt: Nullable(
    Type.String({
      format: 'date-time',
      description: '最近使用时间（每分钟至多更新一次）；未用过为 null / last use, updated at most once a minute; null if never used',
    }),
  ),
  revokedAt: Nullable(Timestamp),
})

const ClientWithKeys = Type.Object({ ...ClientView.properties, keys: Type.Array(KeyView) })

const CLIENT_EXAMPLE = {
  id: '0190f5a2-7c3e-7b1a-9f00-3c2d1e0a4b5c',
  name: '朝阳法院',
  role: 'court',
  courtCodes: ['京0105'],
  organizationIds: [],
  regionCodes: [],
  keys: [
    { keyId: 'h7fqa3c2xd', createdAt: '2026-03-02T01:15:00.000Z', lastUsedAt: '2026-03-20T08:42:00.000Z', revokedAt: '2026-03-21T02:00:00.000Z' },
    { keyId: 'm2bk4fy6ac', createdAt: '2026-03-20T09:00:00.000Z', lastUsedAt: null, revokedAt: null },
  ],
  createdAt: '2026-03-02T01:15:00.000Z',
}

const keyView = (k: KeyInfo) => ({
  keyId: k.keyId,
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
})

const ClientCreated = Type.Object({
  ...ClientView.properties,
  keyId: Type.String(),
  apiKey: Type.Union([Type.String(), Type.Null()], { description: '仅在创建时返回一次；重放时为 null / shown once; null on replay' }),
})

const KeyCreated = Type.Object({ keyId: Type.String(), apiKey: Type.Union([Type.String(), Type.Null()]) })

const clientsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps; keyCache?: KeyCache }> = async (app, { deps, keyCache }) => {
  app.post(
    '/v1/clients',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['clients'],
        summary: '创建调用方并签发密钥 / Create a client and its first API key',
        description: '仅运维角色。密钥只显示一次，库中仅保存哈希。Operator only; the key is shown once and stored only as a hash.',
        headers: IDEMPOTENCY_HEADER,
        body: ClientBody,
        response: { 201: ClientCreated, ...errorResponses(409, 422) },
      },
    },
    async (req, reply) => {
      const b = req.body
      const validation = validateClientScope(b)
      if (validation) throw validation
      return runIdempotent(req, reply, deps.db, async (trx) => {
        const client = await insertClient(trx, {
          name: b.name,
          role: b.role,
          courtCodes: b.role === 'court' ? (b.courtCodes ?? []) : [],
          organizationIds: b.role === 'mediation' ? (b.organizationIds ?? []) : [],
          regionCodes: b.role === 'mediation' ? (b.regionCodes ?? []) : [],
        })
        const key = generateApiKey()
        await insertApiKey(trx, client.id, key.keyId, key.hash)
        return {
          status: 201,
          body: { ...client, createdAt: client.createdAt.toISOString(), keyId: key.keyId, apiKey: key.apiKey },
          headers: { location: `/v1/clients/${client.id}` },
          secretFields: ['apiKey'],
        }
      })
    },
  )

  app.get(
    '/v1/clients',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['clients'],
        summary: '调用方列表 / List clients',
        description:
          '仅运维角色；可按角色过滤，按标识（创建顺序）分页。每个调用方附其密钥的标识、创建、最近使用与吊销时间；从不返回密钥或其哈希。' +
          'Operator only; filter by role, paged in id (creation) order. Each client with its keys: id, created, last used, revoked — never a key or its hash.',
        querystring: Type.Object(
          { role: Type.Optional(StringEnum(ROLES)), limit: Type.Optional(LimitQuery), cursor: Type.Optional(CursorQuery) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(listOf(ClientWithKeys).properties, { examples: [{ items: [CLIENT_EXAMPLE], nextCursor: null }] }),
          ...errorResponses(),
        },
      },
    },
    async (req) => {
      const q = req.query
      const { items, nextCursor } = await listPage(
        q,
        { id: 'uuid' },
        (after, take) => listClients(deps.db, { role: q.role, afterId: after?.id, limit: take }),
        (c) => ({ id: c.id }),
      )
      const keys = await listKeysOf(
        deps.db,
        items.map((c) => c.id),
      )
      return {
        items: items.map((c) => ({ ...c, createdAt: c.createdAt.toISOString(), keys: (keys.get(c.id) ?? []).map(keyView) })),
        nextCursor,
      }
    },
  )

  app.get(
    '/v1/clients/:id',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['clients'],
        summary: '查询调用方 / Get a client',
        params: IdParam,
        response: { 200: Type.Object(ClientWithKeys.properties, { examples: [CLIENT_EXAMPLE] }), ...errorResponses(404) },
      },
    },
    async (req) => {
      const client = isUuid(req.params.id) ? await findClient(deps.db, req.params.id) : undefined
      if (!client) throw notFound('调用方')
      const keys = await listKeyIds(deps.db, client.id)
      return {
        ...client,
        createdAt: client.createdAt.toISOString(),
        keys: keys.map(keyView),
      }
    },
  )

  app.post(
    '/v1/clients/:id/keys',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['clients'],
        summary: '为调用方追加密钥（轮换）/ Issue a further key for rotation',
        headers: IDEMPOTENCY_HEADER,
        params: IdParam,
        response: { 201: KeyCreated, ...errorResponses(404, 409, 422) },
      },
    },
    async (req, reply) => {
      const client = isUuid(req.params.id) ? await findClient(deps.db, req.params.id) : undefined
      if (!client) throw notFound('调用方')
      return runIdempotent(req, reply, deps.db, async (trx) => {
        const key = generateApiKey()
        await insertApiKey(trx, client.id, key.keyId, key.hash)
        return { status: 201, body: { keyId: key.keyId, apiKey: key.apiKey }, secretFields: ['apiKey'] }
      })
    },
  )

  app.delete(
    '/v1/clients/:id/keys/:keyId',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['clients'],
        summary: '吊销密钥（立即生效）/ Revoke a key, effective at once',
        params: Type.Object(
          { id: Type.String({ minLength: 1, maxLength: 64 }), keyId: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null({ description: '已吊销 / revoked' }), ...errorResponses(404) },
      },
    },
    async (req, reply) => {
      const client = isUuid(req.params.id) ? await findClient(deps.db, req.params.id) : undefined
      if (!client || !(await revokeApiKey(deps.db, client.id, req.params.keyId))) throw notFound('密钥')
      await keyCache?.revoked(req.params.keyId)
      return reply.code(204).send(null)
    },
  )
}

function validateClientScope(b: { role: string; courtCodes?: string[]; organizationIds?: string[]; regionCodes?: string[] }) {
  const errors: FieldError[] = []
  if (b.role !== 'court' && b.courtCodes?.length) errors.push({ path: '/courtCodes', code: 'not_allowed_for_role', message: '仅法院角色可设置 courtCodes' })
  if (b.role !== 'mediation' && (b.organizationIds?.length || b.regionCodes?.length)) {
    errors.push({
      path: b.organizationIds?.length ? '/organizationIds' : '/regionCodes',
      code: 'not_allowed_for_role',
      message: '仅调解平台角色可设置组织或区域范围',
    })
  }
  if (b.role === 'court' && !b.courtCodes?.length) errors.push({ path: '/courtCodes', code: 'required', message: '法院角色必须至少有一个法院代字' })
  if (b.role === 'mediation' && !b.organizationIds?.length && !b.regionCodes?.length) {
    errors.push({ path: '/organizationIds', code: 'required', message: '调解平台角色必须设置 organizationIds 或 regionCodes' })
  }
  return errors.length ? validationFailedOf(errors) : null
}

export default clientsPlugin
