import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { sql } from 'kysely'
import t from 'tap'
import { confirmationService } from '../../src/cases/confirmations/confirmation-service.js'
import { completeRecomputation } from '../../src/cases/calendar-recompute.js'
import { judgeBody, runBatch } from '../../src/cases/referrals/referral-batch.js'
import { referralService } from '../../src/cases/referrals/referral-service.js'
import { rebuildStatsRollup } from '../../src/db/stats-rollup.js'
import { computeStats, readStatsRollup, STATS_GROUPINGS, type StatsQuery } from '../../src/db/stats-repository.js'
import { addCalendarDays, endOfShanghaiDay, shanghaiDate, startOfShanghaiDay } from '../../src/domain/calendar.js'
import { AppError } from '../../src/domain/errors.js'
import type { Principal } from '../../src/domain/principal.js'
import type { CreateConfirmationInput } from '../../src/schemas/confirmations.js'
import type { CreateReferralInput } from '../../src/schemas/referrals.js'
import { backfill } from '../../migrations/0016_stats_rollup.js'
import { backfill as backfillCourtCells } from '../../migrations/0018_stats_court_cells.js'
import { caller, principal, seedOrganization, startCaseWorld } from '../helpers/cases.js'
import { caseNumber, referralBody } from '../helpers/fixtures.js'

/**
 * The statistics rollup (src/db/stats-rollup.ts) against the direct count (computeStats): random case histories are
 * played through the services (intake single and batch, every referral action, recalls, confirmations and their
 * decisions, review extensions, due dates recomputed after a calendar change, an organization moving region), each step at its own moment (the clock the services
 * read is moved), and after each history every grouping is asked of both, for several callers, periods and filters.
 * Then the migration's backfill and the rebuild are checked against the direct count on the same data.
 *
 * fast-check: STATS_ROLLUP_SEED=<n> replays a run; a failure shrinks to a short history.
 */

// Thirty histories and six full comparisons (both kinds of cells): two to three minutes alone, more on a busy machine.
t.setTimeout(420_000)

const world = await startCaseWorld()
t.teardown(() => world.close())
const { deps } = world
const db = deps.db
const referrals = referralService(deps)
const confirmations = confirmationService(deps)

// Organizations: two in 110105, one in 110108, one in 440604; rosters so that 京0105 may designate three of them.
const ORGS = [
  { id: 'bj-a', regionCode: '110105', courts: ['京0105'] },
  { id: 'bj-a2', regionCode: '110105', courts: ['京0105', '京0108'] },
  { id: 'bj-b', regionCode: '110108', courts: ['京0105', '京0108'] },
  { id: 'gd-c', regionCode: '440604', courts: ['粤0604'] },
] as const
for (const o of ORGS) {
  await seedOrganization(db, o.id, {
    regionCode: o.regionCode,
    disputeTypes: ['neighbor', 'labor'],
    rosters: { ministry: true, courtSpecial: [...o.courts] },
  })
}
const COURTS = ['京0105', '京0108', '粤0604'] as const
const orgsOf = (court: string) => ORGS.filter((o) => (o.courts as readonly string[]).includes(court)).map((o) => o.id)

const courts = principal('court', { courtCodes: [...COURTS] })
const desk = principal('mediation', { organizationIds: ORGS.map((o) => o.id) })

/** The callers the figures are compared for. */
const CALLERS: Array<[string, Principal]> = [
  ['operator', principal('operator')],
  ['court 京0105', principal('court', { courtCodes: ['京0105'] })],
  ['court 京0105+京0108', principal('court', { courtCodes: ['京0105', '京0108'] })],
  ['platform 11', principal('mediation', { regionCodes: ['11'] })],
  ['platform 1101', principal('mediation', { regionCodes: ['1101'] })],
  ['organization bj-b', principal('mediation', { organizationIds: ['bj-b'] })],
  ['organization bj-a + region 44', principal('mediation', { organizationIds: ['bj-a'], regionCodes: ['44'] })],
  ['national', principal('mediation', { regionCodes: ['*'] })],
]

