/**
 * Webhook delivery retry policy (contract §4, reliability row 9).
 *
 * Pure functions only: the worker feeds in the outcome of an attempt and the clock, and gets back what to do.
 * Keeping the policy free of I/O lets tests pin every branch with an injected random source and fixed dates.
 */

/** What became of one delivery attempt, and therefore of the delivery. */
export type DeliveryOutcome = 'delivered' | 'retry' | 'dead' | 'gone'

/** Why an attempt produced no HTTP status. */
export type DeliveryErrorKind = 'timeout' | 'connection' | 'url_not_allowed'

/**
 * Maps the result of one attempt to the next step, following Standard Webhooks.
 *
 * - 2xx: delivered.
 * - 408, 429, 5xx, timeouts and connection errors: the receiver may recover, so retry.
 * - 410: the receiver says the endpoint is gone for good: `gone` (the delivery is dead and the subscription is disabled).
 * - Anything else, including 3xx (redirects are not followed, so a redirect is a misconfigured endpoint, not a
 *   success) and the other 4xx (the receiver rejected this request and will keep rejecting it): dead.
 * - `url_not_allowed` (the endpoint resolved to a refused address): dead, since retrying would only probe
 *   the forbidden network again.
 *
 * A `null` status without an error kind means no response was read at all, which is treated like a
 * connection error so that an unexpected failure mode never loses an event.
 */
export function classifyResponse(status: number | null, errorKind?: DeliveryErrorKind): DeliveryOutcome {
  if (errorKind === 'url_not_allowed') return 'dead'
  if (errorKind === 'timeout' || errorKind === 'connection') return 'retry'
  if (status === null || !Number.isInteger(status)) return 'retry'
  if (status >= 200 && status <= 299) return 'delivered'
  if (status === 410) return 'gone'
  if (status === 408 || status === 429 || (status >= 500 && status <= 599)) return 'retry'
  return 'dead'
}

/** Backoff base: the first retry waits between half and all of this, which keeps it within 10 s (contract §4). */
export const RETRY_BASE_DELAY_MS = 5_000
/** Longest wait between two attempts, so a receiver that recovers is served again within the hour. */
export const RETRY_MAX_DELAY_MS = 60 * 60 * 1000
/**
 * Longest wait a receiver's Retry-After can impose. Honouring an unbounded value would let one misbehaving
 * receiver park its deliveries past the retry window; six hours still leaves several attempts within it.
 */
export const RETRY_AFTER_MAX_MS = 6 * 60 * 60 * 1000
/**
 * How long after the first attempt deliveries keep being retried. The contract demands at least 24 h; the extra
 * hour is a margin for clock skew and for a final attempt scheduled just before the 24 h mark.
 */
export const RETRY_WINDOW_MS = 25 * 60 * 60 * 1000

/** Exponent ceiling: far beyond the point where the cap applies, and keeps `2 ** n` finite. */
const MAX_EXPONENT = 30

/**
 * Delay before retry number `attempt` (1 = the first retry), in milliseconds.
 *
 * Exponential backoff with "equal jitter": half of the exponential step is fixed and half is random. Equal
 * jitter rather than full jitter because full jitter may pick a delay near zero, hammering a receiver that just
 * failed, while a purely fixed schedule makes every subscriber retry in lockstep after an outage.
 *
 * When the receiver sent Retry-After, the delay is at least that long (capped at {@link RETRY_AFTER_MAX_MS}):
 * retrying earlier would only earn another 429/503.
 *
 * Out-of-range input is clamped rather than rejected because this runs inside the delivery worker, where an
 * exception would strand a delivery: an attempt below 1 (or NaN) counts as the first retry, and a `random`
 * outside [0, 1) is clamped into it.
 */
export function nextRetryDelayMs(attempt: number, random: () => number = Math.random, retryAfterMs?: number): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1
  const exponential = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** Math.min(n - 1, MAX_EXPONENT))
  const r = random()
  const jitter = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0
  const half = exponential / 2
  const computed = Math.round(half + jitter * half)
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs) || retryAfterMs <= 0) {
    return computed
  }
  return Math.max(Math.min(Math.round(retryAfterMs), RETRY_AFTER_MAX_MS), computed)
}

