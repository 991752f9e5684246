import t, { type Test } from 'tap'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { AppError } from '../../src/domain/errors.js'
import { mediationUnrolled, recomputeConfirmation, recomputeReferral } from '../../src/domain/deadlines.js'
import type { Confirmation } from '../../src/domain/confirmation.js'
import type { Referral } from '../../src/domain/referral.js'
import { extend, resume } from '../../src/domain/referral-actions.js'
import {
  LegalCalendar,
  acceptanceDueOn,
  addCalendarDays,
  confirmationDeadline,
  daysBetween,
  endOfShanghaiDay,
  type DatedResult,
  isValidDateString,
  mediationDueOn,
  mediationPeriodDays,
  resumedDueOn,
  reviewDueOn,
  shanghaiDate,
  startOfShanghaiDay,
  validateArrangement,
  type DateString,
  type LunarYear,
  type YearArrangement,
} from '../../src/domain/calendar.js'

function readYears<T>(file: string): Record<string, T> {
  const parsed = JSON.parse(readFileSync(new URL(`../../data/${file}`, import.meta.url), 'utf8')) as { years: Record<string, T> }
  return parsed.years
}

const arrangements = readYears<YearArrangement>('holidays.json')
const lunar = readYears<LunarYear>('statutory-lunar.json')
const cal = new LegalCalendar({ arrangements, lunar })

/** Runs a property and reports a counterexample through tap instead of throwing. */
function propertyHolds<Ts>(t: Test, property: fc.IRawProperty<Ts, false>, message = 'property holds'): void {
  const details = fc.check(property)
  t.equal(details.failed ? (fc.defaultReportMessage(details) ?? 'property failed') : null, null, message)
}

/**
 * Dates from 2024 to autumn 2036, where the calendar has data of one kind or the other, for periods that stay there
 * (2037 has none: 422 calendar_unavailable).
 */
const dateInRange = fc.integer({ min: 0, max: 13 * 365 - 120 }).map((n) => addCalendarDays('2024-01-01', n))

t.test('the shipped arrangements are valid', async (t) => {
  for (const [year, arr] of Object.entries(arrangements)) {
    t.same(validateArrangement(Number(year), arr), [], year)
    for (const d of arr.workdays) t.ok(cal.isWorkingDay(d), `${d} is a make-up working day`)
    for (const d of arr.holidays) t.ok(cal.isRestDay(d), `${d} is a day off`)
  }
})

t.test('date helpers', async (t) => {
  for (const ok of ['2026-01-01', '2024-02-29', '2000-02-29', '2026-12-31']) t.ok(isValidDateString(ok), ok)
  for (const bad of ['2026-02-29', '1900-02-29', '2026-13-01', '2026-00-10', '2026-04-31', '2026-1-01', '20260101', '2026-01-01T00:00', ' 2026-01-01', '']) {
    t.notOk(isValidDateString(bad), JSON.stringify(bad))
  }
  t.equal(addCalendarDays('2026-12-31', 1), '2027-01-01')
  t.equal(addCalendarDays('2024-02-28', 1), '2024-02-29')
  t.equal(addCalendarDays('2026-03-01', -1), '2026-02-28')
  t.equal(addCalendarDays('2026-01-16', 30), '2026-02-15')
  t.equal(daysBetween('2026-03-02', '2026-03-12'), 10)
  t.equal(daysBetween('2026-03-12', '2026-03-02'), -10)
  t.equal(daysBetween('2026-03-02', '2026-03-02'), 0)
  t.equal(daysBetween('2026-01-01', '2027-01-01'), 365)
  t.equal(daysBetween('2024-01-01', '2025-01-01'), 366)
  t.throws(() => addCalendarDays('2026-02-30', 1), RangeError)
  t.throws(() => cal.isWorkingDay('2026/01/05'), RangeError)
})

t.test('date arithmetic agrees with Date.UTC', async (t) => {
  propertyHolds(
    t,
    fc.property(fc.integer({ min: -40_000, max: 60_000 }), fc.integer({ min: -3000, max: 3000 }), (n, k) => {
      const d = new Date(n * 86_400_000).toISOString().slice(0, 10)
      const e = new Date((n + k) * 86_400_000).toISOString().slice(0, 10)
      return isValidDateString(d) && addCalendarDays(d, k) === e && daysBetween(d, e) === k
    }),
  )
})

t.test('Asia/Shanghai instants', async (t) => {
  t.same(endOfShanghaiDay('2026-11-29'), new Date('2026-11-29T16:00:00Z'))
  t.same(startOfShanghaiDay('2026-11-30'), new Date('2026-11-29T16:00:00Z'))
  t.equal(shanghaiDate(new Date('2026-11-29T16:30:00Z')), '2026-11-30')
  t.equal(shanghaiDate(new Date('2026-11-29T15:59:59.999Z')), '2026-11-29')
  t.equal(shanghaiDate(new Date('2026-11-29T16:00:00Z')), '2026-11-30')
  t.equal(shanghaiDate(new Date('2026-12-31T16:00:00+00:00')), '2027-01-01')
  t.equal(shanghaiDate(new Date('2026-06-01T00:00:00+08:00')), '2026-06-01')
  t.throws(() => shanghaiDate(new Date('nonsense')), RangeError)

  propertyHolds(
    t,
    fc.property(dateInRange, (d) => {
      const end = endOfShanghaiDay(d)
      return (
        shanghaiDate(end) === addCalendarDays(d, 1) &&
        shanghaiDate(new Date(end.getTime() - 1)) === d &&
        shanghaiDate(startOfShanghaiDay(d)) === d &&
        end.getTime() - startOfShanghaiDay(d).getTime() === 86_400_000
      )
    }),
  )
})

t.test('yearInfo: published years', async (t) => {
  const y2026 = cal.yearInfo(2026)
  t.equal(y2026.year, 2026)
  t.equal(y2026.provisional, false)
  t.same(y2026.workdays, ['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10'])
  t.equal(y2026.holidays.length, 33)
  t.same(y2026.holidays, [...y2026.holidays].sort(), 'sorted')
  for (let i = 15; i <= 23; i++) t.ok(y2026.holidays.includes(`2026-02-${i}`), `2026-02-${i} off`)

  y2026.holidays.push('2026-03-03')
  t.notOk(cal.yearInfo(2026).holidays.includes('2026-03-03'), 'callers get a copy')

  const unsorted = new LegalCalendar({ arrangements: { 2026: { holidays: ['2026-10-02', '2026-10-01'], workdays: ['2026-10-10', '2026-09-20'] } }, lunar: {} })
  t.same(unsorted.yearInfo(2026), { year: 2026, holidays: ['2026-10-01', '2026-10-02'], workdays: ['2026-09-20', '2026-10-10'], provisional: false })
})

