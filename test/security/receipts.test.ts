/**
 * Signed receipts (contract §4 "Signed receipts", §7 key file, §8 chain hash): every 2xx write on a case carries a
 * `Receipt` JWS over { subject, sequence, eventId, eventHash, caseVersion, issuedAt }, replays carry the same one,
 * `GET /v1/service-keys` publishes the keys. EdDSA receipts are checked with node:crypto alone, SM2 receipts with the
 * OpenSSL CLI (an implementation independent of sm-crypto, the service's signer).
 */
import { execFileSync } from 'node:child_process'
import { createPublicKey, verify } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { ConfigError, loadConfig } from '../../src/config/config.js'
import { createDeps } from '../../src/deps.js'
import { createLogger } from '../../src/logging.js'
import { loadOrCreateKeyFile, loadOrCreateReceiptKey } from '../../src/security/key-file.js'
import { type Jwk, type ReceiptPayload, verifyReceipt, verifySm2 } from '../../src/client/receipts.js'
import { issueReceipt, newReceiptKeyEntry, parseReceiptKeys, receiptKeyFromPem, ReceiptSigner } from '../../src/security/receipts.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { type Harness, REDIS_URL, startHarness, TEST_DATA_KEYS } from '../helpers/harness.js'

const dir = mkdtempSync(path.join(tmpdir(), 'zdz-receipts-'))
const withKid = (entry: string, kid: string) => `${kid}:${entry.slice(entry.indexOf(':') + 1)}`
const pemOf = (entry: string) => Buffer.from(entry.slice(entry.indexOf(':') + 1), 'base64').toString('utf8')

const OLD = withKid(newReceiptKeyEntry('EdDSA'), 'old')
const NEW = withKid(newReceiptKeyEntry('EdDSA'), 'new')

const h = await startHarness({ env: { RECEIPT_KEYS: `${NEW},${OLD}` } })
t.teardown(() => h.close())
const w = await standardWorld(h)

const part = (jws: string, i: number) => JSON.parse(Buffer.from(jws.split('.')[i]!, 'base64url').toString('utf8')) as Record<string, unknown>

async function jwksOf(hh: Harness, key = hh.operatorKey): Promise<{ keys: Jwk[] }> {
  const res = await hh.call(key, { method: 'GET', url: '/v1/service-keys' })
  if (res.statusCode !== 200) throw new Error(`service-keys: ${res.statusCode} ${res.body}`)
  return res.json() as { keys: Jwk[] }
}

/** EdDSA verified with node:crypto alone: the JWK imported as it is published. */
function nodeVerifies(receipt: string, jwks: { keys: Jwk[] }): boolean {
  const [hd, pl, sig] = receipt.split('.') as [string, string, string]
  const jwk = jwks.keys.find((k) => k.kid === part(receipt, 0).kid)
  if (!jwk) return false
  const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' })
  return verify(null, Buffer.from(`${hd}.${pl}`), key, Buffer.from(sig, 'base64url'))
}

/** What a receipt must say of the case's latest event: its history entry and the chain head after it. */
async function checkAgainstCase(t: Test, hh: Harness, key: string, base: string, id: string, receipt: string, jwks: { keys: Jwk[] }) {
  const payload = verifyReceipt(receipt, jwks)
  const events = (await hh.call(key, { method: 'GET', url: `${base}/${id}/events?limit=200` })).json().items as Array<Record<string, unknown>>
  const last = events.at(-1)!
  const integrity = (await hh.call(key, { method: 'GET', url: `${base}/${id}/integrity` })).json() as { valid: boolean; head: string; length: number }
  const current = await hh.call(key, { method: 'GET', url: `${base}/${id}` })
  t.ok(integrity.valid)
  t.same(payload.subject, last.subject, 'subject')
  t.equal(payload.eventId, last.id, 'the event the write added')
  t.equal(payload.sequence, last.sequence, 'its sequence')
  t.equal(payload.caseVersion, last.caseVersion, 'its case version')
  t.equal(payload.caseVersion, current.json().version, 'the case’s version')
  t.equal(payload.eventHash, integrity.head, 'its hash in the chain: the head after it')
  t.equal(payload.sequence, integrity.length)
  t.ok(!Number.isNaN(Date.parse(payload.issuedAt)) && payload.issuedAt.endsWith('Z'), 'issuedAt is RFC 3339')
  return payload
}

