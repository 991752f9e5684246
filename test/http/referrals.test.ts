import t from 'tap'
import { sql } from 'kysely'
import { expireIfDue, sweepOverdue } from '../../src/cases/referrals/referral-timers.js'
import { addCalendarDays, shanghaiDate } from '../../src/domain/calendar.js'
import { scanForPersonalData } from '../../src/domain/personal-data.js'
import { caseNumber, grantSpecialRoster, organizationBody, post, referralBody, residentId, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'

const h = await startHarness()
t.teardown(() => h.close())
const w = await standardWorld(h)

const get = (key: string, url: string) => h.call(key, { method: 'GET', url })
const now = () => new Date().toISOString()

async function refer(over: Record<string, unknown> = {}) {
  const res = await post(h, w.court.key, '/v1/referrals', referralBody(over))
  if (res.statusCode !== 201) throw new Error(`refer: ${res.statusCode} ${res.body}`)
  return res.json()
}
const act = (key: string, id: string, action: string, body: unknown, headers: Record<string, string> = {}) =>
  post(h, key, `/v1/referrals/${id}/${action}`, body, headers)
const accept = (id: string) => act(w.platform.key, id, 'acceptance', { decision: 'accepted', mediator: { name: '王调解', id: 'M-1' }, acceptedAt: now() })

t.test('create: the referral as the contract shapes it', async (t) => {
  const body = referralBody({ caseNumber: caseNumber().replace('（', '(').replace('）', ')') })
  const res = await post(h, w.court.key, '/v1/referrals', body)
  t.equal(res.statusCode, 201)
  const r = res.json()
  t.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'UUIDv7')
  t.equal(r.version, 1)
  t.equal(r.status, 'referred')
  t.equal(r.caseNumber, body.caseNumber.replace('(', '（').replace(')', '）'), 'stored with full-width brackets')
  t.equal(r.organizationId, 'bj-cy-blz')
  t.equal(r.parties[0].idNumber, body.parties[0].idNumber, 'the referring court sees full ID numbers')
  t.equal(r.parties[0].phone, '13800138000')
  t.match(r.deadlines, { acceptanceDueOn: /^\d{4}-\d{2}-\d{2}$/, mediationDueOn: null, provisional: Boolean })
  t.equal(res.headers.etag, '"1"')
  t.ok(r.createdAt && r.updatedAt)

  const again = await get(w.court.key, `/v1/referrals/${r.id}`)
  t.equal(again.statusCode, 200)
  t.equal(again.headers.etag, '"1"')
  t.same(again.json(), r, 'GET returns what POST answered')
})

t.test('create: identifiers are validated and name themselves', async (t) => {
  const bad = referralBody()
  bad.parties[0].idNumber = '110105198001010011'
  const r1 = await post(h, w.court.key, '/v1/referrals', bad)
  t.equal(r1.statusCode, 400)
  t.same(
    r1.json().errors.map((e: { path: string; code: string }) => [e.path, e.code]),
    [['/parties/0/idNumber', 'invalid_id_number']],
  )

  // The digits go over the wire as a JSON number (as a careless client would send them), not through a JS number.
  const asNumber = JSON.stringify(referralBody()).replace(/"idNumber":"(\d{18})"/, '"idNumber":$1')
  const r2 = await h.call(w.court.key, {
    method: 'POST',
    url: '/v1/referrals',
    headers: { 'idempotency-key': idemKey(), 'content-type': 'application/json' },
    payload: asNumber,
  })
  t.equal(r2.statusCode, 400, 'an ID number sent as a JSON number is refused, not coerced')
  t.equal(r2.json().errors[0].path, '/parties/0/idNumber')

  const cn = await post(h, w.court.key, '/v1/referrals', referralBody({ caseNumber: caseNumber('京0105', '民初') }))
  t.equal(cn.statusCode, 400)
  t.equal(cn.json().errors[0].code, 'invalid_case_number', '民初 is not a pre-filing type')
  const court = await post(h, w.court.key, '/v1/referrals', referralBody({ caseNumber: caseNumber('京0106') }))
  t.equal(court.json().errors[0].code, 'invalid_case_number', 'the court part must equal courtCode')
  const old = await post(h, w.court.key, '/v1/referrals', referralBody({ caseNumber: '（2015）京0105民诉前调1号' }))
  t.equal(old.json().errors[0].code, 'invalid_case_number')

  const org = referralBody()
  org.parties[1] = { role: 'respondent', kind: 'legal_person', name: '某公司', idType: 'uscc', idNumber: '91110105MA01B2C34A' } as never
  const r3 = await post(h, w.court.key, '/v1/referrals', org)
  t.equal(r3.json().errors[0].code, 'invalid_uscc')
  org.parties[1] = { role: 'respondent', kind: 'legal_person', name: '某公司', idType: 'uscc', idNumber: '91110105MA01B2C34Q' } as never
  t.equal((await post(h, w.court.key, '/v1/referrals', org)).statusCode, 201, 'a valid USCC passes')

  const lit = await post(h, w.court.key, '/v1/referrals', referralBody({ referralType: 'in_litigation', caseNumber: caseNumber('京0105', '民初') }))
  t.equal(lit.statusCode, 400)
  t.same(
    lit.json().errors.map((e: { path: string }) => e.path),
    ['/procedure'],
  )

  const several = referralBody({ disputeType: 'gossip', claimSummary: '' })
  several.parties[0].idNumber = '123'
  const r4 = await post(h, w.court.key, '/v1/referrals', several)
  t.same(
    r4
      .json()
      .errors.map((e: { path: string }) => e.path)
      .sort(),
    ['/claimSummary', '/disputeType', '/parties/0/idNumber'],
    'every offending path',
  )

  const one = referralBody()
  one.parties = [one.parties[0]]
  t.equal((await post(h, w.court.key, '/v1/referrals', one)).statusCode, 400, 'two parties at least')
  const roles = referralBody()
  roles.parties[1].role = 'applicant'
  const r5 = await post(h, w.court.key, '/v1/referrals', roles)
  t.equal(r5.statusCode, 400, 'a respondent is required')
  const many = referralBody()
  many.parties = Array.from({ length: 10000 }, () => ({ role: 'applicant' })) as never
  const tooMany = await post(h, w.court.key, '/v1/referrals', many)
  t.equal(tooMany.statusCode, 400, '10,000 parties are refused')
  t.ok(tooMany.json().errors.length <= 100, 'the error list is bounded')
  const mass = await post(h, w.court.key, '/v1/referrals', { ...referralBody(), status: 'closed', version: 9, organizationId: 'x' })
  t.equal(mass.statusCode, 400, 'status, version and organizationId cannot be set')
})

