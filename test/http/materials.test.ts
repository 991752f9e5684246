import { createHash, randomBytes, randomFillSync } from 'node:crypto'
import http from 'node:http'
import v8 from 'node:v8'
import vm from 'node:vm'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { sql } from 'kysely'
import { buildApp } from '../../src/app.js'
import { assertMaterialsExist, linkMaterials } from '../../src/db/material-repository.js'
import { maintainMaterials } from '../../src/delivery/maintenance.js'
import { createDeps } from '../../src/deps.js'
import { AppError } from '../../src/domain/errors.js'
import { createLogger } from '../../src/logging.js'
import { idemKey, startHarness } from '../helpers/harness.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'

const h = await startHarness()
t.teardown(() => h.close())
const world = await standardWorld(h)
const sameCourtOtherClient = await h.client('court', { courtCodes: ['京0105'] })
const op = h.operatorKey

const PDF = 'application/pdf'
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

function upload(key: string, body: Buffer | string, contentType: string, title = '起诉状.pdf', extra: Record<string, string> = {}) {
  return h.call(key, {
    method: 'POST',
    url: '/v1/materials',
    payload: body,
    headers: { 'content-type': contentType, 'x-material-title': encodeURIComponent(title), 'idempotency-key': idemKey(), ...extra },
  })
}

const get = (key: string, id: string) => h.call(key, { method: 'GET', url: `/v1/materials/${id}` })

async function countMaterials(): Promise<{ complete: number; uploading: number; chunks: number }> {
  const r = await sql<{ complete: number; uploading: number; chunks: number }>`
    SELECT (SELECT count(*)::int FROM materials WHERE status = 'complete') AS complete,
           (SELECT count(*)::int FROM materials WHERE status = 'uploading') AS uploading,
           (SELECT count(*)::int FROM material_chunks) AS chunks`.execute(h.deps.db)
  return r.rows[0]
}

const pdfBytes = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(700 * 1024)])
// A title with an Extension-B character and a middle dot must round-trip exactly.
const title = '𠀀阿依古丽·买买提的起诉状（第1版）.pdf'
const first = await upload(world.court.key, pdfBytes, PDF, title)
const firstId: string = first.json().id

t.test('upload answers 201 with the digest, size, type and title', async (t) => {
  t.equal(first.statusCode, 201, first.body)
  const b = first.json()
  t.match(b.id, /^[0-9a-f-]{36}$/)
  t.same(b, { id: b.id, sha256: sha(pdfBytes), sizeBytes: pdfBytes.length, contentType: PDF, title })
  t.equal(first.headers.location, `/v1/materials/${b.id}`)
  // Stored in 256 KiB chunks.
  const chunks = await h.deps.db
    .selectFrom('material_chunks')
    .select(['seq', sql<number>`length(data)`.as('len')])
    .where('material_id', '=', b.id)
    .orderBy('seq')
    .execute()
  t.same(
    chunks.map((c) => c.len),
    [262144, 262144, pdfBytes.length - 2 * 262144],
  )
})

t.test('download streams the bytes back to the uploader', async (t) => {
  const res = await get(world.court.key, firstId)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], PDF)
  t.equal(Number(res.headers['content-length']), pdfBytes.length)
  t.equal(res.headers.etag, `"${sha(pdfBytes)}"`)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.match(String(res.headers['content-disposition']), /^attachment; filename\*=UTF-8''/)
  t.ok(res.rawPayload.equals(pdfBytes), 'same bytes')
})

