import t from 'tap'
import { coveringRegionCodes, disputeCategory, rankOrganizations, type RoutingCandidate, type RoutingRequest } from '../../src/domain/routing.js'

function org(id: string, over: Partial<RoutingCandidate> = {}): RoutingCandidate {
  return {
    id,
    name: id,
    kind: 'township_committee',
    regionCode: '110105',
    disputeTypes: [],
    fullTimeMediators: 3,
    rosters: { ministry: true, courtSpecial: [] },
    active: true,
    ...over,
  }
}

const MEDICAL: RoutingRequest = { courtCode: '京0105', disputeType: 'medical', regionCode: '110105' }
const NEIGHBOR: RoutingRequest = { courtCode: '京0105', disputeType: 'neighbor', regionCode: '110105' }
const CONTRACT: RoutingRequest = { courtCode: '京0105', disputeType: 'contract', regionCode: '110105' }

interface Row {
  name: string
  req: RoutingRequest
  orgs: RoutingCandidate[]
  /** The expected order of organization ids (anything not listed must be absent). */
  order: string[]
}

const table: Row[] = [
  {
    name: 'specialised: industry committees listing the type first, compliant before non-compliant, then others listing it, centres, the rest',
    req: MEDICAL,
    orgs: [
      org('ind-traffic', { kind: 'industry_committee', disputeTypes: ['traffic'] }),
      org('ind-med-low', { kind: 'industry_committee', disputeTypes: ['medical'], fullTimeMediators: 2 }),
      org('centre', { kind: 'centre', disputeTypes: [] }),
      org('town-med', { kind: 'township_committee', disputeTypes: ['medical'], fullTimeMediators: 2 }),
      org('ind-med-city', { kind: 'industry_committee', disputeTypes: ['medical'], regionCode: '110000', fullTimeMediators: 5 }),
      org('ind-med-local', { kind: 'industry_committee', disputeTypes: ['medical'], fullTimeMediators: 3 }),
    ],
    order: ['ind-med-local', 'ind-med-city', 'ind-med-low', 'town-med', 'centre', 'ind-traffic'],
  },
  {
    name: 'specialised: inactive, unlisted on any usable roster and out-of-region ministry-only organizations are left out',
    req: MEDICAL,
    orgs: [
      org('inactive', { kind: 'industry_committee', disputeTypes: ['medical'], active: false }),
      org('no-roster', { kind: 'industry_committee', disputeTypes: ['medical'], rosters: { ministry: false, courtSpecial: [] } }),
      org('other-court-roster', { kind: 'industry_committee', disputeTypes: ['medical'], rosters: { ministry: false, courtSpecial: ['粤0604', '京0106'] } }),
      org('gd-ministry', { kind: 'industry_committee', disputeTypes: ['medical'], regionCode: '440604' }),
      org('other-district', { kind: 'industry_committee', disputeTypes: ['medical'], regionCode: '110106' }),
      org('gd-on-our-roster', {
        kind: 'industry_committee',
        disputeTypes: ['medical'],
        regionCode: '440604',
        rosters: { ministry: false, courtSpecial: ['京0105'] },
      }),
      org('high-court-roster', { kind: 'industry_committee', disputeTypes: ['medical'], rosters: { ministry: false, courtSpecial: ['京'] } }),
    ],
    order: ['high-court-roster', 'gd-on-our-roster'],
  },
  {
    name: 'basic: local township / village committees first (compliant first), then the local centre, other local organizations, then the court roster elsewhere',
    req: NEIGHBOR,
    orgs: [
      org('z-town-far', { regionCode: '110106', disputeTypes: ['neighbor'], rosters: { ministry: false, courtSpecial: ['京0105'] } }),
      org('ind-property', { kind: 'industry_committee', disputeTypes: ['property_management'] }),
      org('ind-city-neighbor', { kind: 'industry_committee', regionCode: '110100', disputeTypes: ['neighbor'] }),
      org('centre', { kind: 'centre' }),
      org('town-low', { disputeTypes: ['neighbor'], fullTimeMediators: 1 }),
      org('b-town', { disputeTypes: ['neighbor'], fullTimeMediators: 2 }),
      org('a-village', { kind: 'village_committee', disputeTypes: ['neighbor'], fullTimeMediators: 0 }),
      org('town-other-district', { regionCode: '110106', disputeTypes: ['neighbor'] }),
    ],
    order: ['a-village', 'b-town', 'town-low', 'centre', 'ind-city-neighbor', 'ind-property', 'z-town-far'],
  },
  {
    name: 'basic: a region-level committee covers the districts under it and ranks after the district’s own',
    req: NEIGHBOR,
    orgs: [
      org('prov', { regionCode: '110000', disputeTypes: ['neighbor'] }),
      org('city', { regionCode: '110100', disputeTypes: ['neighbor'] }),
      org('district', { regionCode: '110105', disputeTypes: ['neighbor'] }),
      org('other-city', { regionCode: '110200', disputeTypes: ['neighbor'] }),
      org('other-province', { regionCode: '120000', disputeTypes: ['neighbor'] }),
    ],
    order: ['district', 'city', 'prov'],
  },
  {
    name: 'basic: a listed type ranks before an unlisted one of the same tier and staffing',
    req: NEIGHBOR,
    orgs: [org('a-unlisted', { disputeTypes: ['labor'] }), org('b-listed', { disputeTypes: ['neighbor'] })],
    order: ['b-listed', 'a-unlisted'],
  },
  {
    name: 'a province-wide region (a high court’s default) covers every district in it',
    req: { courtCode: '京', disputeType: 'neighbor', regionCode: '11' },
    orgs: [
      org('cy', { regionCode: '110105', rosters: { ministry: false, courtSpecial: ['京'] } }),
      org('hd', { regionCode: '110108', rosters: { ministry: true, courtSpecial: [] } }),
      org('tj', { regionCode: '120101' }),
    ],
    order: ['cy', 'hd'],
  },
  {
    name: 'no region (a court without one): every eligible organization, no closeness preference',
    req: { courtCode: '最高法', disputeType: 'marriage_family', regionCode: null },
    orgs: [org('b', { regionCode: '440604' }), org('a', { regionCode: '110105' }), org('c', { rosters: { ministry: false, courtSpecial: ['京0105'] } })],
    order: ['a', 'b'],
  },
  {
    name: 'general: local organizations listing the type or centres, then the same elsewhere, then local others',
    req: CONTRACT,
    orgs: [
      org('local-other', { kind: 'enterprise_committee', disputeTypes: ['labor'] }),
      org('far-listed', { regionCode: '110106', disputeTypes: ['contract'], rosters: { ministry: false, courtSpecial: ['京0105'] } }),
      org('local-centre', { kind: 'centre' }),
      org('local-listed', { kind: 'other', disputeTypes: ['contract'] }),
    ],
    order: ['local-listed', 'local-centre', 'far-listed', 'local-other'],
  },
  {
    name: 'staffing: compliant industry committee before a non-compliant one however close',
    req: { courtCode: '京0105', disputeType: 'finance', regionCode: '110105' },
    orgs: [
      org('near-2', { kind: 'industry_committee', disputeTypes: ['finance'], fullTimeMediators: 2 }),
      org('far-3', { kind: 'industry_committee', disputeTypes: ['finance'], fullTimeMediators: 3, regionCode: '110000' }),
    ],
    order: ['far-3', 'near-2'],
  },
]

