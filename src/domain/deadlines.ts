/**
 * The due dates a case keeps running, and how they are recomputed when a year's calendar changes (contract §2
 * "Recomputation"). Pure: the case, its start dates and a calendar in; the new dates (or nothing to do) out.
 */
import {
  acceptanceDueOn,
  addCalendarDays,
  confirmationDeadline,
  type DatedResult,
  type DateString,
  daysBetween,
  type LegalCalendar,
  reviewDueOn,
  shanghaiDate,
  unrolledMediationDueOn,
} from './calendar.js'
import type { Confirmation } from './confirmation.js'
import type { Deadlines, Referral, ReferralDoc } from './referral.js'
import type { ReferralStatus } from './referral-machine.js'

// ---------------------------------------------------------------------------------------------
// The mediation clock

/**
 * The case file with the unrolled mediation due date the service keeps (contract §2 `resumption`). It sits beside
 * `deadlines`, not in it: `deadlines` is shown as it is stored, and the unrolled date is bookkeeping, not a date
 * the parties count on.
 */
export type ClockedDoc = ReferralDoc & { mediationDueOnUnrolled?: DateString }

/** `doc` with `unrolled` as its unrolled mediation due date. */
export function withUnrolledDueOn(doc: ReferralDoc, unrolled: DateString): ReferralDoc {
  const clocked: ClockedDoc = { ...doc, mediationDueOnUnrolled: unrolled }
  return clocked
}

/**
 * A referral's unrolled mediation due date, or null before acceptance. Kept since the resumption and extension
 * rules of contract v1.1; for a case from before (none kept) it is derived as those rules would have kept it: the
 * acceptance date plus the period, or the last extension's `newDueOn`, plus the calendar days of every suspension
 * since.
 */
export function mediationUnrolled(r: Pick<Referral, 'referralType' | 'doc'>): DateString | null {
  const doc = r.doc as ClockedDoc
  if (doc.mediationDueOnUnrolled) return doc.mediationDueOnUnrolled
  if (!doc.acceptedAt) return null
  const acceptedOn = shanghaiDate(new Date(doc.acceptedAt))
  const last = doc.extensions?.at(-1)
  let unrolled = last ? last.newDueOn : unrolledMediationDueOn(acceptedOn, r.referralType, doc.procedure)
  const since = last ? shanghaiDate(new Date(last.extendedAt)) : acceptedOn
  for (const s of doc.suspensions ?? []) {
    // A suspension before the last extension is inside the date the parties agreed to.
    if (s.resumedOn && daysBetween(since, s.suspendedOn) >= 0) unrolled = addCalendarDays(unrolled, daysBetween(s.suspendedOn, s.resumedOn))
  }
  return unrolled
}

// ---------------------------------------------------------------------------------------------
// Recomputation

/** The due-date fields a recomputation may move (the `before`/`after` of a `*.deadlines_changed` event). */
export type DueField = 'acceptanceDueOn' | 'mediationDueOn' | 'reviewDueOn' | 'reviewTargetOn' | 'objectionDueOn'
export type DueDates = Partial<Record<DueField, DateString>>

/** What a recomputation changes on one case: the moved dates before and after, and the new `provisional`. */
export interface DueChange {
  before: DueDates
  after: DueDates
  provisional: boolean
}

/** The referral states whose due date is still running, with the field that holds it. */
export const RUNNING_REFERRAL_DATES: Readonly<Partial<Record<ReferralStatus, DueField>>> = {
  referred: 'acceptanceDueOn',
  mediating: 'mediationDueOn',
  suspended: 'mediationDueOn',
}

/** The confirmation states whose review due date is still running (民事诉讼法 187; 354: while materials are awaited). */
export const RUNNING_CONFIRMATION_STATUSES: readonly string[] = ['under_review', 'materials_requested']

/** The later of the stored date and the recomputed one: a recomputation never moves a due date earlier. */
function later(stored: DateString | null, recomputed: DatedResult): { moved: boolean; date: DateString } {
  if (stored === null || daysBetween(stored, recomputed.date) > 0) return { moved: true, date: recomputed.date }
  return { moved: false, date: stored }
}

/**
 * The referral's running due date recomputed on `cal` from its start: the acceptance deadline from the day of the
 * (re)designation (`designatedOn`), the mediation deadline from the unrolled date. Null when it would not move
 * later (an earlier date leaves the stored one standing) or no date is running. Throws 422 `calendar_unavailable`
 * when the calendar cannot judge a day it needs.
 */