t.test('every allowed type is accepted; anything else is 415', async (t) => {
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 9])
  for (const [type, body] of [
    ['image/jpeg', jpeg],
    ['image/png', png],
    ['application/ofd', Buffer.from('PK\u0003\u0004ofd')],
    [DOCX, Buffer.from('PK\u0003\u0004docx')],
    ['application/pdf; charset=binary', Buffer.from('%PDF-')],
  ] as const) {
    const res = await upload(world.platform.key, body, type, 'x')
    t.equal(res.statusCode, 201, `${type}: ${res.body}`)
    t.equal(res.json().contentType, type.split(';')[0])
    const back = await get(world.platform.key, res.json().id)
    t.equal(back.headers['content-type'], type.split(';')[0])
    t.ok(back.rawPayload.equals(body))
  }
  const before = await countMaterials()
  // Content that does not start with its declared type's magic number is refused on its first bytes.
  for (const [type, body] of [
    [PDF, Buffer.from('PK\u0003\u0004not a pdf')],
    [PDF, Buffer.from('%PD')],
    ['image/png', jpeg],
    ['image/jpeg', png],
    ['application/ofd', Buffer.from('%PDF-1.7')],
    [DOCX, Buffer.from('PK\u0005\u0006')],
    [DOCX, Buffer.from('PK')],
  ] as const) {
    const res = await upload(world.court.key, body, type, 'x')
    t.equal(res.statusCode, 415, `${type} ${JSON.stringify(body.toString('latin1'))}`)
    t.equal(res.json().code, 'content_type_mismatch')
    t.match(res.headers['content-type'], /application\/problem\+json/)
  }
  for (const [type, body] of [
    ['text/plain', 'hello'],
    ['application/json', '{"a":1}'],
    ['application/zip', 'PK'],
    ['image/gif', 'GIF89a'],
    ['application/x-www-form-urlencoded', 'a=1'],
    ['text/html', '<script>'],
  ]) {
    const res = await upload(world.court.key, body, type)
    t.equal(res.statusCode, 415, type)
    t.equal(res.json().code, 'unsupported_media_type', type)
    t.match(res.headers['content-type'], /application\/problem\+json/)
  }
  const noType = await h.call(world.court.key, {
    method: 'POST',
    url: '/v1/materials',
    payload: Buffer.from('abc'),
    headers: { 'idempotency-key': idemKey(), 'x-material-title': 'a' },
  })
  t.equal(noType.statusCode, 415, noType.body)
  t.same(await countMaterials(), before, 'nothing stored')
})

t.test('roles, headers and empty bodies', async (t) => {
  const asOperator = await upload(op, Buffer.from('%PDF'), PDF)
  t.equal(asOperator.statusCode, 403)
  t.equal((await h.call(null, { method: 'POST', url: '/v1/materials', payload: Buffer.from('%PDF'), headers: { 'content-type': PDF } })).statusCode, 401)

  const noKey = await h.call(world.court.key, {
    method: 'POST',
    url: '/v1/materials',
    payload: Buffer.from('%PDF'),
    headers: { 'content-type': PDF, 'x-material-title': 'a' },
  })
  t.equal(noKey.statusCode, 400)
  t.equal(noKey.json().code, 'idempotency_key_required')

  const noTitle = await h.call(world.court.key, {
    method: 'POST',
    url: '/v1/materials',
    payload: Buffer.from('%PDF'),
    headers: { 'content-type': PDF, 'idempotency-key': idemKey() },
  })
  t.equal(noTitle.statusCode, 400)
  t.equal(noTitle.json().errors[0].path, '/headers/x-material-title')

  for (const bad of ['%E4%B8', '%ZZ', encodeURIComponent('a'.repeat(201)), '', encodeURIComponent('a\nb')]) {
    const res = await upload(world.court.key, Buffer.from('%PDF'), PDF, 'x', { 'x-material-title': bad })
    t.equal(res.statusCode, 400, `title ${JSON.stringify(bad)}`)
  }
  const empty = await upload(world.court.key, Buffer.alloc(0), PDF)
  t.equal(empty.statusCode, 400, empty.body)
  t.equal((await get(world.court.key, firstId)).statusCode, 200)
  t.equal((await countMaterials()).uploading, 0, 'refused uploads leave nothing behind')
  t.equal((await h.call(world.court.key, { method: 'GET', url: `/v1/materials/${firstId}?x=1` })).statusCode, 400, 'unknown query parameter')
})

