import t from 'tap'
import { SECRET_CONTEXT } from '../../src/delivery/signing.js'
import { idemKey, startHarness } from '../helpers/harness.js'

const h = await startHarness()
t.teardown(() => h.close())

const op = h.operatorKey
const court = await h.client('court', { courtCodes: ['京0105'] })
const platform = await h.client('mediation', { regionCodes: ['11'] })

const create = (payload: Record<string, unknown>, key = idemKey(), who = op) =>
  h.call(who, { method: 'POST', url: '/v1/subscriptions', headers: { 'idempotency-key': key }, payload })

// A public address written as a literal, so no DNS is needed.
const PUBLIC_URL = 'https://93.184.215.14/zdz/hook'

t.test('creation: secret shown once, stored encrypted, replay answers secret null', async (t) => {
  const key = idemKey()
  const body = { clientId: court.id, url: PUBLIC_URL, eventTypes: ['*'], description: '法院业务系统' }
  const res = await create(body, key)
  t.equal(res.statusCode, 201, res.body)
  const s = res.json()
  t.match(s.secret, /^whsec_[A-Za-z0-9+/]{40,}={0,2}$/)
  t.equal(Buffer.from(s.secret.slice(6), 'base64').length >= 24, true, 'at least 24 random bytes')
  t.match(s, {
    clientId: court.id,
    url: PUBLIC_URL,
    eventTypes: ['*'],
    allowPrivateNetwork: false,
    signatureAlgorithm: 'hmac-sha256',
    enabled: true,
    disabledReason: null,
  })
  t.equal(res.headers.location, `/v1/subscriptions/${s.id}`)

  const row = await h.deps.db.selectFrom('subscriptions').selectAll().where('id', '=', s.id).executeTakeFirstOrThrow()
  t.notOk(row.secret_enc.includes(s.secret.slice(6)), 'no plain secret in the row')
  t.equal(h.deps.cipher.decrypt(row.secret_enc, SECRET_CONTEXT), s.secret, 'the service can still sign with it')
  const stored = await h.deps.db.selectFrom('idempotency_keys').select('response_body').where('key', '=', key).executeTakeFirstOrThrow()
  t.notOk(stored.response_body.includes(s.secret), 'the idempotency record holds no secret')

  const replay = await create(body, key)
  t.equal(replay.statusCode, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.json().secret, null)
  t.equal(replay.json().id, s.id)

  const sm3 = await create({ clientId: platform.id, url: PUBLIC_URL, eventTypes: ['referral.created'], signatureAlgorithm: 'hmac-sm3' })
  t.equal(sm3.statusCode, 201, sm3.body)
  t.equal(sm3.json().signatureAlgorithm, 'hmac-sm3')
})

t.test('validation and business rules', async (t) => {
  const unknownClient = await create({ clientId: '0192f0c4-8d1e-7c3a-9b1e-2f5d6a7b8c9d', url: PUBLIC_URL, eventTypes: ['*'] })
  t.equal(unknownClient.statusCode, 422)
  t.equal(unknownClient.json().code, 'unknown_client')
  const notUuid = await create({ clientId: 'nobody', url: PUBLIC_URL, eventTypes: ['*'] })
  t.equal(notUuid.json().code, 'unknown_client')

  const starMixed = await create({ clientId: court.id, url: PUBLIC_URL, eventTypes: ['*', 'referral.created'] })
  t.equal(starMixed.statusCode, 400)
  const unknownType = await create({ clientId: court.id, url: PUBLIC_URL, eventTypes: ['referral.created', 'referral.exploded'] })
  t.equal(unknownType.statusCode, 400)
  t.match(unknownType.json().errors, [{ path: '/eventTypes/1', code: 'unknown_event_type' }])
  const extra = await create({ clientId: court.id, url: PUBLIC_URL, eventTypes: ['*'], secret: 'mine' })
  t.equal(extra.statusCode, 400)
  const emptyTypes = await create({ clientId: court.id, url: PUBLIC_URL, eventTypes: [] })
  t.equal(emptyTypes.statusCode, 400)
  const badAlgo = await create({ clientId: court.id, url: PUBLIC_URL, eventTypes: ['*'], signatureAlgorithm: 'md5' })
  t.equal(badAlgo.statusCode, 400)
  const noKey = await h.call(op, { method: 'POST', url: '/v1/subscriptions', payload: { clientId: court.id, url: PUBLIC_URL, eventTypes: ['*'] } })
  t.equal(noKey.statusCode, 400)
  t.equal(noKey.json().code, 'idempotency_key_required')

  for (const key of [court.key, platform.key]) {
    const res = await create({ clientId: court.id, url: PUBLIC_URL, eventTypes: ['*'] }, idemKey(), key)
    t.equal(res.statusCode, 403, 'only operators manage subscriptions')
    const list = await h.call(key, { method: 'GET', url: '/v1/subscriptions' })
    t.equal(list.statusCode, 403)
  }
})

