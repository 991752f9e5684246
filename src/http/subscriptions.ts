import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type, { type Static } from 'typebox'
import { uuidv7 } from 'uuidv7'
import { findClient } from '../db/client-repository.js'
import { getRecoveryJob, insertRecoveryJob, killPendingOf, type RecoveryJob } from '../db/delivery-repository.js'
import {
  deleteSubscription,
  getSubscription,
  insertSubscription,
  listSubscriptions,
  rotateSecret,
  type Subscription,
  updateSubscription,
} from '../db/subscription-repository.js'
import { RECOVERY_JOB } from '../delivery/queues.js'
import { generateSecret, SECRET_CONTEXT } from '../delivery/signing.js'
import { checkUrl } from '../delivery/url-guard.js'
import { businessRule, notFound, validationFailed, type FieldError } from '../domain/errors.js'
import { isUuid } from '../domain/ids.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import { CursorQuery, IdParam, LimitQuery, listOf } from '../schemas/common.js'
import { IDEMPOTENCY_HEADER, runIdempotent } from './idempotency.js'
import { EVENT_TYPES } from '../schemas/events.js'
import { CreateBody, PatchBody, RecoveryBody, RecoveryView, SubscriptionView, WithSecret } from '../schemas/subscriptions.js'
import { listPage } from './pagination.js'

/** How long the previous secret keeps signing after a rotation (contract §4). */
export const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000

const OPERATOR = ['operator'] as const

type View = Static<typeof SubscriptionView>

export function subscriptionView(s: Subscription): View {
  return {
    id: s.id,
    clientId: s.clientId,
    url: s.url,
    eventTypes: s.eventTypes,
    description: s.description,
    allowPrivateNetwork: s.allowPrivateNetwork,
    signatureAlgorithm: s.signatureAlgorithm,
    enabled: s.enabled,
    disabledReason: s.disabledReason,
    disabledAt: s.disabledAt?.toISOString() ?? null,
    previousSecretExpiresAt: s.previousSecretExpiresAt && s.previousSecretExpiresAt.getTime() > Date.now() ? s.previousSecretExpiresAt.toISOString() : null,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  }
}

function recoveryView(j: RecoveryJob): Static<typeof RecoveryView> {
  return {
    jobId: j.id,
    subscriptionId: j.subscriptionId,
    since: j.since.toISOString(),
    until: j.until.toISOString(),
    status: j.status,
    requeued: j.requeued,
    createdAt: j.createdAt.toISOString(),
    finishedAt: j.finishedAt?.toISOString() ?? null,
  }
}

function checkEventTypes(types: string[] | undefined): void {
  if (!types) return
  const errors: FieldError[] = []
  if (types.includes('*') && types.length > 1) errors.push({ path: '/eventTypes', code: 'invalid_value', message: '"*" 须单独使用' })
  types.forEach((t, i) => {
    if (t !== '*' && !(EVENT_TYPES as readonly string[]).includes(t))
      errors.push({ path: `/eventTypes/${i}`, code: 'unknown_event_type', message: `未知的事件类型 ${t}` })
  })
  if (errors.length) throw validationFailed(errors)
}

async function checkSubscriptionUrl(url: string, allowPrivateNetwork: boolean): Promise<void> {
  const r = await checkUrl(url, allowPrivateNetwork)
  if (!r.ok) throw businessRule('url_not_allowed', `不允许的推送地址：${r.detail}`, { reason: r.reason })
}

const subscriptionsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const queues = deps.queues

  const load = async (id: string) => {
    const s = isUuid(id) ? await getSubscription(deps.db, id) : undefined
    if (!s) throw notFound('订阅')
    return s
  }

  app.post(
    '/v1/subscriptions',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['events'],
        summary: '创建推送订阅 / Create a webhook subscription',
        description:
          '仅运维角色。订阅自创建起接收其调用方可读、类型匹配的事件（更早的事件请用 GET /v1/events 拉取）。密钥以 whsec_ 开头，仅显示一次。' +
          '地址须为 http(s)；回环、内网、链路本地与云元数据地址返回 422 url_not_allowed（除非 allowPrivateNetwork，它仍不放行链路本地与元数据地址）；不跟随重定向。' +
          ' Operator only. Receives, from its creation on, the events its client may read, of the types asked for. The secret is shown once. ' +
          'Unknown clientId → 422 unknown_client.',
        headers: IDEMPOTENCY_HEADER,
        body: CreateBody,
        response: { 201: WithSecret, ...errorResponses(409, 422) },
      },
    },
    async (req, reply) => {
      const b = req.body
      checkEventTypes(b.eventTypes)
      return runIdempotent(req, reply, deps.db, async (trx) => {
        const client = isUuid(b.clientId) ? await findClient(trx, b.clientId) : undefined
        if (!client) throw businessRule('unknown_client', '调用方不存在')
        const allowPrivateNetwork = b.allowPrivateNetwork ?? false
        await checkSubscriptionUrl(b.url, allowPrivateNetwork)
        const secret = generateSecret()
        const s = await insertSubscription(trx, {
          id: uuidv7(),
          clientId: client.id,
          url: b.url,
          eventTypes: b.eventTypes,
          description: b.description ?? null,
          allowPrivateNetwork,
          signatureAlgorithm: b.signatureAlgorithm ?? 'hmac-sha256',
          secretEnc: deps.cipher.encrypt(secret, SECRET_CONTEXT),
        })
        return { status: 201, body: { ...subscriptionView(s), secret }, headers: { location: `/v1/subscriptions/${s.id}` }, secretFields: ['secret'] }
      })
    },
  )

  app.get(
    '/v1/subscriptions',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['events'],
        summary: '订阅列表 / List subscriptions',
        description: '仅运维角色；可按 clientId 过滤，按标识排序分页。密钥从不出现在查询结果中。Operator only; filter by clientId; secrets never appear.',
        querystring: Type.Object(
          { clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), limit: Type.Optional(LimitQuery), cursor: Type.Optional(CursorQuery) },
          { additionalProperties: false },
        ),
        response: { 200: listOf(SubscriptionView), ...errorResponses() },
      },
    },
    async (req) => {
      const q = req.query
      const { items, nextCursor } = await listPage(
        q,
        { id: 'uuid' },
        // A client id that is no UUID names no client: an empty list (the cursor is still checked).
        async (after, take) =>
          q.clientId !== undefined && !isUuid(q.clientId) ? [] : listSubscriptions(deps.db, { clientId: q.clientId, afterId: after?.id, limit: take }),
        (s) => ({ id: s.id }),
      )
      return { items: items.map(subscriptionView), nextCursor }
    },
  )

  app.get(
    '/v1/subscriptions/:id',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['events'],
        summary: '查询订阅 / Get a subscription',
        description: '返回订阅设置与状态（enabled、disabledReason、轮换中旧密钥的到期时间），不含密钥。Settings and state, never the secret.',
        params: IdParam,
        response: { 200: SubscriptionView, ...errorResponses(404) },
      },
    },
    async (req) => subscriptionView(await load(req.params.id)),
  )

  app.patch(
    '/v1/subscriptions/:id',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['events'],
        summary: '修改订阅 / Update a subscription',
        description:
          '可改地址、事件类型、说明、allowPrivateNetwork 与启用状态（重新启用 410 停用的订阅）；地址按新设置重新检查。停用时未完成的投递记为 dead（subscription_disabled），重新启用后可用 recovery 补发。Changing the URL or allowPrivateNetwork re-checks the URL; disabling ends the pending deliveries (dead, subscription_disabled; recover them after re-enabling); enabled: true re-enables a subscription a 410 disabled.',
        params: IdParam,
        body: PatchBody,
        response: { 200: SubscriptionView, ...errorResponses(404, 422) },
      },
    },
    async (req) => {
      const b = req.body
      checkEventTypes(b.eventTypes)
      const current = await load(req.params.id)
      if (b.url !== undefined || b.allowPrivateNetwork !== undefined) {
        await checkSubscriptionUrl(b.url ?? current.url, b.allowPrivateNetwork ?? current.allowPrivateNetwork)
      }
      const s = await deps.db.transaction().execute(async (trx) => {
        const updated = await updateSubscription(trx, current.id, b)
        if (updated && b.enabled === false) await killPendingOf(trx, updated.id, 'subscription_disabled')
        return updated
      })
      if (!s) throw notFound('订阅')
      return subscriptionView(s)
    },
  )

  app.delete(
    '/v1/subscriptions/:id',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['events'],
        summary: '删除订阅 / Delete a subscription',
        description:
          '未完成的投递随之终止（记为 dead，原因 subscription_deleted）；投递记录保留。Its pending deliveries end (dead, subscription_deleted); the history stays.',
        params: IdParam,
        response: { 204: Type.Null({ description: '已删除 / deleted' }), ...errorResponses(404) },
      },
    },
    async (req, reply) => {
      const id = req.params.id
      const ok = isUuid(id) && (await deps.db.transaction().execute((trx) => deleteSubscription(trx, id)))
      if (!ok) throw notFound('订阅')
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/v1/subscriptions/:id/secret-rotation',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['events'],
        summary: '轮换签名密钥 / Rotate the signing secret',
        description:
          '返回新密钥（仅一次）。旧密钥继续签名 24 小时：期间 webhook-signature 携带新旧两个签名（空格分隔）。The old secret keeps signing for 24 h; both signatures are sent meanwhile.',
        headers: IDEMPOTENCY_HEADER,
        params: IdParam,
        response: { 200: WithSecret, ...errorResponses(404, 409, 422) },
      },
    },
    async (req, reply) => {
      const current = await load(req.params.id)
      return runIdempotent(req, reply, deps.db, async (trx) => {
        const secret = generateSecret()
        const now = new Date()
        const s = await rotateSecret(trx, current.id, deps.cipher.encrypt(secret, SECRET_CONTEXT), new Date(now.getTime() + SECRET_OVERLAP_MS), now)
        if (!s) throw notFound('订阅')
        return { status: 200, body: { ...subscriptionView(s), secret }, secretFields: ['secret'] }
      })
    },
  )

  app.post(
    '/v1/subscriptions/:id/recovery',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['events'],
        summary: '按时间窗重新投递失败事件 / Re-send dead deliveries in a time window',
        description:
          '后台任务：把该订阅在 [since, until]（投递创建时间，until 默认为当前）内状态为 dead 的投递重新排队，webhook-id 不变。返回 202 与任务标识；任务状态存于 PostgreSQL，Redis 丢失也会完成。' +
          ' A background job re-opens the dead deliveries created within the window (same webhook-id). 202 with a job id; GET …/recovery/{jobId} shows its progress.',
        headers: IDEMPOTENCY_HEADER,
        params: IdParam,
        body: RecoveryBody,
        response: { 202: RecoveryView, ...errorResponses(404, 409, 422) },
      },
    },
    async (req, reply) => {
      const current = await load(req.params.id)
      const since = new Date(req.body.since)
      const until = req.body.until ? new Date(req.body.until) : new Date()
      if (since.getTime() > until.getTime()) throw validationFailed([{ path: '/since', code: 'out_of_range', message: 'since 不能晚于 until' }])
      if (!current.enabled) throw businessRule('subscription_disabled', '订阅已停用，请先启用（PATCH enabled: true）再恢复投递')
      return runIdempotent(req, reply, deps.db, async (trx) => {
        const job = await insertRecoveryJob(trx, current.id, since, until)
        return {
          status: 202,
          body: recoveryView(job),
          headers: { location: `/v1/subscriptions/${current.id}/recovery/${job.id}` },
          afterCommit: async () => {
            await queues.jobs.add(RECOVERY_JOB, { recoveryId: job.id }, { jobId: job.id, removeOnComplete: true, removeOnFail: true })
          },
        }
      })
    },
  )

  app.get(
    '/v1/subscriptions/:id/recovery/:jobId',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['events'],
        summary: '恢复任务状态 / Recovery job status',
        description: 'queued 或 done；done 时 requeued 为重新排队的投递数。queued or done; when done, requeued counts the re-opened deliveries.',
        params: Type.Object(
          { id: Type.String({ minLength: 1, maxLength: 64 }), jobId: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false },
        ),
        response: { 200: RecoveryView, ...errorResponses(404) },
      },
    },
    async (req) => {
      const job = isUuid(req.params.jobId) ? await getRecoveryJob(deps.db, req.params.jobId) : undefined
      if (!job || job.subscriptionId !== req.params.id) throw notFound('恢复任务')
      return recoveryView(job)
    },
  )
}

export default subscriptionsPlugin
