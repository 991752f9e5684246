import t from 'tap'
import { createHash } from 'node:crypto'
import { addCalendarDays, confirmationDeadline, reviewDueOn, shanghaiDate } from '../../src/domain/calendar.js'
import type { Confirmation } from '../../src/domain/confirmation.js'
import {
  acceptApplication,
  checkApplicationShape,
  deemedWithdrawal,
  extendReview,
  fileObjection,
  monthsLater,
  requestMaterials,
  ruleOnObjection,
  supplementMaterials,
  checkApplicationTiming,
  checkReferralApplication,
  checkStandaloneApplication,
  raise,
  refuseApplication,
  ruleOnApplication,
  withdrawApplication,
} from '../../src/domain/confirmation-actions.js'
import type { Agreement, Referral, ReferralDoc, StoredParty } from '../../src/domain/referral.js'
import type {
  ConfirmationAcceptanceInput,
  ConfirmationMaterialRequestInput,
  ConfirmationMaterialSupplementInput,
  ConfirmationObjectionInput,
  ConfirmationObjectionRulingInput,
  ConfirmationReviewExtensionInput,
  ConfirmationRulingInput,
  ConfirmationWithdrawalInput,
  CreateConfirmationInput,
} from '../../src/schemas/confirmations.js'

import { deepFreeze, illegal, invalid, type Row, rule, shippedCalendar, verify } from '../helpers/tables.js'

/**
 * Table tests of the pure judicial-confirmation rules (src/domain/confirmation-actions.ts): one table per function,
 * each row an input and either fields of the result or the exact refusal. Dates come from the shipped calendar.
 */

const cal = shippedCalendar()
const iso = (s: string) => new Date(s).toISOString()
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')

// ---------------------------------------------------------------------------------------------
// Fixtures

const sealed = (masked: string) => ({ enc: `v1:test:${masked}`, masked })
const PARTIES: StoredParty[] = [
  { role: 'applicant', kind: 'natural_person', name: '张三', idType: 'resident_id', idNumber: sealed('110***********002X') },
  { role: 'respondent', kind: 'natural_person', name: '李四', idType: 'resident_id', idNumber: sealed('440***********0014') },
  { role: 'third_party', kind: 'legal_person', name: '某物业服务有限公司', idType: 'uscc', idNumber: sealed('911***********C34Q') },
]
const TERMS = '李四于2026年9月30日前向张三支付赔偿款8000元，某物业服务有限公司负责维修漏水管道，三方再无其他争议。'
const SHA = sha256(TERMS)
/** Recorded on the referral; effective at the last signature, Tue 2026-09-01 10:00 Shanghai. */
const AGREEMENT: Agreement = {
  agreementNumber: '朝八调〔2026〕17号',
  form: 'written',
  terms: TERMS,
  amount: '8000.00',
  signatures: [
    { partyIndex: 0, signedAt: '2026-09-01T09:00:00+08:00' },
    { partyIndex: 1, signedAt: '2026-09-01T09:30:00+08:00' },
    { partyIndex: 2, signedAt: '2026-09-01T10:00:00+08:00' },
  ],
  effectiveAt: iso('2026-09-01T10:00:00+08:00'),
  performance: { method: 'deferred', dueOn: '2026-09-30' },
  sha256: SHA,
  recordedAt: iso('2026-09-01T11:00:00+08:00'),
}
const CREATED = new Date('2026-08-10T09:00:00+08:00')
const AGREED: Referral = deepFreeze({
  id: '0192f3a4-5b6c-7d8e-9f01-23456789abcd',
  version: 5,
  status: 'agreed',
  referralType: 'pre_filing',
  courtCode: '京0105',
  caseNumber: '（2026）京0105民诉前调1024号',
  disputeType: 'neighbor',
  organizationId: 'bj-cy-blz',
  heldBy: ['bj-cy-blz'],
  chainHead: 'head',
  doc: {
    claimSummary: '请求被申请人停止漏水侵害并赔偿损失',
    parties: PARTIES,
    consent: [0, 1, 2].map((partyIndex) => ({ partyIndex, consentedAt: '2026-08-09T09:00:00+08:00', method: 'written' as const })),
    designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' },
    materials: [],
    deadlines: { acceptanceDueOn: '2026-08-13', mediationDueOn: '2026-09-10', provisional: false },
    mediator: { name: '王调解' },
    acceptedAt: iso('2026-08-11T10:00:00+08:00'),
    agreement: AGREEMENT,
  },
  createdAt: CREATED,
  updatedAt: CREATED,
})

function variant(base: Referral, patch: Partial<Referral>, doc: Partial<ReferralDoc> = {}): Referral {
  return deepFreeze({ ...base, ...patch, doc: { ...base.doc, ...doc } })
}

const LINKED: CreateConfirmationInput = deepFreeze({
  referralId: AGREED.id,
  courtCode: '京0105',
  agreementSha256: SHA,
  applicants: [0, 1, 2],
  appliedAt: '2026-09-15T10:00:00+08:00',
  materials: [],
})

const applicant = { role: 'applicant' as const, kind: 'natural_person' as const, name: '张三', idType: 'resident_id' as const, idNumber: '11010519491231002X' }
const respondent = {
  role: 'respondent' as const,
  kind: 'natural_person' as const,
  name: '李四',
  idType: 'resident_id' as const,
  idNumber: '440524188001010014',
}
const STANDALONE_TERMS = '李四于2026年9月30日前向张三支付赔偿款8000元，双方再无其他争议。'
const STANDALONE_SIGNATURES = [
  { partyIndex: 1, signedAt: '2026-09-01T10:00:00+08:00' },
  { partyIndex: 0, signedAt: '2026-09-01T09:00:00+08:00' },
]
const STANDALONE: CreateConfirmationInput = deepFreeze({
  courtCode: '京0105',
  organizationId: 'bj-cy-blz',
  venue: { basis: 'organization_seat' },
  agreement: {
    form: 'written',
    terms: STANDALONE_TERMS,
    amount: '8000.00',
    signatures: STANDALONE_SIGNATURES,
    mediatorSignedAt: '2026-09-01T09:30:00+08:00',
    sealedAt: '2026-09-01T09:40:00+08:00',
    performance: { method: 'deferred', dueOn: '2026-09-30' },
  },
  parties: [applicant, respondent],
  applicants: [0, 1],
  appliedAt: '2026-09-15T10:00:00+08:00',
  subject: 'ordinary',
  materials: [],
})
const standaloneAgreement = (patch: Partial<NonNullable<CreateConfirmationInput['agreement']>>): CreateConfirmationInput => ({
  ...STANDALONE,
  agreement: { ...(STANDALONE.agreement as NonNullable<CreateConfirmationInput['agreement']>), ...patch },
})

