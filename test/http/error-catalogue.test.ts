import path from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import { ERROR_CATALOGUE, ERROR_CODES, type ErrorCode, errorEntry, preferredLanguage } from '../../src/domain/error-catalogue.js'
import { AppError } from '../../src/domain/errors.js'
import { OPERATION_ERRORS } from '../../src/http/operation-errors.js'
import { registerProblemHandlers } from '../../src/http/problem.js'
import { KEYWORD_CODES } from '../../src/http/validation.js'
import { createLogger } from '../../src/logging.js'
import { scanErrorCodes } from '../helpers/error-code-scan.js'
import { referralBody, residentId } from '../helpers/fixtures.js'
import { idemKey, LogCapture, startHarness } from '../helpers/harness.js'

const SRC = path.resolve(import.meta.dirname, '../../src')

t.test('the catalogue is exact: every code thrown in src/ is listed, with a fitting scope, and every listed code is thrown', async (t) => {
  const uses = scanErrorCodes(SRC)
  t.ok(uses.length > 50, 'the scan finds the codes')
  const thrown = new Set(uses.map((u) => u.code))
  for (const code of Object.values(KEYWORD_CODES)) thrown.add(code)
  const missing = uses.filter((u) => !errorEntry(u.code))
  t.strictSame(
    missing.map((u) => `${u.code} (${u.at})`),
    [],
    'every code is in src/domain/error-catalogue.ts: add an entry { status, scope, title: { zh, en }, description: { zh, en } } for each one listed',
  )
  const misScoped = uses.filter((u) => {
    const scope = errorEntry(u.code)?.scope
    return scope && scope !== 'both' && u.kind !== 'either' && scope !== u.kind
  })
  t.strictSame(
    misScoped.map((u) => `${u.code} used as ${u.kind} at ${u.at}, listed as ${errorEntry(u.code)?.scope}`),
    [],
    'a code used both as a problem code and a field code is listed with scope both',
  )
  t.strictSame(
    ERROR_CODES.filter((c) => !thrown.has(c)),
    [],
    'no listed code is thrown nowhere (remove it, or make the scan see where it is thrown)',
  )
  for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
    t.match(code, /^[a-z][a-z0-9_]*$/, `${code} is snake_case`)
    t.ok(entry.status >= 400 && entry.status < 600, `${code} has an error status`)
    t.ok(entry.title.zh && entry.title.en && entry.description.zh && entry.description.en, `${code} has both languages`)
    t.notMatch(entry.title.en + entry.description.en, /\p{Script=Han}/u, `${code}: the English texts hold no Chinese`)
  }
})

t.test('Accept-Language: q-values decide; Chinese by default', async (t) => {
  const cases: Array<[string | undefined, 'zh' | 'en']> = [
    [undefined, 'zh'],
    ['', 'zh'],
    ['en', 'en'],
    ['en-US,en;q=0.9,zh;q=0.8', 'en'],
    ['zh-CN,zh;q=0.9,en;q=0.8', 'zh'],
    ['zh;q=0.5, en;q=0.6', 'en'],
    ['en;q=0, zh', 'zh'],
    ['fr-FR, en;q=0.3', 'en'],
    ['fr-FR', 'zh'],
    ['*', 'zh'],
    ['EN-gb', 'en'],
    ['en;q=0.5, zh;q=0.5', 'en'],
  ]
  for (const [header, lang] of cases) t.equal(preferredLanguage(header), lang, `${String(header)} → ${lang}`)
})

t.test('the handler logs a code missing from the catalogue', async (t) => {
  const logs = new LogCapture()
  const app = Fastify({ loggerInstance: createLogger('info', logs) })
  registerProblemHandlers(app as unknown as FastifyInstance)
  app.get('/unlisted', async () => {
    throw new AppError(422, 'no_such_code_anywhere' as ErrorCode, '测试')
  })
  app.get('/listed', async () => {
    throw new AppError(422, 'consent_required', '测试')
  })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/unlisted' })
  t.equal(res.statusCode, 422)
  t.ok(
    logs.lines.some((l) => l.includes('error code missing from the error catalogue') && l.includes('no_such_code_anywhere')),
    'an unlisted code is logged at error level',
  )
  const before = logs.lines.length
  await app.inject({ method: 'GET', url: '/listed' })
  t.notOk(
    logs.lines.slice(before).some((l) => l.includes('missing from the error catalogue')),
    'a listed code is not',
  )
})

