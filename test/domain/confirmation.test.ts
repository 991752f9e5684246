import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { LegalCalendar, type LunarYear, type YearArrangement } from '../../src/domain/calendar.js'
import {
  agreementEffectiveAt,
  agreementSha256,
  applicationTiming,
  checkAgreementIntegrity,
  checkJointApplication,
  checkReferringCourt,
  checkStandaloneVenue,
  checkSubject,
  CONFIRMATION_STATUSES,
  type Confirmation,
  type ConfirmationAction,
  confirmationPersonalFields,
  type ConfirmationStatus,
  confirmationView,
  decideConfirmationTransition,
  isBasicCourt,
  isReviewOverdue,
  maskFreeText,
  referralAllowsConfirmation,
  type Venue,
} from '../../src/domain/confirmation.js'
import type { Role } from '../../src/domain/principal.js'

function readYears<T>(file: string): Record<string, T> {
  return (JSON.parse(readFileSync(new URL(`../../data/${file}`, import.meta.url), 'utf8')) as { years: Record<string, T> }).years
}
const cal = new LegalCalendar({ arrangements: readYears<YearArrangement>('holidays.json'), lunar: readYears<LunarYear>('statutory-lunar.json') })

t.test('transition table: every (state, action, role)', async (t) => {
  type To = ConfirmationStatus | 'same' | 'ruled'
  const allowed: Record<string, { by: Role | 'system'; from: ConfirmationStatus[]; to: To; event: string }> = {
    accept: { by: 'court', from: ['applied'], to: 'under_review', event: 'confirmation.accepted' },
    not_accept: { by: 'court', from: ['applied'], to: 'not_accepted', event: 'confirmation.not_accepted' },
    withdraw: { by: 'mediation', from: ['applied', 'under_review'], to: 'withdrawn', event: 'confirmation.withdrawn' },
    rule_valid: { by: 'court', from: ['under_review'], to: 'ruled_valid', event: 'confirmation.ruled' },
    rule_rejected: { by: 'court', from: ['under_review'], to: 'ruled_rejected', event: 'confirmation.ruled' },
    request_materials: { by: 'court', from: ['under_review'], to: 'materials_requested', event: 'confirmation.materials_requested' },
    supplement_materials: { by: 'mediation', from: ['materials_requested'], to: 'under_review', event: 'confirmation.materials_supplemented' },
    deem_withdrawn: { by: 'system', from: ['materials_requested'], to: 'deemed_withdrawn', event: 'confirmation.deemed_withdrawn' },
    extend_review: { by: 'court', from: ['under_review', 'materials_requested'], to: 'same', event: 'confirmation.review_extended' },
    file_objection: { by: 'court', from: ['ruled_valid', 'ruled_rejected'], to: 'objection_filed', event: 'confirmation.objection_filed' },
    revoke_ruling: { by: 'court', from: ['objection_filed'], to: 'ruling_revoked', event: 'confirmation.objection_ruled' },
    dismiss_objection: { by: 'court', from: ['objection_filed'], to: 'ruled', event: 'confirmation.objection_ruled' },
  }
  const roles: Array<Role | 'system'> = ['court', 'mediation', 'operator', 'system']
  let rows = 0
  for (const [action, rule] of Object.entries(allowed)) {
    for (const status of CONFIRMATION_STATUSES) {
      for (const role of roles) {
        for (const ruled of ['valid', 'rejected'] as const) {
          const got = decideConfirmationTransition(status, action as ConfirmationAction, role, ruled)
          const to = rule.to === 'same' ? status : rule.to === 'ruled' ? (`ruled_${ruled}` as const) : rule.to
          const want =
            role !== rule.by
              ? { ok: false, reason: 'forbidden' }
              : rule.from.includes(status)
                ? { ok: true, to, event: rule.event }
                : { ok: false, reason: 'illegal_transition' }
          t.same(got, want, `${status} × ${action} × ${role} (ruled ${ruled})`)
          rows++
        }
      }
    }
  }
  t.equal(rows, 12 * 10 * 4 * 2)
  t.same(decideConfirmationTransition('none', 'apply', 'mediation'), { ok: true, to: 'applied', event: 'confirmation.applied' })
  t.same(decideConfirmationTransition('none', 'apply', 'court'), { ok: false, reason: 'forbidden' })
  t.same(decideConfirmationTransition('applied', 'apply', 'mediation'), { ok: false, reason: 'illegal_transition' })
  t.same(decideConfirmationTransition('none', 'accept', 'court'), { ok: false, reason: 'illegal_transition' })
  t.same(decideConfirmationTransition('objection_filed', 'dismiss_objection', 'court'), { ok: false, reason: 'illegal_transition' }, 'no ruling on record')
})

