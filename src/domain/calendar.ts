/**
 * The legal calendar: which days are working days under the State Council's yearly arrangement,
 * and the deadlines the mediation and confirmation procedures count on it.
 *
 * Pure: the constructor takes already-parsed data and no function reads the clock, so deadlines
 * are reproducible. Dates are `YYYY-MM-DD` strings in Asia/Shanghai and all arithmetic is done on
 * day numbers, never on local-time `Date`s, so the host's time zone cannot shift a deadline.
 */

import { type AppError, businessRule } from './errors.js'

/** A calendar date, `YYYY-MM-DD`, meant in Asia/Shanghai. */
export type DateString = string

/** One year's published arrangement: the days off (放假) and the make-up working days (调休上班). */
export interface YearArrangement {
  holidays: DateString[]
  workdays: DateString[]
}

/** The lunar-derived statutory holidays of one year, for years with no published arrangement. */
export interface LunarYear {
  /** 除夕, the first of the four statutory 春节 days. */
  chuxi: DateString
  /** 正月初一. */
  springFestival: DateString
  /** 清明 (the solar-term day). */
  qingming: DateString
  /** 端午 (五月初五). */
  duanwu: DateString
  /** 中秋 (八月十五). */
  zhongqiu: DateString
}

/** What a {@link LegalCalendar} is built from: the `years` objects of the two data files. */
export interface LegalCalendarData {
  /** Published arrangements by year (`data/holidays.json` `years`, plus operator updates). */
  arrangements: Readonly<Record<string, YearArrangement>>
  /** Lunar dates by year (`data/statutory-lunar.json` `years`). */
  lunar: Readonly<Record<string, LunarYear>>
}

/** The calendar of one year as served by `GET /v1/calendar/{year}`. */
export interface YearInfo {
  year: number
  /** Days off, sorted. Weekends are not listed unless they are part of a holiday block. */
  holidays: DateString[]
  /** Make-up working days falling on weekends, sorted. */
  workdays: DateString[]
  /** True when no arrangement is published and the statutory fallback is used. */
  provisional: boolean
}

/**
 * A computed date, with whether any year it depended on lacked a published arrangement. Such a
 * date may move once the State Council publishes the year (it typically adds days off and
 * make-up days around the statutory ones), so clients must be told.
 */
export interface DatedResult {
  date: DateString
  provisional: boolean
}

// ---------------------------------------------------------------------------------------------
// Day arithmetic

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/
const MS_PER_DAY = 86_400_000
/** Asia/Shanghai has been UTC+8 all year, with no daylight saving, since 1991. */
const SHANGHAI_OFFSET_MS = 8 * 3_600_000

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/** Whether `s` is a real date written `YYYY-MM-DD` (`2026-02-29` is not). */
export function isValidDateString(s: string): boolean {
  const m = DATE_RE.exec(s)
  if (!m) return false
  const month = Number(m[2])
  const day = Number(m[3])
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(Number(m[1]), month)
}

/**
 * Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's `days_from_civil`).
 * Used instead of `Date.UTC`, which treats years 0–99 as 1900–1999.
 */
function toDayNumber(d: DateString): number {
  const m = DATE_RE.exec(d)
  if (!m || !isValidDateString(d)) throw new RangeError(`not a YYYY-MM-DD date: ${d}`)
  const month = Number(m[2])
  const day = Number(m[3])
  const y = Number(m[1]) - (month <= 2 ? 1 : 0)
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const mp = (month + 9) % 12
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}

