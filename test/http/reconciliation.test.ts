import { createHash, randomUUID } from 'node:crypto'
import t from 'tap'
import { sql } from 'kysely'
import { uuidv7 } from 'uuidv7'
import { shanghaiDate } from '../../src/domain/calendar.js'
import { caseNumber, grantSpecialRoster, organizationBody, post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness } from '../helpers/harness.js'

const h = await startHarness()
t.teardown(() => h.close())
const w = await standardWorld(h)
const db = h.deps.db

// Organizations: bj-cy-blz (110105, standardWorld), bj-hd-1 (110108), gd-1 (440604).
for (const [id, key, regionCode, court] of [
  ['bj-hd-1', w.platform.key, '110108', '京0105'],
  ['gd-1', w.otherPlatform.key, '440604', '粤0604'],
] as const) {
  const res = await h.call(key, { method: 'PUT', url: `/v1/organizations/${id}`, payload: organizationBody({ regionCode }) })
  if (res.statusCode !== 201) throw new Error(res.body)
  await grantSpecialRoster(h, id, [court])
}
/** A platform client bound to one organization by id (no region), and the national platform. */
const orgClient = await h.client('mediation', { organizationIds: ['bj-cy-blz'] })
const nationalPlatform = await h.client('mediation', { regionCodes: ['*'] })

let caseSeq = 1
/** A referral row as the service writes it, with chosen version, status and last change (only those matter here). */
async function seedReferral(r: { court: string; org: string; heldBy?: string[]; status: string; version: number; updatedAt: string }): Promise<string> {
  const id = uuidv7()
  await db
    .insertInto('referrals')
    .values({
      id,
      version: r.version,
      status: r.status,
      referral_type: 'pre_filing',
      court_code: r.court,
      case_number: `（2026）${r.court}民诉前调${90000 + caseSeq++}号`,
      dispute_type: 'neighbor',
      organization_id: r.org,
      held_by: r.heldBy ?? [r.org],
      acceptance_due_on: null,
      mediation_due_on: null,
      chain_head: '0'.repeat(64),
      doc: '{}',
      created_at: new Date('2026-11-30T02:00:00Z'),
      updated_at: new Date(r.updatedAt),
    })
    .execute()
  return id
}

async function seedConfirmation(c: { court: string; org: string; status: string; version: number; updatedAt: string }): Promise<string> {
  const id = uuidv7()
  await sql`INSERT INTO judicial_confirmations (id, version, status, referral_id, court_code, organization_id, subject, late, applied_at,
              case_number, review_due_on, agreement_sha256, chain_head, doc, created_at, updated_at)
            VALUES (${id}, ${c.version}, ${c.status}, NULL, ${c.court}, ${c.org}, 'ordinary', false, '2026-12-01T02:00:00Z', NULL, NULL,
              ${'a'.repeat(64)}, ${'0'.repeat(64)}, '{}', '2026-12-01T02:00:00Z', ${c.updatedAt})`.execute(db)
  return id
}

