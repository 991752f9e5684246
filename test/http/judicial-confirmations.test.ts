import t from 'tap'
import { readFileSync } from 'node:fs'
import { sql } from 'kysely'
import { sweepSupplementOverdue } from '../../src/cases/confirmations/confirmation-timers.js'
import { addCalendarDays, LegalCalendar, type LunarYear, reviewDueOn, shanghaiDate, type YearArrangement } from '../../src/domain/calendar.js'
import { agreementSha256 } from '../../src/domain/confirmation.js'
import { verifyChain } from '../../src/domain/event-chain.js'
import { scanForPersonalData } from '../../src/domain/personal-data.js'
import { toEnvelope } from '../../src/db/event-repository.js'
import { caseNumber, grantSpecialRoster, organizationBody, post, referralBody, residentId, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'

const h = await startHarness()
t.teardown(() => h.close())

const w = await standardWorld(h)
const operator = h.operatorKey
// A Guangdong organization, in the other platform's scope only.
const gdOrg = await h.call(w.otherPlatform.key, {
  method: 'PUT',
  url: '/v1/organizations/gd-fs-org',
  payload: organizationBody({ name: '佛山市禅城区人民调解委员会', regionCode: '440604' }),
})
if (gdOrg.statusCode !== 201) throw new Error(gdOrg.body)
await grantSpecialRoster(h, 'gd-fs-org', ['粤0604'], w.otherCourt.key)
// A district-level organization elsewhere in Beijing (the Beijing platform's scope covers it).
const hdOrg = await h.call(w.platform.key, {
  method: 'PUT',
  url: '/v1/organizations/bj-hd-org',
  payload: organizationBody({ name: '海淀区人民调解委员会', regionCode: '110108' }),
})
if (hdOrg.statusCode !== 201) throw new Error(hdOrg.body)

function readYears<T>(file: string): Record<string, T> {
  return (JSON.parse(readFileSync(new URL(`../../data/${file}`, import.meta.url), 'utf8')) as { years: Record<string, T> }).years
}
const cal = new LegalCalendar({ arrangements: readYears<YearArrangement>('holidays.json'), lunar: readYears<LunarYear>('statutory-lunar.json') })

async function uploadPdf(key: string): Promise<string> {
  const res = await h.call(key, {
    method: 'POST',
    url: '/v1/materials',
    payload: Buffer.from(`%PDF-1.7 调解协议书 ${Date.now()}`),
    headers: { 'content-type': 'application/pdf', 'x-material-title': encodeURIComponent('调解协议书.pdf'), 'idempotency-key': idemKey() },
  })
  if (res.statusCode !== 201) throw new Error(`material: ${res.statusCode} ${res.body}`)
  return res.json().id as string
}
const platformPdf = await uploadPdf(w.platform.key)
const gdPdf = await uploadPdf(w.otherPlatform.key)

const BASE = '/v1/judicial-confirmations'
const year = Number(shanghaiDate(new Date()).slice(0, 4))
let jcSeq = 100 + Math.floor(Math.random() * 100000)
const jcNumber = (court = '京0105', type = '诉前调确') => `（${year}）${court}${type}${jcSeq++}号`
const hourAgo = () => new Date(Date.now() - 3600_000).toISOString()

interface Agreed {
  id: string
  sha: string
  terms: string
}

/** A referral taken through the real referral API to `agreed` (and, if asked, closed). */
async function agreedReferral(opts: { signedAt?: string; inLitigation?: boolean; close?: string } = {}): Promise<Agreed> {
  const body = opts.inLitigation
    ? referralBody({ referralType: 'in_litigation', procedure: 'ordinary', caseNumber: caseNumber('京0105', '民初') })
    : referralBody()
  const created = await post(h, w.court.key, '/v1/referrals', body)
  if (created.statusCode !== 201) throw new Error(`referral: ${created.body}`)
  const id = created.json().id as string
  const acc = await post(h, w.platform.key, `/v1/referrals/${id}/acceptance`, {
    decision: 'accepted',
    mediator: { name: '王调解' },
    acceptedAt: new Date().toISOString(),
  })
  if (acc.statusCode !== 200) throw new Error(`accept: ${acc.body}`)
  const signedAt = opts.signedAt ?? hourAgo()
  const terms = `李四于本月底前向张三支付赔偿款 8000 元，双方再无争议。#${id}`
  const ag = await post(h, w.platform.key, `/v1/referrals/${id}/agreement`, {
    form: 'written',
    terms,
    signatures: [
      { partyIndex: 0, signedAt },
      { partyIndex: 1, signedAt },
    ],
    mediatorSignedAt: signedAt,
    sealedAt: signedAt,
    performance: { method: 'immediate' },
  })
  if (ag.statusCode !== 200) throw new Error(`agreement: ${ag.body}`)
  if (opts.close) {
    const cl = await post(h, w.court.key, `/v1/referrals/${id}/closure`, { disposition: opts.close })
    if (cl.statusCode !== 200) throw new Error(`closure: ${cl.body}`)
  }
  return { id, sha: ag.json().agreement.sha256 as string, terms }
}

const linkedBody = (a: Agreed, over: Record<string, unknown> = {}) => ({
  referralId: a.id,
  courtCode: '京0105',
  agreementSha256: a.sha,
  applicants: [0, 1],
  appliedAt: new Date().toISOString(),
  materials: [],
  ...over,
})

let termSeq = 0
function standaloneBody(over: Record<string, unknown> = {}) {
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
      { role: 'respondent', kind: 'natural_person', name: '赵六·阿不都', idType: 'resident_id', idNumber: residentId('110108', '19850202') },
    ],
    applicants: [0, 1],
    appliedAt: new Date().toISOString(),
    materials: [{ materialId: platformPdf }],
    ...over,
  }
}

async function apply(body: unknown, key = w.platform.key) {
  return post(h, key, BASE, body)
}

async function applied(a?: Agreed): Promise<{ id: string; agreed: Agreed }> {
  const agreed = a ?? (await agreedReferral())
  const res = await apply(linkedBody(agreed))
  if (res.statusCode !== 201) throw new Error(`apply: ${res.body}`)
  return { id: res.json().id as string, agreed }
}

async function accepted(over: Record<string, unknown> = {}): Promise<{ id: string; agreed: Agreed; caseNumber: string }> {
  const app = await applied()
  const cn = jcNumber()
  const res = await post(h, w.court.key, `${BASE}/${app.id}/acceptance`, { decision: 'accepted', caseNumber: cn, ...over })
  if (res.statusCode !== 200) throw new Error(`acceptance: ${res.body}`)
  return { ...app, caseNumber: cn }
}

const get = (key: string, url: string) => h.call(key, { method: 'GET', url })

