import t from 'tap'
import { createHash } from 'node:crypto'
import { acceptanceDueOn, addCalendarDays, mediationDueOn, resumedDueOn } from '../../src/domain/calendar.js'
import type { Organization } from '../../src/domain/organization.js'
import type { Principal } from '../../src/domain/principal.js'
import type { Referral, ReferralDoc, StoredParty } from '../../src/domain/referral.js'
import {
  accept,
  assign,
  checkReferralIntake,
  close,
  decline,
  designated,
  expiryDue,
  extend,
  pendingDeadline,
  recall,
  recordAgreement,
  redesignate,
  registerCase,
  reportPerformance,
  resume,
  resumeTrial,
  returnMaterials,
  suspend,
  terminate,
} from '../../src/domain/referral-actions.js'
import type { ReferralStatus } from '../../src/domain/referral-machine.js'
import type {
  AcceptanceInput,
  AgreementInput,
  ClosureInput,
  CourtFilingInput,
  CreateReferralInput,
  ExtensionInput,
  MaterialReturnInput,
  PerformanceInput,
  RecallInput,
  RedesignationInput,
  ResumptionInput,
  SuspensionInput,
  TerminationInput,
} from '../../src/schemas/referrals.js'

import { deepFreeze, illegal, invalid, type Row, rule, shippedCalendar, verify } from '../helpers/tables.js'

/**
 * Table tests of the pure referral actions (src/domain/referral-actions.ts): one table per function, each row an
 * input (case, body, clock) and either fields of the returned case or the exact refusal. Dates are checked against
 * the shipped calendar (data/), by hand for a few rows and against calendar.ts for whole years.
 */

const cal = shippedCalendar()
const at = (now: string) => ({ now: new Date(now), cal })
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
const CONSENT = [
  { partyIndex: 0, consentedAt: '2026-01-12T09:00:00+08:00', method: 'written' as const },
  { partyIndex: 1, consentedAt: '2026-01-12T09:30:00+08:00', method: 'online' as const },
  { partyIndex: 2, consentedAt: '2026-01-12T10:00:00+08:00', method: 'oral' as const },
]
const CREATED = new Date('2026-01-13T09:00:00+08:00')

/** A pre-filing referral of 京0105, referred on Tue 2026-01-13: acceptance due on the 3rd working day, 01-16. */
const REFERRED: Referral = deepFreeze({
  id: '0192f3a4-5b6c-7d8e-9f01-23456789abcd',
  version: 1,
  status: 'referred',
  referralType: 'pre_filing',
  courtCode: '京0105',
  caseNumber: '（2026）京0105民诉前调1024号',
  disputeType: 'neighbor',
  organizationId: 'bj-cy-blz',
  heldBy: ['bj-cy-blz'],
  chainHead: 'genesis',
  doc: {
    causeOfAction: '相邻关系纠纷',
    claimSummary: '请求被申请人停止漏水侵害并赔偿损失',
    parties: PARTIES,
    consent: CONSENT,
    designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' },
    materials: [],
    deadlines: { acceptanceDueOn: '2026-01-16', mediationDueOn: null, provisional: false },
  },
  createdAt: CREATED,
  updatedAt: CREATED,
})

/** The referral with other top-level fields and doc members (an `undefined` doc member removes it). */
function variant(base: Referral, patch: Partial<Referral>, doc: Partial<ReferralDoc> = {}): Referral {
  return deepFreeze({ ...base, ...patch, doc: { ...base.doc, ...doc } })
}

const DEADLINES_MEDIATING = { acceptanceDueOn: '2026-01-16', mediationDueOn: '2026-04-01', provisional: false }
/** Accepted Mon 2026-03-02: 30 days → Wed 04-01, a working day (so the stored date is also the unrolled one). */
const MEDIATING = variant(
  REFERRED,
  { status: 'mediating' },
  { mediator: { name: '王调解', id: 'M-001' }, acceptedAt: iso('2026-03-02T10:00:00+08:00'), deadlines: DEADLINES_MEDIATING },
)
const SUSPENSION = { reason: 'appraisal', note: '委托房屋漏水原因鉴定', suspendedOn: '2026-03-10', suspendedAt: iso('2026-03-10T09:00:00+08:00') }
const SUSPENDED = variant(MEDIATING, { status: 'suspended' }, { suspension: SUSPENSION })
const TERMINATION = { reason: 'gap_too_large', report: '双方分歧过大', terminatedAt: iso('2026-03-25T10:00:00+08:00'), by: 'organization' as const }
const TERMINATED = variant(MEDIATING, { status: 'terminated' }, { termination: TERMINATION })
const RETURNED = variant(
  TERMINATED,
  { status: 'materials_returned' },
  { materialReturn: { materials: [], report: '调解终结报告', returnedAt: iso('2026-03-26T10:00:00+08:00') } },
)
const TERMS = '李四于2026年4月30日前赔偿张三5000元，某物业服务有限公司负责维修漏水管道。'
const AGREEMENT = {
  form: 'written' as const,
  terms: TERMS,
  amount: '5000.00',
  signatures: [
    { partyIndex: 0, signedAt: '2026-03-20T10:00:00+08:00' },
    { partyIndex: 1, signedAt: '2026-03-20T10:10:00+08:00' },
    { partyIndex: 2, signedAt: '2026-03-20T10:30:00+08:00' },
  ],
  mediatorSignedAt: '2026-03-20T10:20:00+08:00',
  sealedAt: '2026-03-20T10:25:00+08:00',
  effectiveAt: iso('2026-03-20T10:30:00+08:00'),
  performance: { method: 'deferred' as const, dueOn: '2026-04-30' },
  sha256: sha256(TERMS),
  recordedAt: iso('2026-03-20T12:00:00+08:00'),
}
const AGREED = variant(MEDIATING, { status: 'agreed' }, { agreement: AGREEMENT })
const IN_LITIGATION = { referralType: 'in_litigation' as const, caseNumber: '（2026）京0105民初88号' }

function org(id: string, o: Partial<Organization> = {}): Organization {
  return deepFreeze({
    id,
    name: id,
    kind: 'village_committee',
    regionCode: '110105',
    uscc: null,
    disputeTypes: ['neighbor'],
    fullTimeMediators: 2,
    rosters: { ministry: false, courtSpecial: [] },
    active: true,
    version: 1,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    ...o,
  })
}

t.test('the fixtures agree with the calendar', async (t) => {
  t.equal(acceptanceDueOn(cal, '2026-01-13').date, REFERRED.doc.deadlines.acceptanceDueOn)
  t.equal(mediationDueOn(cal, '2026-03-02', 'pre_filing').date, MEDIATING.doc.deadlines.mediationDueOn)
})

// ---------------------------------------------------------------------------------------------
// Intake

