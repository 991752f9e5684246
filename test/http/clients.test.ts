import t from 'tap'
import { BOOTSTRAP_OPERATOR_ID } from '../../src/deps.js'
import { KeyUsage } from '../../src/http/key-cache.js'
import { hashApiKey } from '../../src/security/api-keys.js'
import { post } from '../helpers/fixtures.js'
import { startHarness } from '../helpers/harness.js'
import { eventually } from '../helpers/peer.js'

// GET /v1/clients (contract §6 v1.1): operators list clients with their keys' ids and dates, never a key or its hash.

const h = await startHarness()
t.teardown(() => h.close())
const op = h.operatorKey

interface KeyView {
  keyId: string
  createdAt: string
  lastUsedAt: string | null
  revokedAt: string | null
}
interface ClientItem {
  id: string
  name: string
  role: string
  courtCodes: string[]
  organizationIds: string[]
  regionCodes: string[]
  keys: KeyView[]
  createdAt: string
}

const courtA = await h.client('court', { courtCodes: ['京0105'] })
const courtB = await h.client('court', { courtCodes: ['京0108'] })
const courtC = await h.client('court', { courtCodes: ['沪0101'] })
const platform = await h.client('mediation', { regionCodes: ['11'] })
const operator = await h.client('operator')
// A second key for court A, then its first one revoked (rotation).
const issued = await post(h, op, `/v1/clients/${courtA.id}/keys`, undefined)
if (issued.statusCode !== 201) throw new Error(`issue key: ${issued.body}`)
const courtA2 = issued.json() as { keyId: string; apiKey: string }
const revoked = await h.call(op, { method: 'DELETE', url: `/v1/clients/${courtA.id}/keys/${courtA.keyId}` })
if (revoked.statusCode !== 204) throw new Error(`revoke: ${revoked.body}`)

const secrets = [courtA, courtB, courtC, platform, operator].map((c) => c.key).concat(courtA2.apiKey)

const list = async (key: string, query: string) => h.call(key, { method: 'GET', url: `/v1/clients${query}` })