t.test('referral-linked application: rules and errors', async (t) => {
  const a = await agreedReferral()

  const noSha = await apply(linkedBody(a, { agreementSha256: undefined }))
  t.equal(noSha.statusCode, 422)
  t.equal(noSha.json().code, 'agreement_mismatch', 'agreementSha256 missing')
  const wrongSha = await apply(linkedBody(a, { agreementSha256: agreementSha256('另一份协议') }))
  t.equal(wrongSha.json().code, 'agreement_mismatch', 'agreementSha256 differs')
  const otherTerms = await apply(
    linkedBody(a, {
      agreement: { form: 'written', terms: '不同的条款', signatures: [{ partyIndex: 0, signedAt: hourAgo() }], performance: { method: 'immediate' } },
    }),
  )
  t.equal(otherTerms.statusCode, 422)
  t.equal(otherTerms.json().code, 'agreement_mismatch', 'an attached agreement with other terms')

  const wrongCourt = await apply(linkedBody(a, { courtCode: '京0106' }))
  t.equal(wrongCourt.statusCode, 422)
  t.equal(wrongCourt.json().code, 'wrong_court')

  for (const subject of ['personal_status', 'property_title', 'ip_title']) {
    const res = await apply(linkedBody(a, { subject }))
    t.equal(res.statusCode, 422, subject)
    t.equal(res.json().code, 'excluded_subject', subject)
  }
  const notJoint = await apply(linkedBody(a, { applicants: [0] }))
  t.equal(notJoint.statusCode, 422)
  t.equal(notJoint.json().code, 'joint_application_required')

  const badIndex = await apply(linkedBody(a, { applicants: [0, 1, 7] }))
  t.equal(badIndex.statusCode, 400)
  t.match(badIndex.json().errors, [{ path: '/applicants/2', code: 'invalid_party_index' }])
  const standaloneFields = await apply(linkedBody(a, { organizationId: 'bj-cy-blz', venue: { basis: 'organization_seat' } }))
  t.equal(standaloneFields.statusCode, 400)
  t.match(standaloneFields.json().errors, [
    { path: '/organizationId', code: 'not_allowed' },
    { path: '/venue', code: 'not_allowed' },
  ])
  const unknownField = await apply(linkedBody(a, { status: 'ruled_valid' }))
  t.equal(unknownField.statusCode, 400, 'mass assignment refused')
  const badCourt = await apply(linkedBody(a, { courtCode: 'XX' }))
  t.equal(badCourt.statusCode, 400)
  t.equal(badCourt.json().errors[0].code, 'invalid_court_code')

  const future = await apply(linkedBody(a, { appliedAt: new Date(Date.now() + 3600_000).toISOString() }))
  t.equal(future.json().code, 'timestamp_in_future')
  const beforeAgreement = await apply(linkedBody(a, { appliedAt: new Date(Date.now() - 86_400_000).toISOString() }))
  t.equal(beforeAgreement.json().code, 'timestamp_before_agreement')

  t.equal((await apply(linkedBody(a), w.court.key)).statusCode, 403, 'a court may not apply')
  t.equal((await apply(linkedBody(a), operator)).statusCode, 403, 'an operator may not apply')
  t.equal((await apply(linkedBody(a), w.otherPlatform.key)).statusCode, 404, 'another region’s platform does not see the referral')
  t.equal((await apply(linkedBody(a, { referralId: '0192f3a4-5b6c-7d8e-9f01-23456789abcd' }))).statusCode, 404, 'unknown referral')
  t.equal((await apply(linkedBody(a, { referralId: 'not-a-uuid' }))).statusCode, 404, 'malformed id')
  const noKey = await h.call(null, { method: 'POST', url: BASE, payload: linkedBody(a), headers: { 'idempotency-key': idemKey() } })
  t.equal(noKey.statusCode, 401)
  const noIdem = await h.call(w.platform.key, { method: 'POST', url: BASE, payload: linkedBody(a) })
  t.equal(noIdem.json().code, 'idempotency_key_required')

  // The same agreement attached in full is accepted: it matches the referral's.
  const body = linkedBody(a, {
    agreement: { form: 'written', terms: a.terms, signatures: [{ partyIndex: 0, signedAt: hourAgo() }], performance: { method: 'immediate' } },
  })
  const key = idemKey()
  const ok = await h.call(w.platform.key, { method: 'POST', url: BASE, payload: body, headers: { 'idempotency-key': key } })
  t.equal(ok.statusCode, 201, ok.body)
  const c = ok.json()
  t.match(c, {
    version: 1,
    status: 'applied',
    late: false,
    lateReason: null,
    reviewDueOn: null,
    overdue: false,
    referralId: a.id,
    courtCode: '京0105',
    organizationId: 'bj-cy-blz',
    applicants: [0, 1],
    subject: 'ordinary',
    agreementSha256: a.sha,
    agreement: { sha256: a.sha, terms: a.terms },
    materials: [],
    caseNumber: null,
    ruling: null,
  })
  t.match(c.id, /^[0-9a-f-]{36}$/)
  t.equal(ok.headers.etag, '"1"')
  t.equal(ok.headers.location, `${BASE}/${c.id}`)
  t.match(c.parties[0].idNumber, /^\d{17}[\dX]$/, 'the handling organization sees full personal data')
  t.equal(c.parties[0].phone, '13800138000')

  const replay = await h.call(w.platform.key, { method: 'POST', url: BASE, payload: body, headers: { 'idempotency-key': key } })
  t.equal(replay.statusCode, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.body, ok.body, 'the stored answer, byte for byte')
  const reused = await h.call(w.platform.key, { method: 'POST', url: BASE, payload: { ...body, lateReason: 'x' }, headers: { 'idempotency-key': key } })
  t.equal(reused.statusCode, 422)
  t.equal(reused.json().code, 'idempotency_key_reused')

  const dup = await apply(linkedBody(a))
  t.equal(dup.statusCode, 409)
  t.equal(dup.json().code, 'duplicate_application')

  const byCourt = await get(w.court.key, `${BASE}/${c.id}`)
  t.equal(byCourt.statusCode, 200)
  t.equal(byCourt.headers.etag, '"1"')
  t.equal(byCourt.json().parties[0].phone, '13800138000', 'the court concerned sees full data')
  const byOperator = await get(operator, `${BASE}/${c.id}`)
  t.equal(byOperator.statusCode, 200)
  t.match(byOperator.json().parties[0].idNumber, /^\d{3}\*+[\dX]{4}$/, 'operators see masked ID numbers')
  t.equal(byOperator.json().parties[0].phone, '138****8000')
  t.same(scanForPersonalData(byOperator.body), [])
  t.equal((await get(w.otherCourt.key, `${BASE}/${c.id}`)).statusCode, 404)
  t.equal((await get(w.otherPlatform.key, `${BASE}/${c.id}`)).statusCode, 404)

  const events = await get(w.platform.key, `${BASE}/${c.id}/events`)
  t.equal(events.statusCode, 200)
  t.match(events.json(), {
    items: [{ type: 'confirmation.applied', sequence: 1, caseVersion: 1, subject: { kind: 'judicial_confirmation', id: c.id } }],
    nextCursor: null,
  })
  t.equal(events.json().items[0].data.confirmation.agreementSha256, a.sha)
  t.same(scanForPersonalData(events.body), [], 'event data is masked')
  const row = await h.deps.db.selectFrom('events').selectAll().where('subject_id', '=', c.id).executeTakeFirstOrThrow()
  t.match(row, { court_code: '京0105', organization_id: 'bj-cy-blz', region_code: '110105', audience: 'case', subject_kind: 'judicial_confirmation' })
  const stored = await h.deps.db.selectFrom('judicial_confirmations').select(['chain_head', 'doc']).where('id', '=', c.id).executeTakeFirstOrThrow()
  t.equal(stored.chain_head, row.hash, 'the chain head is the last event’s hash')
  t.notOk(JSON.stringify(stored.doc).includes('13800138000'), 'the phone is stored encrypted')
  const index = await h.deps.db.selectFrom('party_index').select('id_hash').where('subject_id', '=', c.id).execute()
  t.equal(index.length, 2, 'the blind index follows the parties')
})

