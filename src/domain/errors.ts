import type { ErrorCode } from './error-catalogue.js'

/**
 * Errors with stable codes. The HTTP layer maps them to problem+json; callers branch on `code`, never on messages.
 * `detail` is the human-readable (Chinese) sentence shown to integrators; `detailEn` its English version, shown when
 * the request prefers English (without one, the English description of the code in src/domain/error-catalogue.ts).
 * Every code must be listed in that catalogue (test/domain/error-catalogue.test.ts checks).
 */
export interface FieldError {
  path: string
  code: ErrorCode
  message: string
  /** The English message, when `message` is Chinese only; never sent as such (the handler picks one language). */
  messageEn?: string
}

export class AppError extends Error {
  readonly status: number
  readonly code: ErrorCode
  readonly detail: string
  readonly errors?: FieldError[]
  readonly extra?: Record<string, unknown>
  readonly headers?: Record<string, string>
  readonly detailEn?: string

  constructor(
    status: number,
    code: ErrorCode,
    detail: string,
    opts: { errors?: FieldError[]; extra?: Record<string, unknown>; headers?: Record<string, string>; detailEn?: string } = {},
  ) {
    super(`${code}: ${detail}`)
    this.name = 'AppError'
    this.status = status
    this.code = code
    this.detail = detail
    this.errors = opts.errors
    this.extra = opts.extra
    this.headers = opts.headers
    this.detailEn = opts.detailEn
  }
}

export const validationFailed = (errors: FieldError[], detail = '请求内容未通过校验', detailEn = 'The request failed validation'): AppError =>
  new AppError(400, 'validation_failed', detail, { errors, detailEn })

export const fieldInvalid = (path: string, code: ErrorCode, message: string, messageEn?: string): AppError =>
  validationFailed([{ path, code, message, ...(messageEn ? { messageEn } : {}) }])

/** English names of the things a 404 names, for its English detail. */
const NOUNS_EN: Record<string, string> = {
  资源: 'The resource',
  代码表: 'The code table',
  '委派/委托案件': 'The referral',
  司法确认申请: 'The judicial confirmation application',
  密钥: 'The key',
  恢复任务: 'The recovery job',
  投递: 'The delivery',
  材料: 'The material',
  订阅: 'The subscription',
  调用方: 'The client',
  调解组织: 'The organization',
  预警: 'The warning',
}

export const notFound = (what = '资源', whatEn = NOUNS_EN[what] ?? 'The resource'): AppError =>
  new AppError(404, 'not_found', `${what}不存在`, { detailEn: `${whatEn} does not exist or is outside what the caller may read` })

export const forbidden = (detail = '当前角色无权调用此接口', detailEn?: string): AppError =>
  new AppError(403, 'forbidden', detail, {
    detailEn: detailEn ?? (detail === '当前角色无权调用此接口' ? 'The caller’s role may not call this operation' : undefined),
  })

export const outOfScope = (detail = '该资源不在调用方的管辖范围内', detailEn?: string): AppError => new AppError(403, 'out_of_scope', detail, { detailEn })

export const businessRule = (code: ErrorCode, detail: string, extra?: Record<string, unknown>, detailEn?: string): AppError =>
  new AppError(422, code, detail, { extra, detailEn })

export const illegalTransition = (currentStatus: string, action: string): AppError =>
  new AppError(409, 'illegal_transition', `当前状态（${currentStatus}）不允许执行“${action}”`, {
    extra: { currentStatus },
    detailEn: `The current status (${currentStatus}) does not allow "${action}"`,
  })

export const conflict = (code: ErrorCode, detail: string, extra?: Record<string, unknown>, detailEn?: string): AppError =>
  new AppError(409, code, detail, { extra, detailEn })

export const versionMismatch = (currentVersion: number): AppError =>
  new AppError(412, 'version_mismatch', '版本号不一致：资源已被修改，请重新读取后再试', {
    extra: { currentVersion },
    detailEn: `Version mismatch: the resource has changed (now version ${currentVersion}); read it again and retry`,
  })
