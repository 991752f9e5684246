import { AppError } from '../domain/errors.js'
import { isUuid } from '../domain/ids.js'
import { LimitQuery } from '../schemas/common.js'

/**
 * Keyset pagination (contract §1 Lists). A cursor is opaque to clients: base64url JSON of the last key seen.
 * Clients must not build them, so a cursor is checked against the shape the route issues before any of it
 * reaches a query: one that does not decode to exactly that shape is a 400 `invalid_cursor`, never a 500 from
 * PostgreSQL (a UUID column compared with `x'`, a bigint with 1e308).
 */

/** What one key of a cursor holds. */
export type CursorKind =
  /** A UUID: the id of a referral, confirmation, subscription, delivery or warning. */
  | 'uuid'
  /** A JSON number that is a safe non-negative integer: an event's sequence. */
  | 'int'
  /** A decimal string of a non-negative PostgreSQL bigint (0 … 2⁶³ − 1): access-log ids, pull-feed positions. */
  | 'decimalString'
  /** 1–64 of `A-Za-z0-9_-`: identifiers the platform chose (organization ids). */
  | 'slug'

/** The keys of a route's cursor and what each holds, e.g. `{ id: 'uuid' }`. */
export type CursorSpec = Readonly<Record<string, CursorKind>>

/** The decoded cursor of a spec: `{ id: 'uuid' }` → `{ id: string }`, `{ seq: 'int' }` → `{ seq: number }`. */
export type CursorOf<S extends CursorSpec> = { -readonly [K in keyof S]: S[K] extends 'int' ? number : string }

/** The query parameters of a list route. */
export interface ListQuery {
  /** Always set on a validated request: Ajv fills in the schema's default (`useDefaults`, see validation.ts). */
  limit?: number
  cursor?: string
}

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

/** The page size when `?limit=` is absent: the schema's default, which validation has normally filled in already. */
export const DEFAULT_LIMIT: number = (LimitQuery as { default?: number }).default ?? 50

const MAX_BIGINT = 2n ** 63n - 1n
const SLUG = /^[A-Za-z0-9_-]{1,64}$/

/** Only the key shapes the service issues: a wrong one must fail here, not in PostgreSQL. */
function fits(kind: CursorKind, v: unknown): boolean {
  switch (kind) {
    case 'uuid':
      return typeof v === 'string' && isUuid(v)
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
    case 'decimalString':
      return typeof v === 'string' && /^(0|[1-9][0-9]{0,18})$/.test(v) && BigInt(v) <= MAX_BIGINT
    case 'slug':
      return typeof v === 'string' && SLUG.test(v)
  }
}

/** 400 `invalid_cursor`, naming the query parameter that carried it (`cursor`, or `after` for the pull feed). */
export function invalidCursor(param = 'cursor'): AppError {
  return new AppError(400, 'invalid_cursor', '游标无效：请使用上一页应答中的 nextCursor', {
    errors: [{ path: `/${param}`, code: 'invalid_cursor', message: '不是本服务签发的游标 / not a cursor this service issued' }],
  })
}

/** Opaque cursors: base64url JSON of the last key seen. Clients must not build them. */
export function encodeCursor(key: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url')
}

/**
 * Decodes a cursor and checks it is exactly what the route issues: a JSON object with the spec's keys and no
 * others, each of its kind. Anything else → 400 `invalid_cursor` at `/<param>`. `undefined` (no cursor) stays
 * `undefined`.
 */
export function decodeCursor<const S extends CursorSpec>(cursor: string | undefined, spec: S, param?: string): CursorOf<S> | undefined
export function decodeCursor(cursor: string | undefined, spec: CursorSpec, param = 'cursor'): Record<string, string | number> | undefined {
  if (cursor === undefined) return undefined
  const kinds: CursorSpec = spec
  let v: unknown
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalidCursor(param)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidCursor(param)
  const obj = v as Record<string, unknown>
  const keys = Object.keys(obj)
  if (keys.length !== Object.keys(kinds).length) throw invalidCursor(param)
  for (const k of keys) {
    if (!Object.hasOwn(kinds, k) || !fits(kinds[k], obj[k])) throw invalidCursor(param)
  }
  return obj as Record<string, string | number>
}

/** Takes `limit` of `limit + 1` rows fetched, with the cursor after the last one when more exist. */
export function page<T>(rows: T[], limit: number, keyOf: (row: T) => Record<string, string | number>): Page<T> {
  const items = rows.slice(0, limit)
  const more = rows.length > limit
  return { items, nextCursor: more && items.length ? encodeCursor(keyOf(items[items.length - 1])) : null }
}

/**
 * One page of a keyset-paginated list, the whole routine of a list route: checks `query.cursor` against `spec`,
 * asks `load` for `take` (= limit + 1) rows after it, returns `limit` of them and the cursor of the last one when
 * more exist. `load` is told `limit` too: the row beyond it only says whether another page follows and is never
 * shown, so it is not, say, recorded in the access trail.
 *
 * @example
 * const { items, nextCursor } = await listPage(req.query, { id: 'uuid' }, (after, take) => listThings(db, { afterId: after?.id, limit: take }), (r) => ({ id: r.id }))
 */
export async function listPage<const S extends CursorSpec, R>(
  query: ListQuery,
  spec: S,
  load: (after: CursorOf<S> | undefined, take: number, limit: number) => Promise<R[]>,
  keyOf: (row: R) => CursorOf<S>,
): Promise<Page<R>> {
  const limit = query.limit ?? DEFAULT_LIMIT
  const after = decodeCursor(query.cursor, spec)
  return page(await load(after, limit + 1, limit), limit, keyOf)
}