t.test('the referral must be agreed, or closed as agreement_filed', async (t) => {
  const created = await post(h, w.court.key, '/v1/referrals', referralBody())
  const rid = created.json().id
  const early = await apply({
    referralId: rid,
    courtCode: '京0105',
    agreementSha256: 'a'.repeat(64),
    applicants: [0, 1],
    appliedAt: new Date().toISOString(),
    materials: [],
  })
  t.equal(early.statusCode, 409)
  t.match(early.json(), { code: 'illegal_transition', currentStatus: 'referred' })

  // 委托 (in_litigation): a 调解书 or a withdrawal, never judicial confirmation (特邀调解规定 art. 20), in any state.
  const inLit = await agreedReferral({ inLitigation: true, close: 'mediation_document_issued' })
  const closedOther = await apply(linkedBody(inLit))
  t.equal(closedOther.statusCode, 422)
  t.match(closedOther.json(), { code: 'confirmation_not_applicable' })
  const inLitAgreed = await agreedReferral({ inLitigation: true })
  const agreedOther = await apply(linkedBody(inLitAgreed))
  t.equal(agreedOther.statusCode, 422)
  t.match(agreedOther.json(), { code: 'confirmation_not_applicable' })

  const filed = await agreedReferral({ close: 'agreement_filed' })
  const ok = await apply(linkedBody(filed))
  t.equal(ok.statusCode, 201, ok.body)
})

t.test('30 days after the agreement took effect, counted per art. 85 across National Day', async (t) => {
  // Effective 1 Sep 2026: day 30 is 1 Oct, a holiday; the period ends on the next working day, 8 Oct.
  const a = await agreedReferral({ signedAt: '2026-09-01T10:00:00+08:00' })
  const late = await apply(linkedBody(a, { appliedAt: '2026-10-09T09:00:00+08:00' }))
  t.equal(late.statusCode, 422)
  t.match(late.json(), { code: 'confirmation_deadline_passed', applicationDueOn: '2026-10-08' })

  const onHoliday = await apply(linkedBody(a, { appliedAt: '2026-10-05T11:00:00+08:00' }))
  t.equal(onHoliday.statusCode, 201, 'within the rolled period, although more than 30 days')
  t.match(onHoliday.json(), { late: false, applicationDueOn: '2026-10-08' })
  const withdrawn = await post(h, w.platform.key, `${BASE}/${onHoliday.json().id}/withdrawal`, {})
  t.equal(withdrawn.statusCode, 200)

  const lastDay = await apply(linkedBody(a, { appliedAt: '2026-10-08T23:00:00+08:00' }))
  t.equal(lastDay.statusCode, 201, 'the last day (Shanghai date) is in time')
  t.equal(lastDay.json().late, false)
  await post(h, w.platform.key, `${BASE}/${lastDay.json().id}/withdrawal`, {})

  const excused = await apply(linkedBody(a, { appliedAt: '2026-10-09T09:00:00+08:00', lateReason: '申请人国庆期间住院，出院后即申请' }))
  t.equal(excused.statusCode, 201, 'late with a reason goes to the court')
  t.match(excused.json(), { late: true, lateReason: '申请人国庆期间住院，出院后即申请', status: 'applied' })
})

t.test('court decisions, withdrawal, history and the hash chain', async (t) => {
  const { id, agreed } = await applied()
  const url = `${BASE}/${id}`

  t.equal((await post(h, w.platform.key, `${url}/acceptance`, { decision: 'accepted', caseNumber: jcNumber() })).statusCode, 403, 'mediation may not accept')
  t.equal((await post(h, operator, `${url}/acceptance`, { decision: 'accepted', caseNumber: jcNumber() })).statusCode, 403, 'operators may not accept')
  t.equal((await post(h, w.court.key, `${url}/withdrawal`, {})).statusCode, 403, 'a court may not withdraw')
  t.equal((await post(h, w.otherCourt.key, `${url}/acceptance`, { decision: 'accepted', caseNumber: jcNumber('粤0604') })).statusCode, 404, 'another court')

  const wrongType = await post(h, w.court.key, `${url}/acceptance`, { decision: 'accepted', caseNumber: jcNumber('京0105', '民初') })
  t.equal(wrongType.statusCode, 400)
  t.match(wrongType.json().errors, [{ path: '/caseNumber', code: 'invalid_case_number' }])
  const wrongCourt = await post(h, w.court.key, `${url}/acceptance`, { decision: 'accepted', caseNumber: jcNumber('京0106') })
  t.equal(wrongCourt.statusCode, 400)
  t.match(wrongCourt.json().errors, [{ path: '/caseNumber', code: 'invalid_case_number' }])
  const missing = await post(h, w.court.key, `${url}/acceptance`, { decision: 'accepted' })
  t.equal(missing.statusCode, 400)
  t.match(missing.json().errors, [{ path: '/caseNumber', code: 'required' }])
  const futureDay = await post(h, w.court.key, `${url}/acceptance`, { decision: 'accepted', caseNumber: jcNumber(), acceptedOn: '2099-01-01' })
  t.equal(futureDay.json().code, 'date_in_future')
  const stale = await post(h, w.court.key, `${url}/acceptance`, { decision: 'accepted', caseNumber: jcNumber() }, { 'if-match': '"7"' })
  t.equal(stale.statusCode, 412)
  t.equal(stale.json().code, 'version_mismatch')

  const cn = jcNumber().replace('（', '(').replace('）', ')')
  const acc = await post(h, w.court.key, `${url}/acceptance`, { decision: 'accepted', caseNumber: cn }, { 'if-match': '"1"' })
  t.equal(acc.statusCode, 200, acc.body)
  const expectedDue = reviewDueOn(cal, shanghaiDate(new Date())).date
  t.match(acc.json(), { status: 'under_review', version: 2, reviewDueOn: expectedDue, overdue: false, caseNumber: cn.replace('(', '（').replace(')', '）') })
  t.equal(acc.headers.etag, '"2"')
  const again = await post(h, w.court.key, `${url}/acceptance`, { decision: 'not_accepted', reason: '重复' })
  t.equal(again.statusCode, 409)
  t.match(again.json(), { code: 'illegal_transition', currentStatus: 'under_review' })

  const ruleEarly = await post(h, w.court.key, `${url}/ruling`, { result: 'valid', rulingNumber: cn, ruledOn: '2026-01-01' })
  t.equal(ruleEarly.json().code, 'date_before_acceptance')
  const ruled = await post(h, w.court.key, `${url}/ruling`, { result: 'valid', rulingNumber: cn, ruledOn: shanghaiDate(new Date()) })
  t.equal(ruled.statusCode, 200, ruled.body)
  t.match(ruled.json(), { status: 'ruled_valid', version: 3, ruling: { result: 'valid', agreementSha256: agreed.sha, rulingNumber: cn } })
  const late = await post(h, w.platform.key, `${url}/withdrawal`, {})
  t.equal(late.statusCode, 409)
  t.match(late.json(), { code: 'illegal_transition', currentStatus: 'ruled_valid' })
  const second = await apply(linkedBody(agreed))
  t.equal(second.json().code, 'duplicate_application', 'a valid ruling closes the referral’s agreement to new applications')

  const events = await get(w.court.key, `${url}/events`)
  t.same(
    events.json().items.map((e: { type: string; sequence: number }) => [e.type, e.sequence]),
    [
      ['confirmation.applied', 1],
      ['confirmation.accepted', 2],
      ['confirmation.ruled', 3],
    ],
  )
  t.equal(events.json().items[2].data.confirmation.ruling.agreementSha256, agreed.sha, 'the ruling event shows the agreement hash')
  const page1 = await get(w.court.key, `${url}/events?limit=2`)
  t.equal(page1.json().items.length, 2)
  const page2 = await get(w.court.key, `${url}/events?limit=2&cursor=${page1.json().nextCursor}`)
  t.same(
    page2.json().items.map((e: { sequence: number }) => e.sequence),
    [3],
  )
  const rows = await h.deps.db.selectFrom('events').selectAll().where('subject_id', '=', id).orderBy('sequence').execute()
  t.match(verifyChain(rows.map((r) => ({ envelope: toEnvelope(r), prevHash: r.prev_hash, hash: r.hash }))), { valid: true, length: 3 })
  const head = await h.deps.db.selectFrom('judicial_confirmations').select('chain_head').where('id', '=', id).executeTakeFirstOrThrow()
  t.equal(head.chain_head, rows[2].hash)

  // Rejected ruling.
  const r2 = await accepted()
  const rejected = await post(h, w.court.key, `${BASE}/${r2.id}/ruling`, {
    result: 'rejected',
    rulingNumber: r2.caseNumber,
    ruledOn: shanghaiDate(new Date()),
    reason: '协议内容不明确（民诉法解释 358(5)）',
  })
  t.equal(rejected.statusCode, 200)
  t.match(rejected.json(), { status: 'ruled_rejected', ruling: { result: 'rejected', reason: /不明确/ } })
  t.equal((await apply(linkedBody(r2.agreed))).statusCode, 201, 'after a rejection the parties may apply again')

  // Not accepted.
  const r3 = await applied()
  const noReason = await post(h, w.court.key, `${BASE}/${r3.id}/acceptance`, { decision: 'not_accepted' })
  t.equal(noReason.statusCode, 400)
  const refused = await post(h, w.court.key, `${BASE}/${r3.id}/acceptance`, { decision: 'not_accepted', reason: '不属于本院管辖' })
  t.equal(refused.statusCode, 200)
  t.match(refused.json(), { status: 'not_accepted', notAccepted: { reason: '不属于本院管辖' }, reviewDueOn: null })
  const rulingOnRefused = await post(h, w.court.key, `${BASE}/${r3.id}/ruling`, { result: 'valid', rulingNumber: 'x', ruledOn: shanghaiDate(new Date()) })
  t.match(rulingOnRefused.json(), { code: 'illegal_transition', currentStatus: 'not_accepted' })

  // Withdrawal while under review, without a body at all; 民特 case numbers are accepted too.
  const r4 = await accepted({ caseNumber: jcNumber('京0105', '民特') })
  const wd = await h.call(w.platform.key, { method: 'POST', url: `${BASE}/${r4.id}/withdrawal`, headers: { 'idempotency-key': idemKey() } })
  t.equal(wd.statusCode, 200, wd.body)
  t.match(wd.json(), { status: 'withdrawn', withdrawal: { withdrawnAt: String } })
  t.equal((await post(h, w.otherPlatform.key, `${BASE}/${r4.id}/withdrawal`, {})).statusCode, 404, 'another region’s platform')
  const ruleWithdrawn = await post(h, w.court.key, `${BASE}/${r4.id}/ruling`, { result: 'valid', rulingNumber: 'x', ruledOn: shanghaiDate(new Date()) })
  t.match(ruleWithdrawn.json(), { code: 'illegal_transition', currentStatus: 'withdrawn' })
  const r5 = await applied()
  const rulingBeforeAcceptance = await post(h, w.court.key, `${BASE}/${r5.id}/ruling`, {
    result: 'valid',
    rulingNumber: 'x',
    ruledOn: shanghaiDate(new Date()),
  })
  t.match(rulingBeforeAcceptance.json(), { code: 'illegal_transition', currentStatus: 'applied' })
  t.equal((await post(h, w.platform.key, `${BASE}/${r5.id}/ruling`, { result: 'valid', rulingNumber: 'x', ruledOn: shanghaiDate(new Date()) })).statusCode, 403)
})

