/**
 * Validation and normalisation of the identifiers that cross the court ↔ mediation boundary:
 * 案号 (case numbers), 法院代字 (court codes), 居民身份证号码, 统一社会信用代码 and 行政区划代码.
 *
 * Everything here is pure: no I/O and no clock. Where "today" matters it is a parameter, so the
 * same input always gives the same answer and tests can pin the date.
 */

import { isValidDateString } from './calendar.js'

/**
 * Province abbreviation (as used in 法院代字) → the 2-digit province part of the 行政区划代码.
 *
 * Court codes are built from these abbreviations (法〔2015〕137号 art. 4–5), and the region a court
 * belongs to is derived from them, so this table is what links a court to the regional mediation
 * platforms that serve it. 军 (military courts) and 兵 (XPCC) are valid court abbreviations but
 * are not provinces; see {@link COURT_REGION_PREFIXES}.
 */
export const PROVINCES = {
  京: '11',
  津: '12',
  冀: '13',
  晋: '14',
  内: '15',
  辽: '21',
  吉: '22',
  黑: '23',
  沪: '31',
  苏: '32',
  浙: '33',
  皖: '34',
  闽: '35',
  赣: '36',
  鲁: '37',
  豫: '41',
  鄂: '42',
  湘: '43',
  粤: '44',
  桂: '45',
  琼: '46',
  渝: '50',
  川: '51',
  黔: '52',
  云: '53',
  藏: '54',
  陕: '61',
  甘: '62',
  青: '63',
  宁: '64',
  新: '65',
} as const satisfies Record<string, string>

/** A province abbreviation that is a key of {@link PROVINCES}. */
export type ProvinceAbbreviation = keyof typeof PROVINCES

/**
 * Every abbreviation that may open a court code: the provinces plus 军 (military courts) and
 * 兵 (新疆生产建设兵团 courts). Kept separate from {@link PROVINCES} because the last two have no
 * province of their own.
 */
export const COURT_ABBREVIATIONS: readonly string[] = [...Object.keys(PROVINCES), '军', '兵']

/**
 * Abbreviation → region prefix used when deriving a court's region. 兵 maps to 66, the prefix
 * commonly used for XPCC areas (it is not a GB/T 2260 province, but it lets a platform scoped to
 * `66` see XPCC courts). 军 has no region, so military courts fall outside every regional scope
 * except the national `*`.
 */
export const COURT_REGION_PREFIXES: Readonly<Record<string, string>> = { ...PROVINCES, 兵: '66' }

/**
 * 2-digit prefixes accepted at the start of a 行政区划代码: the 31 provinces, 66 (XPCC areas), and
 * 71 台湾, 81 香港, 82 澳门, which GB/T 2260 reserves even though no mediation organisation there
 * is on the mainland rosters.
 */
export const REGION_PROVINCE_PREFIXES: ReadonlySet<string> = new Set([...Object.values(PROVINCES), '66', '71', '81', '82'])

/** Own-property lookup, so that `constructor` or `__proto__` never look like abbreviations. */
function lookup(table: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined
}

/** The province code for an abbreviation (`粤` → `44`), or `undefined` for anything else. */
export function provinceCode(abbreviation: string): string | undefined {
  return lookup(PROVINCES, abbreviation)
}

// ---------------------------------------------------------------------------------------------
// 案号

/**
 * The 案号 grammar of 法〔2015〕137号 as amended by 法〔2018〕335号 (domain.md §5). It matched every
 * real sample collected and rejects pre-2016 forms such as （2015）津高民申字第136号, whose 字/第 the
 * type group refuses. Brackets may be half- or full-width; the output is always full-width.
 */
const CASE_NUMBER_RE =
  /^[（(](?<year>(?:19|20)\d{2})[）)](?<court>最高法|[京津冀晋内辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川黔云藏陕甘青宁新军兵](?:\d{4}|\d{2})?)(?<special>知)?(?<type>(?:(?![字第号])[\u4e00-\u9fa5]){1,5}?)(?<seq>[1-9]\d{0,7})号$/u

/** The first year of the current numbering rules (in force 2016-01-01). */
export const FIRST_CASE_NUMBER_YEAR = 2016

/** A case number split into its parts. */
export interface CaseNumber {
  /** 年度: the year the case was registered. */
  year: number
  /** 法院代字, e.g. `京0105`, `粤07`, `最高法`. */
  court: string
  /** Whether the 专门审判代字 `知` (intellectual-property tribunal) is present. */
  special: boolean
  /** 类型代字, e.g. `民诉前调`, `民初`, `诉前调确`, `民特`. */
  type: string
  /** 编号: the sequence number within court, year and type. */
  seq: number
  /** The official form, with full-width brackets: `（2024）浙02民诉前调595号`. */
  normalized: string
}

/**
 * Parses a 案号 under the 2016 rules.
 *
 * Returns `null` for anything else, including numbers from before 2016 (which the rules say to
 * keep as opaque strings rather than validate) and years after `opts.currentYear` (a case cannot
 * be numbered in a year that has not begun). Surrounding whitespace is not trimmed: a stored
 * number must compare equal to the court's own, so silent repair would hide client bugs.
 */