t.test('SSRF: refused addresses at registration (reliability row 19)', async (t) => {
  const refused = [
    'http://127.0.0.1:8080/hook',
    'http://[::1]/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://10.1.2.3/hook',
    'http://192.168.0.10/hook',
    'http://172.16.5.5/hook',
    'http://localhost:3000/hook', // a name that resolves to loopback
    'http://0x7f.1/hook', // an exotic spelling of 127.0.0.1
    'http://[::ffff:127.0.0.1]/hook',
    'ftp://93.184.215.14/hook',
    'http://user:pw@93.184.215.14/hook',
  ]
  for (const url of refused) {
    const res = await create({ clientId: court.id, url, eventTypes: ['*'] })
    t.equal(res.statusCode, 422, url)
    t.equal(res.json().code, 'url_not_allowed', url)
  }
  // allowPrivateNetwork admits loopback and private ranges, never link-local or metadata.
  for (const url of ['http://127.0.0.1:8080/hook', 'http://[::1]:8080/hook', 'http://10.1.2.3/hook', 'http://localhost:3000/hook']) {
    const res = await create({ clientId: court.id, url, eventTypes: ['*'], allowPrivateNetwork: true })
    t.equal(res.statusCode, 201, `${url} with allowPrivateNetwork`)
  }
  for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://169.254.10.1/hook', 'http://100.100.100.200/hook', 'http://[fe80::1]/hook']) {
    const res = await create({ clientId: court.id, url, eventTypes: ['*'], allowPrivateNetwork: true })
    t.equal(res.statusCode, 422, `${url} stays refused`)
    t.equal(res.json().code, 'url_not_allowed')
  }
})