t.test('ranking table', async (t) => {
  for (const row of table) {
    const got = rankOrganizations(row.req, row.orgs)
    t.same(
      got.map((s) => s.organizationId),
      row.order,
      row.name,
    )
    t.same(
      got.map((s) => s.rank),
      row.order.map((_, i) => i + 1),
      `${row.name}: ranks are 1..n`,
    )
    // The input order must not matter.
    const reversed = rankOrganizations(row.req, [...row.orgs].reverse())
    t.same(
      reversed.map((s) => s.organizationId),
      row.order,
      `${row.name}: independent of input order`,
    )
  }
})

t.test('reasons name why', async (t) => {
  const [first, second, third] = rankOrganizations(MEDICAL, [
    org('ind', { kind: 'industry_committee', disputeTypes: ['medical'], regionCode: '110000', rosters: { ministry: true, courtSpecial: ['京0105'] } }),
    org('low', { kind: 'industry_committee', disputeTypes: ['medical'], fullTimeMediators: 1, rosters: { ministry: false, courtSpecial: ['京'] } }),
    org('vil', { kind: 'village_committee', disputeTypes: [], regionCode: '110105' }),
  ])
  t.same(
    first.reasons.map((r) => r.code),
    ['industry_committee_for_type', 'region_level_covers', 'staffing_compliant', 'court_special_roster', 'ministry_roster'],
  )
  t.same(first.designationModes, ['court_designated', 'party_selected'])
  t.match(first.reasons[3].text, /本院/)
  t.same(
    second.reasons.map((r) => r.code),
    ['industry_committee_for_type', 'in_region', 'staffing_below_standard', 'court_special_roster'],
  )
  t.match(second.reasons[3].text, /高级人民法院/)
  t.same(second.designationModes, ['court_designated'])
  t.equal(second.staffingCompliant, false)
  // Village committees have no staffing floor: no staffing reason.
  t.same(
    third.reasons.map((r) => r.code),
    ['dispute_type_not_listed', 'in_region', 'ministry_roster'],
  )
  for (const s of [first, second, third]) for (const r of s.reasons) t.ok(r.text.length > 0, `${r.code} has a text`)

  const far = rankOrganizations(NEIGHBOR, [org('far', { regionCode: '440604', rosters: { ministry: false, courtSpecial: ['京0105'] } })])
  t.same(
    far[0].reasons.map((r) => r.code),
    ['dispute_type_not_listed', 'outside_region', 'staffing_compliant', 'court_special_roster'],
  )
})

