import type { Role } from './principal.js'

/**
 * The 重大矛盾纠纷预警 lifecycle (contract §5 v1.1; 意见 五(一): 双向预警, 续报, 结报). Pure: no I/O.
 *
 *   raised ──acknowledge (other side)──▶ acknowledged
 *   raised | acknowledged ──close (raising side)──▶ closed
 *   raised | acknowledged ──follow_up (either side)──▶ (unchanged)
 *   raised, not acknowledged by its due time ──mark_overdue (system, once)──▶ (unchanged)
 *
 * "Side" is the role: the readers of a warning are its raising client, the other role's clients on its branch and
 * operators (domain/access.ts mayReadWarning), so a reader of the raiser's role is the raising client itself.
 */

export const WARNING_LEVELS = ['red', 'orange', 'yellow'] as const
export type WarningLevel = (typeof WARNING_LEVELS)[number]

export const WARNING_STATUSES = ['raised', 'acknowledged', 'closed'] as const
export type WarningStatus = (typeof WARNING_STATUSES)[number]

export type WarningAction = 'acknowledge' | 'follow_up' | 'close' | 'mark_overdue'

/** How long the other side has to acknowledge a warning of each level (contract §5: red 2 h, orange 12 h, yellow 24 h). */
export const ACKNOWLEDGEMENT_HOURS: Record<WarningLevel, number> = { red: 2, orange: 12, yellow: 24 }

/** When a warning raised at `raisedAt` becomes overdue if nobody acknowledged it. */
export function acknowledgementDue(level: WarningLevel, raisedAt: Date): Date {
  return new Date(raisedAt.getTime() + ACKNOWLEDGEMENT_HOURS[level] * 3_600_000)
}

/** What the lifecycle decides on. */
export interface WarningState {
  status: WarningStatus
  raisedBy: { role: Role }
  acknowledgementDueAt: Date
  overdueAt: Date | null
}

/** The kit's decision shape (cases/case-kit.ts Decision). */
export type WarningDecision = { ok: true; to: WarningStatus; event: string } | { ok: false; reason: 'forbidden' | 'illegal_transition' }

const EVENTS: Record<WarningAction, string> = {
  acknowledge: 'warning.acknowledged',
  follow_up: 'warning.followed_up',
  close: 'warning.closed',
  mark_overdue: 'warning.overdue',
}

/** Whether `by` is on the side allowed to take `action` (the raising side, the other side, or the system). */
function sideMayAct(w: WarningState, action: WarningAction, by: Role | 'system'): boolean {
  if (action === 'mark_overdue') return by === 'system'
  if (by !== 'court' && by !== 'mediation') return false
  const raising = by === w.raisedBy.role
  if (action === 'acknowledge') return !raising
  if (action === 'close') return raising
  return true
}

/**
 * The transition table: the wrong side (or a role that never acts on warnings) → forbidden, checked before the
 * state; a state that does not allow the action → illegal_transition. Follow-ups and the overdue mark leave the
 * status as it is.
 */
export function decideWarning(w: WarningState, action: WarningAction, by: Role | 'system'): WarningDecision {
  if (!sideMayAct(w, action, by)) return { ok: false, reason: 'forbidden' }
  const event = EVENTS[action]
  switch (action) {
    case 'acknowledge':
      return w.status === 'raised' ? { ok: true, to: 'acknowledged', event } : { ok: false, reason: 'illegal_transition' }
    case 'close':
      return w.status === 'closed' ? { ok: false, reason: 'illegal_transition' } : { ok: true, to: 'closed', event }
    case 'follow_up':
      return w.status === 'closed' ? { ok: false, reason: 'illegal_transition' } : { ok: true, to: w.status, event }
    case 'mark_overdue':
      return w.status === 'raised' && w.overdueAt === null ? { ok: true, to: 'raised', event } : { ok: false, reason: 'illegal_transition' }
  }
}

/** Whether the overdue mark is due at `now`: still raised, never marked, its acknowledgement time passed. */
export function overdueDue(w: WarningState, now: Date): boolean {
  return w.status === 'raised' && w.overdueAt === null && w.acknowledgementDueAt.getTime() <= now.getTime()
}
