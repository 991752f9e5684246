/**
 * Batch intake (contract §2 v1.1, issue #16): POST /v1/referrals/batch judges and writes each item exactly as
 * POST /v1/referrals would with that body and key. Every comparison runs the same bodies through the single route
 * on a second service with its own database (`single`), so the same case numbers are free on both.
 */
import { sql } from 'kysely'
import pg from 'pg'
import t from 'tap'
import { caseNumber, post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'
import { eventually } from '../helpers/peer.js'
import { verifyReceipt } from '../../src/client/receipts.js'

const h = await startHarness()
const single = await startHarness()
t.teardown(() => Promise.all([h.close(), single.close()]))
const w = await standardWorld(h)
const ws = await standardWorld(single)

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const batch = (items: Array<{ idempotencyKey: string; referral: unknown }>, key = idemKey(), apiKey = w.court.key) =>
  h.call(apiKey, { method: 'POST', url: '/v1/referrals/batch', payload: { items }, headers: { 'idempotency-key': key } })

/** A referral view without what differs between two services (ids, instants). */
const shape = (r: Json) => {
  const { id, createdAt, updatedAt, ...rest } = r
  return { ...rest, id: typeof id, createdAt: typeof createdAt, updatedAt: typeof updatedAt }
}
const hour = () => new Date(Date.now() + 3_600_000).toISOString()

t.test('mixed items: each answers what the single route answers for the same body and key', async (t) => {
  const taken = referralBody()
  t.equal((await post(h, w.court.key, '/v1/referrals', taken)).statusCode, 201)
  t.equal((await post(single, ws.court.key, '/v1/referrals', taken)).statusCode, 201)

  const good = referralBody()
  const good2 = referralBody()
  const badId = referralBody()
  badId.parties[0].idNumber = '110105198001010011'
  const noConsent = referralBody()
  noConsent.consent = [noConsent.consent[0]]
  const future = referralBody()
  future.consent[0].consentedAt = hour()
  // An ID number as a JSON number (a careless client's), whatever JavaScript makes of it: refused, never coerced.
  const asNumber = JSON.parse(JSON.stringify(referralBody()).replace(/"idNumber":"(\d{17})\d"/, '"idNumber":$1')) as Json
  const keys = Array.from({ length: 14 }, () => idemKey())
  keys[11] = keys[0]
  keys[12] = keys[8]
  const bodies: unknown[] = [
    good,
    badId,
    referralBody({ claimSummary: '漏水\u0000赔偿' }),
    noConsent,
    referralBody({ courtCode: '京0106', caseNumber: caseNumber('京0106') }),
    referralBody({ designation: { mode: 'court_designated', organizationId: 'bj-unknown' } }),
    referralBody({ caseNumber: good.caseNumber }),
    referralBody({ caseNumber: taken.caseNumber }),
    good2,
    asNumber,
    { ...referralBody(), status: 'mediating' },
    good,
    { ...good2, claimSummary: '另一个诉求' },
    future,
  ]
  const expected = [201, 400, 400, 422, 422, 422, 409, 409, 201, 400, 400, 201, 422, 422]
  const res = await batch(bodies.map((referral, i) => ({ idempotencyKey: keys[i]!, referral })))
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  const items = res.json().items as Json[]
  t.same(
    items.map((i) => i.index),
    bodies.map((_, i) => i),
    'request order',
  )
  t.same(
    items.map((i) => i.status),
    expected,
    'statuses',
  )

  // The same bodies, one single POST after another with the same keys, on the other service.
  for (const [i, body] of bodies.entries()) {
    const one = await single.call(ws.court.key, { method: 'POST', url: '/v1/referrals', payload: body as object, headers: { 'idempotency-key': keys[i]! } })
    const item = items[i]!
    t.equal(item.status, one.statusCode, `item ${i}: status`)
    if (one.statusCode === 201) {
      t.notOk(item.problem, `item ${i}: no problem`)
      t.same(shape(item.referral), shape(one.json()), `item ${i}: the referral as the single route shows it`)
      t.equal(item.replayed === true, one.headers['idempotent-replayed'] === 'true', `item ${i}: replayed as the single route's`)
    } else {
      t.notOk(item.referral, `item ${i}: no referral`)
      t.same(item.problem, one.json(), `item ${i}: the single route's problem body (${one.json().code})`)
    }
  }
  t.equal(items[11]!.referral.id, items[0]!.referral.id, 'the same key and body later in the batch replays the first')
  t.equal(items[11]!.replayed, true)
  t.equal(items[6]!.problem.code, 'duplicate_referral', 'a duplicate within the batch')
  t.equal(items[7]!.problem.code, 'duplicate_referral', 'a duplicate of an existing referral')
  t.equal(items[12]!.problem.code, 'idempotency_key_reused')
  t.equal(items[2]!.problem.errors[0].code, 'invalid_characters')
  t.equal(items[0]!.referral.parties[0].idNumber, good.parties[0].idNumber, 'the referring court sees full ID numbers')

  // What was written: as many referrals, events, outbox rows, trail entries and stored answers as single intakes.
  const ids = [items[0]!.referral.id, items[8]!.referral.id]
  const db = h.deps.db
  const events = await db.selectFrom('events').select(['type', 'sequence', 'prev_hash']).where('subject_id', 'in', ids).execute()
  t.same(
    events.map((e) => [e.type, e.sequence]),
    [
      ['referral.created', 1],
      ['referral.created', 1],
    ],
  )
  const { rows } = await sql<{
    n: number
  }>`SELECT count(*)::int AS n FROM outbox o JOIN events e ON e.pos = o.event_pos WHERE e.subject_id = ANY(${ids}::uuid[])`.execute(db)
  t.equal(rows[0]!.n, 2, 'each event has its outbox row (no relay runs here)')
  const trail = await db.selectFrom('access_log').select(['subject_id', 'fields']).where('subject_id', 'in', ids).execute()
  t.equal(trail.length, 2, 'one access-trail entry per created referral')
  const stored = await db.selectFrom('idempotency_keys').select(['key', 'response_status', 'subject_id']).where('key', 'in', [keys[0]!, keys[8]!]).execute()
  t.same(stored.map((s) => s.response_status).sort(), [201, 201])
  for (const id of ids) {
    const integrity = await h.call(w.court.key, { method: 'GET', url: `/v1/referrals/${id}/integrity` })
    t.match(integrity.json(), { valid: true, length: 1 }, 'the hash chain starts at the genesis')
    const history = await h.call(w.court.key, { method: 'GET', url: `/v1/referrals/${id}/events` })
    t.equal(history.json().items[0].data.referral.parties[0].idNumber.includes('*'), true, 'the event shows personal data masked')
  }
  const feed = await h.call(w.platform.key, { method: 'GET', url: '/v1/events?limit=200' })
  const seen = new Set((feed.json().items as Json[]).map((e) => e.subject.id))
  t.ok(
    ids.every((id) => seen.has(id)),
    'the platform reads the events in GET /v1/events',
  )
})

t.test('each created item carries the signed receipt of its referral.created event (contract §4)', async (t) => {
  const res = await batch([
    { idempotencyKey: idemKey(), referral: referralBody() },
    { idempotencyKey: idemKey(), referral: referralBody({ consent: [] }) },
    { idempotencyKey: idemKey(), referral: referralBody() },
  ])
  t.equal(res.statusCode, 200, res.body)
  const jwks = (await h.call(w.court.key, { method: 'GET', url: '/v1/service-keys' })).json()
  const items = res.json().items as Json[]
  t.notOk(items[1]?.receipt, 'a refused item has no receipt')
  for (const item of [items[0], items[2]] as Json[]) {
    t.equal(item.status, 201)
    const payload = verifyReceipt(item.receipt, jwks)
    const events = (await h.call(w.court.key, { method: 'GET', url: `/v1/referrals/${item.referral.id}/events` })).json().items
    const head = (await h.call(w.court.key, { method: 'GET', url: `/v1/referrals/${item.referral.id}/integrity` })).json().head
    t.match(payload, { subject: { kind: 'referral', id: item.referral.id }, sequence: 1, eventId: events[0].id, eventHash: head, caseVersion: 1 })
  }
})

t.test('item problems follow Accept-Language as the single route’s do', async (t) => {
  const bad = referralBody({ parties: [{ ...referralBody().parties[0], idNumber: '110105194912310021' }, referralBody().parties[1]] })
  for (const [lang, want] of [
    [undefined, /[\u4e00-\u9fff]/],
    ['en-US,en;q=0.9', /^[^\u4e00-\u9fff]+$/],
  ] as const) {
    const res = await h.call(w.court.key, {
      method: 'POST',
      url: '/v1/referrals/batch',
      payload: { items: [{ idempotencyKey: idemKey(), referral: bad }] },
      headers: { 'idempotency-key': idemKey(), ...(lang ? { 'accept-language': lang } : {}) },
    })
    const single = await h.call(w.court.key, {
      method: 'POST',
      url: '/v1/referrals',
      payload: bad,
      headers: { 'idempotency-key': idemKey(), ...(lang ? { 'accept-language': lang } : {}) },
    })
    const problem = res.json().items[0].problem as Json
    t.equal(problem.type, '/docs/errors#validation_failed')
    t.same(problem, single.json(), `${lang ?? 'default'}: the single route’s problem`)
    t.match(problem.detail, want)
    for (const e of problem.errors as Json[]) t.same(Object.keys(e).sort(), ['code', 'message', 'path'], 'no internal field leaks')
  }
})

t.test('events, outbox and trail: the same counts and types as single intakes', async (t) => {
  const bodies = [referralBody(), referralBody(), referralBody()]
  const count = async (hh: typeof h) => {
    const q = await sql<{ events: number; outbox: number; trail: number; stored: number; parties: number }>`
      SELECT (SELECT count(*) FROM events WHERE type = 'referral.created')::int AS events,
             (SELECT count(*) FROM outbox)::int + (SELECT count(*) FROM deliveries)::int AS outbox,
             (SELECT count(*) FROM access_log)::int AS trail,
             (SELECT count(*) FROM idempotency_keys WHERE response_status = 201)::int AS stored,
             (SELECT count(*) FROM party_index)::int AS parties`.execute(hh.deps.db)
    return q.rows[0]!
  }
  await h.deps.accessTrail.flush()
  await single.deps.accessTrail.flush()
  const [b0, s0] = [await count(h), await count(single)]
  const res = await batch(bodies.map((referral) => ({ idempotencyKey: idemKey(), referral })))
  t.same(
    res.json().items.map((i: Json) => i.status),
    [201, 201, 201],
  )
  for (const body of bodies) t.equal((await post(single, ws.court.key, '/v1/referrals', body)).statusCode, 201)
  await h.deps.accessTrail.flush()
  await single.deps.accessTrail.flush()
  const [b1, s1] = [await count(h), await count(single)]
  const delta = (a: Json, b: Json) => Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]))
  const batchDelta = delta(b0, b1)
  // The batch request stores its own answer too (status 200): not among the 201s.
  t.same(batchDelta, delta(s0, s1), 'events, outbox, access trail, stored answers, blind indexes')
  t.equal(batchDelta.events, 3)
})

