import t, { type Test } from 'tap'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import {
  LegalCalendar,
  acceptanceDueOn,
  addCalendarDays,
  confirmationDeadline,
  daysBetween,
  endOfShanghaiDay,
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

/** Dates from 2024 to 2036, where the calendar has data of one kind or the other. */
const dateInRange = fc.integer({ min: 0, max: 13 * 365 }).map((n) => addCalendarDays('2024-01-01', n))

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

t.test('yearInfo: statutory fallback', async (t) => {
  t.same(cal.yearInfo(2027), {
    year: 2027,
    holidays: [
      '2027-01-01',
      '2027-02-05',
      '2027-02-06',
      '2027-02-07',
      '2027-02-08',
      '2027-04-05',
      '2027-05-01',
      '2027-05-02',
      '2027-06-09',
      '2027-09-15',
      '2027-10-01',
      '2027-10-02',
      '2027-10-03',
    ],
    workdays: [],
    provisional: true,
  })
  // 2031: 中秋 falls on 1 October, inside 国庆; the day is listed once.
  const y2031 = cal.yearInfo(2031)
  t.equal(y2031.holidays.length, 12)
  t.same(y2031.holidays.slice(0, 5), ['2031-01-01', '2031-01-22', '2031-01-23', '2031-01-24', '2031-01-25'])
  // Years with neither an arrangement nor lunar data: only the fixed-date holidays.
  for (const year of [2023, 2040]) {
    t.same(cal.yearInfo(year), {
      year,
      holidays: [`${year}-01-01`, `${year}-05-01`, `${year}-05-02`, `${year}-10-01`, `${year}-10-02`, `${year}-10-03`],
      workdays: [],
      provisional: true,
    })
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
    ['2027-02-09', true, 'Tuesday, 初四 (fallback)'],
    ['2027-04-05', false, '清明 (fallback)'],
    ['2027-05-03', true, 'Monday 3 May: no longer off without an arrangement'],
    ['2027-06-09', false, '端午 (fallback)'],
    ['2027-09-15', false, '中秋 (fallback)'],
    ['2027-10-04', true, 'Monday 4 October (fallback)'],
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
    ['2027-02-03', '2027-02-10', true, 'over the statutory Spring Festival'],
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
    ['2027-01-06', 30, '2027-02-09', true, 'lands on 除夕 2027'],
    ['2025-01-01', 30, '2025-02-05', false, 'Spring Festival 2025'],
    ['2026-03-02', 0, '2026-03-02', false, 'zero days'],
  ]
  for (const [start, n, due, provisional, why] of cases) {
    t.same(cal.addDaysRolled(start, n), { date: due, provisional }, `${start} + ${n} → ${due} (${why})`)
  }
  t.same(cal.rollForward('2026-02-15'), { date: '2026-02-24', provisional: false })
  t.same(cal.rollForward('2026-02-24'), { date: '2026-02-24', provisional: false })
  t.same(cal.rollForward('2026-12-26'), { date: '2026-12-28', provisional: false })
  t.same(cal.rollForward('2027-02-05'), { date: '2027-02-09', provisional: true })

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

t.test('resumedDueOn', async (t) => {
  const cases: Array<[DateString, DateString, DateString, DateString, boolean, string]> = [
    ['2026-03-20', '2026-03-02', '2026-03-12', '2026-03-30', false, '10 days later, a Monday'],
    ['2026-02-06', '2026-01-20', '2026-01-29', '2026-02-24', false, 'moved into Spring Festival, rolled'],
    ['2026-05-06', '2026-04-10', '2026-04-10', '2026-05-06', false, 'same-day resumption'],
    ['2026-02-12', '2026-01-30', '2026-02-01', '2026-02-14', false, 'lands on a make-up Saturday'],
    ['2026-12-24', '2026-12-01', '2026-12-10', '2027-01-04', true, 'moved into 2027'],
  ]
  for (const [due, suspended, resumed, expected, provisional, why] of cases) {
    t.same(resumedDueOn(cal, due, suspended, resumed), { date: expected, provisional }, why)
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