/** An application to 京0105 made at 00:30 on 2026-08-28 Shanghai time (still 08-27 in UTC). */
const APPLIED: Confirmation = deepFreeze({
  id: '0192f3a4-5b6c-7d8e-9f01-0000000000c1',
  version: 1,
  status: 'applied',
  referralId: AGREED.id,
  courtCode: '京0105',
  organizationId: 'bj-cy-blz',
  subject: 'ordinary',
  late: false,
  caseNumber: null,
  reviewDueOn: null,
  agreementSha256: SHA,
  chainHead: 'head',
  doc: {
    applicants: [0, 1, 2],
    appliedAt: '2026-08-27T16:30:00.000Z',
    applicationDueOn: '2026-10-08',
    provisional: false,
    agreement: AGREEMENT,
    parties: PARTIES,
    materials: [],
  },
  createdAt: new Date('2026-08-27T16:30:00.000Z'),
  updatedAt: new Date('2026-08-27T16:30:00.000Z'),
})
const UNDER_REVIEW: Confirmation = deepFreeze({
  ...APPLIED,
  status: 'under_review',
  caseNumber: '（2026）京0105诉前调确88号',
  reviewDueOn: '2026-10-08',
  doc: { ...APPLIED.doc, acceptance: { caseNumber: '（2026）京0105诉前调确88号', acceptedOn: '2026-09-02', acceptedAt: iso('2026-09-02T10:00:00+08:00') } },
})
const atDay = (now: string) => ({ now: new Date(now), today: shanghaiDate(new Date(now)), cal })

// ---------------------------------------------------------------------------------------------
// Intake

t.test('raise', async (t) => {
  const rows: Array<Row & { problem: Parameters<typeof raise>[0] }> = [
    { name: 'no problem', problem: null, err: null },
    { name: 'a rule problem is 422 with its code', problem: { code: 'excluded_subject', detail: '涉及身份关系' }, err: rule('excluded_subject') },
    {
      name: 'a conflict is 409 with its code',
      problem: { code: 'duplicate_application', detail: '已有申请', status: 409 },
      err: { status: 409, code: 'duplicate_application' },
    },
  ]
  for (const row of rows) verify(t, row, () => raise(row.problem))
})

t.test('checkApplicationShape', async (t) => {
  const { organizationId: _o, ...noOrganization } = STANDALONE
  const { parties: _p, ...noParties } = STANDALONE
  const { agreement: _a, ...noAgreement } = STANDALONE
  void [_o, _p, _a]
  const rows: Array<Row & { b: CreateConfirmationInput }> = [
    { name: 'linked: the referral supplies everything else', b: LINKED, err: null },
    {
      name: 'linked, with the agreement repeated',
      b: { ...LINKED, agreement: { form: 'written', terms: TERMS, signatures: AGREEMENT.signatures, performance: AGREEMENT.performance } },
      err: null,
    },
    { name: 'linked, with parties', b: { ...LINKED, parties: [applicant, respondent] }, err: invalid('/parties not_allowed') },
    { name: 'linked, with an organization', b: { ...LINKED, organizationId: 'bj-cy-blz' }, err: invalid('/organizationId not_allowed') },
    { name: 'linked, with a venue', b: { ...LINKED, venue: { basis: 'organization_seat' } }, err: invalid('/venue not_allowed') },
    {
      name: 'linked, with all three',
      b: { ...LINKED, parties: [applicant, respondent], organizationId: 'bj-cy-blz', venue: { basis: 'party_domicile', regionCode: '110105' } },
      err: invalid('/parties not_allowed', '/organizationId not_allowed', '/venue not_allowed'),
    },
    {
      name: 'linked, an oral agreement without reachedAt',
      b: { ...LINKED, agreement: { form: 'oral', terms: TERMS, signatures: AGREEMENT.signatures, performance: AGREEMENT.performance } },
      err: invalid('/agreement/reachedAt required'),
    },
    { name: 'standalone', b: STANDALONE, err: null },
    { name: 'standalone, no venue (organization seat by default)', b: { ...STANDALONE, venue: undefined }, err: null },
    { name: 'standalone, party domicile with a region', b: { ...STANDALONE, venue: { basis: 'party_domicile', regionCode: '110108' } }, err: null },
    { name: 'standalone, no agreement', b: noAgreement, err: invalid('/agreement required') },
    { name: 'standalone, no parties', b: noParties, err: invalid('/parties required') },
    { name: 'standalone, no organization', b: noOrganization, err: invalid('/organizationId required') },
    {
      name: 'standalone, nothing of its own',
      b: { ...LINKED, referralId: undefined },
      err: invalid('/agreement required', '/parties required', '/organizationId required'),
    },
    {
      name: 'organization seat with a region',
      b: { ...STANDALONE, venue: { basis: 'organization_seat', regionCode: '110105' } },
      err: invalid('/venue/regionCode not_allowed'),
    },
    { name: 'party domicile without a region', b: { ...STANDALONE, venue: { basis: 'party_domicile' } }, err: invalid('/venue/regionCode required') },
    { name: 'subject matter without a region', b: { ...STANDALONE, venue: { basis: 'subject_matter' } }, err: invalid('/venue/regionCode required') },
    { name: 'no applicant among the parties', b: { ...STANDALONE, parties: [respondent, respondent] }, err: invalid('/parties applicant_required') },
    { name: 'no respondent among the parties', b: { ...STANDALONE, parties: [applicant, applicant] }, err: invalid('/parties respondent_required') },
    { name: 'an applicant who is not a party', b: { ...STANDALONE, applicants: [0, 1, 2] }, err: invalid('/applicants/2 invalid_party_index') },
    {
      name: 'a signature of someone who is not a party',
      b: standaloneAgreement({ signatures: [...STANDALONE_SIGNATURES, { partyIndex: 4, signedAt: '2026-09-01T10:00:00+08:00' }] }),
      err: invalid('/agreement/signatures/2/partyIndex invalid_party_index'),
    },
    { name: 'standalone, an oral agreement without reachedAt', b: standaloneAgreement({ form: 'oral' }), err: invalid('/agreement/reachedAt required') },
    {
      name: 'standalone, every error in order',
      b: {
        ...standaloneAgreement({ form: 'oral' }),
        organizationId: undefined,
        venue: { basis: 'subject_matter' },
        parties: [applicant, applicant],
        applicants: [0, 3],
      },
      err: invalid(
        '/organizationId required',
        '/venue/regionCode required',
        '/parties respondent_required',
        '/applicants/1 invalid_party_index',
        '/agreement/reachedAt required',
      ),
    },
  ]
  for (const row of rows) verify(t, row, () => checkApplicationShape(row.b, 'mediation'))
  // Only the mediation side applies (the transition table), before any shape check.
  for (const role of ['court', 'operator'] as const) {
    verify(t, { name: `a ${role} may not apply`, err: { status: 403, code: 'forbidden' } }, () => checkApplicationShape(rows[0].b, role))
  }
})

