import t from 'tap'
import {
  classifyResponse,
  nextRetryDelayMs,
  parseRetryAfter,
  RETRY_AFTER_MAX_MS,
  RETRY_MAX_DELAY_MS,
  RETRY_WINDOW_MS,
  shouldGiveUp,
  type DeliveryErrorKind,
  type DeliveryOutcome,
} from '../../src/domain/retry-policy.js'

const HOUR = 60 * 60 * 1000

t.test('classifyResponse', async (t) => {
  const cases: Array<[number | null, DeliveryErrorKind | undefined, DeliveryOutcome]> = [
    [200, undefined, 'delivered'],
    [201, undefined, 'delivered'],
    [204, undefined, 'delivered'],
    [299, undefined, 'delivered'],
    [100, undefined, 'dead'],
    [301, undefined, 'dead'],
    [302, undefined, 'dead'],
    [307, undefined, 'dead'],
    [308, undefined, 'dead'],
    [400, undefined, 'dead'],
    [401, undefined, 'dead'],
    [403, undefined, 'dead'],
    [404, undefined, 'dead'],
    [408, undefined, 'retry'],
    [409, undefined, 'dead'],
    [410, undefined, 'gone'],
    [413, undefined, 'dead'],
    [422, undefined, 'dead'],
    [429, undefined, 'retry'],
    [500, undefined, 'retry'],
    [502, undefined, 'retry'],
    [503, undefined, 'retry'],
    [504, undefined, 'retry'],
    [599, undefined, 'retry'],
    [600, undefined, 'dead'],
    [null, 'timeout', 'retry'],
    [null, 'connection', 'retry'],
    [null, 'url_not_allowed', 'dead'],
    [null, undefined, 'retry'],
    // An error kind wins over a status read before the failure (e.g. a body that timed out after the headers).
    [200, 'timeout', 'retry'],
    [200, 'url_not_allowed', 'dead'],
  ]
  for (const [status, kind, expected] of cases) {
    t.equal(classifyResponse(status, kind), expected, `${status} ${kind ?? ''}`)
  }
})

t.test('nextRetryDelayMs: equal jitter within bounds', async (t) => {
  const cases: Array<{ attempt: number; random: number; expected: number }> = [
    { attempt: 1, random: 0, expected: 2_500 },
    { attempt: 1, random: 0.5, expected: 3_750 },
    { attempt: 1, random: 0.999999, expected: 5_000 },
    { attempt: 2, random: 0, expected: 5_000 },
    { attempt: 2, random: 1, expected: 10_000 },
    { attempt: 3, random: 0, expected: 10_000 },
    { attempt: 5, random: 0, expected: 40_000 },
    { attempt: 11, random: 0, expected: RETRY_MAX_DELAY_MS / 2 },
    { attempt: 11, random: 1, expected: RETRY_MAX_DELAY_MS },
    { attempt: 50, random: 1, expected: RETRY_MAX_DELAY_MS },
    { attempt: 10_000, random: 0.5, expected: (RETRY_MAX_DELAY_MS * 3) / 4 },
    // Clamped input: attempt 0, negative and NaN behave like the first retry; random outside [0, 1] is clamped.
    { attempt: 0, random: 0, expected: 2_500 },
    { attempt: -3, random: 0, expected: 2_500 },
    { attempt: Number.NaN, random: 0, expected: 2_500 },
    { attempt: 1, random: 7, expected: 5_000 },
    { attempt: 1, random: -1, expected: 2_500 },
  ]
  for (const { attempt, random, expected } of cases) {
    t.equal(
      nextRetryDelayMs(attempt, () => random),
      expected,
      `attempt ${attempt}, random ${random}`,
    )
  }
})

t.test('nextRetryDelayMs: the first retry is within 10 s and delays never exceed the cap', async (t) => {
  for (let i = 0; i <= 100; i++) {
    const r = i / 100
    const first = nextRetryDelayMs(1, () => r)
    t.ok(first > 0 && first <= 10_000, `first retry ${first}`)
    for (let attempt = 1; attempt <= 40; attempt++) {
      const d = nextRetryDelayMs(attempt, () => r)
      if (d <= 0 || d > RETRY_MAX_DELAY_MS) t.fail(`attempt ${attempt} delay ${d}`)
    }
  }
  // The default random source is used when none is injected.
  const d = nextRetryDelayMs(1)
  t.ok(d >= 2_500 && d <= 5_000)
})