// ---------------------------------------------------------------------------------------------
// The clock the services read

const DAY = 86_400_000
const REAL = Date
/** Runs `fn` with the services' clock at `at` (they run in this process). */
async function at<T>(when: number, fn: () => Promise<T>): Promise<T> {
  const offset = when - REAL.now()
  class Shifted extends REAL {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(REAL.now() + offset)
      else super(...(args as [string]))
    }
    static override now(): number {
      return REAL.now() + offset
    }
  }
  globalThis.Date = Shifted as DateConstructor
  try {
    return await fn()
  } finally {
    globalThis.Date = REAL
  }
}

// ---------------------------------------------------------------------------------------------
// Histories

const ACTIONS = [
  'accept',
  'decline',
  'redesignate',
  'assign',
  'suspend',
  'resume',
  'agree',
  'terminate',
  'perform',
  'not_perform',
  'close',
  'return',
  'register',
  'resume_trial',
  'recall',
  'apply',
  'review',
  'extend_review',
  'rule_valid',
  'rule_rejected',
  'withdraw',
  'recompute_calendar',
] as const
type Action = (typeof ACTIONS)[number]

interface Step {
  action: Action
  /** Hours after the previous step. */
  hours: number
  /** Picks among the candidate organizations (redesignation, assignment). */
  pick: number
}
interface Plan {
  court: number
  disputeType: 'neighbor' | 'labor'
  inLitigation: boolean
  org: number
  /** Days before now the referral is made. */
  daysAgo: number
  steps: Step[]
}

/** Weighted towards the steps that move a case on, so that histories get far. */
const HEAVY: readonly Action[] = ['accept', 'agree', 'terminate', 'perform', 'apply', 'review', 'rule_valid', 'redesignate', 'decline', 'register']
const actionArb = fc.oneof({ arbitrary: fc.constantFrom(...HEAVY), weight: 3 }, { arbitrary: fc.constantFrom(...ACTIONS), weight: 1 })
const stepArb = fc.record({ action: actionArb, hours: fc.integer({ min: 1, max: 72 }), pick: fc.nat(3) })
const planArb = fc.record({
  court: fc.nat(2),
  disputeType: fc.constantFrom('neighbor' as const, 'labor' as const),
  inLitigation: fc.boolean(),
  org: fc.nat(3),
  daysAgo: fc.integer({ min: 0, max: 50 }),
  steps: fc.array(stepArb, { minLength: 4, maxLength: 14 }),
})

const both = (when: string) => [0, 1].map((i) => ({ partyIndex: i, consentedAt: when, method: 'written' as const }))
let jcSeq = 1
/** Days off added by the histories' calendar changes, and the cases those changes moved. */
let extraHolidays = 0
let recomputed = 0
const year = new Date().getFullYear()

/** Refusals (a step the case's state does not allow, a deadline passed) are part of a random history. */
const refusals = new Map<string, number>()
async function attempt(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn()
  } catch (e) {
    if (!(e instanceof AppError)) throw e
    refusals.set(e.code, (refusals.get(e.code) ?? 0) + 1)
  }
}

function intakeBody(p: Plan) {
  const court = COURTS[p.court] ?? '京0105'
  const orgs = orgsOf(court)
  const org = orgs[p.org % orgs.length] as string
  return referralBody({
    courtCode: court,
    disputeType: p.disputeType,
    caseNumber: caseNumber(court, p.inLitigation ? '民初' : '民诉前调'),
    ...(p.inLitigation ? { referralType: 'in_litigation', procedure: 'ordinary' } : {}),
    designation: { mode: 'court_designated', organizationId: org },
  }) as unknown as CreateReferralInput
}

