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
} from '../schemas/confirmations.js'
import { daysBetween, type LegalCalendar, reviewDueOn, shanghaiDate } from './calendar.js'
import { before, checkPartyIndexes, notFuture } from './case-checks.js'
import { PARTY_OBJECTION_DAYS, REVIEW_TARGET_DAYS } from './deadlines.js'
import { checkAgreement } from './agreement.js'
import {
  agreementSha256,
  applicationTiming,
  checkAgreementIntegrity,
  checkJointApplication,
  checkReferringCourt,
  checkStandaloneVenue,
  checkSubject,
  type Confirmation,
  type ConfirmationDoc,
  type ConfirmationProblem,
  decideConfirmationTransition,
  isSupplementOverdue,
  referralAllowsConfirmation,
  type Timing,
  type Venue,
} from './confirmation.js'
import { businessRule, conflict, type FieldError, forbidden, illegalTransition, validationFailed } from './errors.js'
import type { Role } from './principal.js'
import { parseCaseNumber } from './identifiers.js'
import type { Agreement, Referral } from './referral.js'

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
  // An oral agreement takes effect when reached (人民调解法 30): reachedAt, as when it is recorded on a referral.
  if (b.agreement?.form === 'oral' && !b.agreement.reachedAt) errors.push({ path: '/agreement/reachedAt', code: 'required', message: '口头协议须填写达成时间' })
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
export function checkStandaloneApplication(
  b: CreateConfirmationInput,
  organizationRegion: string,
  now: Date,
  document?: { materialId: string; sha256: string },
): { agreement: Agreement; venue: Venue } {
  const agreementBody = b.agreement as NonNullable<CreateConfirmationInput['agreement']>
  const partyCount = (b.parties as NonNullable<CreateConfirmationInput['parties']>).length
  const sha256 = agreementSha256(agreementBody.terms)
  if (b.agreementSha256 !== undefined) raise(checkAgreementIntegrity(sha256, b.agreementSha256))
  const venue: Venue = b.venue
    ? { basis: b.venue.basis, ...(b.venue.regionCode ? { regionCode: b.venue.regionCode } : {}), ...(b.venue.intermediate ? { intermediate: true } : {}) }
    : { basis: 'organization_seat' }
  raise(checkStandaloneVenue(b.courtCode, organizationRegion, venue))
  raise(checkSubject(b.subject ?? 'ordinary'))
  // The signed file (在线调解规则 19) is looked up by the service (it exists, the caller may read it) and bound by its sha256.
  if (agreementBody.documentMaterialId !== undefined && !document) throw new Error('the service looks the agreement document up')
  // The same rule as a referral's agreement (人民调解法 29–30, 在线调解规则 19): parties, mediator and seal, or reachedAt.
  const effectiveAt = checkAgreement(partyCount, agreementBody, now, 'agreement')
  raise(checkJointApplication(partyCount, b.applicants))
  const agreement: Agreement = {
    ...(agreementBody.agreementNumber ? { agreementNumber: agreementBody.agreementNumber } : {}),
    form: agreementBody.form,
    terms: agreementBody.terms,
    ...(agreementBody.amount !== undefined ? { amount: agreementBody.amount } : {}),
    signatures: agreementBody.signatures,
    ...(agreementBody.mediatorSignedAt !== undefined ? { mediatorSignedAt: agreementBody.mediatorSignedAt } : {}),
    ...(agreementBody.sealedAt !== undefined ? { sealedAt: agreementBody.sealedAt } : {}),
    ...(agreementBody.reachedAt !== undefined ? { reachedAt: agreementBody.reachedAt } : {}),
    ...(document ? { documentMaterialId: document.materialId, documentSha256: document.sha256 } : {}),
    effectiveAt,
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

/**
 * Acceptance: a 诉前调确/民特 案号 of the court, reviewDueOn = acceptance + 30 days per arts. 187 and 85, and the
 * informational reviewTargetOn = acceptance + 15 days (法释〔2011〕5号 art. 5), rolled alike.
 */
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
  const target = at.cal.addDaysRolled(acceptedOn, REVIEW_TARGET_DAYS)
  const caseNumber = parsed?.normalized ?? (b.caseNumber as string)
  return {
    ...c,
    caseNumber,
    reviewDueOn: due.date,
    doc: {
      ...c.doc,
      provisional: c.doc.provisional || due.provisional,
      acceptance: { caseNumber, acceptedOn, acceptedAt: at.now.toISOString() },
      reviewTargetOn: target.date,
    },
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

/**
 * The ruling (206): dated between acceptance and today, naming the agreement it rules on. `servedOn` (default
 * `ruledOn`, not before it nor after today) opens the parties' objection window: objectionDueOn = servedOn + 15
 * days, rolled (民诉法解释 372, art. 85). `documentMaterialId`, the ruling document, is checked and linked by the service.
 */
export function ruleOnApplication(c: Confirmation, b: ConfirmationRulingInput, at: At): Confirmation {
  if (daysBetween(at.today, b.ruledOn) > 0) throw businessRule('date_in_future', 'ruledOn 不能晚于当日', { path: 'ruledOn' })
  const acceptedOn = c.doc.acceptance?.acceptedOn
  if (acceptedOn && daysBetween(acceptedOn, b.ruledOn) < 0) throw businessRule('date_before_acceptance', 'ruledOn 不能早于立案日', { path: 'ruledOn' })
  const servedOn = b.servedOn ?? b.ruledOn
  if (daysBetween(at.today, servedOn) > 0) throw businessRule('date_in_future', 'servedOn 不能晚于当日', { path: 'servedOn' })
  if (daysBetween(b.ruledOn, servedOn) < 0) throw businessRule('date_before_ruling', 'servedOn 不能早于裁定日', { path: 'servedOn' })
  const objectionDue = at.cal.addDaysRolled(servedOn, PARTY_OBJECTION_DAYS)
  const ruling = {
    result: b.result,
    rulingNumber: b.rulingNumber,
    ruledOn: b.ruledOn,
    ...(b.reason !== undefined ? { reason: b.reason } : {}),
    servedOn,
    ...(b.documentMaterialId !== undefined ? { documentMaterialId: b.documentMaterialId } : {}),
    agreementSha256: c.agreementSha256,
    recordedAt: at.now.toISOString(),
  }
  return { ...c, doc: { ...c.doc, ruling, objectionDueOn: objectionDue.date } }
}

/**
 * 民事诉讼法 187: the court president extends the review period. `newDueOn` later than the current reviewDueOn
 * (422 `due_date_not_later`); a rest day rolls forward to the next working day (art. 85), and the answer shows the
 * rolled date. No change of state.
 */
export function extendReview(c: Confirmation, b: ConfirmationReviewExtensionInput, at: At): Confirmation {
  const current = c.reviewDueOn
  if (current === null) throw businessRule('due_date_not_later', '尚无审查期限可延长')
  if (daysBetween(current, b.newDueOn) <= 0)
    throw businessRule(
      'due_date_not_later',
      `newDueOn 须晚于当前审查期限 ${current}`,
      { path: 'newDueOn' },
      `newDueOn must be later than the current review deadline ${current}`,
    )
  const due = at.cal.rollForward(b.newDueOn)
  const extension = { previousDueOn: current, newDueOn: due.date, reason: b.reason, extendedAt: at.now.toISOString() }
  return {
    ...c,
    reviewDueOn: due.date,
    doc: { ...c.doc, provisional: c.doc.provisional || due.provisional, reviewExtensions: [...(c.doc.reviewExtensions ?? []), extension] },
  }
}

/** 民诉法解释 354: the court orders the missing materials by `dueOn`, a date after today (422 `date_not_in_future`). */
export function requestMaterials(c: Confirmation, b: ConfirmationMaterialRequestInput, at: At): Confirmation {
  if (daysBetween(at.today, b.dueOn) <= 0) throw businessRule('date_not_in_future', 'dueOn 须晚于当日', { path: 'dueOn' })
  const request = { items: b.items, dueOn: b.dueOn, requestedAt: at.now.toISOString() }
  return { ...c, doc: { ...c.doc, requestedMaterials: request, materialRequests: [...(c.doc.materialRequests ?? []), request] } }
}

/**
 * The applicants supply the ordered materials (at least one), by the end of `dueOn` (Asia/Shanghai): later, the
 * application stands deemed withdrawn (民诉法解释 357) → 422 `supplement_deadline_passed`, whether or not the timer
 * has already recorded it. The materials join the application's; the service checks and links them.
 */
export function supplementMaterials(c: Confirmation, b: ConfirmationMaterialSupplementInput, at: At): Confirmation {
  if (b.materials.length === 0) throw validationFailed([{ path: '/materials', code: 'required', message: '至少补充一项材料' }])
  const pending = c.doc.requestedMaterials
  if (pending && isSupplementOverdue(c, at.today)) {
    throw businessRule(
      'supplement_deadline_passed',
      `补充材料的期限已于 ${pending.dueOn} 届满，按撤回申请处理（民诉法解释 357）`,
      { dueOn: pending.dueOn },
      `The time to supplement materials ended on ${pending.dueOn}; the application is deemed withdrawn (SPC interpretation art. 357)`,
    )
  }
  const supplied = { materials: b.materials, ...(b.note !== undefined ? { note: b.note } : {}), suppliedAt: at.now.toISOString() }
  const known = new Set(c.doc.materials.map((m) => m.materialId))
  const added = b.materials.filter((m, i) => !known.has(m.materialId) && b.materials.findIndex((x) => x.materialId === m.materialId) === i)
  const requests = [...(c.doc.materialRequests ?? [])]
  if (requests.length) requests[requests.length - 1] = { ...requests[requests.length - 1], supplied }
  const { requestedMaterials: _done, ...doc } = c.doc
  void _done
  return { ...c, doc: { ...doc, materials: [...c.doc.materials, ...added.map((m) => ({ materialId: m.materialId }))], materialRequests: requests } }
}

/**
 * The timer's decision (民诉法解释 357): the application deemed withdrawn when the ordered materials were not
 * supplied by the end of `dueOn`; null while they may still come (or there is nothing outstanding).
 */
export function deemedWithdrawal(c: Confirmation, at: Pick<At, 'now' | 'today'>): Confirmation | null {
  if (!isSupplementOverdue(c, at.today)) return null
  const doc: ConfirmationDoc = { ...c.doc, deemedWithdrawal: { dueOn: (c.doc.requestedMaterials as { dueOn: string }).dueOn, at: at.now.toISOString() } }
  return { ...c, doc }
}

/** 民诉法解释 372: an interested person objects within 6 months after knowing of the harm. */
export const INTERESTED_PERSON_OBJECTION_MONTHS = 6

/**
 * The same day of the month `months` later, or the last day of a shorter month (民法典 202),
 * rolled forward if a rest day (民事诉讼法 85).
 */
export function monthsLater(cal: LegalCalendar, from: string, months: number): { date: string; provisional: boolean } {
  const [y, m, d] = from.split('-').map(Number) as [number, number, number]
  const index = y * 12 + (m - 1) + months
  const year = Math.floor(index / 12)
  const month = (index % 12) + 1
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate()
  const day = Math.min(d, last)
  return cal.rollForward(`${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`)
}

/**
 * An objection to the ruling (民诉法解释 372), recorded by the court: a party (`partyIndex`) within objectionDueOn;
 * an interested person (`knewOn`) within 6 months after knowing of the harm, rolled → else 422
 * `objection_deadline_passed`. Filed not before the ruling was made nor after today.
 */
export function fileObjection(c: Confirmation, b: ConfirmationObjectionInput, at: At): Confirmation {
  const errors: FieldError[] = []
  if (b.by === 'party') {
    if (b.partyIndex === undefined) errors.push({ path: '/partyIndex', code: 'required', message: '当事人提出异议须填写 partyIndex' })
    else errors.push(...checkPartyIndexes(c.doc.parties.length, [{ path: '/partyIndex', index: b.partyIndex }]))
    if (b.knewOn !== undefined) errors.push({ path: '/knewOn', code: 'not_allowed', message: '当事人提出异议不填写 knewOn' })
  } else {
    if (b.knewOn === undefined) errors.push({ path: '/knewOn', code: 'required', message: '利害关系人提出异议须填写 knewOn' })
    if (b.partyIndex !== undefined) errors.push({ path: '/partyIndex', code: 'not_allowed', message: '利害关系人提出异议不填写 partyIndex' })
  }
  if (errors.length) throw validationFailed(errors)
  const ruling = c.doc.ruling
  if (daysBetween(at.today, b.filedOn) > 0) throw businessRule('date_in_future', 'filedOn 不能晚于当日', { path: 'filedOn' })
  if (ruling && daysBetween(ruling.ruledOn, b.filedOn) < 0) throw businessRule('date_before_ruling', 'filedOn 不能早于裁定日', { path: 'filedOn' })
  let dueOn: string
  if (b.by === 'party') {
    dueOn = c.doc.objectionDueOn ?? at.cal.addDaysRolled(ruling?.ruledOn ?? at.today, PARTY_OBJECTION_DAYS).date
  } else {
    const knewOn = b.knewOn as string
    if (daysBetween(knewOn, b.filedOn) < 0) throw businessRule('date_before_knowledge', 'filedOn 不能早于 knewOn', { path: 'filedOn' })
    dueOn = monthsLater(at.cal, knewOn, INTERESTED_PERSON_OBJECTION_MONTHS).date
  }
  if (daysBetween(dueOn, b.filedOn) > 0) {
    throw businessRule(
      'objection_deadline_passed',
      `提出异议的期限已于 ${dueOn} 届满（民诉法解释 372）`,
      { objectionDueOn: dueOn },
      `The time for an objection ended on ${dueOn} (SPC interpretation art. 372)`,
    )
  }
  const objection = {
    by: b.by,
    ...(b.partyIndex !== undefined ? { partyIndex: b.partyIndex } : {}),
    filedOn: b.filedOn,
    ...(b.knewOn !== undefined ? { knewOn: b.knewOn } : {}),
    grounds: b.grounds,
    dueOn,
    recordedAt: at.now.toISOString(),
  }
  return { ...c, doc: { ...c.doc, objections: [...(c.doc.objections ?? []), objection] } }
}

/**
 * The court's decision on the objection: the ruling revoked, or the objection dismissed (the application returns to
 * its ruled state; the transition table decides which). Dated between the objection and today.
 */
export function ruleOnObjection(c: Confirmation, b: ConfirmationObjectionRulingInput, at: At): Confirmation {
  const objections = [...(c.doc.objections ?? [])]
  const last = objections[objections.length - 1]
  if (daysBetween(at.today, b.ruledOn) > 0) throw businessRule('date_in_future', 'ruledOn 不能晚于当日', { path: 'ruledOn' })
  if (last && daysBetween(last.filedOn, b.ruledOn) < 0) throw businessRule('date_before_objection', 'ruledOn 不能早于提出异议之日', { path: 'ruledOn' })
  if (last)
    objections[objections.length - 1] = {
      ...last,
      ruling: { result: b.result, ruledOn: b.ruledOn, rulingNumber: b.rulingNumber, recordedAt: at.now.toISOString() },
    }
  return { ...c, doc: { ...c.doc, objections } }
}
