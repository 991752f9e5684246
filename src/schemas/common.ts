import Type, { type TSchema } from 'typebox'

/** Schema building blocks shared by every resource (HTTP validation, OpenAPI, the services' input types). */

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

/** A string enum rendered as `{ type: string, enum }` (clean OpenAPI, one error per bad value). */
export const StringEnum = <const T extends readonly string[]>(values: T, opts: Record<string, unknown> = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...opts })

export const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: '资源标识 / resource id' }) }, { additionalProperties: false })

export const LimitQuery = Type.Integer({ minimum: 1, maximum: 200, default: 50, description: '每页条数 1–200 / page size' })
export const CursorQuery = Type.String({ minLength: 1, maxLength: 512, description: '不透明游标 / opaque cursor from nextCursor' })

export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 with offset' })

/**
 * A timestamp a caller reports (consent, signatures, acceptance, application …): RFC 3339, not before
 * 1900-01-01 (400 out_of_range) and not later than now plus 5 minutes of clock skew (422 timestamp_in_future).
 */
export const ReportedTimestamp = Type.String({
  format: 'date-time',
  'x-check': 'timestamp',
  description: 'RFC 3339，含时区；不早于 1900 年，不晚于当前时间（容许 5 分钟时钟偏差）/ RFC 3339 with offset, 1900 … now + 5 min',
})

/**
 * Text that may span lines (`x-text: multiline`): tab, CR and LF are allowed. Every other string is one line. In
 * both, NUL and other control characters, lone surrogates and bidirectional overrides are refused (400
 * invalid_characters), and a required string must hold a visible character (400 blank).
 */
export const MultilineText = (max: number, desc?: string) =>
  Type.String({ minLength: 1, maxLength: max, 'x-text': 'multiline', ...(desc ? { description: desc } : {}) })

/** One line of required text (a name, an address): 1–`max` code points, at least one of them visible. */
export const LineText = (max: number, desc?: string) => Type.String({ minLength: 1, maxLength: max, ...(desc ? { description: desc } : {}) })
export const LegalDate = Type.String({ format: 'date', description: 'YYYY-MM-DD (Asia/Shanghai)' })

export const listOf = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) })