/** Plays one referral's steps from `start`, each at its own moment (never after now). */
async function play(id: string, p: Plan, start: number): Promise<void> {
  let when = start
  let confirmationId: string | undefined
  const court = COURTS[p.court] ?? '京0105'
  for (const s of p.steps) {
    when = Math.min(when + s.hours * 3_600_000, REAL.now() - 1000)
    await at(when, async () => {
      const now = new Date().toISOString()
      const today = shanghaiDate(new Date())
      const r = await referrals.get(caller(courts), id)
      const c = caller
      const w = world.work
      const applyFor = async () => {
        const sha = (await referrals.get(caller(courts), id)).value.doc.agreement?.sha256
        if (!sha) return
        const body = { referralId: id, courtCode: court, agreementSha256: sha, applicants: [0, 1], appliedAt: now, materials: [] }
        return attempt(async () => {
          confirmationId = (await w(confirmations.apply(c(desk), body as unknown as CreateConfirmationInput))).value.id
        })
      }
      switch (s.action) {
        case 'accept':
          return attempt(() => w((x) => referrals.accept(x, c(desk), id, { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: now })))
        case 'decline':
          return attempt(() => w((x) => referrals.decline(x, c(desk), id, { decision: 'declined', reason: '超出受理范围' })))
        case 'redesignate': {
          const orgs = orgsOf(court)
          const organizationId = orgs[s.pick % orgs.length] as string
          return attempt(() => w((x) => referrals.redesignate(x, c(courts), id, { designation: { mode: 'court_designated', organizationId } })))
        }
        case 'assign': {
          const others = ORGS.map((o) => o.id).filter((o) => o !== r.value.organizationId)
          return attempt(() => w((x) => referrals.assign(x, c(desk), id, { organizationId: others[s.pick % others.length] as string })))
        }
        case 'suspend':
          return attempt(() => w((x) => referrals.suspend(x, c(desk), id, { reason: 'appraisal', note: '委托鉴定' })))
        case 'resume':
          return attempt(() => w((x) => referrals.resume(x, c(desk), id, { note: '鉴定意见已出具' })))
        case 'agree':
          await attempt(() =>
            w((x) =>
              referrals.recordAgreement(x, c(desk), id, {
                form: 'written',
                terms: `李四赔偿张三 ${1000 + s.pick} 元`,
                signatures: [
                  { partyIndex: 0, signedAt: now },
                  { partyIndex: 1, signedAt: now },
                ],
                mediatorSignedAt: now,
                sealedAt: now,
                performance: { method: 'immediate' },
              } as never),
            ),
          )
          // Half the pre-filing agreements go to judicial confirmation at once (in-litigation ones may not).
          if (p.inLitigation || s.pick % 2) return
          return applyFor()
        case 'apply':
          return applyFor()
        case 'terminate':
          return attempt(() => w((x) => referrals.terminate(x, c(desk), id, { reason: 'party_refused', report: '一方拒绝继续调解' } as never)))
        case 'perform':
        case 'not_perform':
          return attempt(() =>
            w((x) =>
              referrals.reportPerformance(x, c(desk), id, { status: s.action === 'perform' ? 'performed' : 'not_performed', reportedOn: today } as never),
            ),
          )
        case 'close':
          return attempt(() =>
            w((x) => referrals.close(x, c(courts), id, { disposition: p.inLitigation ? 'mediation_document_issued' : 'agreement_filed' } as never)),
          )
        case 'return':
          return attempt(() => w((x) => referrals.returnMaterials(x, c(desk), id, { materials: [], report: '调解终结报告', returnedAt: now })))
        case 'register':
          return attempt(() =>
            w((x) => referrals.registerCase(x, c(courts), id, { action: 'case_registered', caseNumber: caseNumber(court, '民初'), filedOn: today } as never)),
          )
        case 'resume_trial':
          return attempt(() => w((x) => referrals.resumeTrial(x, c(courts), id, { action: 'trial_resumed', resumedOn: today } as never)))
        case 'recall':
          return attempt(() => w((x) => referrals.recall(x, c(courts), id, { reason: 'party_insists_on_litigation', note: '申请人坚持起诉' } as never)))
        case 'review':
          if (!confirmationId) return
          return attempt(() =>
            w((x) => confirmations.accept(x, c(courts), confirmationId as string, { decision: 'accepted', caseNumber: `（${year}）${court}民特${jcSeq++}号` })),
          )
        case 'extend_review': {
          if (!confirmationId) return
          const current = await confirmations.get(c(courts), confirmationId)
          const due = current.value.reviewDueOn
          if (!due) return
          return attempt(() =>
            w((x) => confirmations.extendReview(x, c(courts), confirmationId as string, { newDueOn: addCalendarDays(due, 5 + s.pick), reason: '案情复杂' })),
          )
        }
        case 'rule_valid':
        case 'rule_rejected':
          if (!confirmationId) return
          return attempt(() =>
            w((x) =>
              confirmations.rule(
                x,
                c(courts),
                confirmationId as string,
                {
                  result: s.action === 'rule_valid' ? 'valid' : 'rejected',
                  rulingNumber: `（${year}）${court}民特${jcSeq++}号`,
                  ruledOn: today,
                  ...(s.action === 'rule_rejected' ? { reason: '违反法律强制性规定' } : {}),
                } as never,
              ),
            ),
          )
        case 'recompute_calendar': {
          // The operator publishes one more day off, a weekday a few days ahead (PUT /v1/calendar/{year}): every open
          // case whose due date moves gets a referral.deadlines_changed (or confirmation.…) transition of its own.
          const day = addCalendarDays(today, 2 + s.pick + 4 * extraHolidays++)
          if ([0, 6].includes(new Date(`${day}T00:00:00Z`).getUTCDay())) return
          const dayYear = Number(day.slice(0, 4))
          const info = (await deps.calendar.get()).yearInfo(dayYear)
          if (info.holidays.includes(day)) return
          const generation = await deps.calendar.put(dayYear, { holidays: [...info.holidays, day], workdays: info.workdays })
          const summary = await completeRecomputation({ db, calendar: deps.calendar, afterCommit: deps.afterCommit, logger: deps.logger }, dayYear, generation)
          recomputed += summary.changed
          return
        }
        case 'withdraw':
          if (!confirmationId) return
          return attempt(() => w((x) => confirmations.withdraw(x, c(desk), confirmationId as string, { reason: '当事人撤回' } as never)))
      }
    })
  }
}

