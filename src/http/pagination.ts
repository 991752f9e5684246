import { fieldInvalid } from '../domain/errors.js'

/** Opaque cursors: base64url JSON of the last key seen. Clients must not build them. */
export function encodeCursor(key: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url')
}

export function decodeCursor<T extends Record<string, string | number>>(cursor: string | undefined, fields: Array<keyof T>): T | undefined {
  if (cursor === undefined) return undefined
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>
    if (v && typeof v === 'object' && fields.every((f) => typeof v[f as string] === 'string' || typeof v[f as string] === 'number')) return v as T
  } catch {
    // fall through
  }
  throw fieldInvalid('/cursor', 'invalid_cursor', '游标无效')
}

/** Fetch limit+1 rows, return `limit` of them and the cursor after the last one when more exist. */
export function page<T>(rows: T[], limit: number, keyOf: (row: T) => Record<string, string | number>): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit)
  const more = rows.length > limit
  return { items, nextCursor: more && items.length ? encodeCursor(keyOf(items[items.length - 1])) : null }
}
