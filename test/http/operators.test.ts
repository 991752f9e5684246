import { readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import t from 'tap'
import { ConfigError, DOCUMENTED_OPERATOR_KEYS, isDocumentedPlaceholder, loadConfig } from '../../src/config/config.js'
import { metricsTokenAccepts } from '../../src/http/metrics.js'
import { Drain, NO_OPERATOR_MESSAGE, stopGracefully, warnIfNoOperator } from '../../src/lifecycle.js'
import { createLogger } from '../../src/logging.js'
import { LogCapture, startHarness, TEST_DIR, TEST_RECEIPT_KEYS } from '../helpers/harness.js'

const ROOT = path.resolve(TEST_DIR, '..', '..')
const DATA_KEYS = 'k1:' + Buffer.alloc(32, 1).toString('base64')

/** Every `OPERATOR_API_KEY=value` (or `OPERATOR_API_KEY: value`) shown in README.md, docs/*.md and .env.example. */
function documentedOperatorKeys(): Array<{ file: string; value: string }> {
  const files = [
    'README.md',
    '.env.example',
    ...readdirSync(path.join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ]
  const found: Array<{ file: string; value: string }> = []
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(path.join(ROOT, file), 'utf8')
    } catch {
      continue
    }
    for (const m of text.matchAll(/OPERATOR_API_KEY\s*[=:]\s*['"]?([^\s'"`$|]+)/g)) {
      // `${OPERATOR_API_KEY:?…}` and similar references are not values.
      if (m[1].startsWith('${') || m[1].startsWith('?')) continue
      found.push({ file, value: m[1] })
    }
  }
  return found
}

t.test('production refuses an operator key shown in the documentation, naming the variable', async (t) => {
  const shown = documentedOperatorKeys()
  t.ok(shown.length > 0, 'the README shows at least one example operator key')
  for (const { file, value } of shown) {
    t.ok(isDocumentedPlaceholder(value), `${file}: ${value} is refused in production (add it to DOCUMENTED_OPERATOR_KEYS)`)
    if (value.length < 32) continue // too short anyway: refused by the length rule
    t.throws(() => loadConfig({ NODE_ENV: 'production', DATA_KEYS, RECEIPT_KEYS: TEST_RECEIPT_KEYS, OPERATOR_API_KEY: value }), ConfigError)
  }
  for (const value of DOCUMENTED_OPERATOR_KEYS) {
    const err = (() => {
      try {
        loadConfig({ NODE_ENV: 'production', DATA_KEYS, RECEIPT_KEYS: TEST_RECEIPT_KEYS, OPERATOR_API_KEY: value })
      } catch (e) {
        return e
      }
    })()
    t.ok(err instanceof ConfigError && err.variable === 'OPERATOR_API_KEY', `${value} is refused`)
    t.match((err as Error).message, /OPERATOR_API_KEY/)
    // Outside production the README's quick start works as written.
    t.equal(loadConfig({ OPERATOR_API_KEY: value }).operatorApiKey, value)
  }
  const real = 'Zq3v8K1pW0xN5rT7yB2mC4dF6gH9jL0s'
  t.equal(loadConfig({ NODE_ENV: 'production', DATA_KEYS, RECEIPT_KEYS: TEST_RECEIPT_KEYS, OPERATOR_API_KEY: real }).operatorApiKey, real)
})

t.test('the metrics token check', async (t) => {
  t.ok(metricsTokenAccepts(undefined, undefined), 'no token configured: open')
  t.ok(metricsTokenAccepts('s3cret-token', 'Bearer s3cret-token'))
  t.ok(metricsTokenAccepts('s3cret-token', 'bearer s3cret-token'))
  t.notOk(metricsTokenAccepts('s3cret-token', undefined))
  t.notOk(metricsTokenAccepts('s3cret-token', 'Bearer s3cret-toke'))
  t.notOk(metricsTokenAccepts('s3cret-token', 's3cret-token'))
  t.notOk(metricsTokenAccepts('s3cret-token', 'Bearer '))
})

t.test('with METRICS_TOKEN, /metrics needs the bearer token', async (t) => {
  const h = await startHarness({ env: { METRICS_TOKEN: 'metrics-token-for-the-test' } })
  t.teardown(() => h.close())
  const none = await h.call(null, { method: 'GET', url: '/metrics' })
  t.equal(none.statusCode, 401)
  t.match(none.headers['content-type'], /application\/problem\+json/)
  t.equal(none.json().code, 'unauthorized')
  t.equal((await h.call('wrong-token', { method: 'GET', url: '/metrics' })).statusCode, 401)
  // An operator API key is not the metrics token.
  t.equal((await h.call(h.operatorKey, { method: 'GET', url: '/metrics' })).statusCode, 401)
  const ok = await h.call('metrics-token-for-the-test', { method: 'GET', url: '/metrics' })
  t.equal(ok.statusCode, 200)
  t.match(ok.body, /zdz_deliveries_pending|http_request_duration_seconds/)
  t.equal((await h.call(null, { method: 'GET', url: '/health/live' })).statusCode, 200, 'health stays open')
})

t.test('start-up says loudly when nobody can create clients', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const logs = new LogCapture()
  const logger = createLogger('info', logs)
  const lines = () => logs.lines.map((l) => JSON.parse(l) as { level: number; msg: string; variable?: string })

  t.equal(await warnIfNoOperator({ db: h.deps.db, config: { operatorApiKey: undefined }, logger }), true, 'empty database, no OPERATOR_API_KEY')
  const warned = lines().filter((l) => l.msg === NO_OPERATOR_MESSAGE)
  t.equal(warned.length, 1)
  t.equal(warned[0].level, 50, 'logged at error level')
  t.equal(warned[0].variable, 'OPERATOR_API_KEY')
  t.match(warned[0].msg, /OPERATOR_API_KEY/)

  t.equal(await warnIfNoOperator({ db: h.deps.db, config: { operatorApiKey: h.operatorKey }, logger }), false, 'OPERATOR_API_KEY set')
  await h.client('operator')
  t.equal(await warnIfNoOperator({ db: h.deps.db, config: { operatorApiKey: undefined }, logger }), false, 'an operator key is stored')
  t.equal(lines().filter((l) => l.msg === NO_OPERATOR_MESSAGE).length, 1, 'no further warning')
})

t.test('graceful stop: new requests and connections get 503 while in-flight ones finish; then "stopped"', async (t) => {
  const drain = new Drain()
  let release!: () => void
  const released = new Promise<void>((r) => (release = r))
  let arrived!: () => void
  const held = new Promise<void>((r) => (arrived = r))
  const h = await startHarness({
    app: {
      drain,
      configure: (app) => {
        app.addHook('onRequest', async (req) => {
          if (req.headers['x-test-hold']) {
            arrived()
            await released
          }
        })
      },
    },
  })
  const logs = new LogCapture()
  const logger = createLogger('info', logs)
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (h.app.server.address() as { port: number }).port
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const get = (agent: http.Agent | false, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/health/live', agent, headers }, (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (c: string) => (body += c))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        })
        .on('error', reject)
    })
  t.equal((await get(keepAlive)).status, 200, 'a warm keep-alive connection')

  const slow = get(false, { 'x-test-hold': '1' })
  await held
  t.equal(drain.inFlight, 1)
  let closed = false
  const stopping = stopGracefully({
    logger,
    drain,
    app: h.app,
    deps: { close: () => h.deps.close() },
    timeoutMs: 60_000,
  }).then(() => (closed = true))

  const fresh = await get(false)
  t.equal(fresh.status, 503, 'a new connection during the drain is answered 503')
  t.equal(fresh.headers.connection, 'close')
  t.equal(fresh.headers['retry-after'], '5')
  t.match(fresh.headers['content-type'], /application\/problem\+json/)
  t.equal(JSON.parse(fresh.body).code, 'service_unavailable')
  const reused = await get(keepAlive)
  t.equal(reused.status, 503, 'a request on a kept-alive connection too')
  t.equal(reused.headers.connection, 'close')
  t.equal(closed, false, 'the stop waits for the in-flight request')
  t.notOk(logs.lines.some((l) => JSON.parse(l).msg === 'stopped'))

  release()
  t.equal((await slow).status, 200, 'the in-flight request finished')
  await stopping
  const msgs = logs.lines.map((l) => JSON.parse(l) as { msg: string; level: number })
  t.same(msgs.at(-1), { ...msgs.at(-1), msg: 'stopped', level: 30 }, 'the last line says stopped')
  await t.rejects(get(false), 'after the stop the port is closed')
  keepAlive.destroy()
  await h.db.drop()
})