/** Makes the referrals of `plans` (every third batch of them through the batch intake) and plays their histories. */
async function playAll(plans: Plan[]): Promise<void> {
  const starts = plans.map((p) => REAL.now() - p.daysAgo * DAY - 3_600_000)
  const ids: string[] = []
  for (const [i, p] of plans.entries()) {
    const start = starts[i] as number
    const body = { ...intakeBody(p), consent: both(new REAL(start - 60_000).toISOString()) } as unknown as CreateReferralInput
    const id = await at(start, async () => {
      if (i % 3 === 2) {
        // The batch intake (POST /v1/referrals/batch): its own multi-row statement.
        const item = judgeBody(caller(courts), { key: randomUUID(), hash: 'h', body }, 'request', new Date())
        const run = await world.work((w) =>
          runBatch(deps, w, caller(courts), [item], (_key, hash) => ({ requestHash: hash, status: 201, body: '{}', headers: {} })),
        )
        const out = run.outcomes[0]
        if (out?.kind !== 'created') throw new Error(`batch intake: ${JSON.stringify(out)}`)
        return out.referral.id
      }
      return (await world.work(referrals.create(caller(courts), body))).value.id
    })
    ids.push(id)
  }
  for (const [i, p] of plans.entries()) await play(ids[i] as string, p, starts[i] as number)
}

// ---------------------------------------------------------------------------------------------
// The comparison

