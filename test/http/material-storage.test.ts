// Material storage limits (reliability row 29): the per-client quota, expiry of materials no case references, and
// the cleanup of half-written uploads at start-up and by the worker.
import { randomBytes, randomFillSync } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { sql } from 'kysely'
import { uuidv7 } from 'uuidv7'
import { boot } from '../../src/boot.js'
import { assertMaterialsExist, expireOrphanMaterials, linkMaterials, storedBytes } from '../../src/db/material-repository.js'
import { maintainMaterials, removeHalfWrittenUploads } from '../../src/delivery/maintenance.js'
import { AppError } from '../../src/domain/errors.js'
import { startWorkers } from '../../src/worker-runtime.js'
import { idemKey, REDIS_URL, startHarness } from '../helpers/harness.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'

const QUOTA = 1024 * 1024
const h = await startHarness({ env: { MATERIAL_QUOTA_BYTES_PER_CLIENT: String(QUOTA) } })
t.teardown(() => h.close())
const world = await standardWorld(h)

const PDF = 'application/pdf'
const KiB = 1024
const pdf = (size: number) => Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(size - 9)])
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function upload(key: string, body: Buffer, idempotencyKey = idemKey()) {
  return h.call(key, {
    method: 'POST',
    url: '/v1/materials',
    payload: body,
    headers: { 'content-type': PDF, 'x-material-title': 'a.pdf', 'idempotency-key': idempotencyKey },
  })
}

async function counts(): Promise<{ complete: number; uploading: number; chunks: number }> {
  const r = await sql<{ complete: number; uploading: number; chunks: number }>`
    SELECT (SELECT count(*)::int FROM materials WHERE status = 'complete') AS complete,
           (SELECT count(*)::int FROM materials WHERE status <> 'complete') AS uploading,
           (SELECT count(*)::int FROM material_chunks) AS chunks`.execute(h.deps.db)
  return r.rows[0]
}

const exists = async (id: string) => (await h.deps.db.selectFrom('materials').select('id').where('id', '=', id).executeTakeFirst()) !== undefined

/** Makes a material look uploaded `hours` ago. */
const age = (id: string, hours: number) =>
  sql`UPDATE materials SET created_at = now() - make_interval(hours => ${hours}), completed_at = now() - make_interval(hours => ${hours})
      WHERE id = ${id}`.execute(h.deps.db)

/** A half-written upload (status not complete) with one chunk, started `minutes` ago. */
async function halfWritten(clientId: string, minutes: number): Promise<string> {
  const id = uuidv7()
  await sql`INSERT INTO materials (id, client_id, client_role, content_type, title, chunk_size, status, created_at)
            VALUES (${id}, ${clientId}, 'court', 'application/pdf', 'x', 262144, 'uploading', now() - make_interval(mins => ${minutes}))`.execute(h.deps.db)
  await sql`INSERT INTO material_chunks (material_id, seq, data) VALUES (${id}, 0, ${Buffer.from('%PDF-1.7')})`.execute(h.deps.db)
  return id
}

t.test('quota: an upload that would pass it answers 507 quota_exceeded and stores nothing', async (t) => {
  const firstKey = idemKey()
  const firstBody = pdf(600 * KiB)
  const first = await upload(world.court.key, firstBody, firstKey)
  t.equal(first.statusCode, 201, first.body)

  const before = await counts()
  const over = await upload(world.court.key, pdf(600 * KiB))
  t.equal(over.statusCode, 507, over.body)
  t.match(over.headers['content-type'], /application\/problem\+json/)
  t.match(over.json(), { status: 507, code: 'quota_exceeded', title: 'Insufficient Storage', quotaBytes: QUOTA, usedBytes: 600 * KiB })
  t.same(await counts(), before, 'no material, no half-written row, no chunk')
  t.equal(await storedBytes(h.deps.db, world.court.id), 600 * KiB)
  t.ok(
    h.logs.lines.some((l) => l.includes('quota exceeded') && l.includes('"level":40')),
    'logged as a warning',
  )

  // Another client has its own quota; what still fits is accepted.
  t.equal((await upload(world.platform.key, pdf(600 * KiB))).statusCode, 201)
  t.equal((await upload(world.court.key, pdf(300 * KiB))).statusCode, 201)
  t.equal(await storedBytes(h.deps.db, world.court.id), 900 * KiB)

  // A retry of an upload that was stored replays its answer, full quota or not.
  const replay = await upload(world.court.key, firstBody, firstKey)
  t.equal(replay.statusCode, 201, replay.body)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.body, first.body)
  t.equal(await storedBytes(h.deps.db, world.court.id), 900 * KiB)
})

