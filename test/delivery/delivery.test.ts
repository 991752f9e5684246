import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { sql } from 'kysely'
import t from 'tap'
import type { DeliveryRow } from '../../src/db/database.js'
import { claimDelivery, recordAttempt } from '../../src/db/delivery-repository.js'
import { enqueueAt } from '../../src/delivery/queues.js'
import { agentFor, closeAgents, sendWebhook } from '../../src/delivery/sender.js'
import type { ResolveAll } from '../../src/delivery/url-guard.js'
import { nextRetryDelayMs } from '../../src/domain/retry-policy.js'
import { postRetrying, startEngine, subscribePeer, type TestEngine } from '../helpers/delivery.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'
import { eventually, startPeer, type Peer } from '../helpers/peer.js'

const h = await startHarness()
const world = await standardWorld(h)
const peers: Peer[] = []
const peer = async (...args: Parameters<typeof startPeer>) => {
  const p = await startPeer(...args)
  peers.push(p)
  return p
}
// The real retry policy (backoff with jitter, Retry-After honoured) for this engine.
let engine: TestEngine = startEngine(h.deps, { retryDelayMs: (a, ra) => nextRetryDelayMs(a, Math.random, ra) })
t.teardown(async () => {
  await engine.stop()
  for (const p of peers) await p.close()
  await h.close()
})

const op = h.operatorKey

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
async function act(id: string, path: string, body: unknown) {
  const res = await postRetrying(h, world.platform.key, `/v1/referrals/${id}/${path}`, body)
  if (res.statusCode !== 200) throw new Error(`${path} ${res.statusCode} ${res.body}`)
}

const deliveryOf = (subscriptionId: string, subjectId: string, sequence = 1) =>
  h.deps.db
    .selectFrom('deliveries')
    .selectAll()
    .where('subscription_id', '=', subscriptionId)
    .where('subject_id', '=', subjectId)
    .where('sequence', '=', sequence)
    .executeTakeFirst()

/** Waits until the delivery exists and satisfies `pred`. */
const settle = (subscriptionId: string, subjectId: string, pred: (d: DeliveryRow) => boolean, sequence = 1, what = 'delivery state') =>
  eventually(
    async () => {
      const d = await deliveryOf(subscriptionId, subjectId, sequence)
      return d && pred(d) ? d : undefined
    },
    20_000,
    what,
  )

const attempted = (d: DeliveryRow) => d.attempts > 0 && d.lease_until === null

