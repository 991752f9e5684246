import { randomUUID } from 'node:crypto'
import t from 'tap'
import { sql } from 'kysely'
import { uuidv7 } from 'uuidv7'
import { rebuildStatsRollup } from '../../src/db/stats-rollup.js'
import { addCalendarDays, daysBetween, shanghaiDate, startOfShanghaiDay } from '../../src/domain/calendar.js'
import { idemKey, startHarness } from '../helpers/harness.js'
import { grantSpecialRoster, organizationBody, post, referralBody, standardWorld } from '../helpers/fixtures.js'

const h = await startHarness()
t.teardown(() => h.close())
const world = await standardWorld(h)
const op = h.operatorKey
const db = h.deps.db

// Organizations: A = bj-cy-blz (standardWorld, 110105), A2 (110105), B (110108), C (440604).
const ORG = { A: 'bj-cy-blz', A2: 'cy-2', B: 'hd-1', C: 'gd-1' } as const
const REGION: Record<string, string> = { [ORG.A]: '110105', [ORG.A2]: '110105', [ORG.B]: '110108', [ORG.C]: '440604' }
for (const [id, key, regionCode, courtSpecial] of [
  [ORG.A2, world.platform.key, '110105', ['京0105']],
  [ORG.B, world.platform.key, '110108', ['京0108', '京0105']],
  [ORG.C, world.otherPlatform.key, '440604', ['粤0604']],
] as const) {
  const res = await h.call(key, {
    method: 'PUT',
    url: `/v1/organizations/${id}`,
    payload: organizationBody({ regionCode }),
  })
  if (res.statusCode !== 201) throw new Error(res.body)
  await grantSpecialRoster(h, id, courtSpecial)
}

/** Shanghai wall-clock time → instant. */
const at = (local: string) => new Date(`${local}+08:00`)

interface SeedEvent {
  type: string
  at: string
  org: string
  performance?: string
}

let caseSeq = 1
/**
 * A referral with its history written straight into the tables, with chosen times: what the API would have written
 * over weeks. Only the columns statistics read are meaningful.
 */
async function seedReferral(r: { court: string; disputeType: string; status: string; createdAt: Date; events: SeedEvent[] }): Promise<string> {
  const id = uuidv7()
  const heldBy = [...new Set(r.events.map((e) => e.org))]
  const current = r.events[r.events.length - 1].org
  await db
    .insertInto('referrals')
    .values({
      id,
      version: r.events.length,
      status: r.status,
      referral_type: 'pre_filing',
      court_code: r.court,
      case_number: `（2026）${r.court}民诉前调${caseSeq++}号`,
      dispute_type: r.disputeType,
      organization_id: current,
      held_by: heldBy,
      acceptance_due_on: null,
      mediation_due_on: null,
      chain_head: '0'.repeat(64),
      doc: '{}',
      created_at: r.createdAt,
      updated_at: r.createdAt,
    })
    .execute()
  let seq = 0
  for (const e of r.events) {
    seq++
    await db
      .insertInto('events')
      .values({
        id: randomUUID(),
        type: e.type,
        occurred_at: e.at === 'created' ? r.createdAt : at(e.at),
        subject_kind: 'referral',
        subject_id: id,
        sequence: seq,
        case_version: seq,
        actor: JSON.stringify('system'),
        data: JSON.stringify({ referral: e.performance ? { performance: { status: e.performance } } : {} }),
        court_code: r.court,
        organization_id: e.org,
        region_code: REGION[e.org],
        prev_hash: '0'.repeat(64),
        hash: '0'.repeat(64),
      })
      .execute()
  }
  // Written around the write path: the statistics rollup is rebuilt from the tables (db/stats-rollup.ts).
  await rebuildStatsRollup(db)
  return id
}

async function seedConfirmation(c: { referralId: string | null; court: string; org: string; status: string; reviewDueOn: string | null }) {
  await sql`INSERT INTO judicial_confirmations (id, version, status, referral_id, court_code, organization_id, subject, late, applied_at,
              case_number, review_due_on, agreement_sha256, chain_head, doc, created_at, updated_at)
            VALUES (${uuidv7()}, 1, ${c.status}, ${c.referralId}, ${c.court}, ${c.org}, 'ordinary', false, now(), NULL, ${c.reviewDueOn}::date,
              ${'a'.repeat(64)}, ${'0'.repeat(64)}, '{}', now(), now())`.execute(db)
  await rebuildStatsRollup(db)
}

