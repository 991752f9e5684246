/**
 * Migration 0007 on answers stored before it: a stored answer showing a case in full (as the service stored them
 * until then) is rewritten masked, with its case and the paths of its masked strings, and replays exactly as first
 * answered; an answer showing no case is left alone; one showing parties of no known case is dropped.
 */
import type { Kysely } from 'kysely'
import t from 'tap'
import { down, up } from '../../migrations/0007_idempotency_masked_answers.js'
import { caseNumber, referralBody, residentId, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'

const h = await startHarness()
t.teardown(() => h.close())
const w = await standardWorld(h)
const db = h.deps.db

const send = (key: string, url: string, payload: unknown, idem: string) =>
  h.call(key, { method: 'POST', url, payload: payload as object, headers: { 'idempotency-key': idem } })

t.test('rows stored in full before the migration are masked by it and still replay as first answered', async (t) => {
  // Answers written by the service: a referral intake, an acceptance, a standalone application, its refusal.
  const referral = referralBody()
  const keys = { intake: idemKey(), accept: idemKey(), apply: idemKey(), refuse: idemKey(), client: idemKey() }
  const intake = await send(w.court.key, '/v1/referrals', referral, keys.intake)
  t.equal(intake.statusCode, 201, intake.body)
  const id = intake.json().id as string
  const accept = { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: new Date().toISOString() }
  const accepted = await send(w.platform.key, `/v1/referrals/${id}/acceptance`, accept, keys.accept)
  t.equal(accepted.statusCode, 200, accepted.body)

  const signedAt = new Date(Date.now() - 3600_000).toISOString()
  const applicantId = residentId('110105', '19660606')
  const application = {
    courtCode: '京0105',
    organizationId: 'bj-cy-blz',
    agreement: {
      form: 'written',
      terms: `王五（电话 13912345678）修复房屋 ${caseNumber()}`,
      signatures: [
        { partyIndex: 0, signedAt },
        { partyIndex: 1, signedAt },
      ],
      mediatorSignedAt: signedAt,
      sealedAt: signedAt,
      performance: { method: 'immediate' },
    },
    parties: [
      {
        role: 'applicant',
        kind: 'natural_person',
        name: '王五',
        idType: 'resident_id',
        idNumber: applicantId,
        phone: '13912345678',
        address: '北京市朝阳区八里庄路 5 号',
      },
      { role: 'respondent', kind: 'natural_person', name: '赵六', idType: 'resident_id', idNumber: residentId('440524', '19800808') },
    ],
    applicants: [0, 1],
    appliedAt: new Date().toISOString(),
    materials: [],
  }
  const applied = await send(w.platform.key, '/v1/judicial-confirmations', application, keys.apply)
  t.equal(applied.statusCode, 201, applied.body)
  const refusal = { decision: 'not_accepted', reason: `申请人 ${applicantId} 材料不全` }
  const refused = await send(w.court.key, `/v1/judicial-confirmations/${applied.json().id}/acceptance`, refusal, keys.refuse)
  t.equal(refused.statusCode, 200, refused.body)
  const client = await send(h.operatorKey, '/v1/clients', { name: 'legacy row client', role: 'court', courtCodes: ['京0105'] }, keys.client)
  t.equal(client.statusCode, 201)

  const answers = [
    { client: w.court.id, key: keys.intake, first: intake },
    { client: w.platform.id, key: keys.accept, first: accepted },
    { client: w.platform.id, key: keys.apply, first: applied },
    { client: w.court.id, key: keys.refuse, first: refused },
  ]
  const row = (clientId: string, key: string) =>
    db.selectFrom('idempotency_keys').selectAll().where('client_id', '=', clientId).where('key', '=', key).executeTakeFirstOrThrow()
  const clientRow = await db.selectFrom('idempotency_keys').select(['client_id', 'response_body']).where('key', '=', keys.client).executeTakeFirstOrThrow()

  // Back to the schema before 0007, with the rows as it stored them: the full answer in clear.
  const migrations = db as unknown as Kysely<unknown>
  await down(migrations)
  for (const a of answers) {
    await db.updateTable('idempotency_keys').set({ response_body: a.first.body }).where('client_id', '=', a.client).where('key', '=', a.key).execute()
  }
  const orphan = JSON.stringify({ id: '01900000-0000-7000-8000-0000000000aa', parties: [{ idNumber: applicantId }] })
  await db
    .insertInto('idempotency_keys')
    .values({ client_id: w.court.id, key: 'legacy-orphan', request_hash: 'h', response_status: 201, response_body: orphan, response_headers: '{}' })
    .execute()

  await up(migrations)

  for (const a of answers) {
    const r = await row(a.client, a.key)
    for (const plain of [
      referral.parties[0]!.idNumber,
      referral.parties[1]!.idNumber,
      '13800138000',
      referral.parties[0]!.address!,
      applicantId,
      '13912345678',
    ]) {
      t.notOk(r.response_body.includes(plain), `${a.key}: ${plain} is no longer stored`)
    }
    t.ok(r.subject_id && r.subject_kind && r.personal_paths?.length, 'the case and the masked paths are recorded')
  }
  t.match(await row(w.court.id, keys.intake), { subject_kind: '/v1/referrals', subject_id: id })
  t.same((await row(w.court.id, keys.refuse)).personal_paths, [
    ['agreement', 'terms'],
    ['parties', 0, 'idNumber'],
    ['parties', 0, 'phone'],
    ['parties', 0, 'address'],
    ['parties', 1, 'idNumber'],
    ['notAccepted', 'reason'],
  ])
  t.match(
    await db.selectFrom('idempotency_keys').selectAll().where('key', '=', keys.client).executeTakeFirstOrThrow(),
    { response_body: clientRow.response_body, subject_kind: null, subject_id: null, personal_paths: null },
    'an answer showing no case is left alone',
  )
  t.notOk(
    await db.selectFrom('idempotency_keys').select('key').where('key', '=', 'legacy-orphan').executeTakeFirst(),
    'parties of no known case: the row is dropped',
  )

  // What the service would store now is what the migration made of the old rows: the replays are the first answers.
  const replays = [
    await send(w.court.key, '/v1/referrals', referral, keys.intake),
    await send(w.platform.key, `/v1/referrals/${id}/acceptance`, accept, keys.accept),
    await send(w.platform.key, '/v1/judicial-confirmations', application, keys.apply),
    await send(w.court.key, `/v1/judicial-confirmations/${applied.json().id}/acceptance`, refusal, keys.refuse),
  ]
  replays.forEach((replay, i) => {
    t.equal(replay.headers['idempotent-replayed'], 'true')
    t.equal(replay.statusCode, answers[i]!.first.statusCode)
    t.equal(replay.body, answers[i]!.first.body, `replay ${i + 1}: byte for byte the first answer`)
  })
})
