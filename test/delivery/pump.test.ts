/**
 * The delivery pump (src/delivery/pump.ts): many deliveries made due at once are claimed in batches straight from
 * PostgreSQL, without a BullMQ job each. What must hold as with jobs: every event delivered, in sequence order per
 * subject, failed attempts retried on schedule (here by the pump's own timers: no sweeper runs), and nothing of
 * it in Redis.
 */
import t from 'tap'
import { postRetrying, startEngine, subscribePeer } from '../helpers/delivery.js'
import { referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness } from '../helpers/harness.js'
import { eventually, startPeer } from '../helpers/peer.js'

const h = await startHarness()
const world = await standardWorld(h)
const db = h.deps.db
t.teardown(() => h.close())

async function newReferral(): Promise<string> {
  const res = await postRetrying(h, world.court.key, '/v1/referrals', referralBody())
  if (res.statusCode !== 201) throw new Error(`referral ${res.statusCode} ${res.body}`)
  return res.json().id
}

async function accept(id: string) {
  const res = await postRetrying(h, world.platform.key, `/v1/referrals/${id}/acceptance`, {
    decision: 'accepted',
    mediator: { name: '王调解' },
    acceptedAt: new Date().toISOString(),
  })
  if (res.statusCode !== 200) throw new Error(`accept ${res.statusCode} ${res.body}`)
}

t.test('a large fan-out goes through the pump: batched claims, no job each, order kept, retries on its own timers', async (t) => {
  let calls = 0
  // Every fifth request fails: those deliveries are retried (100 ms later, the test engine's retry delay).
  const p = await startPeer({ respond: () => (++calls % 5 === 0 ? { kind: 'status', status: 503 } : { kind: 'ok', delayMs: 5 }) })
  t.teardown(() => p.close())
  const sub = await subscribePeer(h, world.court.id, p)
  // Written while no relay runs: the engine's relay then fans them all out in one batch.
  const N = 30
  const referrals: string[] = []
  for (let k = 0; k < N; k++) referrals.push(await newReferral())
  // Half of them get a second event, which must wait for the first one's delivery.
  for (const id of referrals.slice(0, N / 2)) await accept(id)

  const engine = startEngine(h.deps, { sweepEveryMs: 3_600_000, pumpConcurrency: 8 })
  t.teardown(() => engine.stop())
  const events = await db.selectFrom('events').select('id').where('subject_id', 'in', referrals).execute()
  t.equal(events.length, N + N / 2)
  await p.waitFor(() => events.every((e) => p.accepted.has(e.id)), 30_000, 'every event accepted')
  await eventually(
    async () => {
      const rows = await db.selectFrom('deliveries').select('status').where('subscription_id', '=', sub.id).execute()
      return rows.length === events.length && rows.every((r) => r.status === 'delivered')
    },
    20_000,
    'every delivery marked delivered',
  )
  t.same(p.orderViolations(), [], 'sequence order per subject')
  const failed = await db
    .selectFrom('delivery_attempts')
    .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
    .select('delivery_attempts.outcome')
    .where('deliveries.subscription_id', '=', sub.id)
    .where('delivery_attempts.outcome', '=', 'retry')
    .execute()
  t.ok(failed.length > 0, `some attempts failed and were retried by the pump (${failed.length})`)

  const { pump, batching } = engine.engine
  t.ok(pump.stats.claimed >= events.length, `the pump claimed them (${pump.stats.claimed} in ${pump.stats.claims} statements)`)
  t.ok(pump.stats.claims < pump.stats.claimed, 'several per statement')
  t.equal(batching.claims.items, 0, 'no BullMQ job claimed any of them')
  const counts = await h.deps.queues.deliveries.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed')
  t.same(Object.values(counts), [0, 0, 0, 0, 0], 'nothing in Redis')
})