t.test('get, list, patch, delete', async (t) => {
  const a = (await create({ clientId: court.id, url: PUBLIC_URL, eventTypes: ['referral.created'] })).json()
  const b = (await create({ clientId: platform.id, url: PUBLIC_URL, eventTypes: ['*'] })).json()

  const got = await h.call(op, { method: 'GET', url: `/v1/subscriptions/${a.id}` })
  t.equal(got.statusCode, 200)
  t.equal(got.json().secret, undefined, 'GET never shows the secret')
  t.equal((await h.call(op, { method: 'GET', url: '/v1/subscriptions/not-a-uuid' })).statusCode, 404)
  t.equal((await h.call(op, { method: 'GET', url: '/v1/subscriptions/0192f0c4-8d1e-7c3a-9b1e-2f5d6a7b8c9d' })).statusCode, 404)

  const mine = await h.call(op, { method: 'GET', url: `/v1/subscriptions?clientId=${platform.id}` })
  t.ok(mine.json().items.every((s: { clientId: string }) => s.clientId === platform.id))
  t.ok(mine.json().items.some((s: { id: string }) => s.id === b.id))
  // Paging through everything, one at a time.
  const seen: string[] = []
  let cursor: string | null = null
  for (let i = 0; i < 100; i++) {
    const page: { items: Array<{ id: string }>; nextCursor: string | null } = (
      await h.call(op, { method: 'GET', url: `/v1/subscriptions?limit=1${cursor ? `&cursor=${cursor}` : ''}` })
    ).json()
    seen.push(...page.items.map((s) => s.id))
    cursor = page.nextCursor
    if (!cursor) break
  }
  t.ok(seen.includes(a.id) && seen.includes(b.id))
  t.equal(new Set(seen).size, seen.length, 'no repeats across pages')
  t.equal((await h.call(op, { method: 'GET', url: '/v1/subscriptions?bogus=1' })).statusCode, 400)

  const patched = await h.call(op, {
    method: 'PATCH',
    url: `/v1/subscriptions/${a.id}`,
    payload: { eventTypes: ['referral.accepted', 'referral.closed'], description: null },
  })
  t.equal(patched.statusCode, 200, patched.body)
  t.same(patched.json().eventTypes, ['referral.accepted', 'referral.closed'])
  const toLoopback = await h.call(op, { method: 'PATCH', url: `/v1/subscriptions/${a.id}`, payload: { url: 'http://127.0.0.1/hook' } })
  t.equal(toLoopback.statusCode, 422)
  t.equal(toLoopback.json().code, 'url_not_allowed')
  const withFlag = await h.call(op, { method: 'PATCH', url: `/v1/subscriptions/${a.id}`, payload: { url: 'http://127.0.0.1/hook', allowPrivateNetwork: true } })
  t.equal(withFlag.statusCode, 200)
  const dropFlag = await h.call(op, { method: 'PATCH', url: `/v1/subscriptions/${a.id}`, payload: { allowPrivateNetwork: false } })
  t.equal(dropFlag.statusCode, 422, 'dropping the flag re-checks the current URL')
  const disabled = await h.call(op, { method: 'PATCH', url: `/v1/subscriptions/${a.id}`, payload: { enabled: false } })
  t.match(disabled.json(), { enabled: false, disabledReason: 'disabled_by_operator' })
  const enabled = await h.call(op, { method: 'PATCH', url: `/v1/subscriptions/${a.id}`, payload: { enabled: true } })
  t.match(enabled.json(), { enabled: true, disabledReason: null, disabledAt: null })
  t.equal((await h.call(op, { method: 'PATCH', url: `/v1/subscriptions/${a.id}`, payload: {} })).statusCode, 400)
  t.equal(
    (await h.call(op, { method: 'PATCH', url: `/v1/subscriptions/${a.id}`, payload: { clientId: platform.id } })).statusCode,
    400,
    'the client cannot change',
  )

  const del = await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${a.id}` })
  t.equal(del.statusCode, 204)
  t.equal((await h.call(op, { method: 'GET', url: `/v1/subscriptions/${a.id}` })).statusCode, 404)
  t.equal((await h.call(op, { method: 'DELETE', url: `/v1/subscriptions/${a.id}` })).statusCode, 404)
  t.equal((await h.call(op, { method: 'PATCH', url: `/v1/subscriptions/${a.id}`, payload: { enabled: true } })).statusCode, 404)
})

t.test('secret rotation: a new secret once, the old one kept for 24 h', async (t) => {
  const s = (await create({ clientId: court.id, url: PUBLIC_URL, eventTypes: ['*'] })).json()
  const key = idemKey()
  const rotate = () => h.call(op, { method: 'POST', url: `/v1/subscriptions/${s.id}/secret-rotation`, headers: { 'idempotency-key': key } })
  const res = await rotate()
  t.equal(res.statusCode, 200, res.body)
  const r = res.json()
  t.match(r.secret, /^whsec_/)
  t.not(r.secret, s.secret)
  const expires = new Date(r.previousSecretExpiresAt).getTime()
  t.ok(expires > Date.now() + 23.9 * 3600_000 && expires <= Date.now() + 24 * 3600_000 + 1000, 'previous secret kept 24 h')
  const row = await h.deps.db.selectFrom('subscriptions').selectAll().where('id', '=', s.id).executeTakeFirstOrThrow()
  t.equal(h.deps.cipher.decrypt(row.secret_enc, SECRET_CONTEXT), r.secret)
  t.equal(h.deps.cipher.decrypt(row.previous_secret_enc as string, SECRET_CONTEXT), s.secret)
  const replay = await rotate()
  t.equal(replay.json().secret, null, 'replay hides the secret')
  t.equal(
    (
      await h.call(op, {
        method: 'POST',
        url: '/v1/subscriptions/0192f0c4-8d1e-7c3a-9b1e-2f5d6a7b8c9d/secret-rotation',
        headers: { 'idempotency-key': idemKey() },
      })
    ).statusCode,
    404,
  )
})

t.test('recovery request validation', async (t) => {
  const s = (await create({ clientId: court.id, url: PUBLIC_URL, eventTypes: ['*'] })).json()
  const backwards = await h.call(op, {
    method: 'POST',
    url: `/v1/subscriptions/${s.id}/recovery`,
    headers: { 'idempotency-key': idemKey() },
    payload: { since: '2026-12-02T00:00:00+08:00', until: '2026-12-01T00:00:00+08:00' },
  })
  t.equal(backwards.statusCode, 400)
  const ok = await h.call(op, {
    method: 'POST',
    url: `/v1/subscriptions/${s.id}/recovery`,
    headers: { 'idempotency-key': idemKey() },
    payload: { since: '2026-01-01T00:00:00+08:00' },
  })
  t.equal(ok.statusCode, 202, ok.body)
  t.match(ok.json(), { subscriptionId: s.id, status: 'queued', requeued: null })
  const status = await h.call(op, { method: 'GET', url: `/v1/subscriptions/${s.id}/recovery/${ok.json().jobId}` })
  t.equal(status.statusCode, 200)
  t.equal((await h.call(op, { method: 'GET', url: `/v1/subscriptions/${s.id}/recovery/0192f0c4-8d1e-7c3a-9b1e-2f5d6a7b8c9d` })).statusCode, 404)
  t.equal(
    (
      await h.call(court.key, {
        method: 'POST',
        url: `/v1/subscriptions/${s.id}/recovery`,
        headers: { 'idempotency-key': idemKey() },
        payload: { since: '2026-01-01T00:00:00+08:00' },
      })
    ).statusCode,
    403,
  )
})
