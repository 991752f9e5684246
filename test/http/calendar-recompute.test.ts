import t from 'tap'
import { sql } from 'kysely'
import { uuidv7 } from 'uuidv7'
import { buildApp } from '../../src/app.js'
import { completeRecomputation } from '../../src/cases/calendar-recompute.js'
import { getRecomputation } from '../../src/db/calendar-repository.js'
import { insertConfirmation } from '../../src/db/confirmation-repository.js'
import { appendEvent } from '../../src/db/event-repository.js'
import { endOfShanghaiDay, type YearArrangement } from '../../src/domain/calendar.js'
import type { Confirmation } from '../../src/domain/confirmation.js'
import { GENESIS_HASH } from '../../src/domain/event-chain.js'
import { caseNumber, post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness } from '../helpers/harness.js'

/**
 * Recomputation when a year's calendar changes (contract §2 "Recomputation"), through PUT /v1/calendar/{year} on the
 * real PostgreSQL: open cases whose running due date used the year move later (never earlier), one
 * `*.deadlines_changed` event per changed case, closed cases left alone, a second PUT changes nothing, and an
 * interrupted recomputation resumes at the next PUT or the next start.
 */

const h = await startHarness()
t.teardown(() => h.close())
const world = await standardWorld(h)
const op = h.operatorKey
const recompute = { db: h.deps.db, calendar: h.deps.calendar, afterCommit: h.deps.afterCommit, logger: h.deps.logger }

/** Moves the clock the service reads to `iso` while `fn` runs (the service runs in this process, through inject). */
async function on<T>(iso: string, fn: () => Promise<T>): Promise<T> {
  const Real = Date
  const offset = new Real(iso).getTime() - Real.now()
  class Shifted extends Real {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(Real.now() + offset)
      else super(...(args as [string]))
    }
    static override now(): number {
      return Real.now() + offset
    }
  }
  globalThis.Date = Shifted as DateConstructor
  try {
    return await fn()
  } finally {
    globalThis.Date = Real
  }
}

interface View {
  id: string
  version: number
  status: string
  deadlines: { acceptanceDueOn: string | null; mediationDueOn: string | null; provisional: boolean }
}

/** A referral made on `day` (10:00, Asia/Shanghai), accepted the next day at 10:00 if `accept`. */
async function referral(day: string, opts: { accept?: string; inLitigation?: boolean } = {}): Promise<View> {
  const body = opts.inLitigation
    ? referralBody({ referralType: 'in_litigation', procedure: 'ordinary', caseNumber: caseNumber('京0105', '民初') })
    : referralBody()
  const created = await on(`${day}T10:00:00+08:00`, () => post(h, world.court.key, '/v1/referrals', body))
  if (created.statusCode !== 201) throw new Error(`referral: ${created.body}`)
  const r = created.json() as View
  if (!opts.accept) return r
  const at = `${opts.accept}T10:00:00+08:00`
  const acc = await on(at, () =>
    post(h, world.platform.key, `/v1/referrals/${r.id}/acceptance`, { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: at }),
  )
  if (acc.statusCode !== 200) throw new Error(`acceptance: ${acc.body}`)
  return acc.json() as View
}

async function get(id: string): Promise<View> {
  const res = await h.call(world.court.key, { method: 'GET', url: `/v1/referrals/${id}` })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json() as View
}

interface Ev {
  type: string
  caseVersion: number
  actor: unknown
  data: { before: unknown; after: unknown; calendarYear: number; referral?: View; confirmation?: { reviewDueOn: string } }
}

async function changes(id: string, base = '/v1/referrals'): Promise<Ev[]> {
  const res = await h.call(op, { method: 'GET', url: `${base}/${id}/events?limit=200` })
  if (res.statusCode !== 200) throw new Error(res.body)
  return (res.json().items as Ev[]).filter((e) => e.type.endsWith('.deadlines_changed'))
}

const put = (year: number, body: YearArrangement) => h.call(op, { method: 'PUT', url: `/v1/calendar/${year}`, payload: body })