const h = await startHarness()
t.teardown(() => h.close())
const court = await h.client('court', { courtCodes: ['京0105'] })
const mediation = await h.client('mediation', { regionCodes: ['11'] })

t.test('GET /v1/error-codes: every code once, for every role; 401 without a key', async (t) => {
  let first: unknown
  for (const key of [court.key, mediation.key, h.operatorKey]) {
    const res = await h.call(key, { method: 'GET', url: '/v1/error-codes' })
    t.equal(res.statusCode, 200)
    const items = (res.json() as { items: Array<{ code: string; status: number; title: { zh: string; en: string } }> }).items
    const codes = items.map((i) => i.code)
    t.equal(new Set(codes).size, codes.length, 'each code once')
    t.strictSame([...codes].sort(), [...ERROR_CODES].sort(), 'exactly the catalogue')
    const consent = items.find((i) => i.code === 'consent_required')
    t.match(consent, { status: 422, title: { zh: String, en: 'Consent required' }, description: { zh: String, en: String } })
    if (first) t.strictSame(items, first, 'the same for every role')
    first = items
  }
  const anon = await h.call(null, { method: 'GET', url: '/v1/error-codes' })
  t.equal(anon.statusCode, 401)
  t.equal(anon.json().type, '/docs/errors#unauthorized')
  const query = await h.call(court.key, { method: 'GET', url: '/v1/error-codes?x=1' })
  t.equal(query.statusCode, 400, 'unknown query parameters are refused')
})