t.test('yearInfo: statutory fallback with 补假', async (t) => {
  t.same(cal.yearInfo(2027), {
    year: 2027,
    holidays: [
      '2027-01-01',
      '2027-02-05',
      '2027-02-06',
      '2027-02-07',
      '2027-02-08',
      '2027-02-09',
      '2027-02-10',
      '2027-04-05',
      '2027-05-01',
      '2027-05-02',
      '2027-05-03',
      '2027-05-04',
      '2027-06-09',
      '2027-09-15',
      '2027-10-01',
      '2027-10-02',
      '2027-10-03',
      '2027-10-04',
      '2027-10-05',
    ],
    workdays: [],
    provisional: true,
  })
  // 2031: 中秋 falls on Wed 1 October, inside 国庆; the day is listed once. 春节 01-22…01-25 holds Sat 01-25 → Mon 01-27;
  // 清明 Sat 04-05 → Mon 04-07.
  const y2031 = cal.yearInfo(2031)
  t.same(y2031.holidays, [
    '2031-01-01',
    '2031-01-22',
    '2031-01-23',
    '2031-01-24',
    '2031-01-25',
    '2031-01-27',
    '2031-04-05',
    '2031-04-07',
    '2031-05-01',
    '2031-05-02',
    '2031-06-24',
    '2031-10-01',
    '2031-10-02',
    '2031-10-03',
  ])
  // 2028: 国庆 Sun 10-01…Tue 10-03 with 中秋 on 10-03: one weekend day → one 补假 day, Wed 10-04.
  t.same(
    cal.yearInfo(2028).holidays.filter((d) => d >= '2028-09-01'),
    ['2028-10-01', '2028-10-02', '2028-10-03', '2028-10-04'],
  )
  // 2036: 中秋 Sat 10-04 right after 国庆 (Wed–Fri, no weekend): its 补假 is Mon 10-06.
  t.same(
    cal.yearInfo(2036).holidays.filter((d) => d >= '2036-09-01'),
    ['2036-10-01', '2036-10-02', '2036-10-03', '2036-10-04', '2036-10-06'],
  )
  // Every fallback year: the statutory days, plus as many 补假 days (each a Monday–Friday) as statutory days on weekends.
  for (let year = 2027; year <= 2036; year++) {
    const l = lunar[String(year)] as LunarYear
    const statutory = new Set([
      `${year}-01-01`,
      ...[0, 1, 2, 3].map((i) => addCalendarDays(l.chuxi, i)),
      l.qingming,
      `${year}-05-01`,
      `${year}-05-02`,
      l.duanwu,
      l.zhongqiu,
      `${year}-10-01`,
      `${year}-10-02`,
      `${year}-10-03`,
    ])
    const weekend = (d: string) => [0, 6].includes(new Date(`${d}T00:00:00Z`).getUTCDay())
    const info = cal.yearInfo(year)
    const extra = info.holidays.filter((d) => !statutory.has(d))
    t.ok(
      [...statutory].every((d) => info.holidays.includes(d)),
      `${year}: every statutory day is off`,
    )
    t.equal(extra.length, [...statutory].filter(weekend).length, `${year}: one 补假 day per weekend statutory day (${extra.join(', ')})`)
    t.ok(
      extra.every((d) => !weekend(d)),
      `${year}: 补假 days are working days`,
    )
    t.equal(info.provisional, true, `${year} provisional`)
    t.same(info.workdays, [], `${year}: no make-up working days`)
  }
  // Years with neither an arrangement nor lunar data: 422 calendar_unavailable, never a guess.
  for (const year of [2023, 2037, 2040]) {
    t.throws(() => cal.yearInfo(year), { code: 'calendar_unavailable', status: 422 }, `${year}`)
  }
  t.throws(() => cal.yearInfo(2026.5), RangeError)
})

t.test('a published arrangement replaces the fallback', async (t) => {
  const published = cal.withArrangement(2027, { holidays: ['2027-02-05', '2027-02-06'], workdays: ['2027-02-13'] })
  t.equal(published.yearInfo(2027).provisional, false)
  t.ok(published.isWorkingDay('2027-02-13'), 'a Saturday made a working day')
  t.ok(published.isWorkingDay('2027-02-08'), 'a statutory day not in the arrangement is worked')
  t.equal(cal.yearInfo(2027).provisional, true, 'the original calendar is unchanged')
  t.same(published.publishedYears(), [2024, 2025, 2026, 2027])
})

t.test('isWorkingDay / isRestDay', async (t) => {
  const cases: Array<[DateString, boolean, string]> = [
    ['2026-02-12', true, 'Thursday'],
    ['2026-02-13', true, 'Friday before Spring Festival'],
    ['2026-02-14', true, 'Saturday, make-up working day'],
    ['2026-02-15', false, 'Sunday, first day off'],
    ['2026-02-16', false, 'Monday, day off'],
    ['2026-02-20', false, 'Friday, day off'],
    ['2026-02-23', false, 'Monday, last day off'],
    ['2026-02-24', true, 'Tuesday after Spring Festival'],
    ['2026-02-28', true, 'Saturday, make-up working day'],
    ['2026-03-01', false, 'plain Sunday'],
    ['2026-03-07', false, 'plain Saturday'],
    ['2026-01-02', false, 'Friday, 元旦 block'],
    ['2026-01-04', true, 'Sunday, make-up working day'],
    ['2026-09-20', true, 'Sunday, make-up working day'],
    ['2026-09-25', false, 'Friday, 中秋'],
    ['2026-09-30', true, 'Wednesday before National Day'],
    ['2026-10-01', false, 'National Day'],
    ['2026-10-07', false, 'Wednesday, last day off'],
    ['2026-10-08', true, 'Thursday after National Day'],
    ['2026-10-10', true, 'Saturday, make-up working day'],
    ['2026-10-11', false, 'plain Sunday'],
    ['2025-02-08', true, 'Saturday, make-up working day (2025)'],
    ['2025-10-08', false, 'Wednesday off (2025)'],
    ['2024-09-14', true, 'Saturday, make-up working day (2024)'],
    ['2027-01-01', false, 'Friday, 元旦 (fallback)'],
    ['2027-02-04', true, 'Thursday before 除夕 (fallback)'],
    ['2027-02-05', false, '除夕 (fallback)'],
    ['2027-02-08', false, 'Monday, 初三 (fallback)'],
    ['2027-02-09', false, 'Tuesday, 补假 for Sat 02-06 (fallback)'],
    ['2027-02-10', false, 'Wednesday, 补假 for Sun 02-07 (fallback)'],
    ['2027-02-11', true, 'Thursday after the 补假 days (fallback)'],
    ['2027-04-05', false, '清明 (fallback)'],
    ['2027-05-03', false, 'Monday 3 May, 补假 for Sat 05-01 (fallback)'],
    ['2027-05-05', true, 'Wednesday 5 May: no Labour Day block without an arrangement'],
    ['2027-06-09', false, '端午 (fallback)'],
    ['2027-09-15', false, '中秋 (fallback)'],
    ['2027-10-04', false, 'Monday 4 October, 补假 for Sat 10-02 (fallback)'],
    ['2027-10-06', true, 'Wednesday 6 October (fallback)'],
  ]
  for (const [d, working, why] of cases) {
    t.equal(cal.isWorkingDay(d), working, `${d} ${why}`)
    t.equal(cal.isRestDay(d), !working, `${d} rest day: ${!working}`)
  }
})