t.test('checkReferralApplication', async (t) => {
  const closed = (disposition: string, patch: Partial<Referral> = {}) =>
    variant(AGREED, { status: 'closed', ...patch }, { closure: { disposition, closedAt: iso('2026-09-05T10:00:00+08:00') } })
  const inLitigation = { referralType: 'in_litigation' as const, caseNumber: '（2026）京0105民初88号' }
  const agreementOf = (terms: string) => ({ form: 'written' as const, terms, signatures: AGREEMENT.signatures, performance: AGREEMENT.performance })
  const its = { sha256: SHA, effectiveAt: '2026-09-01T02:00:00.000Z', terms: TERMS }
  const rows: Array<Row & { r?: Referral; b?: CreateConfirmationInput }> = [
    { name: 'agreed: the referral’s agreement', want: its },
    { name: 'the hash in upper case', b: { ...LINKED, agreementSha256: SHA.toUpperCase() }, want: its },
    { name: 'the agreement repeated with the same terms', b: { ...LINKED, agreement: agreementOf(TERMS) }, want: its },
    { name: 'subject given as ordinary', b: { ...LINKED, subject: 'ordinary' }, want: its },
    { name: 'closed after 备案 (agreement_filed)', r: closed('agreement_filed'), want: its },
    { name: '委托, closed with a 调解书', r: closed('mediation_document_issued', inLitigation), err: rule('confirmation_not_applicable') },
    { name: '委托, closed by withdrawal', r: closed('suit_withdrawn', inLitigation), err: rule('confirmation_not_applicable') },
    { name: '委托, agreed', r: variant(AGREED, inLitigation), err: rule('confirmation_not_applicable') },
    { name: '委托, still mediating', r: variant(AGREED, { ...inLitigation, status: 'mediating' }), err: rule('confirmation_not_applicable') },
    {
      name: '委托 is checked before the hash',
      r: variant(AGREED, inLitigation),
      b: { ...LINKED, agreementSha256: '00' },
      err: rule('confirmation_not_applicable'),
    },
    { name: '委派 closed by withdrawal', r: closed('suit_withdrawn'), err: illegal('closed') },
    { name: 'still mediating', r: variant(AGREED, { status: 'mediating' }, { agreement: undefined }), err: illegal('mediating') },
    { name: 'terminated', r: variant(AGREED, { status: 'terminated' }, { agreement: undefined }), err: illegal('terminated') },
    { name: 'agreed but no agreement on file', r: variant(AGREED, {}, { agreement: undefined }), err: illegal('agreed') },
    {
      name: 'the state is checked before the hash',
      r: variant(AGREED, { status: 'mediating' }),
      b: { ...LINKED, agreementSha256: '00' },
      err: illegal('mediating'),
    },
    { name: 'no hash', b: { ...LINKED, agreementSha256: undefined }, err: rule('agreement_mismatch') },
    { name: 'a different hash', b: { ...LINKED, agreementSha256: sha256(`${TERMS} `) }, err: rule('agreement_mismatch') },
    { name: 'the right hash but different terms attached', b: { ...LINKED, agreement: agreementOf(`${TERMS}另补偿500元。`) }, err: rule('agreement_mismatch') },
    { name: 'not the referring court', b: { ...LINKED, courtCode: '京0106' }, err: rule('wrong_court') },
    { name: 'status relationships', b: { ...LINKED, subject: 'personal_status' }, err: rule('excluded_subject') },
    { name: 'title to property', b: { ...LINKED, subject: 'property_title' }, err: rule('excluded_subject') },
    { name: 'title to IP', b: { ...LINKED, subject: 'ip_title' }, err: rule('excluded_subject') },
    { name: 'the court is checked before the subject', b: { ...LINKED, courtCode: '京0106', subject: 'ip_title' }, err: rule('wrong_court') },
    { name: 'an applicant who is not a party', b: { ...LINKED, applicants: [0, 1, 5] }, err: invalid('/applicants/2 invalid_party_index') },
    { name: 'the third party does not apply', b: { ...LINKED, applicants: [0, 1] }, err: rule('joint_application_required') },
    { name: 'one party listed twice is not everyone', b: { ...LINKED, applicants: [0, 0, 1] }, err: rule('joint_application_required') },
  ]
  for (const row of rows) verify(t, row, () => checkReferralApplication(row.r ?? AGREED, row.b ?? LINKED))
})

