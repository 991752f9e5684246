import t from 'tap'
import { startHarness } from '../helpers/harness.js'
import { grantSpecialRoster, organizationBody, standardWorld } from '../helpers/fixtures.js'

const h = await startHarness()
t.teardown(() => h.close())
const world = await standardWorld(h)
const twoCourts = await h.client('court', { courtCodes: ['京0105', '京0106'] })
const op = h.operatorKey

/** The platform registers the organization; the courts of `courtSpecial` put it on their special rosters. */
async function org(key: string, id: string, over: Record<string, unknown>, courtSpecial: string[] = []) {
  const res = await h.call(key, { method: 'PUT', url: `/v1/organizations/${id}`, payload: organizationBody({ name: id, ...over }) })
  if (res.statusCode !== 201) throw new Error(`${id}: ${res.statusCode} ${res.body}`)
  await grantSpecialRoster(h, id, courtSpecial)
}

const bj = world.platform.key
// bj-cy-blz (standardWorld): township, 110105, neighbor + marriage_family, 2 mediators, ministry + 京0105.
await org(
  bj,
  'bj-medical',
  {
    kind: 'industry_committee',
    regionCode: '110000',
    disputeTypes: ['medical'],
    fullTimeMediators: 5,
    rosters: { ministry: true },
  },
  ['京'],
)
await org(bj, 'cy-medical-small', {
  kind: 'industry_committee',
  regionCode: '110105',
  disputeTypes: ['medical'],
  fullTimeMediators: 2,
  rosters: { ministry: true },
})
await org(bj, 'cy-medical-off', { kind: 'industry_committee', regionCode: '110105', disputeTypes: ['medical'], fullTimeMediators: 9, active: false })
await org(
  bj,
  'cy-centre',
  {
    kind: 'centre',
    regionCode: '110105',
    disputeTypes: [],
    fullTimeMediators: 4,
    rosters: { ministry: false },
  },
  ['京0105'],
)
await org(bj, 'cy-village', {
  kind: 'village_committee',
  regionCode: '110105',
  disputeTypes: ['neighbor'],
  fullTimeMediators: 0,
  rosters: { ministry: true },
})
await org(bj, 'cy-town-low', {
  kind: 'township_committee',
  regionCode: '110105',
  disputeTypes: ['neighbor'],
  fullTimeMediators: 1,
  rosters: { ministry: true },
})
await org(bj, 'hd-town', {
  kind: 'township_committee',
  regionCode: '110108',
  disputeTypes: ['neighbor'],
  fullTimeMediators: 3,
  rosters: { ministry: true },
})
await org(
  bj,
  'unlisted',
  {
    kind: 'industry_committee',
    regionCode: '110105',
    disputeTypes: ['medical'],
    fullTimeMediators: 3,
    rosters: { ministry: false },
  },
  ['京0106'],
)
await org(world.otherPlatform.key, 'gd-medical', {
  kind: 'industry_committee',
  regionCode: '440000',
  disputeTypes: ['medical'],
  fullTimeMediators: 5,
  rosters: { ministry: true },
})

const suggest = (key: string, q: string) => h.call(key, { method: 'GET', url: `/v1/routing/suggestions?${q}` })
const order = (res: { json(): { items: Array<{ organizationId: string }> } }) => res.json().items.map((i) => i.organizationId)

t.test('specialised dispute: industry committees covering the type first', async (t) => {
  const res = await suggest(world.court.key, 'disputeType=medical')
  t.equal(res.statusCode, 200, res.body)
  const b = res.json()
  t.match(b, { courtCode: '京0105', disputeType: 'medical', category: 'specialised', regionCode: '110105' })
  t.same(order(res), ['bj-medical', 'cy-medical-small', 'cy-centre', 'cy-village', 'bj-cy-blz', 'cy-town-low'])
  t.same(
    b.items.map((i: { rank: number }) => i.rank),
    [1, 2, 3, 4, 5, 6],
  )
  const first = b.items[0]
  t.match(first, {
    name: 'bj-medical',
    kind: 'industry_committee',
    regionCode: '110000',
    staffingCompliant: true,
    designationModes: ['court_designated', 'party_selected'],
  })
  t.same(
    first.reasons.map((r: { code: string }) => r.code),
    ['industry_committee_for_type', 'region_level_covers', 'staffing_compliant', 'court_special_roster', 'ministry_roster'],
  )
  t.equal(b.items[1].reasons.find((r: { code: string }) => r.code === 'staffing_below_standard')?.code, 'staffing_below_standard')
  for (const i of b.items) for (const r of i.reasons) t.ok(r.text.length > 0)
})

