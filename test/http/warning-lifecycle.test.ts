import { sql } from 'kysely'
import t from 'tap'
import { down, up } from '../../migrations/0015_warning_lifecycle.js'
import { markOverdueIfDue } from '../../src/cases/warnings/warning-service.js'
import { sweepWarningOverdue } from '../../src/cases/warnings/warning-timers.js'
import { startWorkers } from '../../src/worker-runtime.js'
import { verifySubjectChain } from '../../src/db/event-repository.js'
import { scanForPersonalData } from '../../src/domain/personal-data.js'
import { startEngine, subscribePeer } from '../helpers/delivery.js'
import { post, residentId, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'
import { eventually, startPeer } from '../helpers/peer.js'

/**
 * The warning lifecycle (contract §5 v1.1): acknowledgement by the other side, follow-ups from either side, closure
 * by the raising side, one warning.overdue when nobody acknowledged in time; the 404/403/409/412 rules, idempotency,
 * the events of both sides (pulled and pushed to a real peer), and the overdue timer driven from PostgreSQL with an
 * injected clock.
 */

const h = await startHarness()
t.teardown(() => h.close())
const world = await standardWorld(h)

const c = {
  /** Raises the court warnings (京0105 → region 110105). */
  court: world.court,
  /** Another client of the same court: the raiser's side, but not the raiser (cannot read it). */
  sameCourt: await h.client('court', { courtCodes: ['京0105'] }),
  /** Beijing platform (regions 11): the other side, on the branch of 110105. */
  platform: world.platform,
  national: await h.client('mediation', { regionCodes: ['*'] }),
  /** Guangdong: out of scope of Beijing warnings. */
  gdPlatform: world.otherPlatform,
  gdCourt: world.otherCourt,
  hdPlatform: await h.client('mediation', { regionCodes: ['110106'] }),
}
const op = h.operatorKey

const warningBody = (over: Record<string, unknown> = {}) => ({
  level: 'orange',
  regionCode: '110105',
  disputeType: 'labor',
  summary: '建筑工地 60 余名农民工集中讨薪',
  involvedPersons: 63,
  ...over,
})

async function raise(key: string, over: Record<string, unknown> = {}): Promise<string> {
  const res = await post(h, key, '/v1/warnings', warningBody(over))
  if (res.statusCode !== 201) throw new Error(`raise: ${res.statusCode} ${res.body}`)
  return res.json().id as string
}
const act = (key: string, id: string, action: string, payload?: unknown, headers: Record<string, string> = {}) =>
  h.call(key, {
    method: 'POST',
    url: `/v1/warnings/${id}/${action}`,
    ...(payload === undefined ? {} : { payload: payload as object }),
    headers: { 'idempotency-key': idemKey(), ...headers },
  })
const get = (key: string, id: string) => h.call(key, { method: 'GET', url: `/v1/warnings/${id}` })
const feed = async (key: string, types: string) => {
  const items: Array<{ id: string; type: string; sequence: number; subject: { id: string }; actor: unknown; data: Record<string, unknown> }> = []
  let after = ''
  for (;;) {
    const res = await h.call(key, { method: 'GET', url: `/v1/events?types=${types}&limit=200${after ? `&after=${after}` : ''}` })
    if (res.statusCode !== 200) throw new Error(`feed: ${res.statusCode} ${res.body}`)
    const b = res.json()
    items.push(...b.items)
    if (!b.items.length) return items
    after = b.nextCursor
  }
}
const LIFECYCLE = 'warning.acknowledged,warning.followed_up,warning.closed,warning.overdue'

t.test('a new warning is raised, due by its level', async (t) => {
  for (const [level, hours] of [
    ['red', 2],
    ['orange', 12],
    ['yellow', 24],
  ] as const) {
    const res = await post(h, c.court.key, '/v1/warnings', warningBody({ level }))
    t.equal(res.statusCode, 201)
    const w = res.json()
    t.match(w, { status: 'raised', version: 1, acknowledgedAt: null, acknowledgement: null, followUps: [], closedAt: null, closure: null, overdue: false })
    t.equal(Date.parse(w.acknowledgementDueAt) - Date.parse(w.createdAt), hours * 3_600_000, `${level}: due ${hours} h after raising`)
    const again = await get(c.court.key, w.id)
    t.same(again.json(), w, 'GET shows the same view')
    t.equal(again.headers.etag, '"1"')
  }
})

t.test('acknowledgement: the other side only, once, from raised', async (t) => {
  const id = await raise(c.court.key)
  for (const [who, key, status] of [
    ['an operator', op, 403],
    ['the raiser', c.court.key, 403],
    ['another client of the raiser’s court', c.sameCourt.key, 404],
    ['a platform elsewhere', c.gdPlatform.key, 404],
    ['a platform in a sibling district', c.hdPlatform.key, 404],
    ['a court elsewhere', c.gdCourt.key, 404],
  ] as const) {
    const res = await act(key, id, 'acknowledgement', { note: '收到' })
    t.equal(res.statusCode, status, who)
    t.equal(res.json().code, status === 403 ? 'forbidden' : 'not_found', who)
  }
  t.equal((await act(c.platform.key, 'not-a-uuid', 'acknowledgement', {})).statusCode, 404)
  t.equal((await act(c.platform.key, '00000000-0000-7000-8000-000000000000', 'acknowledgement', {})).statusCode, 404)

  // Validation and idempotency.
  t.equal((await act(c.platform.key, id, 'acknowledgement', { note: '收到', status: 'closed' })).json().code, 'validation_failed')
  t.equal((await act(c.platform.key, id, 'acknowledgement', { note: 12 })).statusCode, 400)
  const noKey = await h.call(c.platform.key, { method: 'POST', url: `/v1/warnings/${id}/acknowledgement`, payload: {} })
  t.equal(noKey.statusCode, 400)
  t.equal(noKey.json().code, 'idempotency_key_required')
  const stale = await act(c.platform.key, id, 'acknowledgement', {}, { 'if-match': '"7"' })
  t.equal(stale.statusCode, 412)
  t.equal(stale.json().code, 'version_mismatch')

  const key = idemKey()
  const ok = await act(c.platform.key, id, 'acknowledgement', { note: '已转属地综治中心' }, { 'idempotency-key': key, 'if-match': '"1"' })
  t.equal(ok.statusCode, 200, ok.body)
  const w = ok.json()
  t.match(w, {
    id,
    status: 'acknowledged',
    version: 2,
    acknowledgement: { by: { clientId: c.platform.id, role: 'mediation' }, note: '已转属地综治中心' },
    closedAt: null,
    level: 'orange',
    regionCode: '110105',
    summary: '建筑工地 60 余名农民工集中讨薪',
    raisedBy: { clientId: c.court.id, role: 'court' },
  })
  t.equal(w.acknowledgedAt, w.acknowledgement.at)
  t.equal(ok.headers.etag, '"2"')
  const replay = await act(c.platform.key, id, 'acknowledgement', { note: '已转属地综治中心' }, { 'idempotency-key': key, 'if-match': '"1"' })
  t.equal(replay.statusCode, 200)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.same(replay.json(), w, 'the replay answers the stored body')
  t.equal((await act(c.platform.key, id, 'acknowledgement', { note: '别的' }, { 'idempotency-key': key })).json().code, 'idempotency_key_reused')

  const twice = await act(c.national.key, id, 'acknowledgement', {})
  t.equal(twice.statusCode, 409)
  t.match(twice.json(), { code: 'illegal_transition', currentStatus: 'acknowledged' })
  t.same((await get(c.court.key, id)).json(), w, 'the raiser sees the acknowledgement')
  t.equal((await get(c.court.key, id)).headers.etag, '"2"')

  // Without a body at all, by a national platform; a court acknowledges a platform's warning.
  const other = await raise(c.court.key, { level: 'red' })
  const bare = await h.call(c.national.key, { method: 'POST', url: `/v1/warnings/${other}/acknowledgement`, headers: { 'idempotency-key': idemKey() } })
  t.equal(bare.statusCode, 200, bare.body)
  t.match(bare.json(), { status: 'acknowledged', acknowledgement: { note: null, by: { clientId: c.national.id } } })
  const fromPlatform = await raise(c.platform.key)
  t.equal((await act(c.platform.key, fromPlatform, 'acknowledgement', {})).statusCode, 403, 'the raising platform may not')
  t.equal((await act(c.national.key, fromPlatform, 'acknowledgement', {})).statusCode, 404, 'another platform cannot read it')
  const byCourt = await act(c.court.key, fromPlatform, 'acknowledgement', {})
  t.equal(byCourt.statusCode, 200, byCourt.body)
  t.match(byCourt.json(), { status: 'acknowledged', acknowledgement: { by: { clientId: c.court.id, role: 'court' } } })
})

t.test('follow-ups: either side, repeatable, not after closure', async (t) => {
  const id = await raise(c.court.key)
  for (const [who, key, status] of [
    ['an operator', op, 403],
    ['another client of the raiser’s court', c.sameCourt.key, 404],
    ['a platform elsewhere', c.gdPlatform.key, 404],
  ] as const) {
    const res = await act(key, id, 'follow-up', { report: '续报' })
    t.equal(res.statusCode, status, who)
  }
  t.equal((await act(c.court.key, id, 'follow-up', {})).statusCode, 400, 'a report is required')
  t.equal((await act(c.court.key, id, 'follow-up', { report: '' })).statusCode, 400)
  t.equal((await act(c.court.key, id, 'follow-up', { report: 'x'.repeat(4001) })).statusCode, 400)

  const first = await act(c.court.key, id, 'follow-up', { report: '涉事企业已垫付部分工资' })
  t.equal(first.statusCode, 200, first.body)
  t.match(first.json(), { status: 'raised', version: 2 })
  const second = await act(c.platform.key, id, 'follow-up', { report: '调解员已进驻\n现场平稳' })
  t.equal(second.statusCode, 200, second.body)
  const third = await act(c.platform.key, id, 'follow-up', { report: '调解员已进驻\n现场平稳' })
  t.equal(third.statusCode, 200, 'the same report again is another follow-up')
  const thirdKey = idemKey()
  const replayed = [
    await act(c.platform.key, id, 'follow-up', { report: '重放' }, { 'idempotency-key': thirdKey }),
    await act(c.platform.key, id, 'follow-up', { report: '重放' }, { 'idempotency-key': thirdKey }),
  ]
  t.equal(replayed[1].headers['idempotent-replayed'], 'true')
  t.same(replayed[1].json(), replayed[0].json(), 'a replay is not another follow-up')
  const w = (await get(c.court.key, id)).json()
  t.equal(w.status, 'raised', 'no state change')
  t.equal(w.version, 5)
  t.match(w.followUps, [
    { by: { clientId: c.court.id, role: 'court' }, report: '涉事企业已垫付部分工资' },
    { by: { clientId: c.platform.id, role: 'mediation' }, report: '调解员已进驻\n现场平稳' },
    { by: { clientId: c.platform.id, role: 'mediation' }, report: '调解员已进驻\n现场平稳' },
    { by: { clientId: c.platform.id, role: 'mediation' }, report: '重放' },
  ])
  t.equal(w.followUps.length, 4)
  for (const f of w.followUps) t.ok(!Number.isNaN(Date.parse(f.at)))

  t.equal((await act(c.platform.key, id, 'acknowledgement', {})).statusCode, 200)
  t.equal((await act(c.court.key, id, 'follow-up', { report: '签收后续报' })).json().status, 'acknowledged')

  t.equal((await act(c.court.key, id, 'closure', { report: '已化解' })).statusCode, 200)
  for (const key of [c.court.key, c.platform.key]) {
    const late = await act(key, id, 'follow-up', { report: '结报后' })
    t.equal(late.statusCode, 409)
    t.match(late.json(), { code: 'illegal_transition', currentStatus: 'closed' })
  }
})

t.test('closure: the raising client, from raised or acknowledged, once', async (t) => {
  const id = await raise(c.court.key)
  for (const [who, key, status, code] of [
    ['an operator', op, 403, 'forbidden'],
    ['the other side', c.platform.key, 403, 'forbidden'],
    ['a national platform', c.national.key, 403, 'forbidden'],
    ['another client of the raiser’s court', c.sameCourt.key, 404, 'not_found'],
    ['a court elsewhere', c.gdCourt.key, 404, 'not_found'],
  ] as const) {
    const res = await act(key, id, 'closure', { report: '结报' })
    t.equal(res.statusCode, status, who)
    t.equal(res.json().code, code, who)
  }
  t.equal((await act(c.court.key, id, 'closure', {})).statusCode, 400, 'a report is required')
  t.equal((await act(c.court.key, id, 'closure', { report: '结报', note: 'x' })).statusCode, 400)

  const key = idemKey()
  const closed = await act(c.court.key, id, 'closure', { report: '工资已结清，预警解除' }, { 'idempotency-key': key })
  t.equal(closed.statusCode, 200, closed.body)
  const w = closed.json()
  t.match(w, { status: 'closed', version: 2, acknowledgedAt: null, closure: { by: { clientId: c.court.id, role: 'court' }, report: '工资已结清，预警解除' } })
  t.equal(w.closedAt, w.closure.at)
  const replay = await act(c.court.key, id, 'closure', { report: '工资已结清，预警解除' }, { 'idempotency-key': key })
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.same(replay.json(), w)

  const again = await act(c.court.key, id, 'closure', { report: '再次结报' })
  t.equal(again.statusCode, 409)
  t.match(again.json(), { code: 'illegal_transition', currentStatus: 'closed' })
  const lateAck = await act(c.platform.key, id, 'acknowledgement', {})
  t.equal(lateAck.statusCode, 409)
  t.match(lateAck.json(), { code: 'illegal_transition', currentStatus: 'closed' })
  const wrongSideLate = await act(c.platform.key, id, 'closure', { report: 'x' })
  t.equal(wrongSideLate.statusCode, 403, 'the wrong side is told so before the state')

  // From acknowledged; a platform's warning is closed by that platform, not by the court.
  const fromPlatform = await raise(c.platform.key)
  t.equal((await act(c.court.key, fromPlatform, 'acknowledgement', {})).statusCode, 200)
  t.equal((await act(c.court.key, fromPlatform, 'closure', { report: 'x' })).statusCode, 403)
  const byPlatform = await act(c.platform.key, fromPlatform, 'closure', { report: '已化解' })
  t.equal(byPlatform.statusCode, 200, byPlatform.body)
  t.match(byPlatform.json(), { status: 'closed', version: 3 })
  t.ok(byPlatform.json().acknowledgedAt)

  // The list filters by status and shows the lifecycle.
  const list = (await h.call(c.court.key, { method: 'GET', url: '/v1/warnings?status=closed&limit=200' })).json()
  t.ok(list.items.length >= 1)
  t.ok(list.items.every((x: { status: string }) => x.status === 'closed'))
  t.ok(list.items.some((x: { id: string }) => x.id === id))
  t.equal((await h.call(c.court.key, { method: 'GET', url: '/v1/warnings?status=open' })).statusCode, 400)
})

t.test('parallel acknowledgements: exactly one wins', async (t) => {
  const id = await raise(c.court.key)
  const answers = await Promise.all([c.platform.key, c.national.key, c.platform.key, c.national.key].map((key) => act(key, id, 'acknowledgement', {})))
  const codes = answers.map((a) => a.statusCode).sort()
  t.same(codes, [200, 409, 409, 409])
  const events = await h.deps.db.selectFrom('events').select('type').where('subject_id', '=', id).execute()
  t.same(events.map((e) => e.type).sort(), ['warning.acknowledged', 'warning.raised'])
})

t.test('events: both sides on the branch, right types, gap-free, no personal data', async (t) => {
  const id = await raise(c.court.key)
  const idNumber = residentId()
  const mobile = '13812345678'
  t.equal((await act(c.platform.key, id, 'acknowledgement', { note: `联系人 ${mobile}` })).statusCode, 200)
  const followed = await act(c.court.key, id, 'follow-up', { report: `为首者身份证号 ${idNumber}，电话 ${mobile}` })
  t.equal(followed.statusCode, 200)
  t.same(scanForPersonalData(followed.body), [], 'the answer holds no full ID or mobile number')
  t.match(followed.json().followUps[0].report, /^为首者身份证号 110\*+\d{4}，电话 138\*\*\*\*5678$/)
  t.equal((await act(c.court.key, id, 'closure', { report: `已化解，回访 ${mobile}` })).statusCode, 200)

  const expected = ['warning.acknowledged', 'warning.followed_up', 'warning.closed']
  for (const [who, key] of [
    ['the raising court', c.court.key],
    ['the platform that acknowledged', c.platform.key],
    ['a national platform', c.national.key],
    ['another client of the raiser’s court (on the branch)', c.sameCourt.key],
  ] as const) {
    const mine = (await feed(key, LIFECYCLE)).filter((e) => e.subject.id === id)
    t.same(
      mine.map((e) => e.type),
      expected,
      `${who} pulls the lifecycle events`,
    )
  }
  for (const [who, key] of [
    ['a platform elsewhere', c.gdPlatform.key],
    ['a court elsewhere', c.gdCourt.key],
    ['a platform in a sibling district', c.hdPlatform.key],
  ] as const) {
    t.same(
      (await feed(key, LIFECYCLE)).filter((e) => e.subject.id === id),
      [],
      `${who} does not`,
    )
  }

  const all = (await feed(op, 'warning.raised,' + LIFECYCLE)).filter((e) => e.subject.id === id)
  t.same(
    all.map((e) => [e.sequence, e.type]),
    [
      [1, 'warning.raised'],
      [2, 'warning.acknowledged'],
      [3, 'warning.followed_up'],
      [4, 'warning.closed'],
    ],
  )
  t.same(all[1].actor, { clientId: c.platform.id, role: 'mediation' })
  t.same(all[3].actor, { clientId: c.court.id, role: 'court' })
  t.match(all[1].data, { warning: { id, status: 'acknowledged', version: 2, regionCode: '110105', level: 'orange' }, note: '联系人 138****5678' })
  t.match(all[2].data, { warning: { id, status: 'acknowledged', version: 3 }, followUp: { by: { clientId: c.court.id, role: 'court' } } })
  t.match(all[3].data, { warning: { id, status: 'closed', version: 4 }, report: '已化解，回访 138****5678' })
  t.notOk('summary' in (all[1].data.warning as object), 'lifecycle events leave the summary out')
  t.same(scanForPersonalData(JSON.stringify(all)), [], 'no full ID or mobile number in any warning event')
  const { rows } = await sql<{ data: unknown }>`SELECT data FROM events WHERE subject_kind = 'warning'`.execute(h.deps.db)
  t.same(scanForPersonalData(JSON.stringify(rows)), [], 'nor in the stored events')
  const stored = await h.deps.db.selectFrom('warnings').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  t.same(scanForPersonalData(JSON.stringify(stored)), [], 'nor in the warning row')
  const idem = await sql<Record<string, unknown>>`SELECT * FROM idempotency_keys`.execute(h.deps.db)
  const dump = JSON.stringify(idem.rows)
  t.notOk(dump.includes(idNumber) || dump.includes(mobile), 'nor in the idempotency store')
  t.match(await verifySubjectChain(h.deps.db, id), { valid: true, length: 4 }, 'the chain holds')

  const history = await h.call(c.court.key, { method: 'GET', url: `/v1/warnings/${id}/events` })
  t.equal(history.statusCode, 200)
  t.same(
    history.json().items.map((e: { type: string }) => e.type),
    ['warning.raised', ...expected],
  )
  t.equal((await h.call(c.gdPlatform.key, { method: 'GET', url: `/v1/warnings/${id}/events` })).statusCode, 404)
})

t.test('overdue: one event per warning not acknowledged in time, from PostgreSQL, with an injected clock', async (t) => {
  const red = await raise(c.court.key, { level: 'red' })
  const redAcked = await raise(c.court.key, { level: 'red' })
  const redClosed = await raise(c.court.key, { level: 'red' })
  const orange = await raise(c.platform.key, { level: 'orange' })
  const yellow = await raise(c.court.key, { level: 'yellow' })
  t.equal((await act(c.platform.key, redAcked, 'acknowledgement', {})).statusCode, 200)
  t.equal((await act(c.court.key, redClosed, 'closure', { report: '误报' })).statusCode, 200)
  const mine = [red, redAcked, redClosed, orange, yellow]
  const overdueOf = async () => {
    const rows = await h.deps.db
      .selectFrom('events')
      .select(['subject_id', 'actor', 'data', 'sequence'])
      .where('type', '=', 'warning.overdue')
      .where('subject_id', 'in', mine)
      .execute()
    return rows
  }
  const at = (hours: number) => new Date(Date.now() + hours * 3_600_000)

  t.equal(await sweepWarningOverdue(h.deps.db, at(1.9)), 0, 'nothing is due before 2 h')
  // Redis loses everything this test put there: the timer lives in PostgreSQL. (Only this file's keys are wiped, so
  // the test files running beside it keep theirs; for this service that is a FLUSHALL.)
  const keys = await h.deps.redis.keys(`${h.prefix}*`)
  if (keys.length) await h.deps.redis.del(...keys)

  const [a, b] = await Promise.all([markOverdueIfDue(h.deps.db, red, at(2.1)), markOverdueIfDue(h.deps.db, red, at(2.1))])
  t.equal(Number(a) + Number(b), 1, 'two racing timers: one mark')
  const [s1, s2] = await Promise.all([sweepWarningOverdue(h.deps.db, at(2.2)), sweepWarningOverdue(h.deps.db, at(2.2))])
  t.ok(s1 + s2 >= 0)
  let overdue = await overdueOf()
  t.same(
    overdue.map((e) => e.subject_id),
    [red],
    'only the unacknowledged red one: acknowledged and closed ones never',
  )
  t.equal(overdue[0].actor, 'system')
  t.match(overdue[0].data, { warning: { id: red, status: 'raised', level: 'red' } })
  const r = (await get(c.court.key, red)).json()
  t.match(r, { status: 'raised', overdue: true, version: 2 })
  t.equal((overdue[0].data as { dueAt: string }).dueAt, r.acknowledgementDueAt)

  t.equal(await sweepWarningOverdue(h.deps.db, at(11)), 0, 'nothing fires twice, the orange one is not due yet')
  const n = await sweepWarningOverdue(h.deps.db, at(30))
  t.ok(n >= 2, 'orange and yellow fire once due')
  overdue = await overdueOf()
  t.same(overdue.map((e) => e.subject_id).sort(), [red, orange, yellow].sort())
  t.equal(await sweepWarningOverdue(h.deps.db, at(100)), 0, 'each warning fires once')

  // Overdue does not block the lifecycle: a late acknowledgement still works; version follows the events.
  const late = await act(c.platform.key, red, 'acknowledgement', {}, { 'if-match': '"2"' })
  t.equal(late.statusCode, 200, late.body)
  t.match(late.json(), { status: 'acknowledged', overdue: true, version: 3 })
  t.equal(await markOverdueIfDue(h.deps.db, red, at(100)), false)

  // Both sides see the overdue event.
  for (const key of [c.court.key, c.platform.key]) {
    t.ok((await feed(key, 'warning.overdue')).some((e) => e.subject.id === red && e.actor === 'system'))
  }
})

t.test('delivery: lifecycle events reach the subscribers of both sides, also after Redis lost everything', async (t) => {
  const platformPeer = await startPeer()
  const courtPeer = await startPeer()
  const elsewherePeer = await startPeer()
  t.teardown(() => Promise.all([platformPeer.close(), courtPeer.close(), elsewherePeer.close()]))
  await subscribePeer(h, c.platform.id, platformPeer)
  await subscribePeer(h, c.court.id, courtPeer)
  await subscribePeer(h, c.gdPlatform.id, elsewherePeer)
  const engine = startEngine(h.deps, { sweepEveryMs: 300 })
  t.teardown(() => engine.stop())

  const id = await raise(c.court.key, { level: 'red' })
  t.equal((await act(c.platform.key, id, 'acknowledgement', { note: '收到' })).statusCode, 200)
  t.equal((await act(c.court.key, id, 'follow-up', { report: '续报一' })).statusCode, 200)
  const seen = (peer: typeof platformPeer) => peer.acceptedEvents().filter((e) => e.subject.id === id)
  await eventually(async () => seen(platformPeer).length >= 3 && seen(courtPeer).length >= 2, 20_000, 'deliveries to both sides')
  t.same(
    seen(platformPeer).map((e) => e.type),
    ['warning.raised', 'warning.acknowledged', 'warning.followed_up'],
    'the other side: the raised warning and its lifecycle',
  )
  t.same(
    seen(courtPeer).map((e) => e.type),
    ['warning.acknowledged', 'warning.followed_up'],
    'the raising side: the lifecycle (not its own warning.raised)',
  )
  t.ok(
    platformPeer.requests.every((r) => r.verified !== false),
    'signed',
  )

  // Redis loses this service's keys; the overdue of another warning still reaches both sides.
  const keys = await h.deps.redis.keys(`${h.prefix}*`)
  if (keys.length) await h.deps.redis.del(...keys)
  const late = await raise(c.court.key, { level: 'red' })
  t.equal(await markOverdueIfDue(h.deps.db, late, new Date(Date.now() + 3 * 3_600_000)), true)
  h.deps.outboxSignal.wake()
  const overdueAt = (peer: typeof platformPeer) => peer.acceptedEvents().some((e) => e.subject.id === late && e.type === 'warning.overdue')
  await eventually(async () => overdueAt(platformPeer) && overdueAt(courtPeer), 20_000, 'the overdue event at both peers')
  t.pass('warning.overdue delivered to both sides')
  t.same(
    elsewherePeer.acceptedEvents().filter((e) => e.subject.kind === 'warning'),
    [],
    'nothing for a platform elsewhere',
  )
  t.same(scanForPersonalData([...platformPeer.requests, ...courtPeer.requests].map((r) => r.body).join('\n')), [])
})

t.test('the code tables and subscriptions know the new event types', async (t) => {
  const table = (await h.call(c.court.key, { method: 'GET', url: '/v1/code-tables/event-types' })).json()
  for (const type of LIFECYCLE.split(','))
    t.ok(
      table.entries.some((e: { code: string }) => e.code === type),
      type,
    )
  const sub = await h.call(op, {
    method: 'POST',
    url: '/v1/subscriptions',
    headers: { 'idempotency-key': idemKey() },
    payload: { clientId: c.platform.id, url: 'http://127.0.0.1:9/hook', eventTypes: LIFECYCLE.split(','), allowPrivateNetwork: true },
  })
  t.equal(sub.statusCode, 201, sub.body)
})

t.test('the worker runs the overdue sweep', async (t) => {
  const id = await raise(c.court.key, { level: 'red' })
  // Due already (as if raised more than 2 h ago): the worker's own clock finds it.
  await h.deps.db
    .updateTable('warnings')
    .set({ ack_due_at: new Date(Date.now() - 60_000) })
    .where('id', '=', id)
    .execute()
  const workers = startWorkers(h.deps, { sweepIntervalMs: 200, materialsIntervalMs: 3_600_000 })
  const overdueEvents = () =>
    h.deps.db.selectFrom('events').select(['actor', 'sequence']).where('subject_id', '=', id).where('type', '=', 'warning.overdue').execute()
  await eventually(async () => (await overdueEvents()).length > 0, 20_000, 'the overdue event')
  await workers.close()
  const fired = await overdueEvents()
  t.equal(fired.length, 1, 'one event, however many sweeps ran meanwhile')
  t.same(fired[0], { actor: 'system', sequence: 2 })
  t.match((await get(c.platform.key, id)).json(), { status: 'raised', overdue: true })
})

// Last: it takes the lifecycle columns away and back.
t.test('migration 0015: earlier warnings become raised, due by their level, and overdue ones are marked once', async (t) => {
  const db = h.deps.db as unknown as Parameters<typeof up>[0]
  await down(db)
  const hour = 3_600_000
  const now = Date.now()
  const before = [
    { id: '0195f0c3-0000-7000-8000-000000000001', level: 'red', created: new Date(now - 3 * hour) },
    { id: '0195f0c3-0000-7000-8000-000000000002', level: 'orange', created: new Date(now - 13 * hour) },
    { id: '0195f0c3-0000-7000-8000-000000000003', level: 'yellow', created: new Date(now - 1 * hour) },
  ]
  for (const w of before) {
    await sql`INSERT INTO warnings (id, level, region_code, dispute_type, summary, involved_persons, raised_by_client, raised_by_role, raised_by_name, chain_head, created_at)
      VALUES (${w.id}::uuid, ${w.level}, '110105', 'labor', '迁移前的预警', 5, ${c.court.id}::uuid, 'court', 'court', '', ${w.created})`.execute(h.deps.db)
  }
  await up(db)
  const rows = await h.deps.db
    .selectFrom('warnings')
    .select(['id', 'status', 'version', 'ack_due_at', 'updated_at', 'created_at', 'overdue_at', 'follow_ups'])
    .where(
      'id',
      'in',
      before.map((w) => w.id),
    )
    .orderBy('id')
    .execute()
  const hours = { red: 2, orange: 12, yellow: 24 }
  t.same(
    rows.map((r) => [
      r.status,
      r.version,
      r.ack_due_at.getTime() - r.created_at.getTime(),
      r.updated_at.getTime() === r.created_at.getTime(),
      r.overdue_at,
      r.follow_ups,
    ]),
    before.map((w) => ['raised', 1, hours[w.level as keyof typeof hours] * hour, true, null, []]),
  )
  t.equal(await sweepWarningOverdue(h.deps.db, new Date(now)), 2, 'the red and the orange one are overdue already')
  t.equal(await sweepWarningOverdue(h.deps.db, new Date(now)), 0, 'once')
  const marked = await h.deps.db
    .selectFrom('events')
    .select('subject_id')
    .where('type', '=', 'warning.overdue')
    .where(
      'subject_id',
      'in',
      before.map((w) => w.id),
    )
    .execute()
  t.same(marked.map((m) => m.subject_id).sort(), [before[0].id, before[1].id])
  const view = (await get(c.court.key, before[2].id)).json()
  t.match(view, { status: 'raised', overdue: false, followUps: [], acknowledgedAt: null, closedAt: null })

  // A row inserted the old way after the migration gets its due time too.
  const lateId = '0195f0c3-0000-7000-8000-000000000004'
  await sql`INSERT INTO warnings (id, level, region_code, dispute_type, summary, involved_persons, raised_by_client, raised_by_role, raised_by_name, chain_head, created_at)
    VALUES (${lateId}::uuid, 'red', '110105', 'labor', 'x', 1, ${c.court.id}::uuid, 'court', 'court', '', ${new Date(now)})`.execute(h.deps.db)
  const late = await h.deps.db.selectFrom('warnings').select(['ack_due_at', 'status']).where('id', '=', lateId).executeTakeFirstOrThrow()
  t.equal(late.ack_due_at.getTime(), now + 2 * hour)
  t.equal(late.status, 'raised')
})