t.test('GET /docs/errors: every code with its anchor, no auth, the documentation’s security headers, nothing external', async (t) => {
  const res = await h.call(null, { method: 'GET', url: '/docs/errors' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  for (const code of ERROR_CODES) t.ok(res.body.includes(`id="${code}"`), `anchor for ${code}`)
  const csp = String(res.headers['content-security-policy'])
  t.match(csp, /default-src 'self'/)
  t.match(csp, /script-src 'self'/)
  t.notMatch(/script-src[^;]*/.exec(csp)?.[0] ?? '', /unsafe-inline/, 'no inline scripts allowed')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.ok(res.headers['x-frame-options'] || /frame-ancestors/.test(csp), 'framing refused')
  t.notMatch(res.body, /<script/i, 'no scripts at all')
  t.notMatch(res.body, /(src|href)\s*=\s*"(https?:)?\/\//i, 'no external resources')
  const docs = await h.call(null, { method: 'GET', url: '/docs/json' })
  t.equal(docs.statusCode, 200, 'the OpenAPI document is still served')
})

t.test('problems: type /docs/errors#<code>, detail and messages in the language asked for', async (t) => {
  const url = '/v1/referrals/0190a0a0-0000-7000-8000-000000000000'
  for (const [lang, expected] of [
    [undefined, 'zh'],
    ['en-US,en;q=0.9,zh;q=0.8', 'en'],
    ['zh-CN,zh;q=0.9,en;q=0.8', 'zh'],
  ] as const) {
    const res = await h.call(court.key, { method: 'GET', url, headers: lang ? { 'accept-language': lang } : {} })
    t.equal(res.statusCode, 404)
    const p = res.json()
    t.equal(p.type, '/docs/errors#not_found')
    t.equal(p.code, 'not_found')
    if (expected === 'en') {
      t.notMatch(p.detail, /\p{Script=Han}/u, `${String(lang)}: English detail`)
      t.equal(p.title, 'Not found')
    } else {
      t.match(p.detail, /\p{Script=Han}/u, `${String(lang)}: Chinese detail`)
    }
  }

  // A schema violation: detail and every errors[].message follow the language; an enum names its allowed values.
  const bad = referralBody({ disputeType: 'alien_abduction', claimSummary: 5 })
  const zh = await h.call(court.key, { method: 'POST', url: '/v1/referrals', headers: { 'idempotency-key': idemKey() }, payload: bad })
  t.equal(zh.statusCode, 400)
  const pz = zh.json()
  t.equal(pz.type, '/docs/errors#validation_failed')
  const enumZh = pz.errors.find((e: { path: string }) => e.path === '/disputeType')
  t.match(enumZh, { code: 'invalid_value' })
  t.match(enumZh.message, /允许的取值/)
  t.match(enumZh.message, /marriage_family/)
  t.match(enumZh.message, /new_employment/)
  t.notOk('messageEn' in enumZh, 'no second-language field is sent')
  const en = await h.call(court.key, {
    method: 'POST',
    url: '/v1/referrals',
    headers: { 'idempotency-key': idemKey(), 'accept-language': 'en-US,en;q=0.9,zh;q=0.8' },
    payload: bad,
  })
  const pe = en.json()
  t.equal(en.statusCode, 400)
  t.equal(en.headers['content-language'], 'en')
  t.notMatch(pe.detail, /\p{Script=Han}/u)
  t.equal(pe.title, 'Validation failed')
  for (const e of pe.errors) t.notMatch(e.message, /\p{Script=Han}/u, `${e.path}: English message`)
  const enumEn = pe.errors.find((e: { path: string }) => e.path === '/disputeType')
  t.match(enumEn.message, /must be one of: .*marriage_family.*other/)
  t.same(
    pe.errors.map((e: { path: string; code: string }) => [e.path, e.code]),
    pz.errors.map((e: { path: string; code: string }) => [e.path, e.code]),
    'the same errors in either language',
  )

  // A query enum names its allowed values too, in either language.
  const statusZh = await h.call(h.operatorKey, { method: 'GET', url: '/v1/deliveries?status=bogus' })
  t.equal(statusZh.statusCode, 400)
  t.match(statusZh.json().errors, [{ path: '/status', code: 'invalid_value', message: /允许的取值：pending, delivered, dead/ }])
  const statusEn = await h.call(h.operatorKey, { method: 'GET', url: '/v1/deliveries?status=bogus', headers: { 'accept-language': 'en;q=0.8, zh;q=0.2' } })
  t.match(statusEn.json().errors, [{ path: '/status', code: 'invalid_value', message: /^must be one of: pending, delivered, dead/ }])

  // An identifier check explains itself in English.
  const badId = referralBody()
  const good = residentId()
  ;(badId.parties as Array<{ idNumber: string }>)[0].idNumber = good.slice(0, 17) + (good[17] === '0' ? '1' : '0')
  const idEn = await h.call(court.key, {
    method: 'POST',
    url: '/v1/referrals',
    headers: { 'idempotency-key': idemKey(), 'accept-language': 'en' },
    payload: badId,
  })
  t.equal(idEn.statusCode, 400)
  t.match(idEn.json().errors, [{ path: '/parties/0/idNumber', code: 'invalid_id_number', message: /check character/ }])

  // A missing Idempotency-Key: the code's own English.
  const missingKey = await h.call(court.key, { method: 'POST', url: '/v1/referrals', headers: { 'accept-language': 'en' }, payload: referralBody() })
  t.equal(missingKey.statusCode, 400)
  t.match(missingKey.json(), { code: 'idempotency_key_required', type: '/docs/errors#idempotency_key_required' })
  t.notMatch(missingKey.json().detail, /\p{Script=Han}/u)
})

t.test('GET /v1/events: a bad `after` is reported at /after', async (t) => {
  for (const after of ['0', 'not-a-cursor', Buffer.from('{"t":1}').toString('base64url')]) {
    const res = await h.call(h.operatorKey, { method: 'GET', url: `/v1/events?after=${after}` })
    t.equal(res.statusCode, 400)
    t.match(res.json(), { code: 'invalid_cursor', type: '/docs/errors#invalid_cursor', errors: [{ path: '/after', code: 'invalid_cursor' }] })
  }
  const list = await h.call(h.operatorKey, { method: 'GET', url: '/v1/referrals?cursor=0' })
  t.match(list.json(), { code: 'invalid_cursor', errors: [{ path: '/cursor' }] })
})

interface Op {
  parameters?: Array<{ in: string; name: string; required?: boolean }>
  responses: Record<string, { content?: Record<string, { examples?: Record<string, { value: Record<string, unknown> }> }> }>
}

t.test('OpenAPI: every route has its error list; each problem status has an example per code; headers marked', async (t) => {
  const doc = h.app.swagger() as unknown as { paths: Record<string, Record<string, Op>> }
  const keys = new Set<string>()
  for (const r of h.routes) {
    const url = r.url
    const methods = (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== 'HEAD' && m !== 'OPTIONS')
    const hidden = (r as { schema?: { hide?: boolean } }).schema?.hide
    if (hidden || url.startsWith('/docs') || url.startsWith('/console')) continue
    const openapiPath = url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
    for (const m of methods) keys.add(`${m} ${openapiPath}`)
  }
  const missing = [...keys].filter((k) => !(k in OPERATION_ERRORS))
  t.strictSame(
    missing,
    [],
    `every operation has an entry in OPERATION_ERRORS (src/http/operation-errors.ts): add ${missing.map((k) => `'${k}': [<codes particular to it>]`).join(', ')}`,
  )
  const stale = Object.keys(OPERATION_ERRORS).filter((k) => !keys.has(k))
  t.strictSame(stale, [], 'no entry for an operation that does not exist')
  for (const [key, codes] of Object.entries(OPERATION_ERRORS)) {
    for (const c of codes) t.ok(errorEntry(c)?.scope !== 'field', `${key}: ${c} is a problem code in the catalogue`)
  }

  let examples = 0
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      for (const [status, r] of Object.entries(op.responses)) {
        const problem = r.content?.['application/problem+json']
        if (!problem) continue
        const ex = problem.examples ?? {}
        t.ok(Object.keys(ex).length > 0, `${method} ${p} ${status} has examples`)
        for (const [name, { value }] of Object.entries(ex)) {
          examples++
          if (value.code !== name || value.type !== `/docs/errors#${name}` || value.status !== Number(status) || !value.title || !value.detail) {
            t.fail(`${method} ${p} ${status}: example ${name} is not the real problem`)
          }
        }
      }
      const headers = (op.parameters ?? []).filter((x) => x.in === 'header')
      const idem = headers.find((x) => x.name === 'idempotency-key')
      if (idem) t.equal(idem.required, true, `${method} ${p}: Idempotency-Key required`)
      const ifMatch = headers.find((x) => x.name === 'if-match')
      if (ifMatch) t.match(p, /^\/v1\/(referrals|judicial-confirmations|warnings)\/\{id\}\//, `${method} ${p}: If-Match only on actions on an existing case`)
    }
  }
  t.ok(examples > 500, 'examples everywhere')
  const create = doc.paths['/v1/referrals'].post
  t.notOk(
    create.parameters?.some((x) => x.name === 'if-match'),
    'POST /v1/referrals takes no If-Match',
  )
  t.ok(
    create.parameters?.some((x) => x.name === 'idempotency-key' && x.required),
    'POST /v1/referrals requires Idempotency-Key',
  )
  const rules = create.responses['422'].content?.['application/problem+json'].examples ?? {}
  for (const c of ['consent_required', 'court_code_not_allowed', 'not_on_roster', 'idempotency_key_reused'])
    t.ok(c in rules, `POST /v1/referrals 422 lists ${c}`)
  const acceptance = doc.paths['/v1/referrals/{id}/acceptance'].post
  t.ok('timestamp_before_referral' in (acceptance.responses['422'].content?.['application/problem+json'].examples ?? {}))
  t.ok(
    acceptance.parameters?.some((x) => x.name === 'if-match' && !x.required),
    'If-Match stays optional on actions',
  )
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (method === 'post' && p.startsWith('/v1/') && p !== '/v1/reconciliation/diff') {
        t.ok(
          op.parameters?.some((x) => x.name === 'idempotency-key' && x.required),
          `${method} ${p} requires Idempotency-Key`,
        )
      }
    }
  }
})