t.test('checkStandaloneApplication', async (t) => {
  const NOW = new Date('2026-09-15T12:00:00+08:00')
  const agreement = {
    form: 'written',
    terms: STANDALONE_TERMS,
    amount: '8000.00',
    signatures: STANDALONE_SIGNATURES,
    mediatorSignedAt: '2026-09-01T09:30:00+08:00',
    sealedAt: '2026-09-01T09:40:00+08:00',
    effectiveAt: '2026-09-01T02:00:00.000Z',
    performance: { method: 'deferred', dueOn: '2026-09-30' },
    sha256: sha256(STANDALONE_TERMS),
    recordedAt: '2026-09-15T04:00:00.000Z',
  }
  const DOC = { materialId: '0192f3a4-5b6c-7d8e-9f01-000000000001', sha256: sha256('signed agreement file') }
  const rows: Array<Row & { b: CreateConfirmationInput; region?: string; document?: typeof DOC }> = [
    { name: 'at the seat of the organization: effective at the last signature', b: STANDALONE, want: { agreement, venue: { basis: 'organization_seat' } } },
    { name: 'no venue: the seat by default', b: { ...STANDALONE, venue: undefined }, want: { venue: { basis: 'organization_seat' } } },
    {
      name: 'the hash given, in upper case',
      b: { ...STANDALONE, agreementSha256: sha256(STANDALONE_TERMS).toUpperCase() },
      want: { 'agreement.sha256': sha256(STANDALONE_TERMS) },
    },
    {
      name: 'an agreement number is kept',
      b: standaloneAgreement({ agreementNumber: '朝八调〔2026〕18号' }),
      want: { 'agreement.agreementNumber': '朝八调〔2026〕18号' },
    },
    {
      name: 'oral: effective when reached',
      b: standaloneAgreement({ form: 'oral', reachedAt: '2026-08-31T20:00:00+08:00', effectiveAt: '2026-08-31T20:00:00+08:00' }),
      want: { 'agreement.effectiveAt': '2026-08-31T12:00:00.000Z', 'agreement.form': 'oral', 'agreement.reachedAt': '2026-08-31T20:00:00+08:00' },
    },
    {
      name: 'the seal last: effective when sealed',
      b: standaloneAgreement({ sealedAt: '2026-09-01T11:00:00+08:00' }),
      want: { 'agreement.effectiveAt': '2026-09-01T03:00:00.000Z' },
    },
    {
      name: 'oral without reachedAt (effectiveAt alone is not enough)',
      b: standaloneAgreement({ form: 'oral', effectiveAt: '2026-08-31T20:00:00+08:00' }),
      err: invalid('/agreement/reachedAt required'),
    },
    {
      name: 'written without the mediator’s signature',
      b: standaloneAgreement({ mediatorSignedAt: undefined }),
      err: rule('signatures_incomplete', { missing: ['mediatorSignedAt'] }),
    },
    { name: 'written without the seal', b: standaloneAgreement({ sealedAt: undefined }), err: rule('signatures_incomplete', { missing: ['sealedAt'] }) },
    {
      name: 'an effectiveAt that is not the latest signature or seal',
      b: standaloneAgreement({ effectiveAt: '2026-09-01T10:00:00+08:00', sealedAt: '2026-09-01T11:00:00+08:00' }),
      err: rule('effective_at_mismatch', { effectiveAt: '2026-09-01T03:00:00.000Z' }),
    },
    {
      name: 'a signed document the service looked up is bound by its sha256 (在线调解规则 19)',
      b: standaloneAgreement({ documentMaterialId: DOC.materialId }),
      document: DOC,
      want: { 'agreement.documentMaterialId': DOC.materialId, 'agreement.documentSha256': DOC.sha256 },
    },
    {
      name: 'a party’s domicile the court covers',
      b: { ...STANDALONE, courtCode: '京0108', venue: { basis: 'party_domicile', regionCode: '110108' } },
      want: { venue: { basis: 'party_domicile', regionCode: '110108' } },
    },
    { name: 'a different hash', b: { ...STANDALONE, agreementSha256: SHA }, err: rule('agreement_mismatch') },
    { name: 'the hash is checked before the court', b: { ...STANDALONE, courtCode: '京01', agreementSha256: SHA }, err: rule('agreement_mismatch') },
    { name: 'an intermediate court', b: { ...STANDALONE, courtCode: '京01' }, err: rule('wrong_court') },
    { name: 'a high court', b: { ...STANDALONE, courtCode: '京' }, err: rule('wrong_court') },
    { name: 'a basic court not at the seat', b: { ...STANDALONE, courtCode: '京0108' }, err: rule('wrong_court') },
    { name: 'the organization sits elsewhere', b: STANDALONE, region: '110108', err: rule('wrong_court') },
    {
      name: 'subject matter elsewhere than the court',
      b: { ...STANDALONE, venue: { basis: 'subject_matter', regionCode: '110108' } },
      err: rule('wrong_court'),
    },
    { name: 'title to IP', b: { ...STANDALONE, subject: 'ip_title' }, err: rule('excluded_subject') },
    {
      name: 'one party did not sign',
      b: standaloneAgreement({ signatures: [STANDALONE_SIGNATURES[1]] }),
      err: rule('signatures_incomplete', { missing: ['signatures'] }),
    },
    {
      name: 'a signature 6 minutes ahead of the clock',
      b: standaloneAgreement({ signatures: [STANDALONE_SIGNATURES[0], { partyIndex: 0, signedAt: '2026-09-15T12:06:00+08:00' }] }),
      err: rule('timestamp_in_future', { path: 'agreement/signatures/1/signedAt' }),
    },
    {
      name: 'an oral agreement reached in the future',
      b: standaloneAgreement({ form: 'oral', reachedAt: '2026-09-16T09:00:00+08:00', effectiveAt: '2026-09-16T09:00:00+08:00' }),
      err: rule('timestamp_in_future', { path: 'agreement/reachedAt' }),
    },
    { name: 'one party does not apply', b: { ...STANDALONE, applicants: [1] }, err: rule('joint_application_required') },
  ]
  for (const row of rows) verify(t, row, () => checkStandaloneApplication(row.b, row.region ?? '110105', NOW, row.document))
})

t.test('checkApplicationTiming', async (t) => {
  const NOW = new Date('2026-10-20T12:00:00+08:00')
  const effective = (effectiveAt: string): Agreement => ({ ...AGREEMENT, effectiveAt: iso(effectiveAt) })
  const applied = (appliedAt: string, lateReason?: string): CreateConfirmationInput => ({ ...LINKED, appliedAt, ...(lateReason ? { lateReason } : {}) })
  const inTime = { ok: true, applicationDueOn: '2026-10-08', provisional: false, late: false }
  const rows: Array<Row & { b: CreateConfirmationInput; agreement?: Agreement; now?: Date }> = [
    { name: 'effective Tue 09-01: 30 days is Thu 10-01, National Day; due Thu 10-08', b: applied('2026-09-15T10:00:00+08:00'), want: inTime },
    { name: 'on the last day, late evening', b: applied('2026-10-08T23:59:00+08:00'), want: inTime },
    { name: 'the same day, with a reason nobody needed', b: applied('2026-10-08T23:59:00+08:00', '材料准备'), want: inTime },
    {
      name: 'effective 00:30 on 09-01 Shanghai (08-31 in UTC): still due 10-08',
      b: applied('2026-09-15T10:00:00+08:00'),
      agreement: effective('2026-08-31T16:30:00Z'),
      want: inTime,
    },
    {
      name: 'effective at 23:00 on 08-31: due Wed 09-30',
      b: applied('2026-09-15T10:00:00+08:00'),
      agreement: effective('2026-08-31T23:00:00+08:00'),
      want: { ...inTime, applicationDueOn: '2026-09-30' },
    },
    { name: 'applied 4 minutes before the agreement took effect: within the skew', b: applied('2026-09-01T09:56:00+08:00'), want: inTime },
    {
      name: 'effective 12-10: due Sat 2027-01-09, rolled to Mon 01-11, provisional',
      b: applied('2026-12-20T10:00:00+08:00'),
      agreement: effective('2026-12-10T10:00:00+08:00'),
      now: new Date('2026-12-21T10:00:00+08:00'),
      want: { ok: true, applicationDueOn: '2027-01-11', provisional: true, late: false },
    },
    { name: 'late (00:30 on 10-09 Shanghai) with a reason', b: applied('2026-10-08T16:30:00Z', '当事人住院治疗'), want: { ...inTime, late: true } },
    {
      name: 'late (00:30 on 10-09 Shanghai) without a reason',
      b: applied('2026-10-08T16:30:00Z'),
      err: rule('confirmation_deadline_passed', { applicationDueOn: '2026-10-08' }),
    },
    { name: 'applied 6 minutes ahead of the clock', b: applied('2026-10-20T12:06:00+08:00'), err: rule('timestamp_in_future', { path: 'appliedAt' }) },
    {
      name: 'applied 6 minutes before the agreement took effect',
      b: applied('2026-09-01T09:54:00+08:00'),
      err: rule('timestamp_before_agreement', { path: 'appliedAt' }),
    },
  ]
  for (const row of rows) verify(t, row, () => checkApplicationTiming(row.b, row.agreement ?? AGREEMENT, cal, row.now ?? NOW))
  const wrong: string[] = []
  for (let day = '2026-01-01'; day <= '2026-12-31'; day = addCalendarDays(day, 1)) {
    const want = confirmationDeadline(cal, day)
    const got = checkApplicationTiming(applied(`${day}T12:00:00+08:00`), effective(`${day}T09:00:00+08:00`), cal, new Date('2027-06-01T00:00:00+08:00'))
    if (got.applicationDueOn !== want.date || got.provisional !== want.provisional) wrong.push(`${day}: ${got.applicationDueOn} ≠ ${want.date}`)
  }
  t.strictSame(wrong, [], 'every effective day of 2026: applicationDueOn is confirmationDeadline')
})

