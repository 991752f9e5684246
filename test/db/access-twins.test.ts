import { randomUUID } from 'node:crypto'
import { type Expression, type Kysely, sql, type SqlBool } from 'kysely'
import t from 'tap'
import { confirmationScopeSql, eventScopeSql, orgScopeSql, referralScopeOverlapSql, referralScopeSql, warningScopeSql } from '../../src/db/access-sql.js'
import { listConfirmations } from '../../src/db/confirmation-repository.js'
import { createDb } from '../../src/db/connection.js'
import type { Database } from '../../src/db/database.js'
import { listOrganizations } from '../../src/db/organization-repository.js'
import { holderRegions, listReferrals } from '../../src/db/referral-repository.js'
import { computeStats, countOverdueConfirmations } from '../../src/db/stats-repository.js'
import { listWarnings } from '../../src/db/warning-repository.js'
import {
  confirmationStanding,
  type EventScope,
  mayReadEvent,
  mayReadWarning,
  organizationInScope,
  referralStanding,
  type WarningRef,
} from '../../src/domain/access.js'
import type { Principal } from '../../src/domain/principal.js'
import { createLogger } from '../../src/logging.js'
import { createTestDb } from '../helpers/harness.js'

/**
 * Every access rule of domain/access.ts against its SQL twin of db/access-sql.ts, and against the list queries built on
 * it: over a table of principals × rows, the pure function and PostgreSQL must give the same answer for every pair.
 */

const testDb = await createTestDb()
const { db } = createDb(testDb.url, 2, createLogger('silent'))
t.teardown(async () => {
  await db.destroy()
  await testDb.drop()
})

const principal = (role: Principal['role'], scope: Partial<Principal> = {}): Principal => ({
  clientId: randomUUID(),
  role,
  name: 'p',
  courtCodes: [],
  organizationIds: [],
  regionCodes: [],
  ...scope,
})

const principals: Principal[] = [
  principal('operator'),
  principal('court', { courtCodes: ['京0105'] }),
  principal('court', { courtCodes: ['京'] }),
  principal('court', { courtCodes: ['京01'] }),
  principal('court', { courtCodes: ['粤0604', '京0108'] }),
  principal('court', { courtCodes: ['沪0115'] }),
  principal('court', { courtCodes: ['最高法'] }),
  principal('court'),
  principal('mediation', { organizationIds: ['bj-cy-blz'] }),
  principal('mediation', { organizationIds: ['ghost-org'] }),
  principal('mediation', { organizationIds: ['gd-fs-cc'], regionCodes: ['110108'] }),
  principal('mediation', { regionCodes: ['11'] }),
  principal('mediation', { regionCodes: ['1101'] }),
  principal('mediation', { regionCodes: ['110105'] }),
  principal('mediation', { regionCodes: ['110000'] }),
  principal('mediation', { regionCodes: ['110100'] }),
  principal('mediation', { regionCodes: ['44'] }),
  principal('mediation', { regionCodes: ['4406'] }),
  principal('mediation', { regionCodes: ['31', '440604'] }),
  principal('mediation', { regionCodes: ['*'] }),
  principal('mediation', { regionCodes: ['*'], organizationIds: ['gd-fs-cc'] }),
  principal('mediation'),
]

const who = (p: Principal) => `${p.role}[${[...p.courtCodes, ...p.regionCodes, ...p.organizationIds].join(',')}]`
const byName = (role: Principal['role'], ...scope: string[]) => {
  const p = principals.find((x) => x.role === role && who(x) === `${role}[${scope.join(',')}]`)
  if (!p) throw new Error(`no principal ${role} ${scope.join(',')}`)
  return p
}

// ---------------------------------------------------------------------------------------------
// The rows

const ORGANIZATIONS: Array<[string, string]> = [
  ['bj-cy-blz', '110105'],
  ['bj-hd-zgc', '110108'],
  ['bj-centre', '110000'],
  ['bj-city', '110100'],
  ['gd-fs-cc', '440604'],
  ['gd-gz', '440100'],
  ['sh-pd', '310115'],
]
// `ghost-org` is held or applied by cases but not on the roster: its region is unknown.