const ev = (type: string, when: string, org: string, performance?: string): SeedEvent => ({ type: `referral.${type}`, at: when, org, performance })

// ---------------------------------------------------------------------------------------------
// The seeded October 2026 (Asia/Shanghai). Answers below are worked out by hand from this list.
const R1 = await seedReferral({
  court: '京0105',
  disputeType: 'neighbor',
  status: 'closed',
  createdAt: at('2026-10-01T09:00:00'),
  events: [
    ev('created', 'created', ORG.A),
    ev('accepted', '2026-10-02T10:00:00', ORG.A),
    ev('agreement_recorded', '2026-10-12T16:00:00', ORG.A),
    ev('closed', '2026-10-13T09:00:00', ORG.A),
    ev('performance_reported', '2026-10-20T09:00:00', ORG.A, 'not_performed'),
    ev('performance_reported', '2026-10-28T09:00:00', ORG.A, 'performed'),
  ],
})
// Terminated, then the case was registered: counts as terminated and as litigated.
await seedReferral({
  court: '京0105',
  disputeType: 'neighbor',
  status: 'case_registered',
  createdAt: at('2026-10-03T08:00:00'),
  events: [
    ev('created', 'created', ORG.A),
    ev('accepted', '2026-10-03T11:00:00', ORG.A),
    ev('terminated', '2026-10-08T23:30:00', ORG.A),
    ev('materials_returned', '2026-10-09T10:00:00', ORG.A),
    ev('case_registered', '2026-10-15T10:00:00', ORG.A),
  ],
})
// Declined by A, redesignated to B, agreed there.
const R3 = await seedReferral({
  court: '京0105',
  disputeType: 'labor',
  status: 'agreed',
  createdAt: at('2026-10-05T10:00:00'),
  events: [
    ev('created', 'created', ORG.A),
    ev('declined', '2026-10-06T10:00:00', ORG.A),
    ev('redesignated', '2026-10-06T15:00:00', ORG.B),
    ev('accepted', '2026-10-07T00:10:00', ORG.B),
    ev('agreement_recorded', '2026-10-27T10:00:00', ORG.B),
    ev('performance_reported', '2026-11-05T10:00:00', ORG.B, 'partially_performed'),
  ],
})
await seedReferral({
  court: '京0108',
  disputeType: 'contract',
  status: 'terminated',
  createdAt: at('2026-10-10T10:00:00'),
  events: [
    ev('created', 'created', ORG.B),
    ev('accepted', '2026-10-11T10:00:00', ORG.B),
    ev('suspended', '2026-10-12T10:00:00', ORG.B),
    ev('resumed', '2026-10-14T10:00:00', ORG.B),
    ev('terminated', '2026-10-20T00:00:01', ORG.B),
  ],
})
// The last minutes of the period.
await seedReferral({
  court: '京0108',
  disputeType: 'contract',
  status: 'referred',
  createdAt: at('2026-10-31T23:59:59'),
  events: [ev('created', 'created', ORG.B)],
})
// Just outside, both ends.
const R6 = await seedReferral({
  court: '京0105',
  disputeType: 'neighbor',
  status: 'agreed',
  createdAt: at('2026-09-30T23:59:59'),
  events: [ev('created', 'created', ORG.A), ev('accepted', '2026-10-01T10:00:00', ORG.A), ev('agreement_recorded', '2026-10-02T10:00:00', ORG.A)],
})
await seedReferral({
  court: '京0105',
  disputeType: 'neighbor',
  status: 'referred',
  createdAt: at('2026-11-01T00:00:00'),
  events: [ev('created', 'created', ORG.A)],
})
const R8 = await seedReferral({
  court: '粤0604',
  disputeType: 'medical',
  status: 'closed',
  createdAt: at('2026-10-15T10:00:00'),
  events: [
    ev('created', 'created', ORG.C),
    ev('accepted', '2026-10-16T10:00:00', ORG.C),
    ev('agreement_recorded', '2026-10-17T10:00:00', ORG.C),
    ev('closed', '2026-10-18T10:00:00', ORG.C),
    ev('performance_reported', '2026-10-30T10:00:00', ORG.C, 'performed'),
  ],
})
// Declined by timeout at A, redesignated to A2 in the same district, now mediating there.
await seedReferral({
  court: '京0105',
  disputeType: 'neighbor',
  status: 'mediating',
  createdAt: at('2026-10-20T10:00:00'),
  events: [
    ev('created', 'created', ORG.A),
    ev('declined', '2026-10-24T00:00:00', ORG.A),
    ev('redesignated', '2026-10-25T10:00:00', ORG.A2),
    ev('accepted', '2026-10-26T10:00:00', ORG.A2),
  ],
})
await seedConfirmation({ referralId: R1, court: '京0105', org: ORG.A, status: 'ruled_valid', reviewDueOn: '2026-11-20' })
await seedConfirmation({ referralId: R3, court: '京0105', org: ORG.B, status: 'under_review', reviewDueOn: '2026-11-01' })
await seedConfirmation({ referralId: R8, court: '粤0604', org: ORG.C, status: 'applied', reviewDueOn: null })
await seedConfirmation({ referralId: null, court: '京0105', org: ORG.A, status: 'under_review', reviewDueOn: '2026-11-20' })
await seedConfirmation({ referralId: R6, court: '京0105', org: ORG.A, status: 'ruled_valid', reviewDueOn: '2026-10-30' })