t.test('quota: two uploads that each fit but not together: one is refused', async (t) => {
  const client = await h.client('court', { courtCodes: ['京0105'] })
  t.equal((await upload(client.key, pdf(600 * KiB))).statusCode, 201)
  const both = await Promise.all([upload(client.key, pdf(300 * KiB)), upload(client.key, pdf(300 * KiB))])
  t.same(both.map((r) => r.statusCode).sort(), [201, 507], both.map((r) => r.body).join('\n'))
  t.equal(await storedBytes(h.deps.db, client.id), 900 * KiB)
  t.equal((await counts()).uploading, 0)
})

t.test('quota: a streamed body is refused as soon as it passes the quota, not after reading it all', async (t) => {
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (h.app.server.address() as AddressInfo).port
  const client = await h.client('court', { courtCodes: ['京0105'] })
  const before = await counts()
  const total = 40 * 1024 * 1024
  let produced = 0
  const body = new Readable({
    read() {
      if (produced >= total) return void this.push(null)
      const b = randomFillSync(Buffer.allocUnsafe(64 * KiB))
      if (produced === 0) b.write('%PDF-1.7\n', 'latin1')
      produced += b.length
      this.push(b)
    },
  })
  const res = await new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/materials',
      headers: {
        authorization: `Bearer ${client.key}`,
        'idempotency-key': idemKey(),
        'x-material-title': 'big.pdf',
        'content-type': PDF,
        'transfer-encoding': 'chunked',
      },
    })
    req.on('response', (r) => {
      const parts: Buffer[] = []
      r.on('data', (c: Buffer) => parts.push(c))
      r.on('end', () => resolve({ status: r.statusCode ?? 0, json: JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') }))
    })
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE' && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err)
    })
    pipeline(body, req).catch(() => undefined)
  })
  t.equal(res.status, 507, JSON.stringify(res.json))
  t.equal(res.json.code, 'quota_exceeded')
  t.ok(produced < total / 4, `refused after ${(produced / 1024 / 1024).toFixed(1)} MiB of a 40 MiB body (quota 1 MiB)`)
  let now = await counts()
  for (let i = 0; i < 100 && (now.uploading !== before.uploading || now.chunks !== before.chunks); i++) {
    await sleep(10)
    now = await counts()
  }
  t.same(now, before, 'nothing left behind')
  // A declared length over the quota is refused before any byte is read.
  const declared = await h.call(client.key, {
    method: 'POST',
    url: '/v1/materials',
    payload: pdf(QUOTA + 1),
    headers: { 'content-type': PDF, 'x-material-title': 'a.pdf', 'idempotency-key': idemKey() },
  })
  t.equal(declared.statusCode, 507)
  t.same(await counts(), before)
})