t.test('fan-out: each subscription gets the events its client may read, of its types, from its creation on', async (t) => {
  const early = await newReferral()
  const courtPeer = await peer()
  const platformPeer = await peer()
  const foreignPeer = await peer()
  const acceptedOnlyPeer = await peer()
  const courtSub = await subscribePeer(h, world.court.id, courtPeer)
  const platformSub = await subscribePeer(h, world.platform.id, platformPeer)
  const foreignSub = await subscribePeer(h, world.otherCourt.id, foreignPeer)
  await subscribePeer(h, world.court.id, acceptedOnlyPeer, { eventTypes: ['referral.accepted'] })

  const id = await newReferral()
  await accept(id)
  await courtPeer.waitFor(() => courtPeer.acceptedEvents().filter((e) => e.subject.id === id).length === 2, 20_000, 'court events')
  await platformPeer.waitFor(() => platformPeer.acceptedEvents().filter((e) => e.subject.id === id).length === 2, 20_000, 'platform events')
  await acceptedOnlyPeer.waitFor(() => acceptedOnlyPeer.accepted.size === 1, 20_000, 'accepted only')

  const got = courtPeer.acceptedEvents().filter((e) => e.subject.id === id)
  t.same(
    got.map((e) => [e.type, e.sequence]),
    [
      ['referral.created', 1],
      ['referral.accepted', 2],
    ],
  )
  t.ok(
    courtPeer.requests.every((r) => r.verified === true),
    'every request carries a valid signature',
  )
  const first = courtPeer.requests.find((r) => r.event?.subject.id === id) as NonNullable<Peer['requests'][number]>
  t.equal(first.webhookId, first.event?.id, 'webhook-id is the event id')
  t.match(first.signature, /^v1,[A-Za-z0-9+/]+=*$/, 'one v1 signature')
  t.ok(Math.abs(Number(first.timestamp) - Date.now() / 1000) < 60, 'webhook-timestamp is now, in unix seconds')
  t.notOk(/\d{17}[\dX]/.test(first.body) || /1\d{10}/.test(first.body.replace(/"[0-9a-f-]{36}"/g, '')), 'no full ID number or phone in the payload')
  t.equal(acceptedOnlyPeer.acceptedEvents()[0].type, 'referral.accepted')
  t.notOk(
    courtPeer.requests.some((r) => r.event?.subject.id === early),
    'nothing from before the subscription existed',
  )

  // The foreign court's subscription got deliveries for none of it (the relay has run: the others were delivered).
  const foreign = await h.deps.db.selectFrom('deliveries').select('id').where('subscription_id', '=', foreignSub.id).execute()
  t.equal(foreign.length, 0)
  t.equal(foreignPeer.requests.length, 0)
  // The peer answers before the worker records the outcome: wait for the rows to say so.
  const rows = await eventually(
    async () => {
      const r = await h.deps.db.selectFrom('deliveries').selectAll().where('subject_id', '=', id).execute()
      return r.every((x) => x.status === 'delivered') ? r : undefined
    },
    20_000,
    'deliveries recorded',
  )
  t.equal(rows.length, 5, 'court ×2, platform ×2, accepted-only ×1')
  t.ok(rows.every((r) => r.status === 'delivered' && r.attempts === 1 && r.delivered_at))
  for (const s of [courtSub, platformSub, foreignSub]) await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${s.id}` })
})

t.test('the response-code table (reliability row 9)', async (t) => {
  const client = await h.client('court', { courtCodes: ['京0105'] })
  const p = await peer()
  const elsewhere = await peer()
  const sub = await subscribePeer(h, client.id, p)

  const finalCases: Array<{ name: string; action: Parameters<Peer['script']['push']>[0]; status: 'delivered' | 'dead'; http: number }> = [
    { name: '200', action: { kind: 'ok', status: 200 }, status: 'delivered', http: 200 },
    { name: '202', action: { kind: 'ok', status: 202 }, status: 'delivered', http: 202 },
    { name: '400', action: { kind: 'status', status: 400 }, status: 'dead', http: 400 },
    { name: '401', action: { kind: 'status', status: 401 }, status: 'dead', http: 401 },
    { name: '403', action: { kind: 'status', status: 403 }, status: 'dead', http: 403 },
    { name: '404', action: { kind: 'status', status: 404 }, status: 'dead', http: 404 },
    { name: '422', action: { kind: 'status', status: 422 }, status: 'dead', http: 422 },
    { name: '301 redirect (not followed)', action: { kind: 'status', status: 301, headers: { location: elsewhere.url } }, status: 'dead', http: 301 },
    { name: '307 redirect (not followed)', action: { kind: 'status', status: 307, headers: { location: elsewhere.url } }, status: 'dead', http: 307 },
  ]
  for (const c of finalCases) {
    p.script.push(c.action)
    const before = p.requests.length
    const id = await newReferral()
    const d = await settle(sub.id, id, (x) => x.status !== 'pending', 1, c.name)
    t.equal(d.status, c.status, `${c.name} → ${c.status}`)
    t.equal(d.attempts, 1, `${c.name}: one attempt only`)
    t.equal(d.last_status, c.http)
    t.equal(p.requests.length, before + 1, `${c.name}: the peer saw one request`)
  }
  t.equal(elsewhere.requests.length, 0, 'redirects were never followed')

  // 429 with Retry-After: the next attempt waits at least that long.
  p.script.push({ kind: 'status', status: 429, headers: { 'retry-after': '120' } })
  const limited = await newReferral()
  const d429 = await settle(sub.id, limited, attempted, 1, '429')
  t.equal(d429.status, 'pending')
  t.equal(d429.last_status, 429)
  const wait429 = d429.next_attempt_at.getTime() - (d429.last_attempt_at as Date).getTime()
  t.ok(wait429 >= 119_000, `Retry-After honoured (${wait429} ms)`)
  // The operator retries it now: the same webhook-id goes out again (reliability row 10).
  const retry = await post(h, op, `/v1/deliveries/${d429.id}/retry`, {})
  t.equal(retry.statusCode, 202, retry.body)
  const again = await settle(sub.id, limited, (x) => x.status === 'delivered', 1, '429 then retry')
  t.equal(again.attempts, 2)
  const ids = p.requests.filter((r) => r.event?.subject.id === limited).map((r) => r.webhookId)
  t.equal(ids.length, 2)
  t.equal(ids[0], ids[1], 'the retry carries the same webhook-id')
  const deliveredRetry = await post(h, op, `/v1/deliveries/${d429.id}/retry`, {})
  t.equal(deliveredRetry.statusCode, 409, 'a delivered delivery is not retried')
  t.equal(deliveredRetry.json().currentStatus, 'delivered')

  // 5xx: retried with exponential backoff and jitter (the first retry within 10 s), by the delayed job.
  p.script.push({ kind: 'status', status: 503 })
  const flaky = await newReferral()
  const d503 = await settle(sub.id, flaky, attempted, 1, '503')
  t.equal(d503.status, 'pending')
  const wait503 = d503.next_attempt_at.getTime() - (d503.last_attempt_at as Date).getTime()
  t.ok(wait503 >= 2_000 && wait503 <= 6_000, `first retry after 2.5–5 s (${wait503} ms)`)
  const recovered = await settle(sub.id, flaky, (x) => x.status === 'delivered', 1, '503 then 204')
  t.equal(recovered.attempts, 2, 'retried once, by itself')

  // 408 and 500 are retried too.
  for (const status of [408, 500]) {
    p.script.push({ kind: 'status', status })
    const id = await newReferral()
    const d = await settle(sub.id, id, attempted, 1, String(status))
    t.equal(d.status, 'pending', `${status} is retried`)
  }

  // 410 Gone: dead, and the subscription is disabled.
  p.script.push({ kind: 'status', status: 410 })
  const gone = await newReferral()
  const d410 = await settle(sub.id, gone, (x) => x.status !== 'pending', 1, '410')
  t.equal(d410.status, 'dead')
  const disabled = (await h.call(op, { method: 'GET', url: `/v1/subscriptions/${sub.id}` })).json()
  t.match(disabled, { enabled: false, disabledReason: 'gone_410' })
  const stillPending = await h.deps.db
    .selectFrom('deliveries')
    .select(['status', 'last_error'])
    .where('subscription_id', '=', sub.id)
    .where('status', '=', 'pending')
    .execute()
  t.equal(stillPending.length, 0, 'the retrying 408/500 deliveries ended with the subscription')
  const before = p.requests.length
  const whileDisabled = await newReferral()
  const dd = await settle(sub.id, whileDisabled, (x) => x.status === 'dead', 1, 'while disabled')
  t.equal(dd.last_error, 'subscription_disabled')
  const noRetry = await post(h, op, `/v1/deliveries/${dd.id}/retry`, {})
  t.equal(noRetry.statusCode, 422)
  t.equal(noRetry.json().code, 'subscription_disabled')
  // Re-enabled: new events flow again; the one missed meanwhile can be recovered.
  await h.call(op, { method: 'PATCH', url: `/v1/subscriptions/${sub.id}`, payload: { enabled: true } })
  const afterEnable = await newReferral()
  await settle(sub.id, afterEnable, (x) => x.status === 'delivered', 1, 'after re-enabling')
  t.notOk(
    p.requests.slice(before).some((r) => r.event?.subject.id === whileDisabled),
    'nothing was sent while disabled',
  )
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${sub.id}` })
})

