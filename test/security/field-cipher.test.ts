import { createCipheriv, randomBytes } from 'node:crypto'
import t from 'tap'
import {
  FieldCipher,
  FieldCipherError,
  formatDataKeys,
  generateThrowawayKeys,
  isEncryptedToken,
  normalizeForIndex,
  parseDataKeys,
  type DataKey,
  type FieldCipherErrorCode,
} from '../../src/security/field-cipher.js'

function key(id: string): DataKey {
  return { id, key: randomBytes(32) }
}

function decryptError(cipher: FieldCipher, token: string, context?: string): FieldCipherErrorCode | 'decrypted' | 'other' {
  try {
    cipher.decrypt(token, context)
    return 'decrypted'
  } catch (err) {
    return err instanceof FieldCipherError ? err.code : 'other'
  }
}

/** Flips one bit of the decoded payload and re-encodes it canonically. */
function tamper(token: string, byteIndex: number): string {
  const cut = token.lastIndexOf(':') + 1
  const raw = Buffer.from(token.slice(cut), 'base64')
  raw[byteIndex] ^= 0x01
  return token.slice(0, cut) + raw.toString('base64')
}

t.test('round trip', async (t) => {
  const cipher = new FieldCipher([key('k1')])
  const values = ['110105194912310021', '13812345678', '北京市朝阳区建国路88号', '欧阳·娜娜', '𠀀𠀁𪚥·𰻞', 'a\u0000b', '', 'x'.repeat(10_000)]
  for (const value of values) {
    const token = cipher.encrypt(value)
    t.match(token, /^enc:v1:k1:[A-Za-z0-9+/]+={0,2}$/)
    t.equal(cipher.decrypt(token), value, value.slice(0, 20))
  }
  const a = cipher.encrypt('same')
  const b = cipher.encrypt('same')
  t.not(a, b, 'random IV: equal plaintexts give different tokens')
  t.notMatch(cipher.encrypt('110105194912310021'), /110105/, 'no plaintext in the token')
})

t.test('context binds a token to its field', async (t) => {
  const cipher = new FieldCipher([key('k1')])
  const token = cipher.encrypt('110105194912310021', 'party.idNumber')
  t.equal(cipher.decrypt(token, 'party.idNumber'), '110105194912310021')
  t.equal(decryptError(cipher, token, 'party.phone'), 'authentication_failed')
  t.equal(decryptError(cipher, token), 'authentication_failed')
  t.equal(decryptError(cipher, cipher.encrypt('x'), 'party.idNumber'), 'authentication_failed')
})

t.test('tampering fails', async (t) => {
  const cipher = new FieldCipher([key('k1')])
  const token = cipher.encrypt('欧阳·娜娜 110105194912310021')
  const length = Buffer.from(token.slice(token.lastIndexOf(':') + 1), 'base64').length
  for (let i = 0; i < length; i++) {
    const code = decryptError(cipher, tamper(token, i))
    if (code !== 'authentication_failed') t.fail(`byte ${i}: ${code}`)
  }
  t.pass(`every one of ${length} bytes is protected (IV, ciphertext, tag)`)

  const other = new FieldCipher([key('k2'), key('k1')])
  t.equal(decryptError(other, token), 'authentication_failed', 'same id, different key material')

  const relabelled = new FieldCipher([key('k1'), { id: 'k9', key: Buffer.alloc(32) }])
  t.equal(decryptError(relabelled, token.replace('enc:v1:k1:', 'enc:v1:k9:')), 'authentication_failed', 'changing the key id in the token fails')

  const payload = token.slice(token.lastIndexOf(':') + 1)
  t.equal(decryptError(cipher, `enc:v1:k1:${payload.slice(0, 20)}`), 'malformed_token', 'truncated')
  // 61 payload bytes (12 IV + 33 text + 16 tag): the base64 ends in "==", and its last data character has
  // four unused bits. Flipping one of them decodes to the same bytes, but only canonical tokens are accepted.
  t.match(payload, /[^=]==$/)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const last = payload.length - 3
  const sibling = alphabet[alphabet.indexOf(payload[last]) ^ 1]
  const nonCanonical = payload.slice(0, last) + sibling + '=='
  t.ok(Buffer.from(nonCanonical, 'base64').equals(Buffer.from(payload, 'base64')), 'decodes to the same bytes')
  t.equal(decryptError(cipher, `enc:v1:k1:${nonCanonical}`), 'malformed_token', 'non-canonical base64')
  t.equal(decryptError(cipher, `enc:v1:k1:${payload.slice(0, -2)}`), 'malformed_token', 'unpadded')
  t.equal(decryptError(cipher, '110105194912310021'), 'malformed_token', 'plaintext')
  t.equal(decryptError(cipher, 'enc:v2:k1:AAAA'), 'malformed_token', 'unknown version')
  t.equal(decryptError(cipher, 'enc:v1:k1:'), 'malformed_token', 'empty payload')
  t.equal(decryptError(cipher, 'enc:v1:unknown:' + payload), 'unknown_key')
})

