import t, { type Test } from 'tap'
import { organizationBody, post, referralBody, specialRoster, standardWorld } from '../helpers/fixtures.js'
import { startHarness } from '../helpers/harness.js'

/**
 * Who may change the attributes of an organization that decide scope (contract §5 v1.1, reliability row 25): its
 * region only by a client whose region codes cover the old and the new one, its special rosters only by the courts
 * (PUT/DELETE /v1/courts/{courtCode}/special-roster/{organizationId}) or operators.
 */

const h = await startHarness()
t.teardown(() => h.close())
const w = await standardWorld(h)
const op = h.operatorKey

interface OrgView {
  id: string
  regionCode: string
  rosters: { ministry: boolean; courtSpecial: string[] }
  version: number
  updatedAt: string
}

const put = (key: string, id: string, over: Record<string, unknown> = {}) =>
  h.call(key, { method: 'PUT', url: `/v1/organizations/${id}`, payload: organizationBody(over) })
const read = async (id: string, key = op): Promise<OrgView> => {
  const res = await h.call(key, { method: 'GET', url: `/v1/organizations/${id}` })
  if (res.statusCode !== 200) throw new Error(`GET ${id}: ${res.statusCode} ${res.body}`)
  return res.json()
}
const refused = (t: Test, res: { statusCode: number; json(): { code: string } }, status: number, code: string, what: string) => {
  t.equal(res.statusCode, status, what)
  t.equal(res.json().code, code, `${what}: ${code}`)
}

const orgBound = await h.client('mediation', { organizationIds: ['bj-cy-blz'] })

t.test('a client bound by organizationIds cannot move its organization to another region', async (t) => {
  const before = await read('bj-cy-blz')
  refused(t, await put(orgBound.key, 'bj-cy-blz', { regionCode: '440604' }), 403, 'out_of_scope', 'to another province')
  refused(t, await put(orgBound.key, 'bj-cy-blz', { regionCode: '110108' }), 403, 'out_of_scope', 'to another district of its province')
  const after = await read('bj-cy-blz')
  t.same(after, before, 'nothing changed: region, rosters, version')
  t.equal(
    (await h.call(w.otherPlatform.key, { method: 'GET', url: '/v1/organizations/bj-cy-blz' })).statusCode,
    404,
    'still outside the other province’s platform',
  )

  // It still keeps the organization's other attributes, its region unchanged.
  const ok = await put(orgBound.key, 'bj-cy-blz', { fullTimeMediators: 4 })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().regionCode, '110105')
  t.same(ok.json().rosters.courtSpecial, ['京0105'], 'the court’s roster is kept when omitted')
  t.equal(ok.json().version, before.version + 1)
})

t.test('holding the organization by id does not stand in for the old region', async (t) => {
  // Bound to the organization and holding Haidian: may not pull a Chaoyang organization into Haidian.
  const mixed = await h.client('mediation', { organizationIds: ['bj-cy-blz'], regionCodes: ['110108'] })
  refused(t, await put(mixed.key, 'bj-cy-blz', { regionCode: '110108' }), 403, 'out_of_scope', 'into its region')
  t.equal((await read('bj-cy-blz')).regionCode, '110105')
})

t.test('a region client moves an organization within its regions, never out of them', async (t) => {
  t.equal((await put(w.platform.key, 'bj-move')).statusCode, 201)
  const moved = await put(w.platform.key, 'bj-move', { regionCode: '110108' })
  t.equal(moved.statusCode, 200, 'within Beijing')
  t.equal(moved.json().regionCode, '110108')
  refused(t, await put(w.platform.key, 'bj-move', { regionCode: '440604' }), 403, 'out_of_scope', 'to Guangdong')
  refused(t, await put(w.otherPlatform.key, 'bj-move', { regionCode: '440604' }), 403, 'out_of_scope', 'pulled in by the other province')
  t.equal((await read('bj-move')).regionCode, '110108')

  const district = await h.client('mediation', { regionCodes: ['110108'] })
  refused(t, await put(district.key, 'bj-move', { regionCode: '110105' }), 403, 'out_of_scope', 'a district client moving it out of its district')
  const national = await h.client('mediation', { regionCodes: ['*'] })
  const far = await put(national.key, 'bj-move', { regionCode: '440604' })
  t.equal(far.statusCode, 200, 'a national client covers every region')
  t.equal((await put(op, 'bj-move', { regionCode: '110105' })).statusCode, 200, 'an operator may move it')
  t.equal((await read('bj-move')).regionCode, '110105')
})

