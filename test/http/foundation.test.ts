import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config/config.js'
import { idemKey, startHarness, TEST_DIR, TEST_RECEIPT_KEYS } from '../helpers/harness.js'

const h = await startHarness({
  // The 401 matrix sends hundreds of bad keys from one address: keep the abuse limit out of its way.
  env: { AUTH_FAILURES_PER_MINUTE: '100000' },
  app: {
    configure: (app) => {
      // A route that fails with an internal message, to check that 5xx answers hide it.
      app.get('/boom', { config: { public: true } }, async () => {
        throw new Error('SELECT secret FROM internal_table')
      })
      // Holds a request in flight for the graceful-shutdown test.
      app.addHook('onRequest', async (req) => {
        const ms = Number(req.headers['x-test-hold-ms'] ?? 0)
        if (ms > 0) await new Promise((r) => setTimeout(r, ms))
      })
    },
  },
})
t.teardown(() => h.close())

const v1Routes = () => h.routes.filter((r) => r.url.startsWith('/v1/'))

t.test('every /v1 route declares the roles that may call it', async (t) => {
  const routes = v1Routes()
  t.ok(routes.length >= 10, `found ${routes.length} routes`)
  for (const r of routes) {
    const roles = (r.config as { roles?: string[] } | undefined)?.roles
    t.ok(Array.isArray(roles) && roles.length > 0, `${String(r.method)} ${r.url} declares roles`)
  }
})

t.test('every /v1 route rejects a missing, unknown or malformed key with one generic 401', async (t) => {
  const bodies = new Set<string>()
  for (const r of v1Routes()) {
    const method = (Array.isArray(r.method) ? r.method[0] : r.method) as 'GET'
    if (method === ('HEAD' as string)) continue
    const url = r.url.replace(/:(\w+)/g, '00000000-0000-7000-8000-000000000000')
    for (const key of [null, 'zdz_aaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'not-a-key']) {
      const res = await h.call(key, { method, url, payload: method === 'GET' || method === ('DELETE' as string) ? undefined : {} })
      t.equal(res.statusCode, 401, `${method} ${url} with ${key ?? 'no key'}`)
      t.match(res.headers['content-type'], /application\/problem\+json/)
      bodies.add(JSON.stringify({ ...res.json(), instance: undefined }))
    }
  }
  t.equal(bodies.size, 1, 'one generic 401 answer')
})

t.test('roles: a court or mediation key on operator routes gets 403', async (t) => {
  const court = await h.client('court', { courtCodes: ['京0105'] })
  const platform = await h.client('mediation', { regionCodes: ['11'] })
  for (const key of [court.key, platform.key]) {
    const res = await h.call(key, { method: 'POST', url: '/v1/clients', headers: { 'idempotency-key': idemKey() }, payload: { name: 'x', role: 'operator' } })
    t.equal(res.statusCode, 403)
    t.equal(res.json().code, 'forbidden')
  }
  const res = await h.call(platform.key, { method: 'POST', url: '/v1/referrals', headers: { 'idempotency-key': idemKey() }, payload: {} })
  t.equal(res.statusCode, 403, 'mediation may never create referrals')
})

t.test('clients and keys: shown once, stored hashed, rotation and revocation', async (t) => {
  const key = idemKey()
  const body = { name: '朝阳法院', role: 'court', courtCodes: ['京0105'] }
  const first = await h.call(h.operatorKey, { method: 'POST', url: '/v1/clients', headers: { 'idempotency-key': key }, payload: body })
  t.equal(first.statusCode, 201)
  const created = first.json()
  t.match(created.apiKey, /^zdz_[a-z2-7]{10}_[A-Za-z0-9_-]{43}$/)
  t.equal(created.role, 'court')

  const replay = await h.call(h.operatorKey, { method: 'POST', url: '/v1/clients', headers: { 'idempotency-key': key }, payload: body })
  t.equal(replay.statusCode, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.json().apiKey, null, 'a replay never shows the secret again')
  t.equal(replay.json().id, created.id)

  const reused = await h.call(h.operatorKey, { method: 'POST', url: '/v1/clients', headers: { 'idempotency-key': key }, payload: { ...body, name: 'other' } })
  t.equal(reused.statusCode, 422)
  t.equal(reused.json().code, 'idempotency_key_reused')

  const missing = await h.call(h.operatorKey, { method: 'POST', url: '/v1/clients', payload: body })
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().code, 'idempotency_key_required')

  const ok = await h.call(created.apiKey, { method: 'GET', url: '/v1/organizations' })
  t.equal(ok.statusCode, 200, 'the new key works')

  const second = await h.call(h.operatorKey, { method: 'POST', url: `/v1/clients/${created.id}/keys`, headers: { 'idempotency-key': idemKey() } })
  t.equal(second.statusCode, 201)
  const rotated = second.json()
  t.not(rotated.apiKey, created.apiKey)

  const revoke = await h.call(h.operatorKey, { method: 'DELETE', url: `/v1/clients/${created.id}/keys/${created.keyId}` })
  t.equal(revoke.statusCode, 204)
  t.equal((await h.call(created.apiKey, { method: 'GET', url: '/v1/organizations' })).statusCode, 401, 'revoked at once')
  t.equal((await h.call(rotated.apiKey, { method: 'GET', url: '/v1/organizations' })).statusCode, 200, 'the other key still works')
  t.equal((await h.call(h.operatorKey, { method: 'DELETE', url: `/v1/clients/${created.id}/keys/${created.keyId}` })).statusCode, 404)

  const dump = execFileSync('pg_dump', ['--data-only', '-h', '127.0.0.1', '-U', 'postgres', h.db.name], { maxBuffer: 64 * 1024 * 1024 }).toString('utf8')
  t.ok(dump.includes(created.keyId), 'the dump holds the key id (lookup handle)')
  t.notOk(dump.includes(created.apiKey), 'the dump holds no API key')
  t.notOk(dump.includes(rotated.apiKey.slice(15)), 'nor any key secret')
  t.notOk(dump.includes(h.operatorKey), 'nor the bootstrap operator key')
})

