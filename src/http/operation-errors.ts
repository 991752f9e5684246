import { ERROR_CATALOGUE, type ErrorCode, problemType } from '../domain/error-catalogue.js'

/**
 * The error codes each operation can answer, in one place (contract §6 v1.1: the OpenAPI document lists them), keyed
 * by `METHOD /path` as the OpenAPI document writes the path (`/v1/referrals/{id}/acceptance`). Listed here are the
 * codes particular to the operation; every operation also gets the codes its shape implies ({@link impliedCodes}):
 * authentication, role, rate limits and failures on /v1; validation; 404 on a path with parameters; the
 * idempotency codes with an `Idempotency-Key`; `version_mismatch` with `If-Match`; `invalid_cursor` with a cursor.
 *
 * A new route needs an entry (test/http/error-catalogue.test.ts fails, naming the key to add): `[]` when it
 * answers only the implied codes.
 */
export const OPERATION_ERRORS: Readonly<Record<string, readonly ErrorCode[]>> = {
  'GET /metrics': ['unauthorized'],
  'GET /health/live': [],
  'GET /health/ready': [],

  'POST /v1/clients': [],
  'GET /v1/clients': [],
  'GET /v1/clients/{id}': [],
  'POST /v1/clients/{id}/keys': [],
  'DELETE /v1/clients/{id}/keys/{keyId}': [],

  'PUT /v1/organizations/{id}': ['out_of_scope', 'roster_managed_by_court'],
  'GET /v1/organizations/{id}': [],
  'GET /v1/organizations': [],
  'PUT /v1/courts/{courtCode}/special-roster/{organizationId}': [],
  'DELETE /v1/courts/{courtCode}/special-roster/{organizationId}': [],

  'POST /v1/referrals': [
    'consent_required',
    'court_code_not_allowed',
    'not_on_roster',
    'organization_inactive',
    'timestamp_in_future',
    'unknown_material',
    'duplicate_referral',
  ],
  'GET /v1/referrals': [],
  'GET /v1/referrals/{id}': [],
  // Each item's own refusal is in its `problem` (the codes of POST /v1/referrals); these are the request's.
  'POST /v1/referrals/batch': ['payload_too_large'],
  'GET /v1/referrals/{id}/events': [],
  'GET /v1/referrals/{id}/integrity': [],
  'POST /v1/referrals/{id}/acceptance': ['illegal_transition', 'timestamp_in_future', 'timestamp_before_referral'],
  'POST /v1/referrals/{id}/redesignation': ['illegal_transition', 'not_on_roster', 'organization_inactive'],
  'POST /v1/referrals/{id}/recall': ['illegal_transition'],
  'POST /v1/referrals/{id}/assignment': ['illegal_transition', 'not_a_centre', 'outside_centre_region', 'not_on_roster', 'organization_inactive'],
  'POST /v1/referrals/{id}/suspension': ['illegal_transition'],
  'POST /v1/referrals/{id}/resumption': ['illegal_transition'],
  'POST /v1/referrals/{id}/extension': ['illegal_transition', 'consent_required', 'due_date_not_later', 'timestamp_in_future'],
  'POST /v1/referrals/{id}/agreement': [
    'illegal_transition',
    'signatures_incomplete',
    'effective_at_mismatch',
    'timestamp_in_future',
    'timestamp_before_referral',
    'unknown_material',
  ],
  'POST /v1/referrals/{id}/termination': ['illegal_transition', 'signatures_incomplete', 'timestamp_in_future'],
  'POST /v1/referrals/{id}/material-return': ['illegal_transition', 'unknown_material', 'timestamp_in_future'],
  'POST /v1/referrals/{id}/court-filing': ['illegal_transition'],
  'POST /v1/referrals/{id}/closure': ['illegal_transition'],
  'POST /v1/referrals/{id}/performance': ['illegal_transition'],

  'GET /v1/access-log': [],

  'POST /v1/judicial-confirmations': [
    'not_found',
    'illegal_transition',
    'duplicate_application',
    'agreement_mismatch',
    'confirmation_not_applicable',
    'wrong_court',
    'excluded_subject',
    'joint_application_required',
    'confirmation_deadline_passed',
    'timestamp_before_agreement',
    'timestamp_in_future',
    'organization_out_of_scope',
    'unknown_material',
  ],
  'GET /v1/judicial-confirmations': [],
  'GET /v1/judicial-confirmations/{id}': [],
  'GET /v1/judicial-confirmations/{id}/events': [],
  'GET /v1/judicial-confirmations/{id}/integrity': [],
  'POST /v1/judicial-confirmations/{id}/acceptance': ['illegal_transition', 'date_in_future', 'date_before_application'],
  'POST /v1/judicial-confirmations/{id}/withdrawal': ['illegal_transition'],
  'POST /v1/judicial-confirmations/{id}/ruling': ['illegal_transition', 'date_in_future', 'date_before_acceptance'],
  'POST /v1/judicial-confirmations/{id}/review-extension': ['illegal_transition', 'due_date_not_later'],
  'POST /v1/judicial-confirmations/{id}/material-request': ['illegal_transition', 'date_not_in_future'],
  'POST /v1/judicial-confirmations/{id}/material-supplement': ['illegal_transition', 'supplement_deadline_passed', 'unknown_material'],
  'POST /v1/judicial-confirmations/{id}/objection': [
    'illegal_transition',
    'date_in_future',
    'date_before_ruling',
    'date_before_knowledge',
    'objection_deadline_passed',
  ],
  'POST /v1/judicial-confirmations/{id}/objection-ruling': ['illegal_transition', 'date_in_future', 'date_before_objection'],

  'POST /v1/subscriptions': ['unknown_client', 'url_not_allowed'],
  'GET /v1/subscriptions': [],
  'GET /v1/subscriptions/{id}': [],
  'PATCH /v1/subscriptions/{id}': ['url_not_allowed'],
  'DELETE /v1/subscriptions/{id}': [],
  'POST /v1/subscriptions/{id}/secret-rotation': [],
  'POST /v1/subscriptions/{id}/recovery': ['subscription_disabled'],
  'GET /v1/subscriptions/{id}/recovery/{jobId}': [],
  'GET /v1/deliveries': [],
  'GET /v1/deliveries/{id}': [],
  'POST /v1/deliveries/{id}/retry': ['illegal_transition', 'subscription_deleted', 'subscription_disabled'],
  'GET /v1/sync/status': [],
  'GET /v1/events': [],

  'GET /v1/routing/suggestions': ['court_code_not_allowed'],
  'POST /v1/warnings': ['not_found'],
  'GET /v1/warnings': [],
  'GET /v1/warnings/{id}': [],
  'GET /v1/warnings/{id}/events': [],
  'POST /v1/warnings/{id}/acknowledgement': ['illegal_transition', 'forbidden'],
  'POST /v1/warnings/{id}/follow-up': ['illegal_transition', 'forbidden'],
  'POST /v1/warnings/{id}/closure': ['illegal_transition', 'forbidden'],
  'GET /v1/service-keys': [],
  'GET /v1/stats': [],

  'POST /v1/materials': ['content_type_mismatch', 'quota_exceeded'],
  'GET /v1/materials/{id}': [],
  'GET /v1/calendar/{year}': ['calendar_unavailable'],
  'PUT /v1/calendar/{year}': [],
  'GET /v1/code-tables': [],
  'GET /v1/code-tables/{name}': [],
  'GET /v1/reconciliation': [],
  'POST /v1/reconciliation/diff': [],
  'GET /v1/error-codes': [],
}