t.test('addWorkingDays / acceptanceDueOn', async (t) => {
  const cases: Array<[DateString, DateString, boolean, string]> = [
    ['2026-03-02', '2026-03-05', false, 'Monday: plain week'],
    ['2026-03-06', '2026-03-11', false, 'Friday: over a weekend'],
    ['2026-02-12', '2026-02-24', false, 'Thursday: the make-up Saturday counts'],
    ['2026-02-13', '2026-02-25', false, 'Friday before Spring Festival'],
    ['2026-02-15', '2026-02-26', false, 'referred on a day off'],
    ['2026-09-24', '2026-09-30', false, 'Thursday before 中秋'],
    ['2026-09-19', '2026-09-22', false, 'Saturday: the make-up Sunday counts'],
    ['2026-09-30', '2026-10-10', false, 'Wednesday before National Day'],
    ['2026-01-02', '2026-01-06', false, 'in the 元旦 block'],
    ['2026-12-28', '2026-12-31', false, 'ends in the published year'],
    ['2026-12-30', '2027-01-05', true, 'ends in an unpublished year'],
    ['2027-02-03', '2027-02-12', true, 'over the statutory Spring Festival and its 补假 days'],
  ]
  for (const [referred, due, provisional, why] of cases) {
    t.same(acceptanceDueOn(cal, referred), { date: due, provisional }, `${referred} → ${due} (${why})`)
  }
  t.same(cal.addWorkingDays('2026-02-13', 0), { date: '2026-02-13', provisional: false })
  t.same(cal.addWorkingDays('2026-02-13', 1), { date: '2026-02-14', provisional: false })
  t.throws(() => cal.addWorkingDays('2026-02-13', -1), RangeError)
  t.throws(() => cal.addWorkingDays('2026-02-13', 1.5), RangeError)

  propertyHolds(
    t,
    fc.property(dateInRange, fc.integer({ min: 1, max: 30 }), (start, n) => {
      const { date } = cal.addWorkingDays(start, n)
      let counted = 0
      for (let d = addCalendarDays(start, 1); d <= date; d = addCalendarDays(d, 1)) if (cal.isWorkingDay(d)) counted++
      return cal.isWorkingDay(date) && counted === n
    }),
  )
})

t.test('addDaysRolled / rollForward (民诉法 art. 85)', async (t) => {
  const cases: Array<[DateString, number, DateString, boolean, string]> = [
    ['2026-03-02', 30, '2026-04-01', false, 'lands on a working day'],
    ['2026-01-16', 30, '2026-02-24', false, 'lands on the first day of Spring Festival'],
    ['2026-01-15', 30, '2026-02-14', false, 'lands on a make-up Saturday: no roll'],
    ['2026-09-16', 15, '2026-10-08', false, 'lands on National Day'],
    ['2026-10-03', 7, '2026-10-10', false, 'lands on a make-up Saturday after National Day'],
    ['2026-04-20', 15, '2026-05-06', false, 'lands in the Labour Day block'],
    ['2026-11-20', 30, '2026-12-21', false, 'lands on a Sunday'],
    ['2026-12-01', 30, '2026-12-31', false, 'ends before the unpublished year'],
    ['2026-12-02', 30, '2027-01-04', true, 'lands on 元旦 2027'],
    ['2026-12-10', 30, '2027-01-11', true, 'lands on a weekend of 2027'],
    ['2027-01-06', 30, '2027-02-11', true, 'lands on 除夕 2027, rolls past the 补假 days'],
    ['2025-01-01', 30, '2025-02-05', false, 'Spring Festival 2025'],
    ['2026-03-02', 0, '2026-03-02', false, 'zero days'],
  ]
  for (const [start, n, due, provisional, why] of cases) {
    t.same(cal.addDaysRolled(start, n), { date: due, provisional }, `${start} + ${n} → ${due} (${why})`)
  }
  t.same(cal.rollForward('2026-02-15'), { date: '2026-02-24', provisional: false })
  t.same(cal.rollForward('2026-02-24'), { date: '2026-02-24', provisional: false })
  t.same(cal.rollForward('2026-12-26'), { date: '2026-12-28', provisional: false })
  t.same(cal.rollForward('2027-02-05'), { date: '2027-02-11', provisional: true })

  propertyHolds(
    t,
    fc.property(dateInRange, fc.integer({ min: 0, max: 60 }), (start, n) => {
      const { date } = cal.addDaysRolled(start, n)
      const target = addCalendarDays(start, n)
      if (!cal.isWorkingDay(date) || date < target) return false
      for (let d = target; d < date; d = addCalendarDays(d, 1)) if (cal.isWorkingDay(d)) return false
      return cal.rollForward(date).date === date && cal.addDaysRolled(start, n + 1).date >= date
    }),
  )
})

t.test('mediation period and due date', async (t) => {
  t.equal(mediationPeriodDays('pre_filing'), 30)
  t.equal(mediationPeriodDays('pre_filing', 'summary'), 30, 'procedure does not apply before filing')
  t.equal(mediationPeriodDays('in_litigation', 'ordinary'), 15)
  t.equal(mediationPeriodDays('in_litigation', 'summary'), 7)
  t.throws(() => mediationPeriodDays('in_litigation'), RangeError)

  t.same(mediationDueOn(cal, '2026-01-16', 'pre_filing'), { date: '2026-02-24', provisional: false })
  t.same(mediationDueOn(cal, '2026-09-16', 'in_litigation', 'ordinary'), { date: '2026-10-08', provisional: false })
  t.same(mediationDueOn(cal, '2026-09-30', 'in_litigation', 'summary'), { date: '2026-10-08', provisional: false })
  t.same(mediationDueOn(cal, '2026-12-10', 'pre_filing'), { date: '2027-01-11', provisional: true }, 'starts in 2026, ends in 2027')
})