t.test('GET /v1/service-keys: every role, the signing key first, older keys still published', async (t) => {
  for (const key of [w.court.key, w.platform.key, h.operatorKey]) {
    const res = await h.call(key, { method: 'GET', url: '/v1/service-keys' })
    t.equal(res.statusCode, 200, res.body)
    const { keys } = res.json() as { keys: Jwk[] }
    t.same(
      keys.map((k) => [k.kid, k.kty, k.crv, k.alg, k.use]),
      [
        ['new', 'OKP', 'Ed25519', 'EdDSA', 'sig'],
        ['old', 'OKP', 'Ed25519', 'EdDSA', 'sig'],
      ],
    )
    t.equal(Buffer.from(keys[0]!.x, 'base64url').length, 32)
    t.notOk(JSON.stringify(keys).includes('"d"'), 'never a private part')
  }
  t.equal((await h.call(null, { method: 'GET', url: '/v1/service-keys' })).statusCode, 401, 'no key → 401')
  t.equal((await h.call('zdz_nope_nope', { method: 'GET', url: '/v1/service-keys' })).statusCode, 401, 'unknown key → 401')
  t.equal((await h.call(w.court.key, { method: 'GET', url: '/v1/service-keys?x=1' })).statusCode, 400, 'unknown query parameter → 400')
})