const REFERRALS: Array<{ courtCode: string; heldBy: string[] }> = [
  { courtCode: '京0105', heldBy: ['bj-cy-blz'] },
  { courtCode: '京0105', heldBy: ['bj-hd-zgc', 'bj-cy-blz'] },
  { courtCode: '京0108', heldBy: ['bj-hd-zgc'] },
  { courtCode: '粤0604', heldBy: ['gd-fs-cc'] },
  { courtCode: '粤0604', heldBy: ['bj-cy-blz', 'gd-fs-cc'] },
  { courtCode: '沪0115', heldBy: ['sh-pd'] },
  { courtCode: '京01', heldBy: ['bj-city'] },
  { courtCode: '京0105', heldBy: ['ghost-org'] },
  { courtCode: '粤01', heldBy: ['gd-gz', 'ghost-org'] },
  { courtCode: '京', heldBy: ['bj-centre'] },
]

const CONFIRMATIONS: Array<{ courtCode: string; organizationId: string }> = [
  { courtCode: '京0105', organizationId: 'bj-cy-blz' },
  { courtCode: '京0108', organizationId: 'bj-hd-zgc' },
  { courtCode: '粤0604', organizationId: 'gd-fs-cc' },
  { courtCode: '沪0115', organizationId: 'sh-pd' },
  { courtCode: '京01', organizationId: 'bj-city' },
  { courtCode: '京0105', organizationId: 'ghost-org' },
  { courtCode: '粤01', organizationId: 'gd-gz' },
  { courtCode: '京', organizationId: 'bj-centre' },
]

const EVENTS: Array<Partial<EventScope> & { audience: string }> = [
  { audience: 'case', courtCode: '京0105', organizationId: 'bj-cy-blz', regionCode: '110105' },
  { audience: 'case', courtCode: '京0105', organizationId: 'bj-other', regionCode: '110108' },
  { audience: 'case', courtCode: '粤0604', organizationId: 'gd-fs-cc', regionCode: '440604' },
  { audience: 'case', courtCode: '京0105', organizationId: 'bj-cy-blz', regionCode: null },
  { audience: 'case', courtCode: '沪0115', organizationId: 'sh-pd', regionCode: '310115' },
  { audience: 'case', courtCode: '京0105', organizationId: 'ghost-org', regionCode: null },
  { audience: 'case', courtCode: '京0105', organizationId: 'bj-cy-blz', regionCode: '999999' },
  { audience: 'case' },
  { audience: 'court', regionCode: '110105' },
  { audience: 'court', regionCode: '110000' },
  { audience: 'court', regionCode: '110100' },
  { audience: 'court', regionCode: '440604' },
  { audience: 'court', regionCode: '310000' },
  { audience: 'court', regionCode: null },
  { audience: 'mediation', regionCode: '110105' },
  { audience: 'mediation', regionCode: '110000' },
  { audience: 'mediation', regionCode: '440000' },
  { audience: 'mediation', regionCode: '440100' },
  { audience: 'mediation', regionCode: null },
  { audience: 'warning', regionCode: '110105' },
  { audience: 'warning', regionCode: '110000' },
  { audience: 'warning', regionCode: '110100' },
  { audience: 'warning', regionCode: '440604' },
  { audience: 'warning', regionCode: '310000' },
  { audience: 'warning', regionCode: null },
  { audience: 'operator' },
  { audience: 'something-new', regionCode: '110105' },
]

const COURT_RAISER = randomUUID()
const MEDIATION_RAISER = randomUUID()
const WARNINGS: WarningRef[] = [
  ...['110105', '110000', '110100', '110108', '440604', '440000', '310115'].flatMap((regionCode) => [
    { regionCode, raisedBy: { clientId: COURT_RAISER, role: 'court' as const } },
    { regionCode, raisedBy: { clientId: MEDIATION_RAISER, role: 'mediation' as const } },
  ]),
  // Raised by principals of the table: they read their own, wherever it is.
  { regionCode: '440604', raisedBy: { clientId: byName('court', '京0105').clientId, role: 'court' } },
  { regionCode: '110105', raisedBy: { clientId: byName('mediation', '44').clientId, role: 'mediation' } },
]

const TODAY = '2030-06-01'

