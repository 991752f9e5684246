import { createHash } from 'node:crypto'
import type {
  AcceptanceInput,
  AgreementInput,
  AssignmentInput,
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
} from '../schemas/referrals.js'
import { acceptanceDueOn, daysBetween, type LegalCalendar, mediationDueOn, resumedDueOn, shanghaiDate } from './calendar.js'
import { checkAgreement } from './agreement.js'
import { before, checkPartyIndexes, notFuture } from './case-checks.js'
import { mediationUnrolled, withUnrolledDueOn } from './deadlines.js'
import { businessRule, fieldInvalid, type FieldError, forbidden, illegalTransition, validationFailed } from './errors.js'
import { parseCaseNumber, regionCovers } from './identifiers.js'
import { checkDesignation, type Organization } from './organization.js'
import type { Principal } from './principal.js'
import type { Agreement, Referral, ReferralDoc } from './referral.js'
import {
  CLOSURE_DISPOSITIONS,
  coversAllParties,
  decideTransition,
  type ReferralAction,
  SYSTEM_DECLINE_REASON,
  SYSTEM_TERMINATION_REASON,
} from './referral-machine.js'

/**
 * The rules of each referral action, as pure functions: given the locked referral, the validated input, the clock
 * and whatever the service looked up, each returns the referral after the action (the state machine in
 * referral-machine.ts sets the status) or throws the error the caller gets. The service (src/cases/referrals)
 * does the I/O around them; test/domain/referral-actions.test.ts tables them.
 */

/** What every action is decided against: the moment and the legal calendar. */
export interface At {
  now: Date
  cal: LegalCalendar
}

const currentYear = (now: Date) => Number(shanghaiDate(now).slice(0, 4))

const consentIndexes = (consent: ReadonlyArray<{ partyIndex: number }>) => consent.map((c, i) => ({ path: `/consent/${i}/partyIndex`, index: c.partyIndex }))

// ---------------------------------------------------------------------------------------------
// Intake

/**
 * What a referral's body must satisfy before anything is looked up: the shape rules JSON Schema cannot say, the
 * caller's court, every party's consent (意见 三(二)). Returns the normalised 案号.
 */
export function checkReferralIntake(b: CreateReferralInput, p: Principal, now: Date): { caseNumber: string } {
  if (!decideTransition('none', 'create', p.role, b.referralType).ok) throw forbidden('当前角色无权执行此操作')
  const errors: FieldError[] = []
  if (b.referralType === 'in_litigation' && !b.procedure) errors.push({ path: '/procedure', code: 'required', message: '诉中委托须注明普通或简易程序' })
  if (b.referralType === 'pre_filing' && b.procedure) errors.push({ path: '/procedure', code: 'not_allowed', message: '诉前委派不适用 procedure' })
  if (!b.parties.some((x) => x.role === 'applicant')) errors.push({ path: '/parties', code: 'applicant_required', message: '至少需要一名申请人/原告' })
  if (!b.parties.some((x) => x.role === 'respondent')) errors.push({ path: '/parties', code: 'respondent_required', message: '至少需要一名被申请人/被告' })
  errors.push(...checkPartyIndexes(b.parties.length, consentIndexes(b.consent)))
  if (errors.length) throw validationFailed(errors)
  if (!p.courtCodes.includes(b.courtCode)) throw businessRule('court_code_not_allowed', '调用方无权以该法院代字委派案件')
  if (
    !coversAllParties(
      b.parties.length,
      b.consent.map((c) => c.partyIndex),
    )
  ) {
    throw businessRule('consent_required', '委派调解须经全体当事人同意（意见 三(二)）')
  }
  return { caseNumber: parseCaseNumber(b.caseNumber, { currentYear: currentYear(now) })?.normalized ?? b.caseNumber }
}

/** The designated organization, checked against the rosters (contract §2); `org` is undefined when unknown. */
export function designated(courtCode: string, mode: 'party_selected' | 'court_designated', org: Organization | undefined): Organization {
  const problem = checkDesignation(mode, courtCode, org)
  if (problem) throw businessRule(problem.code, problem.detail)
  return org as Organization
}

// ---------------------------------------------------------------------------------------------
// Actions

