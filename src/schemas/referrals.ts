import Type, { type Static } from 'typebox'
import { RECALL_REASONS, TERMINATION_REASONS } from '../domain/referral-machine.js'
import { LegalDate, LineText, MultilineText, Nullable, ReportedTimestamp, StringEnum, Timestamp } from './common.js'

/** Contract §2 / domain.md §7. Extensible: adding a code is a compatible change. */
export const DISPUTE_TYPES = [
  'marriage_family',
  'neighbor',
  'housing_homestead',
  'contract',
  'production_business',
  'damage_compensation',
  'land_forest',
  'land_acquisition',
  'environment',
  'labor',
  'consumer',
  'medical',
  'traffic',
  'property_management',
  'tourism',
  'finance',
  'insurance',
  'intellectual_property',
  'new_employment',
  'other',
] as const

export const ID_TYPES = ['resident_id', 'uscc', 'passport', 'hk_macao_permit', 'taiwan_permit', 'foreign_permanent_id'] as const

const Name = LineText(100, '姓名或名称（按 Unicode 码点计长，须含可见字符）/ name, code points, at least one visible')
const Phone = Type.String({
  pattern: '^\\+?[0-9][0-9 -]{5,19}$',
  description: '电话：可选 +，以数字开头，其后 5–19 个数字、空格或连字符 / phone: optional +, a digit, then 5–19 digits, spaces or hyphens',
})
const Text = MultilineText
const PartyIndex = Type.Integer({ minimum: 0, maximum: 99 })
export const Amount = Type.String({ pattern: '^(0|[1-9]\\d{0,15})(\\.\\d{1,2})?$', description: '金额（元），十进制字符串，至多两位小数 / CNY decimal string' })

const Agent = Type.Object(
  {
    name: Name,
    kind: Type.Optional(StringEnum(['lawyer', 'legal_worker', 'relative', 'employee', 'other'] as const)),
    idType: Type.Optional(StringEnum(ID_TYPES)),
    idNumber: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, 'x-check': 'idNumber', description: '须同时给出 idType，按其校验 / requires idType, checked by it' }),
    ),
    phone: Type.Optional(Phone),
    licenseNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: '执业证号 / licence number' })),
  },
  { additionalProperties: false, dependentRequired: { idNumber: ['idType'] } },
)

export const PartyInput = Type.Object(
  {
    role: StringEnum(['applicant', 'respondent', 'third_party'] as const),
    kind: StringEnum(['natural_person', 'legal_person', 'other_org'] as const),
    name: Name,
    idType: StringEnum(ID_TYPES),
    idNumber: Type.String({
      minLength: 1,
      maxLength: 40,
      'x-check': 'idNumber',
      description: '证件号码；居民身份证与统一社会信用代码校验校验位 / checksum-validated for resident_id and uscc',
    }),
    phone: Type.Optional(Phone),
    address: Type.Optional(LineText(300)),
    agents: Type.Optional(Type.Array(Agent, { maxItems: 2, description: '代理人至多 2 人（民诉法 61）/ at most 2 agents' })),
  },
  { additionalProperties: false },
)

export const ConsentInput = Type.Object(
  {
    partyIndex: PartyIndex,
    consentedAt: ReportedTimestamp,
    method: StringEnum(['written', 'oral', 'online'] as const),
  },
  { additionalProperties: false },
)

export const DesignationInput = Type.Object(
  {
    mode: StringEnum(['party_selected', 'court_designated'] as const),
    organizationId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  },
  { additionalProperties: false },
)

export const MaterialRef = Type.Object({ materialId: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false })

const EXAMPLE_REFERRAL = {
  referralType: 'pre_filing',
  courtCode: '京0105',
  caseNumber: '（2026）京0105民诉前调1024号',
  disputeType: 'neighbor',
  causeOfAction: '相邻关系纠纷',
  claimSummary: '请求被申请人停止漏水侵害并赔偿损失',
  claimAmount: '12000.00',
  parties: [
    { role: 'applicant', kind: 'natural_person', name: '张三', idType: 'resident_id', idNumber: '11010519491231002X', phone: '13800138000' },
    { role: 'respondent', kind: 'natural_person', name: '李四', idType: 'resident_id', idNumber: '440524196001010014' },
  ],
  consent: [
    { partyIndex: 0, consentedAt: '2026-11-27T09:00:00+08:00', method: 'written' },
    { partyIndex: 1, consentedAt: '2026-11-27T09:30:00+08:00', method: 'online' },
  ],
  designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' },
  materials: [],
}

