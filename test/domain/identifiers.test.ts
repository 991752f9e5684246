import t, { type Test } from 'tap'
import fc from 'fast-check'
import {
  COURT_ABBREVIATIONS,
  EARLIEST_BIRTH_DATE,
  PROVINCES,
  RESIDENT_ID_PROVINCES,
  USCC_CHARSET,
  courtRegion,
  isValidCourtCode,
  isValidRegionCode,
  isValidRegionPrefix,
  isValidResidentId,
  isValidUscc,
  normalizeResidentId,
  parseCaseNumber,
  provinceCode,
  regionCovers,
  regionPrefix,
  regionsOnOneBranch,
  residentIdCheckChar,
  residentIdProblem,
  usccCheckChar,
} from '../../src/domain/identifiers.js'

const TODAY = '2026-06-15'

/** Runs a property and reports a counterexample through tap instead of throwing. */
function propertyHolds<Ts>(t: Test, property: fc.IRawProperty<Ts, false>, message = 'property holds'): void {
  const details = fc.check(property)
  t.equal(details.failed ? (fc.defaultReportMessage(details) ?? 'property failed') : null, null, message)
}

t.test('PROVINCES', async (t) => {
  t.equal(Object.keys(PROVINCES).length, 31)
  t.equal(PROVINCES.京, '11')
  t.equal(PROVINCES.内, '15')
  t.equal(PROVINCES.新, '65')
  t.equal(new Set(Object.values(PROVINCES)).size, 31, 'codes are distinct')
  t.equal(provinceCode('粤'), '44')
  t.equal(provinceCode('军'), undefined)
  t.equal(provinceCode('兵'), undefined)
  t.equal(provinceCode('constructor'), undefined)
  t.ok(COURT_ABBREVIATIONS.includes('军'))
  t.ok(COURT_ABBREVIATIONS.includes('兵'))
})

t.test('parseCaseNumber: valid samples', async (t) => {
  const cases: Array<[string, { year: number; court: string; special: boolean; type: string; seq: number; normalized: string }]> = [
    ['（2021）川0104民诉前调801号', { year: 2021, court: '川0104', special: false, type: '民诉前调', seq: 801, normalized: '（2021）川0104民诉前调801号' }],
    ['(2024)浙02民诉前调595号', { year: 2024, court: '浙02', special: false, type: '民诉前调', seq: 595, normalized: '（2024）浙02民诉前调595号' }],
    ['(2024)粤0604诉前调确1716号', { year: 2024, court: '粤0604', special: false, type: '诉前调确', seq: 1716, normalized: '（2024）粤0604诉前调确1716号' }],
    ['（2017）津0105民特2号', { year: 2017, court: '津0105', special: false, type: '民特', seq: 2, normalized: '（2017）津0105民特2号' }],
    ['(2021)最高法知民终2270号', { year: 2021, court: '最高法', special: true, type: '民终', seq: 2270, normalized: '（2021）最高法知民终2270号' }],
    ['（2016）京民初1号', { year: 2016, court: '京', special: false, type: '民初', seq: 1, normalized: '（2016）京民初1号' }],
    ['(2026)兵0101民初12345678号', { year: 2026, court: '兵0101', special: false, type: '民初', seq: 12345678, normalized: '（2026）兵0101民初12345678号' }],
  ]
  for (const [input, expected] of cases) {
    t.same(parseCaseNumber(input, { currentYear: 2026 }), expected, input)
  }
})

t.test('parseCaseNumber: invalid', async (t) => {
  const invalid = [
    '（2015）津高民申字第136号', // pre-2016 form
    '（2015）津0105民特2号', // before the 2016 rules
    '（2027）津0105民特2号', // a year that has not begun
    ' （2021）川0104民诉前调801号', // surrounding whitespace is not trimmed
    '（2021）川0104民诉前调801号 ',
    '（2021）川0104民诉前调801',
    '（2021）川0104民诉前调0号', // numbering starts at 1
    '（2021）川0104民诉前调01号',
    '（2021）川0104民诉前调123456789号', // at most 8 digits
    '（2021）川010民初1号', // 3 digits is no court
    '（2021）港01民初1号', // not an abbreviation
    '（2021）川0104号',
    '【2021】川0104民初1号',
    '（21）川0104民初1号',
    '',
    'not a case number',
  ]
  for (const input of invalid) t.equal(parseCaseNumber(input, { currentYear: 2026 }), null, JSON.stringify(input))
  t.equal(parseCaseNumber('（2015）津高民申字第136号', { currentYear: 2030 }), null, 'legacy form whatever the year')
  t.ok(parseCaseNumber('（2026）津0105民特2号', { currentYear: 2026 }), 'the current year is allowed')
})