const range = (from: string, to: string): string[] => {
  const out: string[] = []
  for (let d = new Date(`${from}T00:00:00Z`); d <= new Date(`${to}T00:00:00Z`); d = new Date(d.getTime() + 86_400_000)) out.push(d.toISOString().slice(0, 10))
  return out
}

/**
 * A judicial confirmation under review since `acceptedOn`, with `reviewDueOn` as the service computed it then (the
 * statutory fallback). Seeded through the repositories with its two events, so its chain and version are real.
 */
async function confirmationUnderReview(
  acceptedOn: string,
  reviewDueOn: string,
  over: { status?: Confirmation['status']; doc?: Partial<Confirmation['doc']> } = {},
): Promise<string> {
  const id = uuidv7()
  const sealed = (masked: string) => ({ enc: 'v1:seed:x', masked })
  const c: Confirmation = {
    id,
    version: 2,
    status: over.status ?? 'under_review',
    referralId: null,
    courtCode: '京0105',
    organizationId: 'bj-cy-blz',
    subject: 'ordinary',
    late: false,
    caseNumber: `（2027）京0105民特${Math.floor(Math.random() * 1e6)}号`,
    reviewDueOn,
    agreementSha256: 'a'.repeat(64),
    chainHead: GENESIS_HASH,
    doc: {
      applicants: [0, 1],
      appliedAt: '2027-01-08T02:00:00.000Z',
      applicationDueOn: '2027-02-05',
      provisional: true,
      agreement: {
        form: 'written',
        terms: '李四赔偿张三 5000 元',
        signatures: [
          { partyIndex: 0, signedAt: '2027-01-06T02:00:00.000Z' },
          { partyIndex: 1, signedAt: '2027-01-06T02:00:00.000Z' },
        ],
        effectiveAt: '2027-01-06T02:00:00.000Z',
        performance: { method: 'immediate' },
        sha256: 'a'.repeat(64),
        recordedAt: '2027-01-06T02:00:00.000Z',
      },
      parties: [
        { role: 'applicant', kind: 'natural_person', name: '张三', idType: 'resident_id', idNumber: sealed('110***********1234') },
        { role: 'respondent', kind: 'natural_person', name: '李四', idType: 'resident_id', idNumber: sealed('440***********0014') },
      ],
      materials: [],
      acceptance: { caseNumber: 'x', acceptedOn, acceptedAt: `${acceptedOn}T02:00:00.000Z` },
      ...over.doc,
    },
    createdAt: new Date('2027-01-08T02:00:00Z'),
    updatedAt: new Date(`${acceptedOn}T02:00:00Z`),
  }
  await h.deps.db.transaction().execute(async (trx) => {
    let prevHash = GENESIS_HASH
    for (const [sequence, type] of [
      [1, 'confirmation.applied'],
      [2, 'confirmation.accepted'],
    ] as const) {
      const { hash } = await appendEvent(trx, {
        type,
        subject: { kind: 'judicial_confirmation', id },
        sequence,
        caseVersion: sequence,
        actor: 'system',
        data: {},
        prevHash,
        scope: { courtCode: c.courtCode, organizationId: c.organizationId, regionCode: '110105' },
      })
      prevHash = hash
    }
    await insertConfirmation(trx, { ...c, chainHead: prevHash })
  })
  return id
}

// 2027 as the State Council typically arranges it: 春节 02-05…02-12 off and Saturday 02-13 worked; 国庆 10-01…10-07 off
// and Saturday 10-09 worked. The statutory fallback the cases were computed on has 春节 02-05…02-08 plus 补假 02-09/10.
const Y2027: YearArrangement = {
  holidays: [
    '2027-01-01',
    ...range('2027-02-05', '2027-02-12'),
    '2027-04-05',
    ...range('2027-05-01', '2027-05-05'),
    '2027-06-09',
    '2027-09-15',
    ...range('2027-10-01', '2027-10-07'),
  ],
  workdays: ['2027-02-13', '2027-10-09'],
}