const today = () => shanghaiDate(new Date())
function periods(): Array<[string, string]> {
  const d = today()
  return [
    [addCalendarDays(d, -364), d],
    [addCalendarDays(d, -29), d],
    [addCalendarDays(d, -40), addCalendarDays(d, -10)],
    [d, d],
  ]
}
const FILTERS: Array<{ courtCode?: string; regionCode?: string }> = [{}, { courtCode: '京0105' }, { regionCode: '110105' }, { regionCode: '11' }]

/** Every grouping, caller, period and filter: the rollup's answer and the direct count's; the first difference, if any. */
async function differences(full = true): Promise<string | null> {
  const now = today()
  for (const [name, p] of full ? CALLERS : CALLERS.filter(([n]) => ['operator', 'court 京0105', 'platform 11'].includes(n))) {
    for (const [from, to] of full ? periods() : periods().slice(0, 1)) {
      for (const f of full ? FILTERS : [{}]) {
        if (f.courtCode && p.role === 'court' && !p.courtCodes.includes(f.courtCode)) continue
        for (const groupBy of STATS_GROUPINGS) {
          const q: StatsQuery = { start: startOfShanghaiDay(from), end: endOfShanghaiDay(to), today: now, groupBy, ...f }
          const direct = await computeStats(db, p, q, true)
          // What GET /v1/stats reads (the cells without holders for the operator, courts and national platforms), and,
          // in the full comparison, the cells with holders for those callers too: both kinds are kept, so both must stay
          // exact (the other callers read the cells with holders anyway).
          const kinds = full && (p.role !== 'mediation' || p.regionCodes.includes('*')) ? (['read', 'held'] as const) : (['read'] as const)
          for (const cells of kinds) {
            const rolled = await readStatsRollup(db, p, q, cells === 'held' ? { cells } : {})
            if (JSON.stringify(rolled) !== JSON.stringify(direct)) {
              return `${name} ${groupBy} ${from}..${to} ${JSON.stringify(f)} (${cells} cells):\n rollup ${JSON.stringify(rolled)}\n direct ${JSON.stringify(direct)}`
            }
          }
        }
      }
    }
  }
  return null
}

const seed = Number(process.env.STATS_ROLLUP_SEED ?? 20261129)

t.test('random histories through the services: the rollup answers what the direct count answers', async (t) => {
  let runs = 0
  await fc.assert(
    fc.asyncProperty(fc.array(planArb, { minLength: 2, maxLength: 4 }), async (plans) => {
      runs++
      await playAll(plans)
      // Each history: the main callers over the year; every caller, period and filter once at the end.
      const diff = await differences(false)
      if (diff) throw new Error(diff)
    }),
    { seed, numRuns: Number(process.env.STATS_ROLLUP_RUNS ?? 30), endOnFailure: false },
  )
  t.equal(await differences(), null, 'every caller, period, filter and grouping')
  const n = await sql<{ n: number; e: number }>`SELECT (SELECT count(*) FROM referrals)::int AS n, (SELECT count(*) FROM events)::int AS e`.execute(db)
  t.ok(runs > 0 && n.rows[0]!.n > 10, `${runs} histories, ${n.rows[0]!.n} referrals, ${n.rows[0]!.e} events`)
  const reached = await sql<{ outcome: string }>`SELECT DISTINCT type AS outcome FROM events`.execute(db)
  t.comment(`refusals: ${JSON.stringify([...refusals])}`)
  t.comment(`calendar changes: ${extraHolidays}, cases whose due dates they moved: ${recomputed}`)
  t.ok(reached.rows.length >= 10, `event types seen: ${reached.rows.map((r) => r.outcome).join(', ')}`)
  const applied = await sql<{ status: string; n: number }>`SELECT status, count(*)::int AS n FROM judicial_confirmations GROUP BY status`.execute(db)
  t.comment(`confirmations: ${JSON.stringify(applied.rows)}`)
})

