import t from 'tap'
import { scopeOf } from '../../src/db/event-scope.js'
import { mayReadEvent } from '../../src/domain/access.js'
import { GENESIS_HASH } from '../../src/domain/event-chain.js'
import type { Principal } from '../../src/domain/principal.js'
import { idemKey, startHarness } from '../helpers/harness.js'
import { grantSpecialRoster, organizationBody, post, referralBody, standardWorld } from '../helpers/fixtures.js'

const h = await startHarness()
t.teardown(() => h.close())
const world = await standardWorld(h)

type Scope = { courtCodes?: string[]; organizationIds?: string[]; regionCodes?: string[] }
async function client(role: 'court' | 'mediation', scope: Scope) {
  const c = await h.client(role, scope)
  const principal: Principal = {
    clientId: c.id,
    role,
    name: '',
    courtCodes: scope.courtCodes ?? [],
    organizationIds: scope.organizationIds ?? [],
    regionCodes: scope.regionCodes ?? [],
  }
  return { ...c, principal }
}

const c = {
  court: {
    ...world.court,
    principal: { clientId: world.court.id, role: 'court', name: '', courtCodes: ['京0105'], organizationIds: [], regionCodes: [] } as Principal,
  },
  sameCourt: await client('court', { courtCodes: ['京0105'] }),
  highCourt: await client('court', { courtCodes: ['京'] }),
  neighbourCourt: await client('court', { courtCodes: ['京0106'] }),
  gdCourt: {
    ...world.otherCourt,
    principal: { clientId: world.otherCourt.id, role: 'court', name: '', courtCodes: ['粤0604'], organizationIds: [], regionCodes: [] } as Principal,
  },
  gdHighCourt: await client('court', { courtCodes: ['粤'] }),
  bjPlatform: {
    ...world.platform,
    principal: { clientId: world.platform.id, role: 'mediation', name: '', courtCodes: [], organizationIds: [], regionCodes: ['11'] } as Principal,
  },
  cyPlatform: await client('mediation', { regionCodes: ['110105'] }),
  hdPlatform: await client('mediation', { regionCodes: ['110106'] }),
  gdPlatform: {
    ...world.otherPlatform,
    principal: { clientId: world.otherPlatform.id, role: 'mediation', name: '', courtCodes: [], organizationIds: [], regionCodes: ['44'] } as Principal,
  },
  gdPlatform2: await client('mediation', { regionCodes: ['44'] }),
  national: await client('mediation', { regionCodes: ['*'] }),
  orgOnly: await client('mediation', { organizationIds: ['bj-cy-blz'] }),
}
const op = h.operatorKey

const body = (over: Record<string, unknown> = {}) => ({
  level: 'orange',
  regionCode: '110105',
  disputeType: 'labor',
  summary: '建筑工地 60 余名农民工集中讨薪',
  involvedPersons: 63,
  ...over,
})

const fromCourt = await post(h, c.court.key, '/v1/warnings', body())
const fromGd = await post(
  h,
  c.gdPlatform.key,
  '/v1/warnings',
  body({ level: 'red', regionCode: '440604', disputeType: 'land_acquisition', summary: '征地补偿群体性纠纷', involvedPersons: 200 }),
)
const fromBjProvince = await post(
  h,
  c.bjPlatform.key,
  '/v1/warnings',
  body({ level: 'yellow', regionCode: '110000', disputeType: 'property_management', involvedPersons: 0 }),
)

t.test('raising a warning', async (t) => {
  t.equal(fromCourt.statusCode, 201, fromCourt.body)
  const w = fromCourt.json()
  t.match(w, {
    level: 'orange',
    regionCode: '110105',
    disputeType: 'labor',
    summary: '建筑工地 60 余名农民工集中讨薪',
    involvedPersons: 63,
    referralId: null,
    raisedBy: { clientId: world.court.id, role: 'court' },
  })
  t.match(w.id, /^[0-9a-f-]{36}$/)
  t.equal(fromCourt.headers.location, `/v1/warnings/${w.id}`)
  t.equal(fromGd.statusCode, 201, fromGd.body)
  t.equal(fromBjProvince.statusCode, 201, fromBjProvince.body)

  // One warning.raised event, addressed to the other side and matched on the warning's region.
  const events = await h.deps.db.selectFrom('events').selectAll().where('subject_id', 'in', [w.id, fromGd.json().id]).orderBy('pos').execute()
  t.equal(events.length, 2)
  const [e, g] = events
  t.match(e, {
    type: 'warning.raised',
    subject_kind: 'warning',
    sequence: 1,
    case_version: null,
    audience: 'mediation',
    region_code: '110105',
    court_code: null,
    organization_id: null,
    prev_hash: GENESIS_HASH,
  })
  t.same((e.data as { warning: unknown }).warning, w)
  t.same(e.actor, { clientId: world.court.id, role: 'court' })
  t.match(g, { audience: 'court', region_code: '440604' })
  const row = await h.deps.db.selectFrom('warnings').select('chain_head').where('id', '=', w.id).executeTakeFirstOrThrow()
  t.equal(row.chain_head, e.hash, 'the chain head is the event hash')
})