t.test('client scope validation', async (t) => {
  const bad = await h.call(h.operatorKey, {
    method: 'POST',
    url: '/v1/clients',
    headers: { 'idempotency-key': idemKey() },
    payload: { name: 'x', role: 'court', courtCodes: ['京01X5'], regionCodes: ['11'] },
  })
  t.equal(bad.statusCode, 400)
  const paths = bad.json().errors.map((e: { path: string }) => e.path)
  t.ok(
    paths.some((p: string) => p.startsWith('/courtCodes')),
    'names the bad court code',
  )
  const noScope = await h.call(h.operatorKey, {
    method: 'POST',
    url: '/v1/clients',
    headers: { 'idempotency-key': idemKey() },
    payload: { name: 'x', role: 'mediation' },
  })
  t.equal(noScope.statusCode, 400)
})

t.test('20 identical POSTs in parallel create one client, no 5xx', async (t) => {
  const key = idemKey()
  const body = { name: `parallel-${key}`, role: 'mediation', regionCodes: ['11'] }
  const results = await Promise.all(
    Array.from({ length: 20 }, () => h.call(h.operatorKey, { method: 'POST', url: '/v1/clients', headers: { 'idempotency-key': key }, payload: body })),
  )
  const statuses = results.map((r) => r.statusCode)
  t.notOk(
    statuses.some((s) => s >= 500),
    `no 5xx: ${statuses.join(',')}`,
  )
  t.ok(
    statuses.every((s) => s === 201 || s === 409),
    'created, replayed or in use',
  )
  for (const r of results.filter((r) => r.statusCode === 409)) t.equal(r.json().code, 'idempotency_key_in_use')
  const { rows } = await h.deps.pool.query('SELECT count(*)::int AS n FROM clients WHERE name = $1', [body.name])
  t.equal(rows[0].n, 1, 'exactly one client')
})

