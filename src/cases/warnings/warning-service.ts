import type { Kysely } from 'kysely'
import type { Database } from '../../db/database.js'
import { commitVersioned, listSubjectEvents } from '../../db/event-repository.js'
import { getWarning, lockWarning, saveWarning, type Warning, type WarningActor } from '../../db/warning-repository.js'
import { mayReadWarning } from '../../domain/access.js'
import { maskPersonalDataInText } from '../../domain/personal-data.js'
import { decideWarning, overdueDue, type WarningAction } from '../../domain/warning.js'
import { type Caller, type CaseKind, inWork, type Outcome, readCase, transitionCase, type Work } from '../case-kit.js'

/**
 * The warning lifecycle (contract §5 v1.1): acknowledgement by the other side, follow-ups from either side, closure
 * by the raising side, and the system's one overdue mark. Each is a transition of the case kit on the locked row:
 * 404 outside the caller's read scope → If-Match (412) → the wrong side 403 `forbidden` → the state 409
 * `illegal_transition`; then the new state, version and hash-chained event (audience `warning`: both sides on the
 * warning's branch) in the caller's transaction.
 */

const WHAT = '预警'

/**
 * The warning as its lifecycle events show it: what identifies it and where it stands, without the summary and the
 * follow-up history (the summary went out with warning.raised; the events reach clients who may not read the
 * warning itself). Notes and reports are masked on receipt (below), and again here: no ID or mobile number
 * unmasked in any event, whoever wrote the row.
 */
export function warningEventView(w: Warning) {
  return {
    id: w.id,
    level: w.level,
    regionCode: w.regionCode,
    disputeType: w.disputeType,
    referralId: w.referralId,
    raisedBy: { clientId: w.raisedBy.clientId, role: w.raisedBy.role },
    status: w.status,
    version: w.version,
    createdAt: w.createdAt.toISOString(),
    acknowledgementDueAt: w.acknowledgementDueAt.toISOString(),
    acknowledgedAt: w.acknowledgement?.at.toISOString() ?? null,
    closedAt: w.closure?.at.toISOString() ?? null,
  }
}

/** The data of each lifecycle event: the warning, and what the action added. */
function eventData(eventType: string, w: Warning): Record<string, unknown> {
  const warning = warningEventView(w)
  switch (eventType) {
    case 'warning.acknowledged':
      return { warning, note: w.acknowledgement?.note == null ? null : maskPersonalDataInText(w.acknowledgement.note) }
    case 'warning.followed_up': {
      const last = w.followUps[w.followUps.length - 1]
      return { warning, followUp: { at: last.at, by: last.by, report: maskPersonalDataInText(last.report) } }
    }
    case 'warning.closed':
      return { warning, report: maskPersonalDataInText(w.closure?.report ?? '') }
    default:
      return { warning, dueAt: w.acknowledgementDueAt.toISOString() }
  }
}

export const warningKind: CaseKind<Warning, WarningAction> = {
  what: WHAT,
  notActing: '当前调用方无权处理该预警',
  get: getWarning,
  lock: lockWarning,
  // Readers act; which side may take which action is the transition table's business (403 forbidden).
  standing: async (_db, p, w) => {
    const read = mayReadWarning(p, w)
    return { read, full: false, act: read }
  },
  decide: (w, action, by) => decideWarning(w, action, by),
  commit(trx, c) {
    const version = c.before.version + 1
    return commitVersioned(trx, {
      subjectKind: 'warning',
      before: c.before,
      after: c.after,
      eventType: c.eventType,
      actor: c.actor,
      eventData: eventData(c.eventType, { ...c.after, version, updatedAt: c.now }),
      // Both sides whose region is on the warning's branch (contract §5 v1.1).
      scope: { courtCode: null, organizationId: null, regionCode: c.before.regionCode, audience: 'warning' },
      now: c.now,
      save: saveWarning,
      batch: c.batch,
    })
  },
}

const actorOf = (caller: Caller): WarningActor => ({ clientId: caller.principal.clientId, role: caller.principal.role as WarningActor['role'] })

export type WarningService = ReturnType<typeof warningService>

export function warningService(deps: { db: Kysely<Database> }, clock: () => Date = () => new Date()) {
  async function act(work: Work, caller: Caller, id: string, action: WarningAction, apply: (w: Warning, now: Date) => Warning): Promise<Outcome<Warning>> {
    const now = clock()
    const done = await transitionCase(work, warningKind, { id, by: caller, action, now, apply: (w) => apply(w, now) })
    // transitionCase returns undefined only for system actions.
    const { value } = done as NonNullable<typeof done>
    return { value, full: false, hints: { events: true } }
  }

  return {
    /** A warning the caller may read; 404 otherwise. */
    async get(caller: Caller, id: string): Promise<{ value: Warning; full: boolean }> {
      const { value } = await readCase(deps.db, warningKind, caller.principal, id)
      return { value, full: false }
    },

    async events(caller: Caller, id: string, afterSequence: number, limit: number) {
      const { value } = await readCase(deps.db, warningKind, caller.principal, id)
      return listSubjectEvents(deps.db, value.id, afterSequence, limit)
    },

    // Notes and reports are read by both sides, neither of which is "the referring court and the handling
    // organization" (contract §1): ID and mobile numbers in them are masked on receipt, so no one, the stored row,
    // the idempotency store and the events included, ever holds them in full.

    /** 签收: the other side takes the warning in hand (raised → acknowledged). */
    acknowledge(work: Work, caller: Caller, id: string, body: { note?: string }) {
      return act(work, caller, id, 'acknowledge', (w, now) => ({
        ...w,
        acknowledgement: { at: now, by: actorOf(caller), note: body.note === undefined ? null : maskPersonalDataInText(body.note) },
      }))
    },

    /** 续报: either side reports on the situation; the status stays. */
    followUp(work: Work, caller: Caller, id: string, body: { report: string }) {
      return act(work, caller, id, 'follow_up', (w, now) => ({
        ...w,
        followUps: [...w.followUps, { at: now.toISOString(), by: actorOf(caller), report: maskPersonalDataInText(body.report) }],
      }))
    },

    /** 结报: the raising side closes the warning (from raised or acknowledged). */
    close(work: Work, caller: Caller, id: string, body: { report: string }) {
      return act(work, caller, id, 'close', (w, now) => ({ ...w, closure: { at: now, by: actorOf(caller), report: maskPersonalDataInText(body.report) } }))
    },
  }
}

/**
 * Writes the warning's one `warning.overdue` event if (and only if) it is overdue at `now`: still raised, never
 * marked, its acknowledgement time passed. On the locked row, so racing timers mark it once. Returns whether it did.
 */
export async function markOverdueIfDue(db: Kysely<Database>, id: string, now = new Date()): Promise<boolean> {
  const done = await inWork(db, (work) =>
    transitionCase(work, warningKind, {
      id,
      by: 'system',
      now,
      action: (w) => (overdueDue(w, now) ? 'mark_overdue' : null),
      apply: (w) => ({ ...w, overdueAt: now }),
    }),
  )
  return done !== undefined
}
