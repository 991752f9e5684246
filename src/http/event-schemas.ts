import Type from 'typebox'
import { Timestamp } from './common-schemas.js'

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