export function parseCaseNumber(input: string, opts: { currentYear: number }): CaseNumber | null {
  const m = CASE_NUMBER_RE.exec(input)
  if (!m?.groups) return null
  const { year: y, court, special, type, seq: s } = m.groups
  const year = Number(y)
  if (year < FIRST_CASE_NUMBER_YEAR || year > opts.currentYear) return null
  const seq = Number(s)
  const isSpecial = special !== undefined
  return {
    year,
    court,
    special: isSpecial,
    type,
    seq,
    normalized: `（${year}）${court}${isSpecial ? '知' : ''}${type}${seq}号`,
  }
}

// ---------------------------------------------------------------------------------------------
// 法院代字

const COURT_CODE_RE = /^(?:最高法|[京津冀晋内辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川黔云藏陕甘青宁新军兵](?:\d{2}|\d{4})?)$/u

/**
 * Whether `code` has the shape of a 法院代字: `最高法`, or an abbreviation alone (high court), with
 * 2 digits (intermediate court) or with 4 digits (basic court). The digits are not checked against
 * the SPC's court table, which this service does not hold; courts keep old codes after
 * reorganisations, so GB/T 2260 cannot stand in for it.
 */
export function isValidCourtCode(code: string): boolean {
  return COURT_CODE_RE.test(code)
}

/**
 * The region a court belongs to, used to match courts with regional mediation platforms
 * (contract §0): the abbreviation's province code followed by the code's digits.
 * `京0105` → `110105`, `粤07` → `4407`, `京` → `11`, `兵01` → `6601`.
 * `最高法` and military courts (`军…`) have no region and give `null`, as does an invalid code.
 */
export function courtRegion(courtCode: string): string | null {
  if (!isValidCourtCode(courtCode) || courtCode === '最高法') return null
  const abbreviation = courtCode.slice(0, 1)
  const prefix = lookup(COURT_REGION_PREFIXES, abbreviation)
  if (prefix === undefined) return null
  return prefix + courtCode.slice(1)
}

// ---------------------------------------------------------------------------------------------
// 居民身份证号码 (GB 11643-1999)

/** ISO 7064 MOD 11-2 weights, 2^(18−i) mod 11. */
const RESIDENT_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const
const RESIDENT_ID_CHECK = '10X98765432'

/**
 * Birth dates before this are refused (contract §1 v1.1 keeps every date of a party within 1900 … today). A number
 * with an earlier date (the GB 11643 worked example 440524188001010014 is born in 1880) belongs to nobody who can be
 * a party today.
 */
export const EARLIEST_BIRTH_DATE = '1900-01-01'

/**
 * The 2-digit province codes a resident ID may start with (contract §2 v1.1): the 31 mainland provinces (11–15,
 * 21–23, 31–37, 41–46, 50–54, 61–65), 71 台湾, 81 香港 and 82 澳门, and 83, which GB 11643 residence permits of
 * Taiwan residents use. The rest of the address code is not checked: see {@link isValidResidentId}.
 */
export const RESIDENT_ID_PROVINCES: ReadonlySet<string> = new Set([
  ...['11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37'],
  ...['41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65'],
  ...['71', '81', '82', '83'],
])

/**
 * Normalises a resident ID for storage and comparison: the check character `x` becomes `X`, as
 * GB 11643 prints it. Nothing else is changed.
 */
export function normalizeResidentId(s: string): string {
  return s.replace(/x$/, 'X')
}

/**
 * The check character for the first 17 digits of a resident ID. Exposed so that tests and
 * fixtures can build valid numbers instead of copying real people's.
 */
export function residentIdCheckChar(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new RangeError('expected 17 digits')
  let sum = 0
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * RESIDENT_ID_WEIGHTS[i]
  return RESIDENT_ID_CHECK[sum % 11]
}

/** Why a string is not a resident ID: its shape, its province code, its birth date or its check character. */
export type ResidentIdProblem = 'format' | 'province' | 'birth_date' | 'checksum'

/**
 * What is wrong with `s` as an 18-character 居民身份证号码, or null when nothing is (a lower-case `x` is accepted;
 * store the {@link normalizeResidentId} form):
 * - `format`: not 17 digits and a digit or `X` (15-digit pre-1999 numbers included: upgrading them is a separate,
 *   explicit step);
 * - `province`: the first two digits are not in {@link RESIDENT_ID_PROVINCES};
 * - `birth_date`: `YYYYMMDD` is not a real date between {@link EARLIEST_BIRTH_DATE} and `today` (YYYY-MM-DD,
 *   Asia/Shanghai);
 * - `checksum`: the ISO 7064 MOD 11-2 check character does not match.
 *
 * Beyond the province, the address code is not checked against any table: the number is lifelong, so people keep
 * codes of divisions that have since been abolished, and refusing them would lock them out.
 * Residence-permit numbers (81/82/83…) pass, as they use the same scheme.
 */