t.test('resumedDueOn: paused days are added to the unrolled date', async (t) => {
  const cases: Array<[DateString, DateString, DateString, DateString, boolean, string]> = [
    ['2026-03-20', '2026-03-02', '2026-03-12', '2026-03-30', false, '10 days later, a Monday'],
    ['2026-02-06', '2026-01-20', '2026-01-29', '2026-02-24', false, 'moved into Spring Festival, rolled'],
    ['2026-05-06', '2026-04-10', '2026-04-10', '2026-05-06', false, 'same-day resumption'],
    ['2026-02-12', '2026-01-30', '2026-02-01', '2026-02-14', false, 'lands on a make-up Saturday'],
    ['2026-12-24', '2026-12-01', '2026-12-10', '2027-01-04', true, 'moved into 2027'],
  ]
  for (const [unrolled, suspended, resumed, expected, provisional, why] of cases) {
    const due = resumedDueOn(cal, unrolled, suspended, resumed)
    t.same(due, { date: expected, provisional, unrolled: addCalendarDays(unrolled, daysBetween(suspended, resumed)) }, why)
  }
  t.throws(() => resumedDueOn(cal, '2026-03-20', '2026-03-12', '2026-03-02'), RangeError)
})

t.test('judicial confirmation deadlines', async (t) => {
  t.same(confirmationDeadline(cal, '2026-08-31'), { date: '2026-09-30', provisional: false })
  t.same(confirmationDeadline(cal, '2026-09-01'), { date: '2026-10-08', provisional: false }, 'rolled past National Day')
  t.same(confirmationDeadline(cal, '2026-01-15'), { date: '2026-02-14', provisional: false }, 'make-up Saturday')
  t.same(confirmationDeadline(cal, '2026-12-15'), { date: '2027-01-14', provisional: true })
  t.same(reviewDueOn(cal, '2026-09-07'), { date: '2026-10-08', provisional: false })
  t.same(reviewDueOn(cal, '2026-03-02'), { date: '2026-04-01', provisional: false })
})

t.test('validateArrangement', async (t) => {
  t.same(validateArrangement(2026, { holidays: ['2026-10-01'], workdays: ['2026-10-10'] }), [])
  t.same(validateArrangement(2026, { holidays: [], workdays: [] }), [])

  const problems = validateArrangement(2026, {
    holidays: ['2026-02-30', '2025-12-31', '2026-1-01', '2026-10-01', '2026-10-01', '2026-10-10'],
    workdays: ['2026-10-10', '2027-01-02'],
  })
  t.equal(problems.length, 6, problems.join('\n'))
  t.match(problems, [
    /holidays\[0\].*2026-02-30/,
    /holidays\[1\].*2025-12-31.*not in 2026/,
    /holidays\[2\].*2026-1-01/,
    /holidays\[4\].*listed twice/,
    /workdays\[1\].*2027-01-02.*not in 2026/,
    /2026-10-10.*both/,
  ])
  t.not(validateArrangement(2026.5, { holidays: [], workdays: [] }).length, 0)
})

// ---------------------------------------------------------------------------------------------
// Deadline rules (issue #13 §1), one table: each row names the rule it checks, the computation and the date the law
// gives. 2024–2026 use the published arrangements; 2027–2036 the statutory fallback with 补假 (provisional).

/** The rules the rows check. */
const RULE = {
  buJia: '补假 (放假办法 art. 6): a statutory day on a weekend adds a day off on the first working day after its holiday',
  roll: '民诉法 art. 85: the start day not counted, a last day that is a rest day rolls to the next working day',
  makeUp: '调休: a make-up working day (weekend) is a working day',
  acceptance: '在线调解规则 art. 12: acceptance within 3 working days after the referral date',
  unavailable: 'no arrangement and beyond the lunar data: 422 calendar_unavailable rather than a guess',
  resumption: '在线调解规则 art. 26 + 民诉法 85: paused days are added to the unrolled date, then rolled (contract §2 resumption)',
  extension: '民诉法 art. 85: an extension to a rest day rolls forward (contract §2 extension)',
  yearEnd: 'year end: a period running into the next year uses that year’s days',
} as const

type Got = DatedResult | { error: string }

/** A computation's date and provisional flag, or the code of the AppError it throws. */
function outcome(run: () => DatedResult): Got {
  try {
    const { date, provisional } = run()
    return { date, provisional }
  } catch (e) {
    if (e instanceof AppError) return { error: e.code }
    throw e
  }
}

const days = (n: number) => (start: DateString) => cal.addDaysRolled(start, n)
const accept3 = (start: DateString) => acceptanceDueOn(cal, start)
const ok = (date: DateString, provisional = false): Got => ({ date, provisional })
const unavailable: Got = { error: 'calendar_unavailable' }