t.test('checkReferralIntake', async (t) => {
  const caller: Principal = { clientId: 'court-bj-cy', role: 'court', name: '朝阳法院', courtCodes: ['京0105', '京0106'], organizationIds: [], regionCodes: [] }
  const applicant = {
    role: 'applicant' as const,
    kind: 'natural_person' as const,
    name: '张三',
    idType: 'resident_id' as const,
    idNumber: '11010519491231002X',
  }
  const respondent = {
    role: 'respondent' as const,
    kind: 'natural_person' as const,
    name: '李四',
    idType: 'resident_id' as const,
    idNumber: '440524188001010014',
  }
  const third = {
    role: 'third_party' as const,
    kind: 'legal_person' as const,
    name: '某物业服务有限公司',
    idType: 'uscc' as const,
    idNumber: '91110105MA01B2C34Q',
  }
  const consent = (...indexes: number[]) => indexes.map((partyIndex) => ({ partyIndex, consentedAt: '2026-01-12T09:00:00+08:00', method: 'written' as const }))
  const body: CreateReferralInput = {
    referralType: 'pre_filing',
    courtCode: '京0105',
    caseNumber: '(2026)京0105民诉前调1024号',
    disputeType: 'neighbor',
    claimSummary: '请求被申请人停止漏水侵害并赔偿损失',
    parties: [applicant, respondent],
    consent: consent(0, 1),
    designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' },
    materials: [],
  }
  const NOW = '2026-01-13T09:00:00+08:00'
  const rows: Array<Row & { b: CreateReferralInput; now?: string }> = [
    { name: 'pre-filing: half-width brackets come back full-width', b: body, want: { caseNumber: '（2026）京0105民诉前调1024号' } },
    {
      name: 'in litigation with a procedure',
      b: { ...body, referralType: 'in_litigation', procedure: 'summary', caseNumber: '（2026）京0105民初88号' },
      want: { caseNumber: '（2026）京0105民初88号' },
    },
    {
      name: "another of the caller's courts",
      b: { ...body, courtCode: '京0106', caseNumber: '（2026）京0106民诉前调7号' },
      want: { caseNumber: '（2026）京0106民诉前调7号' },
    },
    {
      name: 'a third party who consented',
      b: { ...body, parties: [applicant, respondent, third], consent: consent(2, 0, 1) },
      want: { caseNumber: '（2026）京0105民诉前调1024号' },
    },
    {
      name: "the year of the number is judged on Shanghai's date (UTC is still in 2026)",
      b: { ...body, caseNumber: '(2027)京0105民诉前调1号' },
      now: '2026-12-31T16:30:00Z',
      want: { caseNumber: '（2027）京0105民诉前调1号' },
    },
    {
      name: 'in litigation without a procedure',
      b: { ...body, referralType: 'in_litigation', caseNumber: '（2026）京0105民初88号' },
      err: invalid('/procedure required'),
    },
    { name: 'pre-filing with a procedure', b: { ...body, procedure: 'ordinary' }, err: invalid('/procedure not_allowed') },
    { name: 'no applicant', b: { ...body, parties: [respondent, respondent] }, err: invalid('/parties applicant_required') },
    { name: 'no respondent', b: { ...body, parties: [applicant, third] }, err: invalid('/parties respondent_required') },
    { name: 'consent of a party that does not exist', b: { ...body, consent: consent(0, 2) }, err: invalid('/consent/1/partyIndex invalid_party_index') },
    {
      name: 'every shape error at once, in order',
      b: { ...body, referralType: 'in_litigation', parties: [applicant, applicant], consent: consent(0, 1, 5) },
      err: invalid('/procedure required', '/parties respondent_required', '/consent/2/partyIndex invalid_party_index'),
    },
    { name: "a court that is not the caller's", b: { ...body, courtCode: '京0107' }, err: rule('court_code_not_allowed') },
    { name: 'a party did not consent', b: { ...body, consent: consent(0) }, err: rule('consent_required') },
    { name: 'one party consenting twice is not everyone', b: { ...body, consent: consent(0, 0) }, err: rule('consent_required') },
    {
      name: 'the third party must consent too',
      b: { ...body, parties: [applicant, respondent, third], consent: consent(0, 1) },
      err: rule('consent_required'),
    },
    { name: 'shape errors come before the court check', b: { ...body, courtCode: '京0107', procedure: 'summary' }, err: invalid('/procedure not_allowed') },
    { name: 'the court check comes before consent', b: { ...body, courtCode: '京0107', consent: consent(1) }, err: rule('court_code_not_allowed') },
  ]
  for (const row of rows) verify(t, row, () => checkReferralIntake(row.b, caller, new Date(row.now ?? NOW)))
  // Only a court refers (the transition table), whatever court codes the principal carries.
  for (const role of ['mediation', 'operator'] as const) {
    verify(t, { name: `a ${role} principal may not refer`, err: { status: 403, code: 'forbidden' } }, () =>
      checkReferralIntake(body, { ...caller, role }, new Date(NOW)),
    )
  }
})

t.test('designated', async (t) => {
  const rows: Array<Row & { court: string; mode: 'party_selected' | 'court_designated'; org: Organization | undefined }> = [
    {
      name: 'court-designated from its own special roster',
      court: '京0105',
      mode: 'court_designated',
      org: org('own', { rosters: { ministry: false, courtSpecial: ['京0105'] } }),
      want: { id: 'own' },
    },
    {
      name: "court-designated from its high court's roster",
      court: '京0105',
      mode: 'court_designated',
      org: org('high', { rosters: { ministry: false, courtSpecial: ['京'] } }),
      want: { id: 'high' },
    },
    {
      name: 'party-selected from the ministry roster',
      court: '京0105',
      mode: 'party_selected',
      org: org('moj', { rosters: { ministry: true, courtSpecial: [] } }),
      want: { id: 'moj' },
    },
    { name: 'unknown organization', court: '京0105', mode: 'party_selected', org: undefined, err: rule('not_on_roster') },
    {
      name: 'inactive organization',
      court: '京0105',
      mode: 'court_designated',
      org: org('old', { active: false, rosters: { ministry: true, courtSpecial: ['京0105'] } }),
      err: rule('organization_inactive'),
    },
    {
      name: 'party-selected but not on the ministry roster',
      court: '京0105',
      mode: 'party_selected',
      org: org('sp', { rosters: { ministry: false, courtSpecial: ['京0105'] } }),
      err: rule('not_on_roster'),
    },
    {
      name: 'court-designated but only on the ministry roster',
      court: '京0105',
      mode: 'court_designated',
      org: org('moj', { rosters: { ministry: true, courtSpecial: [] } }),
      err: rule('not_on_roster'),
    },
    {
      name: "court-designated from a neighbouring court's roster",
      court: '京0105',
      mode: 'court_designated',
      org: org('nb', { rosters: { ministry: true, courtSpecial: ['京0106'] } }),
      err: rule('not_on_roster'),
    },
    {
      name: "court-designated from another province's high court",
      court: '京0105',
      mode: 'court_designated',
      org: org('hu', { rosters: { ministry: false, courtSpecial: ['沪'] } }),
      err: rule('not_on_roster'),
    },
  ]
  for (const row of rows) verify(t, row, () => designated(row.court, row.mode, row.org))
})

// ---------------------------------------------------------------------------------------------
// Actions

