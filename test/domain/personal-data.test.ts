import t from 'tap'
import { maskIdNumber, maskPhone, scanForPersonalData } from '../../src/domain/personal-data.js'

t.test('maskIdNumber keeps first 3 and last 4 code points', async (t) => {
  const cases: Array<[string, string]> = [
    ['110105194912310021', '110***********0021'],
    ['11010519491231002X', '110***********002X'],
    ['12345678', '123*5678'],
    ['1234567', '*******'],
    ['123', '***'],
    ['', ''],
  ]
  for (const [input, expected] of cases) {
    t.equal(maskIdNumber(input), expected, input)
  }
})

t.test('maskPhone keeps first 3 and last 4', async (t) => {
  t.equal(maskPhone('13812345678'), '138****5678')
  t.equal(maskPhone('010-12345678'), '010*****5678')
  t.equal(maskPhone('1234567'), '*******')
})

t.test('masking counts code points, never splitting surrogate pairs', async (t) => {
  const value = '𠀀𠀁𠀂abc𠀃𠀄𠀅𠀆'
  const masked = maskIdNumber(value)
  t.equal(masked, '𠀀𠀁𠀂***𠀃𠀄𠀅𠀆')
  t.equal(Array.from(masked).length, Array.from(value).length)
  t.equal(maskPhone('𠀀𠀁𠀂𠀃'), '****')
})

t.test('scanForPersonalData finds full ID numbers and mobiles', async (t) => {
  const text =
    '{"idNumber":"110105194912310021","phone":"13812345678","other":"11010519491231002X",' + '"masked":"110***********0021","maskedPhone":"138****5678"}'
  t.same(scanForPersonalData(text), ['110105194912310021', '13812345678', '11010519491231002X'])
})

t.test('scanForPersonalData ignores longer digit runs and masked values', async (t) => {
  t.same(scanForPersonalData('at 1614265330000 ms'), [], '13-digit timestamp is not a phone')
  t.same(scanForPersonalData('1101051949123100210'), [], '19 digits is not an ID number')
  t.same(scanForPersonalData('238123456789'), [], '12 digits is not a phone')
  t.same(scanForPersonalData('0138123456789'), [], 'embedded in a longer run')
  t.same(scanForPersonalData('110***********0021 138****5678'), [])
  t.same(scanForPersonalData(''), [])
})

t.test('scanForPersonalData finds values next to letters and punctuation', async (t) => {
  t.same(scanForPersonalData('tel:13812345678;'), ['13812345678'])
  t.same(scanForPersonalData('身份证110105194912310021号'), ['110105194912310021'])
  t.same(scanForPersonalData('a13812345678b 13900001111'), ['13812345678', '13900001111'])
})

t.test('decimal fractions in log lines are not phones', async (t) => {
  t.same(scanForPersonalData('{"responseTime":12.10987654321,"latencyMs":3.1380013800}'), [])
  t.same(scanForPersonalData('电话13800138000。'), ['13800138000'])
  t.same(scanForPersonalData('号码13800138000.'), ['13800138000'], 'a sentence-ending period does not hide a phone')
  t.same(scanForPersonalData('"reqId":"01a224ae-ee53-7ae3-9f99-a15704332219"'), [], 'digits inside a UUID')
  t.same(scanForPersonalData('"phone":"13800138000","idNumber":"11010519491231002X"'), ['13800138000', '11010519491231002X'])
})
