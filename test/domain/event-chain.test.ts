import { createHash } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { canonicalJson, chainHash, type EventEnvelope, GENESIS_HASH, verifyChain } from '../../src/domain/event-chain.js'

/**
 * The canonical form as first written (entries, filter, sort, join). Every stored chain was hashed with it, so the
 * faster form must produce the same bytes for every value, or stored chains would no longer verify.
 */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`
}

// JSON values plus what a view object may hold before serialisation: undefined properties, -0, non-ASCII and
// astral-plane keys (UTF-16 order differs from code-point order there), keys that look like numbers.
const key = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('10', '9', '__proto__x', 'é', '😀', '\uffff', 'a"b'))
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.jsonValue({ maxDepth: 0 }), fc.constant(undefined), fc.constant(-0), fc.double()),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 5 }), fc.dictionary(key, tie('node'), { maxKeys: 6 })),
})).node

t.test('canonicalJson writes the same bytes as the reference form', async (t) => {
  fc.assert(
    fc.property(value, (v) => canonicalJson(v) === reference(v)),
    { numRuns: 3000 },
  )
  fc.assert(
    fc.property(fc.jsonValue(), (v) => canonicalJson(v) === reference(v)),
    { numRuns: 2000 },
  )
  // Holes and undefined elements, as the reference writes them.
  // eslint-disable-next-line no-sparse-arrays
  t.equal(canonicalJson([1, , undefined, { b: undefined, a: [null] }]), reference([1, , undefined, { b: undefined, a: [null] }]))
  t.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 'é' }], c: undefined } }), '{"a":{"d":[2,{"y":"é","z":1}]},"b":1}')
})

t.test('a chain hashed with the reference form verifies', async (t) => {
  const envelope: EventEnvelope = {
    id: '0190b6a0-0000-7000-8000-000000000001',
    type: 'referral.created',
    occurredAt: '2026-11-02T01:02:03.004Z',
    sequence: 1,
    subject: { kind: 'referral', id: '0190b6a0-0000-7000-8000-0000000000aa' },
    caseVersion: 1,
    actor: { clientId: 'c1', role: 'court' },
    data: { referral: { status: 'referred', parties: [{ name: '张*', idNumber: '1101**********0011' }], note: undefined } },
  }
  const hash = chainHash(GENESIS_HASH, envelope)
  t.equal(hash, createHash('sha256').update(GENESIS_HASH).update(reference(envelope)).digest('hex'), 'the hash of the reference form')
  t.equal(
    canonicalJson(envelope),
    '{"actor":{"clientId":"c1","role":"court"},"caseVersion":1,"data":{"referral":{"parties":[{"idNumber":"1101**********0011","name":"张*"}],"status":"referred"}},"id":"0190b6a0-0000-7000-8000-000000000001","occurredAt":"2026-11-02T01:02:03.004Z","sequence":1,"subject":{"id":"0190b6a0-0000-7000-8000-0000000000aa","kind":"referral"},"type":"referral.created"}',
  )
  t.match(verifyChain([{ envelope, prevHash: GENESIS_HASH, hash }]), { valid: true, length: 1 })
  t.match(verifyChain([{ envelope: { ...envelope, sequence: 1, type: 'referral.accepted' }, prevHash: GENESIS_HASH, hash }]), { valid: false })
})