export const CreateReferralBody = Type.Object(
  {
    referralType: StringEnum(['pre_filing', 'in_litigation'] as const, { description: 'pre_filing 诉前委派 / in_litigation 诉中委托' }),
    procedure: Type.Optional(StringEnum(['ordinary', 'summary'] as const, { description: '仅诉中委托：普通/简易程序 / in_litigation only' })),
    courtCode: Type.String({ 'x-check': 'courtCode', description: '法院代字，须为调用方所属 / one of the caller’s court codes' }),
    caseNumber: Type.String({ maxLength: 64, 'x-check': 'referralCaseNumber', description: '案号；诉前委派为 民诉前调，诉中委托为 民初；半角括号将存为全角' }),
    disputeType: StringEnum(DISPUTE_TYPES),
    causeOfAction: Type.Optional(LineText(200, '案由 / cause of action')),
    claimSummary: Text(4000, '诉求摘要 1–4000 字 / claim summary'),
    claimAmount: Type.Optional(Amount),
    parties: Type.Array(PartyInput, { minItems: 2, maxItems: 100 }),
    consent: Type.Array(ConsentInput, { maxItems: 100, description: '每位当事人一条同意记录（意见 三(二)）/ one per party' }),
    designation: DesignationInput,
    materials: Type.Optional(Type.Array(MaterialRef, { maxItems: 200 })),
  },
  { additionalProperties: false, examples: [EXAMPLE_REFERRAL] },
)

const Sig = Type.Object({ partyIndex: PartyIndex, signedAt: ReportedTimestamp }, { additionalProperties: false })

export const AcceptanceBody = Type.Object(
  {
    decision: StringEnum(['accepted', 'declined'] as const),
    mediator: Type.Optional(Type.Object({ name: Name, id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false })),
    acceptedAt: Type.Optional(ReportedTimestamp),
    reason: Type.Optional(Text(2000, '不予接受的理由 / reason for declining')),
  },
  { additionalProperties: false, examples: [{ decision: 'accepted', mediator: { name: '王调解', id: 'M-001' }, acceptedAt: '2026-11-30T10:00:00+08:00' }] },
)