/**
 * Whether to stop retrying and mark the delivery dead (then `delivery.exhausted` is emitted).
 *
 * Only the time since the first attempt counts, never the number of attempts: the contract promises at least
 * 24 h of retries, and an attempt count would expire early whenever Retry-After or worker restarts shorten
 * the gaps. An invalid date never gives up, so bad data cannot silently drop an event.
 */
export function shouldGiveUp(firstAttemptAt: Date, now: Date): boolean {
  return now.getTime() - firstAttemptAt.getTime() >= RETRY_WINDOW_MS
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
}
const DAY_NAME = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const LONG_DAY_NAME = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)'
const MONTH_NAME = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)'
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'
/** RFC 9110 §5.6.7 IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = new RegExp(`^${DAY_NAME}, (\\d{2}) ${MONTH_NAME} (\\d{4}) ${TIME} GMT$`)
/** Obsolete RFC 850 date: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850_DATE = new RegExp(`^${LONG_DAY_NAME}, (\\d{2})-${MONTH_NAME}-(\\d{2}) ${TIME} GMT$`)
/** Obsolete asctime date: `Sun Nov  6 08:49:37 1994` (always UTC, though it says no zone). */
const ASCTIME_DATE = new RegExp(`^${DAY_NAME} ${MONTH_NAME} ([ \\d]\\d) ${TIME} (\\d{4})$`)

/** Builds a UTC instant, rejecting impossible fields such as 31 Feb or 25:00 instead of rolling them over. */
function utc(year: number, month: number, day: number, hour: number, minute: number, second: number): number | undefined {
  if (hour > 23 || minute > 59 || second > 60) return undefined
  const ms = Date.UTC(year, month, day, hour, minute, Math.min(second, 59))
  const check = new Date(ms)
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month) return undefined
  return ms
}

/**
 * Parses an HTTP-date in the three formats RFC 9110 says recipients must accept.
 * Hand-written because `Date.parse` reads the zone-less asctime form as local time and accepts many non-HTTP forms.
 */
function parseHttpDate(value: string, now: Date): number | undefined {
  let m = IMF_FIXDATE.exec(value)
  if (m) {
    return utc(Number(m[3]), MONTHS[m[2]], Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]))
  }
  m = RFC850_DATE.exec(value)
  if (m) {
    // RFC 9110: a two-digit year more than 50 years in the future means the most recent past year with those digits.
    const twoDigit = Number(m[3])
    const currentYear = now.getUTCFullYear()
    let year = currentYear - (currentYear % 100) + twoDigit
    if (year > currentYear + 50) year -= 100
    return utc(year, MONTHS[m[2]], Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]))
  }
  m = ASCTIME_DATE.exec(value)
  if (m) {
    return utc(Number(m[6]), MONTHS[m[1]], Number(m[2].trim()), Number(m[3]), Number(m[4]), Number(m[5]))
  }
  return undefined
}

/**
 * Reads a Retry-After header (RFC 9110 §10.2.3) as a delay in milliseconds from `now`.
 *
 * Accepts delta-seconds and HTTP-dates; a date in the past means "now" (0). Returns `undefined` for a missing
 * or malformed header so the caller falls back to plain backoff rather than failing the attempt. The result is
 * not capped here: {@link nextRetryDelayMs} applies the cap, so the raw value can still be logged.
 */
export function parseRetryAfter(header: string | undefined, now: Date): number | undefined {
  if (header === undefined) return undefined
  const value = header.trim()
  if (value === '') return undefined
  if (/^\d+$/.test(value)) {
    const seconds = Number(value)
    return Number.isFinite(seconds) ? seconds * 1000 : undefined
  }
  const at = parseHttpDate(value, now)
  if (at === undefined) return undefined
  return Math.max(0, at - now.getTime())
}