t.test('URL check at connect time: a subscription whose address is no longer allowed sends nothing', async (t) => {
  const p = await peer()
  const sub = await subscribePeer(h, world.court.id, p)
  await h.deps.db.updateTable('subscriptions').set({ allow_private_network: false }).where('id', '=', sub.id).execute()
  const id = await newReferral()
  const d = await settle(sub.id, id, (x) => x.status !== 'pending', 1, 'refused at connect time')
  t.equal(d.status, 'dead')
  t.match(d.last_error, /^url_not_allowed/)
  t.equal(p.requests.length, 0, 'no request reached the loopback peer')
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${sub.id}` })
})

t.test('signatures: rotation sends both for 24 h, hmac-sm3 uses the sm3 scheme', async (t) => {
  const p = await peer()
  const sub = await subscribePeer(h, world.court.id, p)
  const oldSecret = sub.secret
  const rotated = await post(h, op, `/v1/subscriptions/${sub.id}/secret-rotation`, {})
  t.equal(rotated.statusCode, 200)
  const newSecret = rotated.json().secret as string

  p.secrets = [oldSecret]
  const one = await newReferral()
  await p.waitFor(() => p.requests.some((r) => r.event?.subject.id === one), 20_000, 'first after rotation')
  const r1 = p.requests.find((r) => r.event?.subject.id === one) as Peer['requests'][number]
  t.equal(r1.signature.split(' ').length, 2, 'two signatures during the overlap')
  t.ok(r1.signature.split(' ').every((s) => s.startsWith('v1,')))
  t.equal(r1.verified, true, 'a receiver that knows only the old secret still verifies')

  p.secrets = [newSecret]
  const two = await newReferral()
  await p.waitFor(() => p.requests.some((r) => r.event?.subject.id === two))
  t.equal(p.requests.find((r) => r.event?.subject.id === two)?.verified, true, 'and one that knows only the new secret')

  // Once the overlap has passed, the old secret signs no more.
  await h.deps.db
    .updateTable('subscriptions')
    .set({ previous_secret_expires_at: new Date(Date.now() - 1000) })
    .where('id', '=', sub.id)
    .execute()
  p.secrets = [oldSecret]
  const three = await newReferral()
  const d3 = await settle(sub.id, three, (x) => x.status !== 'pending')
  const r3 = p.requests.find((r) => r.event?.subject.id === three) as Peer['requests'][number]
  t.equal(r3.signature.split(' ').length, 1)
  t.equal(r3.verified, false, 'the old secret alone no longer verifies')
  t.equal(d3.status, 'dead', 'the receiver answered 401: dead at once')
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${sub.id}` })

  const sm3Peer = await peer()
  const sm3 = await subscribePeer(h, world.court.id, sm3Peer, { signatureAlgorithm: 'hmac-sm3' })
  const four = await newReferral()
  await settle(sm3.id, four, (x) => x.status === 'delivered')
  const r4 = sm3Peer.requests.find((r) => r.event?.subject.id === four) as Peer['requests'][number]
  t.match(r4.signature, /^sm3,[A-Za-z0-9+/]+=*$/)
  t.equal(r4.verified, true)
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${sm3.id}` })
})

t.test('head of line per subject: a later event waits for a pending earlier one, dead ones stop blocking', async (t) => {
  const p = await peer()
  const sub = await subscribePeer(h, world.court.id, p)

  // X#1 fails (retry in a few seconds); X#2 must not be attempted meanwhile; Y flows on.
  p.script.push({ kind: 'status', status: 500 })
  const x = await newReferral()
  await settle(sub.id, x, attempted, 1, 'X#1 failed once')
  await accept(x)
  const x2 = await settle(sub.id, x, () => true, 2, 'X#2 fanned out')
  const y = await newReferral()
  await settle(sub.id, y, (d) => d.status === 'delivered', 1, 'Y delivered while X is stuck')
  const x1Now = await deliveryOf(sub.id, x, 1)
  if (x1Now?.status === 'pending') {
    const x2Now = await deliveryOf(sub.id, x, 2)
    t.equal(x2Now?.attempts, 0, 'X#2 not attempted while X#1 is pending')
    t.notOk(p.requests.some((r) => r.event?.subject.id === x && r.event.sequence === 2))
  }
  await settle(sub.id, x, (d) => d.status === 'delivered', 2, 'X#2 after X#1')
  t.same(p.orderViolations(), [])
  t.ok(x2.id)

  // Z#1 fails, Z#2 waits; Z#1 then dies (400 on its retry): Z#2 goes at once.
  p.script.push({ kind: 'status', status: 500 })
  const z = await newReferral()
  const z1 = await settle(sub.id, z, attempted, 1, 'Z#1 failed once')
  await accept(z)
  await settle(sub.id, z, () => true, 2, 'Z#2 fanned out')
  t.equal((await deliveryOf(sub.id, z, 2))?.attempts, 0, 'Z#2 waits')
  p.script.push({ kind: 'status', status: 400 })
  await post(h, op, `/v1/deliveries/${z1.id}/retry`, {})
  await settle(sub.id, z, (d) => d.status === 'dead', 1, 'Z#1 dead')
  const z2 = await settle(sub.id, z, (d) => d.status === 'delivered', 2, 'Z#2 released by the dead one')
  t.equal(z2.attempts, 1)
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${sub.id}` })
})

