import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type, { type Static } from 'typebox'
import { referralService } from '../cases/referrals/referral-service.js'
import { forbidden } from '../domain/errors.js'
import { caseNumberSearchTerm, normalizeResidentId } from '../domain/identifiers.js'
import { shanghaiDate } from '../domain/calendar.js'
import { type Referral, referralView, sealedFields } from '../domain/referral.js'
import { CursorQuery, LimitQuery, listOf, StringEnum, Timestamp } from '../schemas/common.js'
import {
  AcceptanceBody,
  AgreementBody,
  AssignmentBody,
  ClosureBody,
  CourtFilingBody,
  CreateReferralBody,
  DISPUTE_TYPES,
  ExtensionBody,
  MaterialReturnBody,
  PerformanceBody,
  RecallBody,
  RedesignationBody,
  ReferralView,
  ResumptionBody,
  SuspensionBody,
  TerminationBody,
} from '../schemas/referrals.js'
import type { AppDeps } from './app-deps.js'
import { callerOf, type CaseResource, caseRoutes, decryptWith, pageDecrypt } from './case-routes.js'
import { batchIntakeRoute } from './referral-batch.js'
import { errorResponses } from './common-schemas.js'
import { listPage } from './pagination.js'

/** The referral routes (contract §2): each declares its schema and role, makes one service call, renders the view. */

type ReferralViewT = Static<typeof ReferralView>

const COURT = ['court'] as const
const MEDIATION = ['mediation'] as const
const READERS = ['court', 'mediation', 'operator'] as const

const referralsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const referrals = referralService(deps)
  const render = (r: Referral, full: boolean) => referralView(r, full, decryptWith(deps.cipher))
  const resource: CaseResource<Referral> = {
    base: '/v1/referrals',
    tags: ['referrals'],
    view: ReferralView,
    render,
    get: referrals.get,
    events: referrals.events,
  }
  const routes = caseRoutes<Referral>(app, deps, resource)

  routes.create({
    roles: COURT,
    summary: '委派/委托调解 / Refer a dispute to mediation',
    description:
      '法院在立案前委派（pre_filing）或诉中委托（in_litigation）调解。须全体当事人同意（意见 三(二)），指定组织须在名册中。' +
      '受理期限为转交日后第 3 个工作日（在线调解规则 12）。Court only. Answers 201 with the referral; 409 duplicate_referral when an active referral of the same 案号 exists.',
    body: CreateReferralBody,
    errors: [409, 422],
    prepare: referrals.create,
  })

  batchIntakeRoute(app, deps, resource, COURT)

  routes.getOne(
    '查询委派/委托案件 / Get a referral',
    '返回 ETag: "<version>"。个人信息仅对委派法院与承办组织完整显示。ETag carries the version; personal data is full only for the referring court and the handling organization.',
  )

  app.get(
    '/v1/referrals',
    {
      config: { roles: READERS },
      schema: {
        tags: ['referrals'],
        summary: '委派/委托案件列表 / List referrals',
        description:
          '仅返回调用方可读的案件。partyIdNumber 为当事人证件号精确检索（盲索引），仅限法院与调解平台。Only cases the caller may read; partyIdNumber is an exact blind-index search for courts and platforms. ' +
          'caseNumber 为案号精确检索（半角括号按全角处理）。caseNumber is an exact 案号 match (half-width brackets read as full-width).',
        querystring: Type.Object(
          {
            status: Type.Optional(Type.String({ maxLength: 32 })),
            courtCode: Type.Optional(Type.String({ 'x-check': 'courtCode' })),
            organizationId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
            disputeType: Type.Optional(StringEnum(DISPUTE_TYPES)),
            updatedSince: Type.Optional(Timestamp),
            partyIdNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
            caseNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: '案号，精确匹配 / exact 案号' })),
            limit: Type.Optional(LimitQuery),
            cursor: Type.Optional(CursorQuery),
          },
          { additionalProperties: false },
        ),
        response: { 200: listOf(ReferralView), ...errorResponses() },
      },
    },
    async (req) => {
      const { partyIdNumber, caseNumber, limit, cursor, ...rest } = req.query
      const filters = {
        ...rest,
        caseNumber: caseNumber === undefined ? undefined : caseNumberSearchTerm(caseNumber, Number(shanghaiDate(new Date()).slice(0, 4))),
      }
      if (partyIdNumber !== undefined && req.principal.role === 'operator') throw forbidden('运维角色不能按证件号检索')
      const partyIdHash = partyIdNumber !== undefined ? deps.cipher.blindIndex(normalizeResidentId(partyIdNumber.trim()), 'idNumber') : undefined
      const { items, nextCursor } = await listPage(
        { limit, cursor },
        { id: 'uuid' },
        (after, take, shown) => referrals.list(callerOf(req), { ...filters, partyIdHash, afterId: after?.id, limit: take }, shown),
        (r) => ({ id: r.value.id }),
      )
      const decrypt = await pageDecrypt(
        deps,
        items.flatMap((r) => (r.full ? sealedFields(r.value.doc.parties) : [])),
      )
      return { items: items.map((r) => referralView(r.value, r.full, decrypt) as ReferralViewT), nextCursor }
    },
  )

  routes.events('案件事件历史 / The referral’s events in sequence order')

  routes.action({
    path: 'acceptance',
    roles: MEDIATION,
    summary: '受理或不予接受 / Accept or decline',
    description: '受理：referred → mediating，开始调解期限（诉前 30 日、诉中普通 15 日、简易 7 日）；不予接受须说明理由。Accepting starts the mediation clock.',
    body: AcceptanceBody,
    run: (w, c, id, b) => (b.decision === 'accepted' ? referrals.accept(w, c, id, b) : referrals.decline(w, c, id, b)),
  })

  routes.action({
    path: 'redesignation',
    roles: COURT,
    summary: '重新指定调解组织 / Redesignate',
    description: 'declined → referred；指定规则同委派，重新计算受理期限。Same designation rules as at intake; a new acceptance deadline.',
    body: RedesignationBody,
    run: referrals.redesignate,
  })

  routes.action({
    path: 'recall',
    roles: COURT,
    summary: '撤回委派/委托 / Recall the referral',
    description:
      'referred 或 declined → recalled：调解开始前法院收回案件（当事人撤回同意、坚持诉讼或法院决定；意见 三(一)(三)，特邀调解规定 12、21）。' +
      '调解组织经 referral.recalled 事件获知；撤回后同一案号可再次委派，法院可登记立案或恢复审理（court-filing）。' +
      'The court takes the case back before mediation starts; the organization is notified by the event. A recalled case no longer blocks its 案号.',
    body: RecallBody,
    run: referrals.recall,
  })

  routes.action({
    path: 'assignment',
    roles: MEDIATION,
    summary: '中心分派 / Dispatch from a centre',
    description:
      '仅当被指定组织为非诉讼纠纷化解中心，且目标组织在中心辖区内（意见 三(二)）。Only a centre may dispatch, to an active organization in its region.',
    body: AssignmentBody,
    run: referrals.assign,
  })

  routes.action({
    path: 'suspension',
    roles: MEDIATION,
    summary: '中止调解 / Suspend',
    description: 'mediating → suspended；鉴定评估或疑似虚假调解，期限暂停（在线调解规则 26；特邀调解规定 18）。The clock stops.',
    body: SuspensionBody,
    run: referrals.suspend,
  })

  routes.action({
    path: 'resumption',
    roles: MEDIATION,
    summary: '恢复调解 / Resume',
    description:
      'suspended → mediating；期限顺延中止期间的日历天数，遇休息日顺延。The due date moves later by the calendar days suspended, then rolls forward.',
    body: ResumptionBody,
    run: referrals.resume,
  })

  routes.action({
    path: 'extension',
    roles: MEDIATION,
    summary: '延长调解期限 / Extend',
    description: '须全体当事人同意（特邀调解规定 27），新期限须晚于当前期限。Every party must consent; the new date must be later.',
    body: ExtensionBody,
    run: referrals.extend,
  })

  routes.action({
    path: 'agreement',
    roles: MEDIATION,
    summary: '记录调解协议 / Record the agreement',
    description:
      'mediating → agreed。书面与电子协议：全体当事人签署，并有调解员签名（mediatorSignedAt）与调解组织印章（sealedAt），否则 422 signatures_incomplete；' +
      '自其中最晚者生效（人民调解法 29，在线调解规则 19）。口头协议：须 reachedAt，自达成时生效（人民调解法 30）。给出的 effectiveAt 不一致 → 422 effective_at_mismatch。' +
      'documentMaterialId：已签署的协议文件（须存在且调用方可读，否则 422 unknown_material），协议显示其 documentSha256。agreement.sha256 = SHA-256(terms).',
    body: AgreementBody,
    run: referrals.recordAgreement,
  })

  routes.action({
    path: 'termination',
    roles: MEDIATION,
    summary: '调解终结 / Terminate',
    description: '终结理由见在线调解规则 25；无争议事实须经全体当事人确认。Reasons per art. 25; undisputed facts must be confirmed by every party.',
    body: TerminationBody,
    run: referrals.terminate,
  })

  routes.action({
    path: 'material-return',
    roles: MEDIATION,
    summary: '退回材料 / Return the materials',
    description:
      'terminated → materials_returned；须附书面终结报告（特邀调解规定 26）。A written report is required; materials may be empty when the file goes back on paper.',
    body: MaterialReturnBody,
    run: referrals.returnMaterials,
  })

  routes.action({
    path: 'court-filing',
    roles: COURT,
    summary: '登记立案或恢复审理 / Register the case or resume the trial',
    description:
      'materials_returned、declined 或 recalled → case_registered（仅诉前委派，新 民初 案号）或 trial_resumed（仅诉中委托）：调解不成、组织不予接受或法院撤回后，' +
      '当事人坚持诉讼的，法院登记立案或恢复审理（意见 三(三)，特邀调解规定 21）。From materials_returned, declined or recalled.',
    body: CourtFilingBody,
    run: (w, c, id, b) => (b.action === 'case_registered' ? referrals.registerCase(w, c, id, b) : referrals.resumeTrial(w, c, id, b)),
  })

  routes.action({
    path: 'closure',
    roles: COURT,
    summary: '结案 / Close',
    description: 'agreed → closed；诉前委派：agreement_filed（备案）；诉中委托：mediation_document_issued（调解书）或 suit_withdrawn（撤诉）。',
    body: ClosureBody,
    run: referrals.close,
  })

  routes.action({
    path: 'performance',
    roles: MEDIATION,
    summary: '履行情况回访 / Report performance',
    description: '协议履行情况（自动履行率），可重复报告，以最新为准；不改变状态。Repeatable, latest wins; no state change.',
    body: PerformanceBody,
    run: referrals.reportPerformance,
  })
}

export default referralsPlugin