t.test('rules: roles, validation, idempotency, the referral must be readable', async (t) => {
  const asOp = await post(h, op, '/v1/warnings', body())
  t.equal(asOp.statusCode, 403)
  const bad = await post(h, c.court.key, '/v1/warnings', {
    level: 'purple',
    regionCode: '11',
    disputeType: 'gossip',
    summary: '',
    involvedPersons: -1,
    note: 'x',
  })
  t.equal(bad.statusCode, 400)
  const paths = bad
    .json()
    .errors.map((e: { path: string }) => e.path)
    .sort()
  t.same(paths, ['/disputeType', '/involvedPersons', '/level', '/note', '/regionCode', '/summary'])
  t.equal(bad.json().errors.find((e: { path: string }) => e.path === '/regionCode').code, 'invalid_region_code')
  for (const n of ['3', 1.5, null]) {
    const res = await post(h, c.court.key, '/v1/warnings', body({ involvedPersons: n }))
    t.equal(res.statusCode, 400, `involvedPersons ${JSON.stringify(n)}`)
  }
  const missing = await post(h, c.court.key, '/v1/warnings', { level: 'red' })
  t.same(
    missing
      .json()
      .errors.map((e: { path: string }) => e.path)
      .sort(),
    ['/disputeType', '/involvedPersons', '/regionCode', '/summary'],
  )

  const noKey = await h.call(c.court.key, { method: 'POST', url: '/v1/warnings', payload: body() })
  t.equal(noKey.statusCode, 400)
  t.equal(noKey.json().code, 'idempotency_key_required')
  const key = idemKey()
  const a = await post(h, c.court.key, '/v1/warnings', body({ summary: '重放' }), { 'idempotency-key': key })
  const b = await post(h, c.court.key, '/v1/warnings', body({ summary: '重放' }), { 'idempotency-key': key })
  t.equal(b.headers['idempotent-replayed'], 'true')
  t.equal(b.json().id, a.json().id)
  t.equal((await post(h, c.court.key, '/v1/warnings', body({ summary: '不同' }), { 'idempotency-key': key })).statusCode, 422)

  const gdOrg = await h.call(c.gdPlatform.key, {
    method: 'PUT',
    url: '/v1/organizations/gd-fs',
    payload: organizationBody({ regionCode: '440604' }),
  })
  t.equal(gdOrg.statusCode, 201)
  await grantSpecialRoster(h, 'gd-fs', ['粤0604'], c.gdCourt.key)
  const gdRef = await post(
    h,
    c.gdCourt.key,
    '/v1/referrals',
    referralBody({
      courtCode: '粤0604',
      caseNumber: `（2026）粤0604民诉前调${Math.floor(Math.random() * 1e6) + 1}号`,
      designation: { mode: 'court_designated', organizationId: 'gd-fs' },
    }),
  )
  t.equal(gdRef.statusCode, 201, gdRef.body)
  const bjRef = await post(h, c.court.key, '/v1/referrals', referralBody())
  t.equal(bjRef.statusCode, 201, bjRef.body)
  for (const [who, key, id] of [
    ['another court’s referral', c.court.key, gdRef.json().id],
    ['another region’s referral', c.bjPlatform.key, gdRef.json().id],
    ['a non-uuid id', c.court.key, 'nope'],
    ['an unknown id', c.court.key, '00000000-0000-7000-8000-000000000000'],
  ]) {
    const res = await post(h, key, '/v1/warnings', body({ referralId: id }))
    t.equal(res.statusCode, 404, who)
  }
  const linked = await post(h, c.bjPlatform.key, '/v1/warnings', body({ referralId: bjRef.json().id }))
  t.equal(linked.statusCode, 201, linked.body)
  t.equal(linked.json().referralId, bjRef.json().id)
})

const ids = { court: fromCourt.json().id as string, gd: fromGd.json().id as string, bjProvince: fromBjProvince.json().id as string }