t.test('exhaustion: dead after the retry window, delivery.exhausted to operator subscriptions only', async (t) => {
  const operator = await h.client('operator')
  const opPeer = await peer()
  const opSub = await subscribePeer(h, operator.id, opPeer, { eventTypes: ['delivery.exhausted'] })
  const courtPeer = await peer({ respond: () => ({ kind: 'status', status: 500 }) })
  const courtSub = await subscribePeer(h, world.court.id, courtPeer)
  const id = await newReferral()
  const d = await settle(courtSub.id, id, attempted, 1, 'first failure')
  t.equal(d.status, 'pending')
  // Pretend the first attempt was 26 hours ago, and let the next attempt run now.
  await h.deps.db
    .updateTable('deliveries')
    .set({ first_attempt_at: new Date(Date.now() - 26 * 3600_000), next_attempt_at: new Date() })
    .where('id', '=', d.id)
    .execute()
  await enqueueAt(h.deps.queues.deliveries, d.id)
  const dead = await settle(courtSub.id, id, (x) => x.status === 'dead', 1, 'exhausted')
  t.match(dead.last_error, /retry window exhausted/)
  const ev = await h.deps.db.selectFrom('events').selectAll().where('subject_id', '=', d.id).execute()
  t.equal(ev.length, 1)
  t.match(ev[0], { type: 'delivery.exhausted', subject_kind: 'delivery', audience: 'operator', sequence: 1 })
  t.match(ev[0].data, { deliveryId: d.id, subscriptionId: courtSub.id, eventType: 'referral.created', subject: { kind: 'referral', id } })
  await opPeer.waitFor(
    () => opPeer.acceptedEvents().some((e) => e.type === 'delivery.exhausted' && e.subject.id === d.id),
    20_000,
    'exhausted event at the operator',
  )
  t.notOk(
    courtPeer.requests.some((r) => r.event?.type === 'delivery.exhausted'),
    'courts never see operational events',
  )
  const courtFeed = (await h.call(world.court.key, { method: 'GET', url: '/v1/events?types=delivery.exhausted' })).json()
  t.equal(courtFeed.items.length, 0, 'nor in the pull feed')
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${courtSub.id}` })
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${opSub.id}` })
})