t.test('create: business rules', async (t) => {
  const consent = referralBody()
  consent.consent = [consent.consent[0]]
  const r1 = await post(h, w.court.key, '/v1/referrals', consent)
  t.equal(r1.statusCode, 422)
  t.equal(r1.json().code, 'consent_required')

  const foreign = await post(h, w.court.key, '/v1/referrals', referralBody({ courtCode: '京0106', caseNumber: caseNumber('京0106') }))
  t.equal(foreign.statusCode, 422)
  t.equal(foreign.json().code, 'court_code_not_allowed')

  await h.call(w.platform.key, {
    method: 'PUT',
    url: '/v1/organizations/bj-not-ministry',
    payload: organizationBody({ rosters: { ministry: false } }),
  })
  await h.call(w.platform.key, { method: 'PUT', url: '/v1/organizations/bj-inactive', payload: organizationBody({ active: false }) })
  await grantSpecialRoster(h, 'bj-inactive', ['京0105'], w.court.key)
  await h.call(w.platform.key, {
    method: 'PUT',
    url: '/v1/organizations/bj-high-roster',
    payload: organizationBody({ rosters: { ministry: false } }),
  })
  await grantSpecialRoster(h, 'bj-high-roster', ['京'])
  await h.call(w.platform.key, {
    method: 'PUT',
    url: '/v1/organizations/bj-other-court',
    payload: organizationBody(),
  })
  await grantSpecialRoster(h, 'bj-other-court', ['京0106'])
  const cases: Array<[string, string, number, string?]> = [
    ['party_selected', 'bj-not-ministry', 422, 'not_on_roster'],
    ['court_designated', 'bj-other-court', 422, 'not_on_roster'],
    ['party_selected', 'bj-other-court', 201],
    ['court_designated', 'bj-inactive', 422, 'organization_inactive'],
    ['court_designated', 'bj-unknown', 422, 'not_on_roster'],
    ['court_designated', 'bj-high-roster', 201],
  ]
  for (const [mode, organizationId, status, code] of cases) {
    const res = await post(h, w.court.key, '/v1/referrals', referralBody({ designation: { mode, organizationId } }))
    t.equal(res.statusCode, status, `${mode} → ${organizationId}`)
    if (code) t.equal(res.json().code, code)
  }

  const body = referralBody()
  t.equal((await post(h, w.court.key, '/v1/referrals', body)).statusCode, 201)
  const dup = await post(h, w.court.key, '/v1/referrals', { ...body, caseNumber: body.caseNumber })
  t.equal(dup.statusCode, 409)
  t.equal(dup.json().code, 'duplicate_referral')
})

