/**
 * The OpenAPI document's examples and its `webhooks` section, kept in one place and applied when the document is
 * generated (`transformObject` in swagger.ts), so route files need not change.
 *
 * - **Request examples** (`content[type].example` of each request body): the bodies below, else the body schema's
 *   first `examples` entry. Dates are written for {@link EXAMPLE_DAY}: the document must be deterministic (the
 *   committed openapi/openapi.json is compared with the code), so it cannot hold "today". The /docs page moves every
 *   example date to the reader's today when it loads, and sends the timestamp {@link EXAMPLE_NOW} (moved to today) as
 *   the current time when "Try it out" executes (see {@link docsResponseInterceptor}), so pasted examples work.
 * - **Response examples**: real answers of the service, recorded by test/http/openapi-examples.test.ts
 *   (`WRITE_OPENAPI_EXAMPLES=1`) into openapi-response-examples.ts, keyed `METHOD /path status`.
 * - **Webhooks**: one entry per event type of {@link EVENT_TYPES}, so new types appear automatically.
 */
import { EVENT_TYPES } from '../schemas/events.js'
import { EVENT_EXAMPLES, RESPONSE_EXAMPLES } from './openapi-response-examples.js'

/** The day the document's example dates are written for (Asia/Shanghai). */
export const EXAMPLE_DAY = '2026-12-01'
/** The example timestamp that stands for "now": sent as the current time by the /docs page. */
export const EXAMPLE_NOW = `${EXAMPLE_DAY}T10:00:00+08:00`

