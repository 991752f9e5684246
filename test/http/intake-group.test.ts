/**
 * Group commit of single intakes (src/http/intake-group.ts): concurrent POST /v1/referrals of one court are written
 * in one transaction, each answering exactly as alone. Every comparison runs the same bodies one after another through
 * the single route on a second service with its own database (`alone`), so the same case numbers are free on both.
 */
import { sql } from 'kysely'
import t from 'tap'
import { referralBody, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'
import { verifyReceipt } from '../../src/client/receipts.js'
import { endOfShanghaiDay } from '../../src/domain/calendar.js'

const h = await startHarness()
const alone = await startHarness()
t.teardown(() => Promise.all([h.close(), alone.close()]))
const w = await standardWorld(h)
const wa = await standardWorld(alone)

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const intake = (harness: typeof h, apiKey: string, body: unknown, key: string) =>
  harness.call(apiKey, { method: 'POST', url: '/v1/referrals', payload: body as object, headers: { 'idempotency-key': key } })

/** A referral view without what differs between two services (ids, instants). */
const shape = (r: Json) => {
  const { id, createdAt, updatedAt, ...rest } = r
  return { ...rest, id: typeof id, createdAt: typeof createdAt, updatedAt: typeof updatedAt }
}

/** The transaction that wrote each referral: rows of one group share it. */
async function writers(ids: string[]): Promise<Map<string, string>> {
  const { rows } = await sql<{ id: string; xmin: string }>`SELECT id, xmin::text AS xmin FROM referrals WHERE id = ANY(${ids}::uuid[])`.execute(h.deps.db)
  return new Map(rows.map((r) => [r.id, r.xmin]))
}

t.test('concurrent intakes of one court: one transaction, each answer as alone', async (t) => {
  const good = Array.from({ length: 6 }, () => referralBody())
  const dup = referralBody({ caseNumber: good[1]!.caseNumber })
  const unknownOrg = referralBody({ designation: { mode: 'court_designated', organizationId: 'bj-unknown' } })
  const keys = Array.from({ length: 9 }, () => idemKey())
  keys[8] = keys[0]!
  const bodies: unknown[] = [...good, dup, unknownOrg, good[0]]
  const res = await Promise.all(bodies.map((b, i) => intake(h, w.court.key, b, keys[i]!)))
  const created = res.filter((r) => r.statusCode === 201)
  t.ok(created.length >= 6, 'the six good intakes were created')
  const ids = [...new Set(created.map((r) => r.json().id as string))]
  t.equal(ids.length, 6, 'six referrals')
  const xmins = new Set((await writers(ids)).values())
  t.ok(xmins.size < ids.length, `written in fewer transactions than intakes (${xmins.size} for ${ids.length})`)
  const sizes = await h.deps.metrics.getSingleMetricAsString('zdz_intake_group_size')
  const single = Number(/zdz_intake_group_size_bucket\{le="1"\} (\d+)/.exec(sizes)?.[1])
  const groups = Number(/zdz_intake_group_size_count (\d+)/.exec(sizes)?.[1])
  t.ok(single < groups, `the group sizes metric counts groups of more than one (${single} of ${groups} alone)`)

  const jwks = (await h.call(w.court.key, { method: 'GET', url: '/v1/service-keys' })).json()
  for (const [i, body] of bodies.slice(0, 8).entries()) {
    const one = await intake(alone, wa.court.key, body, keys[i]!)
    const got = res[i]!
    t.equal(got.statusCode, one.statusCode, `intake ${i}: status`)
    t.equal(got.headers['content-type'], one.headers['content-type'], `intake ${i}: content type`)
    if (one.statusCode === 201) {
      t.same(shape(got.json()), shape(one.json()), `intake ${i}: the referral as alone`)
      t.equal(got.headers.etag, '"1"')
      t.equal(got.headers.location, `/v1/referrals/${got.json().id}`)
      const receipt = verifyReceipt(got.headers.receipt as string, jwks)
      t.same(receipt.subject, { kind: 'referral', id: got.json().id }, `intake ${i}: a valid receipt of its own referral`)
    } else {
      t.same(got.json(), one.json(), `intake ${i}: the problem as alone (${one.json().code})`)
    }
  }
  t.equal(res[6]!.json().code, 'duplicate_referral', 'a duplicate of an intake of the same group')
  t.equal(res[7]!.json().code, 'not_on_roster', 'the roster check')
  // The same key and body again: in the same group, the first intake's answer replayed (what it gets alone once the
  // first committed); in a group of its own while the first is in flight, 409 (what it gets alone meanwhile).
  const replayed = res[8]!.statusCode === 201
  if (replayed) {
    t.equal(res[8]!.json().id, res[0]!.json().id, 'intake 8 replays intake 0')
    t.equal(res[8]!.headers['idempotent-replayed'], 'true')
  } else t.equal(res[8]!.json().code, 'idempotency_key_in_use', 'intake 8 refused while intake 0 was in flight')

  // What was written, per created referral: one event, one outbox row, one trail entry with its own request id, one stored answer.
  const db = h.deps.db
  const events = await db.selectFrom('events').select(['subject_id']).where('subject_id', 'in', ids).execute()
  t.equal(events.length, 6)
  const trail = await db.selectFrom('access_log').select(['subject_id', 'request_id']).where('subject_id', 'in', ids).execute()
  // One per referral created, and one for a replay (intake 8), which shows the referral in full again.
  const views = replayed ? 7 : 6
  t.equal(trail.length, views, 'one access-trail entry per full view')
  t.equal(new Set(trail.map((r) => r.request_id)).size, views, 'each with its own request id')
  const stored = await db.selectFrom('idempotency_keys').select(['key']).where('key', 'in', keys).execute()
  t.equal(stored.length, 6, 'refusals store nothing')

  // Each referral's acceptance timer is scheduled (one addBulk for the intakes committed in one turn).
  for (const r of created) {
    const { id, deadlines } = r.json()
    const job = await h.deps.queues.timers.getJob(`${id}_${endOfShanghaiDay(deadlines.acceptanceDueOn).getTime()}`)
    t.equal(job?.data.referralId, id, `the acceptance timer of ${id}`)
  }

  // A replay later answers the stored answer exactly as a single intake's replay.
  for (const i of [0, 3]) {
    const again = await intake(h, w.court.key, bodies[i], keys[i]!)
    t.equal(again.statusCode, 201)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.equal(again.body, res[i]!.body, `intake ${i}: the replay is the first answer byte for byte`)
    t.equal(again.headers.receipt, res[i]!.headers.receipt, 'with the same receipt')
  }
})

t.test('a group whose transaction fails: each intake judged alone, none fails because of another', async (t) => {
  // A body that passes the checks but fails at the write (a claim amount beyond numeric range would, if any did):
  // forced here by a trigger that refuses one case number, so the group's statement fails as a whole.
  const db = h.deps.db
  const bad = referralBody()
  await sql
    .raw(
      `CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.case_number = '${bad.caseNumber}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$;
       CREATE TRIGGER refuse_one BEFORE INSERT ON referrals FOR EACH ROW EXECUTE FUNCTION refuse_one();`,
    )
    .execute(db)
  t.teardown(() => sql.raw('DROP TRIGGER refuse_one ON referrals; DROP FUNCTION refuse_one();').execute(db))
  const good = Array.from({ length: 4 }, () => referralBody())
  const res = await Promise.all([...good, bad].map((b) => intake(h, w.court.key, b, idemKey())))
  t.same(
    res.map((r) => r.statusCode),
    [201, 201, 201, 201, 500],
    'the good intakes are created, the failing one alone answers 500',
  )
  const n = await db.selectFrom('referrals').select(db.fn.countAll<string>().as('n')).where('case_number', '=', bad.caseNumber).executeTakeFirstOrThrow()
  t.equal(Number(n.n), 0, 'nothing of the failing intake was written')
  const warned = h.logs.lines.map((l) => JSON.parse(l) as Json).filter((l) => l.msg === 'intake group not written; its intakes go one by one')
  t.ok(warned.length >= 1 && warned.every((l) => l.level === 40 && /refused/.test(l.err.message)), 'the failed group is logged at warn with its error')
})

t.test('intakes of different clients are never grouped together', async (t) => {
  const second = await h.client('court', { courtCodes: ['京0105'] })
  const res = await Promise.all([intake(h, w.court.key, referralBody(), idemKey()), intake(h, second.key, referralBody(), idemKey())])
  t.same(
    res.map((r) => r.statusCode),
    [201, 201],
  )
  const xmins = await writers(res.map((r) => r.json().id as string))
  t.equal(new Set(xmins.values()).size, 2, 'two transactions')
})