async function seed(db: Kysely<Database>) {
  for (const [id, regionCode] of ORGANIZATIONS) {
    await sql`INSERT INTO organizations (id, name, kind, region_code) VALUES (${id}, ${id}, 'township_committee', ${regionCode})`.execute(db)
  }
  for (const [i, r] of REFERRALS.entries()) {
    await sql`INSERT INTO referrals (id, version, status, referral_type, court_code, case_number, dispute_type, organization_id, held_by, chain_head, doc, created_at, updated_at)
      VALUES (${randomUUID()}::uuid, 1, 'mediating', 'pre_filing', ${r.courtCode}, ${`(2030)twin${i}`}, 'neighbor', ${r.heldBy.at(-1)}, ${r.heldBy}::text[], '', '{}', now(), now())`.execute(
      db,
    )
  }
  for (const c of CONFIRMATIONS) {
    await sql`INSERT INTO judicial_confirmations (id, version, status, court_code, organization_id, subject, late, applied_at, review_due_on, agreement_sha256, chain_head, doc, created_at, updated_at)
      VALUES (${randomUUID()}::uuid, 1, 'under_review', ${c.courtCode}, ${c.organizationId}, 'party_domicile', false, now(), '2030-01-01', '', '', '{}', now(), now())`.execute(
      db,
    )
  }
  for (const e of EVENTS) {
    await sql`INSERT INTO events (id, type, occurred_at, subject_kind, subject_id, sequence, actor, data, court_code, organization_id, region_code, audience, prev_hash, hash)
      VALUES (${randomUUID()}::uuid, 'warning.raised', now(), 'warning', ${randomUUID()}::uuid, 1, '"system"', '{}', ${e.courtCode ?? null}, ${e.organizationId ?? null}, ${e.regionCode ?? null}, ${e.audience}, '', '')`.execute(
      db,
    )
  }
  for (const w of WARNINGS) {
    await sql`INSERT INTO warnings (id, level, region_code, dispute_type, summary, involved_persons, raised_by_client, raised_by_role, raised_by_name, chain_head, created_at)
      VALUES (${randomUUID()}::uuid, 'red', ${w.regionCode}, 'neighbor', 'twin', 3, ${w.raisedBy.clientId}::uuid, ${w.raisedBy.role}, 'raiser', '', now())`.execute(
      db,
    )
  }
}

await seed(db)

/** The verdict of a SQL condition for every row of a table: as a WHERE clause takes it, NULL counts as false. */
async function verdicts(table: string, alias: string, cond: Expression<SqlBool>): Promise<Map<string, boolean>> {
  const r = await sql<{
    id: string
    ok: boolean
  }>`SELECT ${sql.ref(`${alias}.id`)}::text AS id, coalesce(${cond}, false) AS ok FROM ${sql.table(table)} AS ${sql.table(alias)}`.execute(db)
  return new Map(r.rows.map((x) => [x.id, x.ok]))
}

/** Compares the pure rule with each SQL twin for every principal × row; returns the pairs where they differ. */
async function compare<R extends { id: string }>(
  rows: R[],
  show: (r: R) => string,
  pure: (p: Principal, r: R) => boolean,
  twins: Record<string, (p: Principal) => Promise<Map<string, boolean>>>,
) {
  const disagreements: string[] = []
  let yes = 0
  let no = 0
  for (const p of principals) {
    const expected = new Map(rows.map((r) => [r.id, pure(p, r)]))
    for (const v of expected.values()) {
      if (v) yes++
      else no++
    }
    for (const [twin, run] of Object.entries(twins)) {
      const got = await run(p)
      for (const r of rows) {
        if (got.get(r.id) !== expected.get(r.id)) disagreements.push(`${who(p)} × ${show(r)}: rule ${expected.get(r.id)}, ${twin} ${got.get(r.id)}`)
      }
    }
  }
  return { disagreements, yes, no }
}

/** A list query's rows as verdicts: listed ⇔ true. */
const listed = (ids: Iterable<string>, all: Array<{ id: string }>) => {
  const set = new Set(ids)
  return new Map(all.map((r) => [r.id, set.has(r.id)]))
}

t.test('organizations: organizationInScope ⇔ orgScopeSql, and the roster list of a mediation client', async (t) => {
  const rows = await db.selectFrom('organizations').select(['id', 'region_code']).execute()
  const orgs = rows.map((o) => ({ id: o.id, regionCode: o.region_code }))
  const r = await compare(orgs, (o) => `${o.id}@${o.regionCode}`, organizationInScope, {
    orgScopeSql: (p) => verdicts('organizations', 'o', orgScopeSql(p, sql.ref('o.id'), false)),
    // Courts and operators list the whole roster: a different rule; for mediation clients the list is the scope.
    listOrganizations: async (p) =>
      p.role === 'mediation'
        ? listed(
            (await listOrganizations(db, { limit: 1000 }, p)).map((o) => o.id),
            orgs,
          )
        : new Map(orgs.map((o) => [o.id, organizationInScope(p, o)])),
  })
  t.strictSame(r.disagreements, [], 'the rule and its twins agree on every pair')
  t.ok(r.yes > 20 && r.no > 20, `both answers occur (${r.yes} in scope, ${r.no} not)`)
})

