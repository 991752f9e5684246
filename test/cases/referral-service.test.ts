import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import type { Outcome, Work } from '../../src/cases/case-kit.js'
import { referralService, referralStandingIn } from '../../src/cases/referrals/referral-service.js'
import { expireIfDue, sweepOverdue } from '../../src/cases/referrals/referral-timers.js'
import { verifySubjectChain } from '../../src/db/event-repository.js'
import { acceptanceDueOn, addCalendarDays, mediationDueOn, shanghaiDate } from '../../src/domain/calendar.js'
import { GENESIS_HASH } from '../../src/domain/event-chain.js'
import { scanForPersonalData } from '../../src/domain/personal-data.js'
import type { Principal } from '../../src/domain/principal.js'
import { personalFields, type Referral } from '../../src/domain/referral.js'
import type { CreateReferralInput } from '../../src/schemas/referrals.js'
import { caller, principal, refusal, seedOrganization, snapshotOf, startCaseWorld, trailOf } from '../helpers/cases.js'
import { caseNumber, referralBody } from '../helpers/fixtures.js'

/**
 * The referral service (src/cases/referrals) driven directly, without HTTP: every action in its own unit of work
 * (inWork), asserting both the Outcome it answers and what it wrote to PostgreSQL (the row, one hash-chained event
 * per transition, its outbox row, the access trail).
 */

const world = await startCaseWorld()
t.teardown(() => world.close())
const { deps } = world
const db = deps.db
const referrals = referralService(deps)

await seedOrganization(db, 'bj-cy-blz')
await seedOrganization(db, 'bj-centre', { name: '朝阳区矛盾纠纷多元化解中心', kind: 'centre', regionCode: '110100' })
await seedOrganization(db, 'bj-village', {
  name: '某村人民调解委员会',
  kind: 'village_committee',
  regionCode: '110105',
  rosters: { ministry: true, courtSpecial: [] },
})
await seedOrganization(db, 'gd-fs-org', { name: '佛山市禅城区人民调解委员会', regionCode: '440604', rosters: { ministry: true, courtSpecial: ['粤0604'] } })

const court = principal('court', { courtCodes: ['京0105'] })
const otherCourt = principal('court', { courtCodes: ['粤0604'] })
const platform = principal('mediation', { regionCodes: ['11'] })
const otherPlatform = principal('mediation', { regionCodes: ['44'] })
/** A mediation client that covers the centre only (not the organizations it dispatches to). */
const centreDesk = principal('mediation', { organizationIds: ['bj-centre'] })
const operator = principal('operator')

const now = () => new Date().toISOString()
const today = () => shanghaiDate(new Date())
const both = () => [0, 1].map((i) => ({ partyIndex: i, consentedAt: now(), method: 'written' as const }))
const mediator = { name: '王调解', id: 'M-1' }

/** The instant a Shanghai date ends (its timer fires then): 00:00 +08:00 of the next day. */
const endOf = (d: string) => new Date(`${addCalendarDays(d, 1)}T00:00:00+08:00`).getTime()

async function create(over: Record<string, unknown> = {}, by: Principal = court): Promise<Outcome<Referral>> {
  const run = referrals.create(caller(by), referralBody(over) as unknown as CreateReferralInput)
  return world.work(run)
}

async function row(id: string) {
  return db.selectFrom('referrals').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
}

/** The timer hint the Outcome must carry: the running deadline (acceptance while referred, mediation while mediating). */
function expectTimers(t: Test, out: Outcome<Referral>, clock: 'acceptance' | 'mediation' | null) {
  t.equal(out.hints.events, true, 'the relay is woken after the commit')
  const timers = out.hints.timers ?? []
  if (!clock) return t.same(timers, [], 'no deadline runs: no timer')
  const due = clock === 'acceptance' ? out.value.doc.deadlines.acceptanceDueOn : out.value.doc.deadlines.mediationDueOn
  t.ok(due, `${clock} deadline set`)
  t.equal(timers.length, 1, `one ${clock} timer`)
  t.equal(timers[0]?.referralId, out.value.id)
  t.equal(timers[0]?.dueAt.getTime(), endOf(due as string), `the ${clock} timer fires at the end of ${due} (Asia/Shanghai)`)
}

