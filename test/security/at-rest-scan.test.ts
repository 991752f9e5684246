/**
 * Personal data at rest, everywhere (contract §8; reliability row 24): after a full case life — referrals through
 * agreement, closure, decline and redesignation; judicial confirmations linked and standalone, accepted, ruled and
 * withdrawn; warnings; materials; batch intake; webhook deliveries to real receivers; reads that fill the access trail; and every
 * write replayed with its Idempotency-Key — every column of every table (text, jsonb, bytea, arrays, anything, cast to
 * text or searched as UTF-8 bytes) is searched for the ID numbers, phones and addresses the test sent: no hit.
 */
import { randomInt } from 'node:crypto'
import { sql } from 'kysely'
import t from 'tap'
import { shanghaiDate } from '../../src/domain/calendar.js'
import { startEngine, subscribePeer } from '../helpers/delivery.js'
import { caseNumber, organizationBody, referralBody, residentId, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'
import { eventually, startPeer } from '../helpers/peer.js'

t.setTimeout(180_000)

const h = await startHarness()
t.teardown(() => h.close())
const w = await standardWorld(h)
const db = h.deps.db

// A second Beijing organization (the platform's scope), for a redesignation.
const hd = await h.call(w.platform.key, {
  method: 'PUT',
  url: '/v1/organizations/bj-hd-org',
  payload: organizationBody({ name: '海淀区人民调解委员会', regionCode: '110108' }),
})
if (hd.statusCode !== 201) throw new Error(`org: ${hd.statusCode} ${hd.body}`)

// Webhook receivers on port 0, one per subscribing client, and the delivery engine.
const courtPeer = await startPeer()
const platformPeer = await startPeer()
t.teardown(() => Promise.all([courtPeer.close(), platformPeer.close()]))
await subscribePeer(h, w.court.id, courtPeer)
await subscribePeer(h, w.platform.id, platformPeer)
const engine = startEngine(h.deps)
t.teardown(() => engine.stop())

/** Everything personal this test sends; each value appears nowhere else. */
const sent: string[] = []
const idNumber = (area: string) => {
  const v = residentId(area, `19${randomInt(50, 99)}0${randomInt(1, 9)}1${randomInt(0, 9)}`)
  sent.push(v)
  return v
}
const phone = () => {
  const v = `13${randomInt(0, 10)}${String(randomInt(0, 100_000_000)).padStart(8, '0')}`
  sent.push(v)
  return v
}
const address = () => {
  const v = `北京市朝阳区静安里${randomInt(100, 999)}号院${randomInt(1, 30)}号楼${randomInt(100, 2999)}室`
  sent.push(v)
  return v
}
const parties = () => [
  {
    role: 'applicant',
    kind: 'natural_person',
    name: '张三',
    idType: 'resident_id',
    idNumber: idNumber('110105'),
    phone: phone(),
    address: address(),
    agents: [{ name: '律师甲', kind: 'lawyer', idType: 'resident_id', idNumber: idNumber('110108'), phone: phone(), licenseNumber: '11101200010000001' }],
  },
  { role: 'respondent', kind: 'natural_person', name: '李四', idType: 'resident_id', idNumber: idNumber('440524'), phone: phone(), address: address() },
]

/** A write, then its replay with the same key and body: the same status, marked as a replay. */
async function write(key: string, url: string, payload: unknown, status = 200) {
  const headers = { 'idempotency-key': idemKey() }
  const res = await h.call(key, { method: 'POST', url, payload: payload as object, headers })
  if (res.statusCode !== status) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
  const again = await h.call(key, { method: 'POST', url, payload: payload as object, headers })
  if (again.statusCode !== status || again.headers['idempotent-replayed'] !== 'true') throw new Error(`${url} replay: ${again.statusCode} ${again.body}`)
  return res.json()
}
const read = async (key: string, url: string) => {
  const res = await h.call(key, { method: 'GET', url })
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}

// Controls: values that must be found, showing the scan reads text, jsonb and bytea.
const materialMarker = `MATERIAL-MARKER-${randomInt(1e9)}`
const claimMarker = `索赔摘要标记${randomInt(1e9)}`

t.test('a full case life, every write replayed', async (t) => {
  const upload = await h.call(w.court.key, {
    method: 'POST',
    url: '/v1/materials',
    payload: Buffer.from(`%PDF-1.7 ${materialMarker}`),
    headers: { 'content-type': 'application/pdf', 'x-material-title': encodeURIComponent('起诉状.pdf'), 'idempotency-key': idemKey() },
  })
  t.equal(upload.statusCode, 201, upload.body)
  const materialId = upload.json().id as string

  // A referral from intake to closure, with a linked judicial confirmation ruled valid.
  const r1Body = referralBody({ parties: parties(), claimSummary: claimMarker, materials: [{ materialId }] })
  const r1 = await write(w.court.key, '/v1/referrals', r1Body, 201)
  await write(w.platform.key, `/v1/referrals/${r1.id}/acceptance`, { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: new Date().toISOString() })
  const signedAt = new Date(Date.now() - 3600_000).toISOString()
  const agreed = await write(w.platform.key, `/v1/referrals/${r1.id}/agreement`, {
    form: 'written',
    terms: '李四于本月底前向张三支付赔偿款 8000 元，双方再无争议。',
    signatures: [
      { partyIndex: 0, signedAt },
      { partyIndex: 1, signedAt },
    ],
    mediatorSignedAt: signedAt,
    sealedAt: signedAt,
    performance: { method: 'immediate' },
  })
  const year = shanghaiDate(new Date()).slice(0, 4)
  const c1 = await write(
    w.platform.key,
    '/v1/judicial-confirmations',
    {
      referralId: r1.id,
      courtCode: '京0105',
      agreementSha256: agreed.agreement.sha256,
      applicants: [0, 1],
      appliedAt: new Date().toISOString(),
      materials: [],
    },
    201,
  )
  const jcNumber = `（${year}）京0105诉前调确${randomInt(1000, 99999)}号`
  await write(w.court.key, `/v1/judicial-confirmations/${c1.id}/acceptance`, { decision: 'accepted', caseNumber: jcNumber })
  await write(w.court.key, `/v1/judicial-confirmations/${c1.id}/ruling`, { result: 'valid', rulingNumber: jcNumber, ruledOn: shanghaiDate(new Date()) })
  await write(w.court.key, `/v1/referrals/${r1.id}/closure`, { disposition: 'agreement_filed' })

  // A referral declined and redesignated; its decline replayed after the redesignation too.
  const r2 = await write(w.court.key, '/v1/referrals', referralBody({ parties: parties() }), 201)
  await write(w.platform.key, `/v1/referrals/${r2.id}/acceptance`, { decision: 'declined', reason: '超出受理范围' })
  await write(w.court.key, `/v1/referrals/${r2.id}/redesignation`, { designation: { mode: 'party_selected', organizationId: 'bj-hd-org' } })

  // Batch intake: two referrals in one request (replayed whole), then a single POST replaying an item's key.
  const batchItems = [
    { idempotencyKey: idemKey(), referral: referralBody({ parties: parties() }) },
    { idempotencyKey: idemKey(), referral: referralBody({ parties: parties() }) },
  ]
  const batched = await write(w.court.key, '/v1/referrals/batch', { items: batchItems })
  t.same(
    batched.items.map((i: { status: number }) => i.status),
    [201, 201],
    'batch intake',
  )
  const itemReplay = await h.call(w.court.key, {
    method: 'POST',
    url: '/v1/referrals',
    payload: batchItems[0]!.referral,
    headers: { 'idempotency-key': batchItems[0]!.idempotencyKey },
  })
  t.equal(itemReplay.headers['idempotent-replayed'], 'true', 'a batch item replayed by a single POST')

  // A standalone application, withdrawn.
  const standalone = parties()
  const c2 = await write(
    w.platform.key,
    '/v1/judicial-confirmations',
    {
      courtCode: '京0105',
      organizationId: 'bj-cy-blz',
      agreement: {
        form: 'written',
        terms: `王五修复房屋并赔偿 3000 元。${caseNumber()}`,
        amount: '3000.00',
        signatures: [
          { partyIndex: 0, signedAt },
          { partyIndex: 1, signedAt },
        ],
        mediatorSignedAt: signedAt,
        sealedAt: signedAt,
        performance: { method: 'immediate' },
      },
      parties: standalone,
      applicants: [0, 1],
      appliedAt: new Date().toISOString(),
      materials: [],
    },
    201,
  )
  await write(w.platform.key, `/v1/judicial-confirmations/${c2.id}/withdrawal`, { reason: '当事人已自动履行完毕' })

  // Warnings from both sides, one about the first referral.
  const warning = { level: 'orange', regionCode: '110105', disputeType: 'neighbor', summary: '邻里纠纷可能激化', involvedPersons: 12 }
  await write(w.court.key, '/v1/warnings', { ...warning, referralId: r1.id }, 201)
  await write(w.platform.key, '/v1/warnings', warning, 201)

  // Reads that show personal data in full (the access trail) and masked, and an exact search.
  for (const key of [w.court.key, w.platform.key, h.operatorKey]) {
    await read(key, `/v1/referrals/${r1.id}`)
    await read(key, `/v1/referrals/${r2.id}`)
    await read(key, `/v1/judicial-confirmations/${c1.id}`)
    await read(key, `/v1/judicial-confirmations/${c2.id}`)
    await read(key, `/v1/referrals/${r1.id}/events`)
  }
  const found = await read(w.court.key, `/v1/referrals?partyIdNumber=${r1Body.parties[0]!.idNumber}`)
  t.same(
    found.items.map((x: { id: string }) => x.id),
    [r1.id],
    'the blind index finds the referral',
  )
  const trail = await read(h.operatorKey, `/v1/access-log?subjectId=${r1.id}`)
  t.ok(trail.items.length >= 4, 'full views were recorded')

  // Every event pushed to both receivers.
  const pending = async () =>
    Number(
      (await sql<{ n: string }>`SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM deliveries WHERE status <> 'delivered') AS n`.execute(db)).rows[0]!
        .n,
    )
  await eventually(async () => (await pending()) === 0 && courtPeer.accepted.size > 0 && platformPeer.accepted.size > 0, 60_000, 'every delivery')
  t.ok(courtPeer.accepted.size >= 8, `the court received ${courtPeer.accepted.size} events`)
  t.ok(platformPeer.accepted.size >= 8, `the platform received ${platformPeer.accepted.size} events`)
  for (const peer of [courtPeer, platformPeer]) {
    t.same(
      sent.filter((v) => peer.requests.some((r) => r.body.includes(v))),
      [],
      'no webhook body carries personal data',
    )
  }
})

interface Hit {
  table: string
  column: string
  value: string
}

/** Every (table, column, value) where a column of a base table holds one of `values`. */
async function scan(values: string[]): Promise<{ hits: Hit[]; tables: Map<string, number>; columns: number }> {
  const { rows: columns } = await sql<{ table_schema: string; table_name: string; column_name: string; data_type: string }>`
    SELECT c.table_schema, c.table_name, c.column_name, c.data_type
    FROM information_schema.columns c
    JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
    WHERE tb.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg\\_%'
    ORDER BY c.table_schema, c.table_name, c.ordinal_position`.execute(db)
  const hits: Hit[] = []
  const tables = new Map<string, number>()
  for (const c of columns) {
    const table = sql.table(`${c.table_schema}.${c.table_name}`)
    const col = sql.ref(c.column_name)
    // bytea is searched as bytes (the values' UTF-8); everything else as its text form (jsonb, arrays, numbers…).
    const holds = c.data_type === 'bytea' ? sql`position(convert_to(v, 'UTF8') IN ${col}) > 0` : sql`strpos(${col}::text, v) > 0`
    const { rows } = await sql<{ v: string }>`
      SELECT v FROM unnest(${values}::text[]) AS v WHERE EXISTS (SELECT 1 FROM ${table} WHERE ${holds})`.execute(db)
    for (const r of rows) hits.push({ table: `${c.table_schema}.${c.table_name}`, column: c.column_name, value: r.v })
    if (!tables.has(`${c.table_schema}.${c.table_name}`)) {
      const n = await sql<{ n: string }>`SELECT count(*) AS n FROM ${table}`.execute(db)
      tables.set(`${c.table_schema}.${c.table_name}`, Number(n.rows[0]!.n))
    }
  }
  return { hits, tables, columns: columns.length }
}

t.test('no ID number, phone or address the test sent is anywhere in the database', async (t) => {
  await h.deps.accessTrail.flush()
  t.equal(sent.length, 5 * 8, 'five sets of parties were sent, eight values each (three ID numbers, three phones, two addresses)')
  const { hits, tables, columns } = await scan([...sent, materialMarker, claimMarker])
  t.comment(`scanned ${columns} columns of ${tables.size} tables`)
  for (const table of [
    'idempotency_keys',
    'access_log',
    'events',
    'outbox',
    'deliveries',
    'delivery_attempts',
    'referrals',
    'party_index',
    'judicial_confirmations',
    'warnings',
    'materials',
    'material_chunks',
    'subscriptions',
  ]) {
    t.ok(tables.has(`public.${table}`), `${table} was scanned`)
  }
  for (const table of ['idempotency_keys', 'access_log', 'events', 'deliveries', 'delivery_attempts', 'referrals', 'judicial_confirmations', 'warnings']) {
    t.ok((tables.get(`public.${table}`) ?? 0) > 0, `${table} holds the case life`)
  }
  // The controls are found, so the scan does read each kind of column.
  t.ok(
    hits.some((x) => x.value === materialMarker && x.table === 'public.material_chunks'),
    'control: a marker in a bytea column is found',
  )
  t.ok(
    hits.some((x) => x.value === claimMarker && x.table === 'public.referrals' && x.column === 'doc'),
    'control: a marker in a jsonb column is found',
  )
  t.ok(
    hits.some((x) => x.value === claimMarker && x.table === 'public.idempotency_keys' && x.column === 'response_body'),
    'control: a marker in a text column is found',
  )
  t.same(
    hits.filter((x) => sent.includes(x.value)),
    [],
    'no personal data in clear, in any table or column',
  )
})