t.test('basic dispute: local committees first, by region, staffing', async (t) => {
  const res = await suggest(world.court.key, 'disputeType=neighbor&courtCode=京0105')
  // Same standing: by name ('cy-village' sorts before bj-cy-blz's name, 八里庄街道人民调解委员会).
  t.same(order(res), ['cy-village', 'bj-cy-blz', 'cy-town-low', 'cy-centre', 'bj-medical', 'cy-medical-small'])
  // Another region given explicitly: Haidian's committee is local there; Chaoyang's organizations on the court's
  // special roster stay, ranked after (the one listing the type first); ministry-only ones elsewhere drop out.
  const hd = await suggest(world.court.key, 'disputeType=neighbor&regionCode=110108')
  t.equal(hd.json().regionCode, '110108')
  t.same(order(hd), ['hd-town', 'bj-medical', 'bj-cy-blz', 'cy-centre'])
  // The whole province.
  const all = await suggest(world.court.key, 'disputeType=neighbor&regionCode=11&limit=3')
  t.same(order(all), ['cy-village', 'hd-town', 'bj-cy-blz'])
})

t.test('operators name the court; court codes must be the caller’s', async (t) => {
  const asOp = await suggest(op, 'disputeType=medical&courtCode=京0105')
  t.equal(asOp.statusCode, 200)
  t.same(order(asOp), order(await suggest(world.court.key, 'disputeType=medical')))
  const gd = await suggest(op, 'disputeType=medical&courtCode=粤0604')
  t.same(order(gd), ['gd-medical'])
  t.equal(gd.json().regionCode, '440604')

  const foreign = await suggest(world.court.key, 'disputeType=medical&courtCode=粤0604')
  t.equal(foreign.statusCode, 422)
  t.equal(foreign.json().code, 'court_code_not_allowed')
  const opNoCourt = await suggest(op, 'disputeType=medical')
  t.equal(opNoCourt.statusCode, 400)
  t.equal(opNoCourt.json().errors[0].path, '/courtCode')
  t.equal((await suggest(twoCourts.key, 'disputeType=medical')).statusCode, 400, 'ambiguous court')
  const second = await suggest(twoCourts.key, 'disputeType=medical&courtCode=京0106')
  t.equal(second.statusCode, 200)
  t.ok(order(second).includes('unlisted'), 'on 京0106’s own special roster')
  t.notOk(order(await suggest(world.court.key, 'disputeType=medical')).includes('unlisted'), 'not designatable by 京0105')

  for (const key of [world.platform.key, world.otherPlatform.key]) t.equal((await suggest(key, 'disputeType=medical&courtCode=京0105')).statusCode, 403)
  t.equal((await suggest(null as unknown as string, 'disputeType=medical')).statusCode, 401)
  for (const q of [
    'courtCode=京0105',
    'disputeType=gossip',
    'disputeType=medical&regionCode=1',
    'disputeType=medical&courtCode=X',
    'disputeType=medical&limit=0',
    'disputeType=medical&x=1',
  ]) {
    t.equal((await suggest(world.court.key, q)).statusCode, 400, q)
  }
})

t.test('inactive and out-of-region organizations never appear', async (t) => {
  const res = await suggest(world.court.key, 'disputeType=medical')
  t.notOk(order(res).includes('cy-medical-off'))
  t.notOk(order(res).includes('gd-medical'))
  // Deactivating an organization removes it at once.
  const put = await h.call(bj, {
    method: 'PUT',
    url: '/v1/organizations/bj-medical',
    payload: organizationBody({
      name: 'bj-medical',
      kind: 'industry_committee',
      regionCode: '110000',
      disputeTypes: ['medical'],
      fullTimeMediators: 5,
      rosters: { ministry: true, courtSpecial: ['京'] },
      active: false,
    }),
  })
  t.equal(put.statusCode, 200)
  t.equal(order(await suggest(world.court.key, 'disputeType=medical'))[0], 'cy-medical-small')
})