t.test('a review past reviewDueOn is overdue', async (t) => {
  const a = await agreedReferral({ signedAt: '2026-09-01T10:00:00+08:00' })
  const res = await apply(linkedBody(a, { appliedAt: '2026-09-10T10:00:00+08:00' }))
  t.equal(res.statusCode, 201, res.body)
  const id = res.json().id
  const tooEarly = await post(h, w.court.key, `${BASE}/${id}/acceptance`, { decision: 'accepted', caseNumber: jcNumber(), acceptedOn: '2026-09-09' })
  t.equal(tooEarly.statusCode, 422)
  t.equal(tooEarly.json().code, 'date_before_application')
  // Accepted on 10 Sep: day 30 is Saturday 10 Oct, a make-up working day, so the review is due that day.
  const acc = await post(h, w.court.key, `${BASE}/${id}/acceptance`, { decision: 'accepted', caseNumber: jcNumber(), acceptedOn: '2026-09-10' })
  t.equal(acc.statusCode, 200, acc.body)
  t.match(acc.json(), { reviewDueOn: '2026-10-10', overdue: true, acceptance: { acceptedOn: '2026-09-10' } })
  t.equal((await get(w.court.key, `${BASE}/${id}`)).json().overdue, true)
  const overdue = await get(w.court.key, `${BASE}?overdue=true`)
  t.ok(overdue.json().items.some((c: { id: string }) => c.id === id))
  t.ok(overdue.json().items.every((c: { overdue: boolean }) => c.overdue))
  const notOverdue = await get(w.court.key, `${BASE}?overdue=false&limit=200`)
  t.notOk(notOverdue.json().items.some((c: { id: string }) => c.id === id))
  t.ok(notOverdue.json().items.every((c: { overdue: boolean }) => !c.overdue))
})

