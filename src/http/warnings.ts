import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { uuidv7 } from 'uuidv7'
import { appendEvent } from '../db/event-repository.js'
import { insertWarning, listWarnings, type Warning } from '../db/warning-repository.js'
import { GENESIS_HASH } from '../domain/event-chain.js'
import { acknowledgementDue, WARNING_LEVELS, WARNING_STATUSES } from '../domain/warning.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import { CursorQuery, IdParam, LimitQuery, listOf, MultilineText, Nullable, StringEnum, Timestamp } from '../schemas/common.js'
import { IDEMPOTENCY_HEADER, runIdempotent } from './idempotency.js'
import { listPage } from './pagination.js'
import { DISPUTE_TYPES } from '../schemas/referrals.js'
import { referralService } from '../cases/referrals/referral-service.js'
import { warningService } from '../cases/warnings/warning-service.js'
import { callerOf, type CaseResource, caseRoutes } from './case-routes.js'

/** No query parameters: an unknown one is a 400 (contract §1). */
const NoQuery = Type.Object({}, { additionalProperties: false })

const LEVELS = WARNING_LEVELS

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

const Actor = Type.Object({ clientId: Type.String(), role: StringEnum(['court', 'mediation'] as const) })

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
  status: StringEnum(WARNING_STATUSES, { description: '预警状态：raised 已发布、acknowledged 已签收、closed 已结报 / lifecycle status' }),
  version: Type.Integer({ description: '版本号（最后一个事件的序号），亦为 ETag / version, also the ETag' }),
  updatedAt: Timestamp,
  acknowledgementDueAt: Timestamp,
  overdue: Type.Boolean({ description: '是否已逾期未签收（已发出 warning.overdue）/ whether warning.overdue was sent' }),
  acknowledgedAt: Nullable(Timestamp),
  acknowledgement: Nullable(Type.Object({ at: Timestamp, by: Actor, note: Nullable(Type.String()) })),
  followUps: Type.Array(Type.Object({ at: Timestamp, by: Actor, report: Type.String() }), { description: '续报，按时间先后 / follow-ups, oldest first' }),
  closedAt: Nullable(Timestamp),
  closure: Nullable(Type.Object({ at: Timestamp, by: Actor, report: Type.String() })),
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
    status: w.status,
    version: w.version,
    updatedAt: w.updatedAt.toISOString(),
    acknowledgementDueAt: w.acknowledgementDueAt.toISOString(),
    overdue: w.overdueAt !== null,
    acknowledgedAt: w.acknowledgement?.at.toISOString() ?? null,
    acknowledgement: w.acknowledgement ? { at: w.acknowledgement.at.toISOString(), by: w.acknowledgement.by, note: w.acknowledgement.note } : null,
    followUps: w.followUps,
    closedAt: w.closure?.at.toISOString() ?? null,
    closure: w.closure ? { at: w.closure.at.toISOString(), by: w.closure.by, report: w.closure.report } : null,
  }
}

const AcknowledgementBody = Type.Object(
  {
    note: Type.Optional(
      MultilineText(2000, '签收说明，可分行；其中的身份证号、手机号在接收时即脱敏存储 / note; ID and mobile numbers in it are masked on receipt'),
    ),
  },
  { additionalProperties: false, examples: [{ note: '已转属地乡镇街道综治中心，人民调解员已赶赴现场' }] },
)
const ReportBody = (example: string) =>
  Type.Object(
    {
      report: MultilineText(4000, '报告内容，可分行；其中的身份证号、手机号在接收时即脱敏存储 / the report; ID and mobile numbers in it are masked on receipt'),
    },
    { additionalProperties: false, examples: [{ report: example }] },
  )

const SCOPE_TEXT =
  '可读范围：发起方本身；另一方中所在区域与预警区域处于同一分支（一方覆盖另一方）的法院（按法院代字推得的区域）或调解平台（按其 regionCodes；全国范围的平台可读全部法院预警，' +
  '仅按组织标识授权的平台没有区域，只见自己发起的预警）；同一方的其他调用方不可读；运维全部。' +
  'Readable by the raising client; on the other side by courts (region derived from their codes) and platforms (their regionCodes; national ones: every ' +
  'court warning) whose region and the warning’s are on one branch; not by other clients of the raiser’s side; operators all.'

const LIFECYCLE_TEXT =
  '预警生命周期（意见 五(一)：双向预警、续报、结报）：raised（已发布）→ acknowledged（另一方签收）→ closed（发布方结报），未结报前双方均可续报（状态不变，可多次）。' +
  '未在时限内签收（红色 2 小时、橙色 12 小时、黄色 24 小时，自发布起算，见 acknowledgementDueAt）的预警发出且只发出一次 warning.overdue 事件（overdue 变为 true）。' +
  '签收、续报、结报与逾期事件（warning.acknowledged、warning.followed_up、warning.closed、warning.overdue）推送给双方中所在区域与预警区域处于同一分支的订阅者；' +
  '签收说明与报告中的身份证号、手机号在接收时即脱敏（双方均非“委派法院与办理组织”），事件不含预警摘要。不可读（不在可读范围）→ 404；运维 → 403 forbidden；一方执行另一方的动作 → 403 forbidden；' +
  '当前状态不允许 → 409 illegal_transition（currentStatus）；If-Match 与 version 不符 → 412 version_mismatch。\n\n' +
  'Lifecycle: raised → acknowledged (by the other side) → closed (by the raising side); follow-ups from either side until closed (no state change, ' +
  'repeatable). A warning not acknowledged within its level’s time (red 2 h, orange 12 h, yellow 24 h from raising: acknowledgementDueAt) gets exactly one ' +
  '`warning.overdue` event. The lifecycle events go to the subscribers of both sides whose region is on the warning’s branch and leave out the summary; ' +
  'ID and mobile numbers in notes and reports are masked on receipt. Outside the read scope → 404; operators → 403 `forbidden`; the wrong side → 403 `forbidden`; ' +
  'a status that does not allow the action → 409 `illegal_transition` with `currentStatus`; a stale If-Match → 412.'

const warningsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const referrals = referralService(deps)
  const warnings = warningService(deps)
  const resource: CaseResource<Warning> = {
    base: '/v1/warnings',
    tags: ['warnings'],
    view: WarningView,
    render: (w) => warningView(w),
    get: (caller, id) => warnings.get(caller, id),
    events: (caller, id, after, limit) => warnings.events(caller, id, after, limit),
  }
  const routes = caseRoutes(app, deps, resource)
  app.post(
    '/v1/warnings',
    {
      config: { roles: ['court', 'mediation'] },
      schema: {
        tags: ['warnings'],
        summary: '发布重大矛盾纠纷预警 / Raise a major-dispute warning',
        description:
          '法院或调解方发布预警，以 warning.raised 事件推送给另一方中所在区域与预警区域处于同一分支的订阅者（法院发布的推送调解方，调解方发布的推送法院）。' +
          'referralId 须为调用方可读的委派案件，否则 404。发布的内容此后不可修改；新预警为 raised 状态，version 为 1，acknowledgementDueAt 为签收时限（见签收、续报、结报）。' +
          SCOPE_TEXT +
          '\n\nA court or the mediation side raises a warning; it is delivered as `warning.raised` to the other side’s subscribers whose region is on one branch ' +
          'with the warning’s. A referralId must name a referral the caller may read (else 404). What was raised never changes; a new warning is `raised`, ' +
          'version 1, due for acknowledgement by `acknowledgementDueAt` (see the acknowledgement, follow-up and closure routes).',
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
          status: 'raised',
          version: 1,
          updatedAt: now,
          acknowledgementDueAt: acknowledgementDue(b.level, now),
          overdueAt: null,
          acknowledgement: null,
          followUps: [],
          closure: null,
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
        description: `按发布先后排列。regionCode 可为 2、4、6 位前缀；since 为发布时间下限（含）；status 按生命周期状态筛选。${SCOPE_TEXT}`,
        querystring: Type.Object(
          {
            level: Type.Optional(StringEnum(LEVELS)),
            status: Type.Optional(StringEnum(WARNING_STATUSES)),
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
        description: `${SCOPE_TEXT}\n\nETag 为 version。The ETag is the version. ${LIFECYCLE_TEXT}`,
        params: IdParam,
        response: { 200: WarningView, ...errorResponses(404) },
      },
    },
    async (req, reply) => {
      const { value } = await warnings.get(callerOf(req), req.params.id)
      reply.header('etag', `"${value.version}"`)
      return warningView(value)
    },
  )

  routes.events('预警事件 / Events of a warning')

  routes.action({
    path: 'acknowledgement',
    roles: ['court', 'mediation'],
    summary: '签收预警 / Acknowledge a warning',
    description:
      '由另一方签收：未发布该预警一方的调用方，且其区域与预警区域处于同一分支（全国范围的调解平台亦可），raised → acknowledged。发布方签收 → 403 forbidden；' +
      '已签收或已结报 → 409 illegal_transition。可不带请求体。' +
      LIFECYCLE_TEXT +
      '\n\nBy the other side (a client of the role that did not raise it whose region is on the warning’s branch): raised → acknowledged. The body may be omitted.',
    body: AcknowledgementBody,
    emptyBody: true,
    run: (work, caller, id, body) => warnings.acknowledge(work, caller, id, body),
  })

  routes.action({
    path: 'follow-up',
    roles: ['court', 'mediation'],
    summary: '预警续报 / Report a follow-up on a warning',
    description:
      '续报：发布方或另一方中可读该预警的调用方均可，状态不变，可多次，按时间先后列于 followUps；已结报 → 409 illegal_transition。' +
      LIFECYCLE_TEXT +
      '\n\nBy either side (the raising client, or a reader of the other side); no state change, repeatable; not after closure.',
    body: ReportBody('涉事企业已垫付 60% 工资，其余部分约定月底前支付，现场情绪平稳'),
    run: (work, caller, id, body) => warnings.followUp(work, caller, id, body),
  })

  routes.action({
    path: 'closure',
    roles: ['court', 'mediation'],
    summary: '预警结报 / Close a warning',
    description:
      '结报：仅由发布方结报，即发布该预警的调用方本身（同一方的其他调用方读不到该预警，答 404），raised 或 acknowledged → closed；另一方结报 → 403 forbidden；' +
      '已结报 → 409 illegal_transition。' +
      LIFECYCLE_TEXT +
      '\n\nBy the raising side, that is the raising client itself (other clients of its side cannot read the warning: 404): raised or acknowledged → closed.',
    body: ReportBody('工资已全部结清，农民工已返乡，预警解除'),
    run: (work, caller, id, body) => warnings.close(work, caller, id, body),
  })
}

export default warningsPlugin