t.test('replays: the whole request, and item keys against single requests both ways', async (t) => {
  const items = [
    { idempotencyKey: idemKey(), referral: referralBody() },
    { idempotencyKey: idemKey(), referral: referralBody({ designation: { mode: 'court_designated', organizationId: 'nowhere' } }) },
  ]
  const key = idemKey()
  const first = await batch(items, key)
  t.equal(first.statusCode, 200)
  const again = await batch(items, key)
  t.equal(again.statusCode, 200)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.body, first.body, 'the whole answer again, byte for byte (personal data shown again from the case)')
  const other = await batch([{ idempotencyKey: idemKey(), referral: referralBody() }], key)
  t.equal(other.statusCode, 422)
  t.equal(other.json().code, 'idempotency_key_reused')
  const stored = await h.deps.db.selectFrom('idempotency_keys').select('response_body').where('key', '=', key).executeTakeFirstOrThrow()
  t.notOk(stored.response_body.includes(items[0]!.referral.parties[0]!.idNumber), 'the stored batch answer holds no full ID number')

  // A later single POST with an item's key replays the item's answer; with another body it is refused.
  const created = first.json().items[0]
  const replay = await h.call(w.court.key, {
    method: 'POST',
    url: '/v1/referrals',
    payload: items[0]!.referral,
    headers: { 'idempotency-key': items[0]!.idempotencyKey },
  })
  t.equal(replay.statusCode, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.same(replay.json(), created.referral, 'the item’s referral')
  t.equal(replay.headers.receipt, created.receipt, 'the single replay carries the item’s signed receipt')
  const reused = await post(h, w.court.key, '/v1/referrals', referralBody(), { 'idempotency-key': items[0]!.idempotencyKey })
  t.equal(reused.statusCode, 422)
  t.equal(reused.json().code, 'idempotency_key_reused')
  // The refused item stored nothing: its key is free for a good body.
  const retried = await post(h, w.court.key, '/v1/referrals', referralBody(), { 'idempotency-key': items[1]!.idempotencyKey })
  t.equal(retried.statusCode, 201)

  // A single POST first, then a batch item with its key: the stored answer again, marked replayed.
  const body = referralBody()
  const k = idemKey()
  const one = await post(h, w.court.key, '/v1/referrals', body, { 'idempotency-key': k })
  t.equal(one.statusCode, 201)
  const res = await batch([
    { idempotencyKey: k, referral: body },
    { idempotencyKey: k, referral: referralBody() },
    { idempotencyKey: idemKey(), referral: referralBody() },
  ])
  const [same, diff, fresh] = res.json().items
  t.match(same, { index: 0, status: 201, replayed: true })
  t.same(same.referral, one.json(), 'the single answer, personal data shown as the court may see it')
  t.equal(same.receipt, one.headers.receipt, 'a replayed item carries the receipt of the single answer')
  t.match(diff, { status: 422, problem: { code: 'idempotency_key_reused' } })
  t.match(fresh, { status: 201 })
  t.notOk(fresh.replayed)

  // An item using the request's own key: in flight (the request holds it).
  const own = idemKey()
  const mine = await batch([{ idempotencyKey: own, referral: referralBody() }], own)
  t.match(mine.json().items[0], { status: 409, problem: { code: 'idempotency_key_in_use' } })
})