/** Acceptance starts the mediation clock (在线调解规则 12; 30 days pre-filing, 15 or 7 in litigation). */
export function accept(r: Referral, b: AcceptanceInput, at: At): Referral {
  const errors: FieldError[] = []
  if (!b.mediator) errors.push({ path: '/mediator', code: 'required', message: '受理须指定调解员' })
  if (!b.acceptedAt) errors.push({ path: '/acceptedAt', code: 'required', message: '受理须填写受理时间' })
  if (b.reason !== undefined) errors.push({ path: '/reason', code: 'not_allowed', message: '受理时不填写理由' })
  if (errors.length) throw validationFailed(errors)
  const acceptedAt = new Date(b.acceptedAt as string)
  notFuture(b.acceptedAt as string, at.now, 'acceptedAt')
  if (before(b.acceptedAt as string, r.createdAt)) throw businessRule('timestamp_before_referral', 'acceptedAt 不能早于委派时间', { path: 'acceptedAt' })
  const due = mediationDueOn(at.cal, shanghaiDate(acceptedAt), r.referralType, r.doc.procedure)
  return {
    ...r,
    doc: {
      ...r.doc,
      mediator: b.mediator,
      acceptedAt: acceptedAt.toISOString(),
      deadlines: { acceptanceDueOn: r.doc.deadlines.acceptanceDueOn, mediationDueOn: due.date, provisional: due.provisional },
    },
  }
}

/** Declining needs a reason and nothing of an acceptance. */
export function decline(r: Referral, b: AcceptanceInput, at: At): Referral {
  if (!b.reason) throw fieldInvalid('/reason', 'required', '不予接受须说明理由')
  if (b.mediator || b.acceptedAt) throw fieldInvalid(b.mediator ? '/mediator' : '/acceptedAt', 'not_allowed', '不予接受时不填写调解员或受理时间')
  return { ...r, doc: { ...r.doc, decline: { reason: b.reason, declinedAt: at.now.toISOString(), by: 'organization' } } }
}

/** A new designation after a decline: the intake's roster rules and a new acceptance deadline. */
export function redesignate(r: Referral, b: RedesignationInput, org: Organization | undefined, at: At): Referral {
  const target = designated(r.courtCode, b.designation.mode, org)
  const due = acceptanceDueOn(at.cal, shanghaiDate(at.now))
  const { decline: _decline, ...rest } = r.doc
  void _decline
  return {
    ...r,
    organizationId: target.id,
    heldBy: r.heldBy.includes(target.id) ? r.heldBy : [...r.heldBy, target.id],
    doc: { ...rest, designation: b.designation, deadlines: { acceptanceDueOn: due.date, mediationDueOn: null, provisional: due.provisional } },
  }
}

/**
 * The court takes the case back before mediation starts (contract §2 v1.1; 意见 三(一)(三), 特邀调解规定 12, 21): a
 * party withdrew consent or insists on litigation, or the court so decides. The organization learns it from the event;
 * the acceptance clock stops with the state, and the 案号 is free for a new referral.
 */
export function recall(r: Referral, b: RecallInput, at: At): Referral {
  return { ...r, doc: { ...r.doc, recall: { reason: b.reason, ...(b.note ? { note: b.note } : {}), recalledAt: at.now.toISOString() } } }
}

/** Only a centre dispatches, to another active organization in its region (意见 三(二)). */
export function assign(r: Referral, b: AssignmentInput, centre: Organization | undefined, target: Organization | undefined, at: At): Referral {
  void b
  if (!centre || centre.kind !== 'centre') throw businessRule('not_a_centre', '只有非诉讼纠纷化解中心可以分派案件')
  if (!target) throw businessRule('not_on_roster', '目标调解组织不存在')
  if (!target.active) throw businessRule('organization_inactive', '目标调解组织已停用')
  if (target.id === centre.id || !regionCovers(centre.regionCode, target.regionCode)) {
    throw businessRule('outside_centre_region', '目标调解组织不在中心辖区内')
  }
  return {
    ...r,
    organizationId: target.id,
    heldBy: r.heldBy.includes(target.id) ? r.heldBy : [...r.heldBy, target.id],
    doc: { ...r.doc, assignments: [...(r.doc.assignments ?? []), { from: centre.id, to: target.id, assignedAt: at.now.toISOString() }] },
  }
}

/** The clock stops (在线调解规则 26; 特邀调解规定 18). */
export function suspend(r: Referral, b: SuspensionInput, at: At): Referral {
  const suspension = { reason: b.reason, ...(b.note ? { note: b.note } : {}), suspendedOn: shanghaiDate(at.now), suspendedAt: at.now.toISOString() }
  return { ...r, doc: { ...r.doc, suspension } }
}

/**
 * The calendar days suspended are added to the unrolled due date, which is then rolled forward (在线调解规则 26,
 * 民诉法 85; contract §2 `resumption`): a holiday the shown date was already rolled past is not counted twice.
 */