t.test('referrals: referralStanding(…).read ⇔ referralScopeSql, the overlap form, the list and the statistics', async (t) => {
  const rows = await db.selectFrom('referrals').select(['id', 'court_code', 'organization_id', 'held_by']).execute()
  const referrals = await Promise.all(
    rows.map(async (r) => ({
      id: r.id,
      courtCode: r.court_code,
      organizationId: r.organization_id,
      heldBy: r.held_by,
      holders: await holderRegions(db, r.held_by),
    })),
  )
  const r = await compare(
    referrals,
    (x) => `${x.courtCode}/${x.heldBy.join('>')}`,
    (p, x) => referralStanding(p, x, x.holders).read,
    {
      referralScopeSql: (p) => verdicts('referrals', 'r', referralScopeSql(p, 'r')),
      referralScopeOverlapSql: (p) => verdicts('referrals', 'r', referralScopeOverlapSql(p, 'r')),
      listReferrals: async (p) =>
        listed(
          (await listReferrals(db, p, { limit: 1000 })).map((x) => x.id),
          referrals,
        ),
    },
  )
  t.strictSame(r.disagreements, [], 'the rule and its twins agree on every pair')
  t.ok(r.yes > 20 && r.no > 20, `both answers occur (${r.yes} readable, ${r.no} not)`)

  // The statistics count exactly the readable referrals (one unit per referral when grouped by court).
  const period = { start: new Date('2000-01-01T00:00:00Z'), end: new Date('2100-01-01T00:00:00Z'), today: TODAY, groupBy: 'court' as const }
  const counted: string[] = []
  for (const p of principals) {
    const groups = await computeStats(db, p, period, true)
    const expected = referrals.filter((x) => referralStanding(p, x, x.holders).read).length
    const got = groups.reduce((n, g) => n + g.referrals, 0)
    if (got !== expected) counted.push(`${who(p)}: rule ${expected}, computeStats ${got}`)
  }
  t.strictSame(counted, [], 'computeStats counts the readable referrals')
})

t.test('confirmations: confirmationStanding(…).read ⇔ confirmationScopeSql, the list and the overdue count', async (t) => {
  const rows = await db.selectFrom('judicial_confirmations').select(['id', 'court_code', 'organization_id']).execute()
  const confirmations = await Promise.all(
    rows.map(async (c) => ({ id: c.id, courtCode: c.court_code, organizationId: c.organization_id, org: (await holderRegions(db, [c.organization_id]))[0] })),
  )
  const r = await compare(
    confirmations,
    (c) => `${c.courtCode}/${c.organizationId}`,
    (p, c) => confirmationStanding(p, c, c.org).read,
    {
      confirmationScopeSql: (p) => verdicts('judicial_confirmations', 'c', confirmationScopeSql(p, 'c')),
      listConfirmations: async (p) =>
        listed(
          (await listConfirmations(db, p, { today: TODAY, limit: 1000 })).map((c) => c.id),
          confirmations,
        ),
    },
  )
  t.strictSame(r.disagreements, [], 'the rule and its twins agree on every pair')
  t.ok(r.yes > 20 && r.no > 20, `both answers occur (${r.yes} readable, ${r.no} not)`)

  // Every application is under review past its due date: the overdue count is the number readable.
  const counted: string[] = []
  for (const p of principals) {
    const expected = confirmations.filter((c) => confirmationStanding(p, c, c.org).read).length
    const got = await countOverdueConfirmations(db, p, TODAY, {})
    if (got !== expected) counted.push(`${who(p)}: rule ${expected}, countOverdueConfirmations ${got}`)
  }
  t.strictSame(counted, [], 'countOverdueConfirmations counts the readable applications')
})

