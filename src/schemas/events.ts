import Type from 'typebox'
import { Timestamp } from './common.js'

/** The §4 event envelope. */
export const EventEnvelopeSchema = Type.Object(
  {
    id: Type.String({ description: '事件标识，亦为 webhook-id / event id, also the webhook-id' }),
    type: Type.String({ examples: ['referral.accepted'] }),
    occurredAt: Timestamp,
    sequence: Type.Integer({ description: '同一主体内连续无间隔 / gap-free per subject' }),
    subject: Type.Object({ kind: Type.String(), id: Type.String() }),
    caseVersion: Type.Union([Type.Integer(), Type.Null()]),
    actor: Type.Union([Type.Object({ clientId: Type.String(), role: Type.String() }), Type.Literal('system')]),
    data: Type.Object({}, { additionalProperties: true, description: '对方所需字段，个人信息已脱敏 / what the other side needs; personal data masked' }),
  },
  { $id: 'Event' },
)

/** Event types of contract §4 a subscription may ask for (or `*`). */
export const EVENT_TYPES = [
  'referral.created',
  'referral.accepted',
  'referral.declined',
  'referral.redesignated',
  'referral.recalled',
  'referral.assigned',
  'referral.suspended',
  'referral.resumed',
  'referral.extended',
  'referral.agreement_recorded',
  'referral.terminated',
  'referral.materials_returned',
  'referral.case_registered',
  'referral.trial_resumed',
  'referral.closed',
  'referral.performance_reported',
  'referral.deadlines_changed',
  'confirmation.applied',
  'confirmation.accepted',
  'confirmation.not_accepted',
  'confirmation.withdrawn',
  'confirmation.ruled',
  'confirmation.deadlines_changed',
  'confirmation.materials_requested',
  'confirmation.materials_supplemented',
  'confirmation.deemed_withdrawn',
  'confirmation.review_extended',
  'confirmation.objection_filed',
  'confirmation.objection_ruled',
  'warning.raised',
  'warning.acknowledged',
  'warning.followed_up',
  'warning.closed',
  'warning.overdue',
  'delivery.exhausted',
] as const
