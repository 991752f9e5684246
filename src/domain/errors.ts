/**
 * Errors with stable codes. The HTTP layer maps them to problem+json; callers branch on `code`, never on messages.
 * `detail` is the human-readable (Chinese) sentence shown to integrators.
 */
export interface FieldError {
  path: string
  code: string
  message: string
}

export class AppError extends Error {
  readonly status: number
  readonly code: string
  readonly detail: string
  readonly errors?: FieldError[]
  readonly extra?: Record<string, unknown>
  readonly headers?: Record<string, string>

  constructor(
    status: number,
    code: string,
    detail: string,
    opts: { errors?: FieldError[]; extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(`${code}: ${detail}`)
    this.name = 'AppError'
    this.status = status
    this.code = code
    this.detail = detail
    this.errors = opts.errors
    this.extra = opts.extra
    this.headers = opts.headers
  }
}

export const validationFailed = (errors: FieldError[], detail = '请求内容未通过校验'): AppError => new AppError(400, 'validation_failed', detail, { errors })

export const fieldInvalid = (path: string, code: string, message: string): AppError => validationFailed([{ path, code, message }])

export const notFound = (what = '资源'): AppError => new AppError(404, 'not_found', `${what}不存在`)

export const forbidden = (detail = '当前角色无权调用此接口'): AppError => new AppError(403, 'forbidden', detail)

export const outOfScope = (detail = '该资源不在调用方的管辖范围内'): AppError => new AppError(403, 'out_of_scope', detail)

export const businessRule = (code: string, detail: string, extra?: Record<string, unknown>): AppError => new AppError(422, code, detail, { extra })

export const illegalTransition = (currentStatus: string, action: string): AppError =>
  new AppError(409, 'illegal_transition', `当前状态（${currentStatus}）不允许执行“${action}”`, { extra: { currentStatus } })

export const conflict = (code: string, detail: string, extra?: Record<string, unknown>): AppError => new AppError(409, code, detail, { extra })

export const versionMismatch = (currentVersion: number): AppError =>
  new AppError(412, 'version_mismatch', '版本号不一致：资源已被修改，请重新读取后再试', { extra: { currentVersion } })