t.test('accept', async (t) => {
  const NOW = '2026-12-25T12:00:00+08:00'
  const mediator = { name: '王调解', id: 'M-001' }
  const ok = (acceptedAt: string): AcceptanceInput => ({ decision: 'accepted', mediator, acceptedAt })
  const rows: Array<Row & { r?: Referral; b: AcceptanceInput; now?: string }> = [
    {
      name: 'pre-filing: 30 days from Fri 01-16 is Sun 02-15, in the Spring Festival; rolls to Tue 02-24',
      b: ok('2026-01-16T10:00:00+08:00'),
      want: {
        status: 'referred',
        'doc.mediator': mediator,
        'doc.acceptedAt': '2026-01-16T02:00:00.000Z',
        'doc.deadlines': { acceptanceDueOn: '2026-01-16', mediationDueOn: '2026-02-24', provisional: false },
      },
    },
    {
      name: 'in litigation, ordinary: 15 days from 09-16 is 10-01, National Day; rolls to Thu 10-08',
      r: variant(REFERRED, IN_LITIGATION, { procedure: 'ordinary' }),
      b: ok('2026-09-16T09:30:00+08:00'),
      want: { 'doc.deadlines.mediationDueOn': '2026-10-08', 'doc.deadlines.provisional': false },
    },
    {
      name: 'in litigation, summary: 7 days from the Shanghai date (03-03, though 03-02 in UTC) → Tue 03-10',
      r: variant(REFERRED, IN_LITIGATION, { procedure: 'summary' }),
      b: ok('2026-03-02T16:30:00Z'),
      want: { 'doc.acceptedAt': '2026-03-02T16:30:00.000Z', 'doc.deadlines.mediationDueOn': '2026-03-10' },
    },
    {
      name: 'a due date in 2027 (no published arrangement) is provisional',
      b: ok('2026-12-20T10:00:00+08:00'),
      want: { 'doc.deadlines': { acceptanceDueOn: '2026-01-16', mediationDueOn: '2027-01-19', provisional: true } },
    },
    {
      name: 'acceptedAt 4 minutes ahead of the clock is within the skew',
      b: ok('2026-12-25T12:04:00+08:00'),
      want: { 'doc.acceptedAt': '2026-12-25T04:04:00.000Z' },
    },
    {
      name: 'acceptedAt 4 minutes before the referral is within the skew (Tue 01-13 + 30 → Thu 02-12)',
      b: ok('2026-01-13T08:56:00+08:00'),
      want: { 'doc.acceptedAt': '2026-01-13T00:56:00.000Z', 'doc.deadlines.mediationDueOn': '2026-02-12' },
    },
    { name: 'acceptedAt 6 minutes ahead of the clock', b: ok('2026-12-25T12:06:00+08:00'), err: rule('timestamp_in_future', { path: 'acceptedAt' }) },
    { name: 'acceptedAt 6 minutes before the referral', b: ok('2026-01-13T08:54:00+08:00'), err: rule('timestamp_before_referral', { path: 'acceptedAt' }) },
    { name: 'no mediator', b: { decision: 'accepted', acceptedAt: '2026-01-16T10:00:00+08:00' }, err: invalid('/mediator required') },
    { name: 'no acceptedAt', b: { decision: 'accepted', mediator }, err: invalid('/acceptedAt required') },
    { name: 'a reason', b: { ...ok('2026-01-16T10:00:00+08:00'), reason: '理由' }, err: invalid('/reason not_allowed') },
    {
      name: 'all three at once',
      b: { decision: 'accepted', reason: '理由' },
      err: invalid('/mediator required', '/acceptedAt required', '/reason not_allowed'),
    },
    { name: 'shape errors come before the clock', b: { decision: 'accepted', acceptedAt: '2027-06-01T00:00:00+08:00' }, err: invalid('/mediator required') },
  ]
  for (const row of rows) verify(t, row, () => accept(row.r ?? REFERRED, row.b, at(row.now ?? NOW)))
})

t.test('accept: every acceptance day of 2026 gives what mediationDueOn gives, a working day reached by rolling over rest days only', async (t) => {
  const kinds = [
    { r: REFERRED, type: 'pre_filing' as const, procedure: undefined, days: 30 },
    { r: variant(REFERRED, IN_LITIGATION, { procedure: 'ordinary' }), type: 'in_litigation' as const, procedure: 'ordinary' as const, days: 15 },
    { r: variant(REFERRED, IN_LITIGATION, { procedure: 'summary' }), type: 'in_litigation' as const, procedure: 'summary' as const, days: 7 },
  ]
  for (const k of kinds) {
    const r = variant(k.r, { createdAt: new Date('2025-12-01T00:00:00+08:00') })
    const wrong: string[] = []
    for (let day = '2026-01-01'; day <= '2026-12-31'; day = addCalendarDays(day, 1)) {
      const got = accept(r, { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: `${day}T10:00:00+08:00` }, at('2027-01-01T12:00:00+08:00')).doc
        .deadlines
      const want = mediationDueOn(cal, day, k.type, k.procedure)
      if (got.mediationDueOn !== want.date || got.provisional !== want.provisional) wrong.push(`${day}: ${got.mediationDueOn} ≠ ${want.date}`)
      const due = got.mediationDueOn as string
      if (!cal.isWorkingDay(due)) wrong.push(`${day}: ${due} is a rest day`)
      for (let d = addCalendarDays(day, k.days); d < due; d = addCalendarDays(d, 1)) if (cal.isWorkingDay(d)) wrong.push(`${day}: rolled past working day ${d}`)
      if (due < addCalendarDays(day, k.days)) wrong.push(`${day}: ${due} is short of ${k.days} days`)
    }
    t.strictSame(wrong, [], `${k.type} ${k.procedure ?? ''}`)
  }
})

t.test('decline', async (t) => {
  const NOW = '2026-01-14T15:00:00+08:00'
  const rows: Array<Row & { b: AcceptanceInput }> = [
    {
      name: 'with a reason',
      b: { decision: 'declined', reason: '本会人手不足' },
      want: { status: 'referred', 'doc.decline': { reason: '本会人手不足', declinedAt: '2026-01-14T07:00:00.000Z', by: 'organization' } },
    },
    { name: 'without a reason', b: { decision: 'declined' }, err: invalid('/reason required') },
    { name: 'with a mediator', b: { decision: 'declined', reason: '理由', mediator: { name: '王调解' } }, err: invalid('/mediator not_allowed') },
    { name: 'with acceptedAt', b: { decision: 'declined', reason: '理由', acceptedAt: '2026-01-14T10:00:00+08:00' }, err: invalid('/acceptedAt not_allowed') },
    { name: 'the missing reason is reported first', b: { decision: 'declined', mediator: { name: '王调解' } }, err: invalid('/reason required') },
  ]
  for (const row of rows) verify(t, row, () => decline(REFERRED, row.b, at(NOW)))
})

t.test('recall', async (t) => {
  const NOW = '2026-01-15T09:30:00+08:00'
  const DECLINED = variant(
    REFERRED,
    { status: 'declined' },
    { decline: { reason: '本会人手不足', declinedAt: iso('2026-01-14T15:00:00+08:00'), by: 'organization' } },
  )
  const rows: Array<Row & { r?: Referral; b: RecallInput }> = [
    {
      name: 'a referred case, with a note: the recall is recorded, nothing else changes',
      b: { reason: 'party_insists_on_litigation', note: '申请人坚持起诉' },
      want: {
        status: 'referred',
        organizationId: 'bj-cy-blz',
        heldBy: ['bj-cy-blz'],
        'doc.recall': { reason: 'party_insists_on_litigation', note: '申请人坚持起诉', recalledAt: '2026-01-15T01:30:00.000Z' },
        'doc.deadlines': REFERRED.doc.deadlines,
      },
    },
    {
      name: 'a declined case keeps its decline; no note, no note member',
      r: DECLINED,
      b: { reason: 'court_decision' },
      want: {
        'doc.recall': { reason: 'court_decision', recalledAt: '2026-01-15T01:30:00.000Z' },
        'doc.decline': DECLINED.doc.decline,
      },
    },
    { name: 'consent withdrawn', b: { reason: 'party_withdrew_consent' }, want: { 'doc.recall.reason': 'party_withdrew_consent' } },
  ]
  for (const row of rows) verify(t, row, () => recall(row.r ?? REFERRED, row.b, at(NOW)))
})