const today = shanghaiDate(new Date())
const age = (created: string) => daysBetween(created, today)
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const zero = {
  referrals: 0,
  accepted: 0,
  declined: 0,
  agreed: 0,
  terminated: 0,
  successRate: null,
  performanceReported: 0,
  performed: 0,
  autoPerformanceRate: null,
  medianDaysToOutcome: null,
  litigatedAfterFailure: 0,
  confirmationsApplied: 0,
  confirmationsRuledValid: 0,
  confirmationsOverdue: 0,
  openReferrals: 0,
  openReferralMedianAgeDays: null,
  openReferralMaxAgeDays: null,
}
const g = (key: string, over: Record<string, unknown>) => ({ key, ...zero, ...over })

const stats = async (key: string, q: string) => {
  const res = await h.call(key, { method: 'GET', url: `/v1/stats?${q}` })
  if (res.statusCode !== 200) throw new Error(`${q}: ${res.statusCode} ${res.body}`)
  return res.json()
}
const OCT = 'from=2026-10-01&to=2026-10-31'

const bj0105 = g('京0105', {
  referrals: 4,
  accepted: 4,
  declined: 2,
  agreed: 2,
  terminated: 1,
  successRate: 0.6667,
  performanceReported: 2,
  performed: 1,
  autoPerformanceRate: 0.5,
  // R1 10-02 → 10-12: 10; R2 10-03 → 10-08: 5; R3 10-07 → 10-27: 20.
  medianDaysToOutcome: 10,
  litigatedAfterFailure: 1,
  confirmationsApplied: 2,
  confirmationsRuledValid: 1,
  confirmationsOverdue: 1,
  openReferrals: 2,
  openReferralMedianAgeDays: median([age('2026-10-05'), age('2026-10-20')]),
  openReferralMaxAgeDays: age('2026-10-05'),
})
const bj0108 = g('京0108', {
  referrals: 2,
  accepted: 1,
  terminated: 1,
  successRate: 0,
  medianDaysToOutcome: 9,
  openReferrals: 2,
  openReferralMedianAgeDays: median([age('2026-10-10'), age('2026-10-31')]),
  openReferralMaxAgeDays: age('2026-10-10'),
})
const gd0604 = g('粤0604', {
  referrals: 1,
  accepted: 1,
  agreed: 1,
  successRate: 1,
  performanceReported: 1,
  performed: 1,
  autoPerformanceRate: 1,
  medianDaysToOutcome: 1,
  confirmationsApplied: 1,
})