interface StepExpect {
  status: Referral['status']
  event: string
  clock: 'acceptance' | 'mediation' | null
  /** Whether the caller sees the case in full after the step (default true). */
  full?: boolean
}

/**
 * Runs one action in its own unit of work and checks its Outcome and its writes: version + 1, the row, exactly
 * one new event (type, sequence = version, actor, chained to the previous head), one outbox row, the chain
 * verifies, and one access-trail row for the caller when it was shown the case in full.
 */
async function step(t: Test, id: string, by: Principal, e: StepExpect, run: (w: Work) => Promise<Outcome<Referral>>): Promise<Referral> {
  const rowBefore = await row(id)
  const before = await trailOf(db, id)
  const out = await world.work(run)
  const v = rowBefore.version + 1
  const full = e.full ?? true
  t.equal(out.value.id, id)
  t.equal(out.value.status, e.status, `status ${e.status}`)
  t.equal(out.value.version, v, `version ${rowBefore.version} → ${v}`)
  t.equal(out.full, full, `full view: ${full}`)
  expectTimers(t, out, e.clock)

  const r = await row(id)
  t.match(r, { status: e.status, version: v, organization_id: out.value.organizationId, chain_head: out.value.chainHead }, 'the row holds the new state')
  t.same(r.held_by, out.value.heldBy)

  const after = await trailOf(db, id)
  t.equal(after.events.length, before.events.length + 1, 'exactly one new event')
  const ev = after.events.at(-1)!
  t.match(ev, {
    type: e.event,
    sequence: v,
    case_version: v,
    subject_kind: 'referral',
    court_code: out.value.courtCode,
    organization_id: out.value.organizationId,
    prev_hash: rowBefore.chain_head,
    hash: r.chain_head,
  })
  t.same(ev.actor, { clientId: by.clientId, role: by.role }, 'the caller is the actor')
  t.equal((ev.data as { referral: { status: string; version: number } }).referral.status, e.status, 'the event shows the new state')
  t.equal((ev.data as { referral: { version: number } }).referral.version, v)
  t.same(scanForPersonalData(JSON.stringify(ev.data)), [], 'the event data is masked')
  t.equal(after.outbox, before.outbox + 1, 'one outbox row')
  t.match(await verifySubjectChain(db, id), { valid: true, length: v, head: r.chain_head }, 'the chain verifies')
  const seen = (x: typeof before, c: string) => x.access[c] ?? 0
  t.equal(
    seen(after, by.clientId),
    seen(before, by.clientId) + (full ? 1 : 0),
    full ? 'the full view is in the access trail' : 'no full view, no access-trail row',
  )
  return out.value
}

/** A refused action: its error, and nothing written (the unit of work rolled back). */
async function refused(t: Test, id: string, run: (w: Work) => Promise<unknown>, status: number, code: string, msg: string) {
  const before = await snapshotOf(db, 'referrals', id)
  const err = await refusal(world.work(run))
  t.equal(err.status, status, `${msg}: ${status}`)
  t.equal(err.code, code, `${msg}: ${code}`)
  t.same(await snapshotOf(db, 'referrals', id), before, `${msg}: row, events, outbox and access trail unchanged`)
  return err
}

const accept =
  (id: string, by = platform) =>
  (w: Work) =>
    referrals.accept(w, caller(by), id, { decision: 'accepted', mediator, acceptedAt: now() })