t.test('standalone application (民事诉讼法 205(2))', async (t) => {
  const body = standaloneBody()
  const res = await apply(body)
  t.equal(res.statusCode, 201, res.body)
  const c = res.json()
  const sha = agreementSha256(body.agreement.terms)
  t.match(c, {
    status: 'applied',
    referralId: null,
    organizationId: 'bj-cy-blz',
    courtCode: '京0105',
    venue: { basis: 'organization_seat' },
    agreementSha256: sha,
    agreement: { sha256: sha, amount: '3000.00', form: 'written' },
    materials: [{ materialId: platformPdf }],
  })
  t.equal(c.agreement.effectiveAt, new Date(body.agreement.signatures[1].signedAt).toISOString(), 'effective at the last signature')
  t.equal(c.parties[0].idNumber, body.parties[0].idNumber, 'full data for the applying organization')
  t.equal(c.parties[1].name, '赵六·阿不都')
  const stored = await h.deps.db.selectFrom('judicial_confirmations').select('doc').where('id', '=', c.id).executeTakeFirstOrThrow()
  const raw = JSON.stringify(stored.doc)
  for (const plain of [body.parties[0].idNumber, body.parties[1].idNumber, '13912345678', '八里庄路'])
    t.notOk(raw.includes(plain), `${plain} is not stored in plain text`)
  t.equal((await get(w.court.key, `${BASE}/${c.id}`)).json().parties[0].phone, '13912345678', 'the court concerned sees it in full')
  const masked = await get(operator, `${BASE}/${c.id}`)
  t.equal(masked.json().parties[0].phone, '139****5678')
  t.same(scanForPersonalData(masked.body), [])
  t.equal((await get(w.otherCourt.key, `${BASE}/${c.id}`)).statusCode, 404)
  t.equal((await get(w.otherPlatform.key, `${BASE}/${c.id}`)).statusCode, 404)
  const search = await get(w.court.key, `/v1/referrals?partyIdNumber=${body.parties[0].idNumber}`)
  t.equal(search.statusCode, 200, 'the blind index of an application does not leak into referral search')
  t.same(search.json().items, [])

  // The referenced material becomes readable by the court concerned, and by nobody else new.
  t.equal((await get(w.court.key, `/v1/materials/${platformPdf}`)).statusCode, 200, 'the court reads the application’s material')
  t.equal((await get(w.otherCourt.key, `/v1/materials/${platformPdf}`)).statusCode, 404)
  for (const materialId of ['m-1', gdPdf, '0192f3a4-5b6c-7d8e-9f01-23456789abcd']) {
    const r = await apply(standaloneBody({ materials: [{ materialId }] }))
    t.equal(r.statusCode, 422, `material ${materialId}`)
    t.equal(r.json().code, 'unknown_material')
  }

  // The signed agreement file binds by its sha256 (在线调解规则 19) and becomes the application's material.
  const signedFile = await uploadPdf(w.platform.key)
  const withDoc = standaloneBody({ materials: [] })
  withDoc.agreement = { ...withDoc.agreement, documentMaterialId: signedFile } as typeof withDoc.agreement
  const docRes = await apply(withDoc)
  t.equal(docRes.statusCode, 201, docRes.body)
  const storedFile = await h.deps.db.selectFrom('materials').select('sha256').where('id', '=', signedFile).executeTakeFirstOrThrow()
  t.match(docRes.json().agreement, { documentMaterialId: signedFile, documentSha256: storedFile.sha256 })
  t.equal((await get(w.court.key, `/v1/materials/${signedFile}`)).statusCode, 200, 'the court reads the signed agreement file')
  for (const materialId of [gdPdf, '0192f3a4-5b6c-7d8e-9f01-23456789abcd']) {
    const bad = standaloneBody()
    bad.agreement = { ...bad.agreement, documentMaterialId: materialId } as typeof bad.agreement
    const r = await apply(bad)
    t.equal(r.statusCode, 422, `document ${materialId}`)
    t.match(r.json(), { code: 'unknown_material', errors: [{ path: '/agreement/documentMaterialId', code: 'unknown_material' }] })
  }

  const withSha = await apply(standaloneBody({ agreementSha256: 'f'.repeat(64) }))
  t.equal(withSha.json().code, 'agreement_mismatch', 'a given hash must match the terms')
  const b2 = standaloneBody()
  t.equal((await apply({ ...b2, agreementSha256: agreementSha256(b2.agreement.terms).toUpperCase() })).statusCode, 201, 'a matching hash is accepted')

  const missing = await apply({ courtCode: '京0105', applicants: [0, 1], appliedAt: new Date().toISOString(), materials: [] })
  t.equal(missing.statusCode, 400)
  t.same(
    missing
      .json()
      .errors.map((e: { path: string }) => e.path)
      .sort(),
    ['/agreement', '/organizationId', '/parties'],
  )

  const cases: Array<[string, Record<string, unknown>, number, string]> = [
    ['another district court', { courtCode: '京0106' }, 422, 'wrong_court'],
    ['an intermediate court', { courtCode: '京01' }, 422, 'wrong_court'],
    ['an intermediate court of another province', { courtCode: '粤07', venue: { basis: 'organization_seat', intermediate: true } }, 422, 'wrong_court'],
    ['venue.intermediate to a basic court', { venue: { basis: 'organization_seat', intermediate: true } }, 422, 'wrong_court'],
    ['venue.intermediate not a boolean', { courtCode: '京01', venue: { basis: 'organization_seat', intermediate: 'true' } }, 400, 'validation_failed'],
    ['a court elsewhere', { courtCode: '粤0604' }, 422, 'wrong_court'],
    ['party domicile without region', { venue: { basis: 'party_domicile' } }, 400, 'validation_failed'],
    ['organization seat with a region', { venue: { basis: 'organization_seat', regionCode: '110105' } }, 400, 'validation_failed'],
    ['party domicile elsewhere', { courtCode: '京0106', venue: { basis: 'party_domicile', regionCode: '110105' } }, 422, 'wrong_court'],
    ['an organization outside the scope', { organizationId: 'gd-fs-org', courtCode: '粤0604' }, 422, 'organization_out_of_scope'],
    ['an unknown organization', { organizationId: 'no-such-org' }, 422, 'organization_out_of_scope'],
    ['excluded subject', { subject: 'personal_status' }, 422, 'excluded_subject'],
    ['not joint', { applicants: [1] }, 422, 'joint_application_required'],
    ['applicant index out of range', { applicants: [0, 1, 2] }, 400, 'validation_failed'],
    ['one party only', { parties: [standaloneBody().parties[0]] }, 400, 'validation_failed'],
  ]
  for (const [why, over, status, code] of cases) {
    const r = await apply(standaloneBody(over))
    t.equal(r.statusCode, status, `${why}: ${r.body}`)
    t.equal(r.json().code, code, why)
  }
  // 205(2), last sentence: an intermediate court of the organization's province (京01 for a Chaoyang organization).
  const mid = await apply(standaloneBody({ courtCode: '京01', venue: { basis: 'organization_seat', intermediate: true } }))
  t.equal(mid.statusCode, 201, mid.body)
  t.same(mid.json().venue, { basis: 'organization_seat', intermediate: true })
  t.equal(mid.json().courtCode, '京01')
  const unsigned = standaloneBody()
  unsigned.agreement.signatures = [unsigned.agreement.signatures[0]]
  t.equal((await apply(unsigned)).json().code, 'signatures_incomplete')
  const oral = standaloneBody()
  const oralAgreement = { ...oral.agreement, form: 'oral' }
  const noReached = await apply({ ...oral, agreement: oralAgreement })
  t.equal(noReached.statusCode, 400, 'an oral agreement states when it was reached')
  t.match(noReached.json().errors, [{ path: '/agreement/reachedAt', code: 'required' }])
  const reachedAt = hourAgo()
  const oralOk = await apply({ ...oral, agreement: { ...oralAgreement, reachedAt } })
  t.equal(oralOk.statusCode, 201, oralOk.body)
  t.equal(oralOk.json().agreement.effectiveAt, new Date(reachedAt).toISOString(), 'effective when reached (人民调解法 30), no effectiveAt needed')
  const stale = standaloneBody({ appliedAt: '2026-10-09T09:00:00+08:00' })
  stale.agreement.signatures = stale.agreement.signatures.map((s) => ({ ...s, signedAt: '2026-09-01T10:00:00+08:00' }))
  stale.agreement.mediatorSignedAt = '2026-09-01T10:00:00+08:00'
  stale.agreement.sealedAt = '2026-09-01T10:00:00+08:00'
  t.equal((await apply(stale)).json().code, 'confirmation_deadline_passed')

  // Personal data written into the terms is masked for operators and in events, shown as signed to the parties' side.
  const withPhone = standaloneBody()
  withPhone.agreement.terms = `赵六向王五（电话 13912345678）支付 3000 元。第${++termSeq}份`
  const wp = await apply(withPhone)
  t.equal(wp.statusCode, 201)
  t.equal(wp.json().agreement.terms, withPhone.agreement.terms)
  t.equal(wp.json().agreementSha256, agreementSha256(withPhone.agreement.terms))
  t.match((await get(operator, `${BASE}/${wp.json().id}`)).json().agreement.terms, /电话 139\*\*\*\*5678/)
  t.same(scanForPersonalData((await get(w.platform.key, `${BASE}/${wp.json().id}/events`)).body), [])

  // Venue by party domicile or subject matter: the court's region covers the given region.
  const domicile = await apply(standaloneBody({ courtCode: '京0108', venue: { basis: 'party_domicile', regionCode: '110108' } }))
  t.equal(domicile.statusCode, 201, domicile.body)
  const subjectMatter = await apply(
    standaloneBody({ organizationId: 'bj-hd-org', courtCode: '京0105', venue: { basis: 'subject_matter', regionCode: '110105' } }),
  )
  t.equal(subjectMatter.statusCode, 201, subjectMatter.body)
  t.equal(subjectMatter.json().organizationId, 'bj-hd-org')
  const gd = await apply(standaloneBody({ organizationId: 'gd-fs-org', courtCode: '粤0604', materials: [{ materialId: gdPdf }] }), w.otherPlatform.key)
  t.equal(gd.statusCode, 201, 'the Guangdong platform applies for its organization')
  t.equal((await get(w.platform.key, `${BASE}/${gd.json().id}`)).statusCode, 404, 'and the Beijing platform does not see it')
  t.equal((await get(w.court.key, `${BASE}/${gd.json().id}`)).statusCode, 404)
  t.equal((await get(w.otherCourt.key, `${BASE}/${gd.json().id}`)).statusCode, 200)
})