t.test('redesignate', async (t) => {
  const DECLINED = variant(
    REFERRED,
    { status: 'declined' },
    { decline: { reason: '本会人手不足', declinedAt: iso('2026-01-14T15:00:00+08:00'), by: 'organization' } },
  )
  const special = org('bj-hd-xyz', { regionCode: '110108', rosters: { ministry: false, courtSpecial: ['京0105'] } })
  const blz = org('bj-cy-blz', { rosters: { ministry: false, courtSpecial: ['京0105'] } })
  const ministry = org('bj-cy-centre', { kind: 'centre', rosters: { ministry: true, courtSpecial: [] } })
  const to = (mode: 'party_selected' | 'court_designated', organizationId: string): RedesignationInput => ({ designation: { mode, organizationId } })
  const rows: Array<Row & { b: RedesignationInput; org: Organization | undefined; now: string }> = [
    {
      name: 'Wed 09-30: National Day, then Thu 10-08, Fri 10-09 and the make-up Saturday 10-10',
      b: to('court_designated', 'bj-hd-xyz'),
      org: special,
      now: '2026-09-30T10:00:00+08:00',
      want: {
        organizationId: 'bj-hd-xyz',
        heldBy: ['bj-cy-blz', 'bj-hd-xyz'],
        'doc.designation': { mode: 'court_designated', organizationId: 'bj-hd-xyz' },
        'doc.deadlines': { acceptanceDueOn: '2026-10-10', mediationDueOn: null, provisional: false },
        'doc.decline': undefined,
      },
    },
    {
      name: 'back to an organization that held the case: heldBy has no duplicate',
      b: to('court_designated', 'bj-cy-blz'),
      org: blz,
      now: '2026-09-30T10:00:00+08:00',
      want: { organizationId: 'bj-cy-blz', heldBy: ['bj-cy-blz'], 'doc.decline': undefined },
    },
    {
      name: "the referral date is Shanghai's (09-30, though 09-29 in UTC)",
      b: to('party_selected', 'bj-cy-centre'),
      org: ministry,
      now: '2026-09-29T16:30:00Z',
      want: { 'doc.designation': { mode: 'party_selected', organizationId: 'bj-cy-centre' }, 'doc.deadlines.acceptanceDueOn': '2026-10-10' },
    },
    {
      name: 'Wed 12-30 → Thu 12-31, Mon 01-04, Tue 2027-01-05: provisional',
      b: to('court_designated', 'bj-hd-xyz'),
      org: special,
      now: '2026-12-30T10:00:00+08:00',
      want: { 'doc.deadlines': { acceptanceDueOn: '2027-01-05', mediationDueOn: null, provisional: true } },
    },
    { name: 'unknown organization', b: to('court_designated', 'nobody'), org: undefined, now: '2026-09-30T10:00:00+08:00', err: rule('not_on_roster') },
    {
      name: 'inactive organization',
      b: to('court_designated', 'bj-hd-xyz'),
      org: org('bj-hd-xyz', { active: false, rosters: { ministry: true, courtSpecial: ['京0105'] } }),
      now: '2026-09-30T10:00:00+08:00',
      err: rule('organization_inactive'),
    },
    {
      name: 'party-selected but not on the ministry roster',
      b: to('party_selected', 'bj-hd-xyz'),
      org: special,
      now: '2026-09-30T10:00:00+08:00',
      err: rule('not_on_roster'),
    },
    {
      name: 'court-designated but on no roster of this court',
      b: to('court_designated', 'bj-cy-centre'),
      org: ministry,
      now: '2026-09-30T10:00:00+08:00',
      err: rule('not_on_roster'),
    },
  ]
  for (const row of rows) verify(t, row, () => redesignate(DECLINED, row.b, row.org, at(row.now)))
  const wrong: string[] = []
  for (let day = '2026-01-01'; day <= '2026-12-31'; day = addCalendarDays(day, 1)) {
    const got = redesignate(DECLINED, to('court_designated', 'bj-cy-blz'), blz, at(`${day}T12:00:00+08:00`)).doc.deadlines
    const want = acceptanceDueOn(cal, day)
    if (got.acceptanceDueOn !== want.date || got.provisional !== want.provisional) wrong.push(`${day}: ${got.acceptanceDueOn} ≠ ${want.date}`)
    let working = 0
    for (let d = addCalendarDays(day, 1); d <= (got.acceptanceDueOn as string); d = addCalendarDays(d, 1)) if (cal.isWorkingDay(d)) working++
    if (working !== 3 || !cal.isWorkingDay(got.acceptanceDueOn as string)) wrong.push(`${day}: ${got.acceptanceDueOn} is not the 3rd working day after`)
  }
  t.strictSame(wrong, [], 'every referral day of 2026: acceptanceDueOn, the 3rd working day after it')
})

t.test('assign', async (t) => {
  const NOW = '2026-01-14T10:00:00+08:00'
  const AT_CENTRE = variant(
    REFERRED,
    { organizationId: 'bj-cy-centre', heldBy: ['bj-cy-centre'] },
    { designation: { mode: 'party_selected', organizationId: 'bj-cy-centre' } },
  )
  const centre = org('bj-cy-centre', { kind: 'centre', regionCode: '110105', rosters: { ministry: true, courtSpecial: [] } })
  const cityCentre = org('bj-centre', { kind: 'centre', regionCode: '110100' })
  const blz = org('bj-cy-blz', { regionCode: '110105' })
  const haidian = org('bj-hd-xyz', { regionCode: '110108' })
  const earlier = { from: 'bj-centre', to: 'bj-cy-centre', assignedAt: iso('2026-01-13T12:00:00+08:00') }
  const rows: Array<Row & { r?: Referral; centre: Organization | undefined; target: Organization | undefined }> = [
    {
      name: 'a centre dispatches within its district',
      centre,
      target: blz,
      want: {
        status: 'referred',
        organizationId: 'bj-cy-blz',
        heldBy: ['bj-cy-centre', 'bj-cy-blz'],
        'doc.assignments': [{ from: 'bj-cy-centre', to: 'bj-cy-blz', assignedAt: '2026-01-14T02:00:00.000Z' }],
        'doc.designation': { mode: 'party_selected', organizationId: 'bj-cy-centre' },
      },
    },
    {
      name: 'a second dispatch appends, and heldBy has no duplicate',
      r: variant(AT_CENTRE, { heldBy: ['bj-centre', 'bj-cy-centre', 'bj-cy-blz'] }, { assignments: [earlier] }),
      centre,
      target: blz,
      want: {
        heldBy: ['bj-centre', 'bj-cy-centre', 'bj-cy-blz'],
        'doc.assignments': [earlier, { from: 'bj-cy-centre', to: 'bj-cy-blz', assignedAt: '2026-01-14T02:00:00.000Z' }],
      },
    },
    {
      name: 'a city centre (110100) covers a district (110108)',
      centre: cityCentre,
      target: haidian,
      want: { organizationId: 'bj-hd-xyz', heldBy: ['bj-cy-centre', 'bj-hd-xyz'] },
    },
    { name: 'the holder is unknown', centre: undefined, target: blz, err: rule('not_a_centre') },
    { name: 'the holder is a committee, not a centre', centre: org('bj-cy-centre', { kind: 'township_committee' }), target: blz, err: rule('not_a_centre') },
    { name: 'unknown target', centre, target: undefined, err: rule('not_on_roster') },
    { name: 'inactive target', centre, target: org('bj-cy-old', { active: false }), err: rule('organization_inactive') },
    { name: 'the centre itself', centre, target: centre, err: rule('outside_centre_region') },
    { name: 'a target in another district', centre, target: haidian, err: rule('outside_centre_region') },
    { name: 'a target in another province', centre: cityCentre, target: org('sh-hp', { regionCode: '310101' }), err: rule('outside_centre_region') },
    {
      name: 'inactive is reported before outside the region',
      centre,
      target: org('bj-hd-old', { regionCode: '110108', active: false }),
      err: rule('organization_inactive'),
    },
  ]
  for (const row of rows) verify(t, row, () => assign(row.r ?? AT_CENTRE, { organizationId: row.target?.id ?? 'nobody' }, row.centre, row.target, at(NOW)))
})