t.test('create: the referral, its first event, the outbox row, the access trail', async (t) => {
  const body = referralBody()
  const out = await world.work(referrals.create(caller(court), body as unknown as CreateReferralInput))
  const r = out.value
  const cal = await deps.calendar.get()
  t.match(r, {
    version: 1,
    status: 'referred',
    referralType: 'pre_filing',
    courtCode: '京0105',
    caseNumber: body.caseNumber,
    organizationId: 'bj-cy-blz',
    heldBy: ['bj-cy-blz'],
  })
  t.equal(out.full, true, 'the referring court sees its referral in full')
  t.equal(r.doc.deadlines.acceptanceDueOn, acceptanceDueOn(cal, today()).date, 'acceptance due 3 working days after today')
  t.equal(r.doc.deadlines.mediationDueOn, null)
  expectTimers(t, out, 'acceptance')
  t.notOk(JSON.stringify(r.doc).includes(body.parties[0]!.idNumber), 'the ID number is stored sealed')

  const stored = await row(r.id)
  t.match(stored, { status: 'referred', version: 1, chain_head: r.chainHead, acceptance_due_on: r.doc.deadlines.acceptanceDueOn })
  const trail = await trailOf(db, r.id)
  t.equal(trail.events.length, 1)
  t.match(trail.events[0], {
    type: 'referral.created',
    sequence: 1,
    case_version: 1,
    prev_hash: GENESIS_HASH,
    hash: r.chainHead,
    court_code: '京0105',
    organization_id: 'bj-cy-blz',
    region_code: '110105',
    audience: 'case',
  })
  t.same(trail.events[0]!.actor, { clientId: court.clientId, role: 'court' })
  t.same(scanForPersonalData(JSON.stringify(trail.events[0]!.data)), [], 'the event data is masked')
  t.equal(trail.outbox, 1, 'the event is in the outbox')
  t.match(await verifySubjectChain(db, r.id), { valid: true, length: 1 })
  t.same(trail.access, { [court.clientId]: 1 }, 'the full answer is in the access trail')
  const log = await db.selectFrom('access_log').selectAll().where('subject_id', '=', r.id).executeTakeFirstOrThrow()
  t.equal(log.request_id, 'test')
  t.same(log.fields, personalFields(r))
  const index = await db.selectFrom('party_index').select('id_hash').where('subject_id', '=', r.id).execute()
  t.equal(index.length, 2, 'one blind-index entry per party')

  // A second active referral of the same 案号: 409, and no second row.
  const count = async () =>
    Number(
      (
        await db
          .selectFrom('referrals')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    )
  const events = async () =>
    Number(
      (
        await db
          .selectFrom('events')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    )
  const [n0, e0] = [await count(), await events()]
  const dup = await refusal(create({ caseNumber: body.caseNumber }))
  t.match(dup, { status: 409, code: 'duplicate_referral' })
  t.equal(await count(), n0, 'no row for the duplicate')
  t.equal(await events(), e0, 'no event for the duplicate')

  // What the body alone decides is refused before any unit of work begins.
  const foreign = await refusal(() =>
    referrals.create(caller(court), referralBody({ courtCode: '京0106', caseNumber: caseNumber('京0106') }) as unknown as CreateReferralInput),
  )
  t.match(foreign, { status: 422, code: 'court_code_not_allowed' })
  const noConsent = referralBody()
  noConsent.consent = [noConsent.consent[0]!]
  t.match(await refusal(() => referrals.create(caller(court), noConsent as unknown as CreateReferralInput)), { status: 422, code: 'consent_required' })
  t.match(
    await refusal(create({ designation: { mode: 'court_designated', organizationId: 'gd-fs-org' } })),
    { status: 422, code: 'not_on_roster' },
    'an organization off the court’s rosters',
  )
  t.match(await refusal(create({}, platform)), { status: 403, code: 'forbidden' }, 'a mediation client cannot refer for a court')
  t.equal(await count(), n0, 'none of the refused intakes left a row')
  t.equal(await events(), e0)
})

t.test('the pre-filing life: accept, suspend, resume, extend, agreement, performance, close, performance', async (t) => {
  const { value: created } = await create()
  const id = created.id
  const cal = await deps.calendar.get()

  const acceptedAt = now()
  const acc = await step(t, id, platform, { status: 'mediating', event: 'referral.accepted', clock: 'mediation' }, (w) =>
    referrals.accept(w, caller(platform), id, { decision: 'accepted', mediator, acceptedAt }),
  )
  t.same(acc.doc.mediator, mediator)
  t.equal(acc.doc.acceptedAt, new Date(acceptedAt).toISOString())
  t.equal(acc.doc.deadlines.mediationDueOn, mediationDueOn(cal, today(), 'pre_filing').date, '30 days for a pre-filing referral, rolled forward')
  t.equal(acc.doc.deadlines.acceptanceDueOn, created.doc.deadlines.acceptanceDueOn, 'the acceptance deadline is kept')

  const sus = await step(t, id, platform, { status: 'suspended', event: 'referral.suspended', clock: null }, (w) =>
    referrals.suspend(w, caller(platform), id, { reason: 'appraisal', note: '委托鉴定' }),
  )
  t.match(sus.doc.suspension, { reason: 'appraisal', note: '委托鉴定', suspendedOn: today() })

  const res = await step(t, id, platform, { status: 'mediating', event: 'referral.resumed', clock: 'mediation' }, (w) =>
    referrals.resume(w, caller(platform), id, { note: '鉴定意见已出具' }),
  )
  t.equal(res.doc.suspension, undefined, 'the open suspension is closed')
  t.match(res.doc.suspensions, [{ reason: 'appraisal', suspendedOn: today(), resumedOn: today(), resumeNote: '鉴定意见已出具' }])
  t.equal(res.doc.deadlines.mediationDueOn, acc.doc.deadlines.mediationDueOn, 'a same-day resumption moves nothing')

  const later = addCalendarDays(res.doc.deadlines.mediationDueOn as string, 10)
  const ext = await step(t, id, platform, { status: 'mediating', event: 'referral.extended', clock: 'mediation' }, (w) =>
    referrals.extend(w, caller(platform), id, { newDueOn: later, consent: both() }),
  )
  t.equal(ext.doc.deadlines.mediationDueOn, cal.rollForward(later).date, 'the mediation timer follows the extension, rolled off a rest day')
  t.match(ext.doc.extensions, [{ previousDueOn: res.doc.deadlines.mediationDueOn, newDueOn: later }])

  const terms = '李四赔偿张三 5000 元'
  const t1 = new Date(Date.now() - 60_000).toISOString()
  const t2 = new Date(Date.now() - 30_000).toISOString()
  const agr = await step(t, id, platform, { status: 'agreed', event: 'referral.agreement_recorded', clock: null }, (w) =>
    referrals.recordAgreement(w, caller(platform), id, {
      form: 'written',
      terms,
      amount: '5000.00',
      signatures: [
        { partyIndex: 0, signedAt: t1 },
        { partyIndex: 1, signedAt: t2 },
      ],
      mediatorSignedAt: t1,
      sealedAt: t1,
      performance: { method: 'immediate' },
    }),
  )
  t.equal(agr.doc.agreement?.effectiveAt, t2, 'effective at the last signature')
  t.equal(agr.doc.agreement?.sha256, createHash('sha256').update(terms, 'utf8').digest('hex'))

  const perf0 = await step(t, id, platform, { status: 'agreed', event: 'referral.performance_reported', clock: null }, (w) =>
    referrals.reportPerformance(w, caller(platform), id, { status: 'partially_performed', reportedOn: today() }),
  )
  t.equal(perf0.doc.performance?.status, 'partially_performed', 'performance changes no state but bumps the version')

  const closed = await step(t, id, court, { status: 'closed', event: 'referral.closed', clock: null }, (w) =>
    referrals.close(w, caller(court), id, { disposition: 'agreement_filed' }),
  )
  t.match(closed.doc.closure, { disposition: 'agreement_filed' })

  const perf = await step(t, id, platform, { status: 'closed', event: 'referral.performance_reported', clock: null }, (w) =>
    referrals.reportPerformance(w, caller(platform), id, { status: 'performed', reportedOn: today(), note: '回访确认' }),
  )
  t.match(perf.doc.performance, { status: 'performed', note: '回访确认' }, 'the latest report wins')
  t.equal(perf.version, 9)

  const events = await referrals.events(caller(court), id, 0, 50)
  t.same(
    events.map((e) => [e.type, e.sequence]),
    [
      ['referral.created', 1],
      ['referral.accepted', 2],
      ['referral.suspended', 3],
      ['referral.resumed', 4],
      ['referral.extended', 5],
      ['referral.agreement_recorded', 6],
      ['referral.performance_reported', 7],
      ['referral.closed', 8],
      ['referral.performance_reported', 9],
    ],
  )
  t.same(
    (await referrals.events(caller(platform), id, 7, 50)).map((e) => e.sequence),
    [8, 9],
    'events after a sequence number',
  )
  const got = await referrals.get(caller(court), id)
  t.equal(got.value.version, 9)
  t.equal(got.full, true)
  t.same(got.value.doc, perf.doc, 'get reads what the last step wrote')
})

t.test('decline, redesignation, centre dispatch', async (t) => {
  const { value: r } = await create()
  const id = r.id
  const dec = await step(t, id, platform, { status: 'declined', event: 'referral.declined', clock: null }, (w) =>
    referrals.decline(w, caller(platform), id, { decision: 'declined', reason: '超出受理范围' }),
  )
  t.match(dec.doc.decline, { reason: '超出受理范围', by: 'organization' })

  const red = await step(t, id, court, { status: 'referred', event: 'referral.redesignated', clock: 'acceptance' }, (w) =>
    referrals.redesignate(w, caller(court), id, { designation: { mode: 'court_designated', organizationId: 'bj-centre' } }),
  )
  t.equal(red.organizationId, 'bj-centre')
  t.same(red.heldBy, ['bj-cy-blz', 'bj-centre'], 'every organization that held the case')
  t.equal(red.doc.decline, undefined, 'the decline is cleared')
  t.equal((await trailOf(db, id)).events.at(-1)?.region_code, '110100', 'the event is scoped to the new holder’s region')

  // The centre's own client dispatches to a village committee it does not cover: the answer is no longer full.
  const asg = await step(t, id, centreDesk, { status: 'referred', event: 'referral.assigned', clock: 'acceptance', full: false }, (w) =>
    referrals.assign(w, caller(centreDesk), id, { organizationId: 'bj-village' }),
  )
  t.equal(asg.organizationId, 'bj-village')
  t.same(asg.heldBy, ['bj-cy-blz', 'bj-centre', 'bj-village'])
  t.match(asg.doc.assignments, [{ from: 'bj-centre', to: 'bj-village' }])
  t.equal((await trailOf(db, id)).events.at(-1)?.region_code, '110105')

  // The centre's client still reads the case (the centre held it) but may no longer act on it.
  const seen = await referrals.get(caller(centreDesk), id)
  t.equal(seen.full, false, 'a former holder reads it masked')
  const oos = await refused(t, id, accept(id, centreDesk), 403, 'out_of_scope', 'a former holder accepts')
  t.ok(oos.detail)
  await step(t, id, platform, { status: 'mediating', event: 'referral.accepted', clock: 'mediation' }, accept(id))

  // Only a centre dispatches.
  const { value: plain } = await create()
  const notCentre = await refused(
    t,
    plain.id,
    (w) => referrals.assign(w, caller(platform), plain.id, { organizationId: 'bj-village' }),
    422,
    'not_a_centre',
    'dispatch from a committee',
  )
  t.ok(notCentre)
  await refused(
    t,
    plain.id,
    (w) => referrals.redesignate(w, caller(court), plain.id, { designation: { mode: 'court_designated', organizationId: 'bj-centre' } }),
    409,
    'illegal_transition',
    'redesignating a referral that was not declined',
  )
})

t.test('failure paths: terminate, return materials, register the case / resume the trial', async (t) => {
  const { value: pre } = await create()
  await step(t, pre.id, platform, { status: 'mediating', event: 'referral.accepted', clock: 'mediation' }, accept(pre.id))
  await refused(
    t,
    pre.id,
    (w) =>
      referrals.terminate(w, caller(platform), pre.id, {
        reason: 'gap_too_large',
        report: '差距过大',
        undisputedFacts: [{ statement: '漏水事实', confirmedBy: [0] }],
      }),
    422,
    'signatures_incomplete',
    'facts confirmed by one party',
  )
  const term = await step(t, pre.id, platform, { status: 'terminated', event: 'referral.terminated', clock: null }, (w) =>
    referrals.terminate(w, caller(platform), pre.id, {
      reason: 'gap_too_large',
      report: '差距过大',
      undisputedFacts: [{ statement: '漏水事实', confirmedBy: [0, 1] }],
    }),
  )
  t.match(term.doc.termination, { reason: 'gap_too_large', by: 'organization', undisputedFacts: [{ confirmedBy: [0, 1] }] })
  const ret = await step(t, pre.id, platform, { status: 'materials_returned', event: 'referral.materials_returned', clock: null }, (w) =>
    referrals.returnMaterials(w, caller(platform), pre.id, { materials: [], report: '调解终结报告', returnedAt: now() }),
  )
  t.match(ret.doc.materialReturn, { materials: [], report: '调解终结报告' })
  await refused(
    t,
    pre.id,
    (w) => referrals.resumeTrial(w, caller(court), pre.id, { action: 'trial_resumed', resumedOn: today() }),
    409,
    'illegal_transition',
    'a pre-filing referral has no trial to resume',
  )
  const filing = caseNumber('京0105', '民初')
  const reg = await step(t, pre.id, court, { status: 'case_registered', event: 'referral.case_registered', clock: null }, (w) =>
    referrals.registerCase(w, caller(court), pre.id, { action: 'case_registered', caseNumber: filing, filedOn: today() }),
  )
  t.same(reg.doc.courtFiling, { action: 'case_registered', caseNumber: filing, filedOn: today() })
  t.equal((await create({ caseNumber: pre.caseNumber })).value.status, 'referred', 'a registered case no longer blocks its 案号')

  const { value: lit } = await create({ referralType: 'in_litigation', procedure: 'summary', caseNumber: caseNumber('京0105', '民初') })
  const cal = await deps.calendar.get()
  const acc = await step(t, lit.id, platform, { status: 'mediating', event: 'referral.accepted', clock: 'mediation' }, accept(lit.id))
  t.equal(acc.doc.deadlines.mediationDueOn, mediationDueOn(cal, today(), 'in_litigation', 'summary').date, '7 days under the summary procedure')
  await step(t, lit.id, platform, { status: 'suspended', event: 'referral.suspended', clock: null }, (w) =>
    referrals.suspend(w, caller(platform), lit.id, { reason: 'suspected_false_mediation' }),
  )
  const lt = await step(t, lit.id, platform, { status: 'terminated', event: 'referral.terminated', clock: null }, (w) =>
    referrals.terminate(w, caller(platform), lit.id, { reason: 'party_refused', report: '一方拒绝继续调解' }),
  )
  t.equal(lt.doc.suspension, undefined, 'termination from suspension closes the suspension')
  await step(t, lit.id, platform, { status: 'materials_returned', event: 'referral.materials_returned', clock: null }, (w) =>
    referrals.returnMaterials(w, caller(platform), lit.id, { materials: [], report: '报告', returnedAt: now() }),
  )
  await refused(
    t,
    lit.id,
    (w) => referrals.registerCase(w, caller(court), lit.id, { action: 'case_registered', caseNumber: caseNumber('京0105', '民初'), filedOn: today() }),
    409,
    'illegal_transition',
    'an in-litigation referral is not registered anew',
  )
  await refused(t, lit.id, (w) => referrals.resumeTrial(w, caller(court), lit.id, { action: 'trial_resumed' }), 400, 'validation_failed', 'resumedOn missing')
  const tr = await step(t, lit.id, court, { status: 'trial_resumed', event: 'referral.trial_resumed', clock: null }, (w) =>
    referrals.resumeTrial(w, caller(court), lit.id, { action: 'trial_resumed', resumedOn: today() }),
  )
  t.same(tr.doc.courtFiling, { action: 'trial_resumed', resumedOn: today() })
  t.equal(tr.version, 6)
})

t.test('refusals: role, state, If-Match, scope; nothing is written', async (t) => {
  const { value: r } = await create()
  const id = r.id
  const agreement = {
    form: 'oral' as const,
    terms: 'x',
    effectiveAt: now(),
    signatures: [
      { partyIndex: 0, signedAt: now() },
      { partyIndex: 1, signedAt: now() },
    ],
    performance: { method: 'immediate' as const },
  }

  await refused(t, id, accept(id, court), 403, 'forbidden', 'the court accepts')
  await refused(t, id, (w) => referrals.close(w, caller(court), id, { disposition: 'agreement_filed' }), 409, 'illegal_transition', 'closing a referred case')
  const early = await refused(
    t,
    id,
    (w) => referrals.recordAgreement(w, caller(platform), id, agreement),
    409,
    'illegal_transition',
    'an agreement before acceptance',
  )
  t.same(early.extra, { currentStatus: 'referred' })
  await refused(
    t,
    id,
    (w) => referrals.redesignate(w, caller(platform), id, { designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' } }),
    403,
    'forbidden',
    'a platform redesignates',
  )
  // Operators read every referral but hold none: the kit refuses them as non-holders before the role check.
  await refused(t, id, accept(id, operator), 403, 'out_of_scope', 'an operator accepts')
  await refused(t, id, accept(id, otherPlatform), 404, 'not_found', 'another region’s platform')
  await refused(
    t,
    id,
    (w) => referrals.redesignate(w, caller(otherCourt), id, { designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' } }),
    404,
    'not_found',
    'another court',
  )
  await refused(
    t,
    id,
    (w) => referrals.accept(w, caller(platform), id, { decision: 'accepted', mediator, acceptedAt: new Date(Date.now() + 3_600_000).toISOString() }),
    422,
    'timestamp_in_future',
    'acceptedAt in the future',
  )
  await refused(t, id, (w) => referrals.accept(w, caller(platform), id, { decision: 'accepted', acceptedAt: now() }), 400, 'validation_failed', 'no mediator')
  t.match(
    await refusal(
      world.work((w) => referrals.accept(w, caller(platform), '01a224ae-0000-7000-8000-000000000000', { decision: 'accepted', mediator, acceptedAt: now() })),
    ),
    { status: 404, code: 'not_found' },
    'unknown id',
  )
  t.match(
    await refusal(world.work((w) => referrals.accept(w, caller(platform), 'not-a-uuid', { decision: 'accepted', mediator, acceptedAt: now() }))),
    { status: 404, code: 'not_found' },
    'malformed id',
  )

  await step(t, id, platform, { status: 'mediating', event: 'referral.accepted', clock: 'mediation' }, (w) =>
    referrals.accept(w, caller(platform, '"1"'), id, { decision: 'accepted', mediator, acceptedAt: now() }),
  )
  const stale = await refused(
    t,
    id,
    (w) => referrals.suspend(w, caller(platform, '"1"'), id, { reason: 'other' }),
    412,
    'version_mismatch',
    'If-Match "1" after version 2',
  )
  t.same(stale.extra, { currentVersion: 2 })
  await refused(t, id, (w) => referrals.suspend(w, caller(platform, '"3"'), id, { reason: 'other' }), 412, 'version_mismatch', 'If-Match ahead of the version')
  await refused(t, id, accept(id), 409, 'illegal_transition', 'accepting twice')
  await step(t, id, platform, { status: 'suspended', event: 'referral.suspended', clock: null }, (w) =>
    referrals.suspend(w, caller(platform, 'W/"2"'), id, { reason: 'other' }),
  )

  // A unit of work is all or nothing: a step that succeeded is undone with a later refusal in the same unit.
  const { value: r2 } = await create()
  const before = await snapshotOf(db, 'referrals', r2.id)
  const err = await refusal(
    world.work(async (w) => {
      const out = await accept(r2.id)(w)
      t.equal(out.value.status, 'mediating', 'the first action decided')
      await referrals.close(w, caller(court), id, { disposition: 'agreement_filed' })
    }),
  )
  t.match(err, { status: 409, code: 'illegal_transition' })
  t.same(await snapshotOf(db, 'referrals', r2.id), before, 'the accepted step rolled back with the unit')
})

t.test('reads: get, list, events, assertReadable and their access trail', async (t) => {
  const { value: r } = await create({ disputeType: 'labor' })
  const got = await referrals.get(caller(platform), r.id)
  t.equal(got.full, true, 'the holder’s platform sees it in full')
  t.equal((await referrals.get(caller(operator), r.id)).full, false, 'operators read it masked')
  for (const p of [otherPlatform, otherCourt]) {
    t.match(await refusal(referrals.get(caller(p), r.id)), { status: 404, code: 'not_found' }, `${p.role} outside the scope: get`)
    t.match(await refusal(referrals.events(caller(p), r.id, 0, 10)), { status: 404 }, `${p.role} outside the scope: events`)
    t.match(await refusal(referrals.assertReadable(caller(p), r.id)), { status: 404 }, `${p.role} outside the scope: assertReadable`)
    t.notOk(
      (await referrals.list(caller(p), { limit: 500 })).some((x) => x.value.id === r.id),
      `${p.role} outside the scope: absent from the list`,
    )
  }
  t.equal((await referrals.assertReadable(caller(court), r.id)).id, r.id)
  const listed = await referrals.list(caller(court), { disputeType: 'labor', limit: 500 })
  t.same(
    listed.map((x) => [x.value.id, x.full]),
    [[r.id, true]],
  )
  const masked = await referrals.list(caller(operator), { disputeType: 'labor', limit: 500 })
  t.same(
    masked.map((x) => [x.value.id, x.full]),
    [[r.id, false]],
  )
  // A mediation client's list reads the holders' regions once for the page: each row's standing is the one a single read gets.
  const byPlatform = await referrals.list(caller(platform), { limit: 500 })
  t.ok(
    byPlatform.some((x) => x.value.id === r.id && x.full),
    'the holder’s platform lists it in full',
  )
  for (const x of byPlatform) {
    if (x.full !== (await referralStandingIn(db, platform, x.value)).full) t.fail(`standing of ${x.value.id}`)
  }
  t.pass(`${byPlatform.length} rows, each with the standing of a single read`)

  await deps.accessTrail.flush()
  const trail = await trailOf(db, r.id)
  t.same(trail.access, { [court.clientId]: 2, [platform.clientId]: 2 }, 'intake + list for the court, get + list for the platform; none for operators')
})

t.test('timers: expireIfDue and sweepOverdue', async (t) => {
  const { value: a } = await create()
  const due = a.doc.deadlines.acceptanceDueOn as string
  t.equal(await expireIfDue(db, a.id, due), false, 'on the due day itself nothing expires')
  t.equal((await row(a.id)).version, 1)
  const before = await trailOf(db, a.id)
  t.equal(await expireIfDue(db, a.id, addCalendarDays(due, 1)), true, 'the day after, it expires')
  t.equal(await expireIfDue(db, a.id, addCalendarDays(due, 1)), false, 'only once')
  const ra = await row(a.id)
  t.match(ra, { status: 'declined', version: 2 })
  t.match(ra.doc, { decline: { reason: 'acceptance_timeout', by: 'system' } })
  const after = await trailOf(db, a.id)
  t.equal(after.events.length, 2)
  t.match(after.events[1], { type: 'referral.declined', sequence: 2, case_version: 2, prev_hash: a.chainHead, hash: ra.chain_head })
  t.equal(after.events[1]!.actor, 'system')
  t.equal(after.outbox, before.outbox + 1)
  t.same(after.access, before.access, 'a system action shows no one anything')
  t.match(await verifySubjectChain(db, a.id), { valid: true, length: 2 })

  // Two workers racing for one deadline: one expiry.
  const { value: b } = await create()
  const late = addCalendarDays(b.doc.deadlines.acceptanceDueOn as string, 1)
  const raced = await Promise.all([expireIfDue(db, b.id, late), expireIfDue(db, b.id, late), expireIfDue(db, b.id, late)])
  t.equal(raced.filter(Boolean).length, 1, 'exactly one of three racing expiries transitions')
  t.equal((await trailOf(db, b.id)).events.length, 2)

  // A mediation deadline: the mediating case terminates.
  const { value: m } = await create()
  const acc = await world.work(accept(m.id))
  const mdue = acc.value.doc.deadlines.mediationDueOn as string
  t.equal(await expireIfDue(db, m.id, addCalendarDays(mdue, 1)), true)
  const rm = await row(m.id)
  t.match(rm, { status: 'terminated', version: 3 })
  t.match(rm.doc, { termination: { reason: 'deadline_expired', by: 'system' } })
  t.match((await trailOf(db, m.id)).events.at(-1), { type: 'referral.terminated', sequence: 3, actor: 'system' })

  // Nothing to expire: a finished case, an unknown id.
  const far = addCalendarDays(today(), 400)
  t.equal(await expireIfDue(db, a.id, far), false, 'a declined referral has no running deadline')
  t.equal(await expireIfDue(db, '01a224ae-0000-7000-8000-000000000000', far), false)
  t.equal((await row(a.id)).version, 2)

  // The sweep: everything overdue as of `far`, once.
  const c1 = await create()
  const c2 = await create()
  const overdue = await db
    .selectFrom('referrals')
    .select('id')
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'referred'), eb('acceptance_due_on', '<', far)]),
        eb.and([eb('status', '=', 'mediating'), eb('mediation_due_on', '<', far)]),
      ]),
    )
    .execute()
  t.ok(overdue.length >= 2)
  t.equal(await sweepOverdue(db, far), overdue.length, 'the sweep expires every overdue referral')
  for (const c of [c1, c2]) t.match(await row(c.value.id), { status: 'declined', version: 2 })
  t.equal(await sweepOverdue(db, far), 0, 'nothing fires twice')
})
