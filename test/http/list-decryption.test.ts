import t from 'tap'
import { sql } from 'kysely'
import { sealedFields, type StoredParty } from '../../src/domain/referral.js'
import { pageDecrypt } from '../../src/http/case-routes.js'
import type { DecryptPool } from '../../src/security/decrypt-pool.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness } from '../helpers/harness.js'

// A list page's full views have their personal data decrypted on the decryption threads (http/case-routes.ts
// pageDecrypt): the same answer, byte for byte, as decrypting on the event loop, and the same failure.

const h = await startHarness()
t.teardown(() => h.close())
const w = await standardWorld(h)

const COUNT = 12 // 4 sealed fields each (referralBody): 48 fields, above the pooled threshold
const batch = await post(h, w.court.key, '/v1/referrals/batch', {
  items: Array.from({ length: COUNT }, (_, i) => ({ idempotencyKey: `pooled-${i}-${Date.now()}`, referral: referralBody() })),
})
if (batch.statusCode !== 200) throw new Error(`batch: ${batch.statusCode} ${batch.body}`)
const ids = (batch.json() as { items: Array<{ referral: { id: string } }> }).items.map((i) => i.referral.id)

const pool = h.deps.decryptPool as DecryptPool
// What the real pool was asked and whether it answered (it still does all the work).
const asked: Array<{ fields: number; answered: boolean }> = []
const real = pool.decrypt.bind(pool)
pool.decrypt = async (tokens, contexts) => {
  const plain = await real(tokens, contexts)
  asked.push({ fields: tokens.length, answered: plain !== undefined })
  return plain
}

async function withoutPool<T>(fn: () => Promise<T>): Promise<T> {
  h.deps.decryptPool = undefined
  try {
    return await fn()
  } finally {
    h.deps.decryptPool = pool
  }
}

const list = (key: string, limit = COUNT) => h.call(key, { method: 'GET', url: `/v1/referrals?limit=${limit}` })

t.test('a page of full views: decrypted by the pool in one request, the same bytes as on the event loop', async (t) => {
  asked.length = 0
  const pooled = await list(w.court.key)
  t.equal(pooled.statusCode, 200)
  t.same(asked, [{ fields: COUNT * 4, answered: true }], 'one request for the whole page, answered')
  const page = pooled.json() as { items: Array<{ parties: Array<{ idNumber: string; phone?: string; address?: string }> }> }
  t.equal(page.items.length, COUNT)
  t.match(page.items[0]!.parties[0], { idNumber: /^\d{17}[\dX]$/, phone: '13800138000', address: '北京市朝阳区八里庄街道1号' }, 'full views')
  const inline = await withoutPool(() => list(w.court.key))
  t.equal(pooled.body, inline.body, 'byte for byte')
})

t.test('short pages and masked views do not ask the pool', async (t) => {
  asked.length = 0
  const short = await list(w.court.key, 3)
  t.equal(short.statusCode, 200)
  t.equal(short.json().items.length, 3)
  const masked = await list(h.operatorKey)
  t.equal(masked.statusCode, 200)
  t.match(masked.json().items[0].parties[0].idNumber, /\*/, 'the operator sees masked views')
  t.same(asked, [], 'nothing asked')
})

t.test('a field that does not decrypt: the same failure with the pool as without', async (t) => {
  // The first referral's phone token moved into its address: bound to another field, it fails authentication.
  const original = await sql<{ enc: string }>`SELECT doc #>> '{parties,0,address,enc}' AS enc FROM referrals WHERE id = ${ids[0]}`.execute(h.deps.db)
  await sql`UPDATE referrals SET doc = jsonb_set(doc, '{parties,0,address,enc}', doc #> '{parties,0,phone,enc}') WHERE id = ${ids[0]}`.execute(h.deps.db)
  t.teardown(() =>
    sql`UPDATE referrals SET doc = jsonb_set(doc, '{parties,0,address,enc}', to_jsonb(${original.rows[0]!.enc}::text)) WHERE id = ${ids[0]}`.execute(h.deps.db),
  )
  asked.length = 0
  const pooled = await list(w.court.key)
  t.same(asked, [{ fields: COUNT * 4, answered: false }], 'the pool declined the page')
  const inline = await withoutPool(() => list(w.court.key))
  t.equal(pooled.statusCode, inline.statusCode, 'the same status')
  t.equal(pooled.json().code, inline.json().code, 'the same code')
  t.equal(pooled.statusCode, 500)
  const other = await h.call(w.court.key, { method: 'GET', url: `/v1/referrals/${ids[1]}` })
  t.equal(other.statusCode, 200, 'the service serves on')
})

t.test('pageDecrypt: every sealed field of a page from the pool, anything else on the event loop', async (t) => {
  const cipher = h.deps.cipher
  const seal = (v: string, context: string) => ({ enc: cipher.encrypt(v, context), masked: '***' })
  const parties: StoredParty[] = Array.from({ length: 10 }, (_, i) => ({
    role: 'applicant',
    kind: 'natural_person',
    name: `当事人${i}`,
    idType: 'resident_id',
    idNumber: seal(`11010519491231${String(i).padStart(4, '0')}`, 'idNumber'),
    phone: seal(`1380013${String(i).padStart(4, '0')}`, 'phone'),
    address: seal(`北京市朝阳区${i}号`, 'address'),
    agents: [{ name: `代理人${i}`, idNumber: seal(`44052419800101${String(i).padStart(4, '0')}`, 'idNumber'), phone: seal(`1390000${i}`, 'phone') }],
  }))
  const sealed = sealedFields(parties)
  t.equal(sealed.length, 50, 'idNumber, phone and address of each party, idNumber and phone of each agent')
  asked.length = 0
  const decrypt = await pageDecrypt(h.deps, sealed)
  t.same(asked, [{ fields: 50, answered: true }])
  t.same(
    sealed.map(([token, context]) => decrypt(token, context)),
    sealed.map(([token, context]) => cipher.decrypt(token, context)),
    'the same plaintexts as the cipher of the process',
  )
  const outside = cipher.encrypt('not on the page', 'phone')
  t.equal(decrypt(outside, 'phone'), 'not on the page', 'a value not sent to the pool is decrypted on the event loop')
  t.throws(() => decrypt(sealed[0]![0], 'phone'), { code: 'authentication_failed' }, 'a value asked for another field fails as it would inline')
  asked.length = 0
  const few = await pageDecrypt(h.deps, sealed.slice(0, 31))
  t.same(asked, [], 'below 32 fields the pool is not asked')
  t.equal(few(sealed[0]![0], sealed[0]![1]), cipher.decrypt(sealed[0]![0], sealed[0]![1]))
})