t.test('deadline rules, tabled', async (t) => {
  const rows: Array<[rule: string, what: string, run: () => DatedResult, want: Got]> = [
    // The dates of issue #13, as measured before the fix and as the law gives them.
    [RULE.buJia, '15 days from 2027-01-22: 02-06 Sat → 春节 + 补假 02-09/10 → Thu 02-11 (was 02-09)', () => days(15)('2027-01-22'), ok('2027-02-11', true)],
    [RULE.buJia, 'acceptance from Thu 2027-02-04 → Mon 02-15 (was 02-11)', () => accept3('2027-02-04'), ok('2027-02-15', true)],
    [RULE.buJia, '30 days from 2027-09-02: Sat 10-02 → 国庆 + 补假 10-04/05 → Wed 10-06 (was 10-04)', () => days(30)('2027-09-02'), ok('2027-10-06', true)],
    [RULE.buJia, '15 days from 2027-04-16: Sat 05-01 → 补假 05-03/04 → Wed 05-05 (was 05-03)', () => days(15)('2027-04-16'), ok('2027-05-05', true)],
    [
      RULE.buJia,
      '30 days from 2027-12-04: 2028-01-03 is 补假 for 元旦 on a Saturday → Tue 01-04 (was 01-03)',
      () => days(30)('2027-12-04'),
      ok('2028-01-04', true),
    ],
    [RULE.unavailable, '30 days from 2037-01-16: 2037 has no lunar data (was 正月初二)', () => days(30)('2037-01-16'), unavailable],
    // Published years: Spring Festival, National Day, make-up days.
    [RULE.roll, '2024: 30 days from 01-10 → Fri 02-09 (除夕 2024 was not a day off)', () => days(30)('2024-01-10'), ok('2024-02-09')],
    [RULE.makeUp, '2024: 30 days from 01-12 → Sun 02-11 in 春节 → Sun 02-18, a make-up working day', () => days(30)('2024-01-12'), ok('2024-02-18')],
    [RULE.makeUp, '2024: 30 days from 03-08 → Sun 04-07, a make-up working day: no roll', () => days(30)('2024-03-08'), ok('2024-04-07')],
    [RULE.acceptance, '2024: from Thu 09-12: Fri 09-13, make-up Sat 09-14, then 中秋 → Wed 09-18', () => accept3('2024-09-12'), ok('2024-09-18')],
    [RULE.roll, '2024: 7 days from 09-30 → 10-07 in 国庆 → Tue 10-08', () => days(7)('2024-09-30'), ok('2024-10-08')],
    [RULE.acceptance, '2025: from Fri 01-24: make-up Sun 01-26, Mon 01-27, then 春节 → Wed 02-05', () => accept3('2025-01-24'), ok('2025-02-05')],
    [RULE.roll, '2025: 30 days from 09-05 → 10-05 in 国庆 (to 10-08) → Thu 10-09', () => days(30)('2025-09-05'), ok('2025-10-09')],
    [RULE.yearEnd, '2025: 30 days from 12-01 → Wed 12-31', () => days(30)('2025-12-01'), ok('2025-12-31')],
    [RULE.yearEnd, '2025→2026: 30 days from 12-02 → 2026-01-01 元旦 block → make-up Sun 01-04', () => days(30)('2025-12-02'), ok('2026-01-04')],
    [RULE.makeUp, '2026: 30 days from 04-09 → Sat 05-09, a make-up working day', () => days(30)('2026-04-09'), ok('2026-05-09')],
    [RULE.roll, '2026: 15 days from 04-20 → 05-05 in 劳动节 → Wed 05-06', () => days(15)('2026-04-20'), ok('2026-05-06')],
    [RULE.yearEnd, '2026→2027: acceptance from Wed 12-30 → Tue 2027-01-05, provisional', () => accept3('2026-12-30'), ok('2027-01-05', true)],
    [RULE.yearEnd, '2026→2027: 30 days from 12-02 → 元旦 Fri 2027-01-01 (no 补假) → Mon 01-04', () => days(30)('2026-12-02'), ok('2027-01-04', true)],
    // The fallback years, 2027–2036.
    [RULE.roll, '2027: 30 days from 03-06 → 清明 Mon 04-05 → Tue 04-06', () => days(30)('2027-03-06'), ok('2027-04-06', true)],
    [
      RULE.buJia,
      '2027: acceptance from Thu 04-29: Fri 04-30, then 05-01…05-04 (补假 Mon/Tue) → Thu 05-06',
      () => accept3('2027-04-29'),
      ok('2027-05-06', true),
    ],
    [RULE.buJia, '2027→2028: acceptance from Wed 12-29: 12-30, 12-31, 补假 Mon 01-03 → Tue 2028-01-04', () => accept3('2027-12-29'), ok('2028-01-04', true)],
    [
      RULE.buJia,
      '2028: 春节 Tue–Fri holds no weekend, no 补假: 30 days from 2027-12-29 → 01-28 → Mon 01-31',
      () => days(30)('2027-12-29'),
      ok('2028-01-31', true),
    ],
    [RULE.buJia, '2028: 端午 Sun 05-28 → 补假 Mon 05-29: 30 days from 04-28 → Tue 05-30', () => days(30)('2028-04-28'), ok('2028-05-30', true)],
    [
      RULE.buJia,
      '2028: 国庆 from Sun 10-01 with 中秋 on 10-03 → one 补假 day, Wed 10-04: 30 days from 09-01 → Thu 10-05',
      () => days(30)('2028-09-01'),
      ok('2028-10-05', true),
    ],
    [RULE.buJia, '2029: 端午 Sat 06-16 → 补假 Mon 06-18: 15 days from 06-01 → Tue 06-19', () => days(15)('2029-06-01'), ok('2029-06-19', true)],
    [RULE.buJia, '2029: 中秋 Sat 09-22 → 补假 Mon 09-24: 7 days from 09-15 → Tue 09-25', () => days(7)('2029-09-15'), ok('2029-09-25', true)],
    [RULE.buJia, '2030: 春节 Sat 02-02…Tue 02-05 → 补假 Wed/Thu: 30 days from 01-08 → 02-07 → Fri 02-08', () => days(30)('2030-01-08'), ok('2030-02-08', true)],
    [RULE.buJia, '2030→2031: 30 days from 12-26 → Sat 2031-01-25 (春节) → 补假 Mon 01-27 → Tue 01-28', () => days(30)('2030-12-26'), ok('2031-01-28', true)],
    [RULE.buJia, '2031: 清明 Sat 04-05 → 补假 Mon 04-07: 30 days from 03-06 → Tue 04-08', () => days(30)('2031-03-06'), ok('2031-04-08', true)],
    [
      RULE.buJia,
      '2031: 中秋 on 国庆 Wed 10-01 counts once, no weekend, no 补假: 30 days from 09-03 → Mon 10-06',
      () => days(30)('2031-09-03'),
      ok('2031-10-06', true),
    ],
    [RULE.buJia, '2032: 清明 Sun 04-04 → 补假 Mon 04-05: acceptance from Thu 04-01 → Wed 04-07', () => accept3('2032-04-01'), ok('2032-04-07', true)],
    [RULE.buJia, '2032: 国庆 Fri–Sun → 补假 Mon 10-04, Tue 10-05: 15 days from 09-17 → Wed 10-06', () => days(15)('2032-09-17'), ok('2032-10-06', true)],
    [RULE.buJia, '2032→2033: 30 days from 12-03 → Sun 2033-01-02; 元旦 Sat → 补假 Mon 01-03 → Tue 01-04', () => days(30)('2032-12-03'), ok('2033-01-04', true)],
    [RULE.buJia, '2033: 春节 Sun 01-30…Wed 02-02 → 补假 Thu 02-03: 30 days from 01-04 → Fri 02-04', () => days(30)('2033-01-04'), ok('2033-02-04', true)],
    [RULE.buJia, '2033: 国庆 Sat–Mon → 补假 Tue 10-04, Wed 10-05: 30 days from 09-01 → Thu 10-06', () => days(30)('2033-09-01'), ok('2033-10-06', true)],
    [RULE.buJia, '2033→2034: 元旦 Sun → 补假 Mon 01-02: acceptance from Thu 12-29 → Wed 2034-01-04', () => accept3('2033-12-29'), ok('2034-01-04', true)],
    [RULE.buJia, '2034: 春节 Sat 02-18…Tue 02-21 → 补假 Wed/Thu: 30 days from 01-20 → Fri 02-24', () => days(30)('2034-01-20'), ok('2034-02-24', true)],
    [RULE.buJia, '2035: 春节 Wed 02-07…Sat 02-10 → 补假 Mon 02-12: 30 days from 01-12 → Tue 02-13', () => days(30)('2035-01-12'), ok('2035-02-13', true)],
    [RULE.buJia, '2035: 端午 Sun 06-10 → 补假 Mon 06-11: 15 days from 05-27 → Tue 06-12', () => days(15)('2035-05-27'), ok('2035-06-12', true)],
    [RULE.buJia, '2035: 中秋 Sun 09-16 → 补假 Mon 09-17: 7 days from 09-09 → Tue 09-18', () => days(7)('2035-09-09'), ok('2035-09-18', true)],
    [RULE.buJia, '2036: 春节 Sun 01-27…Wed 01-30 → 补假 Thu 01-31: 30 days from 01-01 → Fri 02-01', () => days(30)('2036-01-01'), ok('2036-02-01', true)],
    [RULE.buJia, '2036: 中秋 Sat 10-04 after 国庆 → 补假 Mon 10-06: 30 days from 09-04 → Tue 10-07', () => days(30)('2036-09-04'), ok('2036-10-07', true)],
    [RULE.yearEnd, '2036: 30 days from 11-20 → Sat 12-20 → Mon 12-22, the last year of the lunar data', () => days(30)('2036-11-20'), ok('2036-12-22', true)],
    [RULE.unavailable, '2036→2037: 30 days from 12-02 → 2037-01-01', () => days(30)('2036-12-02'), unavailable],
    [RULE.unavailable, '2036→2037: acceptance from Wed 12-31', () => accept3('2036-12-31'), unavailable],
    [RULE.unavailable, 'a day of 2023 (before the data) cannot be judged either', () => cal.rollForward('2023-06-01'), unavailable],
  ]
  for (const [rule, what, run, want] of rows) t.same(outcome(run), want, `${rule} — ${what}`)
  t.ok(rows.length >= 36, `${rows.length} rows`)
})

