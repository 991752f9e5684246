import t from 'tap'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import { AccessEntryView } from '../../src/http/audit.js'
import { ProblemSchema } from '../../src/http/common-schemas.js'
import { pagedCompiler, pageItemSchema } from '../../src/http/page-serializer.js'
import { SPLIT_AT } from '../../src/json-bytes.js'
import { listOf } from '../../src/schemas/common.js'
import { EventEnvelopeSchema } from '../../src/schemas/events.js'
import { ReferralView } from '../../src/schemas/referrals.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness } from '../helpers/harness.js'

// A page of many items is sent as the bytes of the whole-page serializer, built item by item (http/page-serializer.ts).

const h = await startHarness()
t.teardown(() => h.close())
const w = await standardWorld(h)

const COUNT = SPLIT_AT + 4
const batch = await post(h, w.court.key, '/v1/referrals/batch', {
  items: Array.from({ length: COUNT }, (_, i) => ({ idempotencyKey: `page-${i}-${Date.now()}`, referral: referralBody() })),
})
if (batch.statusCode !== 200) throw new Error(`batch: ${batch.statusCode} ${batch.body}`)

const externals = { [(ProblemSchema as { $id?: string }).$id ?? 'Problem']: ProblemSchema }
// Fastify's own serializer compiler, unwrapped.
const fastify = SerializerSelector()(externals)
const wholePage = (itemSchema: object) =>
  fastify({ method: 'GET', url: '/', httpStatus: '200', schema: listOf(itemSchema as typeof ReferralView) }) as (page: unknown) => string

t.test('a page of full referral views: the bytes of the whole-page serializer, with a correct length', async (t) => {
  const res = await h.call(w.court.key, { method: 'GET', url: `/v1/referrals?limit=${COUNT}` })
  t.equal(res.statusCode, 200)
  const page = res.json() as { items: Array<{ parties: Array<{ idNumber: string }> }>; nextCursor: string | null }
  t.equal(page.items.length, COUNT)
  t.match(page.items[0]!.parties[0]!.idNumber, /^\d{17}[\dX]$/, 'full views')
  t.equal(res.body, wholePage(ReferralView)(page), 'byte for byte what fast-json-stringify makes of the whole page')
  t.equal(Number(res.headers['content-length']), res.rawPayload.length)
  t.match(String(res.headers['content-type']), /^application\/json/)
  const head = await h.call(w.court.key, { method: 'HEAD', url: `/v1/referrals?limit=${COUNT}` })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], res.headers['content-length'], 'HEAD: the same length, no body')
  t.equal(head.rawPayload.length, 0)
})

t.test('the split path is the one taken for a long page, and matches for a short one too', async (t) => {
  const res = await h.call(w.court.key, { method: 'GET', url: `/v1/referrals?limit=${COUNT}` })
  const page = res.json()
  const compile = pagedCompiler(fastify)
  const serialize = compile({ method: 'GET', url: '/v1/referrals', httpStatus: '200', schema: listOf(ReferralView) })
  const out = serialize(page) as unknown
  t.ok(Buffer.isBuffer(out), 'a page of many items comes as a Buffer')
  t.equal((out as Buffer).toString('utf8'), wholePage(ReferralView)(page))
  const short = { ...page, items: page.items.slice(0, 3) }
  t.equal(serialize(short), wholePage(ReferralView)(short), 'a short page is the whole-page text')
  const last = { ...page, nextCursor: 'abc' }
  t.equal((serialize(last) as unknown as Buffer).toString('utf8'), wholePage(ReferralView)(last), 'with a cursor')
})

t.test('other list routes: the access trail (a long page) and a case’s events (a short one)', async (t) => {
  const trail = await h.call(h.operatorKey, { method: 'GET', url: `/v1/access-log?limit=${COUNT}` })
  t.equal(trail.statusCode, 200)
  t.equal(trail.json().items.length, COUNT, 'one entry for each item’s full view')
  t.equal(trail.body, wholePage(AccessEntryView)(trail.json()))
  const id = (batch.json() as { items: Array<{ referral: { id: string } }> }).items[0]!.referral.id
  const events = await h.call(w.court.key, { method: 'GET', url: `/v1/referrals/${id}/events` })
  t.equal(events.statusCode, 200)
  t.equal(events.body, wholePage(EventEnvelopeSchema)(events.json()))
})

t.test('only page schemas are split', async (t) => {
  t.equal(pageItemSchema(listOf(ReferralView)), listOf(ReferralView).properties.items.items)
  t.equal(pageItemSchema(ReferralView), undefined)
  t.equal(pageItemSchema({ type: 'object', properties: { items: { type: 'array', items: { type: 'string' } } } }), undefined, 'no nextCursor')
  t.equal(pageItemSchema(undefined), undefined)
})