// ---------------------------------------------------------------------------------------------
// Decisions

t.test('acceptApplication', async (t) => {
  const NOW = '2026-09-10T10:00:00+08:00'
  const accepted = (caseNumber?: string, acceptedOn?: string): ConfirmationAcceptanceInput => ({
    decision: 'accepted',
    ...(caseNumber ? { caseNumber } : {}),
    ...(acceptedOn ? { acceptedOn } : {}),
  })
  const rows: Array<Row & { c?: Confirmation; b: ConfirmationAcceptanceInput; now?: string }> = [
    {
      name: 'accepted Wed 09-02: 30 days is 10-02, National Day; review due Thu 10-08',
      b: accepted('(2026)京0105诉前调确88号', '2026-09-02'),
      want: {
        status: 'applied',
        caseNumber: '（2026）京0105诉前调确88号',
        reviewDueOn: '2026-10-08',
        'doc.provisional': false,
        'doc.acceptance': { caseNumber: '（2026）京0105诉前调确88号', acceptedOn: '2026-09-02', acceptedAt: '2026-09-10T02:00:00.000Z' },
        'doc.reviewTargetOn': '2026-09-17',
      },
    },
    {
      name: 'accepted today by default (09-10): due on the make-up Saturday 10-10',
      b: accepted('（2026）京0105民特5号'),
      want: { caseNumber: '（2026）京0105民特5号', reviewDueOn: '2026-10-10', 'doc.acceptance.acceptedOn': '2026-09-10', 'doc.reviewTargetOn': '2026-09-28' },
    },
    {
      name: 'day 15 is Mid-Autumn (09-25): the target rolls to Mon 09-28',
      b: accepted('（2026）京0105民特5号', '2026-09-10'),
      want: { 'doc.reviewTargetOn': '2026-09-28' },
    },
    {
      name: 'accepted 09-20: day 15 is 10-05 in National Day; target Thu 10-08, due Tue 10-20',
      b: accepted('（2026）京0105民特5号', '2026-09-20'),
      now: '2026-09-20T10:00:00+08:00',
      want: { 'doc.reviewTargetOn': '2026-10-08', reviewDueOn: '2026-10-20' },
    },
    {
      name: 'accepted on the day of the application in Shanghai (08-28)',
      b: accepted('（2026）京0105诉前调确88号', '2026-08-28'),
      want: { 'doc.acceptance.acceptedOn': '2026-08-28', reviewDueOn: '2026-09-28' },
    },
    {
      name: 'accepted 12-03: due Sat 2027-01-02, rolled to Mon 01-04, provisional',
      b: accepted('（2026）京0105诉前调确88号'),
      now: '2026-12-03T10:00:00+08:00',
      want: { reviewDueOn: '2027-01-04', 'doc.provisional': true },
    },
    {
      name: 'a provisional application stays provisional',
      c: { ...APPLIED, doc: { ...APPLIED.doc, provisional: true } },
      b: accepted('（2026）京0105诉前调确88号', '2026-09-02'),
      want: { reviewDueOn: '2026-10-08', 'doc.provisional': true },
    },
    { name: 'no case number', b: accepted(undefined, '2026-09-02'), err: invalid('/caseNumber required') },
    { name: 'a reason', b: { ...accepted('（2026）京0105诉前调确88号'), reason: '理由' }, err: invalid('/reason not_allowed') },
    { name: 'no number, and a reason', b: { decision: 'accepted', reason: '理由' }, err: invalid('/caseNumber required', '/reason not_allowed') },
    { name: 'a case number of another court', b: accepted('（2026）京0106诉前调确88号', '2026-09-02'), err: invalid('/caseNumber invalid_case_number') },
    { name: 'accepted tomorrow', b: accepted('（2026）京0105诉前调确88号', '2026-09-11'), err: rule('date_in_future', { path: 'acceptedOn' }) },
    {
      name: 'accepted the day before the application (Shanghai date)',
      b: accepted('（2026）京0105诉前调确88号', '2026-08-27'),
      err: rule('date_before_application', { path: 'acceptedOn' }),
    },
  ]
  for (const row of rows) verify(t, row, () => acceptApplication(row.c ?? APPLIED, row.b, atDay(row.now ?? NOW)))
  for (const day of ['2026-09-02', '2026-09-10', '2026-12-03']) {
    const got = acceptApplication(APPLIED, accepted('（2026）京0105诉前调确88号', day), atDay('2026-12-31T10:00:00+08:00'))
    t.equal(got.reviewDueOn, reviewDueOn(cal, day).date, `agrees with reviewDueOn: ${day}`)
    t.equal(got.doc.reviewTargetOn, cal.addDaysRolled(day, 15).date, `reviewTargetOn is day 15, rolled: ${day}`)
  }
})

t.test('refuseApplication', async (t) => {
  const NOW = '2026-09-03T15:00:00+08:00'
  const rows: Array<Row & { b: ConfirmationAcceptanceInput }> = [
    {
      name: 'with a reason',
      b: { decision: 'not_accepted', reason: '涉及物权确权' },
      want: { status: 'applied', caseNumber: null, reviewDueOn: null, 'doc.notAccepted': { reason: '涉及物权确权', decidedAt: '2026-09-03T07:00:00.000Z' } },
    },
    { name: 'without a reason', b: { decision: 'not_accepted' }, err: invalid('/reason required') },
    {
      name: 'with a case number',
      b: { decision: 'not_accepted', reason: '理由', caseNumber: '（2026）京0105诉前调确88号' },
      err: invalid('/caseNumber not_allowed'),
    },
    { name: 'with an acceptance date', b: { decision: 'not_accepted', reason: '理由', acceptedOn: '2026-09-03' }, err: invalid('/acceptedOn not_allowed') },
    {
      name: 'all three',
      b: { decision: 'not_accepted', caseNumber: '（2026）京0105诉前调确88号', acceptedOn: '2026-09-03' },
      err: invalid('/reason required', '/caseNumber not_allowed', '/acceptedOn not_allowed'),
    },
  ]
  for (const row of rows) verify(t, row, () => refuseApplication(APPLIED, row.b, atDay(NOW)))
})