// The mediation clock as the referral actions keep it (src/domain/referral-actions.ts resume / extend).

const PARTY = { kind: 'natural_person' as const, idType: 'resident_id', idNumber: { enc: 'x', masked: '110***********1234' } }
const consentAll = [0, 1].map((partyIndex) => ({ partyIndex, consentedAt: '2026-01-01T09:00:00+08:00', method: 'written' as const }))

/** A referral accepted at `acceptedAt` (Asia/Shanghai), mediating with the due date the acceptance gave it. */
function accepted(acceptedAt: string, type: 'pre_filing' | 'in_litigation' = 'pre_filing', procedure?: 'ordinary' | 'summary'): Referral {
  const created = new Date(new Date(acceptedAt).getTime() - 86_400_000)
  const due = mediationDueOn(cal, shanghaiDate(new Date(acceptedAt)), type, procedure)
  return {
    id: '0192f3a4-5b6c-7d8e-9f01-23456789abcd',
    version: 2,
    status: 'mediating',
    referralType: type,
    courtCode: '京0105',
    caseNumber: '（2026）京0105民诉前调1号',
    disputeType: 'neighbor',
    organizationId: 'bj-cy-blz',
    heldBy: ['bj-cy-blz'],
    chainHead: 'h',
    doc: {
      ...(procedure ? { procedure } : {}),
      claimSummary: 's',
      parties: [
        { ...PARTY, role: 'applicant', name: '张三' },
        { ...PARTY, role: 'respondent', name: '李四' },
      ],
      consent: consentAll,
      designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' },
      materials: [],
      acceptedAt: new Date(acceptedAt).toISOString(),
      deadlines: { acceptanceDueOn: null, mediationDueOn: due.date, provisional: due.provisional },
    },
    createdAt: created,
    updatedAt: created,
  }
}

/** Suspended on `on` and resumed on `until` (noon, Asia/Shanghai), through the actions. */
function pause(r: Referral, on: DateString, until: DateString): Referral {
  const suspended: Referral = {
    ...r,
    status: 'suspended',
    doc: { ...r.doc, suspension: { reason: 'appraisal', suspendedOn: on, suspendedAt: `${on}T04:00:00.000Z` } },
  }
  return { ...resume(suspended, {}, { now: new Date(`${until}T12:00:00+08:00`), cal }), status: 'mediating' }
}

const extendTo = (r: Referral, newDueOn: DateString, now = '2026-01-20T10:00:00+08:00') =>
  extend(r, { newDueOn, consent: consentAll }, { now: new Date(now), cal })
const shown = (r: Referral): DatedResult => ({ date: r.doc.deadlines.mediationDueOn as string, provisional: r.doc.deadlines.provisional })
const clock = (run: () => Referral): Got => {
  try {
    return shown(run())
  } catch (e) {
    if (e instanceof AppError) return { error: e.code }
    throw e
  }
}