t.test('the roster reason names the court whose roster matched (特邀调解规定 art. 5)', async (t) => {
  const rows: Array<[string, string[], string]> = [
    ['粤0703', ['粤0703'], '本院（粤0703）'],
    ['粤0703', ['粤07'], '中级人民法院（粤07）'],
    ['粤0703', ['粤'], '高级人民法院（粤）'],
    ['粤0703', ['最高法'], '最高人民法院'],
    // The nearest roster names it when several match.
    ['粤0703', ['最高法', '粤', '粤07'], '中级人民法院（粤07）'],
    ['京0105', ['京', '最高法'], '高级人民法院（京）'],
    ['粤07', ['粤07', '粤'], '本院（粤07）'],
    ['最高法', ['最高法'], '本院（最高法）'],
  ]
  for (const [courtCode, courtSpecial, court] of rows) {
    const [got] = rankOrganizations({ ...MEDICAL, courtCode }, [
      org('o', { kind: 'industry_committee', disputeTypes: ['medical'], rosters: { ministry: false, courtSpecial } }),
    ])
    const reason = got.reasons.find((r) => r.code === 'court_special_roster')
    t.equal(reason?.text, `列入${court}特邀调解名册，可由法院指定`, `${courtCode} with ${courtSpecial.join('/')}`)
  }
})

t.test('dispute categories', async (t) => {
  const rows: Array<[string, string]> = [
    ['medical', 'specialised'],
    ['traffic', 'specialised'],
    ['labor', 'specialised'],
    ['property_management', 'specialised'],
    ['consumer', 'specialised'],
    ['finance', 'specialised'],
    ['insurance', 'specialised'],
    ['intellectual_property', 'specialised'],
    ['environment', 'specialised'],
    ['tourism', 'specialised'],
    ['new_employment', 'specialised'],
    ['marriage_family', 'basic'],
    ['neighbor', 'basic'],
    ['housing_homestead', 'basic'],
    ['land_forest', 'basic'],
    ['contract', 'general'],
    ['production_business', 'general'],
    ['damage_compensation', 'general'],
    ['land_acquisition', 'general'],
    ['other', 'general'],
    ['a_future_type', 'general'],
  ]
  for (const [type, category] of rows) t.equal(disputeCategory(type), category, type)
})

t.test('covering region codes', async (t) => {
  t.same(coveringRegionCodes('110105'), ['110000', '110100', '110105'])
  t.same(coveringRegionCodes('1101'), ['110000', '110100'])
  t.same(coveringRegionCodes('11'), ['110000'])
})