t.test('idempotency: replay after streaming, different content refused', async (t) => {
  const key = idemKey()
  const body = Buffer.from('%PDF-1.4 idempotent')
  const send = (b: Buffer, ttl = 'a.pdf') =>
    h.call(world.court.key, {
      method: 'POST',
      url: '/v1/materials',
      payload: b,
      headers: { 'content-type': PDF, 'x-material-title': ttl, 'idempotency-key': key },
    })
  const before = (await countMaterials()).complete
  const one = await send(body)
  t.equal(one.statusCode, 201)
  const two = await send(body)
  t.equal(two.statusCode, 201)
  t.equal(two.headers['idempotent-replayed'], 'true')
  t.equal(two.body, one.body, 'the stored answer, byte for byte')
  t.equal((await countMaterials()).complete, before + 1, 'one material')
  const other = await send(Buffer.from('%PDF-1.4 something else'))
  t.equal(other.statusCode, 422)
  t.equal(other.json().code, 'idempotency_key_reused')
  const otherTitle = await send(body, 'b.pdf')
  t.equal(otherTitle.statusCode, 422)
  const c = await countMaterials()
  t.equal(c.complete, before + 1)
  t.equal(c.uploading, 0)

  // Parallel identical uploads with one key: exactly one material, the others replay or are told to wait.
  const key2 = idemKey()
  const results = await Promise.all(
    Array.from({ length: 8 }, () =>
      h.call(world.court.key, {
        method: 'POST',
        url: '/v1/materials',
        payload: body,
        headers: { 'content-type': PDF, 'x-material-title': 'p.pdf', 'idempotency-key': key2 },
      }),
    ),
  )
  const ids = new Set(results.filter((r) => r.statusCode === 201).map((r) => r.json().id))
  t.equal(ids.size, 1)
  t.ok(results.every((r) => r.statusCode === 201 || (r.statusCode === 409 && r.json().code === 'idempotency_key_in_use')))
  t.equal((await countMaterials()).complete, before + 2)
})

t.test('BOLA: only the uploader and readers of a referencing case', async (t) => {
  for (const [who, key] of [
    ['another court', world.otherCourt.key],
    ['another client of the same court', sameCourtOtherClient.key],
    ['the platform (no case references it yet)', world.platform.key],
    ['another region’s platform', world.otherPlatform.key],
    ['an operator (no case references it yet)', op],
  ] as const) {
    const res = await get(key, firstId)
    t.equal(res.statusCode, 404, who)
    t.equal(res.json().code, 'not_found')
  }
  for (const id of ['nope', '00000000-0000-7000-8000-000000000000']) t.equal((await get(world.court.key, id)).statusCode, 404)

  const ref = await post(h, world.court.key, '/v1/referrals', referralBody())
  t.equal(ref.statusCode, 201, ref.body)
  await h.deps.db.transaction().execute(async (trx) => {
    await assertMaterialsExist(trx, [firstId], {
      clientId: world.court.id,
      role: 'court',
      name: 'c',
      courtCodes: ['京0105'],
      organizationIds: [],
      regionCodes: [],
    })
    await linkMaterials(trx, 'referral', ref.json().id, [firstId])
    await linkMaterials(trx, 'referral', ref.json().id, [firstId])
  })
  for (const [who, key, status] of [
    ['the platform holding the referral', world.platform.key, 200],
    ['another client of the referring court', sameCourtOtherClient.key, 200],
    ['an operator', op, 200],
    ['another court', world.otherCourt.key, 404],
    ['another region’s platform', world.otherPlatform.key, 404],
  ] as const) {
    const res = await get(key, firstId)
    t.equal(res.statusCode, status, who)
    if (status === 200) t.ok(res.rawPayload.equals(pdfBytes))
  }
})

t.test('assertMaterialsExist and linkMaterials', async (t) => {
  const missing = '00000000-0000-7000-8000-00000000abcd'
  const refused = await h.deps.db
    .transaction()
    .execute((trx) => assertMaterialsExist(trx, [firstId, missing, 'not-a-uuid']))
    .then(
      () => null,
      (err: unknown) => err,
    )
  t.ok(refused instanceof AppError)
  t.equal((refused as AppError).status, 422)
  t.equal((refused as AppError).code, 'unknown_material')
  t.same((refused as AppError).extra, { materialIds: [missing, 'not-a-uuid'] })
  t.match((refused as AppError).detail, missing)
  await h.deps.db.transaction().execute((trx) => assertMaterialsExist(trx, [firstId, firstId]))
  await h.deps.db.transaction().execute((trx) => assertMaterialsExist(trx, []))
  // A principal may only reference materials it may read: another region's platform may not quote the id.
  const stranger = { clientId: world.otherPlatform.id, role: 'mediation' as const, name: 'x', courtCodes: [], organizationIds: [], regionCodes: ['44'] }
  const hidden = await h.deps.db
    .transaction()
    .execute((trx) => assertMaterialsExist(trx, [firstId], stranger))
    .then(
      () => null,
      (err: unknown) => err,
    )
  t.equal((hidden as AppError | null)?.code, 'unknown_material')
  const reader = { clientId: world.platform.id, role: 'mediation' as const, name: 'x', courtCodes: [], organizationIds: [], regionCodes: ['11'] }
  await h.deps.db.transaction().execute((trx) => assertMaterialsExist(trx, [firstId], reader))
  const links = await h.deps.db.selectFrom('material_links').selectAll().where('material_id', '=', firstId).execute()
  t.equal(links.length, 1, 'linking twice is a no-op')
})

