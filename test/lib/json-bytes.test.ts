import t from 'tap'
import fc from 'fast-check'
import { jsonBytes, jsonPieces, SPLIT_AT } from '../../src/json-bytes.js'

const pieces = (v: unknown): string[] => {
  const out: string[] = []
  jsonPieces(v, (s) => out.push(s))
  return out
}

t.test('the bytes are exactly JSON.stringify’s, for any JSON-like value', async (t) => {
  // Arrays long enough to be split, at the top and as a property, with values JSON.stringify treats specially.
  const odd = fc.constantFrom(undefined, () => 1, Symbol('s'), new Date(0), { toJSON: () => undefined }, { toJSON: () => ({ a: '甲' }) })
  const leaf = fc.oneof(fc.jsonValue(), fc.string({ unit: 'binary' }), odd)
  const long = fc.array(leaf, { minLength: SPLIT_AT, maxLength: SPLIT_AT + 40 })
  const value = fc.oneof(
    leaf,
    long,
    fc.dictionary(fc.string(), fc.oneof(leaf, long)),
    fc.record({ items: long, nextCursor: fc.option(fc.string()), skipped: odd }),
  )
  const details = fc.check(
    fc.property(value, (v) => {
      const expected = JSON.stringify(v) as string | undefined
      return pieces(v).join('') === (expected ?? '') && jsonBytes(v).equals(Buffer.from(expected ?? ''))
    }),
    { numRuns: 400 },
  )
  t.notOk(details.failed, details.counterexample ? `counterexample: ${String(details.counterexample[0])}` : 'holds')
})

t.test('large arrays come in element-sized pieces; small values in one', async (t) => {
  const view = { name: '张三', claimSummary: '请求被申请人停止漏水侵害并赔偿损失'.repeat(40) }
  const page = { items: Array.from({ length: 100 }, () => view), nextCursor: null }
  const p = pieces(page)
  t.ok(p.length > 200, `${p.length} pieces`)
  t.ok(Math.max(...p.map((s) => s.length)) < 2_000, 'no piece is longer than one element')
  t.ok(JSON.stringify(page).length > 64_000, 'the whole text would be a large two-byte string')
  t.same(pieces({ a: [1, 2, 3] }), ['{"a":[1,2,3]}'])
  t.same(pieces(Array.from({ length: SPLIT_AT - 1 }, () => 0)), [JSON.stringify(Array.from({ length: SPLIT_AT - 1 }, () => 0))])
  t.same(pieces(undefined), [])
})
