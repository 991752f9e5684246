import type { ConfirmationAcceptanceInput, ConfirmationRulingInput, ConfirmationWithdrawalInput, CreateConfirmationInput } from '../schemas/confirmations.js'
import { daysBetween, type LegalCalendar, reviewDueOn, shanghaiDate } from './calendar.js'
import { before, checkPartyIndexes, notFuture } from './case-checks.js'
import {
  agreementEffectiveAt,
  agreementSha256,
  applicationTiming,
  checkAgreementIntegrity,
  checkJointApplication,
  checkReferringCourt,
  checkStandaloneVenue,
  checkSubject,
  type Confirmation,
  type ConfirmationProblem,
  decideConfirmationTransition,
  referralAllowsConfirmation,
  type Timing,
  type Venue,
} from './confirmation.js'
import { businessRule, conflict, type FieldError, forbidden, illegalTransition, validationFailed } from './errors.js'
import type { Role } from './principal.js'
import { parseCaseNumber } from './identifiers.js'
import type { Agreement, Referral } from './referral.js'
import { coversAllParties } from './referral-machine.js'

/**
 * The rules of a judicial confirmation (民事诉讼法 205–206, 民诉法解释 351–360) as pure functions: the intake
 * checks of both kinds of application and each decision. The service (src/cases/confirmations) looks up what they
 * need and writes what they return; test/domain/confirmation-actions.test.ts tables them.
 */

/** Turns a rule's problem into the error the caller gets (409 for conflicts, 422 otherwise). */
export function raise(problem: ConfirmationProblem | null): void {
  if (!problem) return
  throw problem.status === 409 ? conflict(problem.code, problem.detail) : businessRule(problem.code, problem.detail)
}

const applicantIndexes = (applicants: readonly number[]) => applicants.map((index, i) => ({ path: `/applicants/${i}`, index }))

/** Who may apply (the transition table), and the consistency JSON Schema cannot say: which fields go with which kind of application. */
export function checkApplicationShape(b: CreateConfirmationInput, by: Role): void {
  if (!decideConfirmationTransition('none', 'apply', by).ok) throw forbidden('当前角色无权执行此操作')
  const errors: FieldError[] = []
  if (b.referralId !== undefined) {
    for (const f of ['parties', 'organizationId', 'venue'] as const) {
      if (b[f] !== undefined) errors.push({ path: `/${f}`, code: 'not_allowed', message: `关联委派案件的申请不填写 ${f}（取自委派案件）` })
    }
  } else {
    if (!b.agreement) errors.push({ path: '/agreement', code: 'required', message: '独立申请须附调解协议' })
    if (!b.parties) errors.push({ path: '/parties', code: 'required', message: '独立申请须列明当事人' })
    if (!b.organizationId) errors.push({ path: '/organizationId', code: 'required', message: '独立申请须填写主持调解的组织' })
    const basis = b.venue?.basis ?? 'organization_seat'
    if (basis === 'organization_seat' && b.venue?.regionCode !== undefined) {
      errors.push({ path: '/venue/regionCode', code: 'not_allowed', message: '以调解组织所在地确定管辖时不填写 regionCode' })
    }
    if (basis !== 'organization_seat' && b.venue?.regionCode === undefined) {
      errors.push({ path: '/venue/regionCode', code: 'required', message: '以当事人住所地或标的物所在地确定管辖时须填写 regionCode' })
    }
    if (b.parties) {
      if (!b.parties.some((x) => x.role === 'applicant')) errors.push({ path: '/parties', code: 'applicant_required', message: '至少需要一名申请人' })
      if (!b.parties.some((x) => x.role === 'respondent')) errors.push({ path: '/parties', code: 'respondent_required', message: '至少需要一名被申请人' })
      errors.push(...checkPartyIndexes(b.parties.length, applicantIndexes(b.applicants)))
      if (b.agreement)
        errors.push(
          ...checkPartyIndexes(
            b.parties.length,
            b.agreement.signatures.map((s, i) => ({ path: `/agreement/signatures/${i}/partyIndex`, index: s.partyIndex })),
          ),
        )
    }
  }
  if (b.agreement?.form === 'oral' && !b.agreement.effectiveAt)
    errors.push({ path: '/agreement/effectiveAt', code: 'required', message: '口头协议须填写生效时间' })
  if (errors.length) throw validationFailed(errors)
}