t.test('lists, filters and the BOLA matrix', async (t) => {
  const mine = await accepted()
  const gd = await apply(standaloneBody({ organizationId: 'gd-fs-org', courtCode: '粤0604', materials: [{ materialId: gdPdf }] }), w.otherPlatform.key)
  const gdId = gd.json().id as string

  const courtList = await get(w.court.key, `${BASE}?limit=200`)
  t.equal(courtList.statusCode, 200)
  t.ok(courtList.json().items.length > 0)
  t.ok(
    courtList.json().items.every((c: { courtCode: string }) => c.courtCode === '京0105'),
    'a court sees its own court codes only',
  )
  t.notOk(courtList.json().items.some((c: { id: string }) => c.id === gdId))
  const gdCourtList = await get(w.otherCourt.key, `${BASE}?limit=200`)
  t.ok(gdCourtList.json().items.some((c: { id: string }) => c.id === gdId))
  t.ok(
    gdCourtList.json().items.every((c: { courtCode: string }) => c.courtCode === '粤0604'),
    'the other court sees only its applications',
  )
  const gdPlatformList = await get(w.otherPlatform.key, `${BASE}?limit=200`)
  t.ok(gdPlatformList.json().items.some((c: { id: string }) => c.id === gdId))
  t.ok(
    gdPlatformList.json().items.every((c: { organizationId: string }) => c.organizationId === 'gd-fs-org'),
    'the other platform sees only its organization’s',
  )
  const bjPlatformList = await get(w.platform.key, `${BASE}?limit=200`)
  t.notOk(bjPlatformList.json().items.some((c: { id: string }) => c.id === gdId))
  t.ok(bjPlatformList.json().items.some((c: { id: string }) => c.id === mine.id))
  const opList = await get(operator, `${BASE}?limit=200`)
  t.ok(opList.json().items.some((c: { id: string }) => c.id === gdId) && opList.json().items.some((c: { id: string }) => c.id === mine.id), 'operators see all')
  t.same(scanForPersonalData(opList.body), [], 'masked for operators')

  const byOrgId = await h.client('mediation', { organizationIds: ['bj-cy-blz'] })
  const tianjin = await h.client('mediation', { regionCodes: ['12'] })
  const district = await h.client('mediation', { regionCodes: ['110108'] })
  t.equal((await get(byOrgId.key, `${BASE}/${mine.id}`)).statusCode, 200, 'scope by organization id')
  t.equal((await get(tianjin.key, `${BASE}/${mine.id}`)).statusCode, 404, 'scope by another region')
  t.equal((await get(district.key, `${BASE}/${mine.id}`)).statusCode, 404, 'a neighbouring district')
  t.same((await get(tianjin.key, BASE)).json().items, [])

  const filtered = await get(w.court.key, `${BASE}?status=under_review&referralId=${mine.agreed.id}&courtCode=京0105&organizationId=bj-cy-blz`)
  t.same(
    filtered.json().items.map((c: { id: string }) => c.id),
    [mine.id],
  )
  t.same((await get(w.court.key, `${BASE}?status=withdrawn&referralId=${mine.agreed.id}`)).json().items, [])
  const p1 = await get(w.court.key, `${BASE}?limit=1`)
  t.equal(p1.json().items.length, 1)
  t.type(p1.json().nextCursor, 'string')
  const p2 = await get(w.court.key, `${BASE}?limit=1&cursor=${p1.json().nextCursor}`)
  t.not(p2.json().items[0].id, p1.json().items[0].id)
  for (const q of ['limit=0', 'limit=201', 'status=bogus', 'referralId=nope', 'colour=red', 'cursor=%%%', 'overdue=maybe']) {
    t.equal((await get(w.court.key, `${BASE}?${q}`)).statusCode, 400, q)
  }

  // Every route × a foreign court's or region's credentials → 404; a role that may never call it → 403.
  const id = mine.id
  const routes: Array<{ method: 'GET' | 'POST'; url: string; body?: unknown; roles: string[] }> = [
    { method: 'GET', url: `${BASE}/${id}`, roles: ['court', 'mediation', 'operator'] },
    { method: 'GET', url: `${BASE}/${id}/events`, roles: ['court', 'mediation', 'operator'] },
    { method: 'POST', url: `${BASE}/${id}/acceptance`, body: { decision: 'not_accepted', reason: 'x' }, roles: ['court'] },
    { method: 'POST', url: `${BASE}/${id}/ruling`, body: { result: 'valid', rulingNumber: 'x', ruledOn: shanghaiDate(new Date()) }, roles: ['court'] },
    { method: 'POST', url: `${BASE}/${id}/withdrawal`, body: {}, roles: ['mediation'] },
  ]
  const callers = [
    { name: 'another court', role: 'court', key: w.otherCourt.key },
    { name: 'another region’s platform', role: 'mediation', key: w.otherPlatform.key },
    { name: 'operator', role: 'operator', key: operator },
  ]
  for (const r of routes) {
    for (const c of callers) {
      const res = r.method === 'GET' ? await get(c.key, r.url) : await post(h, c.key, r.url, r.body)
      const want = !r.roles.includes(c.role) ? 403 : c.role === 'operator' ? 200 : 404
      t.equal(res.statusCode, want, `${r.method} ${r.url.replace(id, '{id}')} by ${c.name}`)
      if (want === 404) t.notOk(res.body.includes('京0105'), 'no foreign field in the answer')
    }
    const anon =
      r.method === 'GET'
        ? await h.call(null, { method: 'GET', url: r.url })
        : await h.call(null, { method: 'POST', url: r.url, payload: r.body as object, headers: { 'idempotency-key': idemKey() } })
    t.equal(anon.statusCode, 401)
  }
  t.equal((await get(w.court.key, `${BASE}/${id}`)).json().status, 'under_review', 'nothing changed')
  t.equal((await get(w.court.key, `${BASE}/not-a-uuid`)).statusCode, 404)
  t.equal((await get(w.court.key, `${BASE}/0192f3a4-5b6c-7d8e-9f01-23456789abcd/events`)).statusCode, 404)
})