t.test('suspend', async (t) => {
  const rows: Array<Row & { b: SuspensionInput; now: string }> = [
    {
      name: 'appraisal, with a note: the due date stays until resumption',
      b: { reason: 'appraisal', note: '委托房屋漏水原因鉴定' },
      now: '2026-03-10T09:00:00+08:00',
      want: { status: 'mediating', 'doc.suspension': SUSPENSION, 'doc.deadlines': DEADLINES_MEDIATING },
    },
    {
      name: "no note; suspendedOn is Shanghai's date (03-10, though 03-09 in UTC)",
      b: { reason: 'suspected_false_mediation' },
      now: '2026-03-09T16:30:00Z',
      want: { 'doc.suspension': { reason: 'suspected_false_mediation', suspendedOn: '2026-03-10', suspendedAt: '2026-03-09T16:30:00.000Z' } },
    },
  ]
  for (const row of rows) verify(t, row, () => suspend(MEDIATING, row.b, at(row.now)))
})

t.test('resume', async (t) => {
  const closed = { reason: 'appraisal', note: '委托房屋漏水原因鉴定', suspendedOn: '2026-03-10' }
  const earlier = { reason: 'other', suspendedOn: '2026-03-03', resumedOn: '2026-03-04' }
  const rows: Array<Row & { r?: Referral; b: ResumptionInput; now: string }> = [
    {
      name: '4 days suspended: 04-01 + 4 = Sun 04-05, in Qingming; rolls to Tue 04-07',
      b: {},
      now: '2026-03-14T10:00:00+08:00',
      want: {
        status: 'suspended',
        'doc.suspension': undefined,
        'doc.suspensions': [{ ...closed, resumedOn: '2026-03-14' }],
        'doc.deadlines': { acceptanceDueOn: '2026-01-16', mediationDueOn: '2026-04-07', provisional: false },
      },
    },
    {
      name: 'resumed the same day: the due date does not move',
      b: {},
      now: '2026-03-10T18:00:00+08:00',
      want: { 'doc.deadlines.mediationDueOn': '2026-04-01', 'doc.suspensions': [{ ...closed, resumedOn: '2026-03-10' }] },
    },
    {
      name: "the resumption date is Shanghai's (03-12, though 03-11 in UTC): 2 days → Fri 04-03",
      b: {},
      now: '2026-03-11T16:30:00Z',
      want: { 'doc.deadlines.mediationDueOn': '2026-04-03' },
    },
    {
      name: 'a resumption note is kept with the closed suspension',
      b: { note: '鉴定意见已出具' },
      now: '2026-03-14T10:00:00+08:00',
      want: { 'doc.suspensions': [{ ...closed, resumedOn: '2026-03-14', resumeNote: '鉴定意见已出具' }] },
    },
    {
      name: 'earlier suspensions are kept',
      r: variant(SUSPENDED, {}, { suspensions: [earlier] }),
      b: {},
      now: '2026-03-14T10:00:00+08:00',
      want: { 'doc.suspensions': [earlier, { ...closed, resumedOn: '2026-03-14' }] },
    },
    {
      name: '10 days suspended moves Mon 12-28 to Thu 2027-01-07: provisional',
      r: variant(
        SUSPENDED,
        {},
        {
          // Accepted Sat 11-28: 30 days → Mon 12-28, the unrolled date too.
          acceptedAt: iso('2026-11-28T10:00:00+08:00'),
          deadlines: { acceptanceDueOn: '2026-11-20', mediationDueOn: '2026-12-28', provisional: false },
          suspension: { ...SUSPENSION, suspendedOn: '2026-12-01' },
        },
      ),
      b: {},
      now: '2026-12-11T10:00:00+08:00',
      want: { 'doc.deadlines': { acceptanceDueOn: '2026-11-20', mediationDueOn: '2027-01-07', provisional: true } },
    },
  ]
  for (const row of rows) verify(t, row, () => resume(row.r ?? SUSPENDED, row.b, at(row.now)))
  for (const [suspendedOn, resumedOn] of [
    ['2026-03-10', '2026-03-14'],
    ['2026-03-10', '2026-03-12'],
    ['2026-03-10', '2026-03-10'],
  ]) {
    const r = variant(SUSPENDED, {}, { suspension: { ...SUSPENSION, suspendedOn } })
    t.equal(
      resume(r, {}, at(`${resumedOn}T12:00:00+08:00`)).doc.deadlines.mediationDueOn,
      resumedDueOn(cal, '2026-04-01', suspendedOn, resumedOn).date,
      `agrees with resumedDueOn: ${suspendedOn} → ${resumedOn}`,
    )
  }
})

t.test('extend', async (t) => {
  const NOW = '2026-03-20T10:00:00+08:00'
  const consent = (...indexes: number[]) => indexes.map((partyIndex) => ({ partyIndex, consentedAt: '2026-03-20T09:00:00+08:00', method: 'written' as const }))
  const first = { previousDueOn: '2026-04-01', newDueOn: '2026-04-15', consent: consent(0, 1, 2), extendedAt: '2026-03-20T02:00:00.000Z' }
  const rows: Array<Row & { r?: Referral; b: ExtensionInput }> = [
    {
      name: 'every party consents to a later date',
      b: { newDueOn: '2026-04-15', consent: consent(0, 1, 2) },
      want: {
        status: 'mediating',
        'doc.deadlines': { acceptanceDueOn: '2026-01-16', mediationDueOn: '2026-04-15', provisional: false },
        'doc.extensions': [first],
      },
    },
    {
      name: 'a second extension is appended and starts from the extended date',
      r: variant(MEDIATING, {}, { deadlines: { ...DEADLINES_MEDIATING, mediationDueOn: '2026-04-15' }, extensions: [first] }),
      b: { newDueOn: '2026-04-30', consent: consent(2, 1, 0) },
      want: {
        'doc.deadlines.mediationDueOn': '2026-04-30',
        'doc.extensions': [first, { previousDueOn: '2026-04-15', newDueOn: '2026-04-30', consent: consent(2, 1, 0), extendedAt: '2026-03-20T02:00:00.000Z' }],
      },
    },
    { name: 'the same date is not later', b: { newDueOn: '2026-04-01', consent: consent(0, 1, 2) }, err: rule('due_date_not_later') },
    { name: 'an earlier date', b: { newDueOn: '2026-03-31', consent: consent(0, 1, 2) }, err: rule('due_date_not_later') },
    { name: 'the third party did not consent', b: { newDueOn: '2026-04-15', consent: consent(0, 1) }, err: rule('consent_required') },
    {
      name: 'consent of a party that does not exist',
      b: { newDueOn: '2026-04-15', consent: consent(0, 1, 3) },
      err: invalid('/consent/2/partyIndex invalid_party_index'),
    },
    { name: 'consent is checked before the date', b: { newDueOn: '2026-03-01', consent: consent(0) }, err: rule('consent_required') },
  ]
  for (const row of rows) verify(t, row, () => extend(row.r ?? MEDIATING, row.b, at(NOW)))
})

