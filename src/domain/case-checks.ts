import { businessRule, type FieldError, versionMismatch } from './errors.js'

/**
 * Checks shared by every kind of case: timestamps against the clock, party indexes, optimistic concurrency.
 * Pure: the caller passes the clock.
 */

/** How far a caller's clock may run ahead of ours before a timestamp counts as "in the future". */
export const CLOCK_SKEW_MS = 5 * 60_000

/** The earliest instant a timestamp of the service may name (contract §1 v1.1: timestamps lie within 1900 … now + skew). */
export const EARLIEST_TIMESTAMP = '1900-01-01T00:00:00Z'

/**
 * What is wrong with an RFC 3339 timestamp against the clock, or null: `unreadable` (a date-time the clock cannot
 * place, such as a leap second), `too_early` (before {@link EARLIEST_TIMESTAMP}: year 0001 is a typo, not a
 * date), `future` (later than now by more than {@link CLOCK_SKEW_MS}).
 */
export function timestampProblem(iso: string, now: Date): 'unreadable' | 'too_early' | 'future' | null {
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return 'unreadable'
  if (t < Date.parse(EARLIEST_TIMESTAMP)) return 'too_early'
  if (t > now.getTime() + CLOCK_SKEW_MS) return 'future'
  return null
}

/** 422 timestamp_in_future when `iso` is later than now (give or take the allowed skew); `path` names the field. */
export function notFuture(iso: string, now: Date, path: string): void {
  if (new Date(iso).getTime() > now.getTime() + CLOCK_SKEW_MS) {
    throw businessRule('timestamp_in_future', `${path} 不能晚于当前时间`, { path }, `${path} may not be later than the current time`)
  }
}

/** Whether `iso` lies before `earliest` by more than the allowed skew. */
export function before(iso: string, earliest: Date | string): boolean {
  return new Date(iso).getTime() < new Date(earliest).getTime() - CLOCK_SKEW_MS
}

/** Field errors for party indexes past the end of a list of `count` parties. */
export function checkPartyIndexes(count: number, indexes: Array<{ path: string; index: number }>): FieldError[] {
  return indexes.filter((i) => i.index >= count).map((i) => ({ path: i.path, code: 'invalid_party_index', message: `当事人序号超出范围（共 ${count} 人）` }))
}

/**
 * Optimistic concurrency (contract §1): an `If-Match: "<version>"` (weak or strong, or `*`) that does not name the
 * current version → 412 version_mismatch. No header: no check.
 */
export function checkIfMatch(header: string | undefined, version: number): void {
  if (header === undefined) return
  const want = header.replace(/^W\//, '').replace(/"/g, '').trim()
  if (want !== '*' && want !== String(version)) throw versionMismatch(version)
}