t.test('concurrency and idempotency', async (t) => {
  const { id } = await applied()
  const [a, b] = await Promise.all([
    post(h, w.court.key, `${BASE}/${id}/acceptance`, { decision: 'accepted', caseNumber: jcNumber() }),
    post(h, w.court.key, `${BASE}/${id}/acceptance`, { decision: 'accepted', caseNumber: jcNumber() }),
  ])
  t.same([a.statusCode, b.statusCode].sort(), [200, 409], 'one acceptance wins')
  const loser = a.statusCode === 409 ? a : b
  t.match(loser.json(), { code: 'illegal_transition', currentStatus: 'under_review' })
  const events = await get(w.court.key, `${BASE}/${id}/events`)
  t.equal(events.json().items.length, 2, 'one event per transition')

  // Twenty identical applications in parallel (one key) make one application.
  const agreed = await agreedReferral()
  const key = idemKey()
  const body = linkedBody(agreed)
  const results = await Promise.all(
    Array.from({ length: 20 }, () => h.call(w.platform.key, { method: 'POST', url: BASE, payload: body, headers: { 'idempotency-key': key } })),
  )
  t.ok(
    results.every((r) => r.statusCode === 201 || (r.statusCode === 409 && r.json().code === 'idempotency_key_in_use')),
    'no 5xx, no other error',
  )
  t.ok(results.some((r) => r.statusCode === 201))
  const rows = await h.deps.db.selectFrom('judicial_confirmations').select('id').where('referral_id', '=', agreed.id).execute()
  t.equal(rows.length, 1)

  // Two different applications for one referral race: the unique index lets one through.
  const agreed2 = await agreedReferral()
  const race = await Promise.all([apply(linkedBody(agreed2)), apply(linkedBody(agreed2))])
  t.same(race.map((r) => r.statusCode).sort(), [201, 409])
  t.equal(race.find((r) => r.statusCode === 409)?.json().code, 'duplicate_application')
})

t.test('no personal data in logs or event payloads', async (t) => {
  const rows = await sql<{ data: unknown }>`SELECT data FROM events WHERE subject_kind = 'judicial_confirmation'`.execute(h.deps.db)
  t.ok(rows.rows.length > 10)
  t.same(scanForPersonalData(JSON.stringify(rows.rows)), [], 'events')
  t.same(scanForPersonalData(h.logs.lines.join('\n')), [], 'logs')
})

t.test('integrity of the application’s hash chain', async (t) => {
  const agreed = await agreedReferral()
  const res = await apply(linkedBody(agreed))
  t.equal(res.statusCode, 201)
  const id = res.json().id as string
  const ok = await get(w.court.key, `${BASE}/${id}/integrity`)
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { valid: true, length: 1, head: /^[0-9a-f]{64}$/ })
  t.equal((await get(w.otherCourt.key, `${BASE}/${id}/integrity`)).statusCode, 404, 'foreign court')
  const su = await h.deps.pool.connect()
  try {
    await su.query('SET session_replication_role = replica')
    await su.query(`UPDATE events SET type = 'confirmation.tampered' WHERE subject_id = $1 AND sequence = 1`, [id])
    await su.query('SET session_replication_role = DEFAULT')
  } finally {
    su.release()
  }
  t.same((await get(w.court.key, `${BASE}/${id}/integrity`)).json(), { valid: false, brokenAtSequence: 1 })
})

// ---------------------------------------------------------------------------------------------
// The whole procedure (contract §3 v1.1)

const todayOn = () => shanghaiDate(new Date())
const codeOf = async (res: Promise<{ statusCode: number; json(): { code?: string } }>) => {
  const r = await res
  return [r.statusCode, r.json().code]
}

t.test('review-extension (民事诉讼法 187) and the day-15 target', async (t) => {
  const { id } = await accepted()
  const url = `${BASE}/${id}`
  const view = (await get(w.court.key, url)).json()
  t.equal(view.reviewTargetOn, cal.addDaysRolled(todayOn(), 15).date, 'reviewTargetOn: acceptance + 15 days, rolled')
  t.match(view, { requestedMaterials: null, objectionDueOn: null, reviewExtensions: [], materialRequests: [], objections: [], deemedWithdrawal: null })
  const due = view.reviewDueOn as string
  const body = { newDueOn: addCalendarDays(due, 17), reason: '案情复杂，经院长批准延长' }
  t.same(await codeOf(post(h, w.platform.key, `${url}/review-extension`, body)), [403, 'forbidden'], 'mediation')
  t.same(await codeOf(post(h, operator, `${url}/review-extension`, body)), [403, 'forbidden'], 'operator')
  t.same(await codeOf(post(h, w.otherCourt.key, `${url}/review-extension`, body)), [404, 'not_found'], 'another court')
  t.same(await codeOf(post(h, w.court.key, `${url}/review-extension`, { ...body, newDueOn: due })), [422, 'due_date_not_later'])
  t.same(await codeOf(post(h, w.court.key, `${url}/review-extension`, { newDueOn: body.newDueOn })), [400, 'validation_failed'], 'no reason')
  t.same(await codeOf(post(h, w.court.key, `${url}/review-extension`, { ...body, newDueOn: '2026-02-30' })), [400, 'validation_failed'], 'not a date')
  const ok = await post(h, w.court.key, `${url}/review-extension`, body)
  t.equal(ok.statusCode, 200, ok.body)
  t.match(ok.json(), { status: 'under_review', version: 3, reviewDueOn: cal.rollForward(body.newDueOn).date })
  t.match(ok.json().reviewExtensions, [{ previousDueOn: due, newDueOn: cal.rollForward(body.newDueOn).date, reason: body.reason }])
  const app = await applied()
  const early = await post(h, w.court.key, `${BASE}/${app.id}/review-extension`, body)
  t.equal(early.statusCode, 409)
  t.match(early.json(), { code: 'illegal_transition', currentStatus: 'applied' })
  const events = (await get(w.court.key, `${url}/events`)).json().items
  t.equal(events.at(-1).type, 'confirmation.review_extended')
  t.equal(events.at(-1).data.confirmation.reviewDueOn, ok.json().reviewDueOn)
})