export function recomputeReferral(r: Referral, cal: LegalCalendar, designatedOn: DateString): (DueChange & { deadlines: Deadlines }) | null {
  const field = RUNNING_REFERRAL_DATES[r.status]
  const d = r.doc.deadlines
  if (field === 'acceptanceDueOn') {
    const due = acceptanceDueOn(cal, designatedOn)
    const next = later(d.acceptanceDueOn, due)
    if (!next.moved) return null
    return {
      before: d.acceptanceDueOn ? { acceptanceDueOn: d.acceptanceDueOn } : {},
      after: { acceptanceDueOn: next.date },
      provisional: due.provisional,
      deadlines: { ...d, acceptanceDueOn: next.date, provisional: due.provisional },
    }
  }
  if (field === 'mediationDueOn') {
    const unrolled = mediationUnrolled(r)
    if (!unrolled) return null
    const due = cal.rollForward(unrolled)
    const next = later(d.mediationDueOn, due)
    if (!next.moved) return null
    return {
      before: d.mediationDueOn ? { mediationDueOn: d.mediationDueOn } : {},
      after: { mediationDueOn: next.date },
      provisional: due.provisional,
      deadlines: { ...d, mediationDueOn: next.date, provisional: due.provisional },
    }
  }
  return null
}

/** The confirmation states in which the parties' objection window (民诉法解释 372) may still be running. */
export const OBJECTION_WINDOW_STATUSES: readonly string[] = ['ruled_valid', 'ruled_rejected']

/** The 15-day target of 法释〔2011〕5号 art. 5 after acceptance, counted and rolled as the review period (art. 85). */
export const REVIEW_TARGET_DAYS = 15
/** Days after service of the ruling within which a party may object (民诉法解释 372). */
export const PARTY_OBJECTION_DAYS = 15

/**
 * The application's dates recomputed on `cal` from their starts (contract §2 "Recomputation"), each only later:
 * while the review runs, the review due date (民事诉讼法 187 + art. 85: acceptance + 30 days, or the date of the
 * last extension the court president approved, rolled forward) and the informational day-15 target
 * (法释〔2011〕5号 art. 5); once ruled, the parties' objection window (民诉法解释 372: service + 15 days, rolled).
 * Null when nothing would move later. `provisional` covers the dates the application shows, with the application
 * deadline (art. 205). A date the case never had (an application accepted before the target was kept) stays absent.
 */
export function recomputeConfirmation(
  c: Confirmation,
  cal: LegalCalendar,
): (DueChange & { reviewDueOn: DateString | null; reviewTargetOn?: DateString; objectionDueOn?: DateString }) | null {
  const before: DueDates = {}
  const after: DueDates = {}
  let provisional = false
  const move = (field: DueField, stored: DateString | null, due: DatedResult) => {
    provisional ||= due.provisional
    const next = later(stored, due)
    if (!next.moved) return
    if (stored !== null) before[field] = stored
    after[field] = next.date
  }
  const acceptedOn = c.doc.acceptance?.acceptedOn
  const ruling = c.doc.ruling
  if (RUNNING_CONFIRMATION_STATUSES.includes(c.status) && acceptedOn) {
    const extended = c.doc.reviewExtensions?.at(-1)?.newDueOn
    move('reviewDueOn', c.reviewDueOn, extended ? cal.rollForward(extended) : reviewDueOn(cal, acceptedOn))
    if (c.doc.reviewTargetOn !== undefined) move('reviewTargetOn', c.doc.reviewTargetOn, cal.addDaysRolled(acceptedOn, REVIEW_TARGET_DAYS))
  } else if (OBJECTION_WINDOW_STATUSES.includes(c.status) && ruling && c.doc.objectionDueOn !== undefined) {
    move('objectionDueOn', c.doc.objectionDueOn, cal.addDaysRolled(ruling.servedOn ?? ruling.ruledOn, PARTY_OBJECTION_DAYS))
  } else {
    return null
  }
  if (!Object.keys(after).length) return null
  const applying = confirmationDeadline(cal, shanghaiDate(new Date(c.doc.agreement.effectiveAt)))
  return {
    before,
    after,
    provisional: provisional || applying.provisional,
    reviewDueOn: after.reviewDueOn ?? c.reviewDueOn,
    ...(after.reviewTargetOn !== undefined ? { reviewTargetOn: after.reviewTargetOn } : {}),
    ...(after.objectionDueOn !== undefined ? { objectionDueOn: after.objectionDueOn } : {}),
  }
}