t.test('operator routes: deliveries with attempt log, recovery, sync status', async (t) => {
  const client = await h.client('court', { courtCodes: ['京0105'] })
  const stuckPeer = await peer({ respond: () => ({ kind: 'status', status: 500 }) })
  const mixedPeer = await peer()
  const stuck = await subscribePeer(h, client.id, stuckPeer)
  const mixed = await subscribePeer(h, client.id, mixedPeer)
  const big = 'x'.repeat(3000)
  // The first event is refused with a long answer (dead), the second accepted.
  mixedPeer.script.push({ kind: 'status', status: 400, body: big })
  const a = await newReferral()
  await settle(mixed.id, a, (d) => d.status === 'dead')
  const b = await newReferral()
  await settle(mixed.id, b, (d) => d.status === 'delivered')
  await settle(stuck.id, a, attempted)
  await settle(stuck.id, b, attempted)

  // Sync status, as the client sees it: only its own subscriptions.
  const mine = (await h.call(client.key, { method: 'GET', url: '/v1/sync/status' })).json()
  t.same(mine.items.map((i: { subscriptionId: string }) => i.subscriptionId).sort(), [stuck.id, mixed.id].sort())
  const st = mine.items.find((i: { subscriptionId: string }) => i.subscriptionId === stuck.id)
  t.match(st, { pending: 2, dead: 0, lastDeliveredAt: null })
  t.ok(st.oldestPendingAgeSeconds >= 0)
  const mx = mine.items.find((i: { subscriptionId: string }) => i.subscriptionId === mixed.id)
  t.match(mx, { pending: 0, dead: 1, oldestPendingAgeSeconds: null })
  t.ok(mx.lastDeliveredAt)
  const others = (await h.call(world.otherCourt.key, { method: 'GET', url: '/v1/sync/status' })).json()
  t.notOk(
    others.items.some((i: { subscriptionId: string }) => [stuck.id, mixed.id].includes(i.subscriptionId)),
    'another client sees none of them',
  )
  const all = (await h.call(op, { method: 'GET', url: '/v1/sync/status' })).json()
  t.ok(
    [stuck.id, mixed.id].every((id) => all.items.some((i: { subscriptionId: string }) => i.subscriptionId === id)),
    'operators see all',
  )
  for (const item of all.items as Array<{ subscriptionId: string; pending: number; dead: number }>) {
    const counts = await h.deps.db
      .selectFrom('deliveries')
      .select([sql<string>`count(*) FILTER (WHERE status = 'pending')`.as('pending'), sql<string>`count(*) FILTER (WHERE status = 'dead')`.as('dead')])
      .where('subscription_id', '=', item.subscriptionId)
      .executeTakeFirstOrThrow()
    if (item.subscriptionId === stuck.id || item.subscriptionId === mixed.id) t.same([item.pending, item.dead], [Number(counts.pending), Number(counts.dead)])
  }

  // The delivery list with its attempt log.
  const dead = (await h.call(op, { method: 'GET', url: `/v1/deliveries?subscriptionId=${mixed.id}&status=dead` })).json()
  t.equal(dead.items.length, 1)
  const log = dead.items[0].attemptLog
  t.equal(log.length, 1)
  t.equal(log[0].httpStatus, 400)
  t.ok(log[0].response.length <= 1024 && log[0].response.length > 0, 'the answer is kept, truncated to 1 KiB')
  t.ok(Number.isInteger(log[0].latencyMs) && log[0].latencyMs >= 0)
  t.match(dead.items[0], { eventType: 'referral.created', subject: { kind: 'referral', id: a }, sequence: 1, status: 'dead', attempts: 1, nextAttemptAt: null })
  const byType = (await h.call(op, { method: 'GET', url: `/v1/deliveries?subscriptionId=${stuck.id}&eventType=referral.accepted` })).json()
  t.equal(byType.items.length, 0)
  const future = (
    await h.call(op, {
      method: 'GET',
      url: `/v1/deliveries?subscriptionId=${stuck.id}&since=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`,
    })
  ).json()
  t.equal(future.items.length, 0)
  const page1 = (await h.call(op, { method: 'GET', url: `/v1/deliveries?subscriptionId=${stuck.id}&limit=1` })).json()
  t.equal(page1.items.length, 1)
  t.equal(page1.items[0].subject.id, b, 'newest first')
  const page2 = (await h.call(op, { method: 'GET', url: `/v1/deliveries?subscriptionId=${stuck.id}&limit=1&cursor=${page1.nextCursor}` })).json()
  t.equal(page2.items[0].subject.id, a)
  t.equal((await h.call(op, { method: 'GET', url: `/v1/deliveries/${page2.items[0].id}` })).json().id, page2.items[0].id)
  t.equal((await h.call(op, { method: 'GET', url: '/v1/deliveries/0192f0c4-8d1e-7c3a-9b1e-2f5d6a7b8c9d' })).statusCode, 404)
  t.equal((await h.call(op, { method: 'GET', url: '/v1/deliveries?status=lost' })).statusCode, 400)
  t.equal((await h.call(client.key, { method: 'GET', url: '/v1/deliveries' })).statusCode, 403)

  // Recovery re-sends only the dead ones in the window, as a background job.
  const requestsBefore = mixedPeer.requests.length
  const recovery = await h.call(op, {
    method: 'POST',
    url: `/v1/subscriptions/${mixed.id}/recovery`,
    headers: { 'idempotency-key': idemKey() },
    payload: { since: new Date(Date.now() - 3600_000).toISOString() },
  })
  t.equal(recovery.statusCode, 202, recovery.body)
  const job = await eventually(
    async () => {
      const s = (await h.call(op, { method: 'GET', url: `/v1/subscriptions/${mixed.id}/recovery/${recovery.json().jobId}` })).json()
      return s.status === 'done' ? s : undefined
    },
    20_000,
    'recovery done',
  )
  t.equal(job.requeued, 1)
  await settle(mixed.id, a, (d) => d.status === 'delivered', 1, 'recovered')
  const resent = mixedPeer.requests.slice(requestsBefore)
  t.same(
    resent.map((r) => r.event?.subject.id),
    [a],
    'only the dead delivery was sent again',
  )
  t.equal(resent[0].webhookId, mixedPeer.requests.find((r) => r.event?.subject.id === a)?.webhookId)
  const afterRecovery = (await h.call(client.key, { method: 'GET', url: '/v1/sync/status' })).json()
  t.match(
    afterRecovery.items.find((i: { subscriptionId: string }) => i.subscriptionId === mixed.id),
    { pending: 0, dead: 0 },
  )

  // Deleting a subscription ends its pending deliveries.
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${stuck.id}` })
  const ended = await h.deps.db.selectFrom('deliveries').select(['status', 'last_error']).where('subscription_id', '=', stuck.id).execute()
  t.ok(ended.every((d) => d.status === 'dead' && d.last_error === 'subscription_deleted'))
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${mixed.id}` })
})