t.test('by court, as an operator: every figure worked out by hand', async (t) => {
  const s = await stats(op, `${OCT}&groupBy=court`)
  t.equal(s.from, '2026-10-01')
  t.equal(s.to, '2026-10-31')
  t.equal(s.groupBy, 'court')
  t.equal(s.asOf, today)
  t.same(s.groups, [bj0105, bj0108, gd0604])
  // Both overdue reviews in scope, the standalone application included; whatever the period.
  t.equal(s.overdueConfirmations, 2)
  t.same((await stats(op, OCT)).groups, s.groups, 'court is the default grouping')
})

t.test('by organization and by region: each outcome for the organization holding the case when it was reached', async (t) => {
  const org = await stats(op, `${OCT}&groupBy=organization`)
  t.same(
    org.groups,
    [
      g(ORG.A, {
        referrals: 4,
        accepted: 2,
        declined: 2,
        agreed: 1,
        terminated: 1,
        successRate: 0.5,
        performanceReported: 1,
        performed: 1,
        autoPerformanceRate: 1,
        medianDaysToOutcome: 7.5,
        litigatedAfterFailure: 1,
        confirmationsApplied: 1,
        confirmationsRuledValid: 1,
      }),
      g(ORG.C, { ...gd0604, key: ORG.C }),
      g(ORG.A2, { referrals: 1, accepted: 1, openReferrals: 1, openReferralMedianAgeDays: age('2026-10-20'), openReferralMaxAgeDays: age('2026-10-20') }),
      g(ORG.B, {
        referrals: 3,
        accepted: 2,
        agreed: 1,
        terminated: 1,
        successRate: 0.5,
        performanceReported: 1,
        performed: 0,
        autoPerformanceRate: 0,
        medianDaysToOutcome: 14.5,
        confirmationsApplied: 1,
        confirmationsOverdue: 1,
        openReferrals: 3,
        openReferralMedianAgeDays: age('2026-10-10'),
        openReferralMaxAgeDays: age('2026-10-05'),
      }),
    ].sort((a, b) => (a.key < b.key ? -1 : 1)),
  )

  const region = await stats(op, `${OCT}&groupBy=region`)
  t.same(region.groups, [
    // A and A2 together: the referral passed from one to the other counts once.
    g('110105', {
      referrals: 4,
      accepted: 3,
      declined: 2,
      agreed: 1,
      terminated: 1,
      successRate: 0.5,
      performanceReported: 1,
      performed: 1,
      autoPerformanceRate: 1,
      medianDaysToOutcome: 7.5,
      litigatedAfterFailure: 1,
      confirmationsApplied: 1,
      confirmationsRuledValid: 1,
      openReferrals: 1,
      openReferralMedianAgeDays: age('2026-10-20'),
      openReferralMaxAgeDays: age('2026-10-20'),
    }),
    g('110108', {
      referrals: 3,
      accepted: 2,
      agreed: 1,
      terminated: 1,
      successRate: 0.5,
      performanceReported: 1,
      performed: 0,
      autoPerformanceRate: 0,
      medianDaysToOutcome: 14.5,
      confirmationsApplied: 1,
      confirmationsOverdue: 1,
      openReferrals: 3,
      openReferralMedianAgeDays: age('2026-10-10'),
      openReferralMaxAgeDays: age('2026-10-05'),
    }),
    g('440604', { ...gd0604, key: '440604' }),
  ])
})

