/**
 * The write path's round trips: the one-statement write batch, the idempotency claim that reads the stored answer
 * in the same statement, the number of statements an intake costs, and the relay's wake-up after commit.
 */
import { Redis } from 'ioredis'
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely'
import pg from 'pg'
import type { ErrorCode } from '../../src/domain/error-catalogue.js'
import t, { type Test } from 'tap'
import { PLAN_EACH_TIME } from '../../src/db/connection.js'
import type { Database } from '../../src/db/database.js'
import { claimDelivery } from '../../src/db/delivery-repository.js'
import { claimKey, store } from '../../src/db/idempotency-repository.js'
import { WriteBatch } from '../../src/db/write-batch.js'
import { OutboxSignal, outboxChannel } from '../../src/delivery/outbox-signal.js'
import { AppError, conflict } from '../../src/domain/errors.js'
import { storedAfterFailure } from '../../src/db/idempotency-repository.js'
import { startEngine } from '../helpers/delivery.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { REDIS_URL, startHarness } from '../helpers/harness.js'
import { Peer } from '../helpers/peer.js'

const h = await startHarness()
t.teardown(() => h.close())
const world = await standardWorld(h)
const db = h.deps.db

async function rejectsWithCode(t: Test, p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p
    t.fail(`expected ${code}`)
  } catch (err) {
    t.ok(err instanceof AppError, 'an AppError')
    t.equal((err as AppError).code, code)
  }
}

const accessRows = async (subjectId: string) =>
  Number((await db.selectFrom('access_log').select(db.fn.countAll().as('n')).where('subject_id', '=', subjectId).executeTakeFirstOrThrow()).n)

t.test('a write batch is one statement: parameters stay with their part, and a failing part fails all', async (t) => {
  const subject = '01900000-0000-7000-8000-00000000b001'
  await db.transaction().execute(async (trx) => {
    const batch = new WriteBatch()
    batch.add(trx.insertInto('access_log').values({ client_id: world.court.id, subject_id: subject, fields: ['a', 'b'], request_id: 'r1' }))
    batch.add(trx.insertInto('access_log').values({ client_id: world.platform.id, subject_id: subject, fields: ['c'], request_id: 'r2' }))
    t.equal(batch.size, 2)
    await batch.execute(trx)
    t.equal(batch.size, 0, 'sent parts leave the batch')
  })
  const rows = await db.selectFrom('access_log').select(['client_id', 'fields', 'request_id']).where('subject_id', '=', subject).orderBy('request_id').execute()
  t.same(rows, [
    { client_id: world.court.id, fields: ['a', 'b'], request_id: 'r1' },
    { client_id: world.platform.id, fields: ['c'], request_id: 'r2' },
  ])

  const before = await accessRows(subject)
  await t.rejects(
    db.transaction().execute(async (trx) => {
      const batch = new WriteBatch()
      batch.add(trx.insertInto('access_log').values({ client_id: world.court.id, subject_id: subject, fields: ['x'], request_id: 'r3' }))
      // The same idempotency key twice: the second part violates the primary key.
      for (const i of [1, 2]) await store(trx, world.court.id, 'dup-key', { requestHash: `h${i}`, status: 201, body: '{}', headers: {} }, batch)
      await batch.execute(trx)
    }),
    { code: '23505' },
  )
  t.equal(await accessRows(subject), before, 'the first part was not kept')
})

t.test('a write batch maps a unique violation of a named constraint, and refuses literals', async (t) => {
  await rejectsWithCode(
    t,
    db.transaction().execute(async (trx) => {
      const batch = new WriteBatch()
      for (let i = 0; i < 2; i++) {
        batch.add(
          trx
            .insertInto('idempotency_keys')
            .values({ client_id: world.court.id, key: 'mapped', request_hash: 'h', response_status: 201, response_body: '{}', response_headers: '{}' }),
          {
            onUniqueViolation: { constraint: 'idempotency_keys_pkey', error: () => conflict('stored_twice' as ErrorCode, 'twice') },
          },
        )
      }
      await batch.execute(trx)
    }),
    'stored_twice',
  )
  t.throws(() => new WriteBatch().add(sql`INSERT INTO outbox (event_pos) VALUES ('1')`.compile(db)), /literal/)
  t.throws(() => new WriteBatch().add(sql`SELECT $$x$$`.compile(db)), /literal/)
})