t.test('material-request and material-supplement (民诉法解释 354), and the deemed-withdrawal sweep (357)', async (t) => {
  const { id, agreed } = await accepted()
  const url = `${BASE}/${id}`
  const dueOn = addCalendarDays(todayOn(), 5)
  const req = { items: ['调解组织主持调解的证明'], dueOn }
  t.same(await codeOf(post(h, w.platform.key, `${url}/material-request`, req)), [403, 'forbidden'], 'mediation orders')
  t.same(await codeOf(post(h, operator, `${url}/material-request`, req)), [403, 'forbidden'], 'operator orders')
  t.same(await codeOf(post(h, w.court.key, `${url}/material-request`, { ...req, dueOn: todayOn() })), [422, 'date_not_in_future'])
  t.same(await codeOf(post(h, w.court.key, `${url}/material-request`, { ...req, items: [] })), [400, 'validation_failed'], 'no items')
  const app = await applied()
  t.same(await codeOf(post(h, w.court.key, `${BASE}/${app.id}/material-request`, req)), [409, 'illegal_transition'], 'before acceptance')
  const sup = { materials: [{ materialId: platformPdf }], note: '已补充' }
  t.same(await codeOf(post(h, w.platform.key, `${url}/material-supplement`, sup)), [409, 'illegal_transition'], 'nothing ordered')

  const r = await post(h, w.court.key, `${url}/material-request`, req)
  t.equal(r.statusCode, 200, r.body)
  t.match(r.json(), { status: 'materials_requested', requestedMaterials: { items: req.items, dueOn } })
  t.same(await codeOf(post(h, w.court.key, `${url}/material-request`, req)), [409, 'illegal_transition'], 'ordered twice')
  t.same(await codeOf(apply(linkedBody(agreed))), [409, 'duplicate_application'], 'still live')
  t.same(await codeOf(post(h, w.court.key, `${url}/material-supplement`, sup)), [403, 'forbidden'], 'a court supplies')
  t.same(await codeOf(post(h, operator, `${url}/material-supplement`, sup)), [403, 'forbidden'], 'operator supplies')
  t.same(await codeOf(post(h, w.otherPlatform.key, `${url}/material-supplement`, sup)), [404, 'not_found'], 'another platform')
  t.same(await codeOf(post(h, w.platform.key, `${url}/material-supplement`, { materials: [] })), [400, 'validation_failed'], 'nothing supplied')
  t.same(await codeOf(post(h, w.platform.key, `${url}/material-supplement`, { materials: [{ materialId: gdPdf }] })), [422, 'unknown_material'])
  const s1 = await post(h, w.platform.key, `${url}/material-supplement`, sup)
  t.equal(s1.statusCode, 200, s1.body)
  t.match(s1.json(), {
    status: 'under_review',
    requestedMaterials: null,
    materialRequests: [{ dueOn, supplied: { materials: [{ materialId: platformPdf }] } }],
  })
  t.ok(s1.json().materials.some((m: { materialId: string }) => m.materialId === platformPdf))
  t.equal((await get(w.court.key, `/v1/materials/${platformPdf}`)).statusCode, 200, 'the court reads the supplied material')

  // Ordered again and not supplied: the sweep, run as of the day after dueOn, deems it withdrawn.
  await post(h, w.court.key, `${url}/material-request`, req)
  t.equal(await sweepSupplementOverdue(h.deps.db, dueOn), 0, 'not on the due day')
  t.equal(await sweepSupplementOverdue(h.deps.db, addCalendarDays(dueOn, 1)), 1)
  const gone = (await get(w.platform.key, url)).json()
  t.match(gone, { status: 'deemed_withdrawn', deemedWithdrawal: { dueOn } })
  const events = (await get(w.platform.key, `${url}/events`)).json().items
  t.same(
    events.map((e: { type: string }) => e.type),
    [
      'confirmation.applied',
      'confirmation.accepted',
      'confirmation.materials_requested',
      'confirmation.materials_supplemented',
      'confirmation.materials_requested',
      'confirmation.deemed_withdrawn',
    ],
  )
  t.equal(events.at(-1).actor, 'system')
  const late = await post(h, w.platform.key, `${url}/material-supplement`, sup)
  t.equal(late.statusCode, 409)
  t.match(late.json(), { code: 'illegal_transition', currentStatus: 'deemed_withdrawn' })
  t.equal((await apply(linkedBody(agreed))).statusCode, 201, 'after a deemed withdrawal the parties may apply again')
})

t.test('objection (民诉法解释 372) and objection-ruling', async (t) => {
  const { id, caseNumber: cn } = await accepted()
  const url = `${BASE}/${id}`
  const courtPdf = await uploadPdf(w.court.key)
  const obj = { by: 'party', partyIndex: 0, filedOn: todayOn(), grounds: '调解协议违反法律强制性规定' }
  t.same(await codeOf(post(h, w.court.key, `${url}/objection`, obj)), [409, 'illegal_transition'], 'before a ruling')
  const ruled = await post(h, w.court.key, `${url}/ruling`, { result: 'valid', rulingNumber: cn, ruledOn: todayOn(), documentMaterialId: courtPdf })
  t.equal(ruled.statusCode, 200, ruled.body)
  t.match(ruled.json(), {
    status: 'ruled_valid',
    objectionDueOn: cal.addDaysRolled(todayOn(), 15).date,
    ruling: { servedOn: todayOn(), documentMaterialId: courtPdf },
  })
  t.equal((await get(w.platform.key, `/v1/materials/${courtPdf}`)).statusCode, 200, 'the parties’ platform reads the ruling document')
  t.same(await codeOf(post(h, w.platform.key, `${url}/objection`, obj)), [403, 'forbidden'], 'mediation')
  t.same(await codeOf(post(h, operator, `${url}/objection`, obj)), [403, 'forbidden'], 'operator')
  t.same(await codeOf(post(h, w.court.key, `${url}/objection`, { ...obj, partyIndex: undefined })), [400, 'validation_failed'], 'no partyIndex')
  t.same(await codeOf(post(h, w.court.key, `${url}/objection`, { ...obj, by: 'someone' })), [400, 'validation_failed'], 'unknown by')
  t.same(
    await codeOf(
      post(h, w.court.key, `${url}/objection`, {
        by: 'interested_person',
        filedOn: todayOn(),
        knewOn: addCalendarDays(todayOn(), -300),
        grounds: '损害案外人权益',
      }),
    ),
    [422, 'objection_deadline_passed'],
    'an interested person after 6 months',
  )
  const filed = await post(h, w.court.key, `${url}/objection`, obj)
  t.equal(filed.statusCode, 200, filed.body)
  t.match(filed.json(), { status: 'objection_filed', objections: [{ by: 'party', partyIndex: 0, dueOn: ruled.json().objectionDueOn }] })
  const decision = { result: 'dismissed', ruledOn: todayOn(), rulingNumber: `${cn}-异` }
  t.same(await codeOf(post(h, w.platform.key, `${url}/objection-ruling`, decision)), [403, 'forbidden'], 'mediation rules')
  t.same(await codeOf(post(h, w.court.key, `${url}/objection-ruling`, { ...decision, result: 'upheld' })), [400, 'validation_failed'])
  const back = await post(h, w.court.key, `${url}/objection-ruling`, decision)
  t.equal(back.statusCode, 200, back.body)
  t.match(back.json(), { status: 'ruled_valid', objections: [{ ruling: { result: 'dismissed' } }] })
  const again = await post(h, w.court.key, `${url}/objection-ruling`, decision)
  t.match(again.json(), { code: 'illegal_transition', currentStatus: 'ruled_valid' })
  await post(h, w.court.key, `${url}/objection`, { by: 'interested_person', filedOn: todayOn(), knewOn: todayOn(), grounds: '损害案外人权益' })
  const revoked = await post(h, w.court.key, `${url}/objection-ruling`, { ...decision, result: 'revoked' })
  t.equal(revoked.statusCode, 200, revoked.body)
  t.match(revoked.json(), { status: 'ruling_revoked' })
  const types = (await get(w.court.key, `${url}/events`)).json().items.map((e: { type: string }) => e.type)
  t.same(types.slice(-4), ['confirmation.objection_filed', 'confirmation.objection_ruled', 'confirmation.objection_filed', 'confirmation.objection_ruled'])
  t.equal((await get(w.court.key, `${BASE}?status=ruling_revoked`)).statusCode, 200, 'the new states filter lists')
})

t.test('caseNumber: an exact 案号 filter, half-width brackets read as full-width', async (t) => {
  const a = await accepted()
  const other = await accepted()
  const halfWidth = a.caseNumber.replace('（', '(').replace('）', ')')
  for (const [key, who] of [
    [w.court.key, 'court'],
    [h.operatorKey, 'operator'],
  ] as const) {
    for (const q of [a.caseNumber, halfWidth, ` ${a.caseNumber} `]) {
      const res = await get(key, `${BASE}?caseNumber=${encodeURIComponent(q)}`)
      t.equal(res.statusCode, 200, res.body)
      t.same(
        res.json().items.map((c: { id: string }) => c.id),
        [a.id],
        `${who}: ${q}`,
      )
    }
  }
  t.not(other.caseNumber, a.caseNumber)
  t.same((await get(h.operatorKey, `${BASE}?caseNumber=${encodeURIComponent(`${a.caseNumber}0`)}`)).json().items, [], 'no prefix match')
  t.same((await get(w.otherCourt.key, `${BASE}?caseNumber=${encodeURIComponent(a.caseNumber)}`)).json().items, [], 'outside the caller’s scope')
})
