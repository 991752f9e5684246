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

/** Who takes an action: the side of the raising client, the other side (on the warning's branch), either, the system. */
export type WarningSide = 'raising side' | 'other side' | 'either side' | 'system'

/**
 * The transition table (rendered into docs/state-machines.md). `to: 'same'` leaves the status; `mark_overdue`
 * happens at most once per warning (WarningState.overdueAt).
 */
export const WARNING_TRANSITIONS: ReadonlyArray<{
  action: WarningAction | 'raise'
  by: WarningSide | 'court or mediation'
  from: readonly WarningStatus[] | 'none'
  to: WarningStatus | 'same'
  event: string
}> = [
  { action: 'raise', by: 'court or mediation', from: 'none', to: 'raised', event: 'warning.raised' },
  { action: 'acknowledge', by: 'other side', from: ['raised'], to: 'acknowledged', event: 'warning.acknowledged' },
  { action: 'follow_up', by: 'either side', from: ['raised', 'acknowledged'], to: 'same', event: 'warning.followed_up' },
  { action: 'close', by: 'raising side', from: ['raised', 'acknowledged'], to: 'closed', event: 'warning.closed' },
  { action: 'mark_overdue', by: 'system', from: ['raised'], to: 'same', event: 'warning.overdue' },
]

/** Whether `by` is on the side allowed to take `action` (a reader of the raiser's role is the raising client). */
function sideMayAct(w: WarningState, side: WarningSide | 'court or mediation', by: Role | 'system'): boolean {
  if (side === 'system') return by === 'system'
  if (by !== 'court' && by !== 'mediation') return false
  const raising = by === w.raisedBy.role
  if (side === 'other side') return !raising
  if (side === 'raising side') return raising
  return true
}

/**
 * Decides an action from the table: the wrong side (or a role that never acts on warnings) → forbidden, checked
 * before the state; a status that does not allow the action (or an overdue mark already made) → illegal_transition.
 */
export function decideWarning(w: WarningState, action: WarningAction, by: Role | 'system'): WarningDecision {
  const rule = WARNING_TRANSITIONS.find((r) => r.action === action)
  if (!rule || !sideMayAct(w, rule.by, by)) return { ok: false, reason: 'forbidden' }
  if (rule.from === 'none' || !rule.from.includes(w.status)) return { ok: false, reason: 'illegal_transition' }
  if (action === 'mark_overdue' && w.overdueAt !== null) return { ok: false, reason: 'illegal_transition' }
  return { ok: true, to: rule.to === 'same' ? w.status : rule.to, event: rule.event }
}

/** Whether the overdue mark is due at `now`: still raised, never marked, its acknowledgement time passed. */
export function overdueDue(w: WarningState, now: Date): boolean {
  return w.status === 'raised' && w.overdueAt === null && w.acknowledgementDueAt.getTime() <= now.getTime()
}