t.test('the envelope: 1–100 items, a well-formed envelope, the key, the role', async (t) => {
  const many = Array.from({ length: 101 }, () => ({ idempotencyKey: idemKey(), referral: {} }))
  const tooMany = await batch(many)
  t.equal(tooMany.statusCode, 400)
  t.equal(tooMany.json().code, 'validation_failed')
  t.ok(tooMany.json().errors.some((e: Json) => e.path === '/items' && e.code === 'too_many_items'))
  const none = await batch([])
  t.equal(none.statusCode, 400)
  t.ok(none.json().errors.some((e: Json) => e.path === '/items' && e.code === 'too_few_items'))
  const noKey = await h.call(w.court.key, {
    method: 'POST',
    url: '/v1/referrals/batch',
    payload: { items: [{ referral: referralBody() }] },
    headers: { 'idempotency-key': idemKey() },
  })
  t.equal(noKey.statusCode, 400)
  t.ok(noKey.json().errors.some((e: Json) => e.path === '/items/0/idempotencyKey' && e.code === 'required'))
  const extra = await h.call(w.court.key, {
    method: 'POST',
    url: '/v1/referrals/batch',
    payload: { items: [{ idempotencyKey: idemKey(), referral: referralBody() }], note: 1 },
    headers: { 'idempotency-key': idemKey() },
  })
  t.equal(extra.statusCode, 400)
  const noHeader = await h.call(w.court.key, {
    method: 'POST',
    url: '/v1/referrals/batch',
    payload: { items: [{ idempotencyKey: idemKey(), referral: referralBody() }] },
  })
  t.equal(noHeader.statusCode, 400)
  t.equal(noHeader.json().code, 'idempotency_key_required')
  for (const key of [w.platform.key, h.operatorKey]) {
    const res = await batch([{ idempotencyKey: idemKey(), referral: referralBody() }], idemKey(), key)
    t.equal(res.statusCode, 403)
    t.equal(res.json().code, 'forbidden')
  }
  // 100 items fit, above the 1 MiB of other routes.
  const big = Array.from({ length: 100 }, () => ({
    idempotencyKey: idemKey(),
    referral: referralBody({ claimSummary: '漏'.repeat(4000) }),
  }))
  t.ok(Buffer.byteLength(JSON.stringify({ items: big })) > 1024 * 1024, 'the body exceeds 1 MiB')
  const res = await batch(big)
  t.equal(res.statusCode, 200)
  t.equal(res.json().items.filter((i: Json) => i.status === 201).length, 100)
})

