/**
 * The stored form of a case answer (src/http/idempotency.ts): `differingStrings` finds where the full and the masked
 * renderings differ, `withStringsFrom` puts one's strings into the other. Held, over random JSON trees, to the first
 * form of `withStringsFrom` (a JSON copy of the whole target, then the strings replaced), byte for byte once
 * serialized, and to leaving its target unchanged.
 */
import fc from 'fast-check'
import t from 'tap'
import type { JsonPath } from '../../src/db/idempotency-repository.js'
import { differingStrings, withStringsFrom } from '../../src/http/idempotency.js'

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function valueAt(v: unknown, path: JsonPath): unknown {
  let cur = v
  for (const k of path) {
    if (Array.isArray(cur) && typeof k === 'number') cur = cur[k]
    else if (isRecord(cur) && typeof k === 'string' && Object.hasOwn(cur, k)) cur = cur[k]
    else return undefined
  }
  return cur
}

/** The first form: a JSON copy of the whole target, then each string replaced. */
function byJsonCopy(target: unknown, paths: JsonPath[], source: unknown): unknown {
  const copy: unknown = JSON.parse(JSON.stringify(target))
  for (const path of paths) {
    const from = valueAt(source, path)
    const parent = valueAt(copy, path.slice(0, -1)) as Record<string | number, unknown>
    const last = path.at(-1)
    if (typeof from !== 'string' || last === undefined || typeof valueAt(copy, path) !== 'string') continue
    parent[last] = from
  }
  return copy
}

/** A JSON tree, and a second one of the same shape whose strings differ here and there (a masked rendering). */
const tree = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.boolean(), fc.constant(null), tie('arr'), tie('obj')),
  arr: fc.array(tie('node'), { maxLength: 4 }),
  obj: fc.dictionary(fc.constantFrom('a', 'b', 'idNumber', 'phone', '__proto__', 'x'), tie('node'), { maxKeys: 5 }),
})).obj

function masked(v: unknown, flip: () => boolean): unknown {
  if (typeof v === 'string') return flip() ? `${v.slice(0, 1)}***` : v
  if (Array.isArray(v)) return v.map((x) => masked(x, flip))
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, masked(x, flip)]))
  return v
}

t.test('withStringsFrom: as the JSON copy, byte for byte, and its target unchanged', async (t) => {
  fc.assert(
    fc.property(tree, fc.array(fc.boolean(), { minLength: 1, maxLength: 32 }), (full, bits) => {
      let i = 0
      const flip = () => bits[i++ % bits.length]!
      const mask = masked(full, flip)
      const before = JSON.stringify(full)
      const paths = differingStrings(full, mask)
      const got = withStringsFrom(full, paths, mask)
      if (JSON.stringify(got) !== JSON.stringify(byJsonCopy(full, paths, mask))) return false
      if (JSON.stringify(full) !== before) return false
      // And back: the masked form with the full strings again is the full rendering.
      return JSON.stringify(withStringsFrom(got, paths, full)) === before
    }),
    { numRuns: 500 },
  )
  t.pass('500 random trees')
})

t.test('paths that hold no string on either side are left as they are', async (t) => {
  const target = { a: { b: 'x' }, c: [1, 'y'] }
  const got = withStringsFrom(target, [['a', 'b'], ['c', 0], ['c', 1], ['z']], { a: { b: 'X' }, c: ['Q', 2] })
  t.same(got, { a: { b: 'X' }, c: [1, 'y'] })
  t.same(target, { a: { b: 'x' }, c: [1, 'y'] }, 'the target unchanged')
  t.equal(withStringsFrom(target, [], {}), target, 'no paths: the target itself, nothing copied')
})