/** Every page of a listing, following nextCursor. */
async function all(query: string, limit: number): Promise<{ items: ClientItem[]; pages: number; bodies: string[] }> {
  const items: ClientItem[] = []
  const bodies: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res = await list(op, `?${query}${query ? '&' : ''}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    if (res.statusCode !== 200) throw new Error(`list: ${res.statusCode} ${res.body}`)
    bodies.push(res.body)
    const body = res.json() as { items: ClientItem[]; nextCursor: string | null }
    items.push(...body.items)
    cursor = body.nextCursor
    pages++
  } while (cursor && pages < 50)
  return { items, pages, bodies }
}

t.test('the operator lists clients by role, page by page, in creation order', async (t) => {
  const courts = await all('role=court', 2)
  t.same(
    courts.items.map((c) => c.id),
    [courtA.id, courtB.id, courtC.id],
    'the three courts, in creation order',
  )
  t.equal(courts.pages, 2, 'limit=2 over three courts: two pages')
  t.ok(
    courts.items.every((c) => c.role === 'court'),
    'only courts',
  )
  const b = courts.items[1]
  t.same(b.courtCodes, ['京0108'])
  t.same(b.organizationIds, [])
  t.same(b.regionCodes, [])
  t.match(b.createdAt, /^\d{4}-\d\d-\d\dT/)

  const mediation = await all('role=mediation', 50)
  t.same(
    mediation.items.map((c) => [c.id, c.regionCodes]),
    [[platform.id, ['11']]],
  )
  const everyone = await all('', 1)
  t.same(
    everyone.items.map((c) => c.id),
    [BOOTSTRAP_OPERATOR_ID, courtA.id, courtB.id, courtC.id, platform.id, operator.id],
    'without a filter: every client (the bootstrap operator first: its id is the lowest)',
  )
  t.equal(everyone.pages, 6)
})

t.test('keys are shown by id and dates only: never a key or its hash', async (t) => {
  const { items, bodies } = await all('', 200)
  const a = items.find((c) => c.id === courtA.id) as ClientItem
  t.same(
    a.keys.map((k) => k.keyId),
    [courtA.keyId, courtA2.keyId],
    'both keys of court A, oldest first',
  )
  for (const k of a.keys) t.same(Object.keys(k).sort(), ['createdAt', 'keyId', 'lastUsedAt', 'revokedAt'])
  const text = bodies.join('\n') + (await h.call(op, { method: 'GET', url: `/v1/clients/${courtA.id}` })).body
  for (const secret of secrets) {
    const hash = hashApiKey(secret)
    t.notOk(text.includes(secret), 'no API key')
    // zdz_<keyId>_<secret>: the secret is base64url and may itself hold '_'.
    t.notOk(text.includes(secret.slice('zdz_'.length + 11)), 'no secret part of a key')
    for (const form of [hash.toString('hex'), hash.toString('base64'), hash.toString('base64url')]) t.notOk(text.includes(form), 'no key hash')
  }
  t.notMatch(text, /apiKey|keyHash|key_hash|hash/i, 'no key or hash fields')
})

t.test('revokedAt is set once a key is revoked', async (t) => {
  const { items } = await all('role=court', 200)
  const keys = (items.find((c) => c.id === courtA.id) as ClientItem).keys
  t.match(keys[0].revokedAt, /^\d{4}-\d\d-\d\dT/, 'the revoked key')
  t.equal(keys[1].revokedAt, null, 'the live key')
  const single = (await h.call(op, { method: 'GET', url: `/v1/clients/${courtA.id}` })).json() as ClientItem
  t.same(single.keys, keys, 'GET /v1/clients/{id} shows the same keys')
})

t.test('lastUsedAt is set after the key is used, off the request path', async (t) => {
  const before = Date.now()
  const keyOf = async (clientId: string, keyId: string) => {
    const single = (await h.call(op, { method: 'GET', url: `/v1/clients/${clientId}` })).json() as ClientItem
    return single.keys.find((k) => k.keyId === keyId) as KeyView
  }
  t.equal((await keyOf(courtB.id, courtB.keyId)).lastUsedAt, null, 'never used yet')
  const used = await h.call(courtB.key, { method: 'GET', url: '/v1/organizations' })
  t.equal(used.statusCode, 200)
  const k = await eventually(async () => {
    const v = await keyOf(courtB.id, courtB.keyId)
    return v.lastUsedAt ? v : undefined
  }, 10_000)
  const at = Date.parse(k.lastUsedAt as string)
  t.ok(at >= before - 1000 && at <= Date.now(), 'the time of the use')

  // A use within the minute writes nothing more.
  await h.call(courtB.key, { method: 'GET', url: '/v1/organizations' })
  await new Promise((r) => setTimeout(r, 1500))
  t.equal((await keyOf(courtB.id, courtB.keyId)).lastUsedAt, k.lastUsedAt, 'at most once a minute')
  // A refused call (403) still used the key.
  const refused = await list(courtC.key, '')
  t.equal(refused.statusCode, 403)
  await eventually(async () => (await keyOf(courtC.id, courtC.keyId)).lastUsedAt, 10_000)
})

t.test('court and mediation keys get 403; bad filters and cursors 400', async (t) => {
  for (const key of [courtB.key, platform.key]) {
    const res = await list(key, '')
    t.equal(res.statusCode, 403)
    t.equal(res.json().code, 'forbidden')
  }
  t.equal((await list(op, '?role=judge')).statusCode, 400)
  t.equal((await list(op, '?limit=0')).statusCode, 400)
  const forged = await list(op, `?cursor=${Buffer.from(JSON.stringify({ id: 'x' })).toString('base64url')}`)
  t.equal(forged.statusCode, 400)
  t.equal(forged.json().code, 'invalid_cursor')
})

t.test('KeyUsage: one write per key and interval, batched, never on the caller', async (t) => {
  const batches: Array<Array<{ keyId: string; at: Date }>> = []
  let release: () => void = () => undefined
  const usage = new KeyUsage({
    intervalMs: 60_000,
    flushDelayMs: 10_000,
    record: (uses) => {
      batches.push(uses)
      return new Promise<void>((r) => (release = r))
    },
  })
  const now = Date.now()
  usage.used('aaaaaaaaaa', now)
  usage.used('aaaaaaaaaa', now + 1_000)
  usage.used('bbbbbbbbbb', now + 2_000)
  t.equal(batches.length, 0, 'nothing written while the requests run')
  const flushing = usage.flush()
  await new Promise((r) => setImmediate(r))
  t.same(
    batches[0].map((u) => [u.keyId, u.at.getTime()]),
    [
      ['aaaaaaaaaa', now],
      ['bbbbbbbbbb', now + 2_000],
    ],
    'one batch, one use per key',
  )
  usage.used('aaaaaaaaaa', now + 59_000)
  usage.used('aaaaaaaaaa', now + 61_000)
  const closing = usage.close()
  release()
  await flushing
  await new Promise((r) => setImmediate(r))
  release()
  await closing
  t.same(
    batches[1]?.map((u) => [u.keyId, u.at.getTime()]),
    [['aaaaaaaaaa', now + 61_000]],
    'a minute later the key is written again; close writes what is pending',
  )
  usage.used('cccccccccc', now)
  await usage.flush()
  t.equal(batches.length, 2, 'nothing noted after close')
})