// 2026-12-06 in Asia/Shanghai runs from 2026-12-05T16:00:00Z (inclusive) to 2026-12-06T16:00:00Z (exclusive).
const R = {
  lastSecond: await seedReferral({ court: '京0105', org: 'bj-cy-blz', status: 'mediating', version: 3, updatedAt: '2026-12-06T15:59:59Z' }),
  firstInstant: await seedReferral({ court: '京0105', org: 'bj-cy-blz', status: 'referred', version: 1, updatedAt: '2026-12-05T16:00:00Z' }),
  otherOrg: await seedReferral({ court: '京0105', org: 'bj-hd-1', status: 'agreed', version: 5, updatedAt: '2026-12-06T03:00:00Z' }),
  guangdong: await seedReferral({ court: '粤0604', org: 'gd-1', status: 'terminated', version: 6, updatedAt: '2026-12-06T08:00:00Z' }),
  nextDay: await seedReferral({ court: '京0105', org: 'bj-cy-blz', status: 'mediating', version: 2, updatedAt: '2026-12-06T16:00:00Z' }),
  dayBefore: await seedReferral({ court: '京0105', org: 'bj-cy-blz', status: 'referred', version: 1, updatedAt: '2026-12-05T15:59:59.999Z' }),
  // Held by bj-cy-blz once, now by bj-hd-1: bj-cy-blz's client still reads it (contract §0).
  onceHeld: await seedReferral({
    court: '京0105',
    org: 'bj-hd-1',
    heldBy: ['bj-cy-blz', 'bj-hd-1'],
    status: 'mediating',
    version: 4,
    updatedAt: '2026-12-06T12:00:00Z',
  }),
}
const C = {
  beijing: await seedConfirmation({ court: '京0105', org: 'bj-cy-blz', status: 'under_review', version: 2, updatedAt: '2026-12-06T01:00:00Z' }),
  guangdong: await seedConfirmation({ court: '粤0604', org: 'gd-1', status: 'applied', version: 1, updatedAt: '2026-12-06T09:30:00Z' }),
  nextDay: await seedConfirmation({ court: '京0105', org: 'bj-cy-blz', status: 'ruled_valid', version: 4, updatedAt: '2026-12-06T16:00:00Z' }),
}

/** The rows as the tables hold them: what the digest is computed from, independently of the service. */
async function rowsOf(table: 'referrals' | 'judicial_confirmations', ids: string[]) {
  const rows = await db.selectFrom(table).select(['id', 'version', 'status']).where('id', 'in', ids).execute()
  return rows
}
function digestOf(rows: Array<{ id: string; version: number; status: string }>): string {
  const lines = [...rows]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((r) => `${r.id}:${r.version}:${r.status}\n`)
    .join('')
  return createHash('sha256').update(lines).digest('hex')
}
function countsOf(rows: Array<{ status: string }>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of rows) out[r.status] = (out[r.status] ?? 0) + 1
  return out
}

const day = (key: string | null, query: string) => h.call(key, { method: 'GET', url: `/v1/reconciliation?${query}` })
const diff = (key: string, body: unknown, headers: Record<string, string> = {}) =>
  h.call(key, { method: 'POST', url: '/v1/reconciliation/diff', payload: body as object, headers })

t.test('the day: count, count per status and digest, computed independently', async (t) => {
  const res = await day(h.operatorKey, 'date=2026-12-06&kind=referral')
  t.equal(res.statusCode, 200)
  const ids = [R.lastSecond, R.firstInstant, R.otherOrg, R.guangdong, R.onceHeld]
  const rows = await rowsOf('referrals', ids)
  const body = res.json()
  t.same(body, { date: '2026-12-06', kind: 'referral', count: 5, byStatus: countsOf(rows), digest: digestOf(rows) })
  t.same(body.byStatus, { agreed: 1, mediating: 2, referred: 1, terminated: 1 })
  t.same(Object.keys(body.byStatus), ['agreed', 'mediating', 'referred', 'terminated'], 'statuses in alphabetical order')
  t.match(body.digest, /^[0-9a-f]{64}$/)

  const again = await day(h.operatorKey, 'date=2026-12-06&kind=referral')
  t.same(again.json(), body, 'the same answer twice')

  const empty = await day(h.operatorKey, 'date=2020-01-01&kind=referral')
  t.same(empty.json(), {
    date: '2020-01-01',
    kind: 'referral',
    count: 0,
    byStatus: {},
    digest: createHash('sha256').update('').digest('hex'),
  })
})