t.test('the pre-filing life: accept, suspend, resume, extend, agree, close, performance', async (t) => {
  const r = await refer()
  const acc = await accept(r.id)
  t.equal(acc.statusCode, 200)
  let cur = acc.json()
  t.equal(cur.status, 'mediating')
  t.equal(cur.version, 2)
  t.equal(cur.mediator.name, '王调解')
  t.ok(cur.deadlines.mediationDueOn >= addCalendarDays(shanghaiDate(new Date()), 30), '30 days for pre-filing, rolled forward')

  const sus = await act(w.platform.key, r.id, 'suspension', { reason: 'appraisal', note: '鉴定' })
  t.equal(sus.json().status, 'suspended')
  const res = await act(w.platform.key, r.id, 'resumption', {})
  t.equal(res.json().status, 'mediating')
  t.equal(res.json().deadlines.mediationDueOn, cur.deadlines.mediationDueOn, 'same-day resumption moves nothing')

  const later = addCalendarDays(cur.deadlines.mediationDueOn, 10)
  const partial = await act(w.platform.key, r.id, 'extension', { newDueOn: later, consent: [{ partyIndex: 0, consentedAt: now(), method: 'written' }] })
  t.equal(partial.statusCode, 422)
  t.equal(partial.json().code, 'consent_required')
  const earlier = await act(w.platform.key, r.id, 'extension', {
    newDueOn: addCalendarDays(cur.deadlines.mediationDueOn, -1),
    consent: [0, 1].map((i) => ({ partyIndex: i, consentedAt: now(), method: 'written' })),
  })
  t.equal(earlier.statusCode, 422)
  const ext = await act(w.platform.key, r.id, 'extension', {
    newDueOn: later,
    consent: [0, 1].map((i) => ({ partyIndex: i, consentedAt: now(), method: 'written' })),
  })
  t.equal(ext.statusCode, 200)
  // A newDueOn that is a rest day rolls forward to the next working day (contract §2 extension).
  t.equal(ext.json().deadlines.mediationDueOn, (await h.deps.calendar.get()).rollForward(later).date)

  const unsigned = await act(w.platform.key, r.id, 'agreement', {
    form: 'written',
    terms: '李四赔偿张三 5000 元',
    signatures: [{ partyIndex: 0, signedAt: now() }],
    performance: { method: 'immediate' },
  })
  t.equal(unsigned.statusCode, 422)
  t.equal(unsigned.json().code, 'signatures_incomplete')
  const t1 = new Date(Date.now() - 60_000).toISOString()
  const t2 = new Date(Date.now() - 30_000).toISOString()
  const agr = await act(w.platform.key, r.id, 'agreement', {
    form: 'written',
    terms: '李四赔偿张三 5000 元',
    amount: '5000.00',
    signatures: [
      { partyIndex: 0, signedAt: t1 },
      { partyIndex: 1, signedAt: t2 },
    ],
    mediatorSignedAt: t1,
    sealedAt: t1,
    performance: { method: 'immediate' },
  })
  t.equal(agr.statusCode, 200)
  cur = agr.json()
  t.equal(cur.status, 'agreed')
  t.equal(cur.agreement.effectiveAt, t2, 'effective at the last signature')
  t.equal(cur.agreement.sha256, '8ef0c46fa4e0ac5bf1d4ab1a3fb6d8a5d19e00d14d97e57df31d8a0a9e0b1f0d'.length === 64 ? cur.agreement.sha256 : '', 'sha256 present')
  const { createHash } = await import('node:crypto')
  t.equal(cur.agreement.sha256, createHash('sha256').update('李四赔偿张三 5000 元', 'utf8').digest('hex'))

  const wrongDisposition = await act(w.court.key, r.id, 'closure', { disposition: 'mediation_document_issued' })
  t.equal(wrongDisposition.statusCode, 409, 'a 调解书 does not close a pre-filing referral')
  const perf0 = await act(w.platform.key, r.id, 'performance', { status: 'partially_performed', reportedOn: shanghaiDate(new Date()) })
  t.equal(perf0.statusCode, 200)
  t.equal(perf0.json().status, 'agreed', 'performance does not change the state')
  const close = await act(w.court.key, r.id, 'closure', { disposition: 'agreement_filed' })
  t.equal(close.statusCode, 200)
  t.equal(close.json().status, 'closed')
  const perf = await act(w.platform.key, r.id, 'performance', { status: 'performed', reportedOn: shanghaiDate(new Date()) })
  t.equal(perf.json().performance.status, 'performed', 'latest wins')

  const events = (await get(w.court.key, `/v1/referrals/${r.id}/events`)).json().items
  t.same(
    events.map((e: { type: string }) => e.type),
    [
      'referral.created',
      'referral.accepted',
      'referral.suspended',
      'referral.resumed',
      'referral.extended',
      'referral.agreement_recorded',
      'referral.performance_reported',
      'referral.closed',
      'referral.performance_reported',
    ],
  )
  t.same(
    events.map((e: { sequence: number }) => e.sequence),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
    'gap-free sequence',
  )
  t.same(
    events.map((e: { caseVersion: number }) => e.caseVersion),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  )
  t.equal(perf.json().version, 9)
})

t.test('failure paths: terminate, return materials, register the case / resume the trial', async (t) => {
  const r = await refer()
  await accept(r.id)
  const unconfirmed = await act(w.platform.key, r.id, 'termination', {
    reason: 'gap_too_large',
    report: '差距过大',
    undisputedFacts: [{ statement: '双方确认漏水事实', confirmedBy: [0] }],
  })
  t.equal(unconfirmed.statusCode, 422)
  const term = await act(w.platform.key, r.id, 'termination', {
    reason: 'gap_too_large',
    report: '差距过大',
    undisputedFacts: [{ statement: '双方确认漏水事实', confirmedBy: [0, 1] }],
  })
  t.equal(term.json().status, 'terminated')
  const noReport = await act(w.platform.key, r.id, 'material-return', { materials: [], returnedAt: now() })
  t.equal(noReport.statusCode, 400, 'the written report is required')
  t.equal(noReport.json().errors[0].path, '/report')
  const ret = await act(w.platform.key, r.id, 'material-return', { materials: [], report: '调解终结报告', returnedAt: now() })
  t.equal(ret.json().status, 'materials_returned')
  const resumed = await act(w.court.key, r.id, 'court-filing', { action: 'trial_resumed', resumedOn: shanghaiDate(new Date()) })
  t.equal(resumed.statusCode, 409, 'a pre-filing referral cannot resume a trial')
  t.equal(resumed.json().currentStatus, 'materials_returned')
  const wrongType = await act(w.court.key, r.id, 'court-filing', {
    action: 'case_registered',
    caseNumber: caseNumber('京0105', '民诉前调'),
    filedOn: shanghaiDate(new Date()),
  })
  t.equal(wrongType.statusCode, 400)
  const reg = await act(w.court.key, r.id, 'court-filing', {
    action: 'case_registered',
    caseNumber: caseNumber('京0105', '民初'),
    filedOn: shanghaiDate(new Date()),
  })
  t.equal(reg.statusCode, 200)
  t.equal(reg.json().status, 'case_registered')
  const again = await post(h, w.court.key, '/v1/referrals', referralBody({ caseNumber: r.caseNumber }))
  t.equal(again.statusCode, 201, 'a finished referral no longer blocks its 案号')

  const lit = await refer({ referralType: 'in_litigation', procedure: 'summary', caseNumber: caseNumber('京0105', '民初') })
  const la = await accept(lit.id)
  t.equal(la.json().deadlines.mediationDueOn >= addCalendarDays(shanghaiDate(new Date()), 7), true, '7 days for summary procedure')
  await act(w.platform.key, lit.id, 'suspension', { reason: 'suspected_false_mediation' })
  const lt = await act(w.platform.key, lit.id, 'termination', { reason: 'party_refused', report: '一方拒绝继续调解' })
  t.equal(lt.json().status, 'terminated', 'a suspended case can be terminated')
  await act(w.platform.key, lit.id, 'material-return', { materials: [], report: '报告', returnedAt: now() })
  const reg2 = await act(w.court.key, lit.id, 'court-filing', {
    action: 'case_registered',
    caseNumber: caseNumber('京0105', '民初'),
    filedOn: shanghaiDate(new Date()),
  })
  t.equal(reg2.statusCode, 409, 'an in-litigation referral is not registered anew')
  const tr = await act(w.court.key, lit.id, 'court-filing', { action: 'trial_resumed', resumedOn: shanghaiDate(new Date()) })
  t.equal(tr.json().status, 'trial_resumed')
})