export function resume(r: Referral, b: ResumptionInput, at: At): Referral {
  const s = r.doc.suspension
  const resumedOn = shanghaiDate(at.now)
  const current = r.doc.deadlines.mediationDueOn
  const unrolled = mediationUnrolled(r)
  const due = s && current && unrolled ? resumedDueOn(at.cal, unrolled, s.suspendedOn, resumedOn) : null
  const { suspension: _s, ...rest } = r.doc
  void _s
  const closed = s
    ? [{ reason: s.reason, ...(s.note ? { note: s.note } : {}), suspendedOn: s.suspendedOn, resumedOn, ...(b.note ? { resumeNote: b.note } : {}) }]
    : []
  const doc: ReferralDoc = { ...rest, suspensions: [...(r.doc.suspensions ?? []), ...closed] }
  if (!due) return { ...r, doc }
  return {
    ...r,
    doc: withUnrolledDueOn({ ...doc, deadlines: { ...r.doc.deadlines, mediationDueOn: due.date, provisional: due.provisional } }, due.unrolled),
  }
}

/**
 * Every party consents (特邀调解规定 27) and the new date is later than the current one. A `newDueOn` that is a rest
 * day rolls forward to the next working day (民诉法 85), and is the new unrolled date (contract §2 `extension`); one
 * the calendar cannot judge (no arrangement, beyond the lunar data) is 422 `calendar_unavailable`.
 */
export function extend(r: Referral, b: ExtensionInput, at: At): Referral {
  const errors = checkPartyIndexes(r.doc.parties.length, consentIndexes(b.consent))
  if (errors.length) throw validationFailed(errors)
  if (
    !coversAllParties(
      r.doc.parties.length,
      b.consent.map((c) => c.partyIndex),
    )
  )
    throw businessRule('consent_required', '延长调解期限须经全体当事人同意')
  const current = r.doc.deadlines.mediationDueOn
  if (current && daysBetween(current, b.newDueOn) <= 0)
    throw businessRule('due_date_not_later', `newDueOn 须晚于当前期限 ${current}`, undefined, `newDueOn must be later than the current due date ${current}`)
  const due = at.cal.rollForward(b.newDueOn)
  return {
    ...r,
    doc: withUnrolledDueOn(
      {
        ...r.doc,
        extensions: [...(r.doc.extensions ?? []), { previousDueOn: current ?? '', newDueOn: b.newDueOn, consent: b.consent, extendedAt: at.now.toISOString() }],
        deadlines: { ...r.doc.deadlines, mediationDueOn: due.date, provisional: due.provisional },
      },
      b.newDueOn,
    ),
  }
}

/**
 * Written and electronic agreements: every party, the mediator and the seal (人民调解法 29, 在线调解规则 19), effective
 * at the latest of them; oral ones effective when reached (人民调解法 30); see domain/agreement.ts. `document` is the
 * signed file the body names in `documentMaterialId`, looked up by the service (it exists and the caller may read it).
 */
export function recordAgreement(r: Referral, b: AgreementInput, at: At, document?: { materialId: string; sha256: string }): Referral {
  const effectiveAt = checkAgreement(r.doc.parties.length, b, at.now)
  if (b.documentMaterialId !== undefined && !document) throw new Error('the service looks the agreement document up')
  const agreement: Agreement = {
    ...(b.agreementNumber ? { agreementNumber: b.agreementNumber } : {}),
    form: b.form,
    terms: b.terms,
    ...(b.amount !== undefined ? { amount: b.amount } : {}),
    signatures: b.signatures,
    ...(b.mediatorSignedAt !== undefined ? { mediatorSignedAt: b.mediatorSignedAt } : {}),
    ...(b.sealedAt !== undefined ? { sealedAt: b.sealedAt } : {}),
    ...(b.reachedAt !== undefined ? { reachedAt: b.reachedAt } : {}),
    ...(document ? { documentMaterialId: document.materialId, documentSha256: document.sha256 } : {}),
    effectiveAt,
    performance: b.performance,
    sha256: createHash('sha256').update(b.terms, 'utf8').digest('hex'),
    recordedAt: at.now.toISOString(),
  }
  return { ...r, doc: { ...r.doc, agreement } }
}

/** Reasons per 在线调解规则 25; undisputed facts must be confirmed by every party. */
export function terminate(r: Referral, b: TerminationInput, at: At): Referral {
  const facts = b.undisputedFacts ?? []
  const errors = checkPartyIndexes(
    r.doc.parties.length,
    facts.flatMap((f, i) => f.confirmedBy.map((pi, j) => ({ path: `/undisputedFacts/${i}/confirmedBy/${j}`, index: pi }))),
  )
  if (errors.length) throw validationFailed(errors)
  if (facts.some((f) => !coversAllParties(r.doc.parties.length, f.confirmedBy))) throw businessRule('signatures_incomplete', '无争议事实须经全体当事人签字确认')
  const { suspension: _s, ...rest } = r.doc
  void _s
  const termination = {
    reason: b.reason,
    report: b.report,
    ...(facts.length ? { undisputedFacts: facts } : {}),
    terminatedAt: at.now.toISOString(),
    by: 'organization' as const,
  }
  return { ...r, doc: { ...rest, termination } }
}