t.test('the day boundary is midnight in Asia/Shanghai', async (t) => {
  const on6 = (await day(h.operatorKey, 'date=2026-12-06&kind=referral')).json()
  const on7 = (await day(h.operatorKey, 'date=2026-12-07&kind=referral')).json()
  const on5 = (await day(h.operatorKey, 'date=2026-12-05&kind=referral')).json()
  t.equal(on7.count, 1, '2026-12-06T16:00:00Z is 2026-12-07 00:00 in Shanghai')
  t.equal(on7.digest, digestOf(await rowsOf('referrals', [R.nextDay])))
  t.equal(on5.count, 1, '2026-12-05T15:59:59.999Z is 2026-12-05 23:59:59.999 in Shanghai')
  t.equal(on5.digest, digestOf(await rowsOf('referrals', [R.dayBefore])))
  const day6 = await rowsOf('referrals', [R.lastSecond, R.firstInstant, R.otherOrg, R.guangdong, R.onceHeld])
  t.equal(on6.digest, digestOf(day6), '2026-12-06T15:59:59Z and 2026-12-05T16:00:00Z both fall on 2026-12-06')
})

t.test('scope: the read scope of the lists', async (t) => {
  const cases: Array<[string, string, string[]]> = [
    ['court 京0105: its court’s cases', w.court.key, [R.lastSecond, R.firstInstant, R.otherOrg, R.onceHeld]],
    ['court 粤0604', w.otherCourt.key, [R.guangdong]],
    ['platform of region 11: its organizations’ cases', w.platform.key, [R.lastSecond, R.firstInstant, R.otherOrg, R.onceHeld]],
    ['platform of region 44', w.otherPlatform.key, [R.guangdong]],
    ['client of bj-cy-blz: the cases it holds or held', orgClient.key, [R.lastSecond, R.firstInstant, R.onceHeld]],
    ['national platform (*): all', nationalPlatform.key, [R.lastSecond, R.firstInstant, R.otherOrg, R.guangdong, R.onceHeld]],
    ['operator: all', h.operatorKey, [R.lastSecond, R.firstInstant, R.otherOrg, R.guangdong, R.onceHeld]],
  ]
  for (const [label, key, ids] of cases) {
    const res = await day(key, 'date=2026-12-06&kind=referral')
    t.equal(res.statusCode, 200, label)
    const rows = await rowsOf('referrals', ids)
    t.same(res.json(), { date: '2026-12-06', kind: 'referral', count: ids.length, byStatus: countsOf(rows), digest: digestOf(rows) }, label)
  }

  const confirmations: Array<[string, string, string[]]> = [
    ['court 京0105', w.court.key, [C.beijing]],
    ['court 粤0604', w.otherCourt.key, [C.guangdong]],
    ['platform of region 11', w.platform.key, [C.beijing]],
    ['platform of region 44', w.otherPlatform.key, [C.guangdong]],
    ['client of bj-cy-blz', orgClient.key, [C.beijing]],
    ['operator', h.operatorKey, [C.beijing, C.guangdong]],
  ]
  for (const [label, key, ids] of confirmations) {
    const res = await day(key, 'date=2026-12-06&kind=judicial_confirmation')
    t.equal(res.statusCode, 200, label)
    const rows = await rowsOf('judicial_confirmations', ids)
    t.same(
      res.json(),
      { date: '2026-12-06', kind: 'judicial_confirmation', count: ids.length, byStatus: countsOf(rows), digest: digestOf(rows) },
      `confirmations, ${label}`,
    )
  }
  const next = (await day(h.operatorKey, 'date=2026-12-07&kind=judicial_confirmation')).json()
  t.same(next.byStatus, { ruled_valid: 1 }, 'a confirmation changed at 16:00:00Z is on the next day')
})

