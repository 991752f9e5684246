/**
 * Batched claims and records: the worker's concurrent jobs claim their deliveries in one statement and record
 * their outcomes in one more (src/delivery/coalescer.ts, claimDeliveries and recordAttempts). What must not change
 * with it: one delivery in flight per subject, in sequence order; a record that cannot be written costs no other
 * delivery its record; a worker killed between claim and record leaves every delivery of its batch to be sent again.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import t from 'tap'
import type { DeliveryRow } from '../../src/db/database.js'
import { type AttemptToRecord, claimDeliveries, type ClaimResult, recordAttempts, type RecordedAttempt } from '../../src/db/delivery-repository.js'
import { Coalescer } from '../../src/delivery/coalescer.js'
import { postRetrying, startEngine, subscribePeer } from '../helpers/delivery.js'
import { referralBody, standardWorld } from '../helpers/fixtures.js'
import { REDIS_URL, startHarness, TEST_DIR } from '../helpers/harness.js'
import { eventually, startPeer, type Peer } from '../helpers/peer.js'

const h = await startHarness()
const world = await standardWorld(h)
const db = h.deps.db
const peers: Peer[] = []
t.teardown(async () => {
  for (const p of peers) await p.close()
  await h.close()
})

async function newReferral(): Promise<string> {
  const res = await postRetrying(h, world.court.key, '/v1/referrals', referralBody())
  if (res.statusCode !== 201) throw new Error(`referral ${res.statusCode} ${res.body}`)
  return res.json().id
}

/** A subscription whose deliveries the test writes and moves itself (no engine runs while it does). */
async function quietSubscription() {
  const p = await startPeer()
  peers.push(p)
  const sub = await subscribePeer(h, world.court.id, p)
  const referral = await newReferral()
  // The relay is not running: the event stays in the outbox. Take it out, so it blocks nobody's head of line.
  const event = await db.selectFrom('events').selectAll().where('subject_id', '=', referral).executeTakeFirstOrThrow()
  await db.deleteFrom('outbox').where('event_pos', '=', event.pos).execute()
  return { sub, event }
}

function row(subscriptionId: string, eventPos: string, subject: string, sequence: number): DeliveryRow {
  return {
    id: randomUUID(),
    subscription_id: subscriptionId,
    event_id: randomUUID(),
    event_pos: eventPos,
    event_type: 'referral.created',
    subject_kind: 'referral',
    subject_id: subject,
    sequence,
    status: 'pending',
    attempts: 0,
    next_attempt_at: new Date(Date.now() - 1_000),
    lease_until: null,
    first_attempt_at: null,
    last_attempt_at: null,
    last_status: null,
    last_error: null,
    created_at: new Date(),
    delivered_at: null,
    dead_at: null,
  }
}

const delivered = (id: string, findNext = true): AttemptToRecord => ({
  id,
  attempt: { attemptedAt: new Date(), httpStatus: 204, latencyMs: 2, responseBody: null, error: null, outcome: 'delivered' },
  update: { status: 'delivered' },
  findNext,
})

t.test('concurrent batched claims: one delivery in flight per subject, in sequence order', async (t) => {
  const { sub, event } = await quietSubscription()
  const SUBJECTS = 12
  const PER_SUBJECT = 6
  const rows: DeliveryRow[] = []
  for (let s = 0; s < SUBJECTS; s++) {
    const subject = randomUUID()
    // Inserted in shuffled sequence order: the order comes from the sequence, not from the row's age.
    for (const seq of [4, 1, 6, 3, 5, 2].slice(0, PER_SUBJECT)) rows.push(row(sub.id, event.pos, subject, seq))
  }
  await db.insertInto('deliveries').values(rows).execute()
  const ids = rows.map((r) => r.id)
  const byId = new Map(rows.map((r) => [r.id, r]))
  const sent = new Map<string, number[]>()

  // Three "workers" claim everything at once, round after round: two claim all ids in one statement each, the
  // third through a coalescer, one request per id, as the worker's jobs do.
  const coalescer = new Coalescer<string, ClaimResult>({
    many: (batch) => claimDeliveries(db, batch, 60_000),
    one: async (id) => (await claimDeliveries(db, [id], 60_000))[0],
    key: (id) => id,
  })
  for (let round = 1; round <= PER_SUBJECT; round++) {
    const [a, b, c] = await Promise.all([
      claimDeliveries(db, ids, 60_000),
      claimDeliveries(db, [...ids].reverse(), 60_000),
      Promise.all(ids.map((id) => coalescer.submit(id))),
    ])
    const won = [...a.map((r, k) => [ids[k], r] as const), ...b.map((r, k) => [ids[ids.length - 1 - k], r] as const), ...c.map((r, k) => [ids[k], r] as const)]
      .filter(([, r]) => r.kind === 'claimed')
      .map(([id]) => id)
    t.equal(new Set(won).size, won.length, `round ${round}: no delivery claimed twice`)
    const subjects = won.map((id) => byId.get(id)?.subject_id)
    t.equal(new Set(subjects).size, SUBJECTS, `round ${round}: exactly one delivery in flight for each subject`)
    t.equal(won.length, SUBJECTS)
    for (const id of won) {
      const r = byId.get(id) as DeliveryRow
      sent.set(r.subject_id, [...(sent.get(r.subject_id) ?? []), r.sequence])
    }
    // A claimed delivery is neither claimable nor released until it is recorded.
    const again = await claimDeliveries(db, won, 60_000)
    t.ok(
      again.every((r) => r.kind === 'later'),
      `round ${round}: leased ones wait`,
    )
    const recorded = await recordAttempts(
      db,
      won.map((id) => delivered(id)),
    )
    t.ok(
      recorded.every((r, k) => r?.delivery.id === won[k] && r.delivery.status === 'delivered'),
      `round ${round}: all recorded in one statement`,
    )
    if (round < PER_SUBJECT) {
      t.ok(
        recorded.every((r) => r?.next && byId.get(r.next.id)?.sequence === round + 1),
        `round ${round}: each came back with its subject's next in line`,
      )
    } else {
      t.ok(
        recorded.every((r) => r?.next === undefined),
        'the last round releases nothing',
      )
    }
  }
  t.ok(coalescer.stats.batches < coalescer.stats.items, `the coalescer batched (${coalescer.stats.items} claims in ${coalescer.stats.batches} statements)`)
  for (const [subject, seqs] of sent) t.same(seqs, [1, 2, 3, 4, 5, 6], `subject ${subject.slice(0, 8)} sent in order`)
})