t.test('referrals: create and every action carry a receipt of their event; a replay the same bytes', async (t) => {
  const jwks = await jwksOf(h)
  const key = `rc-${Date.now()}`
  const body = referralBody()
  const created = await post(h, w.court.key, '/v1/referrals', body, { 'idempotency-key': key })
  t.equal(created.statusCode, 201, created.body)
  const receipt = created.headers.receipt as string
  t.type(receipt, 'string')
  t.match(receipt, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
  t.same(part(receipt, 0), { alg: 'EdDSA', kid: 'new' }, 'signed with the first key')
  t.ok(nodeVerifies(receipt, jwks), 'node:crypto verifies it with the published JWK')
  const id = created.json().id as string
  const p1 = await checkAgainstCase(t, h, w.court.key, '/v1/referrals', id, receipt, jwks)
  t.same(p1.subject, { kind: 'referral', id })
  t.equal(p1.sequence, 1)

  const replay = await post(h, w.court.key, '/v1/referrals', body, { 'idempotency-key': key })
  t.equal(replay.statusCode, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.headers.receipt, receipt, 'the replay carries the very same receipt')

  const steps: Array<[string, string, unknown]> = [
    [w.platform.key, 'acceptance', { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: new Date().toISOString() }],
    [w.platform.key, 'suspension', { reason: 'appraisal', note: '鉴定' }],
    [w.platform.key, 'resumption', {}],
    [w.platform.key, 'termination', { reason: 'gap_too_large', report: '双方分歧过大' }],
  ]
  let seq = 1
  for (const [k, action, b] of steps) {
    const ik = `rc-${action}-${Date.now()}`
    const res = await post(h, k, `/v1/referrals/${id}/${action}`, b, { 'idempotency-key': ik })
    t.equal(res.statusCode, 200, `${action}: ${res.body}`)
    const r = res.headers.receipt as string
    t.ok(nodeVerifies(r, jwks), `${action}: verified by node:crypto`)
    const p = await checkAgainstCase(t, h, k, '/v1/referrals', id, r, jwks)
    t.equal(p.sequence, ++seq, `${action}: the next event`)
    const again = await post(h, k, `/v1/referrals/${id}/${action}`, b, { 'idempotency-key': ik })
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.equal(again.headers.receipt, r, `${action}: the replay’s receipt is byte-identical`)
  }

  // A refused write changed nothing and has nothing to attest.
  const refused = await post(h, w.platform.key, `/v1/referrals/${id}/resumption`, {})
  t.equal(refused.statusCode, 409)
  t.equal(refused.headers.receipt, undefined, 'no receipt on a 409')
  const bad = await post(h, w.court.key, '/v1/referrals', { ...body, claimSummary: '' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.headers.receipt, undefined, 'no receipt on a 400')
})

t.test('judicial confirmations: application and actions carry receipts of their events', async (t) => {
  const jwks = await jwksOf(h, w.platform.key)
  const ref = await post(h, w.court.key, '/v1/referrals', referralBody())
  const rid = ref.json().id as string
  await post(h, w.platform.key, `/v1/referrals/${rid}/acceptance`, { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: new Date().toISOString() })
  const signedAt = new Date(Date.now() - 3600_000).toISOString()
  const ag = await post(h, w.platform.key, `/v1/referrals/${rid}/agreement`, {
    form: 'written',
    terms: `双方就赔偿达成协议。#${rid}`,
    signatures: [
      { partyIndex: 0, signedAt },
      { partyIndex: 1, signedAt },
    ],
    mediatorSignedAt: signedAt,
    sealedAt: signedAt,
    performance: { method: 'immediate' },
  })
  t.equal(ag.statusCode, 200, ag.body)
  t.ok(nodeVerifies(ag.headers.receipt as string, jwks), 'the agreement’s receipt')

  const ik = `jc-${Date.now()}`
  const appBody = {
    referralId: rid,
    courtCode: '京0105',
    agreementSha256: ag.json().agreement.sha256,
    applicants: [0, 1],
    appliedAt: new Date().toISOString(),
    materials: [],
  }
  const applied = await post(h, w.platform.key, '/v1/judicial-confirmations', appBody, { 'idempotency-key': ik })
  t.equal(applied.statusCode, 201, applied.body)
  const id = applied.json().id as string
  const r1 = applied.headers.receipt as string
  t.ok(nodeVerifies(r1, jwks))
  const p1 = await checkAgainstCase(t, h, w.platform.key, '/v1/judicial-confirmations', id, r1, jwks)
  t.same(p1.subject, { kind: 'judicial_confirmation', id })
  const replay = await post(h, w.platform.key, '/v1/judicial-confirmations', appBody, { 'idempotency-key': ik })
  t.equal(replay.headers.receipt, r1, 'a replayed application carries the same receipt')

  const year = new Date().getFullYear()
  const cn = `（${year}）京0105诉前调确${1000 + Math.floor(Math.random() * 90000)}号`
  const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
  for (const [action, b] of [
    ['acceptance', { decision: 'accepted', caseNumber: cn }],
    ['ruling', { result: 'valid', rulingNumber: cn, ruledOn: today }],
  ] as const) {
    const res = await post(h, w.court.key, `/v1/judicial-confirmations/${id}/${action}`, b)
    t.equal(res.statusCode, 200, `${action}: ${res.body}`)
    t.ok(nodeVerifies(res.headers.receipt as string, jwks), `${action}: verified by node:crypto`)
    await checkAgainstCase(t, h, w.court.key, '/v1/judicial-confirmations', id, res.headers.receipt as string, jwks)
  }
})

t.test('rotation: a receipt signed by the old key still verifies; tampering never does', async (t) => {
  const jwks = await jwksOf(h)
  const created = await post(h, w.court.key, '/v1/referrals', referralBody())
  const fresh = created.headers.receipt as string
  const payload = verifyReceipt(fresh, jwks)
  // The same event as the service signed it before the rotation, with `old` first.
  const before = issueReceipt(new ReceiptSigner(parseReceiptKeys(OLD)), {
    id: payload.eventId,
    subject: payload.subject as { kind: 'referral'; id: string },
    sequence: payload.sequence,
    caseVersion: payload.caseVersion,
    hash: payload.eventHash,
  })
  t.equal(part(before, 0).kid, 'old')
  t.match(verifyReceipt(before, jwks), { eventId: payload.eventId, eventHash: payload.eventHash })
  t.ok(nodeVerifies(before, jwks), 'node:crypto agrees')

  const [hd, pl, sig] = fresh.split('.') as [string, string, string]
  const forged = Buffer.from(JSON.stringify({ ...part(fresh, 1), caseVersion: 99 })).toString('base64url')
  t.throws(() => verifyReceipt(`${hd}.${forged}.${sig}`, jwks), /does not verify/, 'a changed payload')
  const otherKid = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'old' })).toString('base64url')
  t.throws(() => verifyReceipt(`${otherKid}.${pl}.${sig}`, jwks), /does not verify/, 'another key’s name')
  t.throws(() => verifyReceipt(fresh, { keys: jwks.keys.filter((k) => k.kid !== 'new') }), /unknown key new/, 'a key that is not published')
  const none = Buffer.from(JSON.stringify({ alg: 'none', kid: 'new' })).toString('base64url')
  t.throws(() => verifyReceipt(`${none}.${pl}.`, jwks), /unsupported algorithm/, 'alg none')
  t.throws(() => verifyReceipt('a.b', jwks), /three parts/)
  t.throws(() => verifyReceipt(fresh, { keys: [{ ...jwks.keys[0]!, x: 'AAAA' }] }), /unusable/, 'a malformed published key')
  t.throws(() => verifyReceipt(fresh, { keys: [{ ...jwks.keys[0]!, alg: 'SM2SM3' }] }), /is for SM2SM3/, 'a key of another algorithm')
  t.notOk(nodeVerifies(`${hd}.${forged}.${sig}`, jwks))
})

