/**
 * Judicial confirmation (司法确认) of a mediation agreement: the rules of contract §3 and domain.md §4 as pure
 * functions. 民事诉讼法 art. 205–206 (joint application within 30 days, the competent court), art. 85 (counting),
 * art. 187 (30-day review), 民诉法解释 355 (subjects not accepted).
 */
import { createHash } from 'node:crypto'
import type { ErrorCode } from './error-catalogue.js'
import { confirmationDeadline, daysBetween, type LegalCalendar, shanghaiDate } from './calendar.js'
import { courtRegion, isValidCourtCode, regionCovers } from './identifiers.js'
import { maskIdNumber, maskPhone } from './personal-data.js'
import type { Role } from './principal.js'
import { type Agreement, type Decrypt, NEVER_DECRYPT, partiesView, partyPersonalFields, type StoredParty } from './referral.js'
import { coversAllParties } from './referral-machine.js'
import type { WrittenEvent } from './event-chain.js'

// ---------------------------------------------------------------------------------------------
// States and transitions

export const CONFIRMATION_STATUSES = [
  'applied',
  'under_review',
  'materials_requested',
  'not_accepted',
  'withdrawn',
  'deemed_withdrawn',
  'ruled_valid',
  'ruled_rejected',
  'objection_filed',
  'ruling_revoked',
] as const
export type ConfirmationStatus = (typeof CONFIRMATION_STATUSES)[number]

export type ConfirmationAction =
  | 'apply'
  | 'accept'
  | 'not_accept'
  | 'withdraw'
  | 'rule_valid'
  | 'rule_rejected'
  | 'request_materials'
  | 'supplement_materials'
  | 'deem_withdrawn'
  | 'extend_review'
  | 'file_objection'
  | 'revoke_ruling'
  | 'dismiss_objection'

export interface ConfirmationRule {
  action: ConfirmationAction
  by: Role | 'system'
  from: readonly ConfirmationStatus[] | 'none'
  /** The new state; `same`: no state change; `ruled`: back to the ruled state the objection came from. */
  to: ConfirmationStatus | 'same' | 'ruled'
  /** The event the transition writes (contract §4 types). */
  event: string
}

/**
 * The transition table of contract §3. Everything not listed is refused: a role that may never take the action →
 * 403; a state the action is not allowed from → 409 illegal_transition.
 */
export const CONFIRMATION_TRANSITIONS: readonly ConfirmationRule[] = [
  { action: 'apply', by: 'mediation', from: 'none', to: 'applied', event: 'confirmation.applied' },
  { action: 'accept', by: 'court', from: ['applied'], to: 'under_review', event: 'confirmation.accepted' },
  { action: 'not_accept', by: 'court', from: ['applied'], to: 'not_accepted', event: 'confirmation.not_accepted' },
  { action: 'withdraw', by: 'mediation', from: ['applied', 'under_review'], to: 'withdrawn', event: 'confirmation.withdrawn' },
  { action: 'rule_valid', by: 'court', from: ['under_review'], to: 'ruled_valid', event: 'confirmation.ruled' },
  { action: 'rule_rejected', by: 'court', from: ['under_review'], to: 'ruled_rejected', event: 'confirmation.ruled' },
  // 民诉法解释 354: the court orders missing materials by a date; 357: not supplied by then = deemed withdrawn.
  { action: 'request_materials', by: 'court', from: ['under_review'], to: 'materials_requested', event: 'confirmation.materials_requested' },
  { action: 'supplement_materials', by: 'mediation', from: ['materials_requested'], to: 'under_review', event: 'confirmation.materials_supplemented' },
  { action: 'deem_withdrawn', by: 'system', from: ['materials_requested'], to: 'deemed_withdrawn', event: 'confirmation.deemed_withdrawn' },
  // 民事诉讼法 187: the court president may extend the review period.
  { action: 'extend_review', by: 'court', from: ['under_review', 'materials_requested'], to: 'same', event: 'confirmation.review_extended' },
  // 民诉法解释 372: an objection to the ruling, and the court's decision on it.
  { action: 'file_objection', by: 'court', from: ['ruled_valid', 'ruled_rejected'], to: 'objection_filed', event: 'confirmation.objection_filed' },
  { action: 'revoke_ruling', by: 'court', from: ['objection_filed'], to: 'ruling_revoked', event: 'confirmation.objection_ruled' },
  { action: 'dismiss_objection', by: 'court', from: ['objection_filed'], to: 'ruled', event: 'confirmation.objection_ruled' },
]