/**
 * A referral-linked application (205(1)): a 委托 (in_litigation) referral never applies (422
 * confirmation_not_applicable); the referral allows it, the agreement is the referral's (integrity by
 * SHA-256), the court is the referring court, every party applies. Returns the referral's agreement.
 */
export function checkReferralApplication(r: Referral, b: CreateConfirmationInput): Agreement {
  // 特邀调解规定 art. 20: a 委托 agreement ends in a 调解书 or a withdrawal, never in judicial confirmation.
  if (r.referralType === 'in_litigation') {
    throw businessRule('confirmation_not_applicable', '委托调解（诉中）达成的协议由法院出具调解书或准许撤诉，不适用司法确认（特邀调解规定 20）')
  }
  const agreement = r.doc.agreement
  if (!agreement || !referralAllowsConfirmation(r.status, r.doc.closure?.disposition)) throw illegalTransition(r.status, 'judicial_confirmation')
  raise(checkAgreementIntegrity(agreement.sha256, b.agreementSha256))
  if (b.agreement && agreementSha256(b.agreement.terms) !== agreement.sha256) {
    throw businessRule('agreement_mismatch', '申请所附调解协议与委派案件记录的协议不一致')
  }
  raise(checkReferringCourt(r.courtCode, b.courtCode))
  raise(checkSubject(b.subject ?? 'ordinary'))
  const errors = checkPartyIndexes(r.doc.parties.length, applicantIndexes(b.applicants))
  if (errors.length) throw validationFailed(errors)
  raise(checkJointApplication(r.doc.parties.length, b.applicants))
  return agreement
}

/**
 * A standalone application (205(2)): its own agreement signed by every party, a venue the court covers, every
 * party applies. `organizationRegion` is the (in-scope) mediating organization's region. Returns the agreement
 * as recorded and the venue.
 */
export function checkStandaloneApplication(b: CreateConfirmationInput, organizationRegion: string, now: Date): { agreement: Agreement; venue: Venue } {
  const agreementBody = b.agreement as NonNullable<CreateConfirmationInput['agreement']>
  const partyCount = (b.parties as NonNullable<CreateConfirmationInput['parties']>).length
  const sha256 = agreementSha256(agreementBody.terms)
  if (b.agreementSha256 !== undefined) raise(checkAgreementIntegrity(sha256, b.agreementSha256))
  const venue: Venue = b.venue
    ? { basis: b.venue.basis, ...(b.venue.regionCode ? { regionCode: b.venue.regionCode } : {}), ...(b.venue.intermediate ? { intermediate: true } : {}) }
    : { basis: 'organization_seat' }
  raise(checkStandaloneVenue(b.courtCode, organizationRegion, venue))
  raise(checkSubject(b.subject ?? 'ordinary'))
  if (
    !coversAllParties(
      partyCount,
      agreementBody.signatures.map((s) => s.partyIndex),
    )
  ) {
    throw businessRule('signatures_incomplete', '调解协议须经全体当事人签署')
  }
  for (const [i, s] of agreementBody.signatures.entries()) notFuture(s.signedAt, now, `agreement/signatures/${i}/signedAt`)
  if (agreementBody.effectiveAt) notFuture(agreementBody.effectiveAt, now, 'agreement/effectiveAt')
  raise(checkJointApplication(partyCount, b.applicants))
  const agreement: Agreement = {
    ...(agreementBody.agreementNumber ? { agreementNumber: agreementBody.agreementNumber } : {}),
    form: agreementBody.form,
    terms: agreementBody.terms,
    ...(agreementBody.amount !== undefined ? { amount: agreementBody.amount } : {}),
    signatures: agreementBody.signatures,
    effectiveAt: agreementEffectiveAt(agreementBody.form, agreementBody.signatures, agreementBody.effectiveAt),
    performance: agreementBody.performance,
    sha256,
    recordedAt: now.toISOString(),
  }
  return { agreement, venue }
}

/**
 * When the application was made against the agreement: not in the future, not before the agreement took effect,
 * within 30 days of it (per art. 85) or late with a reason.
 */
export function checkApplicationTiming(b: CreateConfirmationInput, agreement: Agreement, cal: LegalCalendar, now: Date): Extract<Timing, { ok: true }> {
  notFuture(b.appliedAt, now, 'appliedAt')
  if (before(b.appliedAt, agreement.effectiveAt)) {
    throw businessRule('timestamp_before_agreement', 'appliedAt 不能早于调解协议生效时间', { path: 'appliedAt' })
  }
  const timing = applicationTiming(cal, agreement.effectiveAt, b.appliedAt, b.lateReason)
  if (!timing.ok) throw businessRule(timing.problem.code, timing.problem.detail, { applicationDueOn: timing.applicationDueOn })
  return timing
}

