import t from 'tap'
import {
  mayManageCourtRoster,
  mayMoveOrganization,
  maySetCourtSpecial,
  type OrgState,
  organizationPutProblem,
  sameCourtCodes,
} from '../../src/domain/access.js'
import type { Principal } from '../../src/domain/principal.js'

/** The rules on changing the attributes of an organization that decide scope (contract §5 v1.1, reliability row 25). */

const principal = (role: Principal['role'], scope: Partial<Principal> = {}): Principal => ({
  clientId: 'c',
  role,
  name: 'p',
  courtCodes: [],
  organizationIds: [],
  regionCodes: [],
  ...scope,
})

const operator = principal('operator')
const court = principal('court', { courtCodes: ['京0105'] })
const twoCourts = principal('court', { courtCodes: ['京0105', '京0106'] })
const highCourt = principal('court', { courtCodes: ['京'] })
const beijing = principal('mediation', { regionCodes: ['11'] })
const chaoyang = principal('mediation', { regionCodes: ['110105'] })
const beijingCity = principal('mediation', { regionCodes: ['110000'] })
const twoProvinces = principal('mediation', { regionCodes: ['11', '44'] })
const national = principal('mediation', { regionCodes: ['*'] })
const bound = principal('mediation', { organizationIds: ['org'] })
const boundHaidian = principal('mediation', { organizationIds: ['org'], regionCodes: ['110108'] })

t.test('mayMoveOrganization: both regions covered by region codes, or an operator', async (t) => {
  const table: Array<[string, Principal, string, string, boolean]> = [
    ['operator, anywhere', operator, '110105', '440604', true],
    ['province client within its province', beijing, '110105', '110108', true],
    ['province client out of its province', beijing, '110105', '440604', false],
    ['province client into its province', beijing, '440604', '110105', false],
    ['PP0000 code covers its province', beijingCity, '110105', '110108', true],
    ['district client out of its district', chaoyang, '110105', '110108', false],
    ['district client staying', chaoyang, '110105', '110105', true],
    ['two provinces, across them', twoProvinces, '110105', '440604', true],
    ['national', national, '110105', '650102', true],
    ['bound by id alone, to another province', bound, '110105', '440604', false],
    ['bound by id alone, within the province', bound, '110105', '110108', false],
    ['bound by id alone, staying', bound, '110105', '110105', true],
    ['bound by id, holding only the new region', boundHaidian, '110105', '110108', false],
    ['court', court, '110105', '110105', false],
  ]
  for (const [name, p, from, to, want] of table) t.equal(mayMoveOrganization(p, from, to), want, name)
})

t.test('mayManageCourtRoster: the court with that code, or an operator', async (t) => {
  const table: Array<[string, Principal, string, boolean]> = [
    ['operator', operator, '粤0604', true],
    ['its own court', court, '京0105', true],
    ['one of its courts', twoCourts, '京0106', true],
    ['another court', court, '京0106', false],
    ['the high court on a basic court’s roster', highCourt, '京0105', false],
    ['the high court on its own', highCourt, '京', true],
    ['a basic court on its high court’s roster', court, '京', false],
    ['mediation', beijing, '京0105', false],
    ['national mediation', national, '京0105', false],
  ]
  for (const [name, p, code, want] of table) t.equal(mayManageCourtRoster(p, code), want, name)
  t.ok(maySetCourtSpecial(operator))
  for (const p of [court, beijing, national, bound]) t.notOk(maySetCourtSpecial(p), `${p.role} may not set courtSpecial`)
})

t.test('sameCourtCodes: the same codes in any order', async (t) => {
  t.ok(sameCourtCodes([], []))
  t.ok(sameCourtCodes(['京0105', '京'], ['京', '京0105']))
  t.notOk(sameCourtCodes(['京0105'], []))
  t.notOk(sameCourtCodes(['京0105'], ['京0105', '京']))
  t.notOk(sameCourtCodes(['京0105', '京0105'], ['京0105', '京']))
  t.notOk(sameCourtCodes(['京0105'], ['京0106']))
})

t.test('organizationPutProblem', async (t) => {
  const stored: OrgState = { id: 'org', regionCode: '110105', courtSpecial: ['京0105'] }
  type Next = Parameters<typeof organizationPutProblem>[2]
  const next = (over: Partial<Next> = {}): Next => ({ id: 'org', regionCode: '110105', ...over })
  const table: Array<[string, Principal, OrgState | undefined, Next, string | null]> = [
    ['operator moves and sets the roster', operator, stored, next({ regionCode: '440604', courtSpecial: ['粤0604'] }), null],
    ['operator creates on a roster', operator, undefined, next({ courtSpecial: ['京0105'] }), null],
    ['court', court, stored, next(), 'forbidden'],
    ['region client updates', beijing, stored, next(), null],
    ['region client moves within its region', beijing, stored, next({ regionCode: '110108' }), null],
    ['region client moves out', beijing, stored, next({ regionCode: '440604' }), 'out_of_scope'],
    ['other province touches it', principal('mediation', { regionCodes: ['44'] }), stored, next({ regionCode: '440604' }), 'out_of_scope'],
    ['region client creates out of scope', beijing, undefined, next({ regionCode: '440604' }), 'out_of_scope'],
    ['bound client updates in place', bound, stored, next(), null],
    ['bound client moves it', bound, stored, next({ regionCode: '440604' }), 'out_of_scope'],
    ['bound client creates it', bound, undefined, next({ regionCode: '440604' }), null],
    ['bound client with the new region only', boundHaidian, stored, next({ regionCode: '110108' }), 'out_of_scope'],
    ['repeats the roster unchanged', beijing, stored, next({ courtSpecial: ['京0105'] }), null],
    ['omits the roster', beijing, stored, next({ courtSpecial: undefined }), null],
    ['adds a court', beijing, stored, next({ courtSpecial: ['京0105', '京0106'] }), 'roster_managed_by_court'],
    ['removes the court', beijing, stored, next({ courtSpecial: [] }), 'roster_managed_by_court'],
    ['bound client adds a court', bound, stored, next({ courtSpecial: ['京0105', '粤0604'] }), 'roster_managed_by_court'],
    ['creates on a roster', beijing, undefined, next({ courtSpecial: ['京0105'] }), 'roster_managed_by_court'],
    ['creates with an empty roster', beijing, undefined, next({ courtSpecial: [] }), null],
    ['moves out and adds a court: scope first', beijing, stored, next({ regionCode: '440604', courtSpecial: ['粤0604'] }), 'out_of_scope'],
  ]
  for (const [name, p, current, n, want] of table) t.equal(organizationPutProblem(p, current, n)?.code ?? null, want, name)
})