t.test('by dispute type and by month', async (t) => {
  const types = await stats(op, `${OCT}&groupBy=disputeType`)
  t.same(types.groups, [
    g('contract', { ...bj0108, key: 'contract' }),
    g('labor', {
      referrals: 1,
      accepted: 1,
      declined: 1,
      agreed: 1,
      successRate: 1,
      performanceReported: 1,
      autoPerformanceRate: 0,
      medianDaysToOutcome: 20,
      confirmationsApplied: 1,
      confirmationsOverdue: 1,
      openReferrals: 1,
      openReferralMedianAgeDays: age('2026-10-05'),
      openReferralMaxAgeDays: age('2026-10-05'),
    }),
    g('medical', { ...gd0604, key: 'medical' }),
    g('neighbor', {
      referrals: 3,
      accepted: 3,
      declined: 1,
      agreed: 1,
      terminated: 1,
      successRate: 0.5,
      performanceReported: 1,
      performed: 1,
      autoPerformanceRate: 1,
      medianDaysToOutcome: 7.5,
      litigatedAfterFailure: 1,
      confirmationsApplied: 1,
      confirmationsRuledValid: 1,
      openReferrals: 1,
      openReferralMedianAgeDays: age('2026-10-20'),
      openReferralMaxAgeDays: age('2026-10-20'),
    }),
  ])

  // Month boundaries are Asia/Shanghai midnights: 09-30 23:59:59 and 11-01 00:00:00 fall outside October.
  const months = await stats(op, 'from=2026-09-01&to=2026-11-28&groupBy=month')
  t.same(months.groups, [
    g('2026-09', {
      referrals: 1,
      accepted: 1,
      agreed: 1,
      successRate: 1,
      medianDaysToOutcome: 1,
      confirmationsApplied: 1,
      confirmationsRuledValid: 1,
      openReferrals: 1,
      openReferralMedianAgeDays: age('2026-09-30'),
      openReferralMaxAgeDays: age('2026-09-30'),
    }),
    g('2026-10', {
      referrals: 7,
      accepted: 6,
      declined: 2,
      agreed: 3,
      terminated: 2,
      successRate: 0.6,
      performanceReported: 3,
      performed: 2,
      autoPerformanceRate: 0.6667,
      // 1, 5, 9, 10, 20.
      medianDaysToOutcome: 9,
      litigatedAfterFailure: 1,
      confirmationsApplied: 3,
      confirmationsRuledValid: 1,
      confirmationsOverdue: 1,
      openReferrals: 4,
      openReferralMedianAgeDays: median([age('2026-10-05'), age('2026-10-10'), age('2026-10-31'), age('2026-10-20')]),
      openReferralMaxAgeDays: age('2026-10-05'),
    }),
    g('2026-11', { referrals: 1, openReferrals: 1, openReferralMedianAgeDays: age('2026-11-01'), openReferralMaxAgeDays: age('2026-11-01') }),
  ])
})

t.test('scoped to the caller; courtCode and regionCode filters', async (t) => {
  const court = await stats(world.court.key, OCT)
  t.same(court.groups, [bj0105], 'a court sees its own courts only')
  t.equal(court.overdueConfirmations, 2)
  const refused = await h.call(world.court.key, { method: 'GET', url: `/v1/stats?${OCT}&courtCode=粤0604` })
  t.equal(refused.statusCode, 422)
  t.equal(refused.json().code, 'court_code_not_allowed')
  t.same((await stats(world.court.key, `${OCT}&courtCode=京0105`)).groups, [bj0105])

  const gdCourt = await stats(world.otherCourt.key, OCT)
  t.same(gdCourt.groups, [gd0604])
  t.equal(gdCourt.overdueConfirmations, 0)

  // A platform for Haidian sees the referrals B held — all of each, whatever happened elsewhere.
  const hd = await h.client('mediation', { regionCodes: ['110108'] })
  const hdStats = await stats(hd.key, OCT)
  t.same(hdStats.groups, [
    g('京0105', {
      referrals: 1,
      accepted: 1,
      declined: 1,
      agreed: 1,
      successRate: 1,
      performanceReported: 1,
      autoPerformanceRate: 0,
      medianDaysToOutcome: 20,
      confirmationsApplied: 1,
      confirmationsOverdue: 1,
      openReferrals: 1,
      openReferralMedianAgeDays: age('2026-10-05'),
      openReferralMaxAgeDays: age('2026-10-05'),
    }),
    bj0108,
  ])
  t.equal(hdStats.overdueConfirmations, 1)
  const byId = await h.client('mediation', { organizationIds: [ORG.C] })
  t.same((await stats(byId.key, OCT)).groups, [gd0604])
  t.same((await stats(world.otherPlatform.key, `${OCT}&groupBy=organization`)).groups, [g(ORG.C, { ...gd0604, key: ORG.C })])

  t.same((await stats(op, `${OCT}&courtCode=京0108`)).groups, [bj0108])
  t.same((await stats(op, `${OCT}&regionCode=4406`)).groups, [gd0604])
  t.same(
    (await stats(op, `${OCT}&regionCode=110108`)).groups.map((x: { key: string; referrals: number }) => [x.key, x.referrals]),
    [
      ['京0105', 1],
      ['京0108', 2],
    ],
  )
  t.same(
    (await stats(op, `${OCT}&regionCode=110105&groupBy=organization`)).groups.map((x: { key: string }) => x.key),
    [ORG.A, ORG.A2].sort(),
    'holder groupings keep only the organizations in the region',
  )
  t.equal((await stats(op, `${OCT}&regionCode=44`)).overdueConfirmations, 0)
})

