import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { listAccess } from '../db/access-log-repository.js'
import { verifySubjectChain } from '../db/event-repository.js'
import { confirmationService } from '../cases/confirmations/confirmation-service.js'
import { referralService } from '../cases/referrals/referral-service.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import { CursorQuery, IdParam, LimitQuery, listOf, Timestamp } from '../schemas/common.js'
import { listPage } from './pagination.js'
import { callerOf } from './case-routes.js'

export const IntegrityView = Type.Object({
  valid: Type.Boolean(),
  length: Type.Optional(Type.Integer({ description: '链上事件数 / events in the chain' })),
  head: Type.Optional(Type.String({ description: '链头哈希 / hash of the last event' })),
  brokenAtSequence: Type.Optional(Type.Integer({ description: '首个校验失败的序号 / first sequence that fails' })),
})

export function integrityBody(v: Awaited<ReturnType<typeof verifySubjectChain>>) {
  return v.valid ? { valid: true, length: v.length, head: v.head } : { valid: false, brokenAtSequence: v.brokenAtSequence }
}

export const AccessEntryView = Type.Object({
  at: Timestamp,
  clientId: Type.String(),
  subjectId: Type.String(),
  fields: Type.Array(Type.String()),
  requestId: Type.String(),
})

/** Tamper evidence and the personal-data access trail (contract §8). */
const auditPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const referrals = referralService(deps)
  const confirmations = confirmationService(deps)
  app.get(
    '/v1/referrals/:id/integrity',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['referrals'],
        summary: '事件哈希链校验 / Verify the referral’s event hash chain',
        description: 'hash = SHA-256(前一哈希 ‖ 规范化事件)。Recomputes the chain: { valid, length, head } or { valid: false, brokenAtSequence }.',
        params: IdParam,
        response: { 200: IntegrityView, ...errorResponses(404) },
      },
    },
    async (req) => {
      const r = await referrals.assertReadable(callerOf(req), req.params.id)
      return integrityBody(await verifySubjectChain(deps.db, r.id))
    },
  )

  app.get(
    '/v1/judicial-confirmations/:id/integrity',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['judicial-confirmations'],
        summary: '事件哈希链校验 / Verify the application’s event hash chain',
        description: 'Recomputes the chain: { valid, length, head } or { valid: false, brokenAtSequence }.',
        params: IdParam,
        response: { 200: IntegrityView, ...errorResponses(404) },
      },
    },
    async (req) => {
      const c = await confirmations.assertReadable(callerOf(req), req.params.id)
      return integrityBody(await verifySubjectChain(deps.db, c.id))
    },
  )

  app.get(
    '/v1/access-log',
    {
      config: { roles: ['operator'] },
      schema: {
        tags: ['operations'],
        summary: '个人信息访问记录 / Who saw full personal data',
        description: '每次返回完整证件号或电话的应答都会记录调用方、案件、时间与请求号。Every answer that showed a full ID number or phone.',
        querystring: Type.Object(
          {
            subjectId: Type.Optional(Type.String({ format: 'uuid' })),
            clientId: Type.Optional(Type.String({ format: 'uuid' })),
            since: Type.Optional(Timestamp),
            until: Type.Optional(Timestamp),
            limit: Type.Optional(LimitQuery),
            cursor: Type.Optional(CursorQuery),
          },
          { additionalProperties: false },
        ),
        response: { 200: listOf(AccessEntryView), ...errorResponses() },
      },
    },
    async (req) => {
      const { limit, cursor, ...filters } = req.query
      await deps.accessTrail.flush()
      const { items, nextCursor } = await listPage(
        { limit, cursor },
        { id: 'decimalString' },
        (after, take) => listAccess(deps.db, { ...filters, afterId: after?.id, limit: take }),
        (r) => ({ id: String(r.id) }),
      )
      return {
        items: items.map((r) => ({ at: r.at.toISOString(), clientId: r.client_id, subjectId: r.subject_id, fields: r.fields, requestId: r.request_id })),
        nextCursor,
      }
    },
  )
}

export default auditPlugin