t.test('order per subject under random peer failures (reliability row 11)', async (t) => {
  await engine.stop()
  engine = startEngine(h.deps, { retryDelayMs: () => 30 + Math.floor(Math.random() * 100) })
  let n = 0
  const p = await peer({
    respond: () => {
      n++
      const r = Math.random()
      if (r < 0.12) return { kind: 'status', status: 500 }
      if (r < 0.2) return { kind: 'status', status: 503, headers: { 'retry-after': '0' } }
      if (r < 0.26) return { kind: 'status', status: 429 }
      if (r < 0.32) return { kind: 'reset' }
      return { kind: 'ok' }
    },
  })
  const sub = await subscribePeer(h, world.court.id, p)
  const referrals = await Promise.all(Array.from({ length: 6 }, () => newReferral()))
  await Promise.all(
    referrals.map(async (id) => {
      await accept(id)
      for (let i = 0; i < 3; i++) {
        await act(id, 'suspension', { reason: 'appraisal' })
        await act(id, 'resumption', {})
      }
    }),
  )
  const events = await h.deps.db.selectFrom('events').select(['id', 'subject_id', 'sequence']).where('subject_id', 'in', referrals).execute()
  t.equal(events.length, 6 * 8)
  await p.waitFor(() => events.every((e) => p.accepted.has(e.id)), 60_000, 'every event accepted')
  t.same(p.orderViolations(), [], 'no event was sent before an earlier one of its case was accepted')
  for (const id of referrals) {
    const seqs = p
      .acceptedEvents()
      .filter((e) => e.subject.id === id)
      .map((e) => e.sequence)
    t.same(seqs, [1, 2, 3, 4, 5, 6, 7, 8], `case ${id.slice(-6)} in sequence order`)
  }
  t.ok(n > events.length, 'the peer did fail some calls')
  const rows = await eventually(
    async () => {
      const r = await h.deps.db.selectFrom('deliveries').select(['status']).where('subscription_id', '=', sub.id).execute()
      return r.every((x) => x.status === 'delivered') ? r : undefined
    },
    20_000,
    'deliveries recorded',
  )
  t.equal(rows.length, events.length, 'every delivery recorded as delivered')
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${sub.id}` })
})

t.test('keep-alive: one connection for consecutive deliveries, a closed one costs no delivery, closed at shutdown', async (t) => {
  const p = await peer()
  let connections = 0
  // Per socket, how many requests it carried; per request, in arrival order, whether its socket had carried one.
  const carried = new WeakMap<object, number>()
  const arrivals: Array<{ webhookId: string; reused: boolean }> = []
  p.server.on('connection', () => connections++)
  p.server.on('request', (req: IncomingMessage) => {
    const n = (carried.get(req.socket) ?? 0) + 1
    carried.set(req.socket, n)
    arrivals.push({ webhookId: String(req.headers['webhook-id']), reused: n > 1 })
  })
  const sub = await subscribePeer(h, world.court.id, p)

  // One after the other (well within the idle timeout): the same connection each time.
  for (let i = 0; i < 3; i++) {
    const id = await newReferral()
    await settle(sub.id, id, (d) => d.status === 'delivered', 1, `consecutive delivery ${i + 1}`)
  }
  t.equal(connections, 1, 'three deliveries, one TCP connection')
  t.equal(p.requests.length, 3)

  // The peer closes its idle connections between two deliveries: the next one connects anew, first time.
  p.server.closeIdleConnections()
  await eventually(async () => p.openSockets() === 0, 5_000, 'the peer closed its side')
  const afterClose = await newReferral()
  const d1 = await settle(sub.id, afterClose, (d) => d.status === 'delivered', 1, 'delivered after the peer closed')
  t.equal(d1.attempts, 1, 'one attempt: the closed socket was not reused')
  t.equal(connections, 2, 'a new connection')

  // The peer drops a kept-alive connection just as it is reused (the race with its idle timeout): that
  // attempt fails as a connection error and the delivery is retried, not lost.
  p.script.push({ kind: 'reset' })
  const raced = await newReferral()
  const d2 = await settle(sub.id, raced, (d) => d.status === 'delivered', 1, 'delivered after the reset')
  const webhookId = p.requests.find((r) => r.event?.subject.id === raced)?.webhookId as string
  t.same(
    arrivals.filter((a) => a.webhookId === webhookId).map((a) => a.reused),
    [true, false],
    'reset over a reused connection, retried over a new one',
  )
  t.equal(d2.attempts, 2, 'failed once, then retried')
  const attempts = await h.deps.db.selectFrom('delivery_attempts').select(['error', 'outcome']).where('delivery_id', '=', d2.id).orderBy('id').execute()
  t.match(attempts, [
    { error: /^connection/, outcome: 'retry' },
    { error: null, outcome: 'delivered' },
  ])
  t.equal(p.accepted.size, 5, 'every event accepted')

  // Stopping the worker closes the idle connections at once (they would otherwise idle for seconds).
  t.ok(p.openSockets() > 0, 'a connection is kept alive')
  await engine.stop()
  await eventually(async () => p.openSockets() === 0, 1_000, 'idle connections closed by close()')
  t.equal(p.openSockets(), 0, 'close() closed the idle connections')
  engine = startEngine(h.deps)
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${sub.id}` })
})