t.test('a PUT moves open cases later, never earlier, with one event each; closed cases are left alone', async (t) => {
  // Referred Thu 02-04: 3rd working day 02-15 on the fallback; with the arrangement 02-13 (Sat, worked), 02-15, 02-16.
  const referred = await referral('2027-02-04')
  t.same(referred.deadlines, { acceptanceDueOn: '2027-02-15', mediationDueOn: null, provisional: true })
  // Accepted 01-14, 30 days → Sat 02-13 → Mon 02-15 on the fallback; with the arrangement Sat 02-13 is worked: earlier, stands.
  const earlier = await referral('2027-01-13', { accept: '2027-01-14' })
  t.equal(earlier.deadlines.mediationDueOn, '2027-02-15')
  // In litigation, accepted 01-22, 15 days → 02-06 → Thu 02-11 on the fallback (补假 02-09/10); → Sat 02-13.
  const mediating = await referral('2027-01-21', { accept: '2027-01-22', inLitigation: true })
  t.equal(mediating.deadlines.mediationDueOn, '2027-02-11')
  // Accepted 01-06, 30 days → 除夕 02-05 → 02-11; then suspended: the shown date still follows the calendar.
  const suspended0 = await referral('2027-01-05', { accept: '2027-01-06' })
  t.equal(suspended0.deadlines.mediationDueOn, '2027-02-11')
  const sus = await on('2027-01-10T10:00:00+08:00', () =>
    post(h, world.platform.key, `/v1/referrals/${suspended0.id}/suspension`, { reason: 'appraisal', note: '鉴定' }),
  )
  t.equal(sus.statusCode, 200, sus.body)
  const suspended = sus.json() as View
  // Closed: its dates are history.
  const closed0 = await referral('2027-01-21', { accept: '2027-01-22', inLitigation: true })
  await sql`UPDATE referrals SET status = 'closed' WHERE id = ${closed0.id}::uuid`.execute(h.deps.db)
  const closed = await get(closed0.id)
  // Due in 2026: the 2027 arrangement cannot touch it.
  const thisYear = await referral('2026-12-01')
  t.equal(thisYear.deadlines.acceptanceDueOn, '2026-12-04')
  // A confirmation under review since 01-10: 30 days → 02-09 (补假) → 02-11 on the fallback; → 02-13.
  const review = await confirmationUnderReview('2027-01-10', '2027-02-11')
  // Accepted 01-22: the day-15 target 02-06 → 02-11 on the fallback (补假 02-09/10) → 02-13; the review date 02-22 stands.
  const targeted = await confirmationUnderReview('2027-01-22', '2027-02-22', { doc: { reviewTargetOn: '2027-02-11' } })
  // Ruled and served 01-25: the parties' objection window 02-09 → 02-11 on the fallback → 02-13 (民诉法解释 372).
  const ruled = await confirmationUnderReview('2027-01-22', '2027-02-22', {
    status: 'ruled_valid',
    doc: {
      ruling: {
        result: 'valid',
        rulingNumber: '（2027）京0105民特1号',
        ruledOn: '2027-01-25',
        servedOn: '2027-01-25',
        agreementSha256: 'a'.repeat(64),
        recordedAt: '2027-01-25T02:00:00.000Z',
      },
      objectionDueOn: '2027-02-11',
    },
  })

  const res = await put(2027, Y2027)
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().provisional, false)

  const moved: Array<[View, string, Record<string, string>, Record<string, string>]> = [
    [referred, 'referred', { acceptanceDueOn: '2027-02-15' }, { acceptanceDueOn: '2027-02-16' }],
    [mediating, 'mediating', { mediationDueOn: '2027-02-11' }, { mediationDueOn: '2027-02-13' }],
    [suspended, 'suspended', { mediationDueOn: '2027-02-11' }, { mediationDueOn: '2027-02-13' }],
  ]
  for (const [before, status, from, to] of moved) {
    const now = await get(before.id)
    t.equal(now.status, status, `${status}: state unchanged`)
    t.equal(now.version, before.version + 1, `${status}: version bumped`)
    t.same(now.deadlines, { ...before.deadlines, ...to, provisional: false }, `${status}: moved later, no longer provisional`)
    const evs = await changes(before.id)
    t.equal(evs.length, 1, `${status}: one event`)
    t.match(evs[0], { type: 'referral.deadlines_changed', caseVersion: before.version + 1, actor: 'system' })
    t.same(evs[0]?.data.before, from, `${status}: event before`)
    t.same(evs[0]?.data.after, to, `${status}: event after`)
    t.equal(evs[0]?.data.calendarYear, 2027)
    t.same(evs[0]?.data.referral?.deadlines, now.deadlines, `${status}: the event carries the case as it is now`)
  }
  // The timers follow the new dates.
  for (const [r, due] of [
    [referred, '2027-02-16'],
    [mediating, '2027-02-13'],
  ] as const) {
    const job = await h.deps.queues.timers.getJob(`${r.id}_${endOfShanghaiDay(due).getTime()}`)
    t.ok(job, `a timer at the end of ${due}`)
  }

  for (const [r, why] of [
    [earlier, 'an earlier date leaves the later one standing'],
    [closed, 'a closed case is left alone'],
    [thisYear, 'a date that never used 2027 is left alone'],
  ] as const) {
    const now = await get(r.id)
    t.equal(now.version, r.version, `${why}: same version`)
    t.same(now.deadlines, r.deadlines, `${why}: same dates`)
    t.same(await changes(r.id), [], `${why}: no event`)
  }

  const jc = await h.call(op, { method: 'GET', url: `/v1/judicial-confirmations/${review}` })
  t.equal(jc.statusCode, 200, jc.body)
  t.match(jc.json(), { version: 3, status: 'under_review', reviewDueOn: '2027-02-13' })
  const jcEvents = await changes(review, '/v1/judicial-confirmations')
  t.equal(jcEvents.length, 1)
  t.match(jcEvents[0], {
    type: 'confirmation.deadlines_changed',
    caseVersion: 3,
    data: { before: { reviewDueOn: '2027-02-11' }, after: { reviewDueOn: '2027-02-13' }, calendarYear: 2027, confirmation: { reviewDueOn: '2027-02-13' } },
  })
  for (const [id, status, field, from, to] of [
    [targeted, 'under_review', 'reviewTargetOn', '2027-02-11', '2027-02-13'],
    [ruled, 'ruled_valid', 'objectionDueOn', '2027-02-11', '2027-02-13'],
  ] as const) {
    const now = (await h.call(op, { method: 'GET', url: `/v1/judicial-confirmations/${id}` })).json()
    t.match(now, { version: 3, status, reviewDueOn: '2027-02-22', [field]: to }, `${status}: ${field} moved later`)
    const evs = await changes(id, '/v1/judicial-confirmations')
    t.equal(evs.length, 1, `${status}: one event`)
    t.same([evs[0]?.data.before, evs[0]?.data.after], [{ [field]: from }, { [field]: to }], `${status}: the event names the moved date`)
  }
  const integrity = await h.call(op, { method: 'GET', url: `/v1/referrals/${mediating.id}/integrity` })
  t.match(integrity.json(), { valid: true }, 'the hash chain holds')

  // A second PUT of the same arrangement changes nothing.
  const again = await put(2027, Y2027)
  t.equal(again.statusCode, 200)
  for (const r of [referred, mediating, suspended]) {
    t.equal((await get(r.id)).version, r.version + 1, 'no second bump')
    t.equal((await changes(r.id)).length, 1, 'no second event')
  }

  // A later correction that would bring dates earlier (02-12 worked) leaves them as they are.
  const corrected = await put(2027, { ...Y2027, holidays: Y2027.holidays.filter((d) => d !== '2027-02-12'), workdays: [...Y2027.workdays, '2027-02-12'] })
  t.equal(corrected.statusCode, 200)
  t.same((await get(mediating.id)).deadlines.mediationDueOn, '2027-02-13')
  t.equal((await changes(mediating.id)).length, 1)
  t.match(await getRecomputation(h.deps.db, 2027), { status: 'done', generation: 2 })
})

