/**
 * Replays under changed rights (reliability row 28): a replayed answer about a case shows its personal data as the
 * caller may see it at the replay — in full, and recorded in the access trail, while the caller still may; masked,
 * and not recorded, once it lost the case — and the idempotency store holds it masked either way (row 24).
 */
import t from 'tap'
import { caseNumber, organizationBody, post, referralBody, residentId, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'

const h = await startHarness()
t.teardown(() => h.close())
const w = await standardWorld(h)
const db = h.deps.db

// A Tianjin organization on the ministry roster, outside the Beijing platform's scope.
const tjPlatform = await h.client('mediation', { regionCodes: ['12'] })
const tjOrg = await h.call(tjPlatform.key, {
  method: 'PUT',
  url: '/v1/organizations/tj-hp-org',
  payload: organizationBody({ name: '和平区人民调解委员会', regionCode: '120101' }),
})
if (tjOrg.statusCode !== 201) throw new Error(`org: ${tjOrg.statusCode} ${tjOrg.body}`)

const send = (key: string, url: string, payload: unknown, idem: string) =>
  h.call(key, { method: 'POST', url, payload: payload as object, headers: { 'idempotency-key': idem } })

/** Access-trail rows of one client for one case, once the batched trail is written. */
async function trailRows(clientId: string, subjectId: string) {
  await h.deps.accessTrail.flush()
  return db
    .selectFrom('access_log')
    .select(['request_id', 'fields'])
    .where('client_id', '=', clientId)
    .where('subject_id', '=', subjectId)
    .orderBy('id')
    .execute()
}

async function storedBody(clientId: string, key: string) {
  return db.selectFrom('idempotency_keys').selectAll().where('client_id', '=', clientId).where('key', '=', key).executeTakeFirstOrThrow()
}

const maskedId = /^\d{3}\*{11}[\dX]{4}$/

t.test('a referral: full and recorded while the caller holds it, masked and unrecorded after redesignation', async (t) => {
  const body = referralBody()
  const created = await post(h, w.court.key, '/v1/referrals', body)
  t.equal(created.statusCode, 201, created.body)
  const id = created.json().id as string

  const declineKey = idemKey()
  const decline = { decision: 'declined', reason: '超出受理范围' }
  const first = await send(w.platform.key, `/v1/referrals/${id}/acceptance`, decline, declineKey)
  t.equal(first.statusCode, 200, first.body)
  t.equal(first.json().parties[0].idNumber, body.parties[0].idNumber, 'the holder sees the parties in full')
  t.equal(first.json().parties[0].address, body.parties[0].address)

  const row = await storedBody(w.platform.id, declineKey)
  for (const plain of [body.parties[0].idNumber, body.parties[1].idNumber, body.parties[0].phone, body.parties[0].address]) {
    t.notOk(row.response_body.includes(plain as string), `the stored answer holds no ${plain}`)
  }
  t.match(row, { subject_kind: '/v1/referrals', subject_id: id })
  t.same(
    row.personal_paths,
    [
      ['parties', 0, 'idNumber'],
      ['parties', 0, 'phone'],
      ['parties', 0, 'address'],
      ['parties', 1, 'idNumber'],
    ],
    'the paths of the masked strings',
  )

  // Still the holder: the first answer byte for byte, and a trail entry naming the replay's request.
  const before = await trailRows(w.platform.id, id)
  const entitled = await send(w.platform.key, `/v1/referrals/${id}/acceptance`, decline, declineKey)
  t.equal(entitled.statusCode, 200)
  t.equal(entitled.headers['idempotent-replayed'], 'true')
  t.equal(entitled.headers.etag, first.headers.etag)
  t.equal(entitled.body, first.body, 'byte for byte the first answer')
  const afterEntitled = await trailRows(w.platform.id, id)
  t.equal(afterEntitled.length, before.length + 1, 'the replay shows full personal data: one more access-trail row')
  t.same(afterEntitled.at(-1)?.fields, ['idNumber', 'phone', 'address'])
  t.notOk(
    before.some((r) => r.request_id === afterEntitled.at(-1)?.request_id),
    'recorded under the replay’s own request id',
  )

  // The court hands the case to an organization outside the platform's scope.
  const red = await post(h, w.court.key, `/v1/referrals/${id}/redesignation`, { designation: { mode: 'party_selected', organizationId: 'tj-hp-org' } })
  t.equal(red.statusCode, 200, red.body)
  t.equal(red.json().organizationId, 'tj-hp-org')
  const read = await h.call(w.platform.key, { method: 'GET', url: `/v1/referrals/${id}` })
  t.equal(read.statusCode, 200, 'the former holder still reads the case')
  t.match(read.json().parties[0].idNumber, maskedId, 'masked')

  const lost = await send(w.platform.key, `/v1/referrals/${id}/acceptance`, decline, declineKey)
  t.equal(lost.statusCode, 200)
  t.equal(lost.headers['idempotent-replayed'], 'true')
  const replayed = lost.json()
  t.same(replayed.parties, read.json().parties, 'the parties as the caller may see them now: masked')
  t.match(replayed.parties[0].idNumber, maskedId)
  t.equal(replayed.parties[0].phone, '138****8000')
  t.not(replayed.parties[0].address, body.parties[0].address)
  t.same({ ...replayed, parties: null }, { ...first.json(), parties: null }, 'everything else as first answered')
  t.equal(lost.headers.etag, first.headers.etag)
  t.equal((await trailRows(w.platform.id, id)).length, afterEntitled.length, 'no access-trail row: nothing was shown in full')

  // The court, still entitled, replays its redesignation in full.
  const courtKey = idemKey()
  const redBody = { designation: { mode: 'party_selected', organizationId: 'bj-cy-blz' } }
  const dec2 = await send(tjPlatform.key, `/v1/referrals/${id}/acceptance`, decline, idemKey())
  t.equal(dec2.statusCode, 200, dec2.body)
  const back = await send(w.court.key, `/v1/referrals/${id}/redesignation`, redBody, courtKey)
  t.equal(back.statusCode, 200, back.body)
  const courtBefore = await trailRows(w.court.id, id)
  const courtReplay = await send(w.court.key, `/v1/referrals/${id}/redesignation`, redBody, courtKey)
  t.equal(courtReplay.body, back.body, 'the court’s replay, byte for byte')
  t.equal((await trailRows(w.court.id, id)).length, courtBefore.length + 1)
})

t.test('an intake replay while entitled: identical and recorded; the stored answer is masked', async (t) => {
  const body = referralBody()
  const key = idemKey()
  const first = await send(w.court.key, '/v1/referrals', body, key)
  t.equal(first.statusCode, 201, first.body)
  const id = first.json().id as string
  const before = await trailRows(w.court.id, id)
  t.equal(before.length, 1, 'the intake itself is recorded')
  const again = await send(w.court.key, '/v1/referrals', body, key)
  t.equal(again.statusCode, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.headers.location, first.headers.location)
  t.equal(again.body, first.body, 'byte for byte')
  t.equal(again.json().parties[1].idNumber, body.parties[1].idNumber)
  t.equal((await trailRows(w.court.id, id)).length, 2, 'the replay is recorded too')
  const row = await storedBody(w.court.id, key)
  t.notOk(row.response_body.includes(body.parties[0].idNumber), 'stored masked')
  t.notOk(row.response_body.includes('13800138000'), 'stored masked')
})

t.test('a judicial confirmation: the court that lost the court code gets masked parties and masked free text', async (t) => {
  const court = await h.client('court', { courtCodes: ['京0105'] })
  const signedAt = new Date(Date.now() - 3600_000).toISOString()
  const idNumber = residentId('110105', '19750505')
  const application = {
    courtCode: '京0105',
    organizationId: 'bj-cy-blz',
    agreement: {
      form: 'written',
      terms: `王五（电话 13912345678）与赵六就房屋漏水达成协议 ${caseNumber()}`,
      amount: '3000.00',
      signatures: [
        { partyIndex: 0, signedAt },
        { partyIndex: 1, signedAt },
      ],
      mediatorSignedAt: signedAt,
      sealedAt: signedAt,
      performance: { method: 'immediate' },
    },
    parties: [
      { role: 'applicant', kind: 'natural_person', name: '王五', idType: 'resident_id', idNumber, phone: '13912345678', address: '北京市朝阳区八里庄路 5 号' },
      { role: 'respondent', kind: 'natural_person', name: '赵六', idType: 'resident_id', idNumber: residentId('440524', '19800808') },
    ],
    applicants: [0, 1],
    appliedAt: new Date().toISOString(),
    materials: [],
  }
  const applied = await post(h, w.platform.key, '/v1/judicial-confirmations', application)
  t.equal(applied.statusCode, 201, applied.body)
  const id = applied.json().id as string

  const key = idemKey()
  const refusal = { decision: 'not_accepted', reason: `申请人 ${idNumber} 提交的材料不全` }
  const first = await send(court.key, `/v1/judicial-confirmations/${id}/acceptance`, refusal, key)
  t.equal(first.statusCode, 200, first.body)
  t.equal(first.json().notAccepted.reason, refusal.reason, 'the court concerned sees the reason as written')
  t.equal(first.json().agreement.terms, application.agreement.terms)
  const row = await storedBody(court.id, key)
  for (const plain of [idNumber, '13912345678', '北京市朝阳区八里庄路 5 号']) t.notOk(row.response_body.includes(plain), `${plain} is not stored`)
  t.same(row.personal_paths, [
    ['agreement', 'terms'],
    ['parties', 0, 'idNumber'],
    ['parties', 0, 'phone'],
    ['parties', 0, 'address'],
    ['parties', 1, 'idNumber'],
    ['notAccepted', 'reason'],
  ])

  const before = await trailRows(court.id, id)
  const entitled = await send(court.key, `/v1/judicial-confirmations/${id}/acceptance`, refusal, key)
  t.equal(entitled.body, first.body, 'byte for byte while entitled')
  t.equal((await trailRows(court.id, id)).length, before.length + 1, 'recorded')

  // The court's client no longer covers 京0105; a fresh key of the same client sees its new scope at once.
  await db
    .updateTable('clients')
    .set({ court_codes: ['京0106'] })
    .where('id', '=', court.id)
    .execute()
  const issued = await h.call(h.operatorKey, { method: 'POST', url: `/v1/clients/${court.id}/keys`, headers: { 'idempotency-key': idemKey() } })
  t.equal(issued.statusCode, 201, issued.body)
  const newKey = issued.json().apiKey as string
  t.equal((await h.call(newKey, { method: 'GET', url: `/v1/judicial-confirmations/${id}` })).statusCode, 404, 'the case is out of its scope now')

  const lost = await send(newKey, `/v1/judicial-confirmations/${id}/acceptance`, refusal, key)
  t.equal(lost.statusCode, 200)
  t.equal(lost.headers['idempotent-replayed'], 'true')
  const replayed = lost.json()
  t.match(replayed.parties[0].idNumber, maskedId)
  t.equal(replayed.parties[0].phone, '139****5678')
  t.notOk(lost.body.includes(idNumber), 'no full ID number, in the parties or in the free text')
  t.notOk(lost.body.includes('13912345678'), 'no full phone, in the parties or in the terms')
  t.equal(replayed.notAccepted.reason, `申请人 ${idNumber.slice(0, 3)}${'*'.repeat(11)}${idNumber.slice(-4)} 提交的材料不全`)
  t.same(
    { ...replayed, parties: null, agreement: null, notAccepted: null },
    { ...first.json(), parties: null, agreement: null, notAccepted: null },
    'everything else as first answered',
  )
  t.equal((await trailRows(court.id, id)).length, before.length + 1, 'nothing shown in full, nothing recorded')
})

t.test('answers that show no case keep their behaviour: one-time secrets come back null', async (t) => {
  const key = idemKey()
  const payload = { name: 'replayed client', role: 'court', courtCodes: ['京0105'] }
  const first = await send(h.operatorKey, '/v1/clients', payload, key)
  t.equal(first.statusCode, 201)
  t.type(first.json().apiKey, 'string')
  const again = await send(h.operatorKey, '/v1/clients', payload, key)
  t.equal(again.statusCode, 201)
  t.equal(again.json().apiKey, null)
  t.same({ ...again.json(), apiKey: null }, { ...first.json(), apiKey: null })
  const row = await db.selectFrom('idempotency_keys').selectAll().where('key', '=', key).executeTakeFirstOrThrow()
  t.match(row, { subject_kind: null, subject_id: null, personal_paths: null })
  t.notOk(row.response_body.includes(first.json().apiKey), 'the key is not stored')
})
