import Type, { type Static } from 'typebox'
import { CONFIRMATION_STATUSES, CONFIRMATION_SUBJECTS, VENUE_BASES } from '../domain/confirmation.js'
import { LegalDate, MultilineText, Nullable, ReportedTimestamp, StringEnum, Timestamp } from './common.js'
import { AgreementBody, MaterialRef, PartyInput } from './referrals.js'

const PartyIndex = Type.Integer({ minimum: 0, maximum: 99 })
const Text = MultilineText
const OrgId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: '调解组织标识 / organization id' })

export const ConfirmationStatusSchema = StringEnum(CONFIRMATION_STATUSES, {
  description:
    'applied 已申请 / under_review 审查中 / materials_requested 责令补充材料（民诉法解释 354）/ not_accepted 不予受理 / withdrawn 撤回 / ' +
    'deemed_withdrawn 按撤回申请处理（民诉法解释 357）/ ruled_valid 裁定有效 / ruled_rejected 驳回申请 / objection_filed 已提出异议（民诉法解释 372）/ ruling_revoked 裁定已撤销',
})

const EXAMPLE_LINKED = {
  referralId: '0192f3a4-5b6c-7d8e-9f01-23456789abcd',
  courtCode: '京0105',
  agreementSha256: '3b0c0e9f1f0d1a6c2b7f5e3c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a',
  applicants: [0, 1],
  appliedAt: '2026-12-01T10:00:00+08:00',
  materials: [],
}

const EXAMPLE_STANDALONE = {
  courtCode: '京0105',
  organizationId: 'bj-cy-blz',
  venue: { basis: 'organization_seat' },
  agreement: {
    form: 'written',
    terms: '李四于 2026 年 12 月 31 日前向张三支付赔偿款 8000 元，双方再无其他争议。',
    amount: '8000.00',
    signatures: [
      { partyIndex: 0, signedAt: '2026-11-30T15:00:00+08:00' },
      { partyIndex: 1, signedAt: '2026-11-30T15:10:00+08:00' },
    ],
    performance: { method: 'deferred', dueOn: '2026-12-31' },
  },
  parties: [
    { role: 'applicant', kind: 'natural_person', name: '张三', idType: 'resident_id', idNumber: '11010519491231002X', phone: '13800138000' },
    { role: 'respondent', kind: 'natural_person', name: '李四', idType: 'resident_id', idNumber: '440524196001010014' },
  ],
  applicants: [0, 1],
  appliedAt: '2026-12-01T10:00:00+08:00',
  subject: 'ordinary',
  materials: [],
}

