import { isValidDateString, shanghaiDate } from '../domain/calendar.js'
import { timestampProblem } from '../domain/case-checks.js'
import {
  isValidCourtCode,
  isValidRegionCode,
  isValidRegionPrefix,
  isValidUscc,
  normalizeResidentId,
  parseCaseNumber,
  residentIdProblem,
  type ResidentIdProblem,
} from '../domain/identifiers.js'
import type { SemanticCheck } from './validation.js'

const today = () => shanghaiDate(new Date())
const currentYear = () => Number(today().slice(0, 4))

const CASE_TYPES: Record<string, readonly string[]> = {
  pre_filing: ['民诉前调'],
  in_litigation: ['民初'],
}

const caseNumberError = (message: string, messageEn: string) => ({ code: 'invalid_case_number' as const, message, messageEn })

const RESIDENT_ID_MESSAGES_EN: Record<ResidentIdProblem, string> = {
  format: 'a resident ID number has 18 characters (17 digits and a digit or X)',
  province: 'the first two digits of a resident ID number must be a real province code',
  birth_date: 'the birth date in the resident ID number is invalid (1900-01-01 to today)',
  checksum: 'the check character of the resident ID number does not match',
}

const RESIDENT_ID_MESSAGES: Record<ResidentIdProblem, string> = {
  format: '居民身份证号码须为 18 位（17 位数字加数字或 X）',
  province: '居民身份证号码的前两位须为有效的省级代码',
  birth_date: '居民身份证号码中的出生日期无效（须在 1900-01-01 至今日之间）',
  checksum: '居民身份证号码校验位不符',
}

/** The first and last calendar years the service keeps (GET/PUT /v1/calendar/{year}). */
export const CALENDAR_YEARS = { first: 2000, last: 2100 } as const

/**
 * Identifier checks run as part of schema validation (`x-check`), so a 400 names every bad identifier next to
 * every schema violation, each with its own code (contract §1).
 */
export const semanticChecks: Record<string, SemanticCheck> = {
  courtCode: (v) => (typeof v === 'string' && isValidCourtCode(v) ? null : { code: 'invalid_court_code', message: '法院代字格式不正确' }),

  regionCode: (v) =>
    typeof v === 'string' && isValidRegionCode(v) ? null : { code: 'invalid_region_code', message: '行政区划代码须为 6 位数字且省级代码有效' },

  regionPrefix: (v) =>
    typeof v === 'string' && isValidRegionPrefix(v) ? null : { code: 'invalid_region_code', message: '行政区划代码（前缀）须为 2、4 或 6 位数字' },

  regionScope: (v) =>
    v === '*' || (typeof v === 'string' && isValidRegionPrefix(v))
      ? null
      : { code: 'invalid_region_code', message: '区域范围须为 2、4、6 位行政区划代码前缀或 *' },

  uscc: (v) => (typeof v === 'string' && isValidUscc(v) ? null : { code: 'invalid_uscc', message: '统一社会信用代码校验失败' }),

  date: (v) => (typeof v === 'string' && isValidDateString(v) ? null : { code: 'invalid_date', message: '日期须为有效的 YYYY-MM-DD' }),

  /**
   * An instant a caller reports (consent, signatures, acceptance …), the same rule wherever one appears: readable,
   * not before 1900 (400 out_of_range), and not ahead of the clock by more than the skew (422 timestamp_in_future,
   * the business rule the case actions state too).
   */
  timestamp: (v) => {
    if (typeof v !== 'string') return null
    switch (timestampProblem(v, new Date())) {
      case 'unreadable':
        return { code: 'invalid_format', message: '时间无法解析（RFC 3339，含时区）' }
      case 'too_early':
        return { code: 'out_of_range', message: '时间不得早于 1900-01-01T00:00:00Z' }
      case 'future':
        return { code: 'timestamp_in_future', message: '时间不能晚于当前时间', status: 422 }
      default:
        return null
    }
  },

  /** A calendar year in a path: exactly four digits (no `1e3`, no `01999`), 2000–2100. */
  calendarYear: (v) => {
    // Anything but four digits is the schema's pattern to report.
    if (typeof v !== 'string' || !/^[0-9]{4}$/.test(v)) return null
    const year = Number(v)
    return year >= CALENDAR_YEARS.first && year <= CALENDAR_YEARS.last
      ? null
      : { code: 'out_of_range', message: `年份须在 ${CALENDAR_YEARS.first}–${CALENDAR_YEARS.last} 之间` }
  },

  /**
   * An ID number is checked by its idType: resident IDs (GB 11643: province code, birth date, check character) and
   * USCCs (GB 32100) carry a checksum. The schema requires idType wherever an idNumber is given (agents included),
   * so no number escapes its check.
   */
  idNumber: (v, parent) => {
    if (typeof v !== 'string') return null
    switch (parent?.idType) {
      case 'resident_id': {
        const problem = residentIdProblem(normalizeResidentId(v), today())
        return problem ? { code: 'invalid_id_number', message: RESIDENT_ID_MESSAGES[problem], messageEn: RESIDENT_ID_MESSAGES_EN[problem] } : null
      }
      case 'uscc':
        return isValidUscc(v) ? null : { code: 'invalid_uscc', message: '统一社会信用代码校验失败' }
      default:
        return /^[\x21-\x7e]{3,40}$/.test(v) ? null : { code: 'invalid_id_number', message: '证件号码格式不正确' }
    }
  },

  /** A referral's 案号: valid, its court part equal to courtCode, its type fitting the referral type. */
  referralCaseNumber: (v, parent) => {
    if (typeof v !== 'string') return null
    const parsed = parseCaseNumber(v, { currentYear: currentYear() })
    if (!parsed) return caseNumberError('案号格式不正确', 'malformed case number')
    if (typeof parent?.courtCode === 'string' && parsed.court !== parent.courtCode)
      return caseNumberError('案号中的法院代字与 courtCode 不一致', 'the court part of the case number differs from courtCode')
    const allowed = CASE_TYPES[String(parent?.referralType)]
    if (allowed && !allowed.includes(parsed.type))
      return caseNumberError(`案号类型代字须为 ${allowed.join(' 或 ')}`, `the case type must be ${allowed.join(' or ')}`)
    return null
  },

  /** A new first-instance case number after failed pre-filing mediation (登记立案): type 民初. */
  filingCaseNumber: (v) => {
    if (typeof v !== 'string') return null
    const parsed = parseCaseNumber(v, { currentYear: currentYear() })
    if (!parsed) return caseNumberError('案号格式不正确', 'malformed case number')
    return parsed.type === '民初' ? null : caseNumberError('立案案号类型代字须为 民初', 'the case type of a registered case must be 民初')
  },

  /** A judicial-confirmation case number: 诉前调确 (from 2022) or 民特. */
  confirmationCaseNumber: (v) => {
    if (typeof v !== 'string') return null
    const parsed = parseCaseNumber(v, { currentYear: currentYear() })
    if (!parsed) return caseNumberError('案号格式不正确', 'malformed case number')
    return ['诉前调确', '民特'].includes(parsed.type)
      ? null
      : caseNumberError('司法确认案号类型代字须为 诉前调确 或 民特', 'the case type of a judicial confirmation must be 诉前调确 or 民特')
  },
}