t.test('validation', async (t) => {
  for (const q of [
    'from=2026-10-31&to=2026-10-01',
    'from=2026-02-30',
    'to=tomorrow',
    'groupBy=week',
    'courtCode=X',
    'regionCode=1',
    'limit=5',
    'from=2000-01-01&to=2026-10-01',
  ]) {
    const res = await h.call(op, { method: 'GET', url: `/v1/stats?${q}` })
    t.equal(res.statusCode, 400, q)
    t.equal(res.json().code, 'validation_failed', q)
  }
  t.equal((await h.call(null, { method: 'GET', url: '/v1/stats' })).statusCode, 401)
})

t.test('the default period is the last 30 days, and the API’s own events count', async (t) => {
  // A court of its own, so only what this test writes is in its figures.
  const court = await h.client('court', { courtCodes: ['京0106'] })
  const designation = { mode: 'party_selected', organizationId: ORG.A }
  const caseNo = () => `（2026）京0106民诉前调${Math.floor(Math.random() * 1e7) + 1}号`
  const x = await post(h, court.key, '/v1/referrals', referralBody({ courtCode: '京0106', caseNumber: caseNo(), designation }))
  const y = await post(h, court.key, '/v1/referrals', referralBody({ courtCode: '京0106', caseNumber: caseNo(), designation }))
  t.equal(x.statusCode, 201, x.body)
  t.equal(y.statusCode, 201, y.body)
  const act = async (id: string, action: string, payload: Record<string, unknown>) => {
    const res = await h.call(world.platform.key, { method: 'POST', url: `/v1/referrals/${id}/${action}`, payload, headers: { 'idempotency-key': idemKey() } })
    t.equal(res.statusCode, 200, `${action}: ${res.body}`)
  }
  const now = new Date().toISOString()
  await act(x.json().id, 'acceptance', { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: now })
  await act(x.json().id, 'agreement', {
    form: 'written',
    terms: '被申请人于十日内赔偿 8000 元',
    signatures: [
      { partyIndex: 0, signedAt: now },
      { partyIndex: 1, signedAt: now },
    ],
    mediatorSignedAt: now,
    sealedAt: now,
    performance: { method: 'immediate' },
  })
  await act(x.json().id, 'performance', { status: 'performed', reportedOn: today })
  await act(x.json().id, 'performance', { status: 'not_performed', reportedOn: today })
  await act(y.json().id, 'acceptance', { decision: 'declined', reason: '案情超出本委员会受理范围' })
  // The window's first instant is in; the instant before is out.
  const first = addCalendarDays(today, -29)
  await seedReferral({
    court: '京0106',
    disputeType: 'neighbor',
    status: 'referred',
    createdAt: startOfShanghaiDay(first),
    events: [ev('created', 'created', ORG.A)],
  })
  await seedReferral({
    court: '京0106',
    disputeType: 'neighbor',
    status: 'referred',
    createdAt: new Date(startOfShanghaiDay(first).getTime() - 1),
    events: [ev('created', 'created', ORG.A)],
  })

  const s = await stats(court.key, '')
  t.equal(s.from, first)
  t.equal(s.to, today)
  t.same(s.groups, [
    g('京0106', {
      referrals: 3,
      accepted: 1,
      declined: 1,
      agreed: 1,
      successRate: 1,
      performanceReported: 1,
      performed: 0,
      autoPerformanceRate: 0,
      medianDaysToOutcome: 0,
      openReferrals: 3,
      openReferralMedianAgeDays: 0,
      openReferralMaxAgeDays: 29,
    }),
  ])
  t.same((await stats(court.key, `to=${today}`)).groups, s.groups, 'from defaults to 29 days before to')
})
