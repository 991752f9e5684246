import t from 'tap'
import { idemKey, startHarness } from '../helpers/harness.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'

const h = await startHarness()
t.teardown(() => h.close())

const world = await standardWorld(h)
const op = h.operatorKey

/**
 * Moves the clock the service reads (`new Date()`, `Date.now()`) to `iso` until the returned function is called.
 * The service runs in this process (inject), so deadlines can be computed "on" a chosen day; the rest of the
 * machinery (PostgreSQL, timers) keeps real time.
 */
function travelTo(iso: string): () => void {
  const Real = Date
  const offset = new Real(iso).getTime() - Real.now()
  class Shifted extends Real {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(Real.now() + offset)
      else super(...(args as [string]))
    }
    static override now(): number {
      return Real.now() + offset
    }
  }
  globalThis.Date = Shifted as DateConstructor
  return () => {
    globalThis.Date = Real
  }
}

t.test('GET: published years and the statutory fallback, for every role', async (t) => {
  for (const key of [world.court.key, world.platform.key, op]) {
    const res = await h.call(key, { method: 'GET', url: '/v1/calendar/2026' })
    t.equal(res.statusCode, 200, res.body)
    const y = res.json()
    t.equal(y.year, 2026)
    t.equal(y.provisional, false)
    t.ok(y.holidays.includes('2026-10-07'))
    t.same(y.workdays, ['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10'])
  }
  const y2027 = (await h.call(world.court.key, { method: 'GET', url: '/v1/calendar/2027' })).json()
  t.same(y2027, {
    year: 2027,
    holidays: [
      '2027-01-01',
      '2027-02-05',
      '2027-02-06',
      '2027-02-07',
      '2027-02-08',
      '2027-02-09',
      '2027-02-10',
      '2027-04-05',
      '2027-05-01',
      '2027-05-02',
      '2027-05-03',
      '2027-05-04',
      '2027-06-09',
      '2027-09-15',
      '2027-10-01',
      '2027-10-02',
      '2027-10-03',
      '2027-10-04',
      '2027-10-05',
    ],
    workdays: [],
    provisional: true,
  })
  t.equal((await h.call(null, { method: 'GET', url: '/v1/calendar/2027' })).statusCode, 401)
  for (const bad of ['abc', '0', '10000', '2027.5']) {
    const res = await h.call(op, { method: 'GET', url: `/v1/calendar/${bad}` })
    t.equal(res.statusCode, 400, bad)
  }
  t.equal((await h.call(op, { method: 'GET', url: '/v1/calendar/2027?x=1' })).statusCode, 400, 'unknown query parameter')
})

t.test('PUT: operators only, every bad date named', async (t) => {
  const body = { holidays: ['2028-01-01'], workdays: [] }
  for (const key of [world.court.key, world.platform.key]) {
    const res = await h.call(key, { method: 'PUT', url: '/v1/calendar/2028', payload: body })
    t.equal(res.statusCode, 403)
    t.equal(res.json().code, 'forbidden')
  }
  const bad = await h.call(op, {
    method: 'PUT',
    url: '/v1/calendar/2028',
    payload: { holidays: ['2028-02-30', '2027-12-31', '2028-01-01', '2028-01-01'], workdays: ['2028-01-01', 'soon'] },
  })
  t.equal(bad.statusCode, 400)
  const p = bad.json()
  t.equal(p.code, 'validation_failed')
  const got = p.errors.map((e: { path: string; code: string }) => `${e.path} ${e.code}`).sort()
  t.same(
    got,
    ['/holidays/0 invalid_date', '/holidays/1 wrong_year', '/holidays/3 duplicate_date', '/workdays/0 conflicting_date', '/workdays/1 invalid_date'].sort(),
  )
  const unknown = await h.call(op, { method: 'PUT', url: '/v1/calendar/2028', payload: { ...body, note: 'x' } })
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.json().errors[0].path, '/note')
  const missing = await h.call(op, { method: 'PUT', url: '/v1/calendar/2028', payload: { holidays: [] } })
  t.equal(missing.statusCode, 400)
  // Nothing was stored by the refused requests.
  t.equal((await h.call(op, { method: 'GET', url: '/v1/calendar/2028' })).json().provisional, true)

  const ok = await h.call(op, { method: 'PUT', url: '/v1/calendar/2028', payload: { holidays: ['2028-01-03', '2028-01-01'], workdays: ['2028-01-08'] } })
  t.equal(ok.statusCode, 200, ok.body)
  t.same(ok.json(), { year: 2028, holidays: ['2028-01-01', '2028-01-03'], workdays: ['2028-01-08'], provisional: false })
  // A second PUT replaces the year as a whole.
  const again = await h.call(op, { method: 'PUT', url: '/v1/calendar/2028', payload: { holidays: ['2028-01-01'], workdays: [] } })
  t.same(again.json(), { year: 2028, holidays: ['2028-01-01'], workdays: [], provisional: false })
  t.same((await h.call(world.platform.key, { method: 'GET', url: '/v1/calendar/2028' })).json(), again.json())
})

t.test('a PUT for next year is used at once by deadlines computed afterwards', async (t) => {
  // 2026-12-30 (Wed): the 3rd working day after it falls in 2027, which has no published arrangement yet.
  const back = travelTo('2026-12-30T10:00:00+08:00')
  t.teardown(back)
  const before = await post(h, world.court.key, '/v1/referrals', referralBody())
  t.equal(before.statusCode, 201, before.body)
  // 12-31 (1), 2027-01-01 statutory holiday, weekend, 01-04 (2), 01-05 (3).
  t.same(before.json().deadlines, { acceptanceDueOn: '2027-01-05', mediationDueOn: null, provisional: true })

  // The State Council publishes 2027: 1 January off, Saturday 2 January worked (调休).
  const put = await h.call(op, { method: 'PUT', url: '/v1/calendar/2027', payload: { holidays: ['2027-01-01'], workdays: ['2027-01-02'] } })
  t.equal(put.statusCode, 200, put.body)
  t.equal(put.json().provisional, false)

  const after = await post(h, world.court.key, '/v1/referrals', referralBody())
  t.equal(after.statusCode, 201, after.body)
  // 12-31 (1), 01-02 make-up working day (2), 01-04 (3): non-provisional.
  t.same(after.json().deadlines, { acceptanceDueOn: '2027-01-04', mediationDueOn: null, provisional: false })

  // Deadlines computed before the PUT are not rewritten.
  const old = await h.call(world.court.key, { method: 'GET', url: `/v1/referrals/${before.json().id}` })
  t.same(old.json().deadlines, { acceptanceDueOn: '2027-01-05', mediationDueOn: null, provisional: true })

  // Accepting now computes the mediation period on the new calendar too: 12-30 + 30 days = 2027-01-29 (a Friday).
  const accepted = await h.call(world.platform.key, {
    method: 'POST',
    url: `/v1/referrals/${after.json().id}/acceptance`,
    headers: { 'idempotency-key': idemKey() },
    payload: { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: new Date().toISOString() },
  })
  t.equal(accepted.statusCode, 200, accepted.body)
  t.same(accepted.json().deadlines, { acceptanceDueOn: '2027-01-04', mediationDueOn: '2027-01-29', provisional: false })
})