// ---------------------------------------------------------------- SM2

const openssl = (args: string[], input?: Buffer) => execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] })

/** The JWK's point as an SM2 SubjectPublicKeyInfo PEM, for the OpenSSL CLI. */
function sm2PublicPem(jwk: Jwk): string {
  const der = Buffer.concat([
    Buffer.from('3059301306072a8648ce3d020106082a811ccf5501822d03420004', 'hex'),
    Buffer.from(jwk.x, 'base64url'),
    Buffer.from(jwk.y!, 'base64url'),
  ])
  return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`
}

const derInt = (b: Buffer) => {
  let v = b
  while (v.length > 1 && v[0] === 0 && (v[1]! & 0x80) === 0) v = v.subarray(1)
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v])
  return Buffer.concat([Buffer.from([0x02, v.length]), v])
}
/** r‖s (JWS) → DER SEQUENCE { r, s } (OpenSSL). */
const rsToDer = (rs: Buffer) => {
  const body = Buffer.concat([derInt(rs.subarray(0, 32)), derInt(rs.subarray(32))])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}
/** DER SEQUENCE { r, s } → r‖s. */
function derToRs(der: Buffer): Buffer {
  const rLen = der[3]!
  const r = der.subarray(4, 4 + rLen)
  const s = der.subarray(6 + rLen)
  const pad = (x: Buffer) => Buffer.concat([Buffer.alloc(32), x]).subarray(-32)
  return Buffer.concat([pad(r), pad(s)])
}

/** OpenSSL verifies an SM2 signature (r‖s) over `msg` with the JWK and a user id. */
function opensslVerifies(jwk: Jwk, msg: Buffer, rs: Buffer, userId = '1234567812345678'): boolean {
  const sub = mkdtempSync(path.join(dir, 'ossl-'))
  writeFileSync(path.join(sub, 'pub.pem'), sm2PublicPem(jwk))
  writeFileSync(path.join(sub, 'msg'), msg)
  writeFileSync(path.join(sub, 'sig'), rsToDer(rs))
  try {
    const out = openssl([
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      path.join(sub, 'pub.pem'),
      '-rawin',
      '-digest',
      'sm3',
      '-pkeyopt',
      `distid:${userId}`,
      '-in',
      path.join(sub, 'msg'),
      '-sigfile',
      path.join(sub, 'sig'),
    ])
    return out.toString().includes('Signature Verified Successfully')
  } catch {
    return false
  }
}

/** OpenSSL signs `msg` with an SM2 PKCS#8 PEM and the default user id; the signature as r‖s. */
function opensslSigns(pem: string, msg: Buffer): Buffer {
  const sub = mkdtempSync(path.join(dir, 'ossl-'))
  writeFileSync(path.join(sub, 'key.pem'), pem)
  writeFileSync(path.join(sub, 'msg'), msg)
  const der = openssl([
    'pkeyutl',
    '-sign',
    '-rawin',
    '-digest',
    'sm3',
    '-pkeyopt',
    'distid:1234567812345678',
    '-inkey',
    path.join(sub, 'key.pem'),
    '-in',
    path.join(sub, 'msg'),
  ])
  return derToRs(der)
}

t.test('SM2SM3 receipts: verified by OpenSSL, and OpenSSL’s signatures verified by the service', async (t) => {
  // An SM2 key made by OpenSSL itself (its PKCS#8 layout), the signing one; a keygen-made SM2 key after it.
  const opensslPem = openssl(['genpkey', '-algorithm', 'SM2']).toString()
  const entry = `sm2a:${Buffer.from(opensslPem).toString('base64')}`
  const second = withKid(newReceiptKeyEntry('SM2SM3'), 'sm2b')
  const h2 = await startHarness({ env: { RECEIPT_ALGORITHM: 'sm2', RECEIPT_KEYS: `${entry},${second}` } })
  t.teardown(() => h2.close())
  const w2 = await standardWorld(h2)
  const jwks = await jwksOf(h2, w2.court.key)
  t.same(
    jwks.keys.map((k) => [k.kid, k.kty, k.crv, k.alg, k.use]),
    [
      ['sm2a', 'EC', 'SM2', 'SM2SM3', 'sig'],
      ['sm2b', 'EC', 'SM2', 'SM2SM3', 'sig'],
    ],
  )
  // The published point is OpenSSL's public key of that private key.
  const opensslPub = openssl(['pkey', '-pubout'], Buffer.from(opensslPem)).toString()
  t.equal(sm2PublicPem(jwks.keys[0]!).replace(/\s/g, ''), opensslPub.replace(/\s/g, ''), 'the JWK is the key’s public point')

  const ik = `sm2-${Date.now()}`
  const body = referralBody()
  const created = await post(h2, w2.court.key, '/v1/referrals', body, { 'idempotency-key': ik })
  t.equal(created.statusCode, 201, created.body)
  const receipt = created.headers.receipt as string
  t.same(part(receipt, 0), { alg: 'SM2SM3', kid: 'sm2a' })
  const [hd, pl, sig] = receipt.split('.') as [string, string, string]
  const rs = Buffer.from(sig, 'base64url')
  t.equal(rs.length, 64, 'r‖s, 32 bytes each')
  t.ok(opensslVerifies(jwks.keys[0]!, Buffer.from(`${hd}.${pl}`), rs), 'OpenSSL verifies the receipt (SM3, user id 1234567812345678)')
  t.notOk(opensslVerifies(jwks.keys[0]!, Buffer.from(`${hd}.${pl}`), rs, 'ALICE123@YAHOO.COM'), 'and not with another user id')
  const id = created.json().id as string
  await checkAgainstCase(t, h2, w2.court.key, '/v1/referrals', id, receipt, jwks)
  const replay = await post(h2, w2.court.key, '/v1/referrals', body, { 'idempotency-key': ik })
  t.equal(replay.headers.receipt, receipt, 'a replay carries the same SM2 receipt')

  const acc = await post(h2, w2.platform.key, `/v1/referrals/${id}/acceptance`, {
    decision: 'accepted',
    mediator: { name: '王调解' },
    acceptedAt: new Date().toISOString(),
  })
  const r2 = acc.headers.receipt as string
  const [h2d, p2, s2] = r2.split('.') as [string, string, string]
  t.ok(opensslVerifies(jwks.keys[0]!, Buffer.from(`${h2d}.${p2}`), Buffer.from(s2, 'base64url')), 'an action’s receipt too')
  await checkAgainstCase(t, h2, w2.platform.key, '/v1/referrals', id, r2, jwks)

  // A receipt whose signature OpenSSL made, with either published key: the service's verifier accepts it.
  for (const [kid, pem] of [
    ['sm2a', opensslPem],
    ['sm2b', pemOf(second)],
  ] as const) {
    const header = Buffer.from(JSON.stringify({ alg: 'SM2SM3', kid })).toString('base64url')
    const input = `${header}.${pl}`
    const signed = `${input}.${opensslSigns(pem, Buffer.from(input)).toString('base64url')}`
    t.match(verifyReceipt(signed, jwks), { subject: { kind: 'referral', id } }, `OpenSSL’s signature with ${kid} verifies`)
  }
  t.throws(() => verifyReceipt(`${hd}.${pl}.${Buffer.alloc(64, 1).toString('base64url')}`, jwks), /does not verify/)
})

t.test('SM2 known answer: GB/T 32918.5 (GM/T 0003.5) example, user id 1234567812345678', async (t) => {
  // The standard's example on the recommended curve, message "message digest" (k = 59276E27…BC21). The values are
  // checked here against OpenSSL as well, so a mistyped digit cannot pass.
  const d = '3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8'
  const xA = '09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020'
  const yA = 'CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13'
  const r = 'F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3'
  const s = 'B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA'
  const pkcs8 = Buffer.from(`308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420${d}a14403420004${xA}${yA}`, 'hex')
  const key = receiptKeyFromPem('gbt', `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64')}\n-----END PRIVATE KEY-----\n`)
  t.equal(Buffer.from(key.jwk.x, 'base64url').toString('hex').toUpperCase(), xA, 'd·G: x')
  t.equal(Buffer.from(key.jwk.y!, 'base64url').toString('hex').toUpperCase(), yA, 'd·G: y')
  const rs = Buffer.from(r + s, 'hex')
  const msg = Buffer.from('message digest')
  t.ok(verifySm2(msg, rs, key.jwk), 'the service’s verifier accepts the standard’s signature')
  t.ok(opensslVerifies(key.jwk, msg, rs), 'OpenSSL agrees')
  t.notOk(verifySm2(Buffer.from('message digesT'), rs, key.jwk), 'another message fails')
  t.notOk(verifySm2(msg, rs, key.jwk, 'ALICE123@YAHOO.COM'), 'another user id fails (Z_A enters the digest)')
  // The service's own signature with that key: OpenSSL verifies it.
  const mine = key.sign(msg)
  t.equal(mine.length, 64)
  t.ok(opensslVerifies(key.jwk, msg, mine), 'OpenSSL verifies the service’s signature')
  t.not(key.sign(msg).toString('hex'), mine.toString('hex'), 'a fresh nonce each time')
})