t.test('which referrals may go to confirmation', async (t) => {
  const cases: Array<[string, string | undefined, boolean]> = [
    ['agreed', undefined, true],
    ['closed', 'agreement_filed', true],
    ['closed', 'mediation_document_issued', false],
    ['closed', 'suit_withdrawn', false],
    ['mediating', undefined, false],
    ['terminated', undefined, false],
    ['referred', undefined, false],
    ['materials_returned', undefined, false],
  ]
  for (const [status, disposition, ok] of cases) t.equal(referralAllowsConfirmation(status, disposition), ok, `${status}/${disposition}`)
})

t.test('subjects (民诉法解释 355)', async (t) => {
  t.equal(checkSubject('ordinary'), null)
  for (const s of ['personal_status', 'property_title', 'ip_title'] as const) t.equal(checkSubject(s)?.code, 'excluded_subject', s)
})

t.test('agreement integrity', async (t) => {
  const terms = '李四向张三支付 8000 元。𠀀·阿依古丽'
  const sha = agreementSha256(terms)
  t.equal(sha, createHash('sha256').update(Buffer.from(terms, 'utf8')).digest('hex'))
  t.match(sha, /^[0-9a-f]{64}$/)
  t.equal(checkAgreementIntegrity(sha, sha), null)
  t.equal(checkAgreementIntegrity(sha, sha.toUpperCase()), null, 'hex case is not significant')
  t.equal(checkAgreementIntegrity(sha, undefined)?.code, 'agreement_mismatch', 'missing')
  t.equal(checkAgreementIntegrity(sha, agreementSha256(`${terms} `))?.code, 'agreement_mismatch', 'one byte more')
  t.equal(checkAgreementIntegrity(sha, 'wrong')?.code, 'agreement_mismatch')
})

t.test('joint application', async (t) => {
  const cases: Array<[number, number[], boolean]> = [
    [2, [0, 1], true],
    [2, [1, 0, 1], true],
    [2, [0], false],
    [3, [0, 1], false],
    [3, [0, 1, 2], true],
  ]
  for (const [n, applicants, ok] of cases) t.equal(checkJointApplication(n, applicants) === null, ok, `${n} parties, ${applicants}`)
  t.equal(checkJointApplication(2, [0])?.code, 'joint_application_required')
})