t.test('abandoned uploads are swept by the maintenance step', async (t) => {
  const stale = '00000000-0000-7000-8000-0000000000aa'
  await sql`INSERT INTO materials (id, client_id, client_role, content_type, title, chunk_size, status, created_at)
            VALUES (${stale}, ${world.court.id}, 'court', 'application/pdf', 'x', 262144, 'uploading', now() - interval '2 hours')`.execute(h.deps.db)
  await sql`INSERT INTO material_chunks (material_id, seq, data) VALUES (${stale}, 0, '\\x00')`.execute(h.deps.db)
  t.equal((await upload(world.court.key, Buffer.from('%PDF-'), PDF)).statusCode, 201)
  const pass = await maintainMaterials({ db: h.deps.db, logger: h.deps.logger }, { orphanTtlHours: 72 })
  t.equal(pass.abandoned, 1)
  t.equal((await countMaterials()).uploading, 0)
  const orphan = await sql<{ n: number }>`SELECT count(*)::int AS n FROM material_chunks WHERE material_id = ${stale}`.execute(h.deps.db)
  t.equal(orphan.rows[0].n, 0)
})

t.test('stored in PostgreSQL: a fresh process serves it', async (t) => {
  const deps = await createDeps(h.config, createLogger('silent'))
  const app = await buildApp(deps)
  t.teardown(async () => {
    await app.close()
    await deps.close()
  })
  const res = await app.inject({ method: 'GET', url: `/v1/materials/${firstId}`, headers: { authorization: `Bearer ${world.court.key}` } })
  t.equal(res.statusCode, 200)
  t.ok(res.rawPayload.equals(pdfBytes))
})

// ---------------------------------------------------------------------------------------------
// Over real HTTP: streaming both ways, memory, and the size limit.

await h.app.listen({ port: 0, host: '127.0.0.1' })
const port = (h.app.server.address() as AddressInfo).port

/** A body of `size` pseudo-random bytes produced on demand (never held whole), hashing as it goes. */
function generated(size: number, onChunk?: () => Promise<void> | void): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256')
  let left = size
  let first = true
  const stream = new Readable({
    read() {
      if (left === 0) return void this.push(null)
      const n = Math.min(64 * 1024, left)
      const b = randomFillSync(Buffer.allocUnsafe(n))
      // A PDF's magic number first, as the upload checks.
      if (first) b.write('%PDF-1.7\n', 'latin1')
      first = false
      left -= n
      hash.update(b)
      const pending = onChunk?.()
      if (pending) void pending.then(() => this.push(b))
      else this.push(b)
    },
  })
  return { stream, digest: () => hash.digest('hex') }
}

function httpUpload(body: Readable, headers: Record<string, string | number>): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/materials',
      headers: { authorization: `Bearer ${world.court.key}`, 'idempotency-key': idemKey(), 'x-material-title': 'big.pdf', 'content-type': PDF, ...headers },
    })
    req.on('response', (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') }))
    })
    req.on('error', (err) => {
      // The server may close the connection after answering 413 while the body is still being sent.
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE' && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err)
    })
    pipeline(body, req).catch(() => undefined)
  })
}