export function residentIdProblem(s: string, today: string): ResidentIdProblem | null {
  const id = normalizeResidentId(s)
  if (!/^\d{17}[\dX]$/.test(id)) return 'format'
  if (!RESIDENT_ID_PROVINCES.has(id.slice(0, 2))) return 'province'
  const birth = `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`
  if (!isValidDateString(birth) || birth < EARLIEST_BIRTH_DATE || birth > today) return 'birth_date'
  return residentIdCheckChar(id.slice(0, 17)) === id[17] ? null : 'checksum'
}

/** Whether `s` is a valid 居民身份证号码 as of `today`: {@link residentIdProblem} finds nothing. */
export function isValidResidentId(s: string, today: string): boolean {
  return residentIdProblem(s, today) === null
}

// ---------------------------------------------------------------------------------------------
// 统一社会信用代码 (GB 32100-2015)

/** The 31 characters of GB 32100 (no I, O, S, V, Z); a character's value is its index. */
export const USCC_CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY'
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const
const USCC_SHAPE_RE = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/

/**
 * The check character for the first 17 characters of a USCC. Exposed for the same reason as
 * {@link residentIdCheckChar}: fixtures can be generated rather than borrowed.
 */
export function usccCheckChar(first17: string): string {
  if (first17.length !== 17) throw new RangeError('expected 17 characters')
  let sum = 0
  for (let i = 0; i < 17; i++) {
    const value = USCC_CHARSET.indexOf(first17[i])
    if (value < 0) throw new RangeError(`character outside the GB 32100 set: ${first17[i]}`)
    sum += value * USCC_WEIGHTS[i]
  }
  return USCC_CHARSET[(31 - (sum % 31)) % 31]
}

/**
 * Whether `s` is a 统一社会信用代码: the GB 32100 shape (upper case only, as issued) and its check
 * character. A few early pilot codes fail the checksum although real; admitting them is an
 * allow-list decision for the caller, not something to weaken here.
 */
export function isValidUscc(s: string): boolean {
  if (!USCC_SHAPE_RE.test(s)) return false
  return usccCheckChar(s.slice(0, 17)) === s[17]
}

// ---------------------------------------------------------------------------------------------
// 行政区划代码 (GB/T 2260)

/**
 * Whether `s` is a 6-digit 行政区划代码 with a known province prefix. The rest is not checked
 * against the yearly MCA table: a code missing from it is a warning elsewhere, not an error,
 * because organisations and courts outlive boundary changes.
 */
export function isValidRegionCode(s: string): boolean {
  return /^\d{6}$/.test(s) && REGION_PROVINCE_PREFIXES.has(s.slice(0, 2))
}

/**
 * Whether `s` is usable as a region filter: a 2-digit province, a 4-digit prefecture prefix or a
 * full 6-digit code, with a known province prefix.
 */
export function isValidRegionPrefix(s: string): boolean {
  return /^(?:\d{2}|\d{4}|\d{6})$/.test(s) && REGION_PROVINCE_PREFIXES.has(s.slice(0, 2))
}

/**
 * The prefix a region code stands for: `PP0000` → `PP` (a province), `PPCC00` → `PPCC`
 * (a prefecture), anything else unchanged. Every code the region covers starts with it, which is
 * what a SQL `LIKE 'prefix%'` needs.
 */
export function regionPrefix(code: string): string {
  if (/^\d{2}0000$/.test(code)) return code.slice(0, 2)
  if (/^\d{4}00$/.test(code)) return code.slice(0, 4)
  return code
}

/**
 * Whether the region `covering` (a scope such as a platform's `regionCodes` entry, or a query
 * filter) includes `code` (contract §1 "Regions"). `*` covers everything; a 2- or 4-digit prefix
 * covers the codes that start with it; `PP0000` and `PPCC00` stand for their province and
 * prefecture; any other 6-digit code covers only itself. `code` may itself be a prefix:
 * `110000` covers `11`, but `110105` does not. Malformed values cover nothing.
 */
export function regionCovers(covering: string, code: string): boolean {
  if (covering === '*') return true
  if (!isValidRegionPrefix(covering) || !isValidRegionPrefix(code)) return false
  return code.startsWith(regionPrefix(covering))
}

/**
 * Whether two regions lie on one branch of the hierarchy, i.e. one covers the other. Used to
 * decide whether a regional platform and a court (or an organisation) can concern each other.
 */
export function regionsOnOneBranch(a: string, b: string): boolean {
  return regionCovers(a, b) || regionCovers(b, a)
}

/**
 * A 案号 as a search term (`?caseNumber=`): trimmed, and in the official form when it parses (half-width brackets
 * become full-width), exactly as creation stores it; anything else is searched as given.
 */
export function caseNumberSearchTerm(input: string, currentYear: number): string {
  const term = input.trim()
  return parseCaseNumber(term, { currentYear })?.normalized ?? term
}
