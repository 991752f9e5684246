import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { uuidv7 } from 'uuidv7'
import { appendEvent } from '../db/event-repository.js'
import { getWarning, insertWarning, listWarnings, type Warning } from '../db/warning-repository.js'
import { mayReadWarning } from '../domain/access.js'
import { notFound } from '../domain/errors.js'
import { GENESIS_HASH } from '../domain/event-chain.js'
import { isUuid } from '../domain/ids.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import { CursorQuery, IdParam, LimitQuery, listOf, MultilineText, Nullable, StringEnum, Timestamp } from '../schemas/common.js'
import { IDEMPOTENCY_HEADER, runIdempotent } from './idempotency.js'
import { listPage } from './pagination.js'
import { DISPUTE_TYPES } from '../schemas/referrals.js'
import { referralService } from '../cases/referrals/referral-service.js'
import { callerOf } from './case-routes.js'

/** No query parameters: an unknown one is a 400 (contract §1). */
const NoQuery = Type.Object({}, { additionalProperties: false })

const LEVELS = ['red', 'orange', 'yellow'] as const

const WarningBody = Type.Object(
  {
    level: StringEnum(LEVELS, { description: '预警等级：red 红、orange 橙、yellow 黄 / warning level' }),
    regionCode: Type.String({ 'x-check': 'regionCode', description: '纠纷所在地 6 位行政区划代码（PP0000、PPCC00 表示省、市）/ where the dispute is' }),
    disputeType: StringEnum(DISPUTE_TYPES),
    summary: MultilineText(2000, '事由摘要，可分行（勿含身份证号、电话）/ summary, may span lines; keep personal data out'),
    involvedPersons: Type.Integer({ minimum: 0, maximum: 10_000_000, description: '涉及人数 / number of people involved' }),
    referralId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: '相关委派案件（须为调用方可读）/ a related referral the caller may read' }),
    ),
  },
  {
    additionalProperties: false,
    examples: [{ level: 'orange', regionCode: '110105', disputeType: 'labor', summary: '某建筑工地 60 余名农民工集中讨薪，情绪激动', involvedPersons: 63 }],
  },
)

const WarningView = Type.Object({
  id: Type.String(),
  level: StringEnum(LEVELS),
  regionCode: Type.String(),
  disputeType: Type.String(),
  summary: Type.String(),
  involvedPersons: Type.Integer(),
  referralId: Nullable(Type.String()),
  raisedBy: Type.Object({ clientId: Type.String(), role: StringEnum(['court', 'mediation'] as const), name: Type.String() }),
  createdAt: Timestamp,
})

function warningView(w: Warning) {
  return {
    id: w.id,
    level: w.level,
    regionCode: w.regionCode,
    disputeType: w.disputeType,
    summary: w.summary,
    involvedPersons: w.involvedPersons,
    referralId: w.referralId,
    raisedBy: w.raisedBy,
    createdAt: w.createdAt.toISOString(),
  }
}

const SCOPE_TEXT =
  '可读范围：发起方本身；另一方中所在区域与预警区域处于同一分支（一方覆盖另一方）的法院（按法院代字推得的区域）或调解平台（按其 regionCodes；全国范围的平台可读全部法院预警，' +
  '仅按组织标识授权的平台没有区域，只见自己发起的预警）；同一方的其他调用方不可读；运维全部。' +
  'Readable by the raising client; on the other side by courts (region derived from their codes) and platforms (their regionCodes; national ones: every ' +
  'court warning) whose region and the warning’s are on one branch; not by other clients of the raiser’s side; operators all.'

const warningsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const referrals = referralService(deps)
  app.post(
    '/v1/warnings',
    {
      config: { roles: ['court', 'mediation'] },
      schema: {
        tags: ['warnings'],
        summary: '发布重大矛盾纠纷预警 / Raise a major-dispute warning',
        description:
          '法院或调解方发布预警，以 warning.raised 事件推送给另一方中所在区域与预警区域处于同一分支的订阅者（法院发布的推送调解方，调解方发布的推送法院）。' +
          'referralId 须为调用方可读的委派案件，否则 404。预警一经发布不可修改。' +
          SCOPE_TEXT +
          '\n\nA court or the mediation side raises a warning; it is delivered as `warning.raised` to the other side’s subscribers whose region is on one branch ' +
          'with the warning’s. A referralId must name a referral the caller may read (else 404).',
        querystring: NoQuery,
        headers: IDEMPOTENCY_HEADER,
        body: WarningBody,
        response: { 201: WarningView, ...errorResponses(404, 409, 422) },
      },
    },
    async (req, reply) => {
      const b = req.body
      const p = req.principal
      if (b.referralId !== undefined) await referrals.assertReadable(callerOf(req), b.referralId)
      return runIdempotent(req, reply, deps.db, async (trx) => {
        const now = new Date()
        const warning: Warning = {
          id: uuidv7(),
          level: b.level,
          regionCode: b.regionCode,
          disputeType: b.disputeType,
          summary: b.summary,
          involvedPersons: b.involvedPersons,
          referralId: b.referralId ?? null,
          raisedBy: { clientId: p.clientId, role: p.role as 'court' | 'mediation', name: p.name },
          chainHead: GENESIS_HASH,
          createdAt: now,
        }
        const body = warningView(warning)
        const { hash } = await appendEvent(trx, {
          type: 'warning.raised',
          subject: { kind: 'warning', id: warning.id },
          sequence: 1,
          caseVersion: null,
          actor: { clientId: p.clientId, role: p.role },
          data: { warning: body },
          prevHash: GENESIS_HASH,
          occurredAt: now,
          // Addressed to the other side, matched on the warning's region (contract §4 audiences).
          scope: { courtCode: null, organizationId: null, regionCode: warning.regionCode, audience: p.role === 'court' ? 'mediation' : 'court' },
        })
        warning.chainHead = hash
        await insertWarning(trx, warning)
        return {
          status: 201,
          body,
          headers: { location: `/v1/warnings/${warning.id}` },
          afterCommit: () => deps.afterCommit({ events: true }),
        }
      })
    },
  )

  app.get(
    '/v1/warnings',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['warnings'],
        summary: '预警列表 / List warnings',
        description: `按发布先后排列。regionCode 可为 2、4、6 位前缀；since 为发布时间下限（含）。${SCOPE_TEXT}`,
        querystring: Type.Object(
          {
            level: Type.Optional(StringEnum(LEVELS)),
            regionCode: Type.Optional(Type.String({ 'x-check': 'regionPrefix', description: '预警区域前缀 / region prefix of the warning' })),
            disputeType: Type.Optional(StringEnum(DISPUTE_TYPES)),
            since: Type.Optional(Timestamp),
            limit: Type.Optional(LimitQuery),
            cursor: Type.Optional(CursorQuery),
          },
          { additionalProperties: false },
        ),
        response: { 200: listOf(WarningView), ...errorResponses() },
      },
    },
    async (req) => {
      const { limit, cursor, ...filters } = req.query
      const { items, nextCursor } = await listPage(
        { limit, cursor },
        { id: 'uuid' },
        (after, take) => listWarnings(deps.db, req.principal, { ...filters, afterId: after?.id, limit: take }),
        (w) => ({ id: w.id }),
      )
      return { items: items.map(warningView), nextCursor }
    },
  )

  app.get(
    '/v1/warnings/:id',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['warnings'],
        summary: '查询预警 / Get a warning',
        querystring: NoQuery,
        description: SCOPE_TEXT,
        params: IdParam,
        response: { 200: WarningView, ...errorResponses(404) },
      },
    },
    async (req) => {
      const w = isUuid(req.params.id) ? await getWarning(deps.db, req.params.id) : undefined
      if (!w || !mayReadWarning(req.principal, w)) throw notFound('预警')
      return warningView(w)
    },
  )
}

export default warningsPlugin