export type ConfirmationDecision = { ok: true; to: ConfirmationStatus; event: string } | { ok: false; reason: 'forbidden' | 'illegal_transition' }

/**
 * Decides whether `by` may take `action` on an application in state `status` ('none' before it exists). `ruled` is
 * the result of the ruling on record, for the return from an objection.
 */
export function decideConfirmationTransition(
  status: ConfirmationStatus | 'none',
  action: ConfirmationAction,
  by: Role | 'system',
  ruled?: 'valid' | 'rejected',
): ConfirmationDecision {
  const rule = CONFIRMATION_TRANSITIONS.find((r) => r.action === action)
  if (!rule || rule.by !== by) return { ok: false, reason: 'forbidden' }
  const illegal = { ok: false, reason: 'illegal_transition' } as const
  if (rule.from === 'none') return status === 'none' ? { ok: true, to: rule.to as ConfirmationStatus, event: rule.event } : illegal
  if (status === 'none' || !rule.from.includes(status)) return illegal
  if (rule.to === 'same') return { ok: true, to: status, event: rule.event }
  if (rule.to === 'ruled') return ruled ? { ok: true, to: ruled === 'valid' ? 'ruled_valid' : 'ruled_rejected', event: rule.event } : illegal
  return { ok: true, to: rule.to, event: rule.event }
}

/** States in which the application is still before the court (the review clock may be running). */
export const PENDING_STATUSES: readonly ConfirmationStatus[] = ['applied', 'under_review', 'materials_requested']

// ---------------------------------------------------------------------------------------------
// Application rules

/** A rule violation with the contract's stable code: 422 unless `status` says otherwise. */
export interface ConfirmationProblem {
  code: ErrorCode
  detail: string
  status?: 409
}

export const CONFIRMATION_SUBJECTS = ['ordinary', 'personal_status', 'property_title', 'ip_title'] as const
export type ConfirmationSubject = (typeof CONFIRMATION_SUBJECTS)[number]

/** 民诉法解释 355(3)–(5): status relationships and the confirmation of title to property or IP are not accepted. */
export const EXCLUDED_SUBJECTS: readonly ConfirmationSubject[] = ['personal_status', 'property_title', 'ip_title']

export function checkSubject(subject: ConfirmationSubject): ConfirmationProblem | null {
  if (!EXCLUDED_SUBJECTS.includes(subject)) return null
  const what = { personal_status: '身份关系', property_title: '物权确权', ip_title: '知识产权确权' }[subject as Exclude<ConfirmationSubject, 'ordinary'>]
  return { code: 'excluded_subject', detail: `涉及${what}的调解协议不属于司法确认的受理范围（民诉法解释 355）` }
}

/**
 * A referral's agreement can go to confirmation once recorded (`agreed`), or after the court filed it (`closed` with
 * disposition `agreement_filed`, pre-filing 备案). Anything else is 409 illegal_transition.
 */
export function referralAllowsConfirmation(status: string, disposition: string | undefined): boolean {
  return status === 'agreed' || (status === 'closed' && disposition === 'agreement_filed')
}

/** Lowercase hex SHA-256 of the UTF-8 agreement terms (contract §8 agreement integrity). */
export function agreementSha256(terms: string): string {
  return createHash('sha256').update(terms, 'utf8').digest('hex')
}

/**
 * The application must name the agreement it asks to confirm by its hash: missing or different → 422
 * `agreement_mismatch`. Hex case is not significant.
 */
export function checkAgreementIntegrity(recorded: string, given: string | undefined): ConfirmationProblem | null {
  if (given === undefined) return { code: 'agreement_mismatch', detail: '司法确认申请须携带调解协议的 agreementSha256' }
  if (given.toLowerCase() !== recorded.toLowerCase()) return { code: 'agreement_mismatch', detail: 'agreementSha256 与所记录的调解协议不一致' }
  return null
}