t.test('keep-alive: the private-network and the public pools never share a socket', async (t) => {
  const p = await peer()
  let connections = 0
  p.server.on('connection', () => connections++)
  // The same host name for both subscriptions. Answers are taken in turn (the URL check, then the connection's
  // lookup); when none is queued the name points at the loopback peer.
  const answers: string[][] = []
  const resolve: ResolveAll = async () => (answers.shift() ?? ['127.0.0.1']).map((address) => ({ address, family: 4 }))
  const url = `http://receiver.test:${p.port}/hook`
  const send = (allowPrivateNetwork: boolean) => sendWebhook({ url, body: '{}', headers: {}, allowPrivateNetwork, timeoutMs: 5_000, resolve })

  const first = await send(true)
  t.equal(first.status, 204, 'a subscription allowing private networks reaches the loopback peer')
  t.equal(Object.keys(agentFor('http:', true, resolve).freeSockets).length, 1, 'its connection is pooled')
  t.not(agentFor('http:', false, resolve), agentFor('http:', true, resolve), 'one pool per policy')

  // One that may not: the URL check sees a public address, the connection would reach loopback (rebinding).
  // Its own pool has no socket, so it connects, the lookup refuses loopback, and nothing reaches the peer.
  // With one shared pool it would have sent over the private subscription's connection.
  answers.push(['93.184.216.34'])
  const second = await send(false)
  t.equal(second.errorKind, 'url_not_allowed', 'refused at connect time')
  t.equal(p.requests.length, 1, 'the peer saw only the first request')
  t.equal(connections, 1)

  // And the other way round: the private subscription's next send still uses its own pooled connection.
  const third = await send(true)
  t.equal(third.status, 204)
  t.equal(connections, 1, 'reused its own connection')
  closeAgents()
  await eventually(async () => p.openSockets() === 0, 1_000, 'closeAgents() closed the pooled connection')
})

