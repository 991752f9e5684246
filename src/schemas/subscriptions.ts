import Type from 'typebox'
import { Nullable, StringEnum, Timestamp } from './common.js'

/** The subscription resource (contract §4): bodies and views of the webhook subscriptions and their recovery jobs. */

const EventTypeList = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
  minItems: 1,
  maxItems: 50,
  uniqueItems: true,
  description: '订阅的事件类型，或 ["*"] 表示全部 / event types to receive, or ["*"] for all',
  examples: [['referral.created', 'referral.accepted'], ['*']],
})
const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  description:
    'http(s) 接收地址；回环、内网、链路本地与云元数据地址被拒绝 / http(s) endpoint; loopback, private, link-local and metadata addresses are refused',
})
const AllowPrivate = Type.Boolean({
  description: '允许回环与内网地址（链路本地与元数据地址始终拒绝）/ admit loopback and private addresses (never link-local or metadata)',
})

export const CreateBody = Type.Object(
  {
    clientId: Type.String({
      minLength: 1,
      maxLength: 64,
      description: '接收方调用方：其读取范围决定推送哪些事件 / the client whose read scope decides which events are sent',
    }),
    url: Url,
    eventTypes: EventTypeList,
    description: Type.Optional(Type.String({ maxLength: 500 })),
    allowPrivateNetwork: Type.Optional(AllowPrivate),
    signatureAlgorithm: Type.Optional(
      StringEnum(['hmac-sha256', 'hmac-sm3'] as const, { description: '签名算法：hmac-sha256（默认，v1）或 hmac-sm3（国密，sm3）/ signature algorithm' }),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      { clientId: '0192f0c4-8d1e-7c3a-9b1e-2f5d6a7b8c9d', url: 'https://court.example.cn/zdz/webhooks', eventTypes: ['*'], description: '朝阳法院业务系统' },
    ],
  },
)

export const PatchBody = Type.Object(
  {
    url: Type.Optional(Url),
    eventTypes: Type.Optional(EventTypeList),
    description: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
    allowPrivateNetwork: Type.Optional(AllowPrivate),
    enabled: Type.Optional(Type.Boolean({ description: '启用/停用；收到 410 后自动停用 / enable or disable; a 410 Gone disables it' })),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ enabled: true }] },
)

export const SubscriptionView = Type.Object(
  {
    id: Type.String(),
    clientId: Type.String(),
    url: Type.String(),
    eventTypes: Type.Array(Type.String()),
    description: Nullable(Type.String()),
    allowPrivateNetwork: Type.Boolean(),
    signatureAlgorithm: Type.String(),
    enabled: Type.Boolean(),
    disabledReason: Nullable(Type.String({ description: 'gone_410 | disabled_by_operator' })),
    disabledAt: Nullable(Timestamp),
    previousSecretExpiresAt: Nullable(Timestamp),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Subscription' },
)

export const WithSecret = Type.Object({
  ...SubscriptionView.properties,
  secret: Nullable(Type.String({ description: 'whsec_ 开头，仅显示一次；重放时为 null / shown once; null on replay' })),
})

export const RecoveryBody = Type.Object(
  {
    since: Timestamp,
    until: Type.Optional(Timestamp),
  },
  { additionalProperties: false, examples: [{ since: '2026-12-01T00:00:00+08:00', until: '2026-12-02T00:00:00+08:00' }] },
)

export const RecoveryView = Type.Object({
  jobId: Type.String(),
  subscriptionId: Type.String(),
  since: Timestamp,
  until: Timestamp,
  status: Type.String({ description: 'queued | done' }),
  requeued: Nullable(Type.Integer({ description: '重新投递的条数 / deliveries re-opened' })),
  createdAt: Timestamp,
  finishedAt: Nullable(Timestamp),
})