/** Joint application (民事诉讼法 205; 人民调解法 33): every party of the agreement is among the applicants. */
export function checkJointApplication(partyCount: number, applicants: readonly number[]): ConfirmationProblem | null {
  return coversAllParties(partyCount, applicants) ? null : { code: 'joint_application_required', detail: '司法确认须由调解协议的全体当事人共同申请' }
}

/** A basic court's code: abbreviation + 4 digits (`京0105`). */
export function isBasicCourt(courtCode: string): boolean {
  return isValidCourtCode(courtCode) && /^\D\d{4}$/u.test(courtCode)
}

/** An intermediate court's code: abbreviation + 2 digits (`粤07`). */
export function isIntermediateCourt(courtCode: string): boolean {
  return isValidCourtCode(courtCode) && /^\D\d{2}$/u.test(courtCode)
}

/** 205(1): a referral-linked application goes to the court that referred the case. */
export function checkReferringCourt(referringCourt: string, courtCode: string): ConfirmationProblem | null {
  return referringCourt === courtCode ? null : { code: 'wrong_court', detail: `委派调解达成的协议应向委派法院（${referringCourt}）申请司法确认` }
}

export const VENUE_BASES = ['organization_seat', 'party_domicile', 'subject_matter'] as const
export type VenueBasis = (typeof VENUE_BASES)[number]
export interface Venue {
  basis: VenueBasis
  regionCode?: string
  /** 205(2), last sentence: the dispute belongs to an intermediate court. */
  intermediate?: boolean
}

/**
 * 205(2) for an organization that mediated on its own: a basic court of the place where the organization sits
 * (default), where a party is domiciled or where the subject matter is. "Of the place" = the court's region covers
 * the organization's region, or the given `regionCode`. When the dispute belongs to an intermediate court
 * (`intermediate`, 205(2) last sentence), an intermediate court (abbreviation + 2 digits) of the province of that
 * place (the same abbreviation).
 */
export function checkStandaloneVenue(courtCode: string, organizationRegion: string, venue: Venue): ConfirmationProblem | null {
  const place = venue.basis === 'organization_seat' ? organizationRegion : venue.regionCode
  const where = { organization_seat: '调解组织所在地', party_domicile: '当事人住所地', subject_matter: '标的物所在地' }[venue.basis]
  if (venue.intermediate) {
    if (!isIntermediateCourt(courtCode)) return { code: 'wrong_court', detail: '属于中级人民法院管辖的，应向中级人民法院申请司法确认（民事诉讼法 205(2)）' }
    const province = courtRegion(courtCode.slice(0, 1))
    if (!province || !place || !regionCovers(province, place))
      return { code: 'wrong_court', detail: `${courtCode} 不是${where}所在省份的中级人民法院（民事诉讼法 205(2)）` }
    return null
  }
  if (!isBasicCourt(courtCode)) return { code: 'wrong_court', detail: '自行调解达成的协议应向基层人民法院申请司法确认（民事诉讼法 205(2)）' }
  const region = courtRegion(courtCode)
  if (!region || !place || !regionCovers(region, place)) {
    return { code: 'wrong_court', detail: `${courtCode} 不是${where}的基层人民法院（民事诉讼法 205(2)）` }
  }
  return null
}

/**
 * When the agreement took effect — one rule with a referral's agreement (domain/agreement.ts): written and electronic
 * agreements at the latest of the party signatures, the mediator's signature and the seal (人民调解法 29, 在线调解规则
 * 19); oral ones when reached (人民调解法 30).
 */
export { agreementEffectiveAt } from './agreement.js'

export type Timing =
  | { ok: true; applicationDueOn: string; provisional: boolean; late: boolean }
  | { ok: false; applicationDueOn: string; provisional: boolean; problem: ConfirmationProblem }