/** An OpenAPI operation, as much of it as the error lists need. */
export interface OperationLike {
  parameters?: Array<{ in?: string; name?: string; required?: boolean }>
  requestBody?: { content?: Record<string, unknown> }
  responses?: Record<string, unknown>
}

/** The codes an operation answers by its shape alone (see {@link OPERATION_ERRORS}). */
export function impliedCodes(method: string, path: string, op: OperationLike): ErrorCode[] {
  const codes: ErrorCode[] = []
  const params = op.parameters ?? []
  const has = (where: string, name: string) => params.some((p) => p.in === where && p.name?.toLowerCase() === name)
  if (path.startsWith('/v1/')) {
    codes.push('validation_failed', 'unauthorized', 'forbidden', 'rate_limited', 'too_many_failed_authentications', 'internal_error', 'service_unavailable')
  }
  const content = Object.keys(op.requestBody?.content ?? {})
  if (content.includes('application/json')) codes.push('invalid_json', 'payload_too_large', 'unsupported_media_type')
  else if (content.length) codes.push('payload_too_large', 'unsupported_media_type')
  if (params.some((p) => p.in === 'path')) codes.push('not_found')
  if (has('header', 'idempotency-key')) codes.push('idempotency_key_required', 'idempotency_key_in_use', 'idempotency_key_reused')
  if (has('header', 'if-match')) codes.push('version_mismatch')
  if (has('query', 'cursor') || has('query', 'after')) codes.push('invalid_cursor')
  void method
  return codes
}

