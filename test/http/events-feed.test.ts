import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import type { EventScope } from '../../src/domain/access.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness } from '../helpers/harness.js'

const h = await startHarness()
t.teardown(() => h.close())
const world = await standardWorld(h)

type Page = { items: Array<{ id: string; type: string; sequence: number; subject: { id: string } }>; nextCursor: string }

const feed = async (key: string, query = ''): Promise<Page> => {
  const res = await h.call(key, { method: 'GET', url: `/v1/events${query}` })
  if (res.statusCode !== 200) throw new Error(`feed ${res.statusCode} ${res.body}`)
  return res.json() as Page
}

/** Reads the whole feed from `after` on. */
const readAll = async (key: string, after?: string, extra = '') => {
  const items: Page['items'] = []
  let cursor = after
  for (let i = 0; i < 1000; i++) {
    const page = await feed(key, `?limit=3${cursor ? `&after=${cursor}` : ''}${extra}`)
    items.push(...page.items)
    if (typeof page.nextCursor !== 'string') throw new Error('nextCursor must always be a string')
    if (!page.items.length) {
      if (cursor !== undefined && page.nextCursor !== cursor) throw new Error('at the end the cursor must stay the resume point')
      return { items, cursor: page.nextCursor }
    }
    cursor = page.nextCursor
  }
  throw new Error('feed did not end')
}

/** Inserts an event row directly (as appendEvent would), in the given client/transaction. */
async function insertEvent(q: { query: pg.Client['query'] } | pg.Client, scope: Partial<EventScope> & { audience: string }, type = 'warning.raised') {
  const id = randomUUID()
  await (q as pg.Client).query(
    `INSERT INTO events (id, type, occurred_at, subject_kind, subject_id, sequence, case_version, actor, data, court_code, organization_id, region_code, audience, prev_hash, hash)
     VALUES ($1, $2, now(), 'warning', $3, 1, null, '"system"', '{}', $4, $5, $6, $7, $8, $8)`,
    [id, type, randomUUID(), scope.courtCode ?? null, scope.organizationId ?? null, scope.regionCode ?? null, scope.audience, '0'.repeat(64)],
  )
  return id
}

/**
 * Reads the feed until `done` holds. The feed serves an event once every older transaction on the cluster has
 * finished, and test files running in parallel share the cluster: it may lag a moment, it never skips.
 */
const readUntil = async (key: string, done: (items: Page['items']) => boolean, after?: string, extra = '') => {
  for (let i = 0; ; i++) {
    const r = await readAll(key, after, extra)
    if (done(r.items) || i >= 200) return r
    await new Promise((res) => setTimeout(res, 50))
  }
}

t.test('the pull feed: scoped, filtered, paged, resumable', async (t) => {
  const created = await post(h, world.court.key, '/v1/referrals', referralBody())
  t.equal(created.statusCode, 201, created.body)
  const referralId = created.json().id
  const accepted = await post(h, world.platform.key, `/v1/referrals/${referralId}/acceptance`, {
    decision: 'accepted',
    mediator: { name: '王调解' },
    acceptedAt: new Date().toISOString(),
  })
  t.equal(accepted.statusCode, 200, accepted.body)

  const courtAll = await readUntil(world.court.key, (items) => items.filter((e) => e.subject.id === referralId).length === 2)
  const mine = courtAll.items.filter((e) => e.subject.id === referralId)
  t.same(
    mine.map((e) => [e.type, e.sequence]),
    [
      ['referral.created', 1],
      ['referral.accepted', 2],
    ],
  )
  const platformAll = await readAll(world.platform.key)
  t.equal(platformAll.items.filter((e) => e.subject.id === referralId).length, 2, 'the holding platform reads them')
  t.equal((await readAll(world.otherCourt.key)).items.filter((e) => e.subject.id === referralId).length, 0, 'another court does not')
  t.equal((await readAll(world.otherPlatform.key)).items.filter((e) => e.subject.id === referralId).length, 0, 'another platform does not')
  const operatorAll = await readAll(h.operatorKey)
  t.ok(operatorAll.items.length >= courtAll.items.length, 'operators read everything')
  t.equal(new Set(operatorAll.items.map((e) => e.id)).size, operatorAll.items.length, 'no event twice')

  const onlyAccepted = await readUntil(world.court.key, (items) => items.length > 0, undefined, '&types=referral.accepted')
  t.ok(onlyAccepted.items.length >= 1 && onlyAccepted.items.every((e) => e.type === 'referral.accepted'))

  // Resuming from the end cursor: only what happened since.
  const suspended = await post(h, world.platform.key, `/v1/referrals/${referralId}/suspension`, { reason: 'appraisal' })
  t.equal(suspended.statusCode, 200, suspended.body)
  const more = await readUntil(world.court.key, (items) => items.length > 0, courtAll.cursor)
  t.same(
    more.items.map((e) => e.type),
    ['referral.suspended'],
  )

  t.equal((await h.call(world.court.key, { method: 'GET', url: '/v1/events?after=garbage' })).statusCode, 400)
  t.equal((await h.call(world.court.key, { method: 'GET', url: '/v1/events?types=referral.nope' })).statusCode, 400)
  t.equal((await h.call(world.court.key, { method: 'GET', url: '/v1/events?limit=0' })).statusCode, 400)
  t.equal((await h.call(world.court.key, { method: 'GET', url: '/v1/events?since=1' })).statusCode, 400)
  t.equal((await h.call(null, { method: 'GET', url: '/v1/events' })).statusCode, 401)
})