t.test('an interrupted recomputation resumes at the next PUT, and a case done twice moves once', async (t) => {
  // Referred Mon 2028-01-24: 春节 01-25…01-28 (no weekend, no 补假) → 01-31, 02-01, 02-02 on the fallback.
  const cases: View[] = []
  for (let i = 0; i < 5; i++) cases.push(await referral('2028-01-24'))
  for (const c of cases) t.equal(c.deadlines.acceptanceDueOn, '2028-02-02')
  // Published: 01-25…02-02 off, Saturday 02-05 worked → 02-03, 02-04, 02-05.
  const Y2028: YearArrangement = { holidays: ['2028-01-01', ...range('2028-01-25', '2028-02-02')], workdays: ['2028-02-05'] }

  // The PUT stores the arrangement; its recomputation stops after one batch of two, as a crash would.
  const generation = await h.deps.calendar.put(2028, Y2028)
  const partial = await completeRecomputation(recompute, 2028, generation, { batchSize: 2, maxBatches: 1 })
  t.match(partial, { done: false, examined: 2, changed: 2 })
  const job = await getRecomputation(h.deps.db, 2028)
  t.match(job, { status: 'pending', phase: 'referred' })
  const moved = async () => (await Promise.all(cases.map((c) => get(c.id)))).filter((c) => c.deadlines.acceptanceDueOn === '2028-02-05').length
  t.equal(await moved(), 2, 'two cases moved before the interruption')

  // The crash came after those cases committed but before their batch was recorded: the walk will see them again.
  await sql`UPDATE calendar_recomputations SET after_id = NULL, examined = 0, changed = 0 WHERE year = 2028`.execute(h.deps.db)

  const res = await put(2028, Y2028)
  t.equal(res.statusCode, 200, res.body)
  t.equal(await moved(), 5, 'every case moved')
  for (const c of cases) {
    const evs = await changes(c.id)
    t.equal(evs.length, 1, 'exactly one event per case')
    t.equal((await get(c.id)).version, c.version + 1)
  }
  t.match(await getRecomputation(h.deps.db, 2028), { status: 'done', generation, changed: 3 })
})