t.test('diff: missing, unknown and matched', async (t) => {
  const randomId = uuidv7()
  const body = {
    date: '2026-12-06',
    kind: 'referral',
    items: [
      { id: R.lastSecond, version: 3 }, // current: matched
      { id: R.firstInstant, version: 1 }, // current: matched
      { id: R.otherOrg, version: 4 }, // older than 5: missing
      // R.onceHeld not listed: missing
      { id: R.guangdong, version: 6 }, // another court's: unknown
      { id: randomId, version: 1 }, // no such case: unknown
      { id: 'not-a-case-id', version: 1 }, // not even an id: unknown
      { id: R.nextDay, version: 2 }, // readable, last changed on 12-07: none of the three
      { id: C.beijing, version: 2 }, // a confirmation, not a referral: unknown
    ],
  }
  const res = await diff(w.court.key, body)
  t.equal(res.statusCode, 200, 'no Idempotency-Key: the diff is a read')
  const expectedMissing = [
    { id: R.otherOrg, version: 5 },
    { id: R.onceHeld, version: 4 },
  ].sort((a, b) => (a.id < b.id ? -1 : 1))
  t.same(res.json(), { missing: expectedMissing, unknown: [R.guangdong, randomId, 'not-a-case-id', C.beijing], matched: 2 })
  const count = (await day(w.court.key, 'date=2026-12-06&kind=referral')).json().count
  t.equal(res.json().matched + res.json().missing.length, count, 'matched + missing = the day’s count')

  const newer = await diff(w.court.key, { date: '2026-12-06', kind: 'referral', items: [{ id: R.lastSecond, version: 9 }] })
  t.same(
    newer.json().missing.find((m: { id: string }) => m.id === R.lastSecond),
    { id: R.lastSecond, version: 3 },
    'a version the service never had is missing, with the current one',
  )

  const upper = await diff(w.court.key, { date: '2026-12-06', kind: 'referral', items: [{ id: R.lastSecond.toUpperCase(), version: 3 }] })
  t.equal(upper.json().matched, 1, 'ids compare case-insensitively')
  t.same(upper.json().unknown, [])

  const all = await diff(h.operatorKey, { date: '2026-12-06', kind: 'referral', items: [] })
  t.equal(all.json().missing.length, 5, 'an empty list: every case of the day is missing')
  t.equal(all.json().matched, 0)

  const conf = await diff(w.otherPlatform.key, {
    date: '2026-12-06',
    kind: 'judicial_confirmation',
    items: [
      { id: C.guangdong, version: 1 },
      { id: C.beijing, version: 2 },
    ],
  })
  t.same(conf.json(), { missing: [], unknown: [C.beijing], matched: 1 }, 'confirmations: another region’s application is unknown')

  const orgView = await diff(orgClient.key, { date: '2026-12-06', kind: 'referral', items: [{ id: R.otherOrg, version: 5 }] })
  t.same(orgView.json().unknown, [R.otherOrg], 'an organization never held by the client’s organization is unknown to it')
})

t.test('diff: limits and validation', async (t) => {
  const items = (n: number) => Array.from({ length: n }, () => ({ id: randomUUID(), version: 1 }))
  const max = await diff(h.operatorKey, { date: '2026-12-06', kind: 'referral', items: items(10_000) })
  t.equal(max.statusCode, 200, '10,000 items are allowed')
  t.equal(max.json().unknown.length, 10_000)
  const over = await diff(h.operatorKey, { date: '2026-12-06', kind: 'referral', items: items(10_001) })
  t.equal(over.statusCode, 400, '10,001 items are not')
  t.equal(over.json().code, 'validation_failed')
  t.ok(
    over.json().errors.some((e: { path: string }) => e.path === '/items'),
    'the error names /items',
  )

  const dup = await diff(w.court.key, {
    date: '2026-12-06',
    kind: 'referral',
    items: [
      { id: R.lastSecond, version: 3 },
      { id: R.lastSecond.toUpperCase(), version: 2 },
    ],
  })
  t.equal(dup.statusCode, 400)
  t.same(
    dup.json().errors.map((e: { path: string; code: string }) => [e.path, e.code]),
    [['/items/1/id', 'duplicate_id']],
  )

  for (const [label, b] of [
    ['bad date', { date: '2026-02-30', kind: 'referral', items: [] }],
    ['date without leading zeros', { date: '2026-12-6', kind: 'referral', items: [] }],
    ['unknown kind', { date: '2026-12-06', kind: 'warning', items: [] }],
    ['missing items', { date: '2026-12-06', kind: 'referral' }],
    ['version 0', { date: '2026-12-06', kind: 'referral', items: [{ id: R.lastSecond, version: 0 }] }],
    ['version as a string', { date: '2026-12-06', kind: 'referral', items: [{ id: R.lastSecond, version: '3' }] }],
    ['an unknown field', { date: '2026-12-06', kind: 'referral', items: [], since: 'yesterday' }],
  ] as const) {
    const res = await diff(w.court.key, b)
    t.equal(res.statusCode, 400, label)
    t.equal(res.json().code, 'validation_failed', label)
  }
})