t.test('recordAgreement', async (t) => {
  const NOW = '2026-03-20T12:00:00+08:00'
  const signatures = [
    { partyIndex: 0, signedAt: '2026-03-20T10:00:00+08:00' },
    { partyIndex: 2, signedAt: '2026-03-20T10:30:00+08:00' },
    { partyIndex: 1, signedAt: '2026-03-20T10:10:00+08:00' },
  ]
  const performance = { method: 'deferred' as const, dueOn: '2026-04-30' }
  const signed = { mediatorSignedAt: '2026-03-20T10:20:00+08:00', sealedAt: '2026-03-20T10:25:00+08:00' }
  const written: AgreementInput = {
    agreementNumber: '朝八调〔2026〕17号',
    form: 'written',
    terms: TERMS,
    amount: '5000.00',
    signatures,
    ...signed,
    performance,
  }
  const oral: AgreementInput = { form: 'oral', terms: TERMS, signatures: [], reachedAt: '2026-03-19T18:00:00+08:00', performance }
  const DOC = { materialId: '0192f3a4-5b6c-7d8e-9f01-000000000001', sha256: sha256('signed pdf') }
  const rows: Array<Row & { b: AgreementInput; doc?: typeof DOC }> = [
    {
      name: 'written: effective at the latest of signatures, mediator and seal (a party, listed second), sha256 of the terms',
      b: written,
      want: {
        status: 'mediating',
        'doc.agreement': {
          agreementNumber: '朝八调〔2026〕17号',
          form: 'written',
          terms: TERMS,
          amount: '5000.00',
          signatures,
          ...signed,
          effectiveAt: '2026-03-20T02:30:00.000Z',
          performance,
          sha256: sha256(TERMS),
          recordedAt: '2026-03-20T04:00:00.000Z',
        },
      },
    },
    {
      name: 'written: the seal last',
      b: { ...written, sealedAt: '2026-03-20T11:00:00+08:00' },
      want: { 'doc.agreement.effectiveAt': '2026-03-20T03:00:00.000Z' },
    },
    {
      name: 'written: the mediator last',
      b: { ...written, mediatorSignedAt: '2026-03-20T11:30:00+08:00' },
      want: { 'doc.agreement.effectiveAt': '2026-03-20T03:30:00.000Z' },
    },
    {
      name: 'the effectiveAt given agrees (another offset, same instant)',
      b: { ...written, effectiveAt: '2026-03-20T02:30:00Z' },
      want: { 'doc.agreement.effectiveAt': '2026-03-20T02:30:00.000Z' },
    },
    {
      name: 'electronic, without number or amount; sha256("abc") is the FIPS 180-2 vector',
      b: {
        form: 'electronic',
        terms: 'abc',
        signatures: [signatures[0], signatures[2], { partyIndex: 2, signedAt: '2026-03-20T11:00:00+08:00' }],
        ...signed,
        performance: { method: 'immediate' },
      },
      want: {
        'doc.agreement.sha256': 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
        'doc.agreement.effectiveAt': '2026-03-20T03:00:00.000Z',
        'doc.agreement.agreementNumber': undefined,
        'doc.agreement.amount': undefined,
        'doc.agreement.performance': { method: 'immediate' },
      },
    },
    {
      name: 'oral: effective when reached; no signatures needed',
      b: oral,
      want: {
        'doc.agreement.effectiveAt': '2026-03-19T10:00:00.000Z',
        'doc.agreement.form': 'oral',
        'doc.agreement.reachedAt': '2026-03-19T18:00:00+08:00',
        'doc.agreement.signatures': [],
        'doc.agreement.mediatorSignedAt': undefined,
      },
    },
    {
      name: 'oral: signatures later than reachedAt do not move it',
      b: { ...oral, signatures, effectiveAt: '2026-03-19T10:00:00Z' },
      want: { 'doc.agreement.effectiveAt': '2026-03-19T10:00:00.000Z' },
    },
    {
      name: 'the signed document: its id and sha256',
      b: { ...written, documentMaterialId: DOC.materialId },
      doc: DOC,
      want: { 'doc.agreement.documentMaterialId': DOC.materialId, 'doc.agreement.documentSha256': DOC.sha256 },
    },
    { name: 'no document, no document fields', b: written, want: { 'doc.agreement.documentMaterialId': undefined, 'doc.agreement.documentSha256': undefined } },
    {
      name: 'a signature 4 minutes ahead of the clock is within the skew',
      b: { ...written, signatures: [...signatures.slice(0, 2), { partyIndex: 1, signedAt: '2026-03-20T12:04:00+08:00' }] },
      want: { 'doc.agreement.effectiveAt': '2026-03-20T04:04:00.000Z' },
    },
    { name: 'oral without reachedAt', b: { form: 'oral', terms: TERMS, signatures, performance }, err: invalid('/reachedAt required') },
    {
      name: 'oral with only effectiveAt (the v1.0 form)',
      b: { form: 'oral', terms: TERMS, signatures: [], effectiveAt: '2026-03-19T18:00:00+08:00', performance },
      err: invalid('/reachedAt required'),
    },
    {
      name: 'a signature of a party that does not exist, and oral without reachedAt',
      b: { form: 'oral', terms: TERMS, signatures: [signatures[0], { partyIndex: 3, signedAt: '2026-03-20T10:00:00+08:00' }], performance },
      err: invalid('/signatures/1/partyIndex invalid_party_index', '/reachedAt required'),
    },
    {
      name: 'the third party did not sign',
      b: { ...written, signatures: [signatures[0], signatures[2]] },
      err: rule('signatures_incomplete', { missing: ['signatures'] }),
    },
    { name: 'written without any signature', b: { ...written, signatures: [] }, err: rule('signatures_incomplete', { missing: ['signatures'] }) },
    {
      name: 'a party signing twice is not everyone',
      b: { ...written, signatures: [signatures[0], signatures[2], { ...signatures[2] }] },
      err: rule('signatures_incomplete', { missing: ['signatures'] }),
    },
    {
      name: 'written without the mediator’s signature',
      b: { ...written, mediatorSignedAt: undefined },
      err: rule('signatures_incomplete', { missing: ['mediatorSignedAt'] }),
    },
    {
      name: 'electronic without the seal',
      b: { ...written, form: 'electronic', sealedAt: undefined },
      err: rule('signatures_incomplete', { missing: ['sealedAt'] }),
    },
    {
      name: 'written with neither',
      b: { ...written, mediatorSignedAt: undefined, sealedAt: undefined },
      err: rule('signatures_incomplete', { missing: ['mediatorSignedAt', 'sealedAt'] }),
    },
    {
      name: 'an effectiveAt at the last party signature (the v1.0 rule) is not the effect',
      b: { ...written, sealedAt: '2026-03-20T11:00:00+08:00', effectiveAt: '2026-03-20T10:30:00+08:00' },
      err: rule('effective_at_mismatch', { effectiveAt: '2026-03-20T03:00:00.000Z' }),
    },
    {
      name: 'oral: an effectiveAt other than reachedAt',
      b: { ...oral, effectiveAt: '2026-03-20T09:00:00+08:00' },
      err: rule('effective_at_mismatch', { effectiveAt: '2026-03-19T10:00:00.000Z' }),
    },
    {
      name: 'a signature 6 minutes ahead of the clock',
      b: { ...written, signatures: [...signatures.slice(0, 2), { partyIndex: 1, signedAt: '2026-03-20T12:06:00+08:00' }] },
      err: rule('timestamp_in_future', { path: 'signatures/2/signedAt' }),
    },
    { name: 'a seal in the future', b: { ...written, sealedAt: '2026-03-20T13:00:00+08:00' }, err: rule('timestamp_in_future', { path: 'sealedAt' }) },
    {
      name: 'a mediator’s signature in the future',
      b: { ...written, mediatorSignedAt: '2026-03-21T10:00:00+08:00' },
      err: rule('timestamp_in_future', { path: 'mediatorSignedAt' }),
    },
    { name: 'oral reached in the future', b: { ...oral, reachedAt: '2026-03-20T13:00:00+08:00' }, err: rule('timestamp_in_future', { path: 'reachedAt' }) },
    {
      name: 'incomplete signatures come before the clock',
      b: { ...written, signatures: [{ partyIndex: 0, signedAt: '2027-01-01T00:00:00+08:00' }] },
      err: rule('signatures_incomplete', { missing: ['signatures'] }),
    },
  ]
  for (const row of rows) verify(t, row, () => recordAgreement(MEDIATING, row.b, at(NOW), row.doc))
})