t.test('courts', async (t) => {
  const basic: Array<[string, boolean]> = [
    ['京0105', true],
    ['粤0604', true],
    ['粤07', false],
    ['京', false],
    ['最高法', false],
    ['京010', false],
  ]
  for (const [code, ok] of basic) t.equal(isBasicCourt(code), ok, code)
  t.equal(checkReferringCourt('京0105', '京0105'), null)
  t.equal(checkReferringCourt('京0105', '京0106')?.code, 'wrong_court')

  const venues: Array<[string, string, Venue, boolean, string]> = [
    ['京0105', '110105', { basis: 'organization_seat' }, true, 'court of the organization’s district'],
    ['京0106', '110105', { basis: 'organization_seat' }, false, 'another district'],
    ['京01', '110105', { basis: 'organization_seat' }, false, 'an intermediate court is not a basic court'],
    ['京0105', '110000', { basis: 'organization_seat' }, false, 'a city-level organization is not in one district'],
    ['京0106', '110105', { basis: 'party_domicile', regionCode: '110106' }, true, 'party domicile'],
    ['京0106', '110105', { basis: 'subject_matter', regionCode: '110106' }, true, 'subject matter'],
    ['京0106', '110105', { basis: 'party_domicile', regionCode: '110105' }, false, 'domicile elsewhere'],
    ['京0106', '110105', { basis: 'party_domicile' }, false, 'no region given'],
    ['粤0604', '440604', { basis: 'organization_seat' }, true, 'Guangdong'],
    // 205(2), last sentence: an intermediate court of the same province.
    ['粤07', '440604', { basis: 'organization_seat', intermediate: true }, true, 'intermediate: 粤07 for a Foshan organization (same province)'],
    ['粤06', '440604', { basis: 'organization_seat', intermediate: true }, true, 'intermediate: any intermediate court of the province'],
    ['京01', '110105', { basis: 'organization_seat', intermediate: true }, true, 'intermediate: a municipality'],
    ['京01', '440604', { basis: 'organization_seat', intermediate: true }, false, 'intermediate: another province'],
    ['京02', '110105', { basis: 'party_domicile', regionCode: '440604', intermediate: true }, false, 'intermediate: the domicile in another province'],
    ['粤07', '110105', { basis: 'subject_matter', regionCode: '440604', intermediate: true }, true, 'intermediate: subject matter in the province'],
    ['粤0604', '440604', { basis: 'organization_seat', intermediate: true }, false, 'intermediate: a basic court is not one'],
    ['粤', '440604', { basis: 'organization_seat', intermediate: true }, false, 'intermediate: a high court is not one'],
    ['粤07', '440604', { basis: 'organization_seat', intermediate: false }, false, 'not intermediate: 粤07 is no basic court'],
    ['粤07', '440604', { basis: 'organization_seat' }, false, 'no venue.intermediate: 粤07 is no basic court'],
    ['粤07', '440604', { basis: 'party_domicile', intermediate: true }, false, 'intermediate, no region given'],
  ]
  for (const [court, orgRegion, venue, ok, why] of venues) {
    const got = checkStandaloneVenue(court, orgRegion, venue)
    t.equal(got === null, ok, why)
    if (!ok) t.equal(got?.code, 'wrong_court', why)
  }
})

t.test('effective time', async (t) => {
  const sigs = [{ signedAt: '2026-09-01T10:00:00+08:00' }, { signedAt: '2026-09-01T23:30:00+08:00' }]
  const signed = { mediatorSignedAt: '2026-09-01T15:00:00Z', sealedAt: '2026-09-01T15:10:00Z' }
  t.equal(agreementEffectiveAt({ form: 'written', signatures: sigs, ...signed }), '2026-09-01T15:30:00.000Z', 'a party signed last')
  t.equal(agreementEffectiveAt({ form: 'written', signatures: sigs, ...signed, sealedAt: '2026-09-01T16:00:00Z' }), '2026-09-01T16:00:00.000Z', 'sealed last')
  t.equal(
    agreementEffectiveAt({ form: 'electronic', signatures: sigs, ...signed, mediatorSignedAt: '2026-09-02T01:00:00+08:00' }),
    '2026-09-01T17:00:00.000Z',
    'the mediator signed last',
  )
  t.equal(
    agreementEffectiveAt({ form: 'electronic', signatures: sigs, ...signed, effectiveAt: '2020-01-01T00:00:00Z' }),
    '2026-09-01T15:30:00.000Z',
    'a stated time is not the effect',
  )
  t.equal(agreementEffectiveAt({ form: 'oral', signatures: sigs, reachedAt: '2026-08-30T09:00:00+08:00' }), '2026-08-30T01:00:00.000Z', 'oral: when reached')
  t.equal(agreementEffectiveAt({ form: 'oral', signatures: [], reachedAt: '2026-08-30T09:00:00+08:00' }), '2026-08-30T01:00:00.000Z', 'oral without signatures')
  t.equal(agreementEffectiveAt({ form: 'oral', signatures: sigs, effectiveAt: '2026-08-30T09:00:00+08:00' }), null, 'oral without reachedAt')
  t.equal(agreementEffectiveAt({ form: 'written', signatures: sigs, sealedAt: signed.sealedAt }), null, 'no mediator signature')
  t.equal(agreementEffectiveAt({ form: 'written', signatures: sigs, mediatorSignedAt: signed.mediatorSignedAt }), null, 'no seal')
  t.equal(agreementEffectiveAt({ form: 'written', signatures: [], ...signed }), null, 'no party signature')
})

