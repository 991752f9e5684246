import t from 'tap'
import { randomBytes } from 'node:crypto'
import { DecryptPool } from '../../src/security/decrypt-pool.js'
import { type DataKey, FieldCipher, generateThrowawayKeys } from '../../src/security/field-cipher.js'

// Decryption threads (security/decrypt-pool.ts): the same plaintexts as the process's own cipher, or undefined.

const CONTEXTS = ['idNumber', 'phone', 'address'] as const
const older = generateThrowawayKeys()
const current: DataKey[] = [{ id: 'k-current', key: randomBytes(32) }, ...older]

function sealed(count: number) {
  const byOld = new FieldCipher(older)
  const byCurrent = new FieldCipher(current)
  const plain: string[] = []
  const tokens: string[] = []
  const contexts: string[] = []
  for (let i = 0; i < count; i++) {
    const context = CONTEXTS[i % 3]!
    const value = context === 'address' ? `北京市朝阳区八里庄街道${i}号` : `${110105194912310000 + i}`
    // Half under the key that encrypts now, half under the older one still configured (a rotation under way).
    tokens.push((i % 2 ? byOld : byCurrent).encrypt(value, context))
    contexts.push(context)
    plain.push(value)
  }
  return { plain, tokens, contexts }
}

t.test('many fields in one request: the plaintexts in order, as the cipher of the process decrypts them', async (t) => {
  const errors: Error[] = []
  const pool = new DecryptPool(current, 2, (e) => errors.push(e))
  t.teardown(() => pool.close())
  const { plain, tokens, contexts } = sealed(500)
  const got = await pool.decrypt(tokens, contexts)
  t.same(got, plain)
  const cipher = new FieldCipher(current)
  t.same(
    got,
    tokens.map((tok, i) => cipher.decrypt(tok, contexts[i])),
    'equal to decrypting on this thread',
  )
  // Requests in flight together, over both threads, each answered with its own plaintexts.
  const pages = Array.from({ length: 12 }, (_, p) => sealed(20 + p))
  const answers = await Promise.all(pages.map((s) => pool.decrypt(s.tokens, s.contexts)))
  t.same(
    answers,
    pages.map((s) => s.plain),
    'concurrent requests: each its own answer',
  )
  t.same(errors, [], 'no thread failed')
})

t.test('a field that does not decrypt: undefined (the caller decrypts, and fails, on its own thread); the thread serves on', async (t) => {
  const errors: Error[] = []
  const pool = new DecryptPool(current, 1, (e) => errors.push(e))
  t.teardown(() => pool.close())
  const { plain, tokens, contexts } = sealed(40)
  const moved = [...contexts]
  moved[7] = moved[7] === 'phone' ? 'address' : 'phone'
  t.equal(await pool.decrypt(tokens, moved), undefined, 'a token moved to another field')
  const unknownKey = [...tokens]
  unknownKey[3] = unknownKey[3]!.replace(/^enc:v1:[^:]+:/, 'enc:v1:removed-key:')
  t.equal(await pool.decrypt(unknownKey, contexts), undefined, 'a key no longer configured')
  t.equal(await pool.decrypt([...tokens.slice(0, 5), 'not a token'], contexts.slice(0, 6)), undefined, 'not a token')
  t.same(await pool.decrypt(tokens, contexts), plain, 'the next request is answered')
  t.same(errors, [], 'a refused field is no thread failure')
})

t.test('no threads, a closed pool, mismatched lists: undefined', async (t) => {
  const { tokens, contexts } = sealed(10)
  const none = new DecryptPool(current, 0, () => undefined)
  t.equal(await none.decrypt(tokens, contexts), undefined, 'DECRYPT_THREADS=0')
  const pool = new DecryptPool(current, 1, () => undefined)
  t.equal(await pool.decrypt(tokens, contexts.slice(1)), undefined, 'a context missing')
  t.ok(await pool.decrypt(tokens, contexts), 'answers while open')
  await pool.close()
  t.equal(await pool.decrypt(tokens, contexts), undefined, 'closed')
})

t.test('a thread that cannot start: reported once, undefined meanwhile, no new thread for each request', async (t) => {
  const errors: Error[] = []
  // A key the thread's FieldCipher refuses: the thread throws while starting and exits.
  const pool = new DecryptPool([{ id: 'short', key: randomBytes(8) }], 1, (e) => errors.push(e))
  t.teardown(() => pool.close())
  const { tokens, contexts } = sealed(10)
  t.equal(await pool.decrypt(tokens, contexts), undefined, 'the request in flight is answered when the thread exits')
  const reported = errors.length
  t.ok(
    errors.some((e) => /exited/.test(e.message)),
    'the exit is reported',
  )
  t.equal(await pool.decrypt(tokens, contexts), undefined, 'within the restart delay: undefined at once')
  t.equal(errors.length, reported, 'no new thread was started, so nothing new to report')
})

t.test('an idle pool does not keep the process alive', async (t) => {
  // tap waits for this file's process to exit: a thread still referenced after this test would hold it until the
  // test times out. The pool is left open on purpose.
  const pool = new DecryptPool(current, 1, () => undefined)
  const { plain, tokens, contexts } = sealed(5)
  t.same(await pool.decrypt(tokens, contexts), plain)
})
