import t from 'tap'
import { postRetrying, startEngine, subscribePeer } from '../helpers/delivery.js'
import { referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness } from '../helpers/harness.js'
import { eventually, startPeer } from '../helpers/peer.js'

// Contract §7: failed delivery attempts are logged at warn (subscription, event id and type, HTTP status or error,
// attempt number, next attempt time), dead deliveries at error; ids and types only, never the event's body.

const h = await startHarness()
const world = await standardWorld(h)
const peer = await startPeer()
const engine = startEngine(h.deps)
t.teardown(async () => {
  await engine.stop()
  await peer.close()
  await h.close()
})

interface Line {
  level: number
  msg: string
  component?: string
  [k: string]: unknown
}
const WARN = 40
const ERROR = 50
const lines = (): Line[] => h.logs.lines.map((l) => JSON.parse(l) as Line)
const aboutEvent = (eventId: string) => lines().filter((l) => l.eventId === eventId)

/** Every string in a JSON value, for the check that none of the event body reached the log. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v)
  else if (Array.isArray(v)) for (const x of v) strings(x, out)
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, out)
  return out
}

t.test('a 500 then a 400: one warn line per failed attempt, one error line for the dead delivery', async (t) => {
  peer.script.push({ kind: 'status', status: 500, body: 'upstream down' }, { kind: 'status', status: 400, body: 'bad request' })
  const sub = await subscribePeer(h, world.court.id, peer, { eventTypes: ['referral.created'] })
  const created = await postRetrying(h, world.court.key, '/v1/referrals', referralBody())
  t.equal(created.statusCode, 201, created.body)
  const delivery = await eventually(
    () => h.deps.db.selectFrom('deliveries').selectAll().where('subscription_id', '=', sub.id).where('status', '=', 'dead').executeTakeFirst(),
    20_000,
    'the delivery dead',
  )
  await eventually(async () => aboutEvent(delivery.event_id).some((l) => l.level === ERROR), 5_000, 'the error line')
  const mine = aboutEvent(delivery.event_id)
  const warns = mine.filter((l) => l.level === WARN)
  const errors = mine.filter((l) => l.level === ERROR)

  t.equal(warns.length, 2, 'one warn line per failed attempt')
  t.match(warns[0], {
    component: 'delivery',
    subscriptionId: sub.id,
    deliveryId: delivery.id,
    eventId: delivery.event_id,
    eventType: 'referral.created',
    httpStatus: 500,
    error: null,
    attempt: 1,
    nextAttemptAt: String,
  })
  const next = Date.parse(warns[0].nextAttemptAt as string)
  t.ok(next > Date.parse((warns[0] as unknown as { time: string }).time) - 1_000, 'the next attempt time is a time')
  t.match(warns[1], { subscriptionId: sub.id, eventId: delivery.event_id, eventType: 'referral.created', httpStatus: 400, attempt: 2, nextAttemptAt: null })

  t.equal(errors.length, 1, 'one error line for the dead delivery')
  t.match(errors[0], {
    component: 'delivery',
    msg: 'webhook delivery dead',
    subscriptionId: sub.id,
    deliveryId: delivery.id,
    eventId: delivery.event_id,
    eventType: 'referral.created',
    httpStatus: 400,
    attempts: 2,
    reason: 'HTTP 400',
  })

  // Ids and types only: nothing of the event's body (masked personal data, case facts) or the answers' bodies.
  const body = peer.requests[0].body
  const leaves = strings(JSON.parse(body))
    .filter((s) => s.length >= 2 && !/^[0-9a-f-]{36}$/.test(s) && s !== 'referral.created' && s !== 'referral')
    .concat(['upstream down', 'bad request'])
  t.ok(leaves.length > 5, 'the event body has text to look for')
  const text = mine.map((l) => JSON.stringify(l)).join('\n')
  for (const s of leaves) t.notOk(text.includes(s), `not logged: ${s}`)
  t.notOk(text.includes(peer.url), 'nor the subscription URL')
  await h.call(h.operatorKey, { method: 'DELETE', url: `/v1/subscriptions/${sub.id}` })
})

t.test('a connection error is logged with the error instead of a status, and the next attempt time', async (t) => {
  const closed = await startPeer()
  const url = closed.url
  await closed.close()
  const sub = await subscribePeer(h, world.court.id, { url } as never, { eventTypes: ['referral.created'] })
  const created = await postRetrying(h, world.court.key, '/v1/referrals', referralBody())
  t.equal(created.statusCode, 201, created.body)
  const failed = await eventually(
    async () => {
      const found = lines().filter((l) => l.subscriptionId === sub.id && l.level === WARN)
      return found.length >= 2 ? found : undefined
    },
    20_000,
    'two failed attempts',
  )
  t.match(failed[0], { eventType: 'referral.created', httpStatus: null, error: /^connection: /, nextAttemptAt: String })
  t.notOk(
    lines().some((l) => l.subscriptionId === sub.id && l.level === ERROR),
    'retried, not dead',
  )
  await h.call(h.operatorKey, { method: 'DELETE', url: `/v1/subscriptions/${sub.id}` })
})