/**
 * Whether the application is in time: within 30 days after the agreement took effect, counted per art. 85 on
 * Asia/Shanghai dates (the day it took effect not counted; a last day that is a rest day rolls to the next working
 * day). A late application is refused unless it gives a reason; then it goes to the court marked `late`, because
 * art. 86 leaves the excuse of a missed period to the court.
 */
export function applicationTiming(cal: LegalCalendar, effectiveAt: string, appliedAt: string, lateReason: string | undefined): Timing {
  const due = confirmationDeadline(cal, shanghaiDate(new Date(effectiveAt)))
  const appliedOn = shanghaiDate(new Date(appliedAt))
  const late = daysBetween(due.date, appliedOn) > 0
  if (late && lateReason === undefined) {
    return {
      ok: false,
      applicationDueOn: due.date,
      provisional: due.provisional,
      problem: {
        code: 'confirmation_deadline_passed',
        detail: `申请司法确认的期限已于 ${due.date} 届满（民事诉讼法 205、85）；如有正当理由，请填写 lateReason`,
      },
    }
  }
  return { ok: true, applicationDueOn: due.date, provisional: due.provisional, late }
}

/** A review still running after its due date (民事诉讼法 187: decided within 30 days of 立案). */
export function isReviewOverdue(status: ConfirmationStatus, reviewDueOn: string | null, today: string): boolean {
  return status === 'under_review' && reviewDueOn !== null && daysBetween(reviewDueOn, today) > 0
}

/**
 * 民诉法解释 357: materials the court ordered (354) and not supplied by the end of `dueOn` (Asia/Shanghai): the
 * application is deemed withdrawn from the next day on.
 */
export function isSupplementOverdue(c: Pick<Confirmation, 'status' | 'doc'>, today: string): boolean {
  const due = c.doc.requestedMaterials?.dueOn
  return c.status === 'materials_requested' && due !== undefined && daysBetween(due, today) > 0
}

// ---------------------------------------------------------------------------------------------
// The application as stored and shown

export interface ConfirmationDoc {
  applicants: number[]
  appliedAt: string
  applicationDueOn: string
  provisional: boolean
  lateReason?: string
  agreement: Agreement
  parties: StoredParty[]
  materials: Array<{ materialId: string }>
  venue?: Venue
  acceptance?: { caseNumber: string; acceptedOn: string; acceptedAt: string }
  notAccepted?: { reason: string; decidedAt: string }
  withdrawal?: { reason?: string; withdrawnAt: string }
  ruling?: {
    result: 'valid' | 'rejected'
    rulingNumber: string
    ruledOn: string
    reason?: string
    servedOn?: string
    documentMaterialId?: string
    agreementSha256: string
    recordedAt: string
  }
  /** 法释〔2011〕5号 art. 5: the older 15-day target after acceptance, informational. */
  reviewTargetOn?: string
  /** 民事诉讼法 187: each extension of the review period. */
  reviewExtensions?: Array<{ previousDueOn: string; newDueOn: string; reason: string; extendedAt: string }>
  /** 民诉法解释 354: the outstanding order to supply materials, if any. */
  requestedMaterials?: { items: string[]; dueOn: string; requestedAt: string }
  /** Every order to supply materials, and what was supplied against it. */
  materialRequests?: Array<{
    items: string[]
    dueOn: string
    requestedAt: string
    supplied?: { materials: Array<{ materialId: string }>; note?: string; suppliedAt: string }
  }>
  /** 民诉法解释 357: deemed withdrawn when the materials were not supplied in time. */
  deemedWithdrawal?: { dueOn: string; at: string }
  /** 民诉法解释 372: the last day a party may object to the ruling (servedOn + 15 days, rolled). */
  objectionDueOn?: string
  /** 民诉法解释 372: objections to the ruling, with the court's decision on each. */
  objections?: Array<{
    by: 'party' | 'interested_person'
    partyIndex?: number
    filedOn: string
    knewOn?: string
    grounds: string
    dueOn: string
    recordedAt: string
    ruling?: { result: 'revoked' | 'dismissed'; ruledOn: string; rulingNumber: string; recordedAt: string }
  }>
}