t.test('magic numbers: content that is not of its declared type answers 415', async (t) => {
  const client = await h.client('mediation', { regionCodes: ['11'] })
  const before = await counts()
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])
  for (const [type, body] of [
    [PDF, png],
    ['image/png', Buffer.from('%PDF-1.7 not an image')],
    ['image/jpeg', Buffer.from('GIF89a')],
    ['application/ofd', Buffer.from('<?xml version="1.0"?><ofd:OFD/>')],
    ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', Buffer.from('{\\rtf1 not a docx}')],
    [PDF, Buffer.concat([Buffer.from('MZ'), randomBytes(400 * KiB)])],
  ] as const) {
    const res = await h.call(client.key, {
      method: 'POST',
      url: '/v1/materials',
      payload: body,
      headers: { 'content-type': type, 'x-material-title': 'x', 'idempotency-key': idemKey() },
    })
    t.equal(res.statusCode, 415, type)
    t.equal(res.json().code, 'content_type_mismatch')
  }
  t.same(await counts(), before, 'nothing stored')
  t.equal(
    (
      await h.call(client.key, {
        method: 'POST',
        url: '/v1/materials',
        payload: png,
        headers: { 'content-type': 'image/png', 'x-material-title': 'x', 'idempotency-key': idemKey() },
      })
    ).statusCode,
    201,
    'the same bytes under their own type are accepted',
  )
})

t.test('orphan expiry: an old unreferenced material goes; referenced and young ones stay', async (t) => {
  const client = await h.client('court', { courtCodes: ['京0105'] })
  const up = async () => {
    const res = await upload(client.key, pdf(2 * KiB))
    t.equal(res.statusCode, 201, res.body)
    return res.json().id as string
  }
  const [orphan, byReferral, byConfirmation, young, almost] = [await up(), await up(), await up(), await up(), await up()]
  const ref = await post(h, client.key, '/v1/referrals', referralBody({ materials: [{ materialId: byReferral }] }))
  t.equal(ref.statusCode, 201, ref.body)
  await h.deps.db.transaction().execute((trx) => linkMaterials(trx, 'judicial_confirmation', uuidv7(), [byConfirmation]))
  for (const id of [orphan, byReferral, byConfirmation]) await age(id, 73)
  await age(almost, 71)
  const usedBefore = await storedBytes(h.deps.db, client.id)

  const pass = await maintainMaterials({ db: h.deps.db, logger: h.deps.logger }, { orphanTtlHours: 72 })
  t.equal(pass.expired, 1)
  t.equal(pass.expiredBytes, 2 * KiB)
  t.notOk(await exists(orphan), 'the old unreferenced material is gone')
  const chunks = await sql<{ n: number }>`SELECT count(*)::int AS n FROM material_chunks WHERE material_id = ${orphan}`.execute(h.deps.db)
  t.equal(chunks.rows[0].n, 0, 'with its chunks')
  t.equal((await h.call(client.key, { method: 'GET', url: `/v1/materials/${orphan}` })).statusCode, 404)
  for (const [what, id] of [
    ['referenced by a referral', byReferral],
    ['referenced by a confirmation application', byConfirmation],
    ['young', young],
    ['71 hours old', almost],
  ] as const) {
    t.equal((await h.call(client.key, { method: 'GET', url: `/v1/materials/${id}` })).statusCode, 200, what)
  }
  t.equal(await storedBytes(h.deps.db, client.id), usedBefore - 2 * KiB, 'the quota is freed')
  t.ok(
    h.logs.lines.some((l) => l.includes('expired materials no case references') && l.includes(orphan)),
    'the expiry is logged',
  )
  t.same(await maintainMaterials({ db: h.deps.db, logger: h.deps.logger }, { orphanTtlHours: 72 }), { abandoned: 0, expired: 0, expiredBytes: 0 }, 'idempotent')
})