// ---------------------------------------------------------------- configuration and key file

t.test('configuration: RECEIPT_KEYS required in production, checked when given', async (t) => {
  const variableOf = (env: Record<string, string>) => {
    try {
      loadConfig(env)
      return null
    } catch (err) {
      return err instanceof ConfigError ? err.variable : `not a ConfigError: ${(err as Error).message}`
    }
  }
  const prod = { NODE_ENV: 'production', DATA_KEYS: TEST_DATA_KEYS }
  t.equal(variableOf(prod), 'RECEIPT_KEYS', 'production without RECEIPT_KEYS refuses to start')
  let message = ''
  try {
    loadConfig(prod)
  } catch (err) {
    message = (err as Error).message
  }
  t.match(message, /RECEIPT_KEYS/, 'the message names the variable')
  t.equal(variableOf({ ...prod, RECEIPT_KEYS: NEW }), null)
  t.equal(variableOf({ ...prod, RECEIPT_KEYS: `${NEW},${OLD}` }), null)
  t.equal(variableOf({ RECEIPT_KEYS: 'garbage' }), 'RECEIPT_KEYS', 'not kid:base64')
  t.equal(variableOf({ RECEIPT_KEYS: 'k1:not*base64' }), 'RECEIPT_KEYS')
  t.equal(variableOf({ RECEIPT_KEYS: `k1:${Buffer.from('hello').toString('base64')}` }), 'RECEIPT_KEYS', 'not a PEM')
  const p256 = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']).toString()
  t.equal(variableOf({ RECEIPT_KEYS: `p:${Buffer.from(p256).toString('base64')}` }), 'RECEIPT_KEYS', 'neither Ed25519 nor SM2')
  t.equal(variableOf({ RECEIPT_KEYS: `${NEW},${withKid(OLD, 'new')}` }), 'RECEIPT_KEYS', 'a key id twice')
  t.equal(variableOf({ RECEIPT_ALGORITHM: 'sm2', RECEIPT_KEYS: NEW }), 'RECEIPT_KEYS', 'the signing key must be of RECEIPT_ALGORITHM')
  t.equal(variableOf({ RECEIPT_ALGORITHM: 'rsa' }), 'RECEIPT_ALGORITHM')
  t.equal(loadConfig({}).receiptAlgorithm, 'EdDSA', 'EdDSA by default')
  t.equal(loadConfig({ RECEIPT_ALGORITHM: 'sm2' }).receiptAlgorithm, 'SM2SM3')
  // The signing key first, an older key of the other algorithm still published (a change of algorithm).
  t.equal(variableOf({ RECEIPT_ALGORITHM: 'sm2', RECEIPT_KEYS: `${newReceiptKeyEntry('SM2SM3')},${OLD}` }), null)
})