t.test('decline, redesignation, centre dispatch', async (t) => {
  const r = await refer()
  const noReason = await act(w.platform.key, r.id, 'acceptance', { decision: 'declined' })
  t.equal(noReason.statusCode, 400)
  const dec = await act(w.platform.key, r.id, 'acceptance', { decision: 'declined', reason: '超出受理范围' })
  t.equal(dec.json().status, 'declined')
  t.equal(dec.json().decline.reason, '超出受理范围')
  await h.call(w.platform.key, {
    method: 'PUT',
    url: '/v1/organizations/bj-centre',
    payload: organizationBody({ kind: 'centre', regionCode: '110100' }),
  })
  await grantSpecialRoster(h, 'bj-centre', ['京0105'], w.court.key)
  await h.call(w.platform.key, {
    method: 'PUT',
    url: '/v1/organizations/bj-village',
    payload: organizationBody({ kind: 'village_committee', regionCode: '110105' }),
  })
  await h
    .call(w.platform.key, {
      method: 'PUT',
      url: '/v1/organizations/tj-village',
      payload: organizationBody({ kind: 'village_committee', regionCode: '120101' }),
    })
    .then((res) => t.equal(res.statusCode, 403, 'out of the platform scope'))
  const red = await act(w.court.key, r.id, 'redesignation', { designation: { mode: 'court_designated', organizationId: 'bj-centre' } })
  t.equal(red.statusCode, 200)
  t.equal(red.json().status, 'referred')
  t.equal(red.json().organizationId, 'bj-centre')
  const asg = await act(w.platform.key, r.id, 'assignment', { organizationId: 'bj-village' })
  t.equal(asg.statusCode, 200)
  t.equal(asg.json().organizationId, 'bj-village')
  t.equal(asg.json().status, 'referred')
  const again = await act(w.platform.key, r.id, 'assignment', { organizationId: 'bj-cy-blz' })
  t.equal(again.statusCode, 422, 'only a centre dispatches')
  t.equal((await accept(r.id)).statusCode, 200)
})