t.test('every refusal keeps its code, whatever else is wrong with the token', async (t) => {
  const cipher = new FieldCipher([key('k1')])
  // A token whose payload has a character the base64url alphabet spells differently.
  let token = cipher.encrypt('13812345678', 'phone')
  while (!/[+/]/.test(token.slice('enc:v1:k1:'.length))) token = cipher.encrypt('13812345678', 'phone')
  const payload = token.slice('enc:v1:k1:'.length)
  const urlSafe = payload.replace(/\+/g, '-').replace(/\//g, '_')
  // [token, code, whether isEncryptedToken calls it a token, why]
  const cases: Array<[string, FieldCipherErrorCode, boolean, string]> = [
    ['enc:v1:k1', 'malformed_token', false, 'no payload separator'],
    ['enc:v1:', 'malformed_token', false, 'prefix only'],
    [`ENC:v1:k1:${payload}`, 'malformed_token', false, 'the prefix is case-sensitive'],
    [`enc:v1:k1:${payload} `, 'malformed_token', false, 'trailing space'],
    [`enc:v1:k1:${payload.slice(0, 8)}\n${payload.slice(8)}`, 'malformed_token', false, 'a line break inside (Buffer.from would skip it)'],
    [`enc:v1:k1:${urlSafe}`, 'malformed_token', false, 'the base64url alphabet (Buffer.from would decode it)'],
    [`enc:v1:k1:${payload}===`, 'malformed_token', false, 'too much padding'],
    ['enc:v1:k1:AAAA', 'malformed_token', true, 'canonical, but shorter than IV and tag'],
    [`enc:v1:k1:${'A'.repeat(40)}`, 'authentication_failed', true, 'long enough and canonical, not ours'],
    [`enc:v1:k-9:${payload}`, 'unknown_key', true, 'a well-formed id that is not configured'],
    [`enc:v1:k-9:${payload}!`, 'malformed_token', false, 'an unknown id and a payload that is not base64: not a token'],
    [`enc:v1:k.9:${payload}`, 'malformed_token', false, 'an id no key can have'],
    [`enc:v1:${'k'.repeat(33)}:${payload}`, 'malformed_token', false, 'an id too long'],
    [`enc:v1::${payload}`, 'malformed_token', false, 'an empty id'],
  ]
  t.ok(Buffer.from(urlSafe, 'base64').equals(Buffer.from(payload, 'base64')), 'Buffer.from decodes base64url as well')
  for (const [input, code, isToken, why] of cases) {
    t.equal(decryptError(cipher, input, 'phone'), code, why)
    t.equal(isEncryptedToken(input), isToken, `isEncryptedToken: ${why}`)
  }
  t.equal(cipher.decrypt(token, 'phone'), '13812345678', 'the token itself still decrypts')
})

t.test('the AAD of each context, kept per key, binds as before', async (t) => {
  const k1 = key('k1')
  const k2 = key('k2')
  const cipher = new FieldCipher([k2, k1])
  const old = new FieldCipher([k1]).encrypt('110105194912310021', 'idNumber')
  // More contexts than a key keeps ready: each still decrypts with its own, and only with it.
  const contexts = Array.from({ length: 100 }, (_, i) => `field${i}`)
  const tokens = contexts.map((c) => cipher.encrypt(`value of ${c}`, c))
  for (let round = 0; round < 2; round++) {
    contexts.forEach((c, i) => {
      if (cipher.decrypt(tokens[i], c) !== `value of ${c}`) t.fail(`${c} did not decrypt`)
      if (decryptError(cipher, tokens[i], contexts[(i + 1) % contexts.length]) !== 'authentication_failed') t.fail(`${c} decrypted in another field`)
    })
  }
  t.pass('100 contexts, twice each')
  t.equal(cipher.decrypt(old, 'idNumber'), '110105194912310021', 'the second key has its own AADs')
  t.equal(decryptError(cipher, old, 'phone'), 'authentication_failed')
  t.equal(cipher.decrypt(cipher.encrypt('x'), ''), 'x', 'no context is the empty context, as it always was')
  t.equal(cipher.decrypt(cipher.encrypt('x', ''), undefined), 'x')
  // Tokens written before the key was loaded once (the format is unchanged): made here by hand, as the service did.
  const iv = randomBytes(12)
  const c = createCipheriv('aes-256-gcm', k1.key, iv, { authTagLength: 16 })
  c.setAAD(Buffer.from('enc:v1:\u0000k1\u0000address', 'utf8'))
  const body = Buffer.concat([c.update('北京市朝阳区建国路88号', 'utf8'), c.final()])
  const handMade = `enc:v1:k1:${Buffer.concat([iv, body, c.getAuthTag()]).toString('base64')}`
  t.equal(cipher.decrypt(handMade, 'address'), '北京市朝阳区建国路88号', 'a token made with the documented AAD decrypts')
  t.equal(new FieldCipher([k1]).decrypt(handMade, 'address'), '北京市朝阳区建国路88号')
})

t.test('IVs come from a pool: each one is used once, across refills and ciphers', async (t) => {
  const a = new FieldCipher([key('k1')])
  const b = new FieldCipher([key('k2')])
  const ivs = new Set<string>()
  const n = 2_500 // several refills of the 341-IV pool
  for (let i = 0; i < n; i++) {
    for (const cipher of [a, b]) {
      const token = cipher.encrypt('13812345678', 'phone')
      const raw = Buffer.from(token.slice(token.lastIndexOf(':') + 1), 'base64')
      if (raw.length !== 12 + 11 + 16) t.fail(`token ${i} is ${raw.length} bytes, not IV, ciphertext and tag`)
      ivs.add(raw.subarray(0, 12).toString('hex'))
      if (i % 97 === 0 && cipher.decrypt(token, 'phone') !== '13812345678') t.fail(`token ${i} did not decrypt`)
    }
  }
  t.equal(ivs.size, 2 * n, 'no IV repeats')
  // A token made before keeps decrypting after the pool has been refilled (its IV was copied out of it).
  const early = a.encrypt('北京市朝阳区建国路88号', 'address')
  for (let i = 0; i < 400; i++) a.encrypt('x')
  t.equal(a.decrypt(early, 'address'), '北京市朝阳区建国路88号')
})

t.test('key rotation: old key second in the list still decrypts', async (t) => {
  const k1 = key('k1')
  const k2 = key('k2')
  const before = new FieldCipher([k1])
  const token = before.encrypt('13812345678', 'party.phone')

  const after = new FieldCipher([k2, k1])
  t.equal(after.currentKeyId, 'k2')
  t.equal(after.decrypt(token, 'party.phone'), '13812345678')
  t.ok(after.needsRotation(token), 'old token needs rotation')
  t.notOk(before.needsRotation(token), 'current token does not')

  const rotated = after.encrypt(after.decrypt(token, 'party.phone'), 'party.phone')
  t.match(rotated, /^enc:v1:k2:/)
  t.notOk(after.needsRotation(rotated))

  const retired = new FieldCipher([k2])
  t.equal(decryptError(retired, token, 'party.phone'), 'unknown_key', 'a removed key cannot decrypt')
  t.equal(retired.decrypt(rotated, 'party.phone'), '13812345678')

  t.ok(after.needsRotation('13812345678'), 'plaintext needs (initial) encryption')
  t.ok(isEncryptedToken(token))
  t.notOk(isEncryptedToken('13812345678'))
})

t.test('blind index', async (t) => {
  const k1 = key('k1')
  const k2 = key('k2')
  const before = new FieldCipher([k1])
  const after = new FieldCipher([k2, k1])
  const id = '11010519491231002X'

  const index = before.blindIndex(id, 'party.idNumber')
  t.match(index, /^[0-9a-f]{64}$/)
  t.equal(after.blindIndex(id, 'party.idNumber'), index, 'stable across rotation (new key first)')
  t.equal(before.blindIndex(id, 'party.idNumber'), index, 'deterministic')
  t.not(before.blindIndex(id, 'party.phone'), index, 'different purpose, different hash')
  t.not(before.blindIndex('110105194912310021', 'party.idNumber'), index, 'different value, different hash')
  t.equal(before.blindIndex(' 11010519491231002x ', 'party.idNumber'), index, 'normalized before hashing')
  t.not(new FieldCipher([key('k1')]).blindIndex(id, 'party.idNumber'), index, 'different key material, different hash')

  const indexKey = randomBytes(32)
  const pinnedA = new FieldCipher([k1], { indexKey })
  const pinnedB = new FieldCipher([key('k3')], { indexKey })
  t.equal(pinnedA.blindIndex(id, 'p'), pinnedB.blindIndex(id, 'p'), 'explicit index key is independent of data keys')
  t.not(pinnedA.blindIndex(id, 'p'), before.blindIndex(id, 'p'))
  t.throws(() => new FieldCipher([k1], { indexKey: Buffer.alloc(16) }), /at least 32 bytes/)
})

t.test('normalizeForIndex', async (t) => {
  t.equal(normalizeForIndex(' 11010519491231002x\n'), '11010519491231002X')
  t.equal(normalizeForIndex('13812345678'), '13812345678')
})

t.test('parseDataKeys', async (t) => {
  const a = randomBytes(32)
  const b = randomBytes(32)
  const parsed = parseDataKeys(`k2:${b.toString('base64')}, k1:${a.toString('base64')}`)
  t.same(
    parsed.map((k) => k.id),
    ['k2', 'k1'],
  )
  t.ok(parsed[0].key.equals(b) && parsed[1].key.equals(a))
  t.equal(formatDataKeys(parsed), `k2:${b.toString('base64')},k1:${a.toString('base64')}`)
  t.same(parseDataKeys(formatDataKeys(parsed)), parsed, 'format/parse round trip')

  const good = a.toString('base64')
  const bad: Array<[string, RegExp]> = [
    ['', /DATA_KEYS is empty/],
    ['   ', /DATA_KEYS is empty/],
    [`k1:${good},`, /DATA_KEYS entry 2 is empty/],
    [good, /DATA_KEYS entry 1 has no key id/],
    [`:${good}`, /DATA_KEYS entry 1: key id/],
    [`${'k'.repeat(33)}:${good}`, /DATA_KEYS entry 1: key id/],
    [`key.1:${good}`, /DATA_KEYS entry 1: key id/],
    [`k1:${good},k1:${b.toString('base64')}`, /DATA_KEYS entry 2: key id "k1" appears twice/],
    ['k1:not-base64!', /DATA_KEYS entry 1 \(key id "k1"\): key is not base64/],
    [`k1:${randomBytes(16).toString('base64')}`, /DATA_KEYS .*32 bytes, got 16/],
    [`k1:${randomBytes(33).toString('base64')}`, /DATA_KEYS .*32 bytes, got 33/],
  ]
  for (const [input, message] of bad) {
    t.throws(() => parseDataKeys(input), message, JSON.stringify(input.slice(0, 40)))
  }
  try {
    parseDataKeys(`k1:${good},k1:${good}`)
  } catch (err) {
    t.notMatch((err as Error).message, good, 'error does not echo key material')
  }
})

t.test('constructor validation', async (t) => {
  t.throws(() => new FieldCipher([]), /at least one/)
  t.throws(() => new FieldCipher([{ id: 'k1', key: Buffer.alloc(16) }]), /32 bytes/)
  t.throws(() => new FieldCipher([key('k1'), key('k1')]), /twice/)
  t.throws(() => new FieldCipher([{ id: 'bad id', key: Buffer.alloc(32) }]), /key id/)
})

t.test('generateThrowawayKeys', async (t) => {
  const keys = generateThrowawayKeys()
  t.equal(keys.length, 1)
  t.match(keys[0].id, /^[A-Za-z0-9_-]{1,32}$/)
  t.equal(keys[0].key.length, 32)
  t.not(generateThrowawayKeys()[0].key.toString('hex'), keys[0].key.toString('hex'))
  const cipher = new FieldCipher(keys)
  t.equal(cipher.decrypt(cipher.encrypt('𠀀·测试')), '𠀀·测试')
  t.same(parseDataKeys(formatDataKeys(keys)), keys, 'usable as a DATA_KEYS value')
})