/** One application (one row of `judicial_confirmations`). */
export interface Confirmation {
  id: string
  version: number
  status: ConfirmationStatus
  referralId: string | null
  courtCode: string
  organizationId: string
  subject: ConfirmationSubject
  late: boolean
  caseNumber: string | null
  reviewDueOn: string | null
  agreementSha256: string
  chainHead: string
  /** Not stored: the event the current unit of work wrote for it, once written (what its receipt attests). */
  lastEvent?: WrittenEvent
  doc: ConfirmationDoc
  createdAt: Date
  updatedAt: Date
}

/** Full ID numbers and mainland mobiles inside free text, not part of a longer run of digits. */
const FREE_TEXT_PERSONAL_DATA = /(?<!\d)(?:\d{17}[\dXx]|1\d{10})(?!\d)/g

/**
 * Masks ID numbers and mobiles that parties wrote into free text (agreement terms, reasons), for readers who may not
 * see personal data and for event payloads. Such readers cannot recompute `agreementSha256` from the masked terms;
 * the court concerned and the handling organization, who can, see the terms as signed.
 */
export function maskFreeText(text: string): string {
  return text.replace(FREE_TEXT_PERSONAL_DATA, (m) => (m.length === 11 ? maskPhone(m) : maskIdNumber(m)))
}

/**
 * The application as the API shows it. `full` reveals personal data (the court concerned and the handling
 * organization only, contract §1); `today` (Asia/Shanghai) decides `overdue`.
 */
export function confirmationView(c: Confirmation, full: boolean, decrypt: Decrypt, today: string): Record<string, unknown> {
  const d = c.doc
  const text = (s: string | undefined) => (s === undefined || full ? s : maskFreeText(s))
  const reason = <T extends { reason?: string }>(o: T | undefined): T | null =>
    o ? { ...o, ...(o.reason !== undefined ? { reason: text(o.reason) } : {}) } : null
  return {
    id: c.id,
    version: c.version,
    status: c.status,
    late: c.late,
    lateReason: text(d.lateReason) ?? null,
    applicationDueOn: d.applicationDueOn,
    reviewDueOn: c.reviewDueOn,
    reviewTargetOn: d.reviewTargetOn ?? null,
    reviewExtensions: (d.reviewExtensions ?? []).map((x) => ({ ...x, reason: text(x.reason) as string })),
    overdue: isReviewOverdue(c.status, c.reviewDueOn, today),
    requestedMaterials: d.requestedMaterials ? { items: d.requestedMaterials.items.map((i) => text(i) as string), dueOn: d.requestedMaterials.dueOn } : null,
    materialRequests: (d.materialRequests ?? []).map((x) => ({
      ...x,
      items: x.items.map((i) => text(i) as string),
      ...(x.supplied?.note !== undefined ? { supplied: { ...x.supplied, note: text(x.supplied.note) as string } } : {}),
    })),
    deemedWithdrawal: d.deemedWithdrawal ?? null,
    objectionDueOn: d.objectionDueOn ?? null,
    objections: (d.objections ?? []).map((x) => ({ ...x, grounds: text(x.grounds) as string })),
    provisional: d.provisional,
    referralId: c.referralId,
    courtCode: c.courtCode,
    organizationId: c.organizationId,
    subject: c.subject,
    applicants: d.applicants,
    appliedAt: d.appliedAt,
    agreement: full ? d.agreement : { ...d.agreement, terms: maskFreeText(d.agreement.terms) },
    agreementSha256: c.agreementSha256,
    parties: partiesView(d.parties, full, decrypt),
    materials: d.materials,
    venue: d.venue ?? null,
    caseNumber: c.caseNumber,
    acceptance: d.acceptance ?? null,
    notAccepted: reason(d.notAccepted),
    withdrawal: reason(d.withdrawal),
    ruling: reason(d.ruling),
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  }
}

/** The personal-data fields a full view of this application shows (for the access trail). */
export const confirmationPersonalFields = (c: Confirmation): string[] => partyPersonalFields(c.doc.parties)

/** The application with personal data masked: what events carry and operators see. */
export const maskedConfirmationView = (c: Confirmation, today: string): Record<string, unknown> => confirmationView(c, false, NEVER_DECRYPT, today)
