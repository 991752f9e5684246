import { createHmac } from 'node:crypto'
import t from 'tap'
import {
  generateSecret,
  secretBytes,
  sign,
  signatureHeader,
  verify,
  webhookHeaders,
  WebhookVerificationError,
  type VerifyInput,
  type WebhookVerificationErrorCode,
} from '../../src/delivery/signing.js'

// Standard Webhooks specification example.
const SPEC_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const SPEC_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek'
const SPEC_TIMESTAMP = 1614265330
const SPEC_BODY = '{"test": 2432232314}'
const SPEC_SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
const SPEC_NOW = new Date(SPEC_TIMESTAMP * 1000)

function specHeaders(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    'webhook-id': SPEC_ID,
    'webhook-timestamp': String(SPEC_TIMESTAMP),
    'webhook-signature': SPEC_SIGNATURE,
    ...overrides,
  }
}

/** Runs `verify` and returns the error code it threw, or `'passed'`. */
function failureCode(input: VerifyInput): WebhookVerificationErrorCode | 'passed' | 'other_error' {
  try {
    verify(input)
    return 'passed'
  } catch (err) {
    return err instanceof WebhookVerificationError ? err.code : 'other_error'
  }
}

t.test('known-answer vector: Standard Webhooks spec example', async (t) => {
  const independent =
    'v1,' + createHmac('sha256', Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64')).update(`${SPEC_ID}.${SPEC_TIMESTAMP}.${SPEC_BODY}`).digest('base64')
  t.equal(independent, SPEC_SIGNATURE, 'independent computation matches the spec')
  t.equal(sign({ id: SPEC_ID, timestamp: SPEC_TIMESTAMP, body: SPEC_BODY, secret: SPEC_SECRET }), SPEC_SIGNATURE)
  t.equal(sign({ id: SPEC_ID, timestamp: SPEC_TIMESTAMP, body: SPEC_BODY, secret: SPEC_SECRET, algorithm: 'hmac-sha256' }), SPEC_SIGNATURE)
  t.equal(
    sign({ id: SPEC_ID, timestamp: SPEC_TIMESTAMP, body: Buffer.from(SPEC_BODY), secret: SPEC_SECRET }),
    SPEC_SIGNATURE,
    'a Buffer body signs the same bytes',
  )
  t.equal(verify({ headers: specHeaders(), body: SPEC_BODY, secrets: SPEC_SECRET, now: SPEC_NOW }), true)
})

t.test('known-answer vector: HMAC-SM3 computed directly', async (t) => {
  const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64')
  const expected = 'sm3,' + createHmac('sm3', key).update(`${SPEC_ID}.${SPEC_TIMESTAMP}.${SPEC_BODY}`).digest('base64')
  const signature = sign({
    id: SPEC_ID,
    timestamp: SPEC_TIMESTAMP,
    body: SPEC_BODY,
    secret: SPEC_SECRET,
    algorithm: 'hmac-sm3',
  })
  t.equal(signature, expected)
  t.not(signature.slice(4), SPEC_SIGNATURE.slice(3), 'differs from the SHA-256 signature')
})

t.test('sm3 sign/verify round trip', async (t) => {
  const secret = generateSecret()
  const now = new Date()
  const timestamp = Math.floor(now.getTime() / 1000)
  const body = JSON.stringify({ type: 'referral.accepted', name: '欧阳·𠀀明' })
  const headers = webhookHeaders('evt_1', timestamp, body, [{ secret, algorithm: 'hmac-sm3' }])
  t.match(headers['webhook-signature'], /^sm3,[A-Za-z0-9+/]{43}=$/)
  t.equal(verify({ headers, body, secrets: secret, algorithm: 'hmac-sm3', now }), true)
  t.equal(failureCode({ headers, body, secrets: secret, algorithm: 'hmac-sha256', now }), 'invalid_signature', 'sm3 signature does not satisfy sha256')
  t.equal(failureCode({ headers, body: body + ' ', secrets: secret, algorithm: 'hmac-sm3', now }), 'invalid_signature', 'sm3 with changed body')
})

t.test('generateSecret and secretBytes', async (t) => {
  const a = generateSecret()
  const b = generateSecret()
  t.match(a, /^whsec_[A-Za-z0-9+/]{43}=$/)
  t.not(a, b)
  t.equal(secretBytes(a).length, 32)
  t.same(secretBytes(a), secretBytes(a.slice('whsec_'.length)), 'prefix is optional')
  t.throws(() => secretBytes('whsec_'), TypeError)
  t.throws(() => secretBytes('whsec_not base64!'), TypeError)
})

t.test('webhookHeaders carries everything the receiver needs', async (t) => {
  const headers = webhookHeaders(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY, [{ secret: SPEC_SECRET }])
  t.same(headers, {
    'webhook-id': SPEC_ID,
    'webhook-timestamp': String(SPEC_TIMESTAMP),
    'webhook-signature': SPEC_SIGNATURE,
    'content-type': 'application/json',
  })
  t.throws(() => signatureHeader(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY, []), RangeError)
  t.throws(() => sign({ id: SPEC_ID, timestamp: 1.5, body: '', secret: SPEC_SECRET }), RangeError)
  t.throws(() => sign({ id: SPEC_ID, timestamp: -1, body: '', secret: SPEC_SECRET }), RangeError)
})

t.test('rotation: header carries one signature per secret, either secret verifies', async (t) => {
  const oldSecret = generateSecret()
  const newSecret = generateSecret()
  const header = signatureHeader(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY, [{ secret: oldSecret }, { secret: newSecret }])
  const parts = header.split(' ')
  t.equal(parts.length, 2)
  const headers = specHeaders({ 'webhook-signature': header })
  t.equal(verify({ headers, body: SPEC_BODY, secrets: oldSecret, now: SPEC_NOW }), true)
  t.equal(verify({ headers, body: SPEC_BODY, secrets: newSecret, now: SPEC_NOW }), true)
  t.equal(verify({ headers, body: SPEC_BODY, secrets: [generateSecret(), newSecret], now: SPEC_NOW }), true, 'receiver with several secrets')
  t.equal(failureCode({ headers, body: SPEC_BODY, secrets: generateSecret(), now: SPEC_NOW }), 'invalid_signature', 'unrelated secret')
  const mixed = signatureHeader(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY, [
    { secret: oldSecret, algorithm: 'hmac-sha256' },
    { secret: newSecret, algorithm: 'hmac-sm3' },
  ])
  t.match(mixed, /^v1,\S+ sm3,\S+$/)
})

// Ported from the Standard Webhooks reference library test list.
t.test('Standard Webhooks test list', async (t) => {
  const base = { body: SPEC_BODY, secrets: SPEC_SECRET, now: SPEC_NOW }

  t.test('valid signature passes', async (t) => {
    t.equal(verify({ ...base, headers: specHeaders() }), true)
  })

  t.test('secret without whsec_ prefix passes', async (t) => {
    t.equal(verify({ ...base, secrets: 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers: specHeaders() }), true)
  })

  t.test('missing id fails', async (t) => {
    t.equal(failureCode({ ...base, headers: specHeaders({ 'webhook-id': undefined }) }), 'missing_headers', 'no id')
    t.equal(failureCode({ ...base, headers: specHeaders({ 'webhook-id': '' }) }), 'missing_headers', 'empty id')
  })

  t.test('missing timestamp fails', async (t) => {
    t.equal(failureCode({ ...base, headers: specHeaders({ 'webhook-timestamp': undefined }) }), 'missing_headers', 'no timestamp')
  })

  t.test('missing signature fails', async (t) => {
    t.equal(failureCode({ ...base, headers: specHeaders({ 'webhook-signature': undefined }) }), 'missing_headers', 'no signature')
  })

  t.test('invalid timestamp fails', async (t) => {
    for (const value of ['abc', '1614265330.5', '-1614265330', ' 1614265330', '1e9']) {
      t.equal(failureCode({ ...base, headers: specHeaders({ 'webhook-timestamp': value }) }), 'invalid_timestamp', value)
    }
  })

  t.test('invalid signature fails', async (t) => {
    const cases = [
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=',
      'v1,',
      'v1',
      'g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
      'v1,dawfeoifkpqwoekfpqoekf',
      ' ',
    ]
    for (const signature of cases) {
      t.equal(failureCode({ ...base, headers: specHeaders({ 'webhook-signature': signature }) }), 'invalid_signature', signature)
    }
  })

  t.test('wrong scheme prefix fails', async (t) => {
    for (const scheme of ['v2', 'V1', 'sm3', 'v1a', 'v1a,v1']) {
      const signature = `${scheme},${SPEC_SIGNATURE.slice(3)}`
      t.equal(failureCode({ ...base, headers: specHeaders({ 'webhook-signature': signature }) }), 'invalid_signature', scheme)
    }
  })

  t.test('old timestamp fails (> 5 min)', async (t) => {
    const late = new Date((SPEC_TIMESTAMP + 301) * 1000)
    t.equal(failureCode({ ...base, now: late, headers: specHeaders() }), 'timestamp_too_old', 'now 301 s after')
    t.equal(verify({ ...base, now: new Date((SPEC_TIMESTAMP + 300) * 1000), headers: specHeaders() }), true, 'exactly 5 min passes')
  })

  t.test('future timestamp fails (> 5 min)', async (t) => {
    const early = new Date((SPEC_TIMESTAMP - 301) * 1000)
    t.equal(failureCode({ ...base, now: early, headers: specHeaders() }), 'timestamp_too_new', 'now 301 s before')
    t.equal(verify({ ...base, now: new Date((SPEC_TIMESTAMP - 300) * 1000), headers: specHeaders() }), true)
  })

  t.test('custom tolerance', async (t) => {
    const late = new Date((SPEC_TIMESTAMP + 60) * 1000)
    t.equal(failureCode({ ...base, now: late, toleranceSeconds: 30, headers: specHeaders() }), 'timestamp_too_old', 'tolerance 30 s')
  })

  t.test('a signed timestamp cannot be swapped', async (t) => {
    t.equal(
      failureCode({ ...base, headers: specHeaders({ 'webhook-timestamp': String(SPEC_TIMESTAMP + 1) }) }),
      'invalid_signature',
      'timestamp changed by 1 s',
    )
    t.equal(failureCode({ ...base, headers: specHeaders({ 'webhook-id': 'msg_other' }) }), 'invalid_signature', 'id changed')
  })

  t.test('a changed body byte fails', async (t) => {
    const bytes = Buffer.from(SPEC_BODY)
    for (let i = 0; i < bytes.length; i++) {
      const changed = Buffer.from(bytes)
      changed[i] ^= 0x01
      const code = failureCode({ ...base, body: changed, headers: specHeaders() })
      if (code !== 'invalid_signature') t.fail(`byte ${i} changed: ${code}`)
    }
    t.pass('every single-byte change is rejected')
    t.equal(verify({ ...base, body: Buffer.from(SPEC_BODY), headers: specHeaders() }), true, 'unchanged Buffer body passes')
  })

  t.test('multiple signatures: one valid passes', async (t) => {
    const signature = [
      'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
      'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
      SPEC_SIGNATURE,
      'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
    ].join(' ')
    t.equal(verify({ ...base, headers: specHeaders({ 'webhook-signature': signature }) }), true)
  })

  t.test('headers are read case-insensitively and from fetch Headers', async (t) => {
    t.equal(
      verify({
        ...base,
        headers: { 'Webhook-Id': SPEC_ID, 'WEBHOOK-TIMESTAMP': String(SPEC_TIMESTAMP), 'Webhook-Signature': SPEC_SIGNATURE },
      }),
      true,
    )
    const fetchHeaders = new Headers(specHeaders() as Record<string, string>)
    t.equal(verify({ ...base, headers: fetchHeaders }), true)
    t.equal(verify({ ...base, headers: { ...specHeaders(), 'webhook-id': [SPEC_ID] } }), true, 'single-element array')
    t.equal(failureCode({ ...base, headers: { ...specHeaders(), 'webhook-id': [SPEC_ID, SPEC_ID] } }), 'missing_headers', 'repeated header')
  })

  t.end()
})