t.test('events: mayReadEvent ⇔ eventScopeSql (the fan-out and the pull feed)', async (t) => {
  const rows = await db.selectFrom('events').select(['id', 'audience', 'court_code', 'organization_id', 'region_code']).execute()
  const events = rows.map((e) => ({ id: e.id, audience: e.audience, courtCode: e.court_code, organizationId: e.organization_id, regionCode: e.region_code }))
  t.equal(events.length, EVENTS.length)
  const r = await compare(events, (e) => `${e.audience}/${e.courtCode}/${e.organizationId}/${e.regionCode}`, mayReadEvent, {
    eventScopeSql: (p) => verdicts('events', 'e', eventScopeSql(p, 'e')),
  })
  t.strictSame(r.disagreements, [], 'the rule and its twin agree on every pair')
  t.ok(r.yes > 20 && r.no > 20, `both answers occur (${r.yes} readable, ${r.no} not)`)

  // Spot checks of the rule itself.
  const court = byName('court', '京0105')
  t.ok(mayReadEvent(court, { audience: 'case', courtCode: '京0105', organizationId: null, regionCode: null }))
  t.notOk(mayReadEvent(court, { audience: 'case', courtCode: '粤0604', organizationId: null, regionCode: '110105' }))
  t.ok(
    mayReadEvent(court, { audience: 'court', courtCode: null, organizationId: null, regionCode: '110000' }),
    'a Beijing-wide warning reaches a district court',
  )
  t.notOk(mayReadEvent(court, { audience: 'court', courtCode: null, organizationId: null, regionCode: '110108' }), 'a sibling district does not')
  t.notOk(
    mayReadEvent(court, { audience: 'mediation', courtCode: null, organizationId: null, regionCode: '110105' }),
    'warnings for the mediation side are not for courts',
  )
  t.notOk(mayReadEvent(byName('mediation', '11'), { audience: 'operator', courtCode: null, organizationId: null, regionCode: null }))
  // Lifecycle events of a warning go to both sides on its branch.
  const lifecycle = { audience: 'warning', courtCode: null, organizationId: null, regionCode: '110105' }
  t.ok(mayReadEvent(court, lifecycle), 'a warning lifecycle event reaches the court on its branch')
  t.ok(mayReadEvent(byName('mediation', '1101'), lifecycle), 'and the platform on its branch')
  t.ok(mayReadEvent(byName('mediation', '*'), lifecycle), 'and national platforms')
  t.notOk(mayReadEvent(byName('mediation', '44'), lifecycle), 'not a platform elsewhere')
  t.notOk(mayReadEvent(byName('court', '粤0604', '京0108'), lifecycle), 'nor a court on a sibling branch')
  t.notOk(mayReadEvent(byName('mediation', 'bj-cy-blz'), lifecycle), 'nor a platform without regions')
  t.ok(
    mayReadEvent(byName('mediation', 'bj-cy-blz'), { audience: 'case', courtCode: '京0105', organizationId: 'bj-cy-blz', regionCode: '999999' }),
    'listed organization',
  )
})

t.test('warnings: mayReadWarning ⇔ warningScopeSql, and the warning list', async (t) => {
  const rows = await db.selectFrom('warnings').select(['id', 'region_code', 'raised_by_client', 'raised_by_role']).execute()
  const warnings = rows.map((w) => ({ id: w.id, regionCode: w.region_code, raisedBy: { clientId: w.raised_by_client, role: w.raised_by_role } }))
  const raiser = (id: string) =>
    id === COURT_RAISER ? 'court' : id === MEDIATION_RAISER ? 'mediation' : (principals.find((p) => p.clientId === id) ?? { role: '?' }).role + '-own'
  const r = await compare(warnings, (w) => `${w.regionCode} by ${raiser(w.raisedBy.clientId)}`, mayReadWarning, {
    warningScopeSql: (p) => verdicts('warnings', 'w', warningScopeSql(p, 'w')),
    listWarnings: async (p) =>
      listed(
        (await listWarnings(db, p, { limit: 1000 })).map((w) => w.id),
        warnings,
      ),
  })
  t.strictSame(r.disagreements, [], 'the rule and its twins agree on every pair')
  t.ok(r.yes > 20 && r.no > 20, `both answers occur (${r.yes} readable, ${r.no} not)`)

  const mine = WARNINGS.at(-2) as WarningRef
  t.ok(mayReadWarning(byName('court', '京0105'), mine), 'the raiser reads its own warning, outside its region too')
  t.notOk(mayReadWarning(byName('court', '粤0604', '京0108'), mine), 'another court does not: it is addressed to the other side')
})