t.test('resumption and extension rules, tabled', async (t) => {
  const pre0116 = accepted('2026-01-16T10:00:00+08:00')
  const lit0916 = accepted('2026-09-16T10:00:00+08:00', 'in_litigation', 'ordinary')
  const lit0901 = accepted('2026-09-01T10:00:00+08:00', 'in_litigation', 'summary')
  const extended = () => extendTo(lit0901, '2026-10-01', '2026-09-05T10:00:00+08:00')
  const rows: Array<[rule: string, what: string, run: () => Referral, want: Got]> = [
    [
      RULE.resumption,
      'accepted 2026-01-16 (30 days): unrolled 02-15, shown 02-24; suspended 02-02, resumed 02-04 → 02-24 (was 02-26)',
      () => pause(pre0116, '2026-02-02', '2026-02-04'),
      ok('2026-02-24'),
    ],
    [
      RULE.resumption,
      'accepted 2026-09-16 (15 days): unrolled 10-01, shown 10-08; 1 day suspended → 10-08 (was 10-09)',
      () => pause(lit0916, '2026-09-20', '2026-09-21'),
      ok('2026-10-08'),
    ],
    [
      RULE.resumption,
      'accepted 2026-01-16: suspended 02-02, resumed 02-12 (10 days) → unrolled 02-25 → Wed 02-25',
      () => pause(pre0116, '2026-02-02', '2026-02-12'),
      ok('2026-02-25'),
    ],
    [
      RULE.resumption,
      'two suspensions add up on the unrolled date: 2 + 2 days → unrolled 02-19 → 02-24',
      () => pause(pause(pre0116, '2026-01-20', '2026-01-22'), '2026-02-02', '2026-02-04'),
      ok('2026-02-24'),
    ],
    [
      RULE.resumption,
      'accepted 2027-01-14 (30 days): unrolled Sat 02-13 → Mon 02-15; 2 days suspended → unrolled 02-15 → 02-15',
      () => pause(accepted('2027-01-14T10:00:00+08:00'), '2027-01-20', '2027-01-22'),
      ok('2027-02-15', true),
    ],
    [
      RULE.resumption,
      'accepted 2033-09-01: unrolled 10-01 → 10-06 (国庆 + 补假); 3 days → unrolled 10-04 (补假) → Thu 10-06',
      () => pause(accepted('2033-09-01T10:00:00+08:00'), '2033-09-10', '2033-09-13'),
      ok('2033-10-06', true),
    ],
    [
      RULE.resumption,
      'accepted 2036-12-01 (7 days, summary): 1 day suspended → unrolled 12-09 → Tue 12-09',
      () => pause(accepted('2036-12-01T10:00:00+08:00', 'in_litigation', 'summary'), '2036-12-03', '2036-12-04'),
      ok('2036-12-09', true),
    ],
    [
      RULE.unavailable,
      'accepted 2036-12-01 (30 days): 30 days suspended → unrolled 2037-01-30: cannot be judged',
      () => pause(accepted('2036-12-01T10:00:00+08:00'), '2036-12-02', '2037-01-01'),
      unavailable,
    ],
    [RULE.extension, 'extension to Thu 2026-10-01 (国庆) → Thu 10-08', () => extended(), ok('2026-10-08')],
    [RULE.extension, 'extension to make-up Sat 2026-02-28: a working day, kept', () => extendTo(pre0116, '2026-02-28'), ok('2026-02-28')],
    [
      RULE.extension,
      'extension to Sat 2027-02-06 (fallback 春节) → Thu 02-11 past the 补假 days',
      () => extendTo(pre0116, '2027-02-06'),
      ok('2027-02-11', true),
    ],
    [RULE.extension, 'extension to Mon 2027-05-03 (补假) → Wed 05-05', () => extendTo(pre0116, '2027-05-03'), ok('2027-05-05', true)],
    [RULE.extension, 'extension to a plain Tuesday 2026-03-10: kept', () => extendTo(pre0116, '2026-03-10'), ok('2026-03-10')],
    [RULE.unavailable, 'extension to 2037-01-05: no calendar for 2037', () => extendTo(pre0116, '2037-01-05'), unavailable],
    [
      RULE.extension,
      'extension to Sun 02-22 (in 春节, before the shown 02-24): not later',
      () => extendTo(pre0116, '2026-02-22'),
      { error: 'due_date_not_later' },
    ],
    [
      RULE.resumption,
      'after an extension to 10-01 (shown 10-08), 2 days suspended → unrolled 10-03 → 10-08, not 10-10',
      () => pause(extended(), '2026-09-10', '2026-09-12'),
      ok('2026-10-08'),
    ],
    [
      RULE.resumption,
      'after an extension to 10-01, 8 days suspended → unrolled 10-09 → Fri 10-09',
      () => pause(extended(), '2026-09-10', '2026-09-18'),
      ok('2026-10-09'),
    ],
  ]
  for (const [rule, what, run, want] of rows) t.same(clock(run), want, `${rule} — ${what}`)
})

t.test('the unrolled date: kept by resumption and extension, derived for cases from before', async (t) => {
  const pre0116 = accepted('2026-01-16T10:00:00+08:00')
  t.equal(mediationUnrolled(pre0116), '2026-02-15', 'derived from the acceptance date')
  t.equal(mediationUnrolled(pause(pre0116, '2026-02-02', '2026-02-04')), '2026-02-17', 'kept by the resumption')
  t.equal(mediationUnrolled(extendTo(pre0116, '2026-03-01')), '2026-03-01', 'an extension sets it to newDueOn as given (a Sunday)')
  t.equal(shown(extendTo(pre0116, '2026-03-01')).date, '2026-03-02', '… and shows it rolled')
  // A case from before the rule (no unrolled date kept, a compounded shown date): derived from its history.
  const legacy: Referral = {
    ...pre0116,
    doc: {
      ...pre0116.doc,
      deadlines: { ...pre0116.doc.deadlines, mediationDueOn: '2026-02-26' },
      suspensions: [{ reason: 'appraisal', suspendedOn: '2026-02-02', resumedOn: '2026-02-04' }],
    },
  }
  t.equal(mediationUnrolled(legacy), '2026-02-17', 'acceptance + 30 + the 2 suspended days')
  const legacyExtended: Referral = {
    ...legacy,
    doc: {
      ...legacy.doc,
      extensions: [{ previousDueOn: '2026-02-26', newDueOn: '2026-03-07', consent: consentAll, extendedAt: '2026-02-10T02:00:00.000Z' }],
      suspensions: [...(legacy.doc.suspensions ?? []), { reason: 'other', suspendedOn: '2026-02-20', resumedOn: '2026-02-23' }],
    },
  }
  t.equal(mediationUnrolled(legacyExtended), '2026-03-10', 'the last extension + the 3 days suspended after it (not the 2 before)')
  t.equal(mediationUnrolled({ ...pre0116, doc: { ...pre0116.doc, acceptedAt: undefined } }), null, 'not accepted: no clock')
})