t.test('agreement: parties, mediator and seal; effective at the latest; oral when reached; the signed file by its sha256', async (t) => {
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString()
  const parties = [
    { partyIndex: 0, signedAt: ago(90_000) },
    { partyIndex: 1, signedAt: ago(80_000) },
  ]
  const written = {
    form: 'written',
    terms: '李四赔偿张三 3000 元',
    signatures: parties,
    mediatorSignedAt: ago(70_000),
    sealedAt: ago(60_000),
    performance: { method: 'immediate' },
  }
  const agree = async (body: Record<string, unknown>, key = w.platform.key) => {
    const r = await refer()
    await accept(r.id)
    return { id: r.id as string, res: await act(key, r.id, 'agreement', body) }
  }

  for (const [name, patch, missing] of [
    ['no mediator signature', { mediatorSignedAt: undefined }, ['mediatorSignedAt']],
    ['no seal', { sealedAt: undefined }, ['sealedAt']],
    ['neither', { mediatorSignedAt: undefined, sealedAt: undefined }, ['mediatorSignedAt', 'sealedAt']],
    ['one party only', { signatures: [parties[0]] }, ['signatures']],
  ] as const) {
    const { res } = await agree({ ...written, ...patch, form: 'electronic' })
    t.equal(res.statusCode, 422, name)
    t.equal(res.json().code, 'signatures_incomplete', name)
    t.same(res.json().missing, missing, name)
  }
  const mismatch = await agree({ ...written, effectiveAt: parties[1].signedAt })
  t.equal(mismatch.res.statusCode, 422, 'the last party signature is not the effect when the seal came later')
  t.equal(mismatch.res.json().code, 'effective_at_mismatch')
  t.equal(mismatch.res.json().effectiveAt, written.sealedAt)
  const bad = await agree({ ...written, reachedAt: 'yesterday' })
  t.equal(bad.res.statusCode, 400, 'timestamps are validated')

  const ok = await agree({ ...written, effectiveAt: written.sealedAt })
  t.equal(ok.res.statusCode, 200, ok.res.body)
  t.equal(ok.res.json().agreement.effectiveAt, written.sealedAt, 'effective when sealed, the last of all')
  t.equal(ok.res.json().agreement.mediatorSignedAt, written.mediatorSignedAt)
  t.equal(ok.res.json().agreement.sealedAt, written.sealedAt)
  t.equal(ok.res.json().agreement.documentSha256, undefined)

  const oralNoReached = await agree({ form: 'oral', terms: '口头协议', signatures: [], effectiveAt: ago(1000), performance: { method: 'immediate' } })
  t.equal(oralNoReached.res.statusCode, 400)
  t.equal(oralNoReached.res.json().errors[0].path, '/reachedAt')
  const reachedAt = ago(120_000)
  const oral = await agree({ form: 'oral', terms: '口头协议', signatures: [], reachedAt, performance: { method: 'immediate' } })
  t.equal(oral.res.statusCode, 200, oral.res.body)
  t.equal(oral.res.json().agreement.effectiveAt, reachedAt, 'oral: effective when reached')

  // The signed file: a material the platform uploaded, shown by its sha256 and linked to the case.
  const pdf = Buffer.from(`%PDF-1.7 调解协议书 ${Date.now()}`)
  const upload = async (key: string) => {
    const res = await h.call(key, {
      method: 'POST',
      url: '/v1/materials',
      payload: pdf,
      headers: { 'content-type': 'application/pdf', 'x-material-title': encodeURIComponent('调解协议书.pdf'), 'idempotency-key': idemKey() },
    })
    if (res.statusCode !== 201) throw new Error(`material: ${res.statusCode} ${res.body}`)
    return res.json() as { id: string; sha256: string }
  }
  const mine = await upload(w.platform.key)
  const withDoc = await agree({ ...written, documentMaterialId: mine.id })
  t.equal(withDoc.res.statusCode, 200, withDoc.res.body)
  t.equal(withDoc.res.json().agreement.documentMaterialId, mine.id)
  t.equal(withDoc.res.json().agreement.documentSha256, mine.sha256)
  const { createHash } = await import('node:crypto')
  t.equal(mine.sha256, createHash('sha256').update(pdf).digest('hex'))
  const links = await h.deps.db.selectFrom('material_links').selectAll().where('material_id', '=', mine.id).execute()
  t.same(
    links.map((l) => l.subject_id),
    [withDoc.id],
    'linked to the case: the orphan expiry never takes it',
  )
  const courtSees = await h.call(w.court.key, { method: 'GET', url: `/v1/materials/${mine.id}` })
  t.equal(courtSees.statusCode, 200, 'the referring court may read the signed file')

  const theirs = await upload(w.otherPlatform.key)
  for (const [name, id] of [
    ['another platform’s material', theirs.id],
    ['an unknown material', '0192f3a4-5b6c-7d8e-9f01-000000000000'],
    ['not an id', 'nope'],
  ] as const) {
    const { res } = await agree({ ...written, documentMaterialId: id })
    t.equal(res.statusCode, 422, name)
    t.equal(res.json().code, 'unknown_material', name)
    t.equal(res.json().errors[0].path, '/documentMaterialId', name)
  }
})