/** Who may read which warning (by id): the raiser, the other side on one branch of the region tree, operators. */
const matrix: Array<[keyof typeof c, keyof typeof ids, number]> = [
  ['court', 'court', 200],
  ['sameCourt', 'court', 404],
  ['highCourt', 'court', 404],
  ['bjPlatform', 'court', 200],
  ['cyPlatform', 'court', 200],
  ['hdPlatform', 'court', 404],
  ['gdPlatform', 'court', 404],
  ['national', 'court', 200],
  ['orgOnly', 'court', 404],
  ['gdPlatform', 'gd', 200],
  ['gdPlatform2', 'gd', 404],
  ['gdCourt', 'gd', 200],
  ['gdHighCourt', 'gd', 200],
  ['court', 'gd', 404],
  ['highCourt', 'gd', 404],
  ['bjPlatform', 'gd', 404],
  ['national', 'gd', 404],
  ['court', 'bjProvince', 200],
  ['highCourt', 'bjProvince', 200],
  ['neighbourCourt', 'bjProvince', 200],
  ['gdCourt', 'bjProvince', 404],
  ['cyPlatform', 'bjProvince', 404],
]

t.test('BOLA matrix: GET by id', async (t) => {
  for (const [who, which, status] of matrix) {
    const res = await h.call(c[who].key, { method: 'GET', url: `/v1/warnings/${ids[which]}` })
    t.equal(res.statusCode, status, `${who} reading the ${which} warning`)
    if (status === 404) t.equal(res.json().code, 'not_found')
  }
  for (const which of Object.values(ids)) t.equal((await h.call(op, { method: 'GET', url: `/v1/warnings/${which}` })).statusCode, 200)
  t.equal((await h.call(op, { method: 'GET', url: '/v1/warnings/nope' })).statusCode, 404)
  t.equal((await h.call(op, { method: 'GET', url: `/v1/warnings/${ids.court}?x=1` })).statusCode, 400)
})

t.test('the list shows exactly what GET by id allows, and the event goes to the same readers', async (t) => {
  const events = await h.deps.db.selectFrom('events').selectAll().where('type', '=', 'warning.raised').execute()
  const eventOf = new Map(events.map((e) => [e.subject_id, e]))
  for (const who of Object.keys(c) as Array<keyof typeof c>) {
    const listed = new Set<string>()
    let cursor: string | null = null
    do {
      const res = await h.call(c[who].key, { method: 'GET', url: `/v1/warnings?limit=2${cursor ? `&cursor=${cursor}` : ''}` })
      t.equal(res.statusCode, 200)
      for (const w of res.json().items) listed.add(w.id)
      cursor = res.json().nextCursor
    } while (cursor)
    for (const [which, id] of Object.entries(ids)) {
      const byId = (await h.call(c[who].key, { method: 'GET', url: `/v1/warnings/${id}` })).statusCode === 200
      t.equal(listed.has(id), byId, `${who}: list and GET agree on the ${which} warning`)
      const e = eventOf.get(id)!
      // The raiser reads its own warning but is not sent its own event; everyone else: the same rule.
      if (e && (e.actor as { clientId: string }).clientId !== c[who].principal.clientId) {
        t.equal(mayReadEvent(c[who].principal, scopeOf(e)), byId, `${who}: the ${which} event reaches exactly the readers`)
      }
    }
  }
})

t.test('list filters and pagination', async (t) => {
  const list = async (q: string) => (await h.call(op, { method: 'GET', url: `/v1/warnings?${q}` })).json()
  const all = await list('limit=200')
  t.ok(all.items.length >= 5)
  const ordered = all.items.map((w: { id: string }) => w.id)
  t.same(ordered, [...ordered].sort(), 'oldest first')
  t.same(
    (await list('level=red')).items.map((w: { id: string }) => w.id),
    [ids.gd],
  )
  t.same(
    (await list('regionCode=44')).items.map((w: { id: string }) => w.id),
    [ids.gd],
  )
  t.same(
    (await list('regionCode=4406')).items.map((w: { id: string }) => w.id),
    [ids.gd],
  )
  t.same(
    (await list('regionCode=110000')).items.map((w: { regionCode: string }) => w.regionCode).every((r: string) => r.startsWith('11')),
    true,
  )
  t.same(
    (await list('disputeType=property_management')).items.map((w: { id: string }) => w.id),
    [ids.bjProvince],
  )
  t.equal((await list(`since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).items.length, 0)
  t.equal((await list(`since=${encodeURIComponent(new Date(Date.now() - 600_000).toISOString())}`)).items.length, all.items.length)
  const page1 = await list('limit=2')
  t.equal(page1.items.length, 2)
  const page2 = await list(`limit=2&cursor=${page1.nextCursor}`)
  t.same(page2.items[0].id, ordered[2])
  for (const q of ['limit=0', 'limit=201', 'level=purple', 'regionCode=1', 'since=yesterday', 'cursor=%%%', 'foo=1']) {
    t.equal((await h.call(op, { method: 'GET', url: `/v1/warnings?${q}` })).statusCode, 400, q)
  }
})