export const RedesignationBody = Type.Object(
  { designation: DesignationInput },
  { additionalProperties: false, examples: [{ designation: { mode: 'party_selected', organizationId: 'bj-cy-centre' } }] },
)
export const RecallBody = Type.Object(
  {
    reason: StringEnum(RECALL_REASONS, {
      description:
        'party_withdrew_consent 当事人撤回同意 / party_insists_on_litigation 当事人坚持诉讼 / court_decision 法院决定 (意见 三(一)(三), 特邀调解规定 12, 21)',
    }),
    note: Type.Optional(Text(2000, '说明 / note')),
  },
  { additionalProperties: false, examples: [{ reason: 'party_insists_on_litigation', note: '申请人明确表示不同意调解，坚持起诉' }] },
)
export const AssignmentBody = Type.Object(
  { organizationId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) },
  { additionalProperties: false, examples: [{ organizationId: 'bj-cy-blz' }] },
)
export const SuspensionBody = Type.Object(
  { reason: StringEnum(['appraisal', 'suspected_false_mediation', 'other'] as const), note: Type.Optional(Text(2000)) },
  { additionalProperties: false, examples: [{ reason: 'appraisal', note: '委托房屋漏水原因鉴定' }] },
)
export const ResumptionBody = Type.Object({ note: Type.Optional(Text(2000)) }, { additionalProperties: false, examples: [{ note: '鉴定意见已出具' }] })
export const ExtensionBody = Type.Object(
  { newDueOn: Type.String({ 'x-check': 'date', description: 'YYYY-MM-DD' }), consent: Type.Array(ConsentInput, { minItems: 1, maxItems: 100 }) },
  {
    additionalProperties: false,
    examples: [
      {
        newDueOn: '2027-01-20',
        consent: [
          { partyIndex: 0, consentedAt: '2026-12-20T10:00:00+08:00', method: 'written' },
          { partyIndex: 1, consentedAt: '2026-12-20T10:05:00+08:00', method: 'written' },
        ],
      },
    ],
  },
)
export const AgreementBody = Type.Object(
  {
    agreementNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    form: StringEnum(['written', 'oral', 'electronic'] as const),
    terms: Text(20000, '协议条款 / terms'),
    amount: Type.Optional(Amount),
    signatures: Type.Array(Sig, {
      maxItems: 100,
      description:
        '当事人签名；书面与电子协议须全体当事人签署，口头协议可为空 / party signatures: every party for written and electronic, may be empty for oral',
    }),
    mediatorSignedAt: Type.Optional(ReportedTimestamp),
    sealedAt: Type.Optional(ReportedTimestamp),
    reachedAt: Type.Optional(ReportedTimestamp),
    documentMaterialId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: '已签署协议文件的材料标识，协议显示其 documentSha256 / the signed agreement file, a material' }),
    ),
    effectiveAt: Type.Optional(ReportedTimestamp),
    performance: Type.Object(
      { method: StringEnum(['immediate', 'installments', 'deferred'] as const), dueOn: Type.Optional(Type.String({ 'x-check': 'date' })) },
      { additionalProperties: false },
    ),
  },
  {
    additionalProperties: false,
    description:
      '书面、电子协议：全体当事人签署，且有调解员签名（mediatorSignedAt）和调解组织印章或电子印章（sealedAt），否则 422 signatures_incomplete；' +
      '自其中最晚者生效（人民调解法 29，在线调解规则 19）。口头协议：须 reachedAt，签名可为空，自达成时生效（人民调解法 30）。' +
      'effectiveAt 可省略（由服务计算）；给出而不一致 → 422 effective_at_mismatch。' +
      'Written/electronic: every party, the mediator and the seal; effective at the latest. Oral: effective at reachedAt. ' +
      'effectiveAt is computed; a different one given → 422 effective_at_mismatch.',
    examples: [
      {
        agreementNumber: '朝八调〔2026〕17号',
        form: 'written',
        terms: '李四于2026年12月31日前赔偿张三5000元。',
        amount: '5000.00',
        signatures: [
          { partyIndex: 0, signedAt: '2026-12-10T15:00:00+08:00' },
          { partyIndex: 1, signedAt: '2026-12-10T15:05:00+08:00' },
        ],
        mediatorSignedAt: '2026-12-10T15:10:00+08:00',
        sealedAt: '2026-12-10T15:20:00+08:00',
        effectiveAt: '2026-12-10T15:20:00+08:00',
        performance: { method: 'deferred', dueOn: '2026-12-31' },
      },
    ],
  },
)
export const TerminationBody = Type.Object(
  {
    reason: StringEnum(TERMINATION_REASONS),
    report: Text(20000, '调解终结报告 / termination report'),
    undisputedFacts: Type.Optional(
      Type.Array(Type.Object({ statement: Text(4000), confirmedBy: Type.Array(PartyIndex, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false }), {
        maxItems: 100,
        description: '无争议事实，须经全体当事人确认 / confirmed by every party',
      }),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        reason: 'gap_too_large',
        report: '双方对赔偿数额分歧过大，调解不成。',
        undisputedFacts: [{ statement: '漏水源自被申请人住宅卫生间', confirmedBy: [0, 1] }],
      },
    ],
  },
)
export const MaterialReturnBody = Type.Object(
  {
    materials: Type.Array(MaterialRef, { maxItems: 200 }),
    report: Text(20000, '书面终结报告（必填）/ written report, required'),
    returnedAt: ReportedTimestamp,
  },
  {
    additionalProperties: false,
    examples: [{ materials: [], report: '调解终结报告：双方分歧过大。纸质卷宗另行移送。', returnedAt: '2026-12-15T09:00:00+08:00' }],
  },
)
export const CourtFilingBody = Type.Object(
  {
    action: StringEnum(['case_registered', 'trial_resumed'] as const),
    caseNumber: Type.Optional(Type.String({ maxLength: 64, 'x-check': 'filingCaseNumber', description: 'case_registered：新的 民初 案号' })),
    filedOn: Type.Optional(Type.String({ 'x-check': 'date' })),
    resumedOn: Type.Optional(Type.String({ 'x-check': 'date' })),
  },
  {
    additionalProperties: false,
    examples: [
      { action: 'case_registered', caseNumber: '（2026）京0105民初23456号', filedOn: '2026-12-16' },
      { action: 'trial_resumed', resumedOn: '2026-12-16' },
    ],
  },
)
export const ClosureBody = Type.Object(
  {
    disposition: StringEnum(['agreement_filed', 'mediation_document_issued', 'suit_withdrawn'] as const),
    documentNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false, examples: [{ disposition: 'agreement_filed' }] },
)
export const PerformanceBody = Type.Object(
  {
    status: StringEnum(['performed', 'partially_performed', 'not_performed'] as const),
    reportedOn: Type.String({ 'x-check': 'date' }),
    note: Type.Optional(Text(2000)),
  },
  { additionalProperties: false, examples: [{ status: 'performed', reportedOn: '2027-01-05', note: '回访确认已全额履行' }] },
)