/** The file goes back with a written report (特邀调解规定 26); the service checks the materials exist. */
export function returnMaterials(r: Referral, b: MaterialReturnInput, at: At): Referral {
  notFuture(b.returnedAt, at.now, 'returnedAt')
  return { ...r, doc: { ...r.doc, materialReturn: { materials: b.materials, report: b.report, returnedAt: new Date(b.returnedAt).toISOString() } } }
}

/** Registration of a pre-filing case under a new 案号 of the referring court. */
export function registerCase(r: Referral, b: CourtFilingInput, at: At): Referral {
  const errors: FieldError[] = []
  if (!b.caseNumber) errors.push({ path: '/caseNumber', code: 'required', message: '登记立案须填写新案号' })
  if (!b.filedOn) errors.push({ path: '/filedOn', code: 'required', message: '登记立案须填写立案日期' })
  if (b.resumedOn) errors.push({ path: '/resumedOn', code: 'not_allowed', message: '登记立案不填写 resumedOn' })
  const parsed = b.caseNumber ? parseCaseNumber(b.caseNumber, { currentYear: currentYear(at.now) }) : null
  if (parsed && parsed.court !== r.courtCode) errors.push({ path: '/caseNumber', code: 'invalid_case_number', message: '新案号的法院代字须与委派法院一致' })
  if (errors.length) throw validationFailed(errors)
  return {
    ...r,
    doc: { ...r.doc, courtFiling: { action: 'case_registered', caseNumber: parsed?.normalized ?? (b.caseNumber as string), filedOn: b.filedOn as string } },
  }
}

/** The trial resumes on a date, under the case's own 案号. */
export function resumeTrial(r: Referral, b: CourtFilingInput): Referral {
  if (!b.resumedOn) throw fieldInvalid('/resumedOn', 'required', '恢复审理须填写恢复日期')
  if (b.caseNumber || b.filedOn) throw fieldInvalid(b.caseNumber ? '/caseNumber' : '/filedOn', 'not_allowed', '恢复审理不填写新案号或立案日期')
  return { ...r, doc: { ...r.doc, courtFiling: { action: 'trial_resumed', resumedOn: b.resumedOn } } }
}

/** The dispositions open to each kind of referral. */
export function close(r: Referral, b: ClosureInput, at: At): Referral {
  const allowed: readonly string[] = CLOSURE_DISPOSITIONS[r.referralType]
  if (!allowed.includes(b.disposition)) throw illegalTransition(r.status, `closure:${b.disposition}`)
  return {
    ...r,
    doc: {
      ...r.doc,
      closure: { disposition: b.disposition, ...(b.documentNumber ? { documentNumber: b.documentNumber } : {}), closedAt: at.now.toISOString() },
    },
  }
}

/** Repeatable; the latest report wins. */
export function reportPerformance(r: Referral, b: PerformanceInput, at: At): Referral {
  return {
    ...r,
    doc: { ...r.doc, performance: { status: b.status, reportedOn: b.reportedOn, ...(b.note ? { note: b.note } : {}), reportedAt: at.now.toISOString() } },
  }
}

// ---------------------------------------------------------------------------------------------
// Deadlines

/**
 * The expiry due on a referral as of `today` (Asia/Shanghai): the acceptance deadline of a referred case or the
 * mediation deadline of a mediating one, passed; null when none is.
 */
export function expiryDue(
  r: Referral,
  today: string,
  now: Date,
): { action: Extract<ReferralAction, 'acceptance_timeout' | 'mediation_timeout'>; after: Referral } | null {
  const d = r.doc.deadlines
  if (r.status === 'referred' && d.acceptanceDueOn && d.acceptanceDueOn < today) {
    return {
      action: 'acceptance_timeout',
      after: { ...r, doc: { ...r.doc, decline: { reason: SYSTEM_DECLINE_REASON, declinedAt: now.toISOString(), by: 'system' } } },
    }
  }
  if (r.status === 'mediating' && d.mediationDueOn && d.mediationDueOn < today) {
    return {
      action: 'mediation_timeout',
      after: { ...r, doc: { ...r.doc, termination: { reason: SYSTEM_TERMINATION_REASON, terminatedAt: now.toISOString(), by: 'system' } } },
    }
  }
  return null
}

/** The deadline a timer should fire at for this referral's state, if any. */
export function pendingDeadline(r: Referral): string | null {
  if (r.status === 'referred') return r.doc.deadlines.acceptanceDueOn
  if (r.status === 'mediating') return r.doc.deadlines.mediationDueOn
  return null
}