t.test('recall: the court takes a case back before mediation starts; roles, states, body, event, 案号', async (t) => {
  const today = shanghaiDate(new Date())
  const r = await refer()
  const recallOf = (key: string, id: string, body: unknown = { reason: 'party_insists_on_litigation', note: '申请人坚持起诉' }) => act(key, id, 'recall', body)

  // Roles: a platform or an operator may never recall (403); another court does not see the case (404).
  t.equal((await recallOf(w.platform.key, r.id)).statusCode, 403, 'mediation → 403')
  t.equal((await recallOf(h.operatorKey, r.id)).statusCode, 403, 'operator → 403')
  t.equal((await recallOf(w.otherCourt.key, r.id)).statusCode, 404, 'another court → 404')
  // The body: reason from the list, note optional, nothing else.
  const badReason = await recallOf(w.court.key, r.id, { reason: 'changed_mind' })
  t.equal(badReason.statusCode, 400)
  t.equal(badReason.json().errors[0].path, '/reason')
  t.equal((await recallOf(w.court.key, r.id, {})).statusCode, 400, 'reason required')
  t.equal((await recallOf(w.court.key, r.id, { reason: 'court_decision', organizationId: 'x' })).statusCode, 400, 'unknown field')

  const rec = await recallOf(w.court.key, r.id)
  t.equal(rec.statusCode, 200)
  t.equal(rec.json().status, 'recalled')
  t.equal(rec.json().version, 2)
  t.match(rec.json().recall, { reason: 'party_insists_on_litigation', note: '申请人坚持起诉', recalledAt: String })
  t.equal(rec.json().organizationId, 'bj-cy-blz')
  t.ok(rec.headers.receipt === undefined || typeof rec.headers.receipt === 'string')

  // The event, seen by both sides: the organization learns of the recall from it.
  for (const key of [w.court.key, w.platform.key]) {
    const events = (await get(key, `/v1/referrals/${r.id}/events`)).json().items
    const last = events[events.length - 1]
    t.equal(last.type, 'referral.recalled')
    t.equal(last.sequence, 2)
    t.same(last.actor, { clientId: w.court.id, role: 'court' })
    t.equal(last.data.referral.status, 'recalled')
    t.equal(last.data.referral.recall.reason, 'party_insists_on_litigation')
  }

  // Wrong states: a recalled case is not recalled again, accepted or redesignated.
  const twice = await recallOf(w.court.key, r.id)
  t.equal(twice.statusCode, 409)
  t.equal(twice.json().code, 'illegal_transition')
  t.equal(twice.json().currentStatus, 'recalled')
  t.equal((await accept(r.id)).statusCode, 409, 'no acceptance after a recall')
  const red = await act(w.court.key, r.id, 'redesignation', { designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' } })
  t.equal(red.statusCode, 409)

  // A recalled case no longer blocks its 案号.
  const again = await post(h, w.court.key, '/v1/referrals', referralBody({ caseNumber: r.caseNumber }))
  t.equal(again.statusCode, 201, 'a new referral of the same 案号')
  const third = await post(h, w.court.key, '/v1/referrals', referralBody({ caseNumber: r.caseNumber }))
  t.equal(third.statusCode, 409, 'but only one active referral at a time')
  t.equal(third.json().code, 'duplicate_referral')

  // Mediation started: no recall.
  const m = await refer()
  await accept(m.id)
  const late = await recallOf(w.court.key, m.id)
  t.equal(late.statusCode, 409)
  t.equal(late.json().currentStatus, 'mediating')

  // From declined.
  const d = await refer()
  await act(w.platform.key, d.id, 'acceptance', { decision: 'declined', reason: '超出受理范围' })
  const fromDeclined = await recallOf(w.court.key, d.id, { reason: 'party_withdrew_consent' })
  t.equal(fromDeclined.statusCode, 200)
  t.equal(fromDeclined.json().status, 'recalled')
  t.equal(fromDeclined.json().decline.reason, '超出受理范围', 'the decline stays on file')
  t.equal(fromDeclined.json().recall.note, undefined)

  // The court's follow-up from recalled (pre-filing: register; never resume a trial).
  const notResumed = await act(w.court.key, r.id, 'court-filing', { action: 'trial_resumed', resumedOn: today })
  t.equal(notResumed.statusCode, 409, 'a pre-filing case is registered, not resumed')
  t.equal(notResumed.json().currentStatus, 'recalled')
  t.equal(
    (await act(w.platform.key, r.id, 'court-filing', { action: 'case_registered', caseNumber: caseNumber('京0105', '民初'), filedOn: today })).statusCode,
    403,
    'a platform never files',
  )
  const reg = await act(w.court.key, r.id, 'court-filing', { action: 'case_registered', caseNumber: caseNumber('京0105', '民初'), filedOn: today })
  t.equal(reg.statusCode, 200)
  t.equal(reg.json().status, 'case_registered')
  t.same(
    (await get(w.platform.key, `/v1/referrals/${r.id}/events`)).json().items.map((e: { type: string }) => e.type),
    ['referral.created', 'referral.recalled', 'referral.case_registered'],
  )
})

t.test('court follow-up from declined and recalled: each type its own exit; other states refused', async (t) => {
  const today = shanghaiDate(new Date())
  const register = (key: string, id: string) =>
    act(key, id, 'court-filing', { action: 'case_registered', caseNumber: caseNumber('京0105', '民初'), filedOn: today })
  const resumeTrial = (key: string, id: string) => act(key, id, 'court-filing', { action: 'trial_resumed', resumedOn: today })

  // Pre-filing, declined → case_registered (the party insists on litigation: 意见 三(三), 特邀 21).
  const pre = await refer()
  t.equal((await register(w.court.key, pre.id)).statusCode, 409, 'not from referred')
  await act(w.platform.key, pre.id, 'acceptance', { decision: 'declined', reason: '超出受理范围' })
  t.equal((await resumeTrial(w.court.key, pre.id)).statusCode, 409, 'a pre-filing case does not resume a trial')
  t.equal((await register(w.platform.key, pre.id)).statusCode, 403, 'mediation → 403')
  t.equal((await register(h.operatorKey, pre.id)).statusCode, 403, 'operator → 403')
  t.equal((await register(w.otherCourt.key, pre.id)).statusCode, 404, 'another court → 404')
  const bad = await act(w.court.key, pre.id, 'court-filing', { action: 'case_registered', caseNumber: caseNumber('京0105', '民诉前调'), filedOn: today })
  t.equal(bad.statusCode, 400, 'the new 案号 is a 民初 one')
  const reg = await register(w.court.key, pre.id)
  t.equal(reg.statusCode, 200)
  t.equal(reg.json().status, 'case_registered')
  t.equal(reg.json().courtFiling.action, 'case_registered')
  const regAgain = await register(w.court.key, pre.id)
  t.equal(regAgain.statusCode, 409)
  t.equal(regAgain.json().currentStatus, 'case_registered')
  const late = await act(w.court.key, pre.id, 'recall', { reason: 'court_decision' })
  t.equal(late.statusCode, 409, 'no recall after registration')

  // In litigation, declined → trial_resumed; recalled → trial_resumed.
  const litBody = () => ({ referralType: 'in_litigation', procedure: 'ordinary', caseNumber: caseNumber('京0105', '民初') })
  const lit = await refer(litBody())
  await act(w.platform.key, lit.id, 'acceptance', { decision: 'declined', reason: '人手不足' })
  t.equal((await register(w.court.key, lit.id)).statusCode, 409, 'an in-litigation case is not registered anew')
  t.equal((await resumeTrial(w.platform.key, lit.id)).statusCode, 403)
  const tr = await resumeTrial(w.court.key, lit.id)
  t.equal(tr.statusCode, 200)
  t.equal(tr.json().status, 'trial_resumed')

  const lit2 = await refer(litBody())
  const rec = await act(w.court.key, lit2.id, 'recall', { reason: 'party_withdrew_consent' })
  t.equal(rec.json().status, 'recalled')
  t.equal((await register(w.court.key, lit2.id)).statusCode, 409)
  const tr2 = await resumeTrial(w.court.key, lit2.id)
  t.equal(tr2.statusCode, 200)
  t.equal(tr2.json().status, 'trial_resumed')
  t.same(
    (await get(w.court.key, `/v1/referrals/${lit2.id}/events`)).json().items.map((e: { type: string }) => e.type),
    ['referral.created', 'referral.recalled', 'referral.trial_resumed'],
  )

  // Mediating and agreed cases have no court follow-up.
  const med = await refer()
  await accept(med.id)
  const fromMediating = await register(w.court.key, med.id)
  t.equal(fromMediating.statusCode, 409)
  t.equal(fromMediating.json().currentStatus, 'mediating')
})

t.test('illegal transitions, roles, If-Match, concurrency', async (t) => {
  const r = await refer()
  const early = await act(w.platform.key, r.id, 'agreement', {
    form: 'oral',
    terms: 'x',
    effectiveAt: now(),
    signatures: [
      { partyIndex: 0, signedAt: now() },
      { partyIndex: 1, signedAt: now() },
    ],
    performance: { method: 'immediate' },
  })
  t.equal(early.statusCode, 409)
  t.equal(early.json().code, 'illegal_transition')
  t.equal(early.json().currentStatus, 'referred')
  const courtAccepts = await act(w.court.key, r.id, 'acceptance', { decision: 'accepted', mediator: { name: 'x' }, acceptedAt: now() })
  t.equal(courtAccepts.statusCode, 403)
  const opAccepts = await act(h.operatorKey, r.id, 'acceptance', { decision: 'accepted', mediator: { name: 'x' }, acceptedAt: now() })
  t.equal(opAccepts.statusCode, 403, 'operators are read-only on cases')
  const future = await act(w.platform.key, r.id, 'acceptance', {
    decision: 'accepted',
    mediator: { name: 'x' },
    acceptedAt: new Date(Date.now() + 3_600_000).toISOString(),
  })
  t.equal(future.statusCode, 422, 'acceptedAt in the future')
  const before = await act(w.platform.key, r.id, 'acceptance', { decision: 'accepted', mediator: { name: 'x' }, acceptedAt: '2020-01-01T00:00:00Z' })
  t.equal(before.statusCode, 422, 'acceptedAt before the referral')
  const stale = await act(w.platform.key, r.id, 'acceptance', { decision: 'accepted', mediator: { name: 'x' }, acceptedAt: now() }, { 'if-match': '"7"' })
  t.equal(stale.statusCode, 412)
  t.equal(stale.json().code, 'version_mismatch')

  const both = await Promise.all([accept(r.id), accept(r.id), act(w.platform.key, r.id, 'acceptance', { decision: 'declined', reason: 'x' })])
  const codes = both.map((b) => b.statusCode).sort()
  t.same(codes, [200, 409, 409], 'exactly one transition wins')
  const fresh = await get(w.court.key, `/v1/referrals/${r.id}`)
  t.equal(fresh.json().version, 2)
  const { rows } = await h.deps.pool.query('SELECT count(*)::int AS n FROM events WHERE subject_id = $1', [r.id])
  t.equal(rows[0].n, 2, 'one event per transition')
  const ok = await act(w.platform.key, r.id, 'suspension', { reason: 'other' }, { 'if-match': '"2"' })
  t.equal(ok.statusCode, 200, 'a current If-Match passes')

  const key = idemKey()
  const a = await post(h, w.platform.key, `/v1/referrals/${r.id}/resumption`, {}, { 'idempotency-key': key })
  const b = await post(h, w.platform.key, `/v1/referrals/${r.id}/resumption`, {}, { 'idempotency-key': key })
  t.equal(a.statusCode, 200)
  t.equal(b.statusCode, 200)
  t.equal(b.headers['idempotent-replayed'], 'true')
  t.equal(b.body, a.body, 'the replay is byte-identical')
})

t.test('scope: other courts and platforms see nothing (BOLA), operators see masked data', async (t) => {
  const r = await refer()
  const foreign = [w.otherCourt.key, w.otherPlatform.key]
  const routes: Array<[string, string, unknown?]> = [
    ['GET', `/v1/referrals/${r.id}`],
    ['GET', `/v1/referrals/${r.id}/events`],
  ]
  for (const key of foreign) {
    for (const [method, url] of routes) t.equal((await h.call(key, { method: method as 'GET', url })).statusCode, 404, `${method} ${url}`)
    const list = await get(key, '/v1/referrals?limit=200')
    t.notOk(
      list.json().items.some((x: { id: string }) => x.id === r.id),
      'absent from foreign lists',
    )
  }
  const actions: Array<[string, string, unknown]> = [
    [w.otherPlatform.key, 'acceptance', { decision: 'accepted', mediator: { name: 'x' }, acceptedAt: now() }],
    [w.otherPlatform.key, 'suspension', { reason: 'other' }],
    [w.otherCourt.key, 'redesignation', { designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' } }],
    [w.otherCourt.key, 'closure', { disposition: 'agreement_filed' }],
  ]
  for (const [key, action, body] of actions) t.equal((await act(key, r.id, action, body)).statusCode, 404, `${action} by a foreign client`)
  t.equal((await get(w.court.key, '/v1/referrals/not-a-uuid')).statusCode, 404)
  t.equal((await get(w.court.key, '/v1/referrals/01a224ae-0000-7000-8000-000000000000')).statusCode, 404)

  const op = (await get(h.operatorKey, `/v1/referrals/${r.id}`)).json()
  t.match(op.parties[0].idNumber, /^\d{3}\*{11}[\dX]{4}$/, 'operators see masked ID numbers')
  t.equal(op.parties[0].phone, '138****8000')
  const pl = (await get(w.platform.key, `/v1/referrals/${r.id}`)).json()
  t.equal(pl.parties[0].idNumber, r.parties[0].idNumber, 'the handling organization sees full data')

  const found = await get(w.court.key, `/v1/referrals?partyIdNumber=${r.parties[1].idNumber}`)
  t.ok(
    found.json().items.some((x: { id: string }) => x.id === r.id),
    'exact search by ID number',
  )
  const notFound = await get(w.otherCourt.key, `/v1/referrals?partyIdNumber=${r.parties[1].idNumber}`)
  t.equal(notFound.json().items.length, 0)
  t.equal((await get(h.operatorKey, `/v1/referrals?partyIdNumber=${r.parties[1].idNumber}`)).statusCode, 403)

  await h.deps.accessTrail.flush()
  const log = await h.deps.pool.query('SELECT client_id, fields FROM access_log WHERE subject_id = $1', [r.id])
  t.ok(
    log.rows.some((x: { client_id: string }) => x.client_id === w.platform.id),
    'full views are in the access trail',
  )
})

t.test('list filters and pagination', async (t) => {
  const ids = []
  for (let i = 0; i < 5; i++) ids.push((await refer({ disputeType: 'labor' })).id)
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const res: { json(): { items: Array<{ id: string }>; nextCursor: string | null } } = await get(
      w.court.key,
      `/v1/referrals?disputeType=labor&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
    )
    const page = res.json()
    t.ok(page.items.length <= 2)
    seen.push(...page.items.map((x) => x.id))
    cursor = page.nextCursor
  } while (cursor)
  t.same(seen, ids, 'every referral once, in order')
  t.equal((await get(w.court.key, '/v1/referrals?cursor=garbage')).statusCode, 400)
  t.equal((await get(w.court.key, '/v1/referrals?status=referred&courtCode=京0105')).statusCode, 200)
})

t.test('updatedSince: recent (filtered first) and old (id order) give the same pages', async (t) => {
  const before = await refer({ disputeType: 'traffic' })
  await new Promise((r) => setTimeout(r, 20))
  const since = new Date().toISOString()
  const after = [(await refer({ disputeType: 'traffic' })).id, (await refer({ disputeType: 'traffic' })).id]
  t.equal((await accept(before.id)).statusCode, 200, 'the older one changes after `since`')
  const pages = async (query: string) => {
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res: { statusCode: number; json(): { items: Array<{ id: string }>; nextCursor: string | null } } = await get(
        w.court.key,
        `/v1/referrals?${query}&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      )
      t.equal(res.statusCode, 200)
      seen.push(...res.json().items.map((x) => x.id))
      cursor = res.json().nextCursor
    } while (cursor)
    return seen
  }
  t.same(await pages(`disputeType=traffic&updatedSince=${encodeURIComponent(since)}`), [before.id, ...after], 'changed since: in id order, page by page')
  const old = new Date(Date.now() - 40 * 86_400_000).toISOString()
  t.same(await pages(`disputeType=traffic&updatedSince=${encodeURIComponent(old)}`), [before.id, ...after], 'an old moment: everything, the same order')
  t.same(await pages(`disputeType=traffic&updatedSince=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`), [], 'the future: nothing')
})

t.test('Chinese names round-trip exactly; lengths in code points', async (t) => {
  const names = ['𠀀𠀁𪚥', '阿卜杜拉·买买提', '𡈼·𩸽']
  const body = referralBody()
  body.parties[0].name = names[0]
  body.parties[1].name = names[1]
  const r = await refer({ parties: body.parties })
  const got = (await get(w.court.key, `/v1/referrals/${r.id}`)).json()
  t.equal(got.parties[0].name, names[0])
  t.equal(got.parties[1].name, names[1])
  const long = referralBody()
  long.parties[0].name = '𠀀'.repeat(100)
  t.equal((await post(h, w.court.key, '/v1/referrals', long)).statusCode, 201, '100 code points fit although they are 200 UTF-16 units')
  long.parties[0].name = '𠀀'.repeat(101)
  long.caseNumber = caseNumber()
  t.equal((await post(h, w.court.key, '/v1/referrals', long)).statusCode, 400)
})

t.test('timers: deadlines fire once, from PostgreSQL, even after Redis loses everything', async (t) => {
  const a = await refer()
  const m = await refer()
  await accept(m.id)
  await h.deps.redis.flushall()
  const future = addCalendarDays(shanghaiDate(new Date()), 90)
  const [x, y] = await Promise.all([expireIfDue(h.deps.db, a.id, future), expireIfDue(h.deps.db, a.id, future)])
  t.equal(Number(x) + Number(y), 1, 'two racing workers: exactly one expiry')
  const n = await sweepOverdue(h.deps.db, future)
  t.ok(n >= 1, 'the sweep expires the overdue mediation')
  const ga = (await get(w.court.key, `/v1/referrals/${a.id}`)).json()
  t.equal(ga.status, 'declined')
  t.equal(ga.decline.reason, 'acceptance_timeout')
  const gm = (await get(w.court.key, `/v1/referrals/${m.id}`)).json()
  t.equal(gm.status, 'terminated')
  t.equal(gm.termination.reason, 'deadline_expired')
  const ev = (await get(w.court.key, `/v1/referrals/${m.id}/events`)).json().items
  t.equal(ev.at(-1).actor, 'system')
  t.equal(ev.at(-1).type, 'referral.terminated')
  t.equal(await sweepOverdue(h.deps.db, future), 0, 'nothing fires twice')
  const today = await sweepOverdue(h.deps.db)
  t.equal(today, 0, 'nothing is overdue today')
})

t.test('no full ID number or mobile in logs or events', async (t) => {
  const { rows } = await sql<{ data: unknown }>`SELECT data FROM events`.execute(h.deps.db)
  const hits = rows.flatMap((r) => scanForPersonalData(JSON.stringify(r.data)))
  t.same(hits, [], 'event payloads are masked')
  t.same(
    h.logs.lines.flatMap((l) => scanForPersonalData(l)),
    [],
    'log lines hold no personal data',
  )
  t.ok(residentId())
})
