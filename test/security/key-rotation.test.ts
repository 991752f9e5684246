import t from 'tap'
import { rotateDocuments } from '../../src/db/key-rotation.js'
import { FieldCipher, generateThrowawayKeys } from '../../src/security/field-cipher.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness } from '../helpers/harness.js'

const oldKey = { id: 'k2025', key: generateThrowawayKeys()[0].key }
const h = await startHarness({ env: { DATA_KEYS: `${oldKey.id}:${oldKey.key.toString('base64')}` } })
t.teardown(() => h.close())
const w = await standardWorld(h)

t.test('rotation re-encrypts every stored value with the new key, while the old one still reads', async (t) => {
  const created: Array<{ id: string; parties: Array<{ idNumber: string }> }> = []
  for (let i = 0; i < 5; i++) created.push((await post(h, w.court.key, '/v1/referrals', referralBody())).json())
  const tokens = async () => (await h.deps.pool.query(`SELECT doc::text AS d FROM referrals`)).rows.map((r: { d: string }) => r.d).join('\n')
  t.match(await tokens(), /enc:v1:k2025:/)

  const newKey = { id: 'k2026', key: generateThrowawayKeys()[0].key }
  const rotating = new FieldCipher([newKey, oldKey])
  const n = await rotateDocuments(h.deps.db, rotating, { batch: 2 })
  t.ok(n >= 5 * 3, `re-encrypted ${n} values`)
  const after = await tokens()
  t.notMatch(after, /enc:v1:k2025:/, 'no value is left on the old key')
  t.match(after, /enc:v1:k2026:/)
  t.equal(await rotateDocuments(h.deps.db, rotating), 0, 'a second run has nothing to do')

  const onlyNew = new FieldCipher([newKey])
  const { rows } = await h.deps.pool.query(`SELECT doc FROM referrals WHERE id = $1`, [created[0].id])
  t.equal(onlyNew.decrypt(rows[0].doc.parties[0].idNumber.enc, 'idNumber'), created[0].parties[0].idNumber, 'the new key alone decrypts')
  t.equal(rows[0].doc.parties[0].idNumber.masked.length, 18, 'masked forms untouched')
  const dump = await h.deps.pool.query(`SELECT doc::text AS d FROM referrals`)
  t.notOk(
    dump.rows.some((r: { d: string }) => r.d.includes(created[0].parties[0].idNumber)),
    'plain values never stored',
  )
})
