import { sql } from 'kysely'
import t, { type Test } from 'tap'
import type { Outcome, Work } from '../../src/cases/case-kit.js'
import { confirmationService } from '../../src/cases/confirmations/confirmation-service.js'
import { deemWithdrawnIfDue, sweepSupplementOverdue } from '../../src/cases/confirmations/confirmation-timers.js'
import { referralService } from '../../src/cases/referrals/referral-service.js'
import { verifySubjectChain } from '../../src/db/event-repository.js'
import { addCalendarDays, reviewDueOn, shanghaiDate } from '../../src/domain/calendar.js'
import { agreementSha256, type Confirmation, confirmationPersonalFields } from '../../src/domain/confirmation.js'
import { GENESIS_HASH } from '../../src/domain/event-chain.js'
import { scanForPersonalData } from '../../src/domain/personal-data.js'
import type { Principal } from '../../src/domain/principal.js'
import type { CreateConfirmationInput } from '../../src/schemas/confirmations.js'
import type { CreateReferralInput } from '../../src/schemas/referrals.js'
import { caller, principal, refusal, seedOrganization, snapshotOf, startCaseWorld, trailOf } from '../helpers/cases.js'
import { caseNumber, referralBody, residentId } from '../helpers/fixtures.js'

/**
 * The judicial confirmation service (src/cases/confirmations) driven directly, without HTTP: applications from an
 * agreed referral and standalone ones, the court's decisions and withdrawal, each in its own unit of work, asserting
 * the Outcome and the rows, events, outbox and access trail in PostgreSQL.
 */

const world = await startCaseWorld()
t.teardown(() => world.close())
const { deps } = world
const db = deps.db
const referrals = referralService(deps)
const confirmations = confirmationService(deps)

await seedOrganization(db, 'bj-cy-blz')
await seedOrganization(db, 'gd-fs-org', { name: '佛山市禅城区人民调解委员会', regionCode: '440604', rosters: { ministry: true, courtSpecial: ['粤0604'] } })

const court = principal('court', { courtCodes: ['京0105'] })
const otherCourt = principal('court', { courtCodes: ['粤0604'] })
const platform = principal('mediation', { regionCodes: ['11'] })
const otherPlatform = principal('mediation', { regionCodes: ['44'] })
const operator = principal('operator')

const today = () => shanghaiDate(new Date())
const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString()
const year = Number(today().slice(0, 4))
let jcSeq = 100 + Math.floor(Math.random() * 100000)
/** A 司法确认 case number of this year, e.g. （2026）京0105民特123号. */
const jcNumber = (type: '民特' | '诉前调确' = '民特', court = '京0105') => `（${year}）${court}${type}${jcSeq++}号`

interface Agreed {
  id: string
  sha: string
  terms: string
}

/** A referral taken through the referral service to `agreed` (and closed, if asked). */
async function agreedReferral(opts: { inLitigation?: boolean; close?: 'agreement_filed' | 'mediation_document_issued' } = {}): Promise<Agreed> {
  const body = opts.inLitigation
    ? referralBody({ referralType: 'in_litigation', procedure: 'ordinary', caseNumber: caseNumber('京0105', '民初') })
    : referralBody()
  const { value: r } = await world.work(referrals.create(caller(court), body as unknown as CreateReferralInput))
  await world.work((w) =>
    referrals.accept(w, caller(platform), r.id, { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: new Date().toISOString() }),
  )
  const terms = `李四于本月底前向张三支付赔偿款 8000 元，双方再无争议。#${r.id}`
  const signedAt = hourAgo()
  const ag = await world.work((w) =>
    referrals.recordAgreement(w, caller(platform), r.id, {
      form: 'written',
      terms,
      signatures: [
        { partyIndex: 0, signedAt },
        { partyIndex: 1, signedAt },
      ],
      mediatorSignedAt: signedAt,
      sealedAt: signedAt,
      performance: { method: 'immediate' },
    }),
  )
  if (opts.close) await world.work((w) => referrals.close(w, caller(court), r.id, { disposition: opts.close as 'agreement_filed' }))
  return { id: r.id, sha: ag.value.doc.agreement?.sha256 as string, terms }
}

const linkedBody = (a: Agreed, over: Record<string, unknown> = {}) =>
  ({
    referralId: a.id,
    courtCode: '京0105',
    agreementSha256: a.sha,
    applicants: [0, 1],
    appliedAt: new Date().toISOString(),
    materials: [],
    ...over,
  }) as unknown as CreateConfirmationInput

let termSeq = 0
function standaloneBody(over: Record<string, unknown> = {}): CreateConfirmationInput {
  const signedAt = hourAgo()
  return {
    courtCode: '京0105',
    organizationId: 'bj-cy-blz',
    agreement: {
      form: 'written',
      terms: `王五与赵六就房屋漏水达成协议：王五修复并赔偿 3000 元。第${++termSeq}份`,
      amount: '3000.00',
      signatures: [
        { partyIndex: 0, signedAt },
        { partyIndex: 1, signedAt },
      ],
      mediatorSignedAt: signedAt,
      sealedAt: signedAt,
      performance: { method: 'deferred', dueOn: '2027-01-31' },
    },
    parties: [
      {
        role: 'applicant',
        kind: 'natural_person',
        name: '王五',
        idType: 'resident_id',
        idNumber: residentId('110105', '19700101'),
        phone: '13912345678',
        address: '北京市朝阳区八里庄路 5 号',
      },
      { role: 'respondent', kind: 'natural_person', name: '赵六', idType: 'resident_id', idNumber: residentId('110108', '19850202') },
    ],
    applicants: [0, 1],
    appliedAt: new Date().toISOString(),
    materials: [],
    ...over,
  } as CreateConfirmationInput
}