t.test('recomputation: a due date only moves later', async (t) => {
  // The State Council publishes 2027 as it typically does: 春节 02-05…02-12 off, Sat 02-13 worked; 国庆 10-01…10-07 off,
  // Sat 10-09 worked.
  const published = cal.withArrangement(2027, {
    holidays: [
      '2027-01-01',
      ...[5, 6, 7, 8, 9, 10, 11, 12].map((d) => `2027-02-${String(d).padStart(2, '0')}`),
      ...[1, 2, 3, 4, 5, 6, 7].map((d) => `2027-10-0${d}`),
    ],
    workdays: ['2027-02-13', '2027-10-09'],
  })
  const referred = (on: string, due: string): Referral => ({
    ...accepted(`${on}T10:00:00+08:00`),
    status: 'referred',
    doc: { ...accepted(`${on}T10:00:00+08:00`).doc, acceptedAt: undefined, deadlines: { acceptanceDueOn: due, mediationDueOn: null, provisional: true } },
  })
  const rows: Array<[what: string, run: () => unknown, want: unknown]> = [
    [
      'acceptance from Thu 02-04: 02-15 on the fallback → Tue 02-16 (make-up Sat 02-13 counts)',
      () => recomputeReferral(referred('2027-02-04', '2027-02-15'), published, '2027-02-04'),
      {
        before: { acceptanceDueOn: '2027-02-15' },
        after: { acceptanceDueOn: '2027-02-16' },
        provisional: false,
        deadlines: { acceptanceDueOn: '2027-02-16', mediationDueOn: null, provisional: false },
      },
    ],
    [
      '15 days from 01-22 (in litigation): 02-11 on the fallback → Sat 02-13, a make-up working day',
      () => recomputeReferral(accepted('2027-01-22T10:00:00+08:00', 'in_litigation', 'ordinary'), published, '2027-01-20'),
      {
        before: { mediationDueOn: '2027-02-11' },
        after: { mediationDueOn: '2027-02-13' },
        provisional: false,
        deadlines: { acceptanceDueOn: null, mediationDueOn: '2027-02-13', provisional: false },
      },
    ],
    [
      '30 days from 01-14: Mon 02-15 on the fallback, Sat 02-13 worked now: the later date stands, nothing to do',
      () => recomputeReferral(accepted('2027-01-14T10:00:00+08:00'), published, '2027-01-12'),
      null,
    ],
    [
      '30 days from 09-02: Wed 10-06 on the fallback → Fri 10-08 (国庆 to 10-07)',
      () => recomputeReferral(accepted('2027-09-02T10:00:00+08:00'), published, '2027-09-01'),
      {
        before: { mediationDueOn: '2027-10-06' },
        after: { mediationDueOn: '2027-10-08' },
        provisional: false,
        deadlines: { acceptanceDueOn: null, mediationDueOn: '2027-10-08', provisional: false },
      },
    ],
    ['the same calendar again moves nothing', () => recomputeReferral(accepted('2027-09-02T10:00:00+08:00'), cal, '2027-09-01'), null],
    [
      'a closed case has no running date',
      () => recomputeReferral({ ...accepted('2027-09-02T10:00:00+08:00'), status: 'closed' }, published, '2027-09-01'),
      null,
    ],
  ]
  for (const [what, run, want] of rows) t.same(run(), want, what)

  const review = (acceptedOn: string, reviewDue: string, status = 'under_review'): Confirmation =>
    ({
      id: '0192f3a4-5b6c-7d8e-9f01-23456789abce',
      version: 2,
      status,
      reviewDueOn: reviewDue,
      doc: {
        acceptance: { caseNumber: 'x', acceptedOn, acceptedAt: `${acceptedOn}T02:00:00.000Z` },
        agreement: { effectiveAt: '2026-12-20T02:00:00.000Z' },
        provisional: true,
      },
    }) as unknown as Confirmation
  t.same(
    recomputeConfirmation(review('2027-01-10', '2027-02-11'), published),
    { before: { reviewDueOn: '2027-02-11' }, after: { reviewDueOn: '2027-02-13' }, provisional: false, reviewDueOn: '2027-02-13' },
    'review from 01-10: 02-09 is 补假 on the fallback (→ 02-11); published → make-up Sat 02-13',
  )
  t.same(
    recomputeConfirmation(review('2027-01-10', '2027-02-11', 'materials_requested'), published)?.after,
    { reviewDueOn: '2027-02-13' },
    'the review clock runs while materials are awaited (民诉法解释 354)',
  )
  const extended = review('2026-12-20', '2027-02-11')
  extended.doc.reviewExtensions = [{ previousDueOn: '2027-01-19', newDueOn: '2027-02-11', reason: '院长批准', extendedAt: '2027-01-15T02:00:00.000Z' }]
  t.same(
    recomputeConfirmation(extended, published)?.after,
    { reviewDueOn: '2027-02-13' },
    'an extended review (187) starts from the extension: 02-11 is off once published → 02-13',
  )
  t.equal(recomputeConfirmation(extended, cal), null, 'on the same calendar the extension stands')
  t.equal(recomputeConfirmation(review('2027-01-10', '2027-02-11', 'ruled_valid'), published), null, 'a ruled application is left alone')

  // The informational day-15 target (法释〔2011〕5号 art. 5) moves with the review date.
  const targeted = review('2027-01-22', '2027-02-22')
  targeted.doc.reviewTargetOn = cal.addDaysRolled('2027-01-22', 15).date
  t.equal(targeted.doc.reviewTargetOn, '2027-02-11', 'fallback: 01-22 + 15 = 02-06 (初一, Sat); 初二 Sun → 02-09/02-10 补假 → 02-11')
  t.same(
    recomputeConfirmation(targeted, published),
    {
      before: { reviewTargetOn: '2027-02-11' },
      after: { reviewTargetOn: '2027-02-13' },
      provisional: false,
      reviewDueOn: '2027-02-22',
      reviewTargetOn: '2027-02-13',
    },
    'published: 02-05…02-12 off → the target moves to the make-up Sat 02-13; the review date (02-22) stands',
  )
  t.equal(recomputeConfirmation(targeted, cal), null, 'the same calendar moves nothing')

  // The parties' objection window after service of the ruling (民诉法解释 372) moves once ruled.
  const ruled = (servedOn: string, objectionDueOn: string | undefined, status = 'ruled_valid'): Confirmation => {
    const c = review('2027-01-04', '2027-02-05', status)
    c.doc.ruling = { result: 'valid', rulingNumber: 'x', ruledOn: servedOn, servedOn, agreementSha256: 'x', recordedAt: `${servedOn}T02:00:00.000Z` }
    if (objectionDueOn !== undefined) c.doc.objectionDueOn = objectionDueOn
    return c
  }
  t.equal(cal.addDaysRolled('2027-01-25', 15).date, '2027-02-11', 'fallback: served 01-25 + 15 = 02-09 (补假) → 02-11')
  t.same(
    recomputeConfirmation(ruled('2027-01-25', '2027-02-11'), published),
    {
      before: { objectionDueOn: '2027-02-11' },
      after: { objectionDueOn: '2027-02-13' },
      provisional: false,
      reviewDueOn: '2027-02-05',
      objectionDueOn: '2027-02-13',
    },
    'published: the objection window ends on the make-up Sat 02-13',
  )
  t.equal(cal.addDaysRolled('2027-09-20', 15).date, '2027-10-06', 'fallback: served 09-20 + 15 = 10-05 (国庆 补假) → 10-06')
  t.same(
    recomputeConfirmation(ruled('2027-09-20', '2027-10-06', 'ruled_rejected'), published)?.after,
    { objectionDueOn: '2027-10-08' },
    'a rejected ruling too: published 10-01…10-07 off → 10-08',
  )
  t.equal(recomputeConfirmation(ruled('2027-09-20', '2027-10-06'), cal), null, 'the same calendar moves nothing')
  t.equal(recomputeConfirmation(ruled('2027-09-20', '2027-10-09'), published), null, 'a later stored date stands (never earlier)')
  t.equal(recomputeConfirmation(ruled('2027-01-25', undefined), published), null, 'a ruling kept without a window is left alone')
  t.equal(recomputeConfirmation(ruled('2027-01-25', '2027-02-11', 'withdrawn'), published), null, 'not a ruled state: nothing runs')
})