export const CreateConfirmationBody = Type.Object(
  {
    referralId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: '委派案件标识；不填为自行调解的独立申请 / the referral; absent for a standalone application' }),
    ),
    courtCode: Type.String({ 'x-check': 'courtCode', description: '受理法院代字 / the court applied to' }),
    agreement: Type.Optional(AgreementBody),
    agreementSha256: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: '调解协议条款的 SHA-256（小写十六进制）；关联委派时必填 / SHA-256 of the terms, required for a referral-linked application',
      }),
    ),
    applicants: Type.Array(PartyIndex, { minItems: 1, maxItems: 100, description: '申请人（当事人序号），须为协议全体当事人 / every party of the agreement' }),
    appliedAt: ReportedTimestamp,
    materials: Type.Optional(Type.Array(MaterialRef, { maxItems: 200, description: '材料引用，可为空（民诉法解释 354 材料由法院责令补正）/ may be empty' })),
    subject: Type.Optional(StringEnum(CONFIRMATION_SUBJECTS, { description: '默认 ordinary；身份关系、物权或知识产权确权不予受理（民诉法解释 355）' })),
    lateReason: Type.Optional(Text(2000, '逾期申请的理由，由法院决定是否受理 / reason for applying late; the court decides')),
    parties: Type.Optional(Type.Array(PartyInput, { minItems: 2, maxItems: 100, description: '仅独立申请：当事人（同委派）/ standalone only' })),
    organizationId: Type.Optional(OrgId),
    venue: Type.Optional(
      Type.Object(
        {
          basis: StringEnum(VENUE_BASES, { description: '管辖依据（民事诉讼法 205(2)）/ jurisdiction basis' }),
          regionCode: Type.Optional(
            Type.String({ 'x-check': 'regionCode', description: 'party_domicile / subject_matter 时必填 / required unless organization_seat' }),
          ),
          intermediate: Type.Optional(
            Type.Boolean({
              description:
                '属于中级人民法院管辖的纠纷（民事诉讼法 205(2) 末句）：向该地所在省份的中级人民法院（法院代字 + 2 位数字）申请 / the dispute belongs to an intermediate court: an intermediate court of the same province',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, examples: [EXAMPLE_LINKED, EXAMPLE_STANDALONE] },
)

export const ConfirmationAcceptanceBody = Type.Object(
  {
    decision: StringEnum(['accepted', 'not_accepted'] as const),
    caseNumber: Type.Optional(
      Type.String({ maxLength: 64, 'x-check': 'confirmationCaseNumber', description: '受理时必填：诉前调确 或 民特 案号，法院代字须与申请一致' }),
    ),
    acceptedOn: Type.Optional(Type.String({ 'x-check': 'date', description: '立案日期，默认当日（Asia/Shanghai）/ date of 立案, default today' })),
    reason: Type.Optional(Text(2000, '不予受理的理由（必填）/ reason, required when not accepted')),
  },
  {
    additionalProperties: false,
    examples: [
      { decision: 'accepted', caseNumber: '（2026）京0105诉前调确88号' },
      { decision: 'not_accepted', reason: '涉及物权确权，不属于司法确认范围' },
    ],
  },
)

export const ConfirmationWithdrawalBody = Type.Object(
  { reason: Type.Optional(Text(2000, '撤回理由 / reason')) },
  { additionalProperties: false, examples: [{ reason: '当事人已自动履行完毕' }] },
)

export const ConfirmationRulingBody = Type.Object(
  {
    result: StringEnum(['valid', 'rejected'] as const, { description: 'valid 裁定调解协议有效 / rejected 裁定驳回申请（民事诉讼法 206）' }),
    rulingNumber: Type.String({ minLength: 1, maxLength: 64, description: '裁定书文号 / ruling number' }),
    ruledOn: Type.String({ 'x-check': 'date', description: '裁定日期 / date of the ruling' }),
    reason: Type.Optional(Text(4000, '驳回理由（民诉法解释 358）/ grounds')),
    servedOn: Type.Optional(
      Type.String({
        'x-check': 'date',
        description: '裁定送达当事人之日，默认 ruledOn；objectionDueOn = servedOn + 15 日，末日遇休息日顺延（民诉法解释 372）/ date served, default ruledOn',
      }),
    ),
    documentMaterialId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: '裁定书（已上传的材料）/ the ruling document, an uploaded material' }),
    ),
  },
  { additionalProperties: false, examples: [{ result: 'valid', rulingNumber: '（2026）京0105诉前调确88号', ruledOn: '2026-12-10' }] },
)

export const ConfirmationReviewExtensionBody = Type.Object(
  {
    newDueOn: Type.String({
      'x-check': 'date',
      description: '新的审查期限，须晚于 reviewDueOn；遇休息日顺延 / later than reviewDueOn; rolled forward if a rest day',
    }),
    reason: Text(2000, '延长理由（经院长批准，民事诉讼法 187）/ reason (approved by the court president)'),
  },
  { additionalProperties: false, examples: [{ newDueOn: '2026-12-31', reason: '案情复杂，经院长批准延长' }] },
)

export const ConfirmationMaterialRequestBody = Type.Object(
  {
    items: Type.Array(Text(500, '须补充的材料 / a material to supply'), {
      minItems: 1,
      maxItems: 50,
      description: '须补充的材料（民诉法解释 354）/ the materials to supply',
    }),
    dueOn: Type.String({
      'x-check': 'date',
      description: '补充期限，须晚于当日；届满（Asia/Shanghai）未补充的按撤回申请处理（民诉法解释 357）/ a future date',
    }),
  },
  { additionalProperties: false, examples: [{ items: ['调解组织主持调解的证明', '申请人身份证明'], dueOn: '2026-12-20' }] },
)

export const ConfirmationMaterialSupplementBody = Type.Object(
  {
    materials: Type.Array(MaterialRef, { minItems: 1, maxItems: 200, description: '补充的材料，至少一项 / at least one material' }),
    note: Type.Optional(Text(2000, '说明 / note')),
  },
  { additionalProperties: false, examples: [{ materials: [{ materialId: '0192f3a4-5b6c-7d8e-9f01-23456789abcd' }], note: '已补充主持调解证明' }] },
)

export const ConfirmationObjectionBody = Type.Object(
  {
    by: StringEnum(['party', 'interested_person'] as const, { description: 'party 当事人 / interested_person 利害关系人（民诉法解释 372）' }),
    partyIndex: Type.Optional(Type.Integer({ minimum: 0, maximum: 99, description: '当事人提出时必填 / required when a party objects' })),
    filedOn: Type.String({ 'x-check': 'date', description: '提出异议之日 / date the objection was filed' }),
    knewOn: Type.Optional(
      Type.String({ 'x-check': 'date', description: '利害关系人知道或应当知道其权益受侵害之日（利害关系人必填）/ required for an interested person' }),
    ),
    grounds: Text(4000, '异议理由 / grounds'),
  },
  { additionalProperties: false, examples: [{ by: 'party', partyIndex: 1, filedOn: '2026-12-15', grounds: '调解协议内容违反法律强制性规定' }] },
)

export const ConfirmationObjectionRulingBody = Type.Object(
  {
    result: StringEnum(['revoked', 'dismissed'] as const, { description: 'revoked 撤销原裁定 / dismissed 驳回异议' }),
    ruledOn: Type.String({ 'x-check': 'date', description: '裁定日期 / date of the ruling on the objection' }),
    rulingNumber: Type.String({ minLength: 1, maxLength: 64, description: '裁定书文号 / ruling number' }),
  },
  { additionalProperties: false, examples: [{ result: 'dismissed', ruledOn: '2026-12-25', rulingNumber: '（2026）京0105民特监1号' }] },
)

const PartyView = Type.Object(
  {
    role: Type.String(),
    kind: Type.String(),
    name: Type.String(),
    idType: Type.String(),
    idNumber: Type.String({ description: '非经办方脱敏：前 3 后 4 / masked for all but the court concerned and the handling organization' }),
    phone: Type.Optional(Type.String()),
    address: Type.Optional(Type.String()),
    agents: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  },
  { additionalProperties: false },
)

const AnyObject = Type.Object({}, { additionalProperties: true })

export const ConfirmationView = Type.Object(
  {
    id: Type.String({ description: 'UUIDv7' }),
    version: Type.Integer(),
    status: ConfirmationStatusSchema,
    late: Type.Boolean({ description: '逾期申请（附理由），由法院决定 / applied after the deadline with a reason' }),
    lateReason: Nullable(Type.String()),
    applicationDueOn: LegalDate,
    reviewDueOn: Nullable(LegalDate),
    reviewTargetOn: Nullable(LegalDate),
    reviewExtensions: Type.Array(AnyObject, { description: '审查期限的延长（民事诉讼法 187）/ extensions of the review period' }),
    overdue: Type.Boolean({ description: '审查中且已过 reviewDueOn / under review past reviewDueOn' }),
    requestedMaterials: Nullable(
      Type.Object({ items: Type.Array(Type.String()), dueOn: LegalDate }, { additionalProperties: false, description: '待补充的材料（民诉法解释 354）' }),
    ),
    materialRequests: Type.Array(AnyObject, { description: '历次责令补充材料及补充情况 / every order to supply materials and what was supplied' }),
    deemedWithdrawal: Nullable(AnyObject),
    objectionDueOn: Nullable(LegalDate),
    objections: Type.Array(AnyObject, { description: '对裁定提出的异议及其处理（民诉法解释 372）/ objections and the rulings on them' }),
    provisional: Type.Boolean({ description: '期限所依据的年度放假安排尚未公布 / a date depends on an unpublished year' }),
    referralId: Nullable(Type.String()),
    courtCode: Type.String(),
    organizationId: Type.String(),
    subject: Type.String(),
    applicants: Type.Array(Type.Integer()),
    appliedAt: Timestamp,
    agreement: AnyObject,
    agreementSha256: Type.String({ description: '调解协议条款的 SHA-256 / SHA-256 of the agreement terms' }),
    parties: Type.Array(PartyView),
    materials: Type.Array(AnyObject),
    venue: Nullable(AnyObject),
    caseNumber: Nullable(Type.String()),
    acceptance: Nullable(AnyObject),
    notAccepted: Nullable(AnyObject),
    withdrawal: Nullable(AnyObject),
    ruling: Nullable(AnyObject),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
)

/** The inputs of the confirmation service, as validated at the edge. */
export type CreateConfirmationInput = Static<typeof CreateConfirmationBody>
export type ConfirmationAcceptanceInput = Static<typeof ConfirmationAcceptanceBody>
export type ConfirmationWithdrawalInput = Static<typeof ConfirmationWithdrawalBody>
export type ConfirmationRulingInput = Static<typeof ConfirmationRulingBody>
export type ConfirmationReviewExtensionInput = Static<typeof ConfirmationReviewExtensionBody>
export type ConfirmationMaterialRequestInput = Static<typeof ConfirmationMaterialRequestBody>
export type ConfirmationMaterialSupplementInput = Static<typeof ConfirmationMaterialSupplementBody>
export type ConfirmationObjectionInput = Static<typeof ConfirmationObjectionBody>
export type ConfirmationObjectionRulingInput = Static<typeof ConfirmationObjectionRulingBody>