t.test('the claim reads the stored answer in its statement, and answers in_use while another transaction holds it', async (t) => {
  const key = 'claim-1'
  const other = new pg.Client({ connectionString: h.config.databaseUrl })
  await other.connect()
  t.teardown(() => other.end())
  await other.query('BEGIN')
  await other.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7243))`, [`${world.court.id}:${key}`])
  t.same(await db.transaction().execute((trx) => claimKey(trx, world.court.id, key)), { kind: 'in_use' })
  await other.query('ROLLBACK')

  t.same(await db.transaction().execute((trx) => claimKey(trx, world.court.id, key)), { kind: 'claimed', prior: undefined })
  await db
    .transaction()
    .execute((trx) => store(trx, world.court.id, key, { requestHash: 'hash-1', status: 201, body: '{"id":"x"}', headers: { location: '/x' } }))
  t.same(await db.transaction().execute((trx) => claimKey(trx, world.court.id, key)), {
    kind: 'claimed',
    prior: { requestHash: 'hash-1', status: 201, body: '{"id":"x"}', headers: { location: '/x' } },
  })

  // After a failure, an answer stored meanwhile by a duplicate is the answer (the snapshot race of claimKey).
  t.same(await storedAfterFailure(db, world.court.id, key, 'hash-1', conflict('duplicate_referral', 'dup')), {
    replay: true,
    status: 201,
    body: '{"id":"x"}',
    headers: { location: '/x' },
  })
  t.same(await storedAfterFailure(db, world.court.id, key, 'hash-1', Object.assign(new Error('duplicate key'), { code: '23505' })), {
    replay: true,
    status: 201,
    body: '{"id":"x"}',
    headers: { location: '/x' },
  })
  await rejectsWithCode(t, storedAfterFailure(db, world.court.id, key, 'other-hash', conflict('duplicate_referral', 'dup')), 'idempotency_key_reused')
  t.same(
    await storedAfterFailure(db, world.court.id, key, 'hash-1', conflict('idempotency_key_in_use', 'busy')),
    { replay: true, status: 201, body: '{"id":"x"}', headers: { location: '/x' } },
    'in_use over a finished request (another replay holds the lock) is a replay',
  )
  t.equal(
    await storedAfterFailure(db, world.court.id, 'in-flight-key', 'hash-1', conflict('idempotency_key_in_use', 'busy')),
    undefined,
    'in_use while nothing is stored (the request is still in flight) stays a 409',
  )
  t.equal(await storedAfterFailure(db, world.court.id, 'no-such-key', 'hash-1', conflict('duplicate_referral', 'dup')), undefined)
})

t.test('an intake costs five statements: BEGIN, claim, organization, one write batch, COMMIT', async (t) => {
  // The key lookup is cached after its first use; the legal calendar refreshes in the background, and the key's
  // last use is written by a timer a second after the GET (KeyUsage), which a slow machine reaches during the POST:
  // neither is counted.
  t.equal((await h.call(world.court.key, { method: 'GET', url: '/v1/referrals?limit=1' })).statusCode, 200)
  const background = /calendar_years|UPDATE api_keys k SET last_used_at/
  const seen: string[] = []
  const original = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const q = args[0] as string | { text?: string }
    seen.push(typeof q === 'string' ? q : (q.text ?? ''))
    return (original as (...a: unknown[]) => unknown).apply(this, args)
  } as typeof original
  let res
  try {
    res = await post(h, world.court.key, '/v1/referrals', referralBody())
  } finally {
    pg.Client.prototype.query = original
  }
  t.equal(res.statusCode, 201, 'created')
  const statements = seen.filter((q) => !background.test(q))
  t.equal(statements.length, 5, statements.map((q) => q.slice(0, 40)).join(' | '))
  const id = (res.json() as { id: string }).id
  // Everything the batch wrote is there.
  t.equal(Number((await db.selectFrom('events').select(db.fn.countAll().as('n')).where('subject_id', '=', id).executeTakeFirstOrThrow()).n), 1)
  t.equal(Number((await db.selectFrom('party_index').select(db.fn.countAll().as('n')).where('subject_id', '=', id).executeTakeFirstOrThrow()).n), 2)
  t.equal(await accessRows(id), 1)
  const outbox = await sql<{ n: string }>`SELECT count(*) AS n FROM outbox o JOIN events e ON e.pos = o.event_pos WHERE e.subject_id = ${id}`.execute(db)
  t.equal(Number(outbox.rows[0]!.n), 1, 'the event is in the outbox')
})

t.test('a duplicate case number in the batch answers 409 duplicate_referral and writes nothing', async (t) => {
  const body = referralBody()
  t.equal((await post(h, world.court.key, '/v1/referrals', body)).statusCode, 201)
  const events = Number((await db.selectFrom('events').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)
  const res = await post(h, world.court.key, '/v1/referrals', body)
  t.equal(res.statusCode, 409)
  t.equal((res.json() as { code: string }).code, 'duplicate_referral')
  t.equal(Number((await db.selectFrom('events').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n), events, 'no event written')
})

t.test('parameterised statements are prepared once per connection; a changed result type costs one failure', async (t) => {
  await db.connection().execute(async (conn) => {
    const prepared = async () =>
      (await sql<{ statement: string }>`SELECT statement FROM pg_prepared_statements WHERE NOT from_sql`.execute(conn)).rows.map((r) => r.statement)
    const probe = sql<{ n: number }>`SELECT ${7}::int AS n, 'write-path probe' IS NOT NULL AS probe`
    t.same((await probe.execute(conn)).rows, [{ n: 7, probe: true }])
    t.same((await probe.execute(conn)).rows, [{ n: 7, probe: true }])
    t.equal((await prepared()).filter((s) => s.includes('write-path probe')).length, 1, 'prepared once, reused')
    const each = sql<{ n: number }>`${sql.raw(PLAN_EACH_TIME)} SELECT ${8}::int AS n, 'write-path each' IS NOT NULL AS each`
    await each.execute(conn)
    t.notOk(
      (await prepared()).some((s) => s.includes('write-path each')),
      'marked statements stay unnamed',
    )

    await sql`CREATE TABLE write_path_probe (id int PRIMARY KEY)`.execute(conn)
    await sql`INSERT INTO write_path_probe VALUES (1)`.execute(conn)
    const read = () => sql<Record<string, unknown>>`SELECT * FROM write_path_probe WHERE id = ${1}`.execute(conn)
    t.same((await read()).rows, [{ id: 1 }])
    await sql`ALTER TABLE write_path_probe ADD COLUMN note text DEFAULT 'added'`.execute(conn)
    await t.rejects(read(), { code: '0A000' }, 'the prepared plan no longer fits')
    t.same((await read()).rows, [{ id: 1, note: 'added' }], 'prepared again under a new name')
    await sql`DROP TABLE write_path_probe`.execute(conn)
  })
})

t.test('a claim by id uses the primary key even when statistics say few deliveries are pending', async (t) => {
  const res = await h.call(h.operatorKey, {
    method: 'POST',
    url: '/v1/subscriptions',
    headers: { 'idempotency-key': `plan-${Date.now()}` },
    payload: { clientId: world.platform.id, url: 'http://127.0.0.1:9/hook', eventTypes: ['referral.created'], allowPrivateNetwork: true },
  })
  t.equal(res.statusCode, 201)
  const subscriptionId = (res.json() as { id: string }).id
  // An outage: deliveries created dead while the subscription was out of service, statistics taken then (the
  // pending index empty), and a recovery that re-opens them all, as in the bench's drain.
  await sql`INSERT INTO deliveries (id, subscription_id, event_id, event_pos, event_type, subject_kind, subject_id, sequence, status)
    SELECT gen_random_uuid(), ${subscriptionId}, gen_random_uuid(), g, 'referral.created', 'referral', gen_random_uuid(), 1, 'dead'
    FROM generate_series(1, 20000) g`.execute(db)
  await sql`VACUUM ANALYZE deliveries`.execute(db)
  await sql`UPDATE deliveries SET status = 'pending' WHERE subscription_id = ${subscriptionId}`.execute(db)
  const id = (await sql<{ id: string }>`SELECT id FROM deliveries WHERE subscription_id = ${subscriptionId} LIMIT 1`.execute(db)).rows[0]!.id

  const captured: CompiledQuery[] = []
  const recording = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: h.deps.pool }),
    log: (e) => void (e.level === 'query' && captured.push(e.query)),
  })
  /** The index the plan reads the claimed row `d` through. */
  const indexOfD = async (text: string, parameters: readonly unknown[]): Promise<string | undefined> => {
    const plan = (await h.deps.pool.query(`EXPLAIN (FORMAT JSON) ${text}`, [...parameters])).rows[0]['QUERY PLAN'][0].Plan
    const find = (n: { Alias?: string; 'Relation Name'?: string; 'Node Type': string; 'Index Name'?: string; Plans?: unknown[] }): string | undefined => {
      if (n['Relation Name'] === 'deliveries' && n.Alias === 'd' && n['Node Type'].includes('Scan')) return n['Index Name'] ?? n['Node Type']
      for (const c of (n.Plans ?? []) as Array<typeof n>) {
        const f = find(c)
        if (f) return f
      }
      return undefined
    }
    return find(plan)
  }
  await claimDelivery(recording, id, 1_000)
  const claim = captured.find((q) => q.sql.includes('UPDATE deliveries d'))!
  t.ok(claim, 'the claim statement was captured')
  t.equal(await indexOfD(claim.sql, claim.parameters), 'deliveries_pkey', 'the claimed row is found by its primary key')
  // The same statement with a plain status test: planned on a partial index of pending deliveries, filtered for
  // the id (the case the expression avoids). If this stops happening, the test no longer shows anything.
  const naive = await indexOfD(claim.sql.replace("coalesce(d.status, '') = 'pending'", "d.status = 'pending'"), claim.parameters)
  t.match(naive, /^deliveries_pending_/, `control: the plain test is planned on ${naive}`)
  await sql`DELETE FROM deliveries WHERE subscription_id = ${subscriptionId}`.execute(db)
})

t.test('the wake-up: coalesced to one Redis message per turn, or a direct call when the relay is in the process', async (t) => {
  const channel = outboxChannel(`${h.prefix}_signal`)
  const sub = new Redis(REDIS_URL)
  t.teardown(() => sub.disconnect())
  let messages = 0
  sub.on('message', () => messages++)
  await sub.subscribe(channel)
  const publisher = new Redis(REDIS_URL)
  t.teardown(() => publisher.disconnect())
  const signal = new OutboxSignal(publisher, channel, () => undefined)
  for (let i = 0; i < 10; i++) signal.wake()
  await new Promise((r) => setTimeout(r, 300))
  t.equal(messages, 1, 'ten wake-ups in one turn, one message')

  let local = 0
  const off = signal.onWake(() => local++)
  signal.wake()
  signal.wake()
  await new Promise((r) => setTimeout(r, 300))
  t.equal(local, 2)
  t.equal(messages, 1, 'no Redis message while a relay of this process listens')
  off()
})

t.test('a committed referral reaches a subscriber through the wake-up alone (no poll, no sweep)', async (t) => {
  const peer = await new Peer().listen()
  t.teardown(() => peer.close())
  const engine = startEngine(h.deps, { sweepEveryMs: 3_600_000 })
  t.teardown(() => engine.stop())
  // Let the relay's start-up drains pass, so only a wake-up can fan out what comes next.
  await new Promise((r) => setTimeout(r, 500))
  const s = await subscribePeerForCourt(peer)
  t.ok(s)
  const res = await post(h, world.court.key, '/v1/referrals', referralBody())
  t.equal(res.statusCode, 201)
  const id = (res.json() as { id: string }).id
  await peer.waitFor(() => [...peer.accepted.values()].some((r) => r.event?.subject.id === id), 10_000, 'the referral.created webhook')
})

async function subscribePeerForCourt(peer: Peer) {
  const res = await h.call(h.operatorKey, {
    method: 'POST',
    url: '/v1/subscriptions',
    headers: { 'idempotency-key': `sub-${Date.now()}` },
    payload: { clientId: world.court.id, url: peer.url, eventTypes: ['referral.created'], allowPrivateNetwork: true },
  })
  if (res.statusCode !== 201) throw new Error(`subscription: ${res.statusCode} ${res.body}`)
  peer.secrets = [(res.json() as { secret: string }).secret]
  return res.json() as { id: string }
}

t.test('parallel replays of a finished key are all replays, never 409 (only a request in flight is "in use")', async (t) => {
  const key = `replays-${Date.now()}`
  const payload = referralBody() as object
  const first = await h.call(world.court.key, { method: 'POST', url: '/v1/referrals', payload, headers: { 'idempotency-key': key } })
  t.equal(first.statusCode, 201)
  const body = first.json()
  const replays = await Promise.all(
    Array.from({ length: 20 }, () => h.call(world.court.key, { method: 'POST', url: '/v1/referrals', payload, headers: { 'idempotency-key': key } })),
  )
  t.strictSame(
    replays.map((r) => r.statusCode),
    replays.map(() => 201),
    'twenty parallel replays: 201 each',
  )
  t.ok(
    replays.every((r) => r.headers['idempotent-replayed'] === 'true'),
    'each marked as a replay',
  )
  t.ok(
    replays.every((r) => r.json().id === body.id),
    'each the same referral',
  )
})