t.test('terminate', async (t) => {
  const NOW = '2026-03-25T10:00:00+08:00'
  const fact = { statement: '漏水源自被申请人住宅卫生间', confirmedBy: [2, 1, 0] }
  const termination = { reason: 'gap_too_large', report: '双方对赔偿数额分歧过大，调解不成。', terminatedAt: '2026-03-25T02:00:00.000Z', by: 'organization' }
  const rows: Array<Row & { r?: Referral; b: TerminationInput }> = [
    {
      name: 'a reason and a report',
      b: { reason: 'gap_too_large', report: termination.report },
      want: { status: 'mediating', 'doc.termination': termination },
    },
    {
      name: 'undisputed facts confirmed by every party',
      b: { reason: 'gap_too_large', report: termination.report, undisputedFacts: [fact] },
      want: { 'doc.termination': { ...termination, undisputedFacts: [fact] } },
    },
    {
      name: 'an empty list of facts is left out',
      b: { reason: 'gap_too_large', report: termination.report, undisputedFacts: [] },
      want: { 'doc.termination': termination },
    },
    {
      name: 'from suspended: the open suspension ends with the case',
      r: SUSPENDED,
      b: { reason: 'party_refused', report: '被申请人拒绝继续调解' },
      want: {
        'doc.suspension': undefined,
        'doc.termination': { reason: 'party_refused', report: '被申请人拒绝继续调解', terminatedAt: '2026-03-25T02:00:00.000Z', by: 'organization' },
      },
    },
    {
      name: 'a fact the third party did not confirm',
      b: { reason: 'other', report: '报告', undisputedFacts: [fact, { statement: '双方曾协商', confirmedBy: [0, 1] }] },
      err: rule('signatures_incomplete'),
    },
    {
      name: 'a fact confirmed by a party that does not exist',
      b: { reason: 'other', report: '报告', undisputedFacts: [fact, { statement: '双方曾协商', confirmedBy: [0, 1, 3] }] },
      err: invalid('/undisputedFacts/1/confirmedBy/2 invalid_party_index'),
    },
  ]
  for (const row of rows) verify(t, row, () => terminate(row.r ?? MEDIATING, row.b, at(NOW)))
})

t.test('returnMaterials', async (t) => {
  const NOW = '2026-03-26T10:00:00+08:00'
  const report = '调解终结报告：双方分歧过大。纸质卷宗另行移送。'
  const rows: Array<Row & { b: MaterialReturnInput }> = [
    {
      name: 'materials, a report and the time',
      b: { materials: [{ materialId: 'm-1' }, { materialId: 'm-2' }], report, returnedAt: '2026-03-26T09:00:00+08:00' },
      want: {
        status: 'terminated',
        'doc.materialReturn': { materials: [{ materialId: 'm-1' }, { materialId: 'm-2' }], report, returnedAt: '2026-03-26T01:00:00.000Z' },
        'doc.termination': TERMINATION,
      },
    },
    {
      name: 'no materials (the file goes back on paper)',
      b: { materials: [], report, returnedAt: '2026-03-26T10:04:00+08:00' },
      want: { 'doc.materialReturn': { materials: [], report, returnedAt: '2026-03-26T02:04:00.000Z' } },
    },
    {
      name: 'returnedAt 6 minutes ahead of the clock',
      b: { materials: [], report, returnedAt: '2026-03-26T10:06:00+08:00' },
      err: rule('timestamp_in_future', { path: 'returnedAt' }),
    },
  ]
  for (const row of rows) verify(t, row, () => returnMaterials(TERMINATED, row.b, at(NOW)))
})

t.test('registerCase', async (t) => {
  const NOW = '2026-04-12T10:00:00+08:00'
  const rows: Array<Row & { b: CourtFilingInput }> = [
    {
      name: 'a new 民初 number of the referring court, stored full-width',
      b: { action: 'case_registered', caseNumber: '(2026)京0105民初23456号', filedOn: '2026-04-12' },
      want: {
        status: 'materials_returned',
        caseNumber: REFERRED.caseNumber,
        'doc.courtFiling': { action: 'case_registered', caseNumber: '（2026）京0105民初23456号', filedOn: '2026-04-12' },
      },
    },
    { name: 'no case number', b: { action: 'case_registered', filedOn: '2026-04-12' }, err: invalid('/caseNumber required') },
    { name: 'no filing date', b: { action: 'case_registered', caseNumber: '（2026）京0105民初23456号' }, err: invalid('/filedOn required') },
    {
      name: 'a resumption date',
      b: { action: 'case_registered', caseNumber: '（2026）京0105民初23456号', filedOn: '2026-04-12', resumedOn: '2026-04-12' },
      err: invalid('/resumedOn not_allowed'),
    },
    {
      name: 'a number of another court',
      b: { action: 'case_registered', caseNumber: '（2026）京0106民初23456号', filedOn: '2026-04-12' },
      err: invalid('/caseNumber invalid_case_number'),
    },
    { name: 'nothing', b: { action: 'case_registered' }, err: invalid('/caseNumber required', '/filedOn required') },
    {
      name: 'every error, in order',
      b: { action: 'case_registered', caseNumber: '（2026）京0106民初1号', resumedOn: '2026-04-12' },
      err: invalid('/filedOn required', '/resumedOn not_allowed', '/caseNumber invalid_case_number'),
    },
  ]
  for (const row of rows) verify(t, row, () => registerCase(RETURNED, row.b, at(NOW)))
  // v1.1: the court's follow-up also when mediation never started (the machine allows declined and recalled).
  const b: CourtFilingInput = { action: 'case_registered', caseNumber: '（2026）京0105民初23457号', filedOn: '2026-04-12' }
  for (const status of ['declined', 'recalled'] as const) {
    verify(t, { name: `from ${status}`, want: { 'doc.courtFiling': { ...b } } }, () => registerCase(variant(REFERRED, { status }), b, at(NOW)))
  }
})

t.test('resumeTrial', async (t) => {
  const r = variant(RETURNED, IN_LITIGATION, { procedure: 'ordinary' })
  const rows: Array<Row & { b: CourtFilingInput }> = [
    {
      name: 'a resumption date',
      b: { action: 'trial_resumed', resumedOn: '2026-04-12' },
      want: { caseNumber: '（2026）京0105民初88号', 'doc.courtFiling': { action: 'trial_resumed', resumedOn: '2026-04-12' } },
    },
    { name: 'no resumption date', b: { action: 'trial_resumed' }, err: invalid('/resumedOn required') },
    {
      name: 'a new case number',
      b: { action: 'trial_resumed', resumedOn: '2026-04-12', caseNumber: '（2026）京0105民初23456号' },
      err: invalid('/caseNumber not_allowed'),
    },
    { name: 'a filing date', b: { action: 'trial_resumed', resumedOn: '2026-04-12', filedOn: '2026-04-12' }, err: invalid('/filedOn not_allowed') },
  ]
  for (const row of rows) verify(t, row, () => resumeTrial(r, row.b))
  for (const status of ['declined', 'recalled'] as const) {
    verify(t, { name: `from ${status}`, want: { 'doc.courtFiling': { action: 'trial_resumed', resumedOn: '2026-04-12' } } }, () =>
      resumeTrial(variant(REFERRED, { ...IN_LITIGATION, status }, { procedure: 'ordinary' }), { action: 'trial_resumed', resumedOn: '2026-04-12' }),
    )
  }
})

