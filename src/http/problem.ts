import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { type ErrorCode, errorEntry, isErrorCode, type Language, preferredLanguage, problemType } from '../domain/error-catalogue.js'
import { AppError, type FieldError } from '../domain/errors.js'
import { classifyValidation } from './validation.js'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
  errors?: FieldError[]
  [k: string]: unknown
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

/** The English detail of each problem built here, kept beside it until the answer's language is chosen. */
const DETAIL_EN = new WeakMap<Problem, string>()

/**
 * A problem (RFC 9457) in its Chinese form: `type` is `/docs/errors#<code>`, `title` the code's catalogue title.
 * `detailEn` (else the code's English description) replaces `detail` when {@link localizeProblem} picks English.
 */
export function problemOf(
  status: number,
  code: ErrorCode,
  detail: string,
  extra: Record<string, unknown> = {},
  errors?: FieldError[],
  detailEn?: string,
): Problem {
  const p: Problem = {
    type: problemType(code),
    title: errorEntry(code)?.title.zh ?? TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(errors ? { errors } : {}),
    ...extra,
  }
  if (detailEn) DETAIL_EN.set(p, detailEn)
  return p
}

/** `中文 / English`: a message that already carries both languages. */
const BILINGUAL = /^(.*?\S)\s+\/\s+(\S.*)$/s
const HAS_HAN = /\p{Script=Han}/u

/** A field error's message in one language: its own English (or the English half of a bilingual one), else the code's title. */
function fieldMessage(e: FieldError, lang: Language): string {
  if (lang === 'zh') return e.message
  if (e.messageEn) return e.messageEn
  const both = BILINGUAL.exec(e.message)
  if (both && HAS_HAN.test(both[1]) && !HAS_HAN.test(both[2])) return both[2]
  if (!HAS_HAN.test(e.message)) return e.message
  return errorEntry(e.code)?.title.en ?? 'Invalid value'
}

/**
 * The problem as sent in `lang` (contract §1 v1.1): `title`, `detail` and every `errors[].message` in Chinese, or in
 * English. English falls back to the catalogue's description of the code when the error carried no English detail.
 */
export function localizeProblem(p: Problem, lang: Language): Problem {
  const entry = errorEntry(p.code)
  const out: Problem = { ...p }
  if (lang === 'en') {
    out.title = entry?.title.en ?? TITLES[p.status] ?? 'Error'
    out.detail = DETAIL_EN.get(p) ?? (HAS_HAN.test(p.detail) ? (entry?.description.en ?? TITLES[p.status] ?? 'Error') : p.detail)
  }
  if (p.errors) out.errors = p.errors.map((e) => ({ path: e.path, code: e.code, message: fieldMessage(e, lang) }))
  return out
}

export function sendProblem(reply: FastifyReply, p: Problem, headers: Record<string, string> = {}): FastifyReply {
  if (!isErrorCode(p.code)) {
    // Every code the service answers is listed in src/domain/error-catalogue.ts; test/http/error-catalogue.test.ts watches this line.
    reply.log.error({ code: p.code, status: p.status }, 'error code missing from the error catalogue')
  }
  for (const [k, v] of Object.entries(headers)) reply.header(k, v)
  const lang = preferredLanguage(reply.request?.headers['accept-language'])
  reply.header('content-language', lang === 'en' ? 'en' : 'zh-CN')
  return reply.code(p.status).type('application/problem+json; charset=utf-8').send(localizeProblem(p, lang))
}

/** Infrastructure failures that mean "try again shortly" rather than a bug: the database or Redis is away. */
function isUnavailable(err: { code?: string; message?: string }): boolean {
  const code = err.code ?? ''
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006', '53300'].includes(code) ||
    (err.message ?? '').startsWith('Connection terminated') ||
    (err.message ?? '').includes('timeout exceeded when trying to connect')
  )
}