t.test('claim and record: one statement each, with the subscription, the event and the next in line', async (t) => {
  // The rows are written here directly: no engine may touch them meanwhile.
  await engine.stop()
  const db = h.deps.db
  const p = await peer()
  const sub = await subscribePeer(h, world.court.id, p)
  const referral = await newReferral()
  const event = await db.selectFrom('events').selectAll().where('subject_id', '=', referral).executeTakeFirstOrThrow()
  const subject = randomUUID()
  const row = (sequence: number, eventPos = event.pos) => ({
    id: randomUUID(),
    subscription_id: sub.id,
    event_id: randomUUID(),
    event_pos: eventPos,
    event_type: event.type,
    subject_kind: 'referral',
    subject_id: subject,
    sequence,
    status: 'pending' as const,
    next_attempt_at: new Date(),
    lease_until: null,
    first_attempt_at: null,
    last_attempt_at: null,
    last_status: null,
    last_error: null,
    created_at: new Date(),
    delivered_at: null,
    dead_at: null,
  })
  const [d1, d2, d3] = [row(1), row(2), row(3)]
  await db.insertInto('deliveries').values([d1, d2, d3]).execute()
  const attempt = (outcome: string) => ({ attemptedAt: new Date(), httpStatus: 204, latencyMs: 3.4, responseBody: null, error: null, outcome })

  t.same(await claimDelivery(db, d2.id, 60_000), { kind: 'blocked' }, 'the second waits for the first')
  const claim = await claimDelivery(db, d1.id, 60_000)
  if (claim.kind !== 'claimed') throw new Error(`not claimed: ${claim.kind}`)
  t.same(Object.keys(claim.delivery).sort(), Object.keys(d1).concat('attempts').sort(), 'the delivery carries its own columns only')
  t.ok(claim.delivery.lease_until && claim.delivery.lease_until.getTime() > Date.now() + 50_000, 'leased')
  t.match(claim.subscription, { id: sub.id, url: p.url, allowPrivateNetwork: true, enabled: true })
  t.same(claim.event, event, 'the event, column for column')
  t.equal((await claimDelivery(db, d1.id, 60_000)).kind, 'later', 'a leased delivery is not claimed twice')

  const r1 = await recordAttempt(db, d1.id, attempt('delivered'), { status: 'delivered' }, { findNext: true })
  t.match(r1?.delivery, { id: d1.id, status: 'delivered', attempts: 1, lease_until: null, last_status: 204, last_error: null })
  t.equal(r1?.next?.id, d2.id, 'the next in line came with it (not itself, though its snapshot still shows it pending)')
  t.equal(await recordAttempt(db, d1.id, attempt('delivered'), { status: 'delivered' }, { findNext: true }), undefined, 'a finished delivery does not change')
  const logged = await db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', d1.id).execute()
  t.equal(logged.length, 2, 'both attempts are in the log all the same')
  t.equal(logged[0].latency_ms, 3)

  const retryAt = new Date(Date.now() + 60_000)
  const r2 = await recordAttempt(
    db,
    d2.id,
    { ...attempt('retry'), httpStatus: 500, error: 'HTTP 500' },
    { status: 'pending', nextAttemptAt: retryAt, error: 'HTTP 500' },
    { findNext: true },
  )
  t.match(r2, { delivery: { status: 'pending', next_attempt_at: retryAt, last_error: 'HTTP 500', attempts: 1 }, next: undefined })
  t.same(await claimDelivery(db, d2.id, 60_000), { kind: 'later', at: retryAt })
  const r3 = await recordAttempt(db, d2.id, { ...attempt('dead'), httpStatus: 400 }, { status: 'dead', error: 'HTTP 400' }, { findNext: false })
  t.match(r3, { delivery: { status: 'dead', last_error: 'HTTP 400', attempts: 2 }, next: undefined }, 'not looked for when not asked')
  const r4 = await recordAttempt(db, d3.id, attempt('delivered'), { status: 'delivered' }, { findNext: true })
  t.equal(r4?.next, undefined, 'the last one releases nothing')

  // A missing event, a deleted subscription: the claim says so, the worker ends the delivery.
  const orphan = { ...row(1, '-1'), subject_id: randomUUID() }
  await db.insertInto('deliveries').values(orphan).execute()
  t.match(await claimDelivery(db, orphan.id, 0), { kind: 'claimed', event: undefined, subscription: { id: sub.id } })
  await db.updateTable('subscriptions').set({ deleted_at: new Date() }).where('id', '=', sub.id).execute()
  t.match(await claimDelivery(db, orphan.id, 0), { kind: 'claimed', subscription: undefined })
  await db.updateTable('deliveries').set({ status: 'dead' }).where('id', '=', orphan.id).execute()
  engine = startEngine(h.deps)
})

t.test('a finished delivery releases the next in line itself (no sweeper)', async (t) => {
  await engine.stop()
  engine = startEngine(h.deps, { retryDelayMs: () => 300, sweepEveryMs: 3_600_000 })
  let failing = true
  const p = await peer({ respond: () => (failing ? { kind: 'status', status: 500 } : { kind: 'ok' }) })
  const sub = await subscribePeer(h, world.court.id, p)
  const x = await newReferral()
  await settle(sub.id, x, attempted, 1, 'X#1 failed once')
  await accept(x)
  const x2 = await settle(sub.id, x, () => true, 2, 'X#2 fanned out')
  // X#2's own job found X#1 ahead of it and ended: only X#1 finishing can bring it back.
  await eventually(async () => (await h.deps.queues.deliveries.getJobState(x2.id)) === 'unknown', 20_000, 'X#2 job gone')
  t.equal((await deliveryOf(sub.id, x, 2))?.attempts, 0, 'X#2 not attempted while X#1 is pending')
  failing = false
  const done = await settle(sub.id, x, (d) => d.status === 'delivered', 2, 'X#2 released by X#1')
  t.equal(done.attempts, 1)
  t.same(p.orderViolations(), [])
  await engine.stop()
  engine = startEngine(h.deps)
  await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${sub.id}` })
})