t.test('parseCaseNumber: normalized form parses to itself', async (t) => {
  const court = fc.oneof(
    fc.constant('最高法'),
    fc.tuple(fc.constantFrom(...COURT_ABBREVIATIONS), fc.constantFrom('', '01', '0105', '73')).map(([a, d]) => a + d),
  )
  propertyHolds(
    t,
    fc.property(
      fc.integer({ min: 2016, max: 2026 }),
      court,
      fc.boolean(),
      fc.constantFrom('民初', '民诉前调', '诉前调确', '民特', '诉前调书', '民终'),
      fc.integer({ min: 1, max: 99_999_999 }),
      fc.boolean(),
      (year, c, special, type, seq, halfWidth) => {
        const [open, close] = halfWidth ? ['(', ')'] : ['（', '）']
        const input = `${open}${year}${close}${c}${special ? '知' : ''}${type}${seq}号`
        const parsed = parseCaseNumber(input, { currentYear: 2026 })
        if (!parsed) return false
        return (
          parsed.year === year &&
          parsed.court === c &&
          parsed.special === special &&
          parsed.type === type &&
          parsed.seq === seq &&
          parsed.normalized === `（${year}）${c}${special ? '知' : ''}${type}${seq}号` &&
          parseCaseNumber(parsed.normalized, { currentYear: 2026 })?.normalized === parsed.normalized
        )
      },
    ),
  )
})

t.test('isValidCourtCode', async (t) => {
  for (const ok of ['最高法', '京', '京01', '京0105', '粤07', '粤0703', '内', '军', '军01', '兵', '兵0101']) {
    t.ok(isValidCourtCode(ok), ok)
  }
  for (const bad of ['', '最高', '最高法01', '京1', '京010', '京01050', ' 京', '京 ', '港', '港01', 'BJ', '11', '京ab']) {
    t.notOk(isValidCourtCode(bad), JSON.stringify(bad))
  }
})

t.test('courtRegion', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['京0105', '110105'],
    ['粤07', '4407'],
    ['粤0703', '440703'],
    ['京', '11'],
    ['内', '15'],
    ['兵', '66'],
    ['兵01', '6601'],
    ['最高法', null],
    ['军', null],
    ['军01', null],
    ['京010', null],
    ['', null],
  ]
  for (const [code, region] of cases) t.equal(courtRegion(code), region, code)

  propertyHolds(
    t,
    fc.property(fc.constantFrom(...Object.keys(PROVINCES)), fc.stringMatching(/^\d{4}$/), (abbr, digits) => {
      const region = courtRegion(abbr + digits)
      return region !== null && isValidRegionCode(region) && regionCovers(courtRegion(abbr) ?? '', region)
    }),
  )
})

// ----- resident IDs

const SAMPLE_IDS = ['11010519491231002X', '440524196001010014']

/** A date between 1900-01-01 and TODAY, as YYYYMMDD. */
const birthDate = fc
  .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date(`${TODAY}T00:00:00Z`), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10).replaceAll('-', ''))

/** A province code of the contract's list followed by any four digits: address codes past the province are not checked. */
const addressCode = fc.tuple(fc.constantFrom(...RESIDENT_ID_PROVINCES), fc.stringMatching(/^\d{4}$/)).map(([p, rest]) => p + rest)

const validResidentId = fc.tuple(addressCode, birthDate, fc.stringMatching(/^\d{3}$/)).map(([address, birth, seq]) => {
  const first17 = address + birth + seq
  return first17 + residentIdCheckChar(first17)
})

const withCheck = (first17: string): string => first17 + residentIdCheckChar(first17)

t.test('resident ID: samples', async (t) => {
  for (const id of SAMPLE_IDS) t.ok(isValidResidentId(id, TODAY), id)
  t.ok(isValidResidentId('11010519491231002x', TODAY), 'lower-case x is accepted')
  t.equal(normalizeResidentId('11010519491231002x'), '11010519491231002X')
  t.equal(normalizeResidentId('440524196001010014'), '440524196001010014')
})

t.test('resident ID: the province codes of contract §2 (v1.1)', async (t) => {
  const expected = [
    ...['11', '12', '13', '14', '15', '21', '22', '23'],
    ...['31', '32', '33', '34', '35', '36', '37'],
    ...['41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54'],
    ...['61', '62', '63', '64', '65', '71', '81', '82', '83'],
  ]
  t.same([...RESIDENT_ID_PROVINCES].sort(), expected)
  for (let p = 0; p <= 99; p++) {
    const code = String(p).padStart(2, '0')
    const id = withCheck(`${code}010519800101002`)
    t.equal(residentIdProblem(id, TODAY), expected.includes(code) ? null : 'province', `province ${code}`)
  }
})

