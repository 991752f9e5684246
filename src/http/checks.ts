import { isValidDateString, shanghaiDate } from '../domain/calendar.js'
import {
  isValidCourtCode,
  isValidRegionCode,
  isValidRegionPrefix,
  isValidResidentId,
  isValidUscc,
  normalizeResidentId,
  parseCaseNumber,
} from '../domain/identifiers.js'
import type { SemanticCheck } from './validation.js'

const today = () => shanghaiDate(new Date())
const currentYear = () => Number(today().slice(0, 4))

const CASE_TYPES: Record<string, readonly string[]> = {
  pre_filing: ['民诉前调'],
  in_litigation: ['民初'],
}

const caseNumberError = (message: string) => ({ code: 'invalid_case_number', message })

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

  /** An ID number is checked by its idType: resident IDs (GB 11643) and USCCs (GB 32100) carry a checksum. */
  idNumber: (v, parent) => {
    if (typeof v !== 'string') return null
    switch (parent?.idType) {
      case 'resident_id':
        return isValidResidentId(normalizeResidentId(v), today())
          ? null
          : { code: 'invalid_id_number', message: '居民身份证号码校验失败（长度、出生日期或校验位）' }
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
    if (!parsed) return caseNumberError('案号格式不正确')
    if (typeof parent?.courtCode === 'string' && parsed.court !== parent.courtCode) return caseNumberError('案号中的法院代字与 courtCode 不一致')
    const allowed = CASE_TYPES[String(parent?.referralType)]
    if (allowed && !allowed.includes(parsed.type)) return caseNumberError(`案号类型代字须为 ${allowed.join(' 或 ')}`)
    return null
  },

  /** A new first-instance case number after failed pre-filing mediation (登记立案): type 民初. */
  filingCaseNumber: (v) => {
    if (typeof v !== 'string') return null
    const parsed = parseCaseNumber(v, { currentYear: currentYear() })
    if (!parsed) return caseNumberError('案号格式不正确')
    return parsed.type === '民初' ? null : caseNumberError('立案案号类型代字须为 民初')
  },

  /** A judicial-confirmation case number: 诉前调确 (from 2022) or 民特. */
  confirmationCaseNumber: (v) => {
    if (typeof v !== 'string') return null
    const parsed = parseCaseNumber(v, { currentYear: currentYear() })
    if (!parsed) return caseNumberError('案号格式不正确')
    return ['诉前调确', '民特'].includes(parsed.type) ? null : caseNumberError('司法确认案号类型代字须为 诉前调确 或 民特')
  },
}
