/**
 * The integrator kit (`zdz-connector/client`): the webhook verifier against the Standard Webhooks test vector and the
 * service's own signer (both algorithms, rotation, tampering, clock tolerance), a real delivery verified by it, the typed
 * client against a listening service (Idempotency-Key, If-Match, ETag, typed problems), the package's `exports` map
 * (self-reference import of the compiled client, which imports no server code) and the generated types being current.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import ts from 'typescript'
import {
  createClient,
  type Jwk,
  ProblemError,
  ReceiptVerificationError,
  signWebhook,
  verifyReceipt,
  verifyWebhook,
  WebhookVerificationError,
} from '../../src/client/index.js'
import { signatureHeader, webhookHeaders } from '../../src/delivery/signing.js'
import { startEngine } from '../helpers/delivery.js'
import { organizationBody, referralBody } from '../helpers/fixtures.js'
import { startHarness, TEST_DIR } from '../helpers/harness.js'
import { eventually, startPeer } from '../helpers/peer.js'

const ROOT = path.resolve(TEST_DIR, '../..')

t.test('Standard Webhooks test vector (the specification’s example)', async (t) => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek'
  const timestamp = 1614265330
  const body = '{"test": 2432232314}'
  const expected = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
  t.equal(signWebhook({ secret, id, timestamp, body }), expected, 'our signer reproduces the vector')
  const headers = { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': expected }
  const now = new Date(timestamp * 1000)
  const ok = verifyWebhook({ secret, headers, body, now })
  t.same(ok, { id, timestamp, payload: { test: 2432232314 } })
  // The secret without its prefix works too, as in the reference libraries.
  t.ok(verifyWebhook({ secret: secret.slice(6), headers, body, now }))
  // Several signatures, one of them right (rotation), in any order.
  t.ok(verifyWebhook({ secret, headers: { ...headers, 'webhook-signature': `v1,Zm9v ${expected} v2,bar` }, body, now }))
  const code = (run: () => unknown) => {
    try {
      run()
      return 'accepted'
    } catch (e) {
      return e instanceof WebhookVerificationError ? e.code : `unexpected: ${String(e)}`
    }
  }
  t.equal(
    code(() => verifyWebhook({ secret, headers, body: '{"test": 2432232315}', now })),
    'invalid_signature',
    'altered body',
  )
  t.equal(
    code(() => verifyWebhook({ secret, headers: { ...headers, 'webhook-id': 'msg_other' }, body, now })),
    'invalid_signature',
    'other id',
  )
  t.equal(
    code(() => verifyWebhook({ secret: 'whsec_' + Buffer.alloc(24, 1).toString('base64'), headers, body, now })),
    'invalid_signature',
    'other secret',
  )
  t.equal(
    code(() => verifyWebhook({ secret, headers, body, now, algorithm: 'hmac-sm3' })),
    'invalid_signature',
    'a v1 signature never satisfies sm3',
  )
  t.equal(
    code(() => verifyWebhook({ secret, headers, body, now: new Date((timestamp + 301) * 1000) })),
    'timestamp_too_old',
  )
  t.equal(
    code(() => verifyWebhook({ secret, headers, body, now: new Date((timestamp - 301) * 1000) })),
    'timestamp_too_new',
  )
  t.equal(
    code(() => verifyWebhook({ secret, headers, body, now: new Date((timestamp + 3600) * 1000), toleranceSeconds: 3600 })),
    'accepted',
    'tolerance',
  )
  t.equal(
    code(() => verifyWebhook({ secret, headers: { ...headers, 'webhook-timestamp': '16142x' }, body, now })),
    'invalid_timestamp',
  )
  t.equal(
    code(() => verifyWebhook({ secret, headers: { 'webhook-id': id, 'webhook-timestamp': String(timestamp) }, body, now })),
    'missing_headers',
  )
  t.equal(
    code(() => verifyWebhook({ secret: 'whsec_***', headers, body, now })),
    'invalid_secret',
  )
  // A fetch Headers object works as well as Node's header record.
  t.ok(verifyWebhook({ secret, headers: new Headers(headers), body: Buffer.from(body), now }))
})

t.test('round trips with the service’s own signer, both algorithms, during a rotation', async (t) => {
  const oldSecret = 'whsec_' + randomBytes(32).toString('base64')
  const newSecret = 'whsec_' + randomBytes(32).toString('base64')
  const body = JSON.stringify({ id: '0193', type: 'referral.accepted', data: { 名称: '调解' } })
  const timestamp = Math.floor(Date.now() / 1000)
  for (const algorithm of ['hmac-sha256', 'hmac-sm3'] as const) {
    const headers = webhookHeaders('evt_1', timestamp, body, [
      { secret: oldSecret, algorithm },
      { secret: newSecret, algorithm },
    ])
    t.equal(headers['webhook-signature'].split(' ').length, 2, `${algorithm}: two signatures while rotating`)
    t.ok(verifyWebhook({ secret: oldSecret, headers, body, algorithm }), `${algorithm}: a receiver with the old secret accepts`)
    t.ok(verifyWebhook({ secrets: [newSecret], headers, body, algorithm }), `${algorithm}: a receiver with the new secret accepts`)
    t.equal(
      signWebhook({ secret: newSecret, id: 'evt_1', timestamp, body, algorithm }),
      signatureHeader('evt_1', timestamp, body, [{ secret: newSecret, algorithm }]),
    )
    t.throws(() => verifyWebhook({ secret: oldSecret, headers, body: body + ' ', algorithm }), WebhookVerificationError)
  }
  const sm3 = signatureHeader('evt_2', timestamp, body, [{ secret: oldSecret, algorithm: 'hmac-sm3' }])
  t.match(sm3, /^sm3,/)
  t.throws(
    () => verifyWebhook({ secret: oldSecret, headers: { 'webhook-id': 'evt_2', 'webhook-timestamp': String(timestamp), 'webhook-signature': sm3 }, body }),
    {
      code: 'invalid_signature',
    },
  )
})

const h = await startHarness({ env: { RATE_LIMIT_PER_MINUTE: '100000' } })
await h.app.listen({ host: '127.0.0.1', port: 0 })
const baseUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
t.teardown(() => h.close())

t.test('the typed client against a listening service', async (t) => {
  const operator = createClient({ baseUrl, apiKey: h.operatorKey })
  const created = await operator.post('/v1/clients', { body: { name: '朝阳法院', role: 'court', courtCodes: ['京0105'] } })
  t.equal(created.status, 201)
  const courtKey = created.data.apiKey
  t.type(courtKey, 'string', 'apiKey is typed and present')
  const platformAnswer = await operator.post('/v1/clients', { body: { name: '北京平台', role: 'mediation', regionCodes: ['11'] } })
  const platform = createClient({ baseUrl, apiKey: String(platformAnswer.data.apiKey) })
  const court = createClient({ baseUrl, apiKey: String(courtKey) })

  const org = await platform.put('/v1/organizations/{id}', { path: { id: 'bj-cy-blz' }, body: organizationBody() as never })
  t.equal(org.status, 201)
  const roster = await court.put('/v1/courts/{courtCode}/special-roster/{organizationId}', { path: { courtCode: '京0105', organizationId: 'bj-cy-blz' } })
  t.equal(roster.status, 204)
  t.equal(roster.data, undefined, '204 has no data')

  // Idempotency: the client sends a key on every POST; a caller-chosen key replays.
  const body = referralBody() as never
  const first = await court.post('/v1/referrals', { body, idempotencyKey: 'walk-1' })
  t.equal(first.status, 201)
  t.equal(first.replayed, false)
  const again = await court.post('/v1/referrals', { body, idempotencyKey: 'walk-1' })
  t.equal(again.replayed, true, 'same key and body → replay')
  t.equal(again.data.id, first.data.id)
  const reused = await court.post('/v1/referrals', { body: referralBody() as never, idempotencyKey: 'walk-1' }).catch((e: unknown) => e)
  t.ok(reused instanceof ProblemError)
  t.match(reused, { status: 422, code: 'idempotency_key_reused' })

  // ETag → version; If-Match from `ifMatch`.
  const read = await court.get('/v1/referrals/{id}', { path: { id: first.data.id } })
  t.equal(read.version, read.data.version, 'ETag gives the version')
  const stale = await platform
    .post('/v1/referrals/{id}/acceptance', {
      path: { id: first.data.id },
      ifMatch: read.data.version + 1,
      body: { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: new Date().toISOString() },
    })
    .catch((e: unknown) => e)
  t.match(stale, { name: 'ProblemError', status: 412, code: 'version_mismatch' })
  const accepted = await platform.post('/v1/referrals/{id}/acceptance', {
    path: { id: first.data.id },
    ifMatch: read.data.version,
    body: { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: new Date().toISOString() },
  })
  t.equal(accepted.data.status, 'mediating')
  t.equal(accepted.receipt, accepted.headers.get('receipt') ?? undefined, 'receipt reads the Receipt header when the service sends one')
  // The receipt verifies against the published keys with the client's verifyReceipt (contract §4).
  const jwks = (await court.get('/v1/service-keys', {})).data as unknown as { keys: Jwk[] }
  t.match(verifyReceipt(accepted.receipt as string, jwks), {
    subject: { kind: 'referral', id: first.data.id },
    sequence: 2,
    caseVersion: accepted.data.version,
  })
  t.equal(again.receipt, first.receipt, 'a replay carries the same receipt')
  t.throws(() => verifyReceipt(`${(accepted.receipt as string).slice(0, -4)}AAAA`, jwks), ReceiptVerificationError, 'a forged signature is refused')

  // Problems: validation errors carry errors[]; English detail on request.
  const invalid = (await court
    .post('/v1/referrals', { body: { ...referralBody(), caseNumber: 'x' } as never, headers: { 'accept-language': 'en' } })
    .catch((e: unknown) => e)) as ProblemError
  t.ok(invalid instanceof ProblemError)
  t.equal(invalid.status, 400)
  t.equal(invalid.code, 'validation_failed')
  t.ok(
    invalid.errors.some((e) => e.path.includes('caseNumber')),
    'errors[] names the path',
  )
  t.equal(invalid.body.status, 400)
  const missing = await court.get('/v1/referrals/{id}', { path: { id: '0193a6b0-0000-7000-8000-000000000000' } }).catch((e: unknown) => e)
  t.match(missing, { status: 404 })
  const unauthenticated = await createClient({ baseUrl, apiKey: 'nope' })
    .get('/v1/referrals', {})
    .catch((e: unknown) => e)
  t.match(unauthenticated, { status: 401 })
  // Query parameters and the untyped escape hatch.
  const list = await court.get('/v1/referrals', { query: { limit: 1 } })
  t.equal(list.data.items.length, 1)
  const raw = await court.request<{ items: unknown[] }>('GET', '/v1/referrals/{id}/events', { path: { id: first.data.id } })
  t.equal(raw.data.items.length, 2, 'created and accepted')
})

t.test('a real delivery from the service is verified by verifyWebhook (both algorithms)', async (t) => {
  const engine = startEngine(h.deps)
  t.teardown(() => engine.stop())
  const operator = createClient({ baseUrl, apiKey: h.operatorKey })
  const courtAnswer = await operator.post('/v1/clients', { body: { name: '朝阳法院 2', role: 'court', courtCodes: ['京0105'] } })
  const court = createClient({ baseUrl, apiKey: String(courtAnswer.data.apiKey) })
  for (const algorithm of ['hmac-sha256', 'hmac-sm3'] as const) {
    const peer = await startPeer()
    t.teardown(() => peer.close())
    const sub = await operator.post('/v1/subscriptions', {
      body: {
        clientId: courtAnswer.data.id,
        url: peer.url,
        eventTypes: ['referral.created'],
        allowPrivateNetwork: true,
        signatureAlgorithm: algorithm,
      } as never,
    })
    const secret = String((sub.data as { secret: string }).secret)
    const referral = await court.post('/v1/referrals', { body: referralBody() as never })
    const got = await eventually(async () => peer.requests.find((r) => r.body.includes(referral.data.id)), 20_000, 'delivery')
    const headers = { 'webhook-id': got.webhookId, 'webhook-timestamp': got.timestamp, 'webhook-signature': got.signature }
    const verified = verifyWebhook<{ type: string; subject: { id: string } }>({ secret, headers, body: got.body, algorithm })
    t.equal(verified.payload.type, 'referral.created', `${algorithm}: verified`)
    t.equal(verified.payload.subject.id, referral.data.id)
    t.equal(verified.id, got.webhookId)
    await operator.delete('/v1/subscriptions/{id}', { path: { id: sub.data.id } })
  }
})

t.test('package exports: `zdz-connector/client` resolves to the compiled client, which imports no server code', async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    name: string
    type: string
    exports: Record<string, { types: string; default: string }>
    dependencies: Record<string, string>
  }
  const entry = pkg.exports['./client']
  t.ok(entry, 'exports has ./client')
  t.equal(entry.default, './dist/src/client/index.js')
  t.equal(entry.types, './dist/src/client/index.d.ts')
  // A copy of the package holding the client compiled the way the build compiles it, then a self-reference import.
  const dir = path.join(os.tmpdir(), `zdz-client-${randomBytes(5).toString('hex')}`)
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = path.join(dir, path.dirname(entry.default))
  mkdirSync(out, { recursive: true })
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: pkg.name, type: pkg.type, exports: pkg.exports }))
  const srcDir = path.join(ROOT, 'src', 'client')
  const imports = new Set<string>()
  for (const file of readdirSync(srcDir).filter((f) => f.endsWith('.ts'))) {
    const js = ts.transpileModule(readFileSync(path.join(srcDir, file), 'utf8'), {
      // ES modules, as NodeNext compiles them in this `"type": "module"` package.
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, removeComments: true },
      fileName: file,
    }).outputText
    for (const m of js.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/g)) imports.add(m[1] as string)
    writeFileSync(path.join(out, file.replace(/\.ts$/, '.js')), js)
  }
  const external = [...imports].filter((m) => !m.startsWith('./') && !m.startsWith('node:'))
  // Beside node: built-ins and its own files, only the SM2 library the receipt verifier needs (a runtime dependency).
  t.same(external, ['sm-crypto'], 'the client imports no server code')
  t.ok(pkg.dependencies['sm-crypto'], 'sm-crypto is a runtime dependency')
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
  writeFileSync(
    path.join(dir, 'probe.mjs'),
    "import { createClient, verifyWebhook, verifyReceipt, ProblemError } from 'zdz-connector/client'\nexport default { createClient, verifyWebhook, verifyReceipt, ProblemError }\n",
  )
  const probe = (await import(pathToFileURL(path.join(dir, 'probe.mjs')).href)) as { default: Record<string, unknown> }
  t.equal(typeof probe.default.createClient, 'function')
  t.equal(typeof probe.default.verifyWebhook, 'function')
  t.equal(typeof probe.default.ProblemError, 'function')
  t.equal(typeof probe.default.verifyReceipt, 'function')
})

t.test('src/client/openapi-types.ts is current with openapi/openapi.json (else: npm run client:types)', async (t) => {
  const { renderClientTypes, TYPES_FILE } = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'client-types.mjs')).href)) as {
    renderClientTypes: () => Promise<string>
    TYPES_FILE: string
  }
  t.ok(readFileSync(TYPES_FILE, 'utf8') === (await renderClientTypes()), 'regenerating gives the committed file')
})
