import t from 'tap'
import { checkDesignation, designatableRosters, type Organization, staffingCompliant } from '../../src/domain/organization.js'

t.test('designatable rosters follow the court hierarchy (特邀调解规定 art. 5)', async (t) => {
  const rows: Array<[string, string[], string]> = [
    ['粤0703', ['粤0703', '粤07', '粤', '最高法'], 'basic court of a province: own, intermediate, high, SPC'],
    ['内0102', ['内0102', '内01', '内', '最高法'], 'basic court of an autonomous region'],
    ['新0102', ['新0102', '新01', '新', '最高法'], 'basic court of 新疆'],
    ['京0105', ['京0105', '京', '最高法'], 'municipality 京: no derivable intermediate court'],
    ['津0101', ['津0101', '津', '最高法'], 'municipality 津'],
    ['沪0101', ['沪0101', '沪', '最高法'], 'municipality 沪'],
    ['渝0101', ['渝0101', '渝', '最高法'], 'municipality 渝'],
    ['粤7101', ['粤7101', '粤', '最高法'], 'special digits ≥ 71 (railway): no derivable intermediate court'],
    ['粤9601', ['粤9601', '粤', '最高法'], 'special digits 96–99'],
    ['粤7001', ['粤7001', '粤70', '粤', '最高法'], 'digits 70 are ordinary'],
    ['兵0101', ['兵0101', '兵', '最高法'], 'XPCC: not a province, no derived intermediate court'],
    ['军0101', ['军0101', '军', '最高法'], 'military courts'],
    ['粤07', ['粤07', '粤', '最高法'], 'intermediate court: own, high, SPC'],
    ['粤71', ['粤71', '粤', '最高法'], 'special intermediate court'],
    ['京01', ['京01', '京', '最高法'], 'municipal intermediate court'],
    ['粤', ['粤', '最高法'], 'high court: own and SPC'],
    ['最高法', ['最高法'], 'SPC: its own only, no junk entry'],
  ]
  for (const [court, want, name] of rows) t.strictSame(designatableRosters(court), want, `${court}: ${name}`)
})

function org(o: Partial<Organization> = {}): Organization {
  return {
    id: 'o1',
    name: 'o1',
    kind: 'village_committee',
    regionCode: '440703',
    uscc: null,
    disputeTypes: [],
    fullTimeMediators: 0,
    rosters: { ministry: false, courtSpecial: [] },
    active: true,
    version: 1,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    ...o,
  }
}

t.test('court_designated accepts an organization on any roster above the court, and no other', async (t) => {
  const onRoster = (roster: string) => org({ rosters: { ministry: false, courtSpecial: [roster] } })
  for (const roster of ['粤0703', '粤07', '粤', '最高法'])
    t.equal(checkDesignation('court_designated', '粤0703', onRoster(roster)), null, `粤0703 may use ${roster}`)
  for (const roster of ['粤0704', '粤06', '京', '最']) {
    t.equal(checkDesignation('court_designated', '粤0703', onRoster(roster))?.code, 'not_on_roster', `粤0703 may not use ${roster}`)
  }
  t.equal(checkDesignation('court_designated', '京0105', onRoster('京01'))?.code, 'not_on_roster', '京0105 has no derivable intermediate court')
  t.equal(checkDesignation('court_designated', '粤07', onRoster('粤0703'))?.code, 'not_on_roster', 'a higher court may not use a lower court’s roster')
  t.equal(checkDesignation('court_designated', '最高法', onRoster('粤'))?.code, 'not_on_roster', 'the SPC uses its own roster')
  t.equal(checkDesignation('court_designated', '最高法', onRoster('最高法')), null)
  t.equal(checkDesignation('court_designated', '粤0703', { ...onRoster('粤07'), active: false })?.code, 'organization_inactive')
  t.equal(checkDesignation('court_designated', '粤0703', undefined)?.code, 'not_on_roster')
  t.equal(checkDesignation('party_selected', '粤0703', onRoster('粤0703'))?.code, 'not_on_roster', 'party_selected needs the ministry roster')
})

t.test('staffing (意见 四(一))', async (t) => {
  const rows: Array<[Organization['kind'], number, boolean]> = [
    ['industry_committee', 2, false],
    ['industry_committee', 3, true],
    ['township_committee', 1, false],
    ['township_committee', 2, true],
    ['stationed_room', 0, false],
    ['stationed_room', 1, false],
    ['stationed_room', 2, true],
    ['stationed_room', 5, true],
    ['village_committee', 0, true],
    ['enterprise_committee', 0, true],
    ['centre', 0, true],
    ['other', 0, true],
  ]
  for (const [kind, fullTimeMediators, want] of rows) t.equal(staffingCompliant({ kind, fullTimeMediators }), want, `${kind} with ${fullTimeMediators}`)
})