t.test('withdrawApplication', async (t) => {
  const NOW = '2026-09-05T09:00:00+08:00'
  const rows: Array<Row & { c: Confirmation; b: ConfirmationWithdrawalInput }> = [
    {
      name: 'applied, with a reason',
      c: APPLIED,
      b: { reason: '当事人已自动履行完毕' },
      want: { status: 'applied', 'doc.withdrawal': { reason: '当事人已自动履行完毕', withdrawnAt: '2026-09-05T01:00:00.000Z' } },
    },
    {
      name: 'under review, without a reason',
      c: UNDER_REVIEW,
      b: {},
      want: { status: 'under_review', reviewDueOn: '2026-10-08', 'doc.withdrawal': { withdrawnAt: '2026-09-05T01:00:00.000Z' } },
    },
  ]
  for (const row of rows) verify(t, row, () => withdrawApplication(row.c, row.b, atDay(NOW)))
})

t.test('ruleOnApplication', async (t) => {
  const NOW = '2026-09-20T10:00:00+08:00'
  const ruling = (result: 'valid' | 'rejected', ruledOn: string, reason?: string): ConfirmationRulingInput => ({
    result,
    rulingNumber: '（2026）京0105诉前调确88号',
    ruledOn,
    ...(reason ? { reason } : {}),
  })
  const rows: Array<Row & { b: ConfirmationRulingInput }> = [
    {
      name: 'valid: the ruling names the agreement by its hash',
      b: ruling('valid', '2026-09-15'),
      want: {
        status: 'under_review',
        'doc.ruling': {
          result: 'valid',
          rulingNumber: '（2026）京0105诉前调确88号',
          ruledOn: '2026-09-15',
          servedOn: '2026-09-15',
          agreementSha256: SHA,
          recordedAt: '2026-09-20T02:00:00.000Z',
        },
      },
    },
    {
      name: 'rejected, with grounds',
      b: ruling('rejected', '2026-09-15', '协议内容不明确'),
      want: {
        'doc.ruling': {
          result: 'rejected',
          rulingNumber: '（2026）京0105诉前调确88号',
          ruledOn: '2026-09-15',
          reason: '协议内容不明确',
          servedOn: '2026-09-15',
          agreementSha256: SHA,
          recordedAt: '2026-09-20T02:00:00.000Z',
        },
      },
    },
    { name: 'ruled on the day of acceptance', b: ruling('valid', '2026-09-02'), want: { 'doc.ruling.ruledOn': '2026-09-02' } },
    { name: 'ruled today', b: ruling('rejected', '2026-09-20'), want: { 'doc.ruling.ruledOn': '2026-09-20', 'doc.ruling.reason': undefined } },
    { name: 'ruled tomorrow', b: ruling('valid', '2026-09-21'), err: rule('date_in_future', { path: 'ruledOn' }) },
    { name: 'ruled the day before acceptance', b: ruling('valid', '2026-09-01'), err: rule('date_before_acceptance', { path: 'ruledOn' }) },
  ]
  for (const row of rows) verify(t, row, () => ruleOnApplication(UNDER_REVIEW, row.b, atDay(NOW)))
})

// ---------------------------------------------------------------------------------------------
// The whole procedure (contract §3 v1.1)

const MATERIALS_REQUESTED: Confirmation = deepFreeze({
  ...UNDER_REVIEW,
  status: 'materials_requested',
  doc: {
    ...UNDER_REVIEW.doc,
    requestedMaterials: { items: ['调解组织主持调解的证明'], dueOn: '2026-09-20', requestedAt: iso('2026-09-10T10:00:00+08:00') },
    materialRequests: [{ items: ['调解组织主持调解的证明'], dueOn: '2026-09-20', requestedAt: iso('2026-09-10T10:00:00+08:00') }],
  },
})
const RULED: Confirmation = deepFreeze({
  ...UNDER_REVIEW,
  status: 'ruled_valid',
  doc: {
    ...UNDER_REVIEW.doc,
    ruling: {
      result: 'valid' as const,
      rulingNumber: '（2026）京0105诉前调确88号',
      ruledOn: '2026-09-15',
      servedOn: '2026-09-16',
      agreementSha256: SHA,
      recordedAt: iso('2026-09-15T10:00:00+08:00'),
    },
    objectionDueOn: '2026-10-08',
  },
})

t.test('ruleOnApplication: service of the ruling and the objection window (民诉法解释 372)', async (t) => {
  const NOW = '2026-09-20T10:00:00+08:00'
  const ruling = (over: Partial<ConfirmationRulingInput>): ConfirmationRulingInput => ({
    result: 'valid',
    rulingNumber: '（2026）京0105诉前调确88号',
    ruledOn: '2026-09-15',
    ...over,
  })
  const rows: Array<Row & { b: ConfirmationRulingInput }> = [
    {
      name: 'served on the day of the ruling by default: 09-30',
      b: ruling({}),
      want: { 'doc.ruling.servedOn': '2026-09-15', 'doc.objectionDueOn': '2026-09-30' },
    },
    { name: 'served 09-16: day 15 is National Day, due 10-08', b: ruling({ servedOn: '2026-09-16' }), want: { 'doc.objectionDueOn': '2026-10-08' } },
    { name: 'served 09-20: day 15 is 10-05, due 10-08', b: ruling({ servedOn: '2026-09-20' }), want: { 'doc.objectionDueOn': '2026-10-08' } },
    {
      name: 'the ruling document',
      b: ruling({ documentMaterialId: '0192f3a4-5b6c-7d8e-9f01-0000000000d1' }),
      want: { 'doc.ruling.documentMaterialId': '0192f3a4-5b6c-7d8e-9f01-0000000000d1' },
    },
    {
      name: 'a rejected ruling opens the window alike',
      b: ruling({ result: 'rejected', reason: '协议内容不明确' }),
      want: { 'doc.objectionDueOn': '2026-09-30' },
    },
    { name: 'served tomorrow', b: ruling({ servedOn: '2026-09-21' }), err: rule('date_in_future', { path: 'servedOn' }) },
    { name: 'served before the ruling', b: ruling({ servedOn: '2026-09-14' }), err: rule('date_before_ruling', { path: 'servedOn' }) },
  ]
  for (const row of rows) verify(t, row, () => ruleOnApplication(UNDER_REVIEW, row.b, atDay(NOW)))
})