t.test('strict input', async (t) => {
  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    h.call(h.operatorKey, {
      method: 'POST',
      url: '/v1/clients',
      headers: { 'idempotency-key': idemKey(), 'content-type': 'application/json', ...headers },
      payload: payload as string,
    })
  const unknown = await post({ name: 'x', role: 'court', courtCodes: ['京0105'], isAdmin: true })
  t.equal(unknown.statusCode, 400)
  t.same(
    unknown.json().errors.map((e: { path: string; code: string }) => [e.path, e.code]),
    [['/isAdmin', 'unknown_property']],
  )

  const coerced = await post({ name: 12345, role: 'court', courtCodes: ['京0105'] })
  t.equal(coerced.statusCode, 400, 'a number is not coerced to a string')
  t.equal(coerced.json().errors[0].path, '/name')

  const many = await post({ role: 'boss', courtCodes: 5 })
  t.equal(many.statusCode, 400)
  const paths = many
    .json()
    .errors.map((e: { path: string }) => e.path)
    .sort()
  t.same(paths, ['/courtCodes', '/name', '/role'], 'every failing path is listed')

  const proto = await post('{"name":"x","role":"court","courtCodes":["京0105"],"__proto__":{"admin":true}}')
  t.equal(proto.statusCode, 400)
  const ctor = await post('{"name":"x","role":"court","courtCodes":["京0105"],"constructor":{"prototype":{"admin":true}}}')
  t.equal(ctor.statusCode, 400)

  const broken = await post('{"name": "x",')
  t.equal(broken.statusCode, 400)
  t.equal(broken.json().code, 'invalid_json')

  const big = await post(JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), role: 'court' }))
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'payload_too_large')

  const deep = await post('{"name":"x","role":"court","courtCodes":["京0105"],"n":' + '['.repeat(5000) + ']'.repeat(5000) + '}')
  t.equal(deep.statusCode, 400, 'deep nesting is refused')

  const xml = await h.call(h.operatorKey, {
    method: 'POST',
    url: '/v1/clients',
    headers: { 'idempotency-key': idemKey(), 'content-type': 'application/xml' },
    payload: '<a/>',
  })
  t.equal(xml.statusCode, 415)

  const limit = await h.call(h.operatorKey, { method: 'GET', url: '/v1/organizations?limit=100000' })
  t.equal(limit.statusCode, 400)
  t.equal(limit.json().code, 'validation_failed')
  const zero = await h.call(h.operatorKey, { method: 'GET', url: '/v1/organizations?limit=0' })
  t.equal(zero.statusCode, 400)
  const extra = await h.call(h.operatorKey, { method: 'GET', url: '/v1/organizations?foo=1' })
  t.equal(extra.statusCode, 400, 'unknown query parameters are refused')
  const badKey = await post({ name: 'x', role: 'court', courtCodes: ['京0105'] }, { 'idempotency-key': 'bad key with spaces' })
  t.equal(badKey.statusCode, 400)

  const notFound = await h.call(h.operatorKey, { method: 'GET', url: '/v1/nothing-here' })
  t.equal(notFound.statusCode, 404)
  t.match(notFound.headers['content-type'], /application\/problem\+json/)
  t.equal(notFound.json().code, 'not_found')
})

t.test('405 and 5xx answers share the problem shape and hide internals', async (t) => {
  const m = await h.call(h.operatorKey, { method: 'DELETE', url: '/v1/referrals' })
  t.equal(m.statusCode, 405)
  t.equal(m.json().code, 'method_not_allowed')
  t.match(m.headers.allow, /GET/)
  t.match(m.headers['content-type'], /application\/problem\+json/)
  const boom = await h.call(null, { method: 'GET', url: '/boom' })
  t.equal(boom.statusCode, 500)
  t.equal(boom.json().code, 'internal_error')
  t.notMatch(boom.body, /SELECT|internal_table|stack|at /, 'no SQL, stack or internals')
  t.match(boom.headers['content-type'], /application\/problem\+json/)
})