t.test('close', async (t) => {
  const NOW = '2026-03-27T10:00:00+08:00'
  const agreedInLitigation = variant(AGREED, IN_LITIGATION, { procedure: 'ordinary' })
  const closedAt = '2026-03-27T02:00:00.000Z'
  const rows: Array<Row & { r: Referral; b: ClosureInput }> = [
    {
      name: 'pre-filing: agreement filed (备案) with a document number',
      r: AGREED,
      b: { disposition: 'agreement_filed', documentNumber: '（2026）京0105民诉前调1024号' },
      want: { status: 'agreed', 'doc.closure': { disposition: 'agreement_filed', documentNumber: '（2026）京0105民诉前调1024号', closedAt } },
    },
    {
      name: 'pre-filing: agreement filed, no document number',
      r: AGREED,
      b: { disposition: 'agreement_filed' },
      want: { 'doc.closure': { disposition: 'agreement_filed', closedAt } },
    },
    {
      name: 'in litigation: a 调解书',
      r: agreedInLitigation,
      b: { disposition: 'mediation_document_issued', documentNumber: '（2026）京0105民初88号' },
      want: { 'doc.closure': { disposition: 'mediation_document_issued', documentNumber: '（2026）京0105民初88号', closedAt } },
    },
    {
      name: 'in litigation: suit withdrawn',
      r: agreedInLitigation,
      b: { disposition: 'suit_withdrawn' },
      want: { 'doc.closure': { disposition: 'suit_withdrawn', closedAt } },
    },
    { name: 'pre-filing cannot end in a 调解书', r: AGREED, b: { disposition: 'mediation_document_issued' }, err: illegal('agreed') },
    { name: 'pre-filing cannot end in a withdrawal', r: AGREED, b: { disposition: 'suit_withdrawn' }, err: illegal('agreed') },
    { name: 'in litigation cannot end in 备案', r: agreedInLitigation, b: { disposition: 'agreement_filed' }, err: illegal('agreed') },
  ]
  for (const row of rows) verify(t, row, () => close(row.r, row.b, at(NOW)))
})

t.test('reportPerformance', async (t) => {
  const CLOSED = variant(
    AGREED,
    { status: 'closed' },
    {
      closure: { disposition: 'agreement_filed', closedAt: iso('2026-03-27T10:00:00+08:00') },
      performance: { status: 'not_performed', reportedOn: '2026-04-01', reportedAt: iso('2026-04-01T10:00:00+08:00') },
    },
  )
  const rows: Array<Row & { r: Referral; b: PerformanceInput; now: string }> = [
    {
      name: 'agreed, with a note',
      r: AGREED,
      b: { status: 'performed', reportedOn: '2026-04-30', note: '回访确认已全额履行' },
      now: '2026-04-30T16:00:00+08:00',
      want: {
        status: 'agreed',
        'doc.performance': { status: 'performed', reportedOn: '2026-04-30', note: '回访确认已全额履行', reportedAt: '2026-04-30T08:00:00.000Z' },
      },
    },
    {
      name: 'closed: the latest report replaces the earlier one',
      r: CLOSED,
      b: { status: 'partially_performed', reportedOn: '2026-05-06' },
      now: '2026-05-06T09:00:00+08:00',
      want: { status: 'closed', 'doc.performance': { status: 'partially_performed', reportedOn: '2026-05-06', reportedAt: '2026-05-06T01:00:00.000Z' } },
    },
  ]
  for (const row of rows) verify(t, row, () => reportPerformance(row.r, row.b, at(row.now)))
})

// ---------------------------------------------------------------------------------------------
// Deadlines

t.test('expiryDue', async (t) => {
  const now = new Date('2026-04-02T00:00:05+08:00')
  const declinedBySystem = { reason: 'acceptance_timeout', declinedAt: '2026-04-01T16:00:05.000Z', by: 'system' }
  const terminatedBySystem = { reason: 'deadline_expired', terminatedAt: '2026-04-01T16:00:05.000Z', by: 'system' }
  const rows: Array<{ name: string; r: Referral; today: string; want: null | { action: string; field: string; value: unknown } }> = [
    {
      name: 'referred, the day after the acceptance deadline',
      r: REFERRED,
      today: '2026-01-17',
      want: { action: 'acceptance_timeout', field: 'decline', value: declinedBySystem },
    },
    { name: 'referred, on the acceptance deadline', r: REFERRED, today: '2026-01-16', want: null },
    { name: 'referred, before the acceptance deadline', r: REFERRED, today: '2026-01-14', want: null },
    {
      name: 'referred without an acceptance deadline',
      r: variant(REFERRED, {}, { deadlines: { acceptanceDueOn: null, mediationDueOn: null, provisional: false } }),
      today: '2026-12-31',
      want: null,
    },
    {
      name: 'referred: a passed mediation date is not an acceptance timeout',
      r: variant(REFERRED, {}, { deadlines: { acceptanceDueOn: '2026-12-31', mediationDueOn: '2026-01-01', provisional: false } }),
      today: '2026-04-02',
      want: null,
    },
    {
      name: 'mediating, the day after the mediation deadline',
      r: MEDIATING,
      today: '2026-04-02',
      want: { action: 'mediation_timeout', field: 'termination', value: terminatedBySystem },
    },
    { name: 'mediating, on the mediation deadline', r: MEDIATING, today: '2026-04-01', want: null },
    { name: 'mediating: a passed acceptance date does not matter', r: MEDIATING, today: '2026-03-01', want: null },
    { name: 'suspended past the (stopped) deadline', r: SUSPENDED, today: '2026-05-01', want: null },
    { name: 'agreed past the deadline', r: AGREED, today: '2026-05-01', want: null },
    { name: 'declined past the acceptance deadline', r: variant(REFERRED, { status: 'declined' }), today: '2026-05-01', want: null },
    { name: 'recalled past the acceptance deadline', r: variant(REFERRED, { status: 'recalled' }), today: '2026-05-01', want: null },
  ]
  for (const row of rows) {
    const got = expiryDue(row.r, row.today, now)
    if (row.want === null) {
      t.equal(got, null, row.name)
      continue
    }
    const field = row.want.field as 'decline' | 'termination'
    t.strictSame(
      got && { action: got.action, status: got.after.status, value: got.after.doc[field], deadlines: got.after.doc.deadlines },
      { action: row.want.action, status: row.r.status, value: row.want.value, deadlines: row.r.doc.deadlines },
      row.name,
    )
  }
})

t.test('pendingDeadline', async (t) => {
  const rows: Array<[ReferralStatus, string | null]> = [
    ['referred', '2026-01-16'],
    ['mediating', '2026-04-01'],
    ['declined', null],
    ['suspended', null],
    ['agreed', null],
    ['terminated', null],
    ['materials_returned', null],
    ['closed', null],
    ['recalled', null],
  ]
  const both = variant(REFERRED, {}, { deadlines: { acceptanceDueOn: '2026-01-16', mediationDueOn: '2026-04-01', provisional: false } })
  for (const [status, want] of rows) t.equal(pendingDeadline(variant(both, { status })), want, status)
})