t.test('claims: an id asked twice in one statement is claimed once; one malformed id costs the others nothing', async (t) => {
  const { sub, event } = await quietSubscription()
  const [x, y, z] = [row(sub.id, event.pos, randomUUID(), 1), row(sub.id, event.pos, randomUUID(), 1), row(sub.id, event.pos, randomUUID(), 1)]
  await db.insertInto('deliveries').values([x, y, z]).execute()
  const twice = await claimDeliveries(db, [x.id, x.id], 60_000)
  t.equal(twice[0].kind, 'claimed')
  t.match(twice[1], { kind: 'later' }, 'the second asker finds the lease')

  const coalescer = new Coalescer<string, ClaimResult>({
    many: (batch) => claimDeliveries(db, batch, 60_000),
    one: async (id) => (await claimDeliveries(db, [id], 60_000))[0],
    key: (id) => id,
  })
  const results = await Promise.allSettled([coalescer.submit(y.id), coalescer.submit('not-a-uuid'), coalescer.submit(z.id)])
  t.equal(coalescer.stats.batches, 1, 'one statement for the three')
  t.equal(coalescer.stats.fallbacks, 1, 'it failed, and each was tried alone')
  t.match(results[0], { status: 'fulfilled', value: { kind: 'claimed', delivery: { id: y.id } } })
  t.match(results[1], { status: 'rejected' }, 'the malformed one fails alone')
  t.match(results[2], { status: 'fulfilled', value: { kind: 'claimed', delivery: { id: z.id } } })
})

t.test('records: one that cannot be written does not lose the others', async (t) => {
  const { sub, event } = await quietSubscription()
  const rows = Array.from({ length: 5 }, () => row(sub.id, event.pos, randomUUID(), 1))
  await db.insertInto('deliveries').values(rows).execute()
  const claims = await claimDeliveries(
    db,
    rows.map((r) => r.id),
    60_000,
  )
  t.ok(claims.every((c) => c.kind === 'claimed'))

  const coalescer = new Coalescer<AttemptToRecord, RecordedAttempt | undefined>({
    many: (items) => recordAttempts(db, items),
    one: async (item) => (await recordAttempts(db, [item]))[0],
    key: (item) => item.id,
  })
  // A delivery that does not exist: its attempt row breaks the attempt log's foreign key, and with it the statement.
  const ghost = randomUUID()
  const retryAt = new Date(Date.now() + 60_000)
  const items: AttemptToRecord[] = [
    delivered(rows[0].id),
    delivered(ghost),
    {
      id: rows[1].id,
      attempt: { attemptedAt: new Date(), httpStatus: 503, latencyMs: 5, responseBody: 'busy', error: 'HTTP 503', outcome: 'retry' },
      update: { status: 'pending', nextAttemptAt: retryAt, error: 'HTTP 503' },
      findNext: true,
    },
    {
      id: rows[2].id,
      attempt: { attemptedAt: new Date(), httpStatus: 400, latencyMs: 5, responseBody: null, error: 'HTTP 400', outcome: 'dead' },
      update: { status: 'dead', error: 'HTTP 400' },
      findNext: true,
    },
    delivered(rows[3].id),
    delivered(rows[4].id),
  ]
  const results = await Promise.allSettled(items.map((i) => coalescer.submit(i)))
  t.equal(coalescer.stats.batches, 1)
  t.equal(coalescer.stats.fallbacks, 1, 'the batch failed and was recorded item by item')
  t.match(results[1], { status: 'rejected', reason: { code: '23503' } }, 'only the broken one fails')
  t.ok(
    results.filter((_, k) => k !== 1).every((r) => r.status === 'fulfilled' && r.value),
    'every other record went through',
  )
  const after = new Map((await db.selectFrom('deliveries').selectAll().where('subscription_id', '=', sub.id).execute()).map((d) => [d.id, d]))
  t.match(after.get(rows[0].id), { status: 'delivered', attempts: 1, lease_until: null })
  t.match(after.get(rows[1].id), { status: 'pending', attempts: 1, lease_until: null, next_attempt_at: retryAt, last_error: 'HTTP 503' })
  t.match(after.get(rows[2].id), { status: 'dead', attempts: 1, last_error: 'HTTP 400' })
  t.match(after.get(rows[3].id), { status: 'delivered' })
  t.match(after.get(rows[4].id), { status: 'delivered' })
  const log = await db
    .selectFrom('delivery_attempts')
    .select(['delivery_id', 'outcome'])
    .where(
      'delivery_id',
      'in',
      rows.map((r) => r.id),
    )
    .execute()
  t.equal(log.length, 5, 'one attempt row each, none twice')

  // The same delivery twice: never in one statement (either could win there), so the second finds it finished.
  const again = await Promise.all([coalescer.submit(delivered(rows[1].id)), coalescer.submit(delivered(rows[1].id))])
  t.equal(again[0]?.delivery.status, 'delivered')
  t.equal(again[1], undefined, 'the second record of the same delivery changed nothing')
})