t.test('resident ID: invalid', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['110105491231002', 'format', '15-digit numbers are refused'],
    ['11010519491231002', 'format', '17 characters'],
    ['11010519491231002X0', 'format', '19 characters'],
    ['110105194912310021', 'checksum', 'wrong check character'],
    ['11010519491231002Y', 'format', 'not X'],
    [' 11010519491231002X', 'format', 'leading space'],
    [withCheck('11010519490230002'), 'birth_date', '30 February'],
    [withCheck('11010519491301002'), 'birth_date', 'month 13'],
    [withCheck('11010518991231002'), 'birth_date', 'born before 1900'],
    [withCheck('11010518000101002'), 'birth_date', 'born in 1800'],
    ['440524188001010014', 'birth_date', 'born in 1880 (the GB 11643 worked example)'],
    [withCheck('11010520260616002'), 'birth_date', 'born after today'],
    [withCheck('11010520270101002'), 'birth_date', 'born next year'],
    [withCheck('00000019800101002'), 'province', 'region 000000'],
    [withCheck('99000019800101002'), 'province', 'region 990000'],
    [withCheck('99999919800101002'), 'province', 'region 999999'],
    [withCheck('66000019800101002'), 'province', '66 is a court-region prefix (XPCC), not an ID province'],
    [withCheck('16010519800101002'), 'province', 'between the 1x provinces and 21'],
    ['１１０１０５１９４９１２３１００２Ｘ', 'format', 'full-width digits'],
  ]
  for (const [id, problem, why] of cases) {
    t.notOk(isValidResidentId(id, TODAY), why)
    t.equal(residentIdProblem(id, TODAY), problem, `${why}: ${problem}`)
  }
  t.equal(EARLIEST_BIRTH_DATE, '1900-01-01')
  t.ok(isValidResidentId(withCheck('11010520260615002'), TODAY), 'born today')
  t.ok(isValidResidentId(withCheck('11010519000101002'), TODAY), 'born 1900-01-01')
  t.ok(isValidResidentId(withCheck('11010520000229002'), TODAY), 'born on a leap day')
  t.ok(isValidResidentId(withCheck('11999919800101002'), TODAY), 'unknown address codes past the province are not refused')
  t.ok(isValidResidentId(withCheck('81000019940823002'), TODAY), 'Hong Kong residence permit')
  t.ok(isValidResidentId(withCheck('82000019940823002'), TODAY), 'Macao residence permit')
  t.ok(isValidResidentId(withCheck('83000019940823002'), TODAY), 'Taiwan residence permit')
  t.ok(isValidResidentId(withCheck('71000019940823002'), TODAY), '71 台湾')
})

t.test('resident ID: generated numbers are valid', async (t) => {
  propertyHolds(
    t,
    fc.property(validResidentId, (id) => isValidResidentId(id, TODAY)),
  )
})

t.test('resident ID: any single-character corruption is invalid', async (t) => {
  propertyHolds(
    t,
    fc.property(validResidentId, fc.nat(17), fc.integer({ min: 1, max: 10 }), (id, pos, shift) => {
      const alphabet = pos === 17 ? '0123456789X' : '0123456789'
      const current = alphabet.indexOf(id[pos])
      const replacement = alphabet[(current + shift) % alphabet.length]
      if (replacement === id[pos]) return true // a full turn of the 10-digit alphabet
      const corrupted = id.slice(0, pos) + replacement + id.slice(pos + 1)
      return !isValidResidentId(corrupted, TODAY)
    }),
  )
})

// ----- USCC

const usccChar = fc.constantFrom(...USCC_CHARSET)
const validUscc = fc
  .tuple(fc.array(usccChar, { minLength: 2, maxLength: 2 }), fc.stringMatching(/^\d{6}$/), fc.array(usccChar, { minLength: 9, maxLength: 9 }))
  .map(([head, division, org]) => {
    const first17 = head.join('') + division + org.join('')
    return first17 + usccCheckChar(first17)
  })