t.test('an organization moving region moves its referrals between region groups', async (t) => {
  await seedOrganization(db, 'bj-a2', {
    regionCode: '110106',
    disputeTypes: ['neighbor', 'labor'],
    rosters: { ministry: true, courtSpecial: ['京0105', '京0108'] },
  })
  t.equal(await differences(), null, 'after the move')
  await seedOrganization(db, 'bj-a2', {
    regionCode: '110105',
    disputeTypes: ['neighbor', 'labor'],
    rosters: { ministry: true, courtSpecial: ['京0105', '京0108'] },
  })
  t.equal(await differences(), null, 'and back')
})

t.test('the migrations’ backfills and the rebuild count what the direct count counts', async (t) => {
  // Every table of both kinds of cells, each cell's shards added up (what a reader sees).
  const snapshot = async () =>
    (
      await sql<{ rows: string }>`SELECT json_build_array(
        (SELECT json_agg(x ORDER BY x::text) FROM (
          SELECT grain, created_on, court_code, dispute_type, held_by, unit, sum(referrals) AS referrals, sum(accepted) AS accepted,
            sum(declined) AS declined, sum(agreed) AS agreed, sum(terminated) AS terminated, sum(litigated) AS litigated,
            sum(performance_reported) AS performance_reported, sum(performed) AS performed, sum(open) AS open,
            sum(confirmations_applied) AS confirmations_applied, sum(confirmations_ruled_valid) AS confirmations_ruled_valid
          FROM stats_cells GROUP BY grain, created_on, court_code, dispute_type, held_by, unit HAVING sum(referrals) <> 0) x),
        (SELECT json_agg(x ORDER BY x::text) FROM (
          SELECT grain, created_on, court_code, dispute_type, unit, sum(referrals) AS referrals, sum(accepted) AS accepted,
            sum(declined) AS declined, sum(agreed) AS agreed, sum(terminated) AS terminated, sum(litigated) AS litigated,
            sum(performance_reported) AS performance_reported, sum(performed) AS performed, sum(open) AS open,
            sum(confirmations_applied) AS confirmations_applied, sum(confirmations_ruled_valid) AS confirmations_ruled_valid
          FROM stats_court_cells GROUP BY grain, created_on, court_code, dispute_type, unit HAVING sum(referrals) <> 0) x),
        (SELECT json_agg(x ORDER BY x::text) FROM (SELECT * FROM stats_outcome_days WHERE n <> 0) x),
        (SELECT json_agg(x ORDER BY x::text) FROM (SELECT * FROM stats_review_due WHERE n <> 0) x),
        (SELECT json_agg(x ORDER BY x::text) FROM (SELECT * FROM stats_court_outcome_days WHERE n <> 0) x),
        (SELECT json_agg(x ORDER BY x::text) FROM (SELECT * FROM stats_court_review_due WHERE n <> 0) x)
      )::text AS rows`.execute(db)
    ).rows[0]?.rows
  const maintained = await snapshot()
  const courtCells = await sql<{ n: number }>`SELECT count(*)::int AS n FROM stats_court_cells`.execute(db)
  t.ok(courtCells.rows[0]!.n > 0, `${courtCells.rows[0]!.n} rows of cells without holders`)
  await db.transaction().execute(async (trx) => {
    await sql`TRUNCATE stats_cells, stats_outcome_days, stats_review_due, stats_court_cells, stats_court_outcome_days, stats_court_review_due`.execute(trx)
    // 0016 fills the cells with holders from the referrals, 0018 those without from them.
    await backfill(trx as never)
    await backfillCourtCells(trx as never)
  })
  t.equal(await differences(), null, 'backfilled')
  t.equal(await snapshot(), maintained, 'the backfilled cells are the maintained ones')
  await rebuildStatsRollup(db)
  t.equal(await differences(), null, 'rebuilt')
  t.equal(await snapshot(), maintained, 'the rebuilt cells are the maintained ones')
})