t.test('application deadline (民事诉讼法 205, 85)', async (t) => {
  const cases: Array<[string, string, string | undefined, boolean, boolean | null, string, string]> = [
    // effectiveAt, appliedAt, lateReason, ok, late, due, why
    ['2026-08-31T10:00:00+08:00', '2026-09-30T18:00:00+08:00', undefined, true, false, '2026-09-30', 'last day'],
    ['2026-08-31T10:00:00+08:00', '2026-10-01T09:00:00+08:00', undefined, false, null, '2026-09-30', 'a day late'],
    ['2026-08-31T10:00:00+08:00', '2026-10-01T09:00:00+08:00', '当事人住院', true, true, '2026-09-30', 'late with a reason'],
    ['2026-09-01T10:00:00+08:00', '2026-10-08T17:00:00+08:00', undefined, true, false, '2026-10-08', 'day 30 is National Day: rolled to 8 Oct'],
    ['2026-09-01T10:00:00+08:00', '2026-10-05T17:00:00+08:00', undefined, true, false, '2026-10-08', 'inside the holiday'],
    ['2026-09-01T10:00:00+08:00', '2026-10-09T09:00:00+08:00', undefined, false, null, '2026-10-08', 'after the rolled day'],
    ['2026-08-31T23:30:00+08:00', '2026-09-30T23:59:00+08:00', undefined, true, false, '2026-09-30', 'Shanghai dates, not UTC'],
    ['2026-08-31T16:30:00Z', '2026-10-01T15:59:00Z', undefined, true, false, '2026-10-08', 'UTC instants that are 1 Sep / 1 Oct in Shanghai'],
    ['2026-01-15T10:00:00+08:00', '2026-02-14T10:00:00+08:00', undefined, true, false, '2026-02-14', 'a make-up Saturday is a working day'],
    ['2026-08-31T10:00:00+08:00', '2026-09-15T10:00:00+08:00', '多余的理由', true, false, '2026-09-30', 'a reason on time is not late'],
  ]
  for (const [eff, applied, reason, ok, late, due, why] of cases) {
    const got = applicationTiming(cal, eff, applied, reason)
    t.equal(got.ok, ok, why)
    t.equal(got.applicationDueOn, due, `${why}: due`)
    if (got.ok) t.equal(got.late, late, `${why}: late`)
    else t.equal(got.problem.code, 'confirmation_deadline_passed', why)
  }
  const provisional = applicationTiming(cal, '2026-12-15T10:00:00+08:00', '2026-12-20T10:00:00+08:00', undefined)
  t.same(provisional, { ok: true, applicationDueOn: '2027-01-14', provisional: true, late: false }, 'a deadline in an unpublished year')
})

t.test('overdue review', async (t) => {
  const cases: Array<[ConfirmationStatus, string | null, string, boolean]> = [
    ['under_review', '2026-10-08', '2026-10-08', false],
    ['under_review', '2026-10-08', '2026-10-09', true],
    ['under_review', null, '2026-10-09', false],
    ['ruled_valid', '2026-10-08', '2026-12-01', false],
    ['applied', null, '2026-12-01', false],
  ]
  for (const [status, due, today, overdue] of cases) t.equal(isReviewOverdue(status, due, today), overdue, `${status} ${due} ${today}`)
})