t.test('USCC: samples', async (t) => {
  t.ok(isValidUscc('91110105MA01B2C34Q'))
  t.notOk(isValidUscc('91110105MA01B2C34R'), 'wrong check character')
  t.notOk(isValidUscc('91110105ma01b2c34q'), 'lower case')
  t.notOk(isValidUscc('91350100M0001TGQXM'), 'an early pilot code that fails the checksum')
  t.notOk(isValidUscc('91110105MA01B2C34'), '17 characters')
  t.notOk(isValidUscc('91110105MA01B2C34QQ'), '19 characters')
  t.notOk(isValidUscc('9111010AMA01B2C34Q'), 'letter in the division code')
  for (const forbidden of ['I', 'O', 'S', 'V', 'Z']) {
    const first17 = `91110105MA01B2C3${forbidden}`
    t.notOk(isValidUscc(`${first17}0`), `contains ${forbidden}`)
  }
  t.equal(usccCheckChar('91110105MA01B2C34'), 'Q')
  t.throws(() => usccCheckChar('91110105MA01B2C3I'), RangeError)
})

t.test('USCC: generated codes are valid', async (t) => {
  propertyHolds(
    t,
    fc.property(validUscc, (code) => isValidUscc(code)),
  )
})

t.test('USCC: any single-character corruption is invalid', async (t) => {
  propertyHolds(
    t,
    fc.property(validUscc, fc.nat(17), fc.integer({ min: 1, max: 30 }), (code, pos, shift) => {
      const alphabet = pos >= 2 && pos <= 7 ? '0123456789' : USCC_CHARSET
      const current = alphabet.indexOf(code[pos])
      const replacement = alphabet[(current + shift) % alphabet.length]
      if (replacement === code[pos]) return true
      const corrupted = code.slice(0, pos) + replacement + code.slice(pos + 1)
      return !isValidUscc(corrupted)
    }),
  )
})

// ----- regions

t.test('isValidRegionCode / isValidRegionPrefix', async (t) => {
  for (const ok of ['110105', '440703', '650000', '660000', '710000', '810000', '820000', '540000']) {
    t.ok(isValidRegionCode(ok), ok)
  }
  for (const bad of ['', '11', '1101', '11010', '1101050', '000000', '190000', '830000', '99xxxx', ' 110105', '１１０１０５']) {
    t.notOk(isValidRegionCode(bad), JSON.stringify(bad))
  }
  for (const ok of ['11', '1101', '110105', '66', '82']) t.ok(isValidRegionPrefix(ok), ok)
  for (const bad of ['', '1', '110', '11010', '1101050', '00', '0000', '*', '1a']) {
    t.notOk(isValidRegionPrefix(bad), JSON.stringify(bad))
  }
})

t.test('regionPrefix', async (t) => {
  const cases: Array<[string, string]> = [
    ['110000', '11'],
    ['110100', '1101'],
    ['110105', '110105'],
    ['441900', '4419'],
    ['11', '11'],
    ['1101', '1101'],
  ]
  for (const [code, prefix] of cases) t.equal(regionPrefix(code), prefix, code)
})

t.test('regionCovers', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['*', '110105', true],
    ['*', '11', true],
    ['11', '110105', true],
    ['11', '120101', false],
    ['1101', '110105', true],
    ['1101', '110200', false],
    ['110000', '110105', true],
    ['110000', '110100', true],
    ['110000', '11', true],
    ['110000', '120000', false],
    ['110100', '110105', true],
    ['110100', '1101', true],
    ['110100', '110200', false],
    ['110100', '11', false],
    ['110105', '110105', true],
    ['110105', '110106', false],
    ['110105', '11', false],
    ['1101', '11', false],
    ['1101', '110000', false],
    ['11', '*', false],
    ['', '110105', false],
    ['1', '110105', false],
    ['11', 'garbage', false],
  ]
  for (const [covering, code, expected] of cases) t.equal(regionCovers(covering, code), expected, `${covering} covers ${code}: ${expected}`)

  t.ok(regionsOnOneBranch('110105', '11'))
  t.ok(regionsOnOneBranch('11', '110105'))
  t.ok(regionsOnOneBranch('110100', '110105'))
  t.notOk(regionsOnOneBranch('110105', '110106'))
  t.notOk(regionsOnOneBranch('1101', '1102'))
  t.ok(regionsOnOneBranch('*', '440703'))

  propertyHolds(
    t,
    fc.property(fc.constantFrom(...Object.values(PROVINCES)), fc.stringMatching(/^\d{4}$/), (pp, rest) => {
      const code = pp + rest
      return (
        regionCovers(code, code) &&
        regionCovers(pp, code) &&
        regionCovers(`${pp}0000`, code) &&
        regionCovers(`${code.slice(0, 4)}00`, code) &&
        code.startsWith(regionPrefix(code))
      )
    }),
  )
})
