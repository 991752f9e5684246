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
export const LegalDate = Type.String({ format: 'date', description: 'YYYY-MM-DD (Asia/Shanghai)' })

export const listOf = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) })