t.test('view masks personal data unless full', async (t) => {
  const c: Confirmation = {
    id: '0192f3a4-5b6c-7d8e-9f01-23456789abcd',
    version: 2,
    status: 'under_review',
    referralId: null,
    courtCode: '京0105',
    organizationId: 'org',
    subject: 'ordinary',
    late: false,
    caseNumber: '（2026）京0105诉前调确1号',
    reviewDueOn: '2026-10-08',
    agreementSha256: 'a'.repeat(64),
    chainHead: 'b'.repeat(64),
    doc: {
      applicants: [0, 1],
      appliedAt: '2026-09-02T02:00:00.000Z',
      applicationDueOn: '2026-10-08',
      provisional: false,
      agreement: {
        form: 'written',
        terms: 'x',
        signatures: [],
        effectiveAt: '2026-09-01T02:00:00.000Z',
        performance: { method: 'immediate' },
        sha256: 'a'.repeat(64),
        recordedAt: '2026-09-02T02:00:00.000Z',
      },
      parties: [
        {
          role: 'applicant',
          kind: 'natural_person',
          name: '张三',
          idType: 'resident_id',
          idNumber: { enc: 'E1', masked: '110***********1234' },
          phone: { enc: 'E2', masked: '138****5678' },
        },
        {
          role: 'respondent',
          kind: 'natural_person',
          name: '李四',
          idType: 'resident_id',
          idNumber: { enc: 'E3', masked: '440***********0014' },
          address: { enc: 'E4', masked: '北京市朝阳区****' },
        },
      ],
      materials: [],
    },
    createdAt: new Date('2026-09-02T02:00:00Z'),
    updatedAt: new Date('2026-09-03T02:00:00Z'),
  }
  c.doc.agreement.terms = '赵六通过 13912345678 收款'
  c.doc.ruling = {
    result: 'rejected',
    rulingNumber: 'x',
    ruledOn: '2026-10-01',
    reason: '联系电话 13912345678 无人接听',
    agreementSha256: 'a'.repeat(64),
    recordedAt: '2026-10-01T00:00:00Z',
  }
  const decrypt = (token: string) => `plain-${token}`
  const masked = confirmationView(c, false, decrypt, '2026-10-09')
  t.match(masked, {
    overdue: true,
    agreementSha256: 'a'.repeat(64),
    parties: [{ idNumber: '110***********1234', phone: '138****5678' }, { address: '北京市朝阳区****' }],
  })
  t.match(masked, { agreement: { terms: '赵六通过 139****5678 收款' }, ruling: { reason: '联系电话 139****5678 无人接听' } })
  const full = confirmationView(c, true, decrypt, '2026-10-01')
  t.match(full, { agreement: { terms: '赵六通过 13912345678 收款' }, ruling: { reason: '联系电话 13912345678 无人接听' } })
  t.match(full, {
    overdue: false,
    parties: [
      { idNumber: 'plain-E1', phone: 'plain-E2' },
      { idNumber: 'plain-E3', address: 'plain-E4' },
    ],
  })
  t.same(confirmationPersonalFields(c).sort(), ['address', 'idNumber', 'phone'])
})

t.test('free text is masked for readers without full access', async (t) => {
  const cases: Array<[string, string]> = [
    ['张三（身份证 11010519491231002X，电话 13800138000）收款', '张三（身份证 110***********002X，电话 138****8000）收款'],
    ['账号 6222021234567890123 与金额 8000 元', '账号 6222021234567890123 与金额 8000 元'],
    ['时间戳 1735689600000', '时间戳 1735689600000'],
    ['小写 x：44052418800101001x', '小写 x：440***********001x'],
  ]
  for (const [input, want] of cases) t.equal(maskFreeText(input), want, input)
})
