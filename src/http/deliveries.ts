import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type, { type Static } from 'typebox'
import type { DeliveryAttemptRow, DeliveryRow } from '../db/database.js'
import { attemptsOf, getDelivery, listDeliveries, requeueDelivery, syncStatus } from '../db/delivery-repository.js'
import { getSubscription } from '../db/subscription-repository.js'
import { enqueueAt } from '../delivery/queues.js'
import { businessRule, illegalTransition, notFound } from '../domain/errors.js'
import { isUuid } from '../domain/ids.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import { CursorQuery, IdParam, LimitQuery, listOf, Nullable, StringEnum, Timestamp } from '../schemas/common.js'
import { IDEMPOTENCY_HEADER, runIdempotent } from './idempotency.js'
import { listPage } from './pagination.js'

const OPERATOR = ['operator'] as const
const READERS = ['court', 'mediation', 'operator'] as const

const AttemptView = Type.Object({
  at: Timestamp,
  httpStatus: Nullable(Type.Integer()),
  latencyMs: Type.Integer(),
  response: Nullable(Type.String({ description: '应答正文前 1 KiB / the first KiB of the answer' })),
  error: Nullable(Type.String()),
  outcome: Type.String({ description: 'delivered | retry | dead | gone' }),
})

const DeliveryView = Type.Object(
  {
    id: Type.String(),
    subscriptionId: Type.String(),
    eventId: Type.String({ description: '即 webhook-id / the webhook-id' }),
    eventType: Type.String(),
    subject: Type.Object({ kind: Type.String(), id: Type.String() }),
    sequence: Type.Integer(),
    status: Type.String({ description: 'pending | delivered | dead' }),
    attempts: Type.Integer(),
    nextAttemptAt: Nullable(Timestamp),
    firstAttemptAt: Nullable(Timestamp),
    lastAttemptAt: Nullable(Timestamp),
    lastStatus: Nullable(Type.Integer()),
    lastError: Nullable(Type.String()),
    createdAt: Timestamp,
    deliveredAt: Nullable(Timestamp),
    deadAt: Nullable(Timestamp),
    attemptLog: Type.Array(AttemptView),
  },
  { $id: 'Delivery' },
)

const SyncStatusView = Type.Object({
  items: Type.Array(
    Type.Object({
      subscriptionId: Type.String(),
      pending: Type.Integer(),
      oldestPendingAgeSeconds: Nullable(Type.Integer()),
      dead: Type.Integer(),
      lastDeliveredAt: Nullable(Timestamp),
    }),
  ),
})

const iso = (d: Date | null) => d?.toISOString() ?? null

function deliveryView(d: DeliveryRow, attempts: DeliveryAttemptRow[]): Static<typeof DeliveryView> {
  return {
    id: d.id,
    subscriptionId: d.subscription_id,
    eventId: d.event_id,
    eventType: d.event_type,
    subject: { kind: d.subject_kind, id: d.subject_id },
    sequence: d.sequence,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' ? d.next_attempt_at.toISOString() : null,
    firstAttemptAt: iso(d.first_attempt_at),
    lastAttemptAt: iso(d.last_attempt_at),
    lastStatus: d.last_status,
    lastError: d.last_error,
    createdAt: d.created_at.toISOString(),
    deliveredAt: iso(d.delivered_at),
    deadAt: iso(d.dead_at),
    attemptLog: attempts.map((a) => ({
      at: a.attempted_at.toISOString(),
      httpStatus: a.http_status,
      latencyMs: a.latency_ms,
      response: a.response_body,
      error: a.error,
      outcome: a.outcome,
    })),
  }
}

const deliveriesPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const queues = deps.queues

  app.get(
    '/v1/deliveries',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['events'],
        summary: '投递记录 / List deliveries with their attempt log',
        description:
          '按创建时间倒序（最新在前）；每条附尝试记录：时间、HTTP 状态、耗时、应答前 1 KiB、错误。Newest first; each with its attempt log. since/until filter on the delivery’s creation time.',
        querystring: Type.Object(
          {
            subscriptionId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            status: Type.Optional(StringEnum(['pending', 'delivered', 'dead'] as const)),
            eventType: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            since: Type.Optional(Timestamp),
            until: Type.Optional(Timestamp),
            limit: Type.Optional(LimitQuery),
            cursor: Type.Optional(CursorQuery),
          },
          { additionalProperties: false },
        ),
        response: { 200: listOf(DeliveryView), ...errorResponses() },
      },
    },
    async (req) => {
      const q = req.query
      // Newest first: the cursor is the last (oldest) id seen, and the next page lies before it.
      const { items, nextCursor } = await listPage(
        q,
        { id: 'uuid' },
        async (before, take) =>
          // A subscription id that is no UUID names no subscription: an empty list (the cursor is still checked).
          q.subscriptionId !== undefined && !isUuid(q.subscriptionId)
            ? []
            : listDeliveries(deps.db, {
                subscriptionId: q.subscriptionId,
                status: q.status,
                eventType: q.eventType,
                since: q.since ? new Date(q.since) : undefined,
                until: q.until ? new Date(q.until) : undefined,
                beforeId: before?.id,
                limit: take,
              }),
        (d) => ({ id: d.id }),
      )
      const log = await attemptsOf(
        deps.db,
        items.map((d) => d.id),
      )
      return { items: items.map((d) => deliveryView(d, log.get(d.id) ?? [])), nextCursor }
    },
  )

  app.get(
    '/v1/deliveries/:id',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['events'],
        summary: '查询投递 / Get a delivery with its attempt log',
        description: '含全部尝试记录（最近 50 次）。With its attempt log (the latest 50 attempts).',
        params: IdParam,
        response: { 200: DeliveryView, ...errorResponses(404) },
      },
    },
    async (req) => {
      const d = isUuid(req.params.id) ? await getDelivery(deps.db, req.params.id) : undefined
      if (!d) throw notFound('投递')
      const log = await attemptsOf(deps.db, [d.id])
      return deliveryView(d, log.get(d.id) ?? [])
    },
  )

  app.post(
    '/v1/deliveries/:id/retry',
    {
      config: { roles: OPERATOR },
      schema: {
        tags: ['events'],
        summary: '重新投递 / Retry a delivery now',
        description:
          'dead 或 pending 的投递立即重新排队（重新计算 24 小时重试窗口），webhook-id 不变；已送达的返回 409。A dead or pending delivery is attempted again now, with the same webhook-id; a delivered one → 409.',
        headers: IDEMPOTENCY_HEADER,
        params: IdParam,
        response: { 202: DeliveryView, ...errorResponses(404, 409, 422) },
      },
    },
    async (req, reply) => {
      const current = isUuid(req.params.id) ? await getDelivery(deps.db, req.params.id) : undefined
      if (!current) throw notFound('投递')
      return runIdempotent(req, reply, deps.db, async (trx) => {
        const sub = await getSubscription(trx, current.subscription_id)
        if (!sub) throw businessRule('subscription_deleted', '该投递的订阅已删除')
        if (!sub.enabled) throw businessRule('subscription_disabled', '订阅已停用，请先启用（PATCH enabled: true）再重新投递')
        const d = await requeueDelivery(trx, current.id)
        if (!d) throw illegalTransition('delivered', 'retry')
        const log = await attemptsOf(trx, [d.id])
        return { status: 202, body: deliveryView(d, log.get(d.id) ?? []), afterCommit: () => enqueueAt(queues.deliveries, d.id) }
      })
    },
  )

  app.get(
    '/v1/sync/status',
    {
      config: { roles: READERS },
      schema: {
        tags: ['events'],
        summary: '同步状态 / Sync status per subscription',
        description: '调用方自己的订阅（运维：全部）：待投递数、最早待投递的等待秒数、dead 数、最近送达时间。The caller’s subscriptions (all, for operators).',
        response: { 200: SyncStatusView, ...errorResponses() },
      },
    },
    async (req) => {
      const p = req.principal
      const rows = await syncStatus(deps.db, p.role === 'operator' ? undefined : p.clientId)
      return { items: rows.map((r) => ({ ...r, lastDeliveredAt: iso(r.lastDeliveredAt) })) }
    },
  )
}

export default deliveriesPlugin
