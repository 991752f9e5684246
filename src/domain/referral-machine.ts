import type { Role } from './principal.js'

/** The states of a referral (contract §2). */
export const REFERRAL_STATUSES = [
  'referred',
  'declined',
  'mediating',
  'suspended',
  'agreed',
  'terminated',
  'materials_returned',
  'case_registered',
  'trial_resumed',
  'closed',
  'recalled',
] as const
export type ReferralStatus = (typeof REFERRAL_STATUSES)[number]

/**
 * A referral with one of these states no longer blocks a new referral of the same 案号 (contract §2; the partial
 * unique index referrals_active_case_uidx, migration 0011, excludes the same states).
 */
export const FINISHED_STATUSES: readonly ReferralStatus[] = ['case_registered', 'trial_resumed', 'closed', 'recalled']

export type ReferralAction =
  | 'create'
  | 'accept'
  | 'decline'
  | 'acceptance_timeout'
  | 'redesignate'
  | 'recall'
  | 'assign'
  | 'suspend'
  | 'resume'
  | 'extend'
  | 'record_agreement'
  | 'terminate'
  | 'mediation_timeout'
  | 'return_materials'
  | 'register_case'
  | 'resume_trial'
  | 'close'
  | 'report_performance'

export type Actor = Role | 'system'

export interface TransitionRule {
  action: ReferralAction
  by: Actor
  from: readonly ReferralStatus[] | 'none'
  /** The next state; 'same' for actions that record something without changing state. */
  to: ReferralStatus | 'same'
  /** The event the transition writes (contract §4 types). */
  event: string
  /** Only for referrals of this type. */
  referralType?: 'pre_filing' | 'in_litigation'
}

/**
 * The transition table of contract §2: who may do what from which state. Everything not listed is refused:
 * a role that may never take the action → 403; a state the action is not allowed from → 409 illegal_transition.
 */
export const TRANSITIONS: readonly TransitionRule[] = [
  { action: 'create', by: 'court', from: 'none', to: 'referred', event: 'referral.created' },
  { action: 'accept', by: 'mediation', from: ['referred'], to: 'mediating', event: 'referral.accepted' },
  { action: 'decline', by: 'mediation', from: ['referred'], to: 'declined', event: 'referral.declined' },
  { action: 'acceptance_timeout', by: 'system', from: ['referred'], to: 'declined', event: 'referral.declined' },
  { action: 'redesignate', by: 'court', from: ['declined'], to: 'referred', event: 'referral.redesignated' },
  { action: 'recall', by: 'court', from: ['referred', 'declined'], to: 'recalled', event: 'referral.recalled' },
  { action: 'assign', by: 'mediation', from: ['referred'], to: 'referred', event: 'referral.assigned' },
  { action: 'suspend', by: 'mediation', from: ['mediating'], to: 'suspended', event: 'referral.suspended' },
  { action: 'resume', by: 'mediation', from: ['suspended'], to: 'mediating', event: 'referral.resumed' },
  { action: 'extend', by: 'mediation', from: ['mediating'], to: 'mediating', event: 'referral.extended' },
  { action: 'record_agreement', by: 'mediation', from: ['mediating'], to: 'agreed', event: 'referral.agreement_recorded' },
  { action: 'terminate', by: 'mediation', from: ['mediating', 'suspended'], to: 'terminated', event: 'referral.terminated' },
  { action: 'mediation_timeout', by: 'system', from: ['mediating'], to: 'terminated', event: 'referral.terminated' },
  { action: 'return_materials', by: 'mediation', from: ['terminated'], to: 'materials_returned', event: 'referral.materials_returned' },
  // The court's follow-up after a failed mediation, and (v1.1) when mediation never started: a declined or recalled
  // case whose party insists on litigation is registered or goes back to trial (意见 三(三), 特邀调解规定 21).
  {
    action: 'register_case',
    by: 'court',
    from: ['materials_returned', 'declined', 'recalled'],
    to: 'case_registered',
    event: 'referral.case_registered',
    referralType: 'pre_filing',
  },
  {
    action: 'resume_trial',
    by: 'court',
    from: ['materials_returned', 'declined', 'recalled'],
    to: 'trial_resumed',
    event: 'referral.trial_resumed',
    referralType: 'in_litigation',
  },
  { action: 'close', by: 'court', from: ['agreed'], to: 'closed', event: 'referral.closed' },
  { action: 'report_performance', by: 'mediation', from: ['agreed', 'closed'], to: 'same', event: 'referral.performance_reported' },
]

export type TransitionDecision = { ok: true; to: ReferralStatus; event: string } | { ok: false; reason: 'forbidden' | 'illegal_transition' }

/** Decides whether `by` may take `action` on a referral of `referralType` in state `status`. */
export function decideTransition(
  status: ReferralStatus | 'none',
  action: ReferralAction,
  by: Actor,
  referralType: 'pre_filing' | 'in_litigation',
): TransitionDecision {
  const rule = TRANSITIONS.find((r) => r.action === action)
  if (!rule || rule.by !== by) return { ok: false, reason: 'forbidden' }
  const fromOk = rule.from === 'none' ? status === 'none' : status !== 'none' && rule.from.includes(status)
  if (!fromOk) return { ok: false, reason: 'illegal_transition' }
  if (rule.referralType && rule.referralType !== referralType) return { ok: false, reason: 'illegal_transition' }
  const to = rule.to === 'same' ? (status as ReferralStatus) : rule.to
  return { ok: true, to, event: rule.event }
}

/** Closure dispositions allowed per referral type (特邀调解规定 art. 19–20). */
export const CLOSURE_DISPOSITIONS = {
  pre_filing: ['agreement_filed'],
  in_litigation: ['mediation_document_issued', 'suit_withdrawn'],
} as const

export const TERMINATION_REASONS = ['settled_and_withdrawn', 'party_unreachable', 'party_refused', 'gap_too_large', 'refused_to_sign', 'other'] as const
export const SYSTEM_TERMINATION_REASON = 'deadline_expired'
export const SYSTEM_DECLINE_REASON = 'acceptance_timeout'
/** Why a court takes a referral back before mediation starts (contract §2 v1.1; 意见 三(一)(三), 特邀调解规定 12, 21). */
export const RECALL_REASONS = ['party_withdrew_consent', 'party_insists_on_litigation', 'court_decision'] as const

/** Every index 0..partyCount-1 appears among `indexes`. */
export function coversAllParties(partyCount: number, indexes: readonly number[]): boolean {
  const set = new Set(indexes)
  for (let i = 0; i < partyCount; i++) if (!set.has(i)) return false
  return true
}