t.test('extendReview (民事诉讼法 187)', async (t) => {
  const NOW = '2026-09-20T10:00:00+08:00'
  const ext = (newDueOn: string): ConfirmationReviewExtensionInput => ({ newDueOn, reason: '案情复杂，经院长批准' })
  const rows: Array<Row & { c?: Confirmation; b: ConfirmationReviewExtensionInput }> = [
    {
      name: 'a working day: taken as it is',
      b: ext('2026-10-20'),
      want: {
        status: 'under_review',
        reviewDueOn: '2026-10-20',
        'doc.reviewExtensions': [
          { previousDueOn: '2026-10-08', newDueOn: '2026-10-20', reason: '案情复杂，经院长批准', extendedAt: '2026-09-20T02:00:00.000Z' },
        ],
      },
    },
    { name: 'a Sunday rolls to Monday', b: ext('2026-10-11'), want: { reviewDueOn: '2026-10-12', 'doc.reviewExtensions.0.newDueOn': '2026-10-12' } },
    { name: 'a make-up Saturday is a working day', b: ext('2026-10-10'), want: { reviewDueOn: '2026-10-10' } },
    { name: 'into 2027: provisional', b: ext('2027-01-02'), want: { reviewDueOn: '2027-01-04', 'doc.provisional': true } },
    {
      name: 'while materials are requested; a second extension is appended',
      c: {
        ...MATERIALS_REQUESTED,
        doc: { ...MATERIALS_REQUESTED.doc, reviewExtensions: [{ previousDueOn: '2026-10-01', newDueOn: '2026-10-08', reason: '第一次', extendedAt: 'x' }] },
      },
      b: ext('2026-10-20'),
      want: { status: 'materials_requested', 'doc.reviewExtensions.1.previousDueOn': '2026-10-08', 'doc.reviewExtensions.length': 2 },
    },
    { name: 'the same day', b: ext('2026-10-08'), err: rule('due_date_not_later', { path: 'newDueOn' }) },
    { name: 'earlier', b: ext('2026-10-01'), err: rule('due_date_not_later', { path: 'newDueOn' }) },
  ]
  for (const row of rows) verify(t, row, () => extendReview(row.c ?? UNDER_REVIEW, row.b, atDay(NOW)))
})

t.test('requestMaterials (民诉法解释 354)', async (t) => {
  const NOW = '2026-09-10T10:00:00+08:00'
  const req = (dueOn: string, items = ['调解组织主持调解的证明', '申请人身份证明']): ConfirmationMaterialRequestInput => ({ items, dueOn })
  const request = { items: ['调解组织主持调解的证明', '申请人身份证明'], dueOn: '2026-09-11', requestedAt: '2026-09-10T02:00:00.000Z' }
  const rows: Array<Row & { c?: Confirmation; b: ConfirmationMaterialRequestInput }> = [
    { name: 'due tomorrow', b: req('2026-09-11'), want: { status: 'under_review', 'doc.requestedMaterials': request, 'doc.materialRequests': [request] } },
    { name: 'a rest day is taken as it is', b: req('2026-09-13'), want: { 'doc.requestedMaterials.dueOn': '2026-09-13' } },
    {
      name: 'a second order after a supplement is appended',
      c: { ...UNDER_REVIEW, doc: { ...UNDER_REVIEW.doc, materialRequests: MATERIALS_REQUESTED.doc.materialRequests } },
      b: req('2026-09-20'),
      want: { 'doc.materialRequests.length': 2, 'doc.materialRequests.1.dueOn': '2026-09-20' },
    },
    { name: 'due today', b: req('2026-09-10'), err: rule('date_not_in_future', { path: 'dueOn' }) },
    { name: 'due yesterday', b: req('2026-09-09'), err: rule('date_not_in_future', { path: 'dueOn' }) },
  ]
  for (const row of rows) verify(t, row, () => requestMaterials(row.c ?? UNDER_REVIEW, row.b, atDay(NOW)))
})

t.test('supplementMaterials', async (t) => {
  const M1 = '0192f3a4-5b6c-7d8e-9f01-0000000000e1'
  const M2 = '0192f3a4-5b6c-7d8e-9f01-0000000000e2'
  const sup = (ids: string[], note?: string): ConfirmationMaterialSupplementInput => ({
    materials: ids.map((materialId) => ({ materialId })),
    ...(note ? { note } : {}),
  })
  const rows: Array<Row & { c?: Confirmation; b: ConfirmationMaterialSupplementInput; now?: string }> = [
    {
      name: 'before the due day, with a note',
      b: sup([M1], '已补充'),
      now: '2026-09-15T10:00:00+08:00',
      want: {
        status: 'materials_requested',
        'doc.requestedMaterials': undefined,
        'doc.materials': [{ materialId: M1 }],
        'doc.materialRequests.0.supplied': { materials: [{ materialId: M1 }], note: '已补充', suppliedAt: '2026-09-15T02:00:00.000Z' },
      },
    },
    { name: 'late in the evening of the due day', b: sup([M1]), now: '2026-09-20T23:59:00+08:00', want: { 'doc.requestedMaterials': undefined } },
    {
      name: 'a material already on file, and one twice: each once',
      c: { ...MATERIALS_REQUESTED, doc: { ...MATERIALS_REQUESTED.doc, materials: [{ materialId: M1 }] } },
      b: sup([M1, M2, M2]),
      want: { 'doc.materials': [{ materialId: M1 }, { materialId: M2 }] },
    },
    { name: 'nothing supplied', b: sup([]), err: invalid('/materials required') },
    {
      name: 'after the due day (Asia/Shanghai): 00:30 on 09-21',
      b: sup([M1]),
      now: '2026-09-20T16:30:00Z',
      err: rule('supplement_deadline_passed', { dueOn: '2026-09-20' }),
    },
  ]
  for (const row of rows) verify(t, row, () => supplementMaterials(row.c ?? MATERIALS_REQUESTED, row.b, atDay(row.now ?? '2026-09-15T10:00:00+08:00')))
})

t.test('deemedWithdrawal (民诉法解释 357)', async (t) => {
  const at = (now: string) => ({ now: new Date(now), today: shanghaiDate(new Date(now)) })
  t.equal(deemedWithdrawal(MATERIALS_REQUESTED, at('2026-09-20T23:59:00+08:00')), null, 'not before the end of the due day')
  t.equal(deemedWithdrawal(MATERIALS_REQUESTED, at('2026-09-20T15:59:00Z')), null, '23:59 Shanghai is still the due day')
  t.match(
    deemedWithdrawal(MATERIALS_REQUESTED, at('2026-09-20T16:00:00Z')),
    { doc: { deemedWithdrawal: { dueOn: '2026-09-20', at: '2026-09-20T16:00:00.000Z' } } },
    'from 00:00 Shanghai the next day',
  )
  t.equal(deemedWithdrawal(UNDER_REVIEW, at('2026-12-20T10:00:00+08:00')), null, 'nothing requested')
  t.equal(deemedWithdrawal({ ...MATERIALS_REQUESTED, status: 'under_review' }, at('2026-12-20T10:00:00+08:00')), null, 'supplied meanwhile (state moved on)')
})