/** What every decision is made against: the moment, its Asia/Shanghai date and the legal calendar. */
export interface At {
  now: Date
  today: string
  cal: LegalCalendar
}

/** Acceptance: a 诉前调确/民特 案号 of the court, reviewDueOn = acceptance + 30 days per arts. 187 and 85. */
export function acceptApplication(c: Confirmation, b: ConfirmationAcceptanceInput, at: At): Confirmation {
  const errors: FieldError[] = []
  if (!b.caseNumber) errors.push({ path: '/caseNumber', code: 'required', message: '受理须填写司法确认案号' })
  if (b.reason !== undefined) errors.push({ path: '/reason', code: 'not_allowed', message: '受理时不填写理由' })
  const parsed = b.caseNumber ? parseCaseNumber(b.caseNumber, { currentYear: Number(at.today.slice(0, 4)) }) : null
  if (parsed && parsed.court !== c.courtCode)
    errors.push({ path: '/caseNumber', code: 'invalid_case_number', message: `案号中的法院代字须为受理法院 ${c.courtCode}` })
  if (errors.length) throw validationFailed(errors)
  const acceptedOn = b.acceptedOn ?? at.today
  if (daysBetween(at.today, acceptedOn) > 0) throw businessRule('date_in_future', 'acceptedOn 不能晚于当日', { path: 'acceptedOn' })
  if (daysBetween(shanghaiDate(new Date(c.doc.appliedAt)), acceptedOn) < 0)
    throw businessRule('date_before_application', 'acceptedOn 不能早于申请日', { path: 'acceptedOn' })
  const due = reviewDueOn(at.cal, acceptedOn)
  const caseNumber = parsed?.normalized ?? (b.caseNumber as string)
  return {
    ...c,
    caseNumber,
    reviewDueOn: due.date,
    doc: { ...c.doc, provisional: c.doc.provisional || due.provisional, acceptance: { caseNumber, acceptedOn, acceptedAt: at.now.toISOString() } },
  }
}

/** Refusal to accept needs a reason (民诉法解释 355) and nothing of an acceptance. */
export function refuseApplication(c: Confirmation, b: ConfirmationAcceptanceInput, at: At): Confirmation {
  const errors: FieldError[] = []
  if (!b.reason) errors.push({ path: '/reason', code: 'required', message: '不予受理须说明理由' })
  if (b.caseNumber !== undefined) errors.push({ path: '/caseNumber', code: 'not_allowed', message: '不予受理时不填写案号' })
  if (b.acceptedOn !== undefined) errors.push({ path: '/acceptedOn', code: 'not_allowed', message: '不予受理时不填写立案日期' })
  if (errors.length) throw validationFailed(errors)
  return { ...c, doc: { ...c.doc, notAccepted: { reason: b.reason as string, decidedAt: at.now.toISOString() } } }
}

/** Withdrawal by the applicants (民诉法解释 357), with an optional reason. */
export function withdrawApplication(c: Confirmation, b: ConfirmationWithdrawalInput, at: At): Confirmation {
  return { ...c, doc: { ...c.doc, withdrawal: { ...(b.reason !== undefined ? { reason: b.reason } : {}), withdrawnAt: at.now.toISOString() } } }
}

/** The ruling (206): dated between acceptance and today, naming the agreement it rules on. */
export function ruleOnApplication(c: Confirmation, b: ConfirmationRulingInput, at: At): Confirmation {
  if (daysBetween(at.today, b.ruledOn) > 0) throw businessRule('date_in_future', 'ruledOn 不能晚于当日', { path: 'ruledOn' })
  const acceptedOn = c.doc.acceptance?.acceptedOn
  if (acceptedOn && daysBetween(acceptedOn, b.ruledOn) < 0) throw businessRule('date_before_acceptance', 'ruledOn 不能早于立案日', { path: 'ruledOn' })
  const ruling = {
    result: b.result,
    rulingNumber: b.rulingNumber,
    ruledOn: b.ruledOn,
    ...(b.reason !== undefined ? { reason: b.reason } : {}),
    agreementSha256: c.agreementSha256,
    recordedAt: at.now.toISOString(),
  }
  return { ...c, doc: { ...c.doc, ruling } }
}