t.test('nextRetryDelayMs: delays grow and stay monotonic for a fixed random', async (t) => {
  let previous = 0
  for (let attempt = 1; attempt <= 30; attempt++) {
    const d = nextRetryDelayMs(attempt, () => 0.5)
    t.ok(d >= previous, `attempt ${attempt}`)
    previous = d
  }
})

t.test('nextRetryDelayMs: Retry-After is honoured and capped', async (t) => {
  const cases: Array<{ attempt: number; retryAfterMs: number | undefined; expected: number }> = [
    { attempt: 1, retryAfterMs: undefined, expected: 2_500 },
    { attempt: 1, retryAfterMs: 0, expected: 2_500 },
    { attempt: 1, retryAfterMs: 1_000, expected: 2_500 },
    { attempt: 1, retryAfterMs: 120_000, expected: 120_000 },
    { attempt: 1, retryAfterMs: 3 * HOUR, expected: 3 * HOUR },
    { attempt: 1, retryAfterMs: 48 * HOUR, expected: RETRY_AFTER_MAX_MS },
    { attempt: 1, retryAfterMs: Number.POSITIVE_INFINITY, expected: 2_500 },
    { attempt: 1, retryAfterMs: Number.NaN, expected: 2_500 },
    { attempt: 1, retryAfterMs: -5_000, expected: 2_500 },
    { attempt: 20, retryAfterMs: 60_000, expected: RETRY_MAX_DELAY_MS / 2 },
  ]
  for (const { attempt, retryAfterMs, expected } of cases) {
    t.equal(
      nextRetryDelayMs(attempt, () => 0, retryAfterMs),
      expected,
      `attempt ${attempt}, Retry-After ${retryAfterMs}`,
    )
  }
})

t.test('shouldGiveUp only after at least 24 h', async (t) => {
  t.ok(RETRY_WINDOW_MS > 24 * HOUR, 'window has a margin beyond 24 h')
  t.ok(RETRY_WINDOW_MS <= 26 * HOUR, 'margin stays modest')
  const first = new Date('2025-03-01T00:00:00Z')
  const cases: Array<[number, boolean]> = [
    [0, false],
    [1 * HOUR, false],
    [24 * HOUR, false],
    [RETRY_WINDOW_MS - 1, false],
    [RETRY_WINDOW_MS, true],
    [48 * HOUR, true],
    [-HOUR, false],
  ]
  for (const [elapsed, expected] of cases) {
    t.equal(shouldGiveUp(first, new Date(first.getTime() + elapsed)), expected, `elapsed ${elapsed}`)
  }
  t.equal(shouldGiveUp(new Date(Number.NaN), new Date()), false, 'invalid date never gives up')
})

t.test('a full schedule keeps retrying for at least 24 h', async (t) => {
  for (const r of [0, 0.5, 1]) {
    const first = new Date('2025-03-01T00:00:00Z')
    let now = first
    let attempt = 1
    while (!shouldGiveUp(first, now)) {
      now = new Date(now.getTime() + nextRetryDelayMs(attempt, () => r))
      attempt++
      if (attempt > 1_000) break
    }
    t.ok(now.getTime() - first.getTime() >= 24 * HOUR, `random ${r}: gave up after ${attempt} attempts`)
    t.ok(attempt < 200, `random ${r}: bounded number of attempts (${attempt})`)
  }
})

t.test('parseRetryAfter', async (t) => {
  const now = new Date('2025-03-01T12:00:00Z')
  const cases: Array<[string | undefined, number | undefined]> = [
    [undefined, undefined],
    ['', undefined],
    ['   ', undefined],
    ['0', 0],
    ['120', 120_000],
    [' 5 ', 5_000],
    ['-5', undefined],
    ['1.5', undefined],
    ['5s', undefined],
    ['soon', undefined],
    ['9'.repeat(400), undefined],
    ['Sat, 01 Mar 2025 12:01:00 GMT', 60_000],
    ['Sat, 01 Mar 2025 11:00:00 GMT', 0],
    ['Saturday, 01-Mar-25 12:00:30 GMT', 30_000],
    ['Sat Mar  1 12:02:00 2025', 120_000],
    ['Sat Mar 01 12:02:00 2025', 120_000],
    ['Sat, 31 Feb 2025 12:01:00 GMT', undefined],
    ['Sat, 01 Mar 2025 25:01:00 GMT', undefined],
    ['Sat, 01 Mar 2025 12:01:00 +0800', undefined],
    ['2025-03-01T12:01:00Z', undefined],
  ]
  for (const [header, expected] of cases) {
    t.equal(parseRetryAfter(header, now), expected, JSON.stringify(header))
  }
})