t.test('a platform cannot list its organization on a court’s special roster', async (t) => {
  const before = await read('bj-cy-blz')
  for (const [what, courtSpecial] of [
    ['adds another court', ['京0105', '京0106']],
    ['adds a court of another province', ['京0105', '粤0604']],
    ['replaces the court', ['京0106']],
    ['takes itself off', []],
  ] as const) {
    refused(t, await put(w.platform.key, 'bj-cy-blz', { rosters: { ministry: true, courtSpecial } }), 403, 'roster_managed_by_court', `the platform ${what}`)
  }
  refused(
    t,
    await put(orgBound.key, 'bj-cy-blz', { rosters: { ministry: true, courtSpecial: ['京0105', '粤0604'] } }),
    403,
    'roster_managed_by_court',
    'the organization-bound client adds a court',
  )
  t.same(await read('bj-cy-blz'), before, 'nothing changed')

  refused(t, await put(w.platform.key, 'bj-self', { rosters: { ministry: true, courtSpecial: ['京0105'] } }), 403, 'roster_managed_by_court', 'on create')
  t.equal((await h.call(op, { method: 'GET', url: '/v1/organizations/bj-self' })).statusCode, 404, 'not created')
  const empty = await put(w.platform.key, 'bj-self', { rosters: { ministry: true, courtSpecial: [] } })
  t.equal(empty.statusCode, 201, 'an empty list on create is no change')
  t.same(empty.json().rosters.courtSpecial, [])

  const listed = await h.call(w.court.key, { method: 'GET', url: `/v1/organizations?courtCode=${encodeURIComponent('京0106')}` })
  t.same(
    listed.json().items.map((o: OrgView) => o.id),
    [],
    'no organization on another court’s roster',
  )
})

t.test('repeating the court’s roster unchanged, or omitting it, keeps it', async (t) => {
  const repeat = await put(w.platform.key, 'bj-cy-blz', { rosters: { ministry: true, courtSpecial: ['京0105'] } })
  t.equal(repeat.statusCode, 200)
  t.same(repeat.json().rosters.courtSpecial, ['京0105'])
  t.equal((await specialRoster(h, op, '京', 'bj-cy-blz')).statusCode, 204)
  const reordered = await put(w.platform.key, 'bj-cy-blz', { rosters: { ministry: false, courtSpecial: ['京', '京0105'] } })
  t.equal(reordered.statusCode, 200, 'the same courts in another order')
  t.same(reordered.json().rosters, { ministry: false, courtSpecial: ['京0105', '京'] }, 'the ministry roster is the platform’s; the court list as stored')
  const omitted = await put(w.platform.key, 'bj-cy-blz')
  t.equal(omitted.statusCode, 200)
  t.same(omitted.json().rosters, { ministry: true, courtSpecial: ['京0105', '京'] })
  t.equal((await specialRoster(h, op, '京', 'bj-cy-blz', false)).statusCode, 204)
})

t.test('an operator may set the special rosters', async (t) => {
  const set = await put(op, 'bj-op', { rosters: { ministry: true, courtSpecial: ['京0105', '京0106'] } })
  t.equal(set.statusCode, 201)
  t.same(set.json().rosters.courtSpecial, ['京0105', '京0106'])
  const changed = await put(op, 'bj-op', { rosters: { ministry: true, courtSpecial: ['京0106'] } })
  t.equal(changed.statusCode, 200)
  t.same(changed.json().rosters.courtSpecial, ['京0106'])
  const kept = await put(op, 'bj-op')
  t.same(kept.json().rosters.courtSpecial, ['京0106'], 'omitted: kept')
  const bad = await put(op, 'bj-op', { rosters: { ministry: true, courtSpecial: ['not a court'] } })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().errors[0].code, 'invalid_court_code')
})

t.test('the court puts an organization on its special roster and takes it off', async (t) => {
  t.equal((await put(w.platform.key, 'bj-granted')).statusCode, 201)
  const before = await read('bj-granted')
  t.same(before.rosters.courtSpecial, [])
  const designate = () => post(h, w.court.key, '/v1/referrals', referralBody({ designation: { mode: 'court_designated', organizationId: 'bj-granted' } }))
  refused(t, await designate(), 422, 'not_on_roster', 'not yet designatable')

  const on = await specialRoster(h, w.court.key, '京0105', 'bj-granted')
  t.equal(on.statusCode, 204, 'no Idempotency-Key needed')
  t.equal(on.body, '')
  const granted = await read('bj-granted')
  t.same(granted.rosters.courtSpecial, ['京0105'], 'the organization shows it')
  t.equal(granted.version, before.version + 1, 'the version moves like an update')
  t.ok(granted.updatedAt >= before.updatedAt)
  t.equal((await read('bj-granted', w.platform.key)).rosters.courtSpecial[0], '京0105', 'the platform sees it')
  const listed = await h.call(w.court.key, { method: 'GET', url: `/v1/organizations?courtCode=${encodeURIComponent('京0105')}&roster=court_special` })
  t.ok(
    listed.json().items.some((o: OrgView) => o.id === 'bj-granted'),
    'on the court’s roster list',
  )
  t.equal((await designate()).statusCode, 201, 'now designatable by the court')

  t.equal((await specialRoster(h, w.court.key, '京0105', 'bj-granted')).statusCode, 204, 'again: idempotent')
  t.equal((await read('bj-granted')).version, granted.version, 'no change, no new version')

  const off = await specialRoster(h, w.court.key, '京0105', 'bj-granted', false)
  t.equal(off.statusCode, 204)
  const removed = await read('bj-granted')
  t.same(removed.rosters.courtSpecial, [])
  t.equal(removed.version, granted.version + 1)
  t.equal((await specialRoster(h, w.court.key, '京0105', 'bj-granted', false)).statusCode, 204, 'off again: idempotent')
  t.equal((await read('bj-granted')).version, removed.version)

  t.equal((await specialRoster(h, op, '粤0604', 'bj-granted')).statusCode, 204, 'an operator acts for any court')
  t.same((await read('bj-granted')).rosters.courtSpecial, ['粤0604'])
  t.equal((await specialRoster(h, op, '粤0604', 'bj-granted', false)).statusCode, 204)
})