const PartyView = Type.Object(
  {
    role: Type.String(),
    kind: Type.String(),
    name: Type.String(),
    idType: Type.String(),
    idNumber: Type.String({ description: '非经办方脱敏：前 3 后 4 / masked for all but the referring court and handling organization' }),
    phone: Type.Optional(Type.String()),
    address: Type.Optional(Type.String()),
    agents: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  },
  { additionalProperties: false },
)

const AnyObject = Type.Object({}, { additionalProperties: true })

export const ReferralView = Type.Object(
  {
    id: Type.String({ description: 'UUIDv7' }),
    version: Type.Integer(),
    status: Type.String(),
    referralType: Type.String(),
    procedure: Type.Optional(Type.String()),
    courtCode: Type.String(),
    caseNumber: Type.String(),
    disputeType: Type.String(),
    causeOfAction: Type.Optional(Type.String()),
    claimSummary: Type.String(),
    claimAmount: Type.Optional(Type.String()),
    parties: Type.Array(PartyView),
    consent: Type.Array(AnyObject),
    designation: AnyObject,
    materials: Type.Array(AnyObject),
    organizationId: Type.String(),
    deadlines: Type.Object({ acceptanceDueOn: Nullable(LegalDate), mediationDueOn: Nullable(LegalDate), provisional: Type.Boolean() }),
    mediator: Nullable(AnyObject),
    acceptedAt: Nullable(Timestamp),
    decline: Nullable(AnyObject),
    recall: Nullable(AnyObject),
    suspension: Nullable(AnyObject),
    extensions: Type.Array(AnyObject),
    agreement: Nullable(AnyObject),
    termination: Nullable(AnyObject),
    materialReturn: Nullable(AnyObject),
    courtFiling: Nullable(AnyObject),
    closure: Nullable(AnyObject),
    performance: Nullable(AnyObject),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
)

/** The inputs of the referral service, as validated at the edge. */
export type CreateReferralInput = Static<typeof CreateReferralBody>
export type PartyInputT = Static<typeof PartyInput>
export type AcceptanceInput = Static<typeof AcceptanceBody>
export type RedesignationInput = Static<typeof RedesignationBody>
export type AssignmentInput = Static<typeof AssignmentBody>
export type RecallInput = Static<typeof RecallBody>
export type SuspensionInput = Static<typeof SuspensionBody>
export type ResumptionInput = Static<typeof ResumptionBody>
export type ExtensionInput = Static<typeof ExtensionBody>
export type AgreementInput = Static<typeof AgreementBody>
export type TerminationInput = Static<typeof TerminationBody>
export type MaterialReturnInput = Static<typeof MaterialReturnBody>
export type CourtFilingInput = Static<typeof CourtFilingBody>
export type ClosureInput = Static<typeof ClosureBody>
export type PerformanceInput = Static<typeof PerformanceBody>