t.test('health, metrics, docs', async (t) => {
  t.equal((await h.call(null, { method: 'GET', url: '/health/live' })).statusCode, 200)
  const ready = await h.call(null, { method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.equal(ready.json().checks.postgres.status, 'up')
  t.equal(ready.json().checks.redis.status, 'up')
  const metrics = await h.call(null, { method: 'GET', url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.body, /http_request_duration_seconds_bucket\{/)
  t.match(metrics.body, /process_cpu_user_seconds_total/)
  const ui = await h.call(null, { method: 'GET', url: '/docs' })
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
  t.ok(ui.headers['content-security-policy'], 'security headers on the docs')
  t.equal(ui.headers['x-content-type-options'], 'nosniff')
  const json = await h.call(null, { method: 'GET', url: '/docs/json' })
  t.equal(json.statusCode, 200)
  const committed = JSON.parse(readFileSync(path.join(TEST_DIR, '../../openapi/openapi.json'), 'utf8'))
  t.same(json.json(), committed, 'the committed OpenAPI document matches the code')
  t.ok(json.json().components.securitySchemes.bearerAuth)
})

t.test('logs: request and client ids, no credentials', async (t) => {
  const marker = idemKey()
  await h.call(h.operatorKey, { method: 'GET', url: '/v1/organizations', headers: { 'x-request-id': `req-${marker}` } })
  const lines = h.logs.lines.filter((l) => l.includes(`req-${marker}`))
  t.ok(lines.length > 0, 'the request id is logged')
  t.ok(
    lines.some((l) => l.includes('clientId')),
    'with the client id',
  )
  t.notOk(
    h.logs.lines.some((l) => l.includes(h.operatorKey)),
    'the key never reaches a log line',
  )
})

t.test('configuration errors name the variable', async (t) => {
  const variableOf = (env: Record<string, string>) => {
    try {
      loadConfig(env)
      return null
    } catch (err) {
      return err instanceof ConfigError ? err.variable : 'not a ConfigError'
    }
  }
  t.equal(variableOf({ PORT: 'abc' }), 'PORT')
  t.equal(variableOf({ PORT: '70000' }), 'PORT')
  t.equal(variableOf({ DATABASE_URL: 'mysql://x' }), 'DATABASE_URL')
  t.equal(variableOf({ NODE_ENV: 'production' }), 'DATA_KEYS')
  t.equal(variableOf({ LOG_LEVEL: 'loud' }), 'LOG_LEVEL')
  t.equal(variableOf({ DATABASE_PREPARED_STATEMENTS: 'maybe' }), 'DATABASE_PREPARED_STATEMENTS')
  t.equal(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'false' }).databasePreparedStatements, false)
  t.equal(variableOf({ NODE_ENV: 'production', DATA_KEYS: 'k1:' + Buffer.alloc(32, 1).toString('base64') }), 'RECEIPT_KEYS')
  t.equal(variableOf({ NODE_ENV: 'production', DATA_KEYS: 'k1:' + Buffer.alloc(32, 1).toString('base64'), RECEIPT_KEYS: TEST_RECEIPT_KEYS }), null)
  const c = loadConfig({})
  t.equal(c.port, 3000)
  t.equal(c.queuePrefix, 'zdz')
  t.equal(c.databaseUrl, 'postgres://postgres@127.0.0.1:5432/zdz')
})

t.test('graceful shutdown: in-flight requests finish, new ones get 503', async (t) => {
  const h2 = await startHarness({
    app: {
      configure: (app) => {
        app.addHook('onRequest', async (req) => {
          const ms = Number(req.headers['x-test-hold-ms'] ?? 0)
          if (ms > 0) await new Promise((r) => setTimeout(r, ms))
        })
      },
    },
  })
  await h2.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (h2.app.server.address() as { port: number }).port
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const get = (headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/health/live', agent, headers }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        })
        .on('error', reject)
    })
  t.equal(await get(), 200, 'warm keep-alive connection')
  const other = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const slowPromise = new Promise<number>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/health/live', agent: other, headers: { 'x-test-hold-ms': '500' } }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      .on('error', reject)
  })
  await new Promise((r) => setTimeout(r, 100))
  const closing = h2.app.close()
  const during = await get().catch(() => 0)
  t.ok(during === 503 || during === 0, `a new request while closing is refused (${during})`)
  t.equal(await slowPromise, 200, 'the in-flight request finished')
  agent.destroy()
  other.destroy()
  await closing
  await h2.deps.close()
  await h2.db.drop()
})