/** Every code of one operation: implied first, then its own, each once. */
export function operationCodes(method: string, path: string, op: OperationLike): ErrorCode[] {
  return [...new Set([...impliedCodes(method, path, op), ...(OPERATION_ERRORS[`${method.toUpperCase()} ${path}`] ?? [])])]
}

const STATUS_TEXT: Record<number, string> = {
  400: '请求无效 / invalid request',
  401: '缺少或无效的 API 密钥 / missing, unknown or revoked key',
  403: '无权调用或超出范围 / not allowed',
  404: '不存在或不在调用方范围内 / not found or outside the caller’s scope',
  405: '方法不被允许 / method not allowed',
  409: '冲突 / conflict',
  412: '版本号不一致 / If-Match is stale',
  413: '请求体过大 / body too large',
  415: '不支持的内容类型 / unsupported media type',
  422: '违反业务规则 / business rule violated',
  429: '请求过于频繁 / rate limited',
  500: '内部错误 / internal error',
  503: '依赖暂不可用 / a dependency is unavailable',
  507: '存储配额已满 / storage quota exceeded',
}

/** The example problem of one code, as the service answers it in Chinese (the default language). */
export function exampleProblem(code: ErrorCode): Record<string, unknown> {
  const entry = ERROR_CATALOGUE[code]
  const p: Record<string, unknown> = { type: problemType(code), title: entry.title.zh, status: entry.status, detail: entry.description.zh, code }
  if (code === 'validation_failed') {
    p.errors = [
      { path: '/disputeType', code: 'invalid_value', message: '取值不在允许范围内，允许的取值：marriage_family, neighbor, contract, other' },
      { path: '/parties/0/idNumber', code: 'invalid_id_number', message: '居民身份证号码校验位不符' },
    ]
  }
  if (code === 'illegal_transition') p.currentStatus = 'mediating'
  if (code === 'version_mismatch') p.currentVersion = 4
  return p
}

type Doc = { paths?: Record<string, Record<string, OperationLike & Record<string, unknown>>> }

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options'])

/**
 * Writes each operation's error codes into the OpenAPI document: per status, one response whose problem+json
 * content has one named example per code (real `type`, `code`, `title`, `detail`) and whose description names the
 * codes. Also marks `Idempotency-Key` required wherever an operation takes it (the route checks it itself, so a
 * missing key answers `idempotency_key_required` rather than a schema error).
 */
export function applyOperationErrors<D extends Doc>(doc: D): D {
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method) || typeof op !== 'object' || op === null) continue
      for (const p of op.parameters ?? []) if (p.in === 'header' && p.name?.toLowerCase() === 'idempotency-key') p.required = true
      const codes = operationCodes(method, path, op)
      const byStatus = new Map<number, ErrorCode[]>()
      for (const c of codes) byStatus.set(ERROR_CATALOGUE[c].status, [...(byStatus.get(ERROR_CATALOGUE[c].status) ?? []), c])
      const responses: Record<string, unknown> = { ...(op.responses ?? {}) }
      for (const [key, r] of Object.entries(responses)) {
        // A problem status no code of this operation can produce would promise answers that never come.
        const isProblem = Object.hasOwn((r as { content?: object }).content ?? {}, 'application/problem+json')
        if (isProblem && !byStatus.has(Number(key))) delete responses[key]
      }
      for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
        responses[String(status)] = {
          description: `${STATUS_TEXT[status] ?? 'error'}: ${list.map((c) => `\`${c}\``).join(', ')}`,
          content: {
            'application/problem+json': {
              schema: { $ref: '#/components/schemas/Problem' },
              examples: Object.fromEntries(list.map((c) => [c, { summary: `${c}: ${ERROR_CATALOGUE[c].title.en}`, value: exampleProblem(c) }])),
            },
          },
        }
      }
      op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)))
    }
  }
  return doc
}