t.test('a 30 MiB upload streams through without buffering', async (t) => {
  // Every 2 MiB (and once at the end) the garbage — socket reads, chunk buffers — is collected and what the process
  // still holds is sampled: buffering the body would keep up to 30 MiB alive, streaming about one chunk (0–1 MiB
  // measured). RSS is watched as well, loosely: it also reflects pages freed earlier in the run.
  v8.setFlagsFromString('--expose_gc')
  const gc = vm.runInNewContext('gc') as () => void
  const size = 30 * 1024 * 1024
  // After a collection, buffers are freed by a background sweeper: let it finish before reading the figures.
  const settle = async () => {
    gc()
    await new Promise((r) => setTimeout(r, 20))
    gc()
  }
  await settle()
  const base = process.memoryUsage()
  let peakRss = base.rss
  let retained = 0
  let n = 0
  const sample = async () => {
    const collect = ++n % 32 === 0
    if (collect) await settle()
    const m = process.memoryUsage()
    peakRss = Math.max(peakRss, m.rss)
    if (collect) retained = Math.max(retained, m.arrayBuffers - base.arrayBuffers)
  }
  const { stream, digest } = generated(size, sample)
  const res = await httpUpload(stream, {})
  n = 31
  await sample()
  t.equal(res.status, 201, JSON.stringify(res.json))
  t.equal(res.json.sizeBytes, size)
  t.equal(res.json.sha256, digest())
  t.ok(n >= 32, 'sampled throughout the upload')
  const rssGrowth = (peakRss - base.rss) / 1024 / 1024
  const held = retained / 1024 / 1024
  t.ok(rssGrowth < 20, `RSS grew by ${rssGrowth.toFixed(1)} MiB during a 30 MiB upload (limit 20)`)
  t.ok(held < 10, `at most ${held.toFixed(1)} MiB of buffers held during a 30 MiB upload (limit 10)`)

  // Download over HTTP, hashing as it arrives.
  const down = await new Promise<{ status: number; sha: string; bytes: number }>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: `/v1/materials/${res.json.id}`, headers: { authorization: `Bearer ${world.court.key}` } }, (r) => {
        const hash = createHash('sha256')
        let bytes = 0
        r.on('data', (c: Buffer) => {
          hash.update(c)
          bytes += c.length
        })
        r.on('end', () => resolve({ status: r.statusCode ?? 0, sha: hash.digest('hex'), bytes }))
      })
      .on('error', reject)
  })
  t.same(down, { status: 200, sha: res.json.sha256, bytes: size })
})

t.test('above 50 MiB: 413, from the declared length or while streaming, nothing kept', async (t) => {
  const limit = 50 * 1024 * 1024
  const before = await countMaterials()
  // Declared too large: refused before any byte is stored.
  const declared = await httpUpload(generated(1024).stream, { 'content-length': limit + 1 })
  t.equal(declared.status, 413)
  t.equal(declared.json.code, 'payload_too_large')
  // Sent without a length (chunked): refused once the 50 MiB + 1st byte arrives.
  const streamed = await httpUpload(generated(limit + 1).stream, { 'transfer-encoding': 'chunked' })
  t.equal(streamed.status, 413)
  t.equal(streamed.json.code, 'payload_too_large')
  t.same(await countMaterials(), before, 'no material, no chunk left behind')
  // Exactly 50 MiB is allowed.
  const { stream, digest } = generated(limit)
  const exact = await httpUpload(stream, {})
  t.equal(exact.status, 201, JSON.stringify(exact.json))
  t.equal(exact.json.sha256, digest())
})

t.test('a client that goes away mid-body leaves nothing behind', async (t) => {
  const before = await countMaterials()
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/v1/materials',
    headers: {
      authorization: `Bearer ${world.court.key}`,
      'idempotency-key': idemKey(),
      'x-material-title': 'cut.pdf',
      'content-type': PDF,
      'content-length': 8 * 1024 * 1024,
    },
  })
  req.on('error', () => undefined)
  req.write(Buffer.from('%PDF-1.7\n'))
  for (let i = 0; i < 16; i++) req.write(randomBytes(64 * 1024))
  // Wait until the server has started storing the upload, then hang up.
  for (let i = 0; i < 200 && (await countMaterials()).uploading === 0; i++) await new Promise((r) => setTimeout(r, 10))
  t.equal((await countMaterials()).uploading, 1, 'the upload had begun')
  req.destroy()
  let now = await countMaterials()
  for (let i = 0; i < 300 && (now.uploading > 0 || now.chunks !== before.chunks); i++) {
    await new Promise((r) => setTimeout(r, 10))
    now = await countMaterials()
  }
  t.same(now, before, 'the partial upload and its chunks are gone')
})