t.test('the pull feed never skips an event whose transaction commits late', async (t) => {
  const start = await readUntil(h.operatorKey, () => true)
  const a = new pg.Client({ connectionString: h.db.url })
  const b = new pg.Client({ connectionString: h.db.url })
  await a.connect()
  await b.connect()
  t.teardown(async () => {
    await a.end()
    await b.end()
  })
  // A opens first and writes an event (it takes the lower position), but stays open.
  await a.query('BEGIN')
  const eventA = await insertEvent(a, { audience: 'operator' })
  // B writes after it and commits first.
  await b.query('BEGIN')
  const eventB = await insertEvent(b, { audience: 'operator' })
  await b.query('COMMIT')
  const rowB = await h.deps.db.selectFrom('events').select('pos').where('id', '=', eventB).executeTakeFirst()
  t.ok(rowB, 'B is committed and visible in the table')

  // A reader now sees B's row in the table, but the feed holds it back: serving it would move the cursor
  // past A's position, and A would be skipped when it commits.
  const during = await readAll(h.operatorKey, start.cursor)
  t.notOk(
    during.items.some((e) => e.id === eventB),
    'B is held back while an older transaction is open',
  )
  t.notOk(
    during.items.some((e) => e.id === eventA),
    'A is not visible yet',
  )

  await a.query('COMMIT')
  const after = (await readUntil(h.operatorKey, (items) => items.some((e) => e.id === eventA) && items.some((e) => e.id === eventB), during.cursor)).items
  const ia = after.findIndex((e) => e.id === eventA)
  const ib = after.findIndex((e) => e.id === eventB)
  t.ok(ia >= 0, "A's event appears after the cursor once A commits")
  t.ok(ib > ia, 'and before B (transaction order)')
})

t.test('a transaction open in another database of the cluster does not hold the feed back', async (t) => {
  const elsewhere = new pg.Client({ connectionString: h.db.url.replace(/\/[^/]+$/, '/postgres') })
  const ours = new pg.Client({ connectionString: h.db.url })
  await elsewhere.connect()
  await ours.connect()
  t.teardown(async () => {
    await elsewhere.end()
    await ours.end()
  })
  const start = await readUntil(h.operatorKey, () => true)
  // An old transaction with an id, in another database, kept open for the whole test.
  await elsewhere.query('BEGIN')
  await elsewhere.query('SELECT pg_current_xact_id()')
  const id = await insertEvent(ours, { audience: 'operator' })
  const got = await readUntil(h.operatorKey, (items) => items.some((e) => e.id === id), start.cursor)
  t.ok(
    got.items.some((e) => e.id === id),
    'the event is served although an older transaction elsewhere is still open',
  )
  await elsewhere.query('ROLLBACK')
})