t.test('records: two deliveries of one subject finished in one statement release the one behind both', async (t) => {
  const { sub, event } = await quietSubscription()
  const subject = randomUUID()
  const [d1, d2, d3] = [row(sub.id, event.pos, subject, 1), row(sub.id, event.pos, subject, 2), row(sub.id, event.pos, subject, 3)]
  // d1 was re-opened by an operator while d2 was in flight: both leased at once.
  const lease = new Date(Date.now() + 60_000)
  await db
    .insertInto('deliveries')
    .values([{ ...d1, lease_until: lease }, { ...d2, lease_until: lease }, d3])
    .execute()
  const [r1, r2] = await recordAttempts(db, [delivered(d1.id), delivered(d2.id)])
  t.equal(r1?.next?.id, d3.id, 'not d2, finished in the same statement')
  t.equal(r2?.next?.id, d3.id, 'not d1 either')
})

t.test('a worker killed between its batched claims and their records: every delivery of the batch is sent again', async (t) => {
  const childScript = path.join(TEST_DIR, 'delivery-worker-child.ts')
  const tsImport = process.execArgv.filter((a) => a.includes('@tapjs/typescript'))
  const env = {
    ...process.env,
    NODE_OPTIONS: '',
    DATABASE_URL: h.db.url,
    REDIS_URL,
    QUEUE_PREFIX: h.prefix,
    DATA_KEYS: h.config.dataKeys,
    RECEIPT_KEYS: h.config.receiptKeys,
    CHILD_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'silent',
  }
  const p = await startPeer({ respond: () => ({ kind: 'hang' }) })
  peers.push(p)
  const sub = await subscribePeer(h, world.court.id, p)
  // The referrals first: the child's relay fans them out at once, and its jobs claim them together.
  const N = 8
  const referrals = await Promise.all(Array.from({ length: N }, () => newReferral()))
  const child: ChildProcess = fork(childScript, { execArgv: tsImport, env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve())
    child.once('exit', (code) => reject(new Error(`worker child exited with ${code}`)))
  })
  await p.waitFor(() => new Set(p.requests.map((r) => r.webhookId)).size >= N, 30_000, 'every delivery in flight at once')
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await exited
  const mid = await db.selectFrom('deliveries').selectAll().where('subscription_id', '=', sub.id).execute()
  t.equal(mid.length, N)
  t.ok(
    mid.every((d) => d.status === 'pending' && d.attempts === 0 && d.lease_until !== null),
    'claimed (leased), nothing recorded',
  )

  p.respond = () => ({ kind: 'ok' })
  const engine = startEngine(h.deps, { timeoutMs: 2_000 })
  t.teardown(() => engine.stop())
  await eventually(
    async () => {
      const rows = await db.selectFrom('deliveries').select('status').where('subscription_id', '=', sub.id).execute()
      return rows.every((r) => r.status === 'delivered')
    },
    30_000,
    'all delivered by the next worker',
  )
  const events = await db.selectFrom('events').select('id').where('subject_id', 'in', referrals).execute()
  t.ok(
    events.every((e) => p.accepted.has(e.id)),
    'every event accepted: 0 lost',
  )
  t.same(p.orderViolations(), [])
})