t.test('monthsLater: the same day of the month, or the last day of a shorter month, rolled', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['2026-03-31', '2026-09-30', false],
    ['2026-06-15', '2026-12-15', false],
    ['2026-04-05', '2026-10-08', false], // 10-05 in National Day
    ['2026-08-31', '2027-03-01', true], // 2027-02-28 is a Sunday
    ['2026-07-31', '2027-02-01', true], // 2027-01-31 is a Sunday
  ]
  for (const [from, want, provisional] of cases) t.same(monthsLater(cal, from, 6), { date: want, provisional }, from)
})

t.test('fileObjection (民诉法解释 372)', async (t) => {
  const NOW = '2026-10-20T10:00:00+08:00'
  const party = (filedOn: string, over: Partial<ConfirmationObjectionInput> = {}): ConfirmationObjectionInput => ({
    by: 'party',
    partyIndex: 1,
    filedOn,
    grounds: '协议违反法律强制性规定',
    ...over,
  })
  const interested = (filedOn: string, knewOn?: string, over: Partial<ConfirmationObjectionInput> = {}): ConfirmationObjectionInput => ({
    by: 'interested_person',
    filedOn,
    ...(knewOn ? { knewOn } : {}),
    grounds: '损害案外人合法权益',
    ...over,
  })
  const rows: Array<Row & { c?: Confirmation; b: ConfirmationObjectionInput; now?: string }> = [
    {
      name: 'a party on the last day (10-08)',
      b: party('2026-10-08'),
      want: {
        status: 'ruled_valid',
        'doc.objections': [
          { by: 'party', partyIndex: 1, filedOn: '2026-10-08', grounds: '协议违反法律强制性规定', dueOn: '2026-10-08', recordedAt: '2026-10-20T02:00:00.000Z' },
        ],
      },
    },
    { name: 'a party on the day of the ruling', b: party('2026-09-15'), want: { 'doc.objections.0.dueOn': '2026-10-08' } },
    { name: 'a party a day late', b: party('2026-10-09'), err: rule('objection_deadline_passed', { objectionDueOn: '2026-10-08' }) },
    { name: 'a party without partyIndex', b: party('2026-10-08', { partyIndex: undefined }), err: invalid('/partyIndex required') },
    { name: 'a party who is not one', b: party('2026-10-08', { partyIndex: 3 }), err: invalid('/partyIndex invalid_party_index') },
    { name: 'a party with knewOn', b: party('2026-10-08', { knewOn: '2026-10-01' }), err: invalid('/knewOn not_allowed') },
    {
      name: 'an interested person within 6 months after knowing',
      b: interested('2026-10-20', '2026-10-01'),
      want: { 'doc.objections.0.dueOn': '2027-04-01', 'doc.objections.0.knewOn': '2026-10-01', 'doc.objections.0.partyIndex': undefined },
    },
    {
      name: 'an interested person long after the parties’ window',
      b: interested('2027-03-01', '2026-08-31'),
      now: '2027-03-01T10:00:00+08:00',
      want: { 'doc.objections.0.dueOn': '2027-03-01' },
    },
    {
      name: 'an interested person a day after 6 months (rolled)',
      b: interested('2027-03-02', '2026-08-31'),
      now: '2027-03-05T10:00:00+08:00',
      err: rule('objection_deadline_passed', { objectionDueOn: '2027-03-01' }),
    },
    { name: 'an interested person without knewOn', b: interested('2026-10-20'), err: invalid('/knewOn required') },
    { name: 'an interested person with partyIndex', b: interested('2026-10-20', '2026-10-01', { partyIndex: 0 }), err: invalid('/partyIndex not_allowed') },
    { name: 'filed before knowing', b: interested('2026-09-30', '2026-10-01'), err: rule('date_before_knowledge', { path: 'filedOn' }) },
    { name: 'filed tomorrow', b: party('2026-10-21'), err: rule('date_in_future', { path: 'filedOn' }) },
    { name: 'filed before the ruling', b: party('2026-09-14'), err: rule('date_before_ruling', { path: 'filedOn' }) },
    {
      name: 'a second objection after a dismissed one is appended',
      c: {
        ...RULED,
        doc: { ...RULED.doc, objections: [{ by: 'party', partyIndex: 0, filedOn: '2026-09-20', grounds: 'x', dueOn: '2026-10-08', recordedAt: 'x' }] },
      },
      b: party('2026-10-08'),
      want: { 'doc.objections.length': 2 },
    },
  ]
  for (const row of rows) verify(t, row, () => fileObjection(row.c ?? RULED, row.b, atDay(row.now ?? NOW)))
})

t.test('ruleOnObjection', async (t) => {
  const OBJECTED: Confirmation = deepFreeze({
    ...RULED,
    status: 'objection_filed',
    doc: { ...RULED.doc, objections: [{ by: 'party' as const, partyIndex: 1, filedOn: '2026-10-08', grounds: '理由', dueOn: '2026-10-08', recordedAt: 'x' }] },
  })
  const NOW = '2026-10-20T10:00:00+08:00'
  const r = (result: 'revoked' | 'dismissed', ruledOn: string): ConfirmationObjectionRulingInput => ({
    result,
    ruledOn,
    rulingNumber: '（2026）京0105民特监1号',
  })
  const rows: Array<Row & { b: ConfirmationObjectionRulingInput }> = [
    {
      name: 'revoked',
      b: r('revoked', '2026-10-20'),
      want: {
        'doc.objections.0.ruling': {
          result: 'revoked',
          ruledOn: '2026-10-20',
          rulingNumber: '（2026）京0105民特监1号',
          recordedAt: '2026-10-20T02:00:00.000Z',
        },
      },
    },
    { name: 'dismissed on the day of the objection', b: r('dismissed', '2026-10-08'), want: { 'doc.objections.0.ruling.result': 'dismissed' } },
    { name: 'tomorrow', b: r('revoked', '2026-10-21'), err: rule('date_in_future', { path: 'ruledOn' }) },
    { name: 'before the objection', b: r('dismissed', '2026-10-07'), err: rule('date_before_objection', { path: 'ruledOn' }) },
  ]
  for (const row of rows) verify(t, row, () => ruleOnObjection(OBJECTED, row.b, atDay(NOW)))
})