t.test('an interrupted recomputation resumes when the service starts', async (t) => {
  // Referred Fri 2029-02-09: 春节 02-12…02-15 → 02-16, 02-19, 02-20 on the fallback.
  const cases: View[] = []
  for (let i = 0; i < 3; i++) cases.push(await referral('2029-02-09'))
  for (const c of cases) t.equal(c.deadlines.acceptanceDueOn, '2029-02-20')
  // Published: 02-10…02-18 off → 02-19, 02-20, 02-21.
  const Y2029: YearArrangement = { holidays: ['2029-01-01', ...range('2029-02-10', '2029-02-18')], workdays: ['2029-02-24'] }
  // The process dies right after the PUT stored the arrangement.
  await h.deps.calendar.put(2029, Y2029)
  t.match(await getRecomputation(h.deps.db, 2029), { status: 'pending', examined: 0 })

  const restarted = await buildApp(h.deps)
  await restarted.ready()
  for (let i = 0; i < 100 && (await getRecomputation(h.deps.db, 2029))?.status !== 'done'; i++) await new Promise((r) => setTimeout(r, 100))
  await restarted.close()
  t.match(await getRecomputation(h.deps.db, 2029), { status: 'done', changed: 3 })
  for (const c of cases) {
    t.equal((await get(c.id)).deadlines.acceptanceDueOn, '2029-02-21')
    t.equal((await changes(c.id)).length, 1)
  }
})

t.test('deadlines beyond the lunar data answer 422 calendar_unavailable', async (t) => {
  const res = await h.call(op, { method: 'GET', url: '/v1/calendar/2037' })
  t.equal(res.statusCode, 422)
  t.equal(res.json().code, 'calendar_unavailable')
  // A referral made on Wed 2036-12-31 needs 2037's working days.
  const late = await on('2036-12-31T10:00:00+08:00', () => post(h, world.court.key, '/v1/referrals', referralBody()))
  t.equal(late.statusCode, 422, late.body)
  t.equal(late.json().code, 'calendar_unavailable')
  // Once 2037 is published the same referral is accepted.
  const ok = await put(2037, { holidays: ['2037-01-01'], workdays: [] })
  t.equal(ok.statusCode, 200)
  const now = await on('2036-12-31T10:00:00+08:00', () => post(h, world.court.key, '/v1/referrals', referralBody()))
  t.equal(now.statusCode, 201, now.body)
  t.same(now.json().deadlines, { acceptanceDueOn: '2037-01-06', mediationDueOn: null, provisional: false })
})