const apply = (body: CreateConfirmationInput, by: Principal = platform) => world.work(confirmations.apply(caller(by), body))

async function row(id: string) {
  return db.selectFrom('judicial_confirmations').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
}
const count = async (table: 'judicial_confirmations' | 'events') =>
  Number(
    (
      await db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  )

interface StepExpect {
  status: Confirmation['status']
  event: string
}

/**
 * One decision in its own unit of work: the Outcome (status, version + 1, full, hints), the row, exactly one new
 * event chained to the previous head with sequence = version, one outbox row, a verifying chain, one access-trail
 * row for the caller (every caller who may act on an application sees it in full).
 */
async function step(t: Test, id: string, by: Principal, e: StepExpect, run: (w: Work) => Promise<Outcome<Confirmation>>): Promise<Confirmation> {
  const rowBefore = await row(id)
  const before = await trailOf(db, id)
  const out = await world.work(run)
  const v = rowBefore.version + 1
  t.equal(out.value.status, e.status, `status ${e.status}`)
  t.equal(out.value.version, v, `version ${rowBefore.version} → ${v}`)
  t.equal(out.full, true, 'the caller sees the application in full')
  t.same(out.hints, { events: true }, 'the relay is woken; applications have no timers')
  const r = await row(id)
  t.match(
    r,
    { status: e.status, version: v, chain_head: out.value.chainHead, case_number: out.value.caseNumber, review_due_on: out.value.reviewDueOn },
    'the row holds the new state',
  )
  const after = await trailOf(db, id)
  t.equal(after.events.length, before.events.length + 1, 'exactly one new event')
  const ev = after.events.at(-1)!
  t.match(ev, {
    type: e.event,
    sequence: v,
    case_version: v,
    subject_kind: 'judicial_confirmation',
    court_code: out.value.courtCode,
    organization_id: out.value.organizationId,
    prev_hash: rowBefore.chain_head,
    hash: r.chain_head,
  })
  t.same(ev.actor, { clientId: by.clientId, role: by.role }, 'the caller is the actor')
  t.match(ev.data, { confirmation: { status: e.status, version: v } }, 'the event shows the new state')
  t.same(scanForPersonalData(JSON.stringify(ev.data)), [], 'the event data is masked')
  t.equal(after.outbox, before.outbox + 1, 'one outbox row')
  t.match(await verifySubjectChain(db, id), { valid: true, length: v, head: r.chain_head }, 'the chain verifies')
  t.equal(after.access[by.clientId] ?? 0, (before.access[by.clientId] ?? 0) + 1, 'the full view is in the access trail')
  return out.value
}

async function refused(t: Test, id: string, run: (w: Work) => Promise<unknown>, status: number, code: string, msg: string) {
  const before = await snapshotOf(db, 'judicial_confirmations', id)
  const err = await refusal(world.work(run))
  t.equal(err.status, status, `${msg}: ${status}`)
  t.equal(err.code, code, `${msg}: ${code}`)
  t.same(await snapshotOf(db, 'judicial_confirmations', id), before, `${msg}: row, events, outbox and access trail unchanged`)
  return err
}

/** Checks an application just made: its Outcome and everything the intake wrote. */
async function checkApplied(t: Test, out: Outcome<Confirmation>, by: Principal, regionCode: string) {
  const c = out.value
  t.match(c, { version: 1, status: 'applied', courtCode: '京0105', caseNumber: null, reviewDueOn: null, late: false, subject: 'ordinary' })
  t.equal(out.full, true)
  t.same(out.hints, { events: true })
  const r = await row(c.id)
  t.match(r, {
    status: 'applied',
    version: 1,
    chain_head: c.chainHead,
    referral_id: c.referralId,
    organization_id: c.organizationId,
    agreement_sha256: c.agreementSha256,
  })
  const trail = await trailOf(db, c.id)
  t.equal(trail.events.length, 1)
  t.match(trail.events[0], {
    type: 'confirmation.applied',
    sequence: 1,
    case_version: 1,
    prev_hash: GENESIS_HASH,
    hash: c.chainHead,
    subject_kind: 'judicial_confirmation',
    court_code: '京0105',
    organization_id: c.organizationId,
    region_code: regionCode,
    audience: 'case',
  })
  t.same(trail.events[0]!.actor, { clientId: by.clientId, role: by.role })
  t.same(scanForPersonalData(JSON.stringify(trail.events[0]!.data)), [], 'the event data is masked')
  t.equal(trail.outbox, 1, 'the event is in the outbox')
  t.match(await verifySubjectChain(db, c.id), { valid: true, length: 1 })
  t.same(trail.access, { [by.clientId]: 1 }, 'the full answer is in the access trail')
  const log = await db.selectFrom('access_log').selectAll().where('subject_id', '=', c.id).executeTakeFirstOrThrow()
  t.match(log, { request_id: 'test', fields: confirmationPersonalFields(c) })
  const index = await db.selectFrom('party_index').select('id_hash').where('subject_id', '=', c.id).execute()
  t.equal(index.length, 2, 'the blind index follows the parties')
}

t.test('a referral-linked application: Outcome, row, event, outbox, access trail; duplicates', async (t) => {
  const a = await agreedReferral()
  const out = await apply(linkedBody(a))
  await checkApplied(t, out, platform, '110105')
  t.match(out.value, { referralId: a.id, organizationId: 'bj-cy-blz', agreementSha256: a.sha })
  t.match(out.value.doc, { applicants: [0, 1], agreement: { sha256: a.sha, terms: a.terms } })

  const [n0, e0] = [await count('judicial_confirmations'), await count('events')]
  const dup = await refusal(apply(linkedBody(a)))
  t.match(dup, { status: 409, code: 'duplicate_application', extra: { existingId: out.value.id } })
  t.match(await refusal(apply(linkedBody(a, { agreementSha256: agreementSha256('另一份协议') }))), { status: 422, code: 'agreement_mismatch' })
  t.match(await refusal(apply(linkedBody(a, { courtCode: '京0106' }))), { status: 422, code: 'wrong_court' })
  t.match(await refusal(apply(linkedBody(a, { applicants: [0] }))), { status: 422, code: 'joint_application_required' })
  t.match(await refusal(apply(linkedBody(a), otherPlatform)), { status: 404, code: 'not_found' }, 'another region’s platform does not see the referral')
  t.match(await refusal(apply(linkedBody(a, { referralId: '01a224ae-0000-7000-8000-000000000000' }))), { status: 404 }, 'unknown referral')
  t.match(
    await refusal(() => apply(linkedBody(a, { organizationId: 'bj-cy-blz' }))),
    { status: 400, code: 'validation_failed' },
    'standalone fields on a linked application',
  )
  t.equal(await count('judicial_confirmations'), n0, 'no row for any refused application')
  t.equal(await count('events'), e0, 'no event for any refused application')

  const { value: early } = await world.work(referrals.create(caller(court), referralBody() as unknown as CreateReferralInput))
  t.match(
    await refusal(apply(linkedBody({ id: early.id, sha: 'a'.repeat(64), terms: '' }))),
    { status: 409, code: 'illegal_transition', extra: { currentStatus: 'referred' } },
    'a referral without an agreement',
  )
})

t.test('two applications racing past the live-application check: the unique index decides, the loser leaves no event', async (t) => {
  const a = await agreedReferral()
  const [n0, e0] = [await count('judicial_confirmations'), await count('events')]
  // The first unit of work applies (its row and event written, not committed) and waits; the second, not seeing
  // the first's row, passes the check, writes its event and blocks on the unique index until the first commits.
  let inserted!: () => void
  let release!: () => void
  const firstInserted = new Promise<void>((r) => (inserted = r))
  const gate = new Promise<void>((r) => (release = r))
  const first = world.work(async (w) => {
    const out = await confirmations.apply(caller(platform), linkedBody(a))(w)
    inserted()
    await gate
    return out
  })
  await firstInserted
  const second = apply(linkedBody(a)).then(
    (out) => out,
    (err: unknown) => err,
  )
  const waitingOnLock = async () =>
    Number(
      (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(db))
        .rows[0]?.n,
    )
  for (let i = 0; i < 200 && (await waitingOnLock()) === 0; i++) await new Promise((r) => setTimeout(r, 25))
  t.equal(await waitingOnLock(), 1, 'the second application waits on the first one’s row')
  release()
  const won = await first
  t.equal(won.value.status, 'applied')
  t.match(await second, { status: 409, code: 'duplicate_application' }, 'the unique violation answers as a duplicate application')
  t.equal(await count('judicial_confirmations'), n0 + 1, 'one application')
  t.equal(await count('events'), e0 + 1, 'the loser’s event rolled back with its unit of work')
  const orphans = await db
    .selectFrom('events as e')
    .leftJoin('judicial_confirmations as c', 'c.id', 'e.subject_id')
    .select('e.id')
    .where('e.subject_kind', '=', 'judicial_confirmation')
    .where('c.id', 'is', null)
    .execute()
  t.same(orphans, [], 'no event without its application')
})

t.test('a closed referral: agreement_filed allows an application; a 委托 case never applies', async (t) => {
  const filed = await agreedReferral({ close: 'agreement_filed' })
  const ok = await apply(linkedBody(filed))
  await checkApplied(t, ok, platform, '110105')
  const doc = await agreedReferral({ inLitigation: true, close: 'mediation_document_issued' })
  t.match(await refusal(apply(linkedBody(doc))), { status: 422, code: 'confirmation_not_applicable' })
  const agreed = await agreedReferral({ inLitigation: true })
  t.match(await refusal(apply(linkedBody(agreed))), { status: 422, code: 'confirmation_not_applicable' }, '委托, agreed')
  const n = await db.selectFrom('judicial_confirmations').select(db.fn.countAll().as('n')).where('referral_id', 'in', [doc.id, agreed.id]).executeTakeFirst()
  t.equal(Number(n?.n), 0, 'nothing written')
})

t.test('a standalone application', async (t) => {
  const body = standaloneBody()
  const out = await apply(body)
  await checkApplied(t, out, platform, '110105')
  t.match(out.value, { referralId: null, organizationId: 'bj-cy-blz', agreementSha256: agreementSha256(body.agreement!.terms) })
  t.same(out.value.doc.venue, { basis: 'organization_seat' })
  t.notOk(JSON.stringify((await row(out.value.id)).doc).includes('13912345678'), 'the phone is stored sealed')
  // Standalone applications have no referral to be a duplicate of.
  await checkApplied(t, await apply({ ...body, appliedAt: new Date().toISOString() }), platform, '110105')

  // 205(2), last sentence: a dispute of an intermediate court goes to an intermediate court of the province.
  const mid = await apply(
    standaloneBody({ courtCode: '粤07', organizationId: 'gd-fs-org', venue: { basis: 'organization_seat', intermediate: true } }),
    otherPlatform,
  )
  t.match(mid.value, { status: 'applied', courtCode: '粤07', organizationId: 'gd-fs-org' })
  t.same(mid.value.doc.venue, { basis: 'organization_seat', intermediate: true })

  const [n0, e0] = [await count('judicial_confirmations'), await count('events')]
  t.match(
    await refusal(apply(standaloneBody({ organizationId: 'gd-fs-org' }))),
    { status: 422, code: 'organization_out_of_scope' },
    'an organization outside the caller’s scope',
  )
  t.match(
    await refusal(apply(standaloneBody({ organizationId: 'nowhere' }))),
    { status: 422, code: 'organization_out_of_scope' },
    'an unknown organization answers alike',
  )
  t.match(await refusal(apply(standaloneBody({ courtCode: '粤0604' }))), { status: 422, code: 'wrong_court' })
  t.match(await refusal(apply(standaloneBody({ courtCode: '粤07' }))), { status: 422, code: 'wrong_court' }, 'an intermediate court without venue.intermediate')
  t.match(
    await refusal(apply(standaloneBody({ courtCode: '粤07', venue: { basis: 'organization_seat', intermediate: true } }))),
    { status: 422, code: 'wrong_court' },
    'an intermediate court of another province',
  )
  t.match(
    await refusal(apply(standaloneBody({ venue: { basis: 'organization_seat', intermediate: true } }))),
    { status: 422, code: 'wrong_court' },
    'venue.intermediate sent to a basic court',
  )
  t.match(await refusal(apply(standaloneBody({ subject: 'personal_status' }))), { status: 422, code: 'excluded_subject' })
  t.match(await refusal(apply(standaloneBody({ appliedAt: new Date(Date.now() + 3_600_000).toISOString() }))), { status: 422, code: 'timestamp_in_future' })
  t.match(await refusal(() => apply(standaloneBody({ parties: undefined }))), { status: 400, code: 'validation_failed' })
  t.equal(await count('judicial_confirmations'), n0)
  t.equal(await count('events'), e0)
})

t.test('acceptance with a 民特 number, then a valid ruling; refusals on the way', async (t) => {
  const a = await agreedReferral()
  const { value: c } = await apply(linkedBody(a))
  const id = c.id
  const cn = jcNumber('民特')

  await refused(t, id, (w) => confirmations.accept(w, caller(platform), id, { decision: 'accepted', caseNumber: cn }), 403, 'forbidden', 'mediation accepts')
  await refused(t, id, (w) => confirmations.accept(w, caller(operator), id, { decision: 'accepted', caseNumber: cn }), 403, 'forbidden', 'an operator accepts')
  await refused(
    t,
    id,
    (w) => confirmations.accept(w, caller(otherCourt), id, { decision: 'accepted', caseNumber: jcNumber('民特', '粤0604') }),
    404,
    'not_found',
    'another court',
  )
  await refused(t, id, (w) => confirmations.withdraw(w, caller(court), id, {}), 403, 'forbidden', 'a court withdraws')
  await refused(
    t,
    id,
    (w) => confirmations.rule(w, caller(court), id, { result: 'valid', rulingNumber: cn, ruledOn: today() }),
    409,
    'illegal_transition',
    'a ruling before acceptance',
  )
  const wrongCourt = await refused(
    t,
    id,
    (w) => confirmations.accept(w, caller(court), id, { decision: 'accepted', caseNumber: jcNumber('民特', '京0106') }),
    400,
    'validation_failed',
    'a case number of another court',
  )
  t.match(wrongCourt.errors, [{ path: '/caseNumber', code: 'invalid_case_number' }])
  await refused(
    t,
    id,
    (w) => confirmations.accept(w, caller(court), id, { decision: 'accepted', caseNumber: cn, acceptedOn: '2099-01-01' }),
    422,
    'date_in_future',
    'acceptedOn in the future',
  )
  await refused(
    t,
    id,
    (w) => confirmations.accept(w, caller(court, '"7"'), id, { decision: 'accepted', caseNumber: cn }),
    412,
    'version_mismatch',
    'a stale If-Match',
  )

  const cal = await deps.calendar.get()
  const acc = await step(t, id, court, { status: 'under_review', event: 'confirmation.accepted' }, (w) =>
    confirmations.accept(w, caller(court, '"1"'), id, { decision: 'accepted', caseNumber: cn }),
  )
  t.equal(acc.caseNumber, cn)
  t.equal(acc.reviewDueOn, reviewDueOn(cal, today()).date, 'review due 30 days after today, rolled per art. 85')
  t.match(acc.doc.acceptance, { caseNumber: cn, acceptedOn: today() })

  const stale = await refused(
    t,
    id,
    (w) => confirmations.rule(w, caller(court, '"1"'), id, { result: 'valid', rulingNumber: cn, ruledOn: today() }),
    412,
    'version_mismatch',
    'If-Match "1" after version 2',
  )
  t.same(stale.extra, { currentVersion: 2 })
  await refused(
    t,
    id,
    (w) => confirmations.refuse(w, caller(court), id, { decision: 'not_accepted', reason: '重复' }),
    409,
    'illegal_transition',
    'refusing an accepted application',
  )
  await refused(
    t,
    id,
    (w) => confirmations.rule(w, caller(court), id, { result: 'valid', rulingNumber: cn, ruledOn: '2026-01-01' }),
    422,
    'date_before_acceptance',
    'a ruling dated before acceptance',
  )

  const ruled = await step(t, id, court, { status: 'ruled_valid', event: 'confirmation.ruled' }, (w) =>
    confirmations.rule(w, caller(court, '"2"'), id, { result: 'valid', rulingNumber: cn, ruledOn: today() }),
  )
  t.match(ruled.doc.ruling, { result: 'valid', rulingNumber: cn, ruledOn: today(), agreementSha256: a.sha })
  await refused(t, id, (w) => confirmations.withdraw(w, caller(platform), id, {}), 409, 'illegal_transition', 'withdrawing after the ruling')
  t.match(
    await refusal(apply(linkedBody(a))),
    { status: 409, code: 'duplicate_application', extra: { existingId: id } },
    'a valid ruling keeps the agreement from new applications',
  )

  const events = await confirmations.events(caller(court), id, 0, 10)
  t.same(
    events.map((e) => [e.type, e.sequence]),
    [
      ['confirmation.applied', 1],
      ['confirmation.accepted', 2],
      ['confirmation.ruled', 3],
    ],
  )
  t.match(events[2]!.data, { confirmation: { ruling: { agreementSha256: a.sha } } }, 'the ruling event names the agreement')
})

t.test('not accepted; a rejected ruling; after either the parties may apply again', async (t) => {
  const a = await agreedReferral()
  const { value: c } = await apply(linkedBody(a))
  await refused(t, c.id, (w) => confirmations.refuse(w, caller(court), c.id, { decision: 'not_accepted' }), 400, 'validation_failed', 'no reason')
  const refusedApp = await step(t, c.id, court, { status: 'not_accepted', event: 'confirmation.not_accepted' }, (w) =>
    confirmations.refuse(w, caller(court), c.id, { decision: 'not_accepted', reason: '不属于本院管辖' }),
  )
  t.match(refusedApp, { reviewDueOn: null, caseNumber: null, doc: { notAccepted: { reason: '不属于本院管辖' } } })
  await refused(
    t,
    c.id,
    (w) => confirmations.rule(w, caller(court), c.id, { result: 'valid', rulingNumber: 'x', ruledOn: today() }),
    409,
    'illegal_transition',
    'a ruling on a refused application',
  )

  const { value: again } = await apply(linkedBody(a))
  t.not(again.id, c.id, 'a new application after the refusal')
  await step(t, again.id, court, { status: 'under_review', event: 'confirmation.accepted' }, (w) =>
    confirmations.accept(w, caller(court), again.id, { decision: 'accepted', caseNumber: jcNumber('诉前调确') }),
  )
  const rej = await step(t, again.id, court, { status: 'ruled_rejected', event: 'confirmation.ruled' }, (w) =>
    confirmations.rule(w, caller(court), again.id, { result: 'rejected', rulingNumber: jcNumber('民特'), ruledOn: today(), reason: '协议内容不明确' }),
  )
  t.match(rej.doc.ruling, { result: 'rejected', reason: '协议内容不明确', agreementSha256: a.sha })
  const third = await apply(linkedBody(a))
  t.equal(third.value.status, 'applied', 'after a rejection the parties may apply again')
})

t.test('withdrawal: from applied and from under review', async (t) => {
  const { value: s } = await apply(standaloneBody())
  await refused(t, s.id, (w) => confirmations.withdraw(w, caller(otherPlatform), s.id, {}), 404, 'not_found', 'another region’s platform')
  const wd = await step(t, s.id, platform, { status: 'withdrawn', event: 'confirmation.withdrawn' }, (w) =>
    confirmations.withdraw(w, caller(platform), s.id, { reason: '当事人已自动履行完毕' }),
  )
  t.match(wd.doc.withdrawal, { reason: '当事人已自动履行完毕' })
  await refused(t, s.id, (w) => confirmations.withdraw(w, caller(platform), s.id, {}), 409, 'illegal_transition', 'withdrawing twice')

  const a = await agreedReferral()
  const { value: c } = await apply(linkedBody(a))
  await step(t, c.id, court, { status: 'under_review', event: 'confirmation.accepted' }, (w) =>
    confirmations.accept(w, caller(court), c.id, { decision: 'accepted', caseNumber: jcNumber('民特') }),
  )
  const wd2 = await step(t, c.id, platform, { status: 'withdrawn', event: 'confirmation.withdrawn' }, (w) =>
    confirmations.withdraw(w, caller(platform), c.id, {}),
  )
  t.equal(wd2.doc.withdrawal?.reason, undefined, 'a withdrawal without a reason')
  await refused(
    t,
    c.id,
    (w) => confirmations.rule(w, caller(court), c.id, { result: 'valid', rulingNumber: 'x', ruledOn: today() }),
    409,
    'illegal_transition',
    'a ruling on a withdrawn application',
  )
  t.equal((await apply(linkedBody(a))).value.status, 'applied', 'a withdrawn application does not block a new one')
})

t.test('reads: get, list, events, assertReadable', async (t) => {
  const { value: c } = await apply(standaloneBody())
  t.equal((await confirmations.get(caller(court), c.id)).full, true, 'the court concerned')
  t.equal((await confirmations.get(caller(platform), c.id)).full, true, 'the applying organization’s platform')
  t.equal((await confirmations.get(caller(operator), c.id)).full, false, 'operators read it masked')
  for (const p of [otherCourt, otherPlatform]) {
    t.match(await refusal(confirmations.get(caller(p), c.id)), { status: 404, code: 'not_found' }, `${p.role} outside the scope: get`)
    t.match(await refusal(confirmations.events(caller(p), c.id, 0, 10)), { status: 404 })
    t.match(await refusal(confirmations.assertReadable(caller(p), c.id)), { status: 404 })
    t.notOk(
      (await confirmations.list(caller(p), { limit: 500 })).some((x) => x.value.id === c.id),
      `${p.role} outside the scope: not listed`,
    )
  }
  t.match(await refusal(confirmations.get(caller(court), 'not-a-uuid')), { status: 404 })
  const mine = await confirmations.list(caller(court), { limit: 500 })
  t.ok(mine.some((x) => x.value.id === c.id && x.full))
  t.ok(
    (await confirmations.list(caller(operator), { limit: 500 })).every((x) => !x.full),
    'operators list masked',
  )
  t.same(
    (await confirmations.events(caller(platform), c.id, 0, 10)).map((e) => e.type),
    ['confirmation.applied'],
  )

  await deps.accessTrail.flush()
  const trail = await trailOf(db, c.id)
  t.same(trail.access, { [platform.clientId]: 2, [court.clientId]: 2 }, 'intake + get for the platform, get + list for the court; none for operators')
})

t.test('who may apply: the service checks the role against the transition table, not only the route', async (t) => {
  // CONFIRMATION_TRANSITIONS lists `apply` for mediation only: a court in scope of the referral calling the
  // service directly is refused before any unit of work begins.
  const a = await agreedReferral()
  const before = await count('judicial_confirmations')
  const outcome = await Promise.resolve()
    .then(() => world.work(confirmations.apply(caller(court), linkedBody(a))))
    .then(
      (out) => ({ applied: out.value.status }),
      (err: unknown) => err,
    )
  t.match(outcome, { status: 403, code: 'forbidden' }, 'a court applying is refused as forbidden')
  t.equal(await count('judicial_confirmations'), before + (Object.hasOwn(outcome as object, 'applied') ? 1 : 0), 'a refused application leaves no row')
})

// ---------------------------------------------------------------------------------------------
// The whole procedure (contract §3 v1.1): review extension, ordered materials and their timer, objections

/** A complete material uploaded by `by`, straight into the table (the upload route is tested elsewhere). */
async function material(by: Principal): Promise<string> {
  const id = crypto.randomUUID()
  await db
    .insertInto('materials')
    .values({ id, client_id: by.clientId, client_role: by.role, content_type: 'application/pdf', title: '材料.pdf', chunk_size: 65536, status: 'complete' })
    .execute()
  return id
}

/** An application from a fresh agreed referral, accepted by the court today. */
async function underReview(): Promise<{ id: string; referral: Agreed; c: Confirmation }> {
  const referral = await agreedReferral()
  const { value } = await apply(linkedBody(referral))
  const { value: c } = await world.work((w) => confirmations.accept(w, caller(court), value.id, { decision: 'accepted', caseNumber: jcNumber('诉前调确') }))
  return { id: c.id, referral, c }
}

const calendarNow = () => deps.calendar.get()

t.test('acceptance shows the day-15 target (法释〔2011〕5号 art. 5)', async (t) => {
  const { c } = await underReview()
  const cal = await calendarNow()
  t.equal(c.doc.reviewTargetOn, cal.addDaysRolled(today(), 15).date)
  t.equal(c.reviewDueOn, reviewDueOn(cal, today()).date)
})

t.test('review-extension (民事诉讼法 187): court only, under review or waiting for materials, no change of state', async (t) => {
  const applied = (await apply(standaloneBody())).value
  const { id, c } = await underReview()
  const due = c.reviewDueOn as string
  const later = addCalendarDays(due, 20)
  const ext = { newDueOn: later, reason: '案情复杂，经院长批准延长' }
  await refused(t, id, (w) => confirmations.extendReview(w, caller(platform), id, ext), 403, 'forbidden', 'mediation extends')
  await refused(t, id, (w) => confirmations.extendReview(w, caller(operator), id, ext), 403, 'forbidden', 'an operator extends')
  await refused(t, id, (w) => confirmations.extendReview(w, caller(otherCourt), id, ext), 404, 'not_found', 'another court')
  await refused(t, applied.id, (w) => confirmations.extendReview(w, caller(court), applied.id, ext), 409, 'illegal_transition', 'before acceptance')
  await refused(t, id, (w) => confirmations.extendReview(w, caller(court), id, { ...ext, newDueOn: due }), 422, 'due_date_not_later', 'the same day')
  const cal = await calendarNow()
  const out = await step(t, id, court, { status: 'under_review', event: 'confirmation.review_extended' }, (w) =>
    confirmations.extendReview(w, caller(court), id, ext),
  )
  t.equal(out.reviewDueOn, cal.rollForward(later).date, 'rolled forward if a rest day')
  t.match(out.doc.reviewExtensions, [{ previousDueOn: due, newDueOn: out.reviewDueOn, reason: ext.reason }])
  // From materials_requested too; not after a ruling.
  await world.work((w) => confirmations.requestMaterials(w, caller(court), id, { items: ['身份证明'], dueOn: addCalendarDays(today(), 5) }))
  const again = await step(t, id, court, { status: 'materials_requested', event: 'confirmation.review_extended' }, (w) =>
    confirmations.extendReview(w, caller(court), id, { newDueOn: addCalendarDays(out.reviewDueOn as string, 10), reason: '再次延长' }),
  )
  t.equal(again.doc.reviewExtensions?.length, 2)
  const ruled = await underReview()
  await world.work((w) => confirmations.rule(w, caller(court), ruled.id, { result: 'valid', rulingNumber: jcNumber('民特'), ruledOn: today() }))
  await refused(t, ruled.id, (w) => confirmations.extendReview(w, caller(court), ruled.id, ext), 409, 'illegal_transition', 'after the ruling')
})

t.test('material-request and material-supplement (民诉法解释 354)', async (t) => {
  const applied = (await apply(standaloneBody())).value
  const { id, referral } = await underReview()
  const req = { items: ['调解组织主持调解的证明', '申请人身份证明'], dueOn: addCalendarDays(today(), 7) }
  await refused(t, id, (w) => confirmations.requestMaterials(w, caller(platform), id, req), 403, 'forbidden', 'mediation orders')
  await refused(t, id, (w) => confirmations.requestMaterials(w, caller(operator), id, req), 403, 'forbidden', 'an operator orders')
  await refused(t, id, (w) => confirmations.requestMaterials(w, caller(otherCourt), id, req), 404, 'not_found', 'another court')
  await refused(t, applied.id, (w) => confirmations.requestMaterials(w, caller(court), applied.id, req), 409, 'illegal_transition', 'before acceptance')
  await refused(t, id, (w) => confirmations.requestMaterials(w, caller(court), id, { ...req, dueOn: today() }), 422, 'date_not_in_future', 'due today')
  const m = await material(platform)
  await refused(
    t,
    id,
    (w) => confirmations.supplementMaterials(w, caller(platform), id, { materials: [{ materialId: m }] }),
    409,
    'illegal_transition',
    'nothing ordered',
  )

  const requested = await step(t, id, court, { status: 'materials_requested', event: 'confirmation.materials_requested' }, (w) =>
    confirmations.requestMaterials(w, caller(court), id, req),
  )
  t.match(requested.doc.requestedMaterials, { items: req.items, dueOn: req.dueOn })
  await refused(t, id, (w) => confirmations.requestMaterials(w, caller(court), id, req), 409, 'illegal_transition', 'ordered twice')
  await refused(
    t,
    id,
    (w) => confirmations.rule(w, caller(court), id, { result: 'valid', rulingNumber: jcNumber('民特'), ruledOn: today() }),
    409,
    'illegal_transition',
    'a ruling while waiting',
  )
  await refused(
    t,
    id,
    (w) => confirmations.withdraw(w, caller(platform), id, {}),
    409,
    'illegal_transition',
    'withdrawal while waiting (contract: applied / under_review)',
  )
  // Still live: no second application for the referral.
  t.match(await refusal(apply(linkedBody(referral))), { status: 409, code: 'duplicate_application' }, 'waiting for materials is live')

  const sup = { materials: [{ materialId: m }], note: '已补充主持调解证明' }
  await refused(t, id, (w) => confirmations.supplementMaterials(w, caller(court), id, sup), 403, 'forbidden', 'a court supplies')
  await refused(t, id, (w) => confirmations.supplementMaterials(w, caller(operator), id, sup), 403, 'forbidden', 'an operator supplies')
  await refused(t, id, (w) => confirmations.supplementMaterials(w, caller(otherPlatform), id, sup), 404, 'not_found', 'another platform')
  const foreign = await material(otherPlatform)
  await refused(
    t,
    id,
    (w) => confirmations.supplementMaterials(w, caller(platform), id, { materials: [{ materialId: foreign }] }),
    422,
    'unknown_material',
    'a material the caller may not read',
  )
  await refused(t, id, (w) => confirmations.supplementMaterials(w, caller(platform), id, { materials: [] }), 400, 'validation_failed', 'nothing supplied')
  const supplied = await step(t, id, platform, { status: 'under_review', event: 'confirmation.materials_supplemented' }, (w) =>
    confirmations.supplementMaterials(w, caller(platform), id, sup),
  )
  t.equal(supplied.doc.requestedMaterials, undefined, 'nothing outstanding')
  t.match(supplied.doc.materials, [{ materialId: m }])
  t.match(supplied.doc.materialRequests, [{ items: req.items, dueOn: req.dueOn, supplied: { materials: [{ materialId: m }], note: sup.note } }])
  const link = await db.selectFrom('material_links').selectAll().where('subject_id', '=', id).where('material_id', '=', m).execute()
  t.equal(link.length, 1, 'the material is linked to the application')
  await refused(t, id, (w) => confirmations.supplementMaterials(w, caller(platform), id, sup), 409, 'illegal_transition', 'supplied twice')
})

t.test('the deemed-withdrawal timer (民诉法解释 357), driven by the day it runs on', async (t) => {
  const { id } = await underReview()
  const dueOn = addCalendarDays(today(), 3)
  await world.work((w) => confirmations.requestMaterials(w, caller(court), id, { items: ['身份证明'], dueOn }))
  const before = await trailOf(db, id)
  t.equal(await deemWithdrawnIfDue(db, id, today()), false, 'not before the due day')
  t.equal(await deemWithdrawnIfDue(db, id, dueOn), false, 'not on the due day')
  t.equal(await sweepSupplementOverdue(db, dueOn), 0, 'the sweep leaves it alone on the due day')
  t.equal((await row(id)).status, 'materials_requested')
  const nextDay = addCalendarDays(dueOn, 1)
  const now = new Date(`${nextDay}T00:00:05+08:00`)
  t.equal(await sweepSupplementOverdue(db, nextDay, now), 1, 'the sweep deems it withdrawn the next day')
  const r = await row(id)
  t.match(r, { status: 'deemed_withdrawn', version: before.events.length + 1 })
  t.match((r.doc as Confirmation['doc']).deemedWithdrawal, { dueOn, at: now.toISOString() })
  const after = await trailOf(db, id)
  t.equal(after.events.length, before.events.length + 1, 'one event')
  const ev = after.events.at(-1)!
  t.match(ev, { type: 'confirmation.deemed_withdrawn', sequence: r.version, case_version: r.version })
  t.equal(ev.actor, 'system', 'the system is the actor')
  t.same(scanForPersonalData(JSON.stringify(ev.data)), [])
  t.equal(after.outbox, before.outbox + 1)
  t.match(await verifySubjectChain(db, id), { valid: true, length: r.version })
  await sweepSupplementOverdue(db, addCalendarDays(nextDay, 5))
  t.equal((await row(id)).version, r.version, 'exactly once: a later sweep leaves it alone')
  t.equal(await deemWithdrawnIfDue(db, id, addCalendarDays(nextDay, 5)), false)
  const m = await material(platform)
  await refused(
    t,
    id,
    (w) => confirmations.supplementMaterials(w, caller(platform), id, { materials: [{ materialId: m }] }),
    409,
    'illegal_transition',
    'too late to supply',
  )

  // A supplement that won the race leaves nothing for the timer.
  const other = await underReview()
  await world.work((w) => confirmations.requestMaterials(w, caller(court), other.id, { items: ['身份证明'], dueOn }))
  await world.work((w) => confirmations.supplementMaterials(w, caller(platform), other.id, { materials: [{ materialId: m }] }))
  t.equal(await deemWithdrawnIfDue(db, other.id, nextDay), false, 'supplied in time')
  t.equal((await row(other.id)).status, 'under_review')
})

t.test('the ruling opens the objection window; objection and objection-ruling (民诉法解释 372)', async (t) => {
  const { id } = await underReview()
  const obj = { by: 'party' as const, partyIndex: 1, filedOn: today(), grounds: '调解协议违反法律强制性规定' }
  await refused(t, id, (w) => confirmations.fileObjection(w, caller(court), id, obj), 409, 'illegal_transition', 'an objection before the ruling')
  const doc = await material(court)
  const foreign = await material(otherCourt)
  const ruling = { result: 'valid' as const, rulingNumber: jcNumber('民特'), ruledOn: today() }
  const unreadable = await refused(
    t,
    id,
    (w) => confirmations.rule(w, caller(court), id, { ...ruling, documentMaterialId: foreign }),
    422,
    'unknown_material',
    'a ruling document the court may not read',
  )
  t.match(unreadable.errors, [{ path: '/documentMaterialId', code: 'unknown_material' }])
  const ruled = await step(t, id, court, { status: 'ruled_valid', event: 'confirmation.ruled' }, (w) =>
    confirmations.rule(w, caller(court), id, { ...ruling, documentMaterialId: doc }),
  )
  const cal = await calendarNow()
  t.equal(ruled.doc.objectionDueOn, cal.addDaysRolled(today(), 15).date, 'objectionDueOn = servedOn (default ruledOn) + 15, rolled')
  t.match(ruled.doc.ruling, { servedOn: today(), documentMaterialId: doc })
  t.equal(
    (await db.selectFrom('material_links').selectAll().where('subject_id', '=', id).where('material_id', '=', doc).execute()).length,
    1,
    'the ruling document is linked',
  )

  await refused(t, id, (w) => confirmations.fileObjection(w, caller(platform), id, obj), 403, 'forbidden', 'mediation files an objection')
  await refused(t, id, (w) => confirmations.fileObjection(w, caller(operator), id, obj), 403, 'forbidden', 'an operator files an objection')
  await refused(t, id, (w) => confirmations.fileObjection(w, caller(otherCourt), id, obj), 404, 'not_found', 'another court')
  const longAgo = addCalendarDays(today(), -400)
  await refused(
    t,
    id,
    (w) => confirmations.fileObjection(w, caller(court), id, { by: 'interested_person', filedOn: today(), knewOn: longAgo, grounds: '损害案外人权益' }),
    422,
    'objection_deadline_passed',
    'an interested person more than 6 months after knowing',
  )
  await refused(
    t,
    id,
    (w) => confirmations.fileObjection(w, caller(court), id, { ...obj, partyIndex: undefined }),
    400,
    'validation_failed',
    'a party without partyIndex',
  )
  const objected = await step(t, id, court, { status: 'objection_filed', event: 'confirmation.objection_filed' }, (w) =>
    confirmations.fileObjection(w, caller(court), id, obj),
  )
  t.match(objected.doc.objections, [{ by: 'party', partyIndex: 1, filedOn: today(), dueOn: ruled.doc.objectionDueOn }])
  await refused(t, id, (w) => confirmations.fileObjection(w, caller(court), id, obj), 409, 'illegal_transition', 'a second objection while one is pending')

  const decision = { ruledOn: today(), rulingNumber: jcNumber('民特') }
  await refused(t, id, (w) => confirmations.ruleOnObjection(w, caller(platform), id, { result: 'dismissed', ...decision }), 403, 'forbidden', 'mediation rules')
  await refused(
    t,
    id,
    (w) => confirmations.ruleOnObjection(w, caller(operator), id, { result: 'dismissed', ...decision }),
    403,
    'forbidden',
    'an operator rules',
  )
  const back = await step(t, id, court, { status: 'ruled_valid', event: 'confirmation.objection_ruled' }, (w) =>
    confirmations.ruleOnObjection(w, caller(court), id, { result: 'dismissed', ...decision }),
  )
  t.match(back.doc.objections, [{ ruling: { result: 'dismissed' } }])
  await refused(
    t,
    id,
    (w) => confirmations.ruleOnObjection(w, caller(court), id, { result: 'revoked', ...decision }),
    409,
    'illegal_transition',
    'no objection pending',
  )
  await step(t, id, court, { status: 'objection_filed', event: 'confirmation.objection_filed' }, (w) =>
    confirmations.fileObjection(w, caller(court), id, { by: 'interested_person', filedOn: today(), knewOn: today(), grounds: '损害案外人权益' }),
  )
  const revoked = await step(t, id, court, { status: 'ruling_revoked', event: 'confirmation.objection_ruled' }, (w) =>
    confirmations.ruleOnObjection(w, caller(court), id, { result: 'revoked', ...decision }),
  )
  t.equal(revoked.doc.objections?.length, 2)

  // A rejected ruling returns to ruled_rejected when the objection is dismissed.
  const rej = await underReview()
  await world.work((w) =>
    confirmations.rule(w, caller(court), rej.id, { result: 'rejected', rulingNumber: jcNumber('民特'), ruledOn: today(), reason: '内容不明确' }),
  )
  await world.work((w) => confirmations.fileObjection(w, caller(court), rej.id, obj))
  await step(t, rej.id, court, { status: 'ruled_rejected', event: 'confirmation.objection_ruled' }, (w) =>
    confirmations.ruleOnObjection(w, caller(court), rej.id, { result: 'dismissed', ...decision }),
  )
})