t.test('GET: validation', async (t) => {
  for (const [label, q, path] of [
    ['bad date', 'date=2026-13-01&kind=referral', '/date'],
    ['not a date', 'date=yesterday&kind=referral', '/date'],
    ['no date', 'kind=referral', ''],
    ['no kind', 'date=2026-12-06', ''],
    ['unknown kind', 'date=2026-12-06&kind=warning', '/kind'],
  ] as const) {
    const res = await day(w.court.key, q)
    t.equal(res.statusCode, 400, label)
    t.equal(res.json().code, 'validation_failed', label)
    if (path)
      t.ok(
        res.json().errors.some((e: { path: string }) => e.path.endsWith(path)),
        `${label}: names ${path}`,
      )
  }
  t.equal((await day(w.court.key, 'date=2026-12-06&kind=referral&limit=10')).statusCode, 400, 'an unknown query parameter')
})

t.test('every role may reconcile; no key is a 401', async (t) => {
  for (const [role, key] of [
    ['court', w.court.key],
    ['mediation', w.platform.key],
    ['operator', h.operatorKey],
  ] as const) {
    t.equal((await day(key, 'date=2026-12-06&kind=referral')).statusCode, 200, `${role}: GET`)
    t.equal((await diff(key, { date: '2026-12-06', kind: 'judicial_confirmation', items: [] })).statusCode, 200, `${role}: diff`)
  }
  t.equal((await day(null, 'date=2026-12-06&kind=referral')).statusCode, 401)
  const noKey = await h.call(null, { method: 'POST', url: '/v1/reconciliation/diff', payload: { date: '2026-12-06', kind: 'referral', items: [] } })
  t.equal(noKey.statusCode, 401)
})

// Last, and with a court of its own: the seeded day may be today.
t.test('a case changed through the API today is in today’s reconciliation, as GET shows it', async (t) => {
  const court = await h.client('court', { courtCodes: ['京0108'] })
  await grantSpecialRoster(h, 'bj-hd-1', ['京0108'])
  const created = await post(
    h,
    court.key,
    '/v1/referrals',
    referralBody({ courtCode: '京0108', caseNumber: caseNumber('京0108'), designation: { mode: 'court_designated', organizationId: 'bj-hd-1' } }),
  )
  t.equal(created.statusCode, 201)
  const r = created.json()
  const accepted = await post(h, w.platform.key, `/v1/referrals/${r.id}/acceptance`, {
    decision: 'accepted',
    mediator: { name: '王调解' },
    acceptedAt: new Date().toISOString(),
  })
  t.equal(accepted.statusCode, 200)
  const view = (await h.call(court.key, { method: 'GET', url: `/v1/referrals/${r.id}` })).json()
  const date = shanghaiDate(new Date(view.updatedAt))
  const res = (await day(court.key, `date=${date}&kind=referral`)).json()
  t.equal(res.count, 1)
  t.equal(res.digest, createHash('sha256').update(`${view.id}:${view.version}:${view.status}\n`).digest('hex'), 'the line is id:version:status of the view')
  t.same(res.byStatus, { mediating: 1 })

  const d = await diff(court.key, { date, kind: 'referral', items: [{ id: view.id, version: view.version }] })
  t.same(d.json(), { missing: [], unknown: [], matched: 1 })
})
