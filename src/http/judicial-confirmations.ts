import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type, { type Static } from 'typebox'
import { confirmationService } from '../cases/confirmations/confirmation-service.js'
import { shanghaiDate } from '../domain/calendar.js'
import { caseNumberSearchTerm } from '../domain/identifiers.js'
import { type Confirmation, confirmationView } from '../domain/confirmation.js'
import { sealedFields } from '../domain/referral.js'
import { CursorQuery, LimitQuery, listOf } from '../schemas/common.js'
import {
  ConfirmationAcceptanceBody,
  ConfirmationMaterialRequestBody,
  ConfirmationMaterialSupplementBody,
  ConfirmationObjectionBody,
  ConfirmationObjectionRulingBody,
  ConfirmationReviewExtensionBody,
  ConfirmationRulingBody,
  ConfirmationStatusSchema,
  ConfirmationView,
  ConfirmationWithdrawalBody,
  CreateConfirmationBody,
} from '../schemas/confirmations.js'
import type { AppDeps } from './app-deps.js'
import { callerOf, caseRoutes, decryptWith, pageDecrypt } from './case-routes.js'
import { errorResponses } from './common-schemas.js'
import { listPage } from './pagination.js'

/** The judicial confirmation routes (contract §3): schema, role, one service call, the view. */

type ConfirmationViewT = Static<typeof ConfirmationView>

const COURT = ['court'] as const
const MEDIATION = ['mediation'] as const
const READERS = ['court', 'mediation', 'operator'] as const
const TAGS = ['judicial-confirmations']

const confirmationsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const confirmations = confirmationService(deps)
  // `overdue` depends on the day the view is made.
  const render = (c: Confirmation, full: boolean) => confirmationView(c, full, decryptWith(deps.cipher), shanghaiDate(new Date()))
  const routes = caseRoutes<Confirmation>(app, deps, {
    base: '/v1/judicial-confirmations',
    tags: TAGS,
    view: ConfirmationView,
    render,
    get: confirmations.get,
    events: confirmations.events,
  })

  routes.create({
    roles: MEDIATION,
    summary: '申请司法确认 / Apply for judicial confirmation',
    description:
      '调解平台代全体当事人共同申请（民事诉讼法 205；人民调解法 33）。' +
      '关联委派（referralId）：案件须由调用方的组织承办（否则 404），委托（in_litigation）案件不适用司法确认（422 confirmation_not_applicable，特邀调解规定 20）；状态为 agreed 或以 agreement_filed 结案的 closed（否则 409 illegal_transition）；' +
      '协议取自案件，须携带 agreementSha256 且与案件协议一致（否则 422 agreement_mismatch；如同时附 agreement，其条款亦须一致）；须向委派法院申请（422 wrong_court）。' +
      '独立申请（无 referralId）：自带 agreement、parties 与 organizationId（组织须在调用方范围内，否则 422 organization_out_of_scope），' +
      '向基层法院申请：venue.basis 为 organization_seat（默认，法院辖区覆盖组织所在地）、party_domicile 或 subject_matter（法院辖区覆盖 venue.regionCode），否则 422 wrong_court；属于中级人民法院管辖的（venue.intermediate: true，205(2) 末句），向该地所在省份的中级人民法院（法院代字 + 2 位数字）申请，否则 422 wrong_court；如附 agreementSha256 须与条款一致。' +
      '全体当事人均须为申请人（422 joint_application_required）；协议生效后 30 日内申请，按民事诉讼法 85 计算（Asia/Shanghai 日期，末日遇休息日顺延），逾期须填写 lateReason（此时 late: true，由法院决定），否则 422 confirmation_deadline_passed；' +
      'subject 为 personal_status、property_title、ip_title 的不予受理（422 excluded_subject，民诉法解释 355）。appliedAt 不得晚于当前时间（422 timestamp_in_future）或早于协议生效（422 timestamp_before_agreement）。' +
      'materials[] 引用调用方可读的材料（否则 422 unknown_material）。同一委派案件已有待审或已裁定有效的申请时 409 duplicate_application。' +
      ' Mediation only, on the parties’ joint application. Referral-linked: the referral must be handled by the caller’s organization (404), never a 委托 (in_litigation) referral (422 confirmation_not_applicable), agreed or closed as agreement_filed (409), ' +
      'agreementSha256 must equal the recorded agreement’s (422 agreement_mismatch), the court must be the referring court (422 wrong_court). Standalone: own agreement, parties and organizationId ' +
      '(422 organization_out_of_scope when unknown or outside the caller’s scope), a basic court covering the venue region, or with venue.intermediate an intermediate court of the venue’s province (422 wrong_court). Every party applies (422 joint_application_required); ' +
      'within 30 days after the agreement took effect counted per art. 85, else 422 confirmation_deadline_passed unless lateReason is given (then late: true). ' +
      'Excluded subjects → 422 excluded_subject. materials[] must name materials the caller may read (422 unknown_material). A live application (pending or ruled valid) for the same referral → 409 duplicate_application. Answers 201 with the application.',
    body: CreateConfirmationBody,
    errors: [404, 409, 422],
    prepare: confirmations.apply,
  })

  routes.getOne(
    '查询司法确认申请 / Get a judicial confirmation application',
    '返回 ETag: "<version>"。个人信息仅对受理法院与承办组织完整显示；审查中且已过 reviewDueOn 时 overdue 为 true。' +
      ' ETag carries the version; personal data is full only for the court concerned and the handling organization; overdue is true while under review past reviewDueOn.',
  )

  app.get(
    '/v1/judicial-confirmations',
    {
      config: { roles: READERS },
      schema: {
        tags: TAGS,
        summary: '司法确认申请列表 / List judicial confirmation applications',
        description:
          '仅返回调用方可读的申请：法院为其法院代字，调解平台为其组织，运维为全部（脱敏）。overdue=true 为审查中且已过 reviewDueOn 的申请。' +
          ' Courts see their court codes, mediation clients their organizations, operators everything (masked). overdue=true: under review past reviewDueOn.' +
          ' caseNumber 为司法确认案号精确检索（半角括号按全角处理）。caseNumber: the exact 诉前调确/民特 案号 given at acceptance (half-width brackets read as full-width).',
        querystring: Type.Object(
          {
            status: Type.Optional(ConfirmationStatusSchema),
            courtCode: Type.Optional(Type.String({ 'x-check': 'courtCode' })),
            organizationId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
            referralId: Type.Optional(Type.String({ format: 'uuid' })),
            caseNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: '司法确认案号，精确匹配 / exact 案号' })),
            overdue: Type.Optional(Type.Boolean()),
            limit: Type.Optional(LimitQuery),
            cursor: Type.Optional(CursorQuery),
          },
          { additionalProperties: false },
        ),
        response: { 200: listOf(ConfirmationView), ...errorResponses() },
      },
    },
    async (req) => {
      const { limit, cursor, caseNumber, ...rest } = req.query
      const filters = {
        ...rest,
        caseNumber: caseNumber === undefined ? undefined : caseNumberSearchTerm(caseNumber, Number(shanghaiDate(new Date()).slice(0, 4))),
      }
      const { items, nextCursor } = await listPage(
        { limit, cursor },
        { id: 'uuid' },
        (after, take, shown) => confirmations.list(callerOf(req), { ...filters, afterId: after?.id, limit: take }, shown),
        (c) => ({ id: c.value.id }),
      )
      const decrypt = await pageDecrypt(
        deps,
        items.flatMap((c) => (c.full ? sealedFields(c.value.doc.parties) : [])),
      )
      const today = shanghaiDate(new Date())
      return { items: items.map((c) => confirmationView(c.value, c.full, decrypt, today) as ConfirmationViewT), nextCursor }
    },
  )

  routes.events('司法确认申请的事件历史 / The application’s events in sequence order')

  routes.action({
    path: 'acceptance',
    roles: COURT,
    summary: '受理或不予受理 / Accept or refuse the application',
    description:
      '受理：applied → under_review，须填写 诉前调确 或 民特 案号（法院代字须与申请一致，否则 400 invalid_case_number），审查期限 reviewDueOn = 立案日（acceptedOn，默认当日）后 30 日，末日遇休息日顺延（民事诉讼法 187、85）；' +
      '不予受理：applied → not_accepted，须说明理由（民诉法解释 355）。acceptedOn 不得晚于当日（422 date_in_future）或早于申请日（422 date_before_application）。' +
      ' Court only. accepted: a 诉前调确/民特 case number of this court, reviewDueOn = acceptance date + 30 days rolled per art. 85; not_accepted: a reason.',
    body: ConfirmationAcceptanceBody,
    run: (w, c, id, b) => (b.decision === 'accepted' ? confirmations.accept(w, c, id, b) : confirmations.refuse(w, c, id, b)),
  })

  routes.action({
    path: 'withdrawal',
    roles: MEDIATION,
    summary: '撤回申请 / Withdraw the application',
    description: 'applied 或 under_review → withdrawn（民诉法解释 357）；请求体可省略或附 reason。Mediation only; the body may be omitted.',
    body: ConfirmationWithdrawalBody,
    emptyBody: true,
    run: confirmations.withdraw,
  })

  routes.action({
    path: 'ruling',
    roles: COURT,
    summary: '裁定 / Rule on the application',
    description:
      'under_review → ruled_valid（裁定调解协议有效）或 ruled_rejected（裁定驳回申请），民事诉讼法 206；裁定载明所确认协议的 agreementSha256。ruledOn 不得晚于当日（422 date_in_future）或早于立案日（422 date_before_acceptance）。' +
      'servedOn（送达日，默认 ruledOn；不得晚于当日或早于 ruledOn，422 date_in_future / date_before_ruling）起算当事人异议期：objectionDueOn = servedOn + 15 日，末日遇休息日顺延（民诉法解释 372）。' +
      'documentMaterialId：裁定书，须为法院可读的已上传材料（否则 422 unknown_material），随即成为本申请的材料。' +
      ' Court only; the ruling shows the agreementSha256 of the agreement it rules on. servedOn (default ruledOn) sets objectionDueOn = servedOn + 15 days, rolled; ' +
      'documentMaterialId: the ruling document, a material the court may read (422 unknown_material), linked to the application.',
    body: ConfirmationRulingBody,
    run: confirmations.rule,
  })

  routes.action({
    path: 'review-extension',
    roles: COURT,
    summary: '延长审查期限 / Extend the review period',
    description:
      '民事诉讼法 187：经院长批准延长审查期限。under_review 或 materials_requested，状态不变；newDueOn 须晚于当前 reviewDueOn（否则 422 due_date_not_later），遇休息日顺延至下一工作日（应答显示顺延后的日期）。事件 confirmation.review_extended。' +
      ' Court only, from under_review or materials_requested, no change of state: newDueOn later than reviewDueOn (422 due_date_not_later), rolled forward if a rest day.',
    body: ConfirmationReviewExtensionBody,
    run: confirmations.extendReview,
  })

  routes.action({
    path: 'material-request',
    roles: COURT,
    summary: '责令补充材料 / Order missing materials',
    description:
      '民诉法解释 354：under_review → materials_requested，items 为须补充的材料，dueOn 须晚于当日（否则 422 date_not_in_future）。' +
      'dueOn 届满（Asia/Shanghai）仍未补充的，系统按撤回申请处理：materials_requested → deemed_withdrawn（民诉法解释 357，事件 confirmation.deemed_withdrawn，actor system）。' +
      ' Court only: under_review → materials_requested; dueOn a future date (422 date_not_in_future). Not supplied by the end of dueOn (Asia/Shanghai) → deemed_withdrawn by the system (357).',
    body: ConfirmationMaterialRequestBody,
    run: confirmations.requestMaterials,
  })

  routes.action({
    path: 'material-supplement',
    roles: MEDIATION,
    summary: '补充材料 / Supply the ordered materials',
    description:
      'materials_requested → under_review，至少一项材料（否则 400），须为调用方可读的已上传材料（否则 422 unknown_material），随即成为本申请的材料；' +
      'dueOn 届满后补充的，按撤回申请处理（422 supplement_deadline_passed，民诉法解释 357）。' +
      ' Mediation only: materials_requested → under_review with at least one material the caller may read (422 unknown_material); after the end of dueOn 422 supplement_deadline_passed.',
    body: ConfirmationMaterialSupplementBody,
    run: confirmations.supplementMaterials,
  })

  routes.action({
    path: 'objection',
    roles: COURT,
    summary: '登记对裁定的异议 / Record an objection to the ruling',
    description:
      '民诉法解释 372：ruled_valid / ruled_rejected → objection_filed。当事人（by: party，须填 partyIndex）于 objectionDueOn 内提出；利害关系人（by: interested_person，须填 knewOn）自知道或应当知道权益受侵害之日起 6 个月内提出' +
      '（到期月的对应日，无对应日的为月末日，遇休息日顺延），否则 422 objection_deadline_passed。filedOn 不得晚于当日（422 date_in_future）或早于裁定日（422 date_before_ruling）。' +
      ' Court only: a party (partyIndex) within objectionDueOn; an interested person within 6 months after knewOn (same day of the month, or the last day of a shorter month, rolled) → else 422 objection_deadline_passed.',
    body: ConfirmationObjectionBody,
    run: confirmations.fileObjection,
  })

  routes.action({
    path: 'objection-ruling',
    roles: COURT,
    summary: '对异议作出裁定 / Rule on the objection',
    description:
      'objection_filed → ruling_revoked（revoked，撤销原裁定）或回到原裁定状态 ruled_valid / ruled_rejected（dismissed，驳回异议）。ruledOn 不得晚于当日（422 date_in_future）或早于提出异议之日（422 date_before_objection）。' +
      ' Court only: revoked → ruling_revoked; dismissed → back to the ruled state the objection came from.',
    body: ConfirmationObjectionRulingBody,
    run: confirmations.ruleOnObjection,
  })
}

export default confirmationsPlugin