/** `EXAMPLE_DAY` + `offset` days, as YYYY-MM-DD. */
function day(offset: number): string {
  const d = new Date(`${EXAMPLE_DAY}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + offset)
  return d.toISOString().slice(0, 10)
}
/** A timestamp `offset` days from `EXAMPLE_DAY` at `hhmm`, Asia/Shanghai. */
function at(offset: number, hhmm: string): string {
  return `${day(offset)}T${hhmm}:00+08:00`
}
const YEAR = EXAMPLE_DAY.slice(0, 4)

/** Request bodies that carry dates or ids that must line up; other bodies use their schema's first example. */
export const REQUEST_EXAMPLES: Readonly<Record<string, unknown>> = {
  'POST /v1/clients': { name: '北京市朝阳区人民法院', role: 'court', courtCodes: ['京0105'] },
  'POST /v1/referrals': {
    referralType: 'pre_filing',
    courtCode: '京0105',
    caseNumber: `（${YEAR}）京0105民诉前调1024号`,
    disputeType: 'neighbor',
    causeOfAction: '相邻关系纠纷',
    claimSummary: '请求被申请人停止漏水侵害并赔偿损失',
    claimAmount: '12000.00',
    parties: [
      { role: 'applicant', kind: 'natural_person', name: '张三', idType: 'resident_id', idNumber: '11010519491231002X', phone: '13800138000' },
      { role: 'respondent', kind: 'natural_person', name: '李四', idType: 'resident_id', idNumber: '440524196001010014' },
    ],
    consent: [
      { partyIndex: 0, consentedAt: at(-3, '09:00'), method: 'written' },
      { partyIndex: 1, consentedAt: at(-3, '09:30'), method: 'online' },
    ],
    designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' },
    materials: [],
  },
  'POST /v1/referrals/{id}/acceptance': { decision: 'accepted', mediator: { name: '王调解', id: 'M-001' }, acceptedAt: EXAMPLE_NOW },
  'POST /v1/referrals/{id}/redesignation': { designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' } },
  'POST /v1/referrals/{id}/extension': {
    newDueOn: day(45),
    consent: [
      { partyIndex: 0, consentedAt: EXAMPLE_NOW, method: 'written' },
      { partyIndex: 1, consentedAt: EXAMPLE_NOW, method: 'written' },
    ],
  },
  'POST /v1/referrals/{id}/agreement': {
    agreementNumber: `朝八调〔${YEAR}〕17号`,
    form: 'written',
    terms: '李四于本协议生效后三十日内赔偿张三5000元。',
    amount: '5000.00',
    signatures: [
      { partyIndex: 0, signedAt: EXAMPLE_NOW },
      { partyIndex: 1, signedAt: EXAMPLE_NOW },
    ],
    mediatorSignedAt: EXAMPLE_NOW,
    sealedAt: EXAMPLE_NOW,
    effectiveAt: EXAMPLE_NOW,
    performance: { method: 'deferred', dueOn: day(30) },
  },
  'POST /v1/referrals/{id}/material-return': { materials: [], report: '调解终结报告：双方分歧过大。纸质卷宗另行移送。', returnedAt: EXAMPLE_NOW },
  'POST /v1/referrals/{id}/court-filing': { action: 'case_registered', caseNumber: `（${YEAR}）京0105民初23456号`, filedOn: day(0) },
  'POST /v1/referrals/{id}/performance': { status: 'performed', reportedOn: day(0), note: '回访确认已全额履行' },
  'POST /v1/judicial-confirmations': {
    referralId: '0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b',
    courtCode: '京0105',
    agreementSha256: '3b0c0e9f1f0d1a6c2b7f5e3c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a',
    applicants: [0, 1],
    appliedAt: EXAMPLE_NOW,
    materials: [],
  },
  'POST /v1/judicial-confirmations/{id}/acceptance': { decision: 'accepted', caseNumber: `（${YEAR}）京0105诉前调确88号` },
  'POST /v1/judicial-confirmations/{id}/ruling': { result: 'valid', rulingNumber: `（${YEAR}）京0105诉前调确88号`, ruledOn: day(0) },
  'POST /v1/judicial-confirmations/{id}/review-extension': { newDueOn: day(60), reason: '案情复杂，经院长批准延长' },
  'POST /v1/judicial-confirmations/{id}/material-request': { items: ['调解组织主持调解的证明', '申请人身份证明'], dueOn: day(14) },
  'POST /v1/judicial-confirmations/{id}/objection': { by: 'party', partyIndex: 1, filedOn: day(0), grounds: '调解协议内容违反法律强制性规定' },
  'POST /v1/judicial-confirmations/{id}/objection-ruling': { result: 'dismissed', ruledOn: day(0), rulingNumber: `（${YEAR}）京0105民特监1号` },
  'POST /v1/subscriptions/{id}/recovery': { since: at(-1, '00:00'), until: at(1, '00:00') },
  'POST /v1/reconciliation/diff': { date: day(0), kind: 'referral', items: [{ id: '0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b', version: 4 }] },
}

/** How the examples' dates work, appended to the document's description. */
export const EXAMPLES_NOTE =
  '\n\n**Examples.** Request examples are written for ' +
  EXAMPLE_DAY +
  ' (the document is fixed). The /docs page moves their dates to today when it loads and, on "Try it out", sends the example ' +
  'timestamp of 10:00:00+08:00 today as the current time, so they work as shown. Elsewhere, use today for dates and the current ' +
  'time for timestamps that record when something happened (acceptedAt, signedAt, appliedAt, returnedAt…): such a timestamp may be ' +
  'neither in the future nor before the case’s previous step; ids, case numbers and Idempotency-Key values must be your own. ' +
  'Response examples are real answers of the service. 示例日期以 ' +
  EXAMPLE_DAY +
  ' 书写，/docs 页面加载时改为当日，执行时以当前时间代替示例时间戳。'

/**
 * Swagger UI response interceptor (serialised into the /docs page, so self-contained): moves every date in the
 * document's examples by the days between the examples' day and today (Asia/Shanghai).
 */
export function docsResponseInterceptor(res: { url: string; text?: string; body?: unknown; obj?: unknown; data?: unknown }) {
  if (!/\/json(\?|$)/.test(res.url) || typeof res.text !== 'string') return res
  const base = '2026-12-01'
  const shanghai = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10)
  const delta = Math.round((Date.parse(shanghai) - Date.parse(base)) / 86400000)
  const move = (s: string) => {
    const d = new Date(s.slice(0, 10) + 'T00:00:00Z')
    d.setUTCDate(d.getUTCDate() + delta)
    return d.toISOString().slice(0, 10) + s.slice(10)
  }
  const walk = (v: unknown, inExample: boolean): unknown => {
    if (typeof v === 'string') return inExample && /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$/.test(v) ? move(v) : v
    if (Array.isArray(v)) return v.map((x) => walk(x, inExample))
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, inExample || k === 'example' || k === 'examples')
      return out
    }
    return v
  }
  const spec = walk(JSON.parse(res.text), false)
  res.text = JSON.stringify(spec)
  res.data = res.text
  res.body = spec
  res.obj = spec
  return res
}

/** Swagger UI request interceptor: the example "now" timestamp (moved to today) is sent as the current time. */
export function docsRequestInterceptor(req: { body?: unknown }) {
  if (typeof req.body !== 'string') return req
  const shanghai = new Date(Date.now() + 8 * 3600 * 1000)
  const marker = shanghai.toISOString().slice(0, 10) + 'T10:00:00+08:00'
  const now = new Date(Date.now() + 8 * 3600 * 1000 - 1000).toISOString().slice(0, 19) + '+08:00'
  req.body = req.body.split(marker).join(now)
  return req
}

type Json = Record<string, unknown>
type MediaType = { schema?: Json; example?: unknown; examples?: unknown }
type Operation = { requestBody?: { content?: Record<string, MediaType> }; responses?: Record<string, { content?: Record<string, MediaType> }> }

const WEBHOOK_HEADERS = [
  {
    in: 'header',
    name: 'webhook-id',
    required: true,
    description: '事件标识（即事件 id），接收方据此去重 / the event id: deduplicate on it (deliveries are at least once)',
    schema: { type: 'string' },
  },
  {
    in: 'header',
    name: 'webhook-timestamp',
    required: true,
    description: '签名时间（Unix 秒）；与本地时钟相差超过 5 分钟应拒绝 / unix seconds when signed; refuse beyond 5 minutes of your clock',
    schema: { type: 'string', pattern: '^[0-9]+$' },
  },
  {
    in: 'header',
    name: 'webhook-signature',
    required: true,
    description:
      'Standard Webhooks 签名：`v1,<base64 HMAC-SHA256>`（默认）或 `sm3,<base64 HMAC-SM3>`（signatureAlgorithm hmac-sm3，密评）；' +
      '签名内容为 `<webhook-id>.<webhook-timestamp>.<原始请求体>`，密钥为订阅 secret 去掉 `whsec_` 后 base64 解码的字节；轮换期间含多个以空格分隔的签名，任一匹配即可。' +
      'Signed content `<id>.<timestamp>.<raw body>`, key = base64-decoded secret after `whsec_`; several space-separated signatures during a ' +
      'secret rotation, one match suffices. Verify with `verifyWebhook` from `zdz-connector/client`.',
    schema: { type: 'string' },
    examples: {
      'hmac-sha256': { value: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' },
      'hmac-sm3': { value: 'sm3,/HoSFIzweCy/UJPM50++HyVPa/54PFXtLisZ9sIFN1I=' },
    },
  },
]

/** The `webhooks` section: one POST per event type, its envelope, headers and both signature schemes. */
function webhooksSection(eventRef: Json): Json {
  const out: Json = {}
  for (const type of EVENT_TYPES) {
    const example = EVENT_EXAMPLES[type]
    out[type] = {
      post: {
        operationId: `webhook_${type.replace(/[^a-z0-9]+/gi, '_')}`,
        summary: `事件 ${type} / event ${type}`,
        description:
          `订阅了 ${type}（或 *）的地址收到此事件（契约 §4 信封，个人信息已脱敏）。应在 15 秒内以 2xx 应答（宜先应答再处理），按 webhook-id 去重。` +
          `A subscription to ${type} (or *) receives this event as the §4 envelope, personal data masked. Answer 2xx within 15 s ` +
          '(answer first, process after); 408, 429 and 5xx are retried with backoff for at least 24 h, other 4xx go straight to dead, 410 disables the subscription.',
        tags: ['events'],
        security: [],
        parameters: WEBHOOK_HEADERS,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { allOf: [eventRef, { type: 'object', properties: { type: { const: type } } }] },
              ...(example ? { example } : {}),
            },
          },
        },
        responses: {
          '204': { description: '已接收 / received (any 2xx)' },
          '401': { description: '签名无效，不重试 / signature did not verify: not retried (other 4xx likewise)' },
          '503': { description: '暂不可用，稍后重试 / retried with backoff (also 408, 429 and other 5xx)' },
        },
      },
    }
  }
  return out
}

/** Applies the examples and the webhooks section to the generated document (mutates and returns it). */
export function applyExamples<T extends Json>(doc: T): T {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Operation>>
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!op || typeof op !== 'object' || !('responses' in op)) continue
      const key = `${method.toUpperCase()} ${path}`
      for (const media of Object.values(op.requestBody?.content ?? {})) {
        const mine = REQUEST_EXAMPLES[key]
        const fromSchema = Array.isArray(media.schema?.examples) ? (media.schema.examples as unknown[])[0] : undefined
        if (mine !== undefined) {
          // The schema's own examples were written for a fixed day; the one shown is the example above.
          if (media.schema) delete media.schema.examples
          media.example = mine
        } else if (fromSchema !== undefined) {
          media.example = fromSchema
        }
      }
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        if (!status.startsWith('2') || !response.content) continue
        const recorded = RESPONSE_EXAMPLES[`${key} ${status}`]
        if (recorded === undefined) continue
        for (const media of Object.values(response.content)) media.example = recorded
      }
    }
  }
  const schemas = ((doc.components as Json | undefined)?.schemas ?? {}) as Json
  const eventRef = schemas.Event ? { $ref: '#/components/schemas/Event' } : { type: 'object' }
  ;(doc as Json).webhooks = webhooksSection(eventRef)
  const info = doc.info as Json | undefined
  if (info && typeof info.description === 'string' && !info.description.includes('**Examples.**')) info.description += EXAMPLES_NOTE
  return doc
}