t.test('key file: a receipt key generated once per algorithm beside the data key, reused on every start', async (t) => {
  const file = path.join(dir, 'nested', 'keys.json')
  const data = loadOrCreateKeyFile(file)
  const first = loadOrCreateReceiptKey(file, 'EdDSA')
  t.equal(first.created, true)
  const again = loadOrCreateReceiptKey(file, 'EdDSA')
  t.equal(again.created, false)
  t.equal(again.entry, first.entry, 'the same key on the next start')
  const sm2 = loadOrCreateReceiptKey(file, 'SM2SM3')
  t.equal(parseReceiptKeys(sm2.entry)[0]!.alg, 'SM2SM3')
  t.equal(loadOrCreateReceiptKey(file, 'EdDSA').entry, first.entry, 'each algorithm keeps its own')
  t.same(
    loadOrCreateKeyFile(file).keys.map((k) => k.id),
    data.keys.map((k) => k.id),
    'the data key is kept',
  )
  const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  t.same(Object.keys(stored).sort(), ['dataKeys', 'receiptKeys'])

  // A file made by a receipt key first (DATA_KEYS set, RECEIPT_KEYS not) still gets its data key later.
  const other = path.join(dir, 'receipt-first.json')
  const rk = loadOrCreateReceiptKey(other, 'EdDSA')
  t.equal(loadOrCreateKeyFile(other).created, true)
  t.equal(loadOrCreateReceiptKey(other, 'EdDSA').entry, rk.entry)

  // Two starts of the service on one key file publish the same key.
  const serviceFile = path.join(dir, 'service.json')
  const start = async (env: Record<string, string> = {}) => {
    const cfg = loadConfig({ DATABASE_URL: h.db.url, REDIS_URL, QUEUE_PREFIX: h.prefix, LOG_LEVEL: 'silent', DATA_KEYS_FILE: serviceFile, ...env })
    const deps = await createDeps(cfg, createLogger('silent'))
    const jwks = deps.receipts.jwks()
    await deps.close()
    return jwks
  }
  const one = await start()
  const two = await start()
  t.equal(one.keys.length, 1)
  t.equal(one.keys[0]!.alg, 'EdDSA')
  t.same(two, one, 'the same kid and JWK after a restart')
  const sm2Start = await start({ RECEIPT_ALGORITHM: 'sm2' })
  t.equal(sm2Start.keys[0]!.alg, 'SM2SM3')
  t.same(await start({ RECEIPT_ALGORITHM: 'sm2' }), sm2Start, 'the SM2 key is reused too')
})