t.test('orphan expiry is safe against a case linking the material at the same moment', async (t) => {
  const client = await h.client('court', { courtCodes: ['京0105'] })
  const up = async () => (await upload(client.key, pdf(KiB))).json().id as string
  const [checked, linkedOnly, removed] = [await up(), await up(), await up()]
  for (const id of [checked, linkedOnly, removed]) await age(id, 100)

  // A case transaction that has quoted (and linked) the materials but not committed: the expiry skips them.
  await h.deps.db.transaction().execute(async (trx) => {
    await assertMaterialsExist(trx, [checked])
    await linkMaterials(trx, 'referral', uuidv7(), [checked])
    await linkMaterials(trx, 'judicial_confirmation', uuidv7(), [linkedOnly])
    const during = await expireOrphanMaterials(h.deps.db, 72)
    t.same(
      during.map((m) => m.id),
      [removed],
      'only the material no case is quoting',
    )
  })
  t.ok((await exists(checked)) && (await exists(linkedOnly)), 'both kept')
  t.same(await expireOrphanMaterials(h.deps.db, 72), [], 'and referenced once the case commits')

  // The other order: a case quoting a material the expiry is removing waits, then finds it missing (422, not a 500).
  const doomed = await up()
  await age(doomed, 100)
  let locked!: () => void
  const isLocked = new Promise<void>((r) => (locked = r))
  let release!: () => void
  const released = new Promise<void>((r) => (release = r))
  const expiry = h.deps.db.transaction().execute(async (trx) => {
    await trx.selectFrom('materials').select('id').where('id', '=', doomed).forUpdate().execute()
    await trx.deleteFrom('materials').where('id', '=', doomed).execute()
    locked()
    await released
  })
  await isLocked
  const linking = h.deps.db
    .transaction()
    .execute(async (trx) => {
      await assertMaterialsExist(trx, [doomed])
      await linkMaterials(trx, 'referral', uuidv7(), [doomed])
    })
    .then(
      () => null,
      (err: unknown) => err,
    )
  await sleep(100)
  release()
  await expiry
  const err = await linking
  t.ok(err instanceof AppError, String(err))
  t.equal((err as AppError).code, 'unknown_material')
})

t.test('half-written uploads are removed at start-up and by the worker, young ones kept', async (t) => {
  const stale = await halfWritten(world.court.id, 60)
  const live = await halfWritten(world.court.id, 1)
  t.equal(await removeHalfWrittenUploads({ db: h.deps.db, logger: h.deps.logger }), 1)
  t.notOk(await exists(stale), 'the stale upload is gone')
  const chunks = await sql<{ n: number }>`SELECT count(*)::int AS n FROM material_chunks WHERE material_id = ${stale}`.execute(h.deps.db)
  t.equal(chunks.rows[0].n, 0, 'with its chunks')
  t.ok(await exists(live), 'an upload a live request may still be writing is kept')

  t.test('start-up (boot) removes what a crash left', async (t) => {
    const crashed = await halfWritten(world.court.id, 30)
    const saved = { ...process.env }
    t.teardown(() => {
      process.env = saved
    })
    // The harness's data key: boot refuses to start when stored data needs a key it does not have.
    Object.assign(process.env, {
      DATABASE_URL: h.db.url,
      DATABASE_POOL_SIZE: '2',
      REDIS_URL,
      QUEUE_PREFIX: h.prefix,
      LOG_LEVEL: 'silent',
      DATA_KEYS: h.config.dataKeys,
    })
    delete process.env.NODE_ENV
    const booted = await boot()
    await booted.deps.close()
    t.notOk(await exists(crashed))
    t.ok(await exists(live))
  })

  t.test('the worker step removes half-written uploads and expires orphans', async (t) => {
    const crashed = await halfWritten(world.court.id, 30)
    const client = await h.client('court', { courtCodes: ['京0105'] })
    const orphan = (await upload(client.key, pdf(KiB))).json().id as string
    await age(orphan, 24 * 30)
    const workers = startWorkers(h.deps, { materialsIntervalMs: 60_000 })
    t.teardown(() => workers.close())
    for (let i = 0; i < 500 && ((await exists(crashed)) || (await exists(orphan))); i++) await sleep(20)
    t.notOk(await exists(crashed), 'half-written upload removed')
    t.notOk(await exists(orphan), 'orphan expired')
    t.ok(await exists(live))
  })
})
