import Type from 'typebox'

/** application/problem+json (RFC 9457) as the contract shapes it. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({
      description: '问题类型：/docs/errors#<code>（错误码目录中的条目）/ problem type: the code’s entry in the catalogue, /docs/errors#<code>',
    }),
    title: Type.String({ description: '错误码的标题（随 Accept-Language）/ the code’s title (follows Accept-Language)' }),
    status: Type.Integer(),
    detail: Type.String({
      description: '说明：中文，Accept-Language 优先 en 时为英文 / human-readable detail: Chinese, or English when Accept-Language prefers en',
    }),
    code: Type.String({ description: '稳定的错误码 / stable snake_case error code', examples: ['validation_failed'] }),
    errors: Type.Optional(
      Type.Array(Type.Object({ path: Type.String(), code: Type.String(), message: Type.String() }), {
        description: '逐项字段错误 / one entry per offending path',
      }),
    ),
    currentStatus: Type.Optional(Type.String({ description: '409 illegal_transition: the case state' })),
  },
  { $id: 'Problem', additionalProperties: true },
)

const ERROR_TEXT: Record<number, string> = {
  400: '请求无效（validation_failed 等）/ invalid request',
  401: '缺少或无效的 API 密钥 / missing, unknown or revoked key',
  403: '角色无权调用 / role may not call this route',
  404: '不存在或不在调用方范围内 / not found or outside the caller’s scope',
  409: '状态冲突（illegal_transition、idempotency_key_in_use 等）/ conflict',
  412: '版本号不一致 version_mismatch / If-Match is stale',
  413: '请求体过大 / body too large',
  415: '不支持的内容类型 / unsupported media type',
  422: '违反业务规则 / business rule violated',
  429: '请求过于频繁 / rate limited',
  500: '内部错误 / internal error',
  503: '依赖暂不可用 / a dependency is unavailable',
}

const problemRef = { $ref: 'Problem#' }

/** Problem responses for the given statuses (plus the ones every authenticated route can answer). */
export function errorResponses(...statuses: number[]): Record<number, unknown> {
  const all = new Set([400, 401, 403, 429, 500, 503, ...statuses])
  const out: Record<number, unknown> = {}
  for (const s of [...all].sort()) {
    out[s] = { description: ERROR_TEXT[s] ?? 'error', content: { 'application/problem+json': { schema: problemRef } } }
  }
  return out
}