/** Inverse of {@link toDayNumber} (`civil_from_days`). */
function fromDayNumber(n: number): DateString {
  const z = n + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  if (year < 0 || year > 9999) throw new RangeError('date out of range')
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`
}

/** `d` plus `n` calendar days (`n` may be negative). */
export function addCalendarDays(d: DateString, n: number): DateString {
  if (!Number.isSafeInteger(n)) throw new RangeError('n must be an integer')
  return fromDayNumber(toDayNumber(d) + n)
}

/** Calendar days from `a` to `b`: positive when `b` is later, 0 for the same day. */
export function daysBetween(a: DateString, b: DateString): number {
  return toDayNumber(b) - toDayNumber(a)
}

/** 0 = Sunday … 6 = Saturday. 1970-01-01 was a Thursday. */
function dayOfWeek(d: DateString): number {
  return (((toDayNumber(d) + 4) % 7) + 7) % 7
}

/**
 * The Asia/Shanghai calendar date of an instant. Legal dates (the day a referral was made or an
 * agreement took effect) are Chinese dates whatever the server's zone.
 */
export function shanghaiDate(instant: Date): DateString {
  const ms = instant.getTime()
  if (!Number.isFinite(ms)) throw new RangeError('invalid Date')
  return fromDayNumber(Math.floor((ms + SHANGHAI_OFFSET_MS) / MS_PER_DAY))
}

/** The instant a date begins in Asia/Shanghai (00:00 +08:00). */
export function startOfShanghaiDay(d: DateString): Date {
  return new Date(toDayNumber(d) * MS_PER_DAY - SHANGHAI_OFFSET_MS)
}

/**
 * The instant a date ends in Asia/Shanghai, i.e. when the next day begins (00:00 +08:00). A period
 * runs to the end of its last day, so this is when a timer due "on" `d` fires.
 */
export function endOfShanghaiDay(d: DateString): Date {
  return new Date((toDayNumber(d) + 1) * MS_PER_DAY - SHANGHAI_OFFSET_MS)
}

function yearOf(d: DateString): number {
  return Number(d.slice(0, 4))
}

// ---------------------------------------------------------------------------------------------
// Arrangements

/**
 * The problems with an arrangement submitted for `year` (an empty list means it is acceptable):
 * malformed or non-existent dates, dates outside `year`, and a date listed both as a day off and
 * as a make-up working day. Dates of adjacent years (e.g. a 元旦 block starting on 30 December)
 * belong in that year's arrangement, so that each year stands on its own.
 */
export function validateArrangement(year: number, arr: YearArrangement): string[] {
  const problems: string[] = []
  if (!Number.isInteger(year) || year < 1 || year > 9999) problems.push(`year ${year} is not a valid year`)
  const check = (list: readonly string[], name: 'holidays' | 'workdays'): Set<string> => {
    const seen = new Set<string>()
    list.forEach((d, i) => {
      if (!isValidDateString(d)) {
        problems.push(`${name}[${i}]: ${JSON.stringify(d)} is not a YYYY-MM-DD date`)
        return
      }
      if (yearOf(d) !== year) problems.push(`${name}[${i}]: ${d} is not in ${year}`)
      if (seen.has(d)) problems.push(`${name}[${i}]: ${d} is listed twice`)
      seen.add(d)
    })
    return seen
  }
  const holidays = check(arr.holidays, 'holidays')
  const workdays = check(arr.workdays, 'workdays')
  for (const d of [...workdays].sort()) {
    if (holidays.has(d)) problems.push(`${d} is both a holiday and a make-up working day`)
  }
  return problems
}

/**
 * The statutory holidays of 《全国年节及纪念日放假办法》 (2024 revision) in `year`, each as its run of days: 元旦, 春节
 * from 除夕 (4 days), 清明, 劳动节 1–2 May, 端午, 中秋, 国庆 1–3 October; in the order they begin.
 */
function statutoryRuns(year: number, lunar: LunarYear): DateString[][] {
  const y = String(year).padStart(4, '0')
  const runs: DateString[][] = [
    [`${y}-01-01`],
    [0, 1, 2, 3].map((i) => addCalendarDays(lunar.chuxi, i)),
    [lunar.qingming],
    [`${y}-05-01`, `${y}-05-02`],
    [lunar.duanwu],
    [lunar.zhongqiu],
    [`${y}-10-01`, `${y}-10-02`, `${y}-10-03`],
  ]
  return runs.sort((a, b) => daysBetween(b[0] as DateString, a[0] as DateString))
}

const isWeekend = (d: DateString): boolean => dayOfWeek(d) === 0 || dayOfWeek(d) === 6

/**
 * The days off of a year with no published arrangement: the statutory days, plus 补假 (art. 6 of the 办法: 全体公民放假
 * 的假日，如果适逢周六、周日，应当在工作日补假). Each statutory day on a Saturday or Sunday adds one day off on the first
 * working day after its holiday's run that is not already a day off (2027: 春节 02-05…02-08 holds Sat 02-06 and
 * Sun 02-07 → 02-09 and 02-10 off too). A day two holidays share counts once. No make-up working days.
 */
function statutoryHolidays(year: number, lunar: LunarYear): DateString[] {
  const runs = statutoryRuns(year, lunar)
  const off = new Set<DateString>(runs.flat())
  const counted = new Set<DateString>()
  for (const run of runs) {
    let owed = 0
    for (const d of run) {
      if (isWeekend(d) && !counted.has(d)) {
        counted.add(d)
        owed++
      }
    }
    let d = run[run.length - 1] as DateString
    for (; owed > 0; owed--) {
      do d = addCalendarDays(d, 1)
      while (isWeekend(d) || off.has(d))
      off.add(d)
    }
  }
  return [...off].filter((d) => yearOf(d) === year).sort()
}

/**
 * 422 `calendar_unavailable`: a deadline would need the days off of a year that has neither a published
 * arrangement nor statutory lunar data, and the service does not guess them.
 */
export function calendarUnavailable(year: number): AppError {
  return businessRule(
    'calendar_unavailable',
    `${year} 年尚无国务院放假安排，且不在法定节假日农历数据范围内，无法计算期限；请运维先录入该年放假安排（PUT /v1/calendar/${year}）`,
    { year },
    `${year} has no published arrangement and lies outside the lunar data for the statutory holidays, so no deadline can be computed; an operator must publish the year first (PUT /v1/calendar/${year})`,
  )
}

interface YearTable {
  info: YearInfo
  holidays: ReadonlySet<DateString>
  workdays: ReadonlySet<DateString>
  /** Neither an arrangement nor lunar data: no day of the year can be judged. */
  unavailable: boolean
}

/**
 * Working days and rest days under the State Council's arrangements, with the statutory fallback
 * for years not yet published. Immutable: a new arrangement gives a new calendar
 * ({@link LegalCalendar.withArrangement}), so a deadline computation never sees a half-updated year.
 */
export class LegalCalendar {
  private readonly arrangements: Readonly<Record<string, YearArrangement>>
  private readonly lunar: Readonly<Record<string, LunarYear>>
  private readonly cache = new Map<number, YearTable>()

  constructor(data: LegalCalendarData) {
    this.arrangements = { ...data.arrangements }
    this.lunar = { ...data.lunar }
  }

  /** A copy of this calendar with `arr` as the published arrangement of `year`. */
  withArrangement(year: number, arr: YearArrangement): LegalCalendar {
    return new LegalCalendar({
      arrangements: { ...this.arrangements, [String(year)]: { holidays: [...arr.holidays], workdays: [...arr.workdays] } },
      lunar: this.lunar,
    })
  }

  /** The years with a published arrangement, ascending. */
  publishedYears(): number[] {
    return Object.keys(this.arrangements)
      .map(Number)
      .sort((a, b) => a - b)
  }

  private table(year: number): YearTable {
    const cached = this.cache.get(year)
    if (cached) return cached
    const key = String(year)
    const published = Object.hasOwn(this.arrangements, key) ? this.arrangements[key] : undefined
    const lunar = Object.hasOwn(this.lunar, key) ? this.lunar[key] : undefined
    const holidays = published ? [...new Set(published.holidays)].sort() : lunar ? statutoryHolidays(year, lunar) : []
    const workdays = published ? [...new Set(published.workdays)].sort() : []
    const table: YearTable = {
      info: { year, holidays, workdays, provisional: !published },
      holidays: new Set(holidays),
      workdays: new Set(workdays),
      unavailable: !published && !lunar,
    }
    this.cache.set(year, table)
    return table
  }

  /**
   * The days off and make-up working days of `year`, and whether they are only provisional. A year with neither an
   * arrangement nor lunar data throws 422 `calendar_unavailable`.
   */
  yearInfo(year: number): YearInfo {
    if (!Number.isInteger(year) || year < 1 || year > 9999) throw new RangeError(`invalid year: ${year}`)
    const { info, unavailable } = this.table(year)
    if (unavailable) throw calendarUnavailable(year)
    return { ...info, holidays: [...info.holidays], workdays: [...info.workdays] }
  }

  /** Whether `year` has no published arrangement, so its days come from the statutory fallback. */
  isProvisional(year: number): boolean {
    return this.table(year).info.provisional
  }

  /**
   * A make-up working day, or a Monday–Friday that is not a day off. Throws 422 `calendar_unavailable` for a day of a
   * year with neither an arrangement nor lunar data (e.g. after the last year of `data/statutory-lunar.json`), so no
   * deadline is ever computed on a guess.
   */
  isWorkingDay(d: DateString): boolean {
    const dow = dayOfWeek(d)
    const t = this.table(yearOf(d))
    if (t.unavailable) throw calendarUnavailable(yearOf(d))
    if (t.workdays.has(d)) return true
    return dow !== 0 && dow !== 6 && !t.holidays.has(d)
  }

  /** A 法定休假日 in the sense of 民诉法 art. 85: a day off, or a weekend day not worked. */
  isRestDay(d: DateString): boolean {
    return !this.isWorkingDay(d)
  }

  /**
   * The `n`-th working day after `start` (`start` itself is not counted, whatever it is), for
   * periods fixed in working days such as acceptance within 3 working days (在线调解规则 art. 12).
   * `n` = 0 gives `start` unchanged.
   */
  addWorkingDays(start: DateString, n: number): DatedResult {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('n must be a non-negative integer')
    let date = start
    let provisional = false
    for (let left = n; left > 0;) {
      date = addCalendarDays(date, 1)
      provisional ||= this.isProvisional(yearOf(date))
      if (this.isWorkingDay(date)) left--
    }
    return { date, provisional }
  }

  /**
   * A period of `n` calendar days counted per 民诉法 art. 85: the start day is not counted, and a
   * last day that is a rest day moves to the next working day.
   */
  addDaysRolled(start: DateString, n: number): DatedResult {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('n must be a non-negative integer')
    return this.rollForward(addCalendarDays(start, n))
  }

  /** `d` if it is a working day, else the next working day. */
  rollForward(d: DateString): DatedResult {
    let date = d
    let provisional = this.isProvisional(yearOf(date))
    while (this.isRestDay(date)) {
      date = addCalendarDays(date, 1)
      provisional ||= this.isProvisional(yearOf(date))
    }
    return { date, provisional }
  }
}

// ---------------------------------------------------------------------------------------------
// Deadlines

export type ReferralType = 'pre_filing' | 'in_litigation'
export type Procedure = 'ordinary' | 'summary'

/**
 * The day by which the designated organisation must accept or decline: the 3rd working day after
 * the referral date (在线调解规则 art. 12). The timer fires at {@link endOfShanghaiDay} of it.
 */
export function acceptanceDueOn(cal: LegalCalendar, referralDate: DateString): DatedResult {
  return cal.addWorkingDays(referralDate, 3)
}

/**
 * The mediation period in days (在线调解规则 art. 24): 30 before filing; after filing 15 under the
 * ordinary procedure and 7 under the summary one. An in-litigation referral without a procedure
 * is a caller error, not something to guess.
 */
export function mediationPeriodDays(referralType: ReferralType, procedure?: Procedure): number {
  if (referralType === 'pre_filing') return 30
  if (procedure === 'ordinary') return 15
  if (procedure === 'summary') return 7
  throw new RangeError('an in_litigation referral needs a procedure')
}

/** When mediation must end: the acceptance date plus the period, counted per art. 85. */
export function mediationDueOn(cal: LegalCalendar, acceptanceDate: DateString, referralType: ReferralType, procedure?: Procedure): DatedResult {
  return cal.addDaysRolled(acceptanceDate, mediationPeriodDays(referralType, procedure))
}

/**
 * The unrolled mediation due date: the acceptance date plus the period in calendar days (30/15/7), before any
 * roll-forward. The service keeps it beside the shown date, because a suspension's days are added to it, never to
 * a date already rolled past a holiday (contract §2 `resumption`).
 */
export function unrolledMediationDueOn(acceptanceDate: DateString, referralType: ReferralType, procedure?: Procedure): DateString {
  return addCalendarDays(acceptanceDate, mediationPeriodDays(referralType, procedure))
}

/**
 * The mediation due date after a suspension (e.g. for 鉴定评估, whose time is excluded by 在线调解规则 art. 26):
 * the calendar days from suspension to resumption (0 when both fall on the same day) are added to the **unrolled**
 * due date, and the result is rolled forward if it lands on a rest day (民诉法 art. 85). Adding them to the shown
 * date instead would count a holiday twice (accepted 2026-01-16: unrolled 02-15, shown 02-24; suspended 02-02,
 * resumed 02-04 → unrolled 02-17 → 02-24, not 02-26). Returns the new unrolled date with the shown one.
 */
export function resumedDueOn(
  cal: LegalCalendar,
  unrolledDueOn: DateString,
  suspendedOn: DateString,
  resumedOn: DateString,
): DatedResult & { unrolled: DateString } {
  const paused = daysBetween(suspendedOn, resumedOn)
  if (paused < 0) throw new RangeError('resumedOn is before suspendedOn')
  const unrolled = addCalendarDays(unrolledDueOn, paused)
  return { ...cal.rollForward(unrolled), unrolled }
}

/**
 * The last day to apply for judicial confirmation: 30 days after the agreement took effect
 * (民诉法 art. 205), counted per art. 85.
 */
export function confirmationDeadline(cal: LegalCalendar, effectiveDate: DateString): DatedResult {
  return cal.addDaysRolled(effectiveDate, 30)
}

/** When the court must rule on a confirmation application: 30 days after 立案 (民诉法 art. 187). */
export function reviewDueOn(cal: LegalCalendar, acceptedOn: DateString): DatedResult {
  return cal.addDaysRolled(acceptedOn, 30)
}