t.test('the special roster route: other courts, other roles, unknown organizations, bad codes', async (t) => {
  const before = await read('bj-cy-blz')
  for (const on of [true, false]) {
    const verb = on ? 'PUT' : 'DELETE'
    refused(t, await specialRoster(h, w.otherCourt.key, '京0105', 'bj-cy-blz', on), 403, 'out_of_scope', `${verb} on another court’s roster`)
    refused(t, await specialRoster(h, w.platform.key, '京0105', 'bj-cy-blz', on), 403, 'forbidden', `${verb} by a platform`)
    refused(t, await specialRoster(h, orgBound.key, '京0105', 'bj-cy-blz', on), 403, 'forbidden', `${verb} by the organization’s own client`)
    refused(t, await specialRoster(h, w.court.key, '京0105', 'no-such-org', on), 404, 'not_found', `${verb} for an unknown organization`)
    refused(t, await specialRoster(h, w.otherCourt.key, '京0105', 'no-such-org', on), 403, 'out_of_scope', `${verb} by another court, unknown organization`)
    const bad = await specialRoster(h, op, 'XX01', 'bj-cy-blz', on)
    refused(t, bad, 400, 'validation_failed', `${verb} with a malformed court code`)
    t.equal(bad.json().errors[0].code, 'invalid_court_code')
    refused(t, await specialRoster(h, op, '京0105', 'bad id!', on), 400, 'validation_failed', `${verb} with a malformed organization id`)
  }
  const highCourt = await h.client('court', { courtCodes: ['京'] })
  refused(t, await specialRoster(h, highCourt.key, '京0105', 'bj-cy-blz'), 403, 'out_of_scope', 'the high court on a basic court’s roster')
  t.equal((await specialRoster(h, highCourt.key, '京', 'bj-cy-blz')).statusCode, 204, 'the high court on its own')
  t.same((await read('bj-cy-blz')).rosters.courtSpecial, [...before.rosters.courtSpecial, '京'])
  t.equal((await specialRoster(h, highCourt.key, '京', 'bj-cy-blz', false)).statusCode, 204)
  const query = await h.call(w.court.key, { method: 'PUT', url: `/v1/courts/${encodeURIComponent('京0105')}/special-roster/bj-cy-blz?x=1` })
  t.equal(query.statusCode, 400, 'unknown query parameters are refused')
})

t.test('a court’s grant is never lost to a platform update running at the same time', async (t) => {
  t.equal((await put(w.platform.key, 'bj-race')).statusCode, 201)
  const results = await Promise.all([
    ...Array.from({ length: 8 }, (_, i) => put(w.platform.key, 'bj-race', { fullTimeMediators: 2 + i })),
    specialRoster(h, w.court.key, '京0105', 'bj-race'),
    ...Array.from({ length: 8 }, () => put(w.platform.key, 'bj-race', { rosters: { ministry: true } })),
  ])
  t.same(
    results.map((r) => r.statusCode),
    [...Array(8).fill(200), 204, ...Array(8).fill(200)],
  )
  const org = await read('bj-race')
  t.same(org.rosters.courtSpecial, ['京0105'])
  t.equal(org.version, 18, 'one creation, sixteen updates, one grant')
})

t.test('concurrent creations by two clients are each checked against what the other created', async (t) => {
  // The region client creates it in Chaoyang while the organization-bound client "creates" it in Guangdong: whichever
  // loses the race is an update of the other's, and the bound client may not move it.
  const bound = await h.client('mediation', { organizationIds: ['bj-twice'] })
  const [a, b] = await Promise.all([put(w.platform.key, 'bj-twice'), put(bound.key, 'bj-twice', { regionCode: '440604' })])
  const org = await read('bj-twice')
  if (org.regionCode === '440604') {
    t.equal(b.statusCode, 201, 'the bound client created it first')
    refused(t, a, 403, 'out_of_scope', 'the region client may not pull it back from Guangdong')
  } else {
    t.equal(a.statusCode, 201, 'the region client created it first')
    refused(t, b, 403, 'out_of_scope', 'the bound client may not then move it')
    t.equal(org.regionCode, '110105')
  }
})