/** Maps every error to problem+json; internals of 5xx are logged, never sent. */
export function toProblem(err: FastifyError | AppError | Error): { problem: Problem; headers?: Record<string, string> } {
  if (err instanceof AppError) {
    return { problem: problemOf(err.status, err.code, err.detail, err.extra ?? {}, err.errors, err.detailEn), headers: err.headers }
  }
  const fe = err as FastifyError & { validation?: unknown[]; validationContext?: string }
  if (Array.isArray(fe.validation)) {
    const judged = classifyValidation(fe.validation as never)
    if ('rule' in judged) {
      // A business rule judged at validation (e.g. timestamp_in_future): 422 with the rule's code, as the domain answers it.
      return { problem: problemOf(422, judged.rule.code, judged.rule.detail, { path: judged.rule.path }, undefined, judged.rule.detailEn) }
    }
    return {
      problem: problemOf(400, 'validation_failed', '请求内容未通过校验', { part: fe.validationContext }, judged.fieldErrors, 'The request failed validation'),
    }
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { problem: problemOf(413, 'payload_too_large', '请求体超过大小上限', {}, undefined, 'The request body is larger than allowed') }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        problem: problemOf(415, 'unsupported_media_type', '不支持的请求内容类型', {}, undefined, 'The Content-Type of the request is not supported here'),
      }
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return {
        problem: problemOf(400, 'invalid_content_length', '请求体长度与 Content-Length 不符', {}, undefined, 'The body length differs from Content-Length'),
      }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        problem: problemOf(
          400,
          'validation_failed',
          '请求体不能为空',
          {},
          [{ path: '', code: 'required', message: '缺少请求体', messageEn: 'The request body is missing' }],
          'The request body must not be empty',
        ),
      }
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { problem: problemOf(400, 'invalid_json', '请求体不是有效的 JSON', {}, undefined, 'The request body is not valid JSON') }
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return { problem: problemOf(400, 'bad_request', '请求地址无效', {}, undefined, 'The request URL is invalid') }
  }
  if (fe.statusCode === 400 && /prototype|__proto__|constructor/i.test(fe.message)) {
    return {
      problem: problemOf(
        400,
        'validation_failed',
        '请求体包含被禁止的属性',
        {},
        [
          {
            path: '',
            code: 'forbidden_property',
            message: '不允许 __proto__ 或 constructor.prototype',
            messageEn: '__proto__ and constructor.prototype are not allowed',
          },
        ],
        'The request body holds a forbidden property',
      ),
    }
  }
  if (fe.statusCode === 400 && fe instanceof SyntaxError) {
    return { problem: problemOf(400, 'invalid_json', '请求体不是有效的 JSON', {}, undefined, 'The request body is not valid JSON') }
  }
  if (isUnavailable(fe)) {
    return {
      problem: problemOf(503, 'service_unavailable', '服务暂时不可用，请稍后重试', {}, undefined, 'The service is temporarily unavailable; retry shortly'),
      headers: { 'retry-after': '5' },
    }
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    const status = fe.statusCode
    return status === 429
      ? { problem: problemOf(429, 'rate_limited', '请求过于频繁，请稍后重试', {}, undefined, 'Too many requests; retry later') }
      : { problem: problemOf(status, 'bad_request', '请求无效', {}, undefined, 'The request is invalid') }
  }
  return { problem: problemOf(500, 'internal_error', '服务内部错误', {}, undefined, 'Internal server error') }
}

/**
 * Remembers each route's path pattern and methods so an unknown method on a known path answers 405 with `Allow`
 * rather than 404.
 */
export class MethodTable {
  private readonly patterns = new Map<string, { re: RegExp; methods: Set<string> }>()

  add(method: string | string[], url: string): void {
    let entry = this.patterns.get(url)
    if (!entry) {
      const re = new RegExp(
        `^${url
          .split('/')
          .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
          .join('/')}/?$`,
      )
      entry = { re, methods: new Set() }
      this.patterns.set(url, entry)
    }
    for (const m of Array.isArray(method) ? method : [method]) entry.methods.add(m)
  }

  allowed(path: string): string[] {
    const out = new Set<string>()
    for (const { re, methods } of this.patterns.values()) if (re.test(path)) for (const m of methods) out.add(m)
    return [...out]
  }
}

/**
 * A request the HTTP parser refused before Fastify saw it (a malformed request line or header, a control character
 * in a header value, the bytes left over when a body is longer than its `Content-Length`, which read as a broken
 * next request): problem+json like every other answer, then the connection closes. Replaces Fastify's default,
 * which answers plain JSON.
 */
export function clientErrorProblem(err: { code?: string }): Problem {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return problemOf(408, 'request_timeout', '请求未在时限内完成', {}, undefined, 'The request did not complete in time')
    case 'HPE_HEADER_OVERFLOW':
      return problemOf(431, 'headers_too_large', '请求头过大', {}, undefined, 'The request headers are too large')
    case 'HPE_INVALID_HEADER_TOKEN':
      return problemOf(400, 'validation_failed', '请求头含有不允许的字符', {}, [
        { path: '/headers', code: 'invalid_characters', message: '请求头的名称或取值含有控制字符或其他不允许的字符 / forbidden character in a header' },
      ])
    default:
      return problemOf(
        400,
        'bad_request',
        'HTTP 请求格式无效（如请求体长于 Content-Length）',
        {},
        undefined,
        'Malformed HTTP request (e.g. a body longer than its Content-Length)',
      )
  }
}

function answerClientError(this: FastifyInstance, err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody to answer (https://nodejs.org/api/http.html#event-clienterror).
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const problem = clientErrorProblem(err)
  this.log.info({ code: problem.code, status: problem.status, parserError: err.code }, 'request refused by the HTTP parser')
  if (socket.writable) {
    const body = JSON.stringify(problem)
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? 'Error'}\r\n` +
        `content-type: application/problem+json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(err)
}

export function registerProblemHandlers(app: FastifyInstance, methods?: MethodTable): void {
  // Fastify attaches its plain-JSON clientError answer when it creates the server; this one takes its place.
  app.server.removeAllListeners('clientError')
  app.server.on('clientError', answerClientError.bind(app))
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const { problem, headers } = toProblem(err)
    if (problem.status >= 500) {
      req.log.error({ err }, 'request failed')
    } else {
      req.log.info({ code: problem.code, status: problem.status }, 'request refused')
    }
    return sendProblem(reply, problem, headers)
  })
  app.setNotFoundHandler((req, reply) => {
    const allowed = methods?.allowed(req.url.split('?')[0]) ?? []
    if (allowed.length && !allowed.includes(req.method)) {
      return sendProblem(
        reply,
        problemOf(405, 'method_not_allowed', `该地址不支持 ${req.method} 方法`, {}, undefined, `This path does not support the ${req.method} method`),
        { allow: allowed.sort().join(', ') },
      )
    }
    return sendProblem(reply, problemOf(404, 'not_found', '请求的资源不存在', {}, undefined, 'The requested resource does not exist'))
  })
}