t.test('keygen entries: what RECEIPT_KEYS accepts', async (t) => {
  for (const alg of ['EdDSA', 'SM2SM3'] as const) {
    const entry = newReceiptKeyEntry(alg)
    t.match(entry, /^r\d{8}-[0-9a-f]{6}:[A-Za-z0-9+/]+=*$/)
    const [key] = parseReceiptKeys(entry)
    t.equal(key!.alg, alg)
    t.match(pemOf(entry), /^-----BEGIN PRIVATE KEY-----/)
    // OpenSSL reads the PEM as the same key.
    const pub = openssl(['pkey', '-pubout'], Buffer.from(pemOf(entry))).toString()
    if (alg === 'SM2SM3') t.equal(sm2PublicPem(key!.jwk).replace(/\s/g, ''), pub.replace(/\s/g, ''))
    else t.equal(createPublicKey(pub).export({ format: 'jwk' }).x, key!.jwk.x)
    const payload: ReceiptPayload = {
      subject: { kind: 'referral', id: 'x' },
      sequence: 1,
      eventId: 'e',
      eventHash: '0'.repeat(64),
      caseVersion: 1,
      issuedAt: new Date().toISOString(),
    }
    const signer = new ReceiptSigner([key!])
    t.same(verifyReceipt(signer.sign(payload), signer.jwks()), payload)
  }
})