t.test('a 案号 taken by a concurrent transaction fails only its item', async (t) => {
  const existing = (await post(h, w.court.key, '/v1/referrals', referralBody())).json()
  const contested = caseNumber()
  // Another transaction inserts an active referral with the contested 案号 and holds it uncommitted.
  const other = new pg.Client({ connectionString: h.db.url })
  await other.connect()
  t.teardown(() => other.end())
  await other.query('BEGIN')
  await other.query(
    `INSERT INTO referrals (id, version, status, referral_type, court_code, case_number, dispute_type, organization_id, held_by, acceptance_due_on,
                            mediation_due_on, chain_head, doc, created_at, updated_at)
     SELECT gen_random_uuid(), version, status, referral_type, court_code, $2, dispute_type, organization_id, held_by, acceptance_due_on,
            mediation_due_on, chain_head, doc, created_at, updated_at FROM referrals WHERE id = $1`,
    [existing.id, contested],
  )
  const pending = batch([
    { idempotencyKey: idemKey(), referral: referralBody() },
    { idempotencyKey: idemKey(), referral: referralBody({ caseNumber: contested }) },
    { idempotencyKey: idemKey(), referral: referralBody() },
  ])
  // The batch checked the 案号 (the other insert is not visible) and now waits on the unique index.
  await eventually(
    async () => {
      const r = await other.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`)
      return r.rowCount ? true : undefined
    },
    20_000,
    'the batch waiting on the contested 案号',
  )
  await other.query('COMMIT')
  const res = await pending
  t.equal(res.statusCode, 200)
  const items = res.json().items as Json[]
  t.same(
    items.map((i) => i.status),
    [201, 409, 201],
  )
  t.equal(items[1]!.problem.code, 'duplicate_referral')
  const written = await h.deps.db.selectFrom('referrals').select('id').where('id', 'in', [items[0]!.referral.id, items[2]!.referral.id]).execute()
  t.equal(written.length, 2, 'the other items were written')
  const events = await h.deps.db.selectFrom('events').select('id').where('subject_id', 'in', [items[0]!.referral.id, items[2]!.referral.id]).execute()
  t.equal(events.length, 2, 'once each: the first attempt was rolled back')
})
