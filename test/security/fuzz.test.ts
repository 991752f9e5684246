/**
 * Hostile input on every route of the generated OpenAPI document (reliability rows 26 and 27), through the app on
 * PostgreSQL and Redis, each route called with a key of a role allowed on it:
 * - NUL, other C0 and C1 controls, DEL, lone surrogates and bidirectional overrides in each string of each JSON body,
 *   query parameter, path parameter and header the document declares (tab, CR and LF too, where the text is one
 *   line) → 400 validation_failed with `invalid_characters` at that path;
 * - the same in property names → 400;
 * - forged cursors (wrong types, injection-shaped, huge numbers, not base64url JSON at all) → 400 invalid_cursor
 *   (or validation_failed when the cursor's own characters or length are refused);
 * - never a 5xx, whatever is sent.
 * Bounded: a fixed number of runs per route and part, and a time budget for the whole file (~30 s). A failure prints
 * fast-check's seed and counterexample; FUZZ_SEED replays a run.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { post, referralBody, residentId, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'

t.setTimeout(170_000)

const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 30_000)
const SEED = process.env.FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED)
t.comment(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays it), budget ${BUDGET_MS} ms`)

type Schema = Record<string, unknown> & {
  type?: string | string[]
  properties?: Record<string, Schema>
  items?: Schema
  anyOf?: Schema[]
  oneOf?: Schema[]
  allOf?: Schema[]
  enum?: unknown[]
  $ref?: string
}
interface Parameter {
  name: string
  in: 'path' | 'query' | 'header'
  required?: boolean
  schema: Schema
}
interface Operation {
  parameters?: Parameter[]
  requestBody?: { content: Record<string, { schema: Schema; example?: unknown; examples?: Record<string, { value: unknown }> }> }
}
interface Doc {
  paths: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, Schema> }
}

const doc = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as Doc

const h = await startHarness({ env: { RATE_LIMIT_PER_MINUTE: '1000000' } })
t.teardown(() => h.close())
const w = await standardWorld(h)
const keys: Record<string, string> = { court: w.court.key, mediation: w.platform.key, operator: h.operatorKey }

// Real resources for path parameters, so a request that passes validation reaches the database.
const referral = await post(h, w.court.key, '/v1/referrals', referralBody())
if (referral.statusCode !== 201) throw new Error(referral.body)
const referralId = referral.json().id as string

const started = Date.now()
const remaining = () => Math.max(0, BUDGET_MS - (Date.now() - started))

// ---------------------------------------------------------------------------------------------
// Values the schemas accept, to carry one hostile string at a time

function resolve(s: Schema): Schema {
  if (typeof s.$ref === 'string') {
    const name = s.$ref.replace(/^#\/components\/schemas\//, '').replace(/#$/, '')
    return resolve(doc.components?.schemas?.[name] ?? {})
  }
  return s
}

/** The branch of a union a sample takes: the first that is not null. */
function branch(s: Schema): Schema {
  const r = resolve(s)
  const union = r.anyOf ?? r.oneOf
  if (union) return branch(union.find((u) => resolve(u).type !== 'null') ?? union[0])
  if (r.allOf?.length) return branch(r.allOf[0])
  return r
}

const typeOf = (s: Schema): string | undefined => {
  const b = branch(s)
  return Array.isArray(b.type) ? b.type.find((x) => x !== 'null') : b.type
}

const hourAgo = new Date(Date.now() - 3_600_000).toISOString()

/** A string a schema node accepts, by what it checks. */
function sampleString(s: Schema, name: string): string {
  if (s.enum?.length) return String(s.enum[0])
  switch (s['x-check']) {
    case 'courtCode':
      return '京0105'
    case 'regionCode':
      return '110105'
    case 'regionPrefix':
    case 'regionScope':
      return '11'
    case 'uscc':
      return '91110105MA01B2C34Q'
    case 'date':
      return '2026-01-05'
    case 'timestamp':
      return hourAgo
    case 'idNumber':
      return residentId()
    case 'calendarYear':
      return '2026'
  }
  if (s.format === 'date-time') return hourAgo
  if (s.format === 'date') return '2026-01-05'
  if (s.format === 'uuid') return randomUUID()
  if (s.format === 'uri' || /url/i.test(name)) return 'https://receiver.example.com/hook'
  if (typeof s.pattern === 'string') {
    if (s.pattern.startsWith('^[A-Za-z0-9_-]')) return 'bj-cy-blz'
    if (s.pattern.includes('\\d{0,15}')) return '100.00'
  }
  return /id$/i.test(name) ? referralId : '调解'
}

/** A value `s` accepts (or close to it: validation lists every error, so the hostile one is named either way). */
function sample(s: Schema, name = ''): unknown {
  const b = branch(s)
  const type = typeOf(b)
  if (b.enum?.length) return b.enum[0]
  switch (type) {
    case 'string':
      return sampleString(b, name)
    case 'integer':
    case 'number':
      return typeof b.minimum === 'number' ? b.minimum : 1
    case 'boolean':
      return true
    case 'array':
      return [sample(b.items ?? {}, name)]
    case 'object':
    default: {
      if (!b.properties) return type === 'object' ? {} : '调解'
      return Object.fromEntries(Object.entries(b.properties).map(([k, v]) => [k, sample(v, k)]))
    }
  }
}

interface Leaf {
  /** JSON pointer. */
  path: string
  segments: Array<string | number>
  multiline: boolean
}

/** Every string of `value` whose schema node takes a string, with the node's `x-text`. */
function stringLeaves(s: Schema, value: unknown, segments: Array<string | number> = []): Leaf[] {
  const b = branch(s)
  if (typeof value === 'string') {
    return typeOf(b) === 'string' ? [{ path: pointer(segments), segments, multiline: b['x-text'] === 'multiline' }] : []
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => stringLeaves(b.items ?? {}, v, [...segments, i]))
  if (value !== null && typeof value === 'object' && b.properties) {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => (b.properties?.[k] ? stringLeaves(b.properties[k], v, [...segments, k]) : []))
  }
  return []
}

const pointer = (segments: Array<string | number>) => segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')

function setAt(value: unknown, segments: Array<string | number>, v: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>
  let node = copy
  for (const s of segments.slice(0, -1)) node = node[s] as Record<string | number, unknown>
  node[segments[segments.length - 1]] = v
  return copy
}

function getAt(value: unknown, segments: Array<string | number>): unknown {
  let node = value as Record<string | number, unknown>
  for (const s of segments) node = node[s] as Record<string | number, unknown>
  return node
}

// ---------------------------------------------------------------------------------------------
// Hostile characters

const range = (from: number, to: number, except: number[] = []) =>
  fc
    .integer({ min: from, max: to })
    .filter((c) => !except.includes(c))
    .map((c) => String.fromCharCode(c))

/** Refused in every string: C0 controls other than tab, LF and CR, DEL and C1, bidirectional controls. */
const encodable = fc.oneof(
  fc.constant('\u0000'),
  range(0x01, 0x1f, [0x09, 0x0a, 0x0d]),
  range(0x7f, 0x9f),
  fc.constantFrom('\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069'),
)
/** Lone surrogates: only JSON (as \ud800 escapes) and raw header values can carry them; UTF-8 cannot. */
const loneSurrogate = fc.oneof(range(0xd800, 0xdbff), range(0xdc00, 0xdfff))
/** Refused where the text is one line. */
const lineBreak = fc.constantFrom('\t', '\n', '\r')

const hostileFor = (multiline: boolean, surrogates: boolean) =>
  fc.oneof(...[encodable, ...(surrogates ? [loneSurrogate] : []), ...(multiline ? [] : [lineBreak])])

/** `base` with `ch` inserted at a code-point boundary: a high surrogate last, a low one first, so neither finds a partner. */
function insert(base: string, ch: string, at: number): string {
  const code = ch.charCodeAt(0)
  if (code >= 0xd800 && code <= 0xdbff) return base + ch
  if (code >= 0xdc00 && code <= 0xdfff) return ch + base
  const points = [...base]
  const i = at % (points.length + 1)
  return [...points.slice(0, i), ch, ...points.slice(i)].join('')
}

const show = (s: string) =>
  JSON.stringify(s).replace(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

// ---------------------------------------------------------------------------------------------
// Routes

interface Route {
  method: string
  /** The OpenAPI path, e.g. /v1/referrals/{id}. */
  path: string
  op: Operation
  key: string
  params: Parameter[]
}

const ROLE_ORDER = ['court', 'mediation', 'operator']
const routes: Route[] = []
for (const [path, ops] of Object.entries(doc.paths)) {
  if (!path.startsWith('/v1/')) continue
  for (const [method, op] of Object.entries(ops)) {
    const url = path.replace(/\{(\w+)\}/g, ':$1')
    const r = h.routes.find((x) => x.url === url && (Array.isArray(x.method) ? x.method : [x.method]).includes(method.toUpperCase()))
    if (!r) throw new Error(`${method.toUpperCase()} ${path} is in openapi.json but not served: regenerate the document (npm run openapi)`)
    const roles = (r.config as { roles: string[] }).roles
    const role = ROLE_ORDER.find((x) => roles.includes(x))
    if (!role) throw new Error(`${method} ${path}: no role`)
    routes.push({ method: method.toUpperCase(), path, op, key: keys[role], params: op.parameters ?? [] })
  }
}

const pathValue = (p: Parameter) => (p.name === 'id' || p.name === 'jobId' || p.name === 'keyId' ? undefined : sampleString(resolve(p.schema), p.name))

/** The route's URL with sample path values and required query parameters, `over` replacing some (values already encoded). */
function urlOf(route: Route, over: { path?: Record<string, string>; query?: [string, string] } = {}): string {
  const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (over.path?.[name] !== undefined) return over.path[name]
    const p = route.params.find((x) => x.in === 'path' && x.name === name)
    return encodeURIComponent((p && pathValue(p)) ?? (route.path.startsWith('/v1/referrals/') ? referralId : randomUUID()))
  })
  const required = route.params
    .filter((p) => p.in === 'query' && p.required && p.name !== over.query?.[0])
    .map((p) => `${p.name}=${encodeURIComponent(String(sample(p.schema, p.name)))}`)
  const query = [...required, ...(over.query ? [`${over.query[0]}=${over.query[1]}`] : [])].join('&')
  return query ? `${path}?${query}` : path
}

const JSON_BODY = (route: Route) => route.op.requestBody?.content['application/json']

/** Every timestamp of `value` (by its schema) set to an hour ago: an example's dates may lie ahead of today's clock. */
function freshTimestamps(s: Schema, value: unknown): unknown {
  const b = branch(s)
  if (typeof value === 'string') return b.format === 'date-time' ? hourAgo : value
  if (Array.isArray(value)) return value.map((v) => freshTimestamps(b.items ?? {}, v))
  if (value !== null && typeof value === 'object' && b.properties) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, b.properties?.[k] ? freshTimestamps(b.properties[k], v) : v]),
    )
  }
  return value
}

/**
 * The route's documented example (else a sample of its schema), with fresh timestamps: valid, so that a hostile
 * query or header is what validation stops at (Fastify validates the path, the body, the query, then the headers).
 */
function baseBody(route: Route): unknown {
  const media = JSON_BODY(route)
  if (!media) return undefined
  const example = media.example ?? (media.examples ? Object.values(media.examples)[0]?.value : undefined)
  return freshTimestamps(media.schema, example ?? sample(media.schema))
}

function baseHeaders(route: Route): Record<string, string> {
  const out: Record<string, string> = {}
  if (route.params.some((p) => p.in === 'header' && p.name === 'idempotency-key')) out['idempotency-key'] = idemKey()
  if (route.params.some((p) => p.in === 'header' && p.name === 'x-material-title')) {
    out['x-material-title'] = encodeURIComponent('调解协议书.pdf')
    out['content-type'] = 'application/pdf'
  }
  return out
}

function send(route: Route, opts: { url?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<LightMyRequestResponse> {
  const json = JSON_BODY(route)
  const binary = !json && route.op.requestBody
  return h.call(route.key, {
    method: route.method as 'GET',
    url: opts.url ?? urlOf(route),
    headers: { ...baseHeaders(route), ...(opts.headers ?? {}) },
    ...(json ? { payload: (opts.body ?? baseBody(route)) as object } : binary ? { payload: Buffer.from('%PDF-1.7 fuzz') } : {}),
  })
}

let requests = 0
const fiveHundreds: string[] = []

/** The answer names `path` with `invalid_characters` in a 400 validation_failed; throws (for fast-check) otherwise. */
function expectInvalidCharacters(res: LightMyRequestResponse, path: string, what: string): void {
  requests++
  if (res.statusCode >= 500) fiveHundreds.push(`${what}: ${res.statusCode} ${res.body.slice(0, 200)}`)
  let body: { code?: string; errors?: Array<{ path: string; code: string }> } = {}
  try {
    body = res.json()
  } catch {
    // not JSON: the checks below fail
  }
  if (res.statusCode !== 400 || body.code !== 'validation_failed' || !body.errors?.some((e) => e.path === path && e.code === 'invalid_characters')) {
    throw new Error(`${what}: expected 400 invalid_characters at ${path}, got ${res.statusCode} ${res.body.slice(0, 400)}`)
  }
}

/**
 * Batch intake judges each item's referral on its own, as POST /v1/referrals would (contract §2 v1.1): a hostile
 * string inside one is that item's 400 invalid_characters at its path within the referral, in a 200 answer. Any other
 * path (the envelope) is the request's own 400.
 */
function expectInvalidCharactersIn(route: Route, res: LightMyRequestResponse, path: string, what: string): void {
  const item = route.path === '/v1/referrals/batch' ? /^\/items\/(\d+)\/referral(\/.*)$/.exec(path) : null
  if (!item) return expectInvalidCharacters(res, path, what)
  requests++
  if (res.statusCode >= 500) fiveHundreds.push(`${what}: ${res.statusCode} ${res.body.slice(0, 200)}`)
  let answer: { status?: number; problem?: { code?: string; errors?: Array<{ path: string; code: string }> } } | undefined
  try {
    answer = res.statusCode === 200 ? (res.json() as { items: Array<typeof answer> }).items[Number(item[1])] : undefined
  } catch {
    // not JSON: the check below fails
  }
  const p = answer?.problem
  if (answer?.status !== 400 || p?.code !== 'validation_failed' || !p.errors?.some((e) => e.path === item[2] && e.code === 'invalid_characters')) {
    throw new Error(`${what}: expected item ${item[1]} to answer 400 invalid_characters at ${item[2]}, got ${res.statusCode} ${res.body.slice(0, 400)}`)
  }
}

function expectNo5xx(res: LightMyRequestResponse, what: string): void {
  requests++
  if (res.statusCode >= 500) {
    fiveHundreds.push(`${what}: ${res.statusCode} ${res.body.slice(0, 200)}`)
    throw new Error(`${what}: ${res.statusCode} ${res.body.slice(0, 400)}`)
  }
}

/** Runs a property within the time left, reporting its counterexample through tap. */
async function holds<Ts>(t: Test, name: string, property: fc.IAsyncPropertyWithHooks<Ts>, numRuns: number): Promise<void> {
  const details = await fc.check(property, { numRuns, seed: SEED, interruptAfterTimeLimit: remaining(), markInterruptAsFailure: false })
  const error = details.errorInstance instanceof Error ? `\n${details.errorInstance.message}` : ''
  t.equal(details.failed ? `${fc.defaultReportMessage(details) ?? 'property failed'}${error}` : null, null, name)
}

// ---------------------------------------------------------------------------------------------

t.test('hostile characters in every string of every JSON body', async (t) => {
  for (const route of routes) {
    const media = JSON_BODY(route)
    if (!media) continue
    // The example with every property it leaves out: each string the schema takes gets its turn.
    const example = baseBody(route) as Record<string, unknown>
    const base = { ...(sample(media.schema) as Record<string, unknown>), ...example }
    const leaves = stringLeaves(media.schema, base)
    t.ok(leaves.length > 0, `${route.method} ${route.path}: strings to fuzz`)
    if (!leaves.length) continue
    const leaf = fc.constantFrom(...leaves)
    await holds(
      t,
      `${route.method} ${route.path}: body strings`,
      fc.asyncProperty(
        leaf.chain((l) => fc.tuple(fc.constant(l), hostileFor(l.multiline, true), fc.nat())),
        async ([l, ch, at]) => {
          const value = insert(String(getAt(base, l.segments)), ch, at)
          const res = await send(route, { body: setAt(base, l.segments, value) })
          expectInvalidCharactersIn(route, res, l.path, `${route.method} ${route.path} ${l.path}=${show(value)}`)
        },
      ),
      Math.min(100, leaves.length * 10),
    )
    await holds(
      t,
      `${route.method} ${route.path}: property names`,
      fc.asyncProperty(hostileFor(false, true), fc.nat(), async (ch, at) => {
        const res = await send(route, { body: { ...example, [insert('note', ch, at)]: 'x' } })
        expectNo5xx(res, `${route.method} ${route.path} hostile property name`)
        if (res.statusCode !== 400) throw new Error(`${route.method} ${route.path}: a hostile property name answered ${res.statusCode}`)
      }),
      4,
    )
  }
})

t.test('hostile characters in every query, path and header parameter', async (t) => {
  for (const route of routes) {
    for (const p of route.params) {
      if (p.in === 'header' && p.name === 'authorization') continue
      const isString = typeOf(p.schema) === 'string'
      const where = `${route.method} ${route.path} ${p.in} ${p.name}`
      const base = p.in === 'header' ? (baseHeaders(route)[p.name] ?? '"1"') : String(sample(p.schema, p.name))
      // Query and path values travel percent-encoded UTF-8, which cannot hold a lone surrogate; header values are raw.
      const hostile = hostileFor(false, p.in === 'header')
      await holds(
        t,
        where,
        fc.asyncProperty(hostile, fc.nat(), async (ch, at) => {
          const value = insert(base, ch, at)
          const res =
            p.in === 'header'
              ? await send(route, { headers: { [p.name]: value } })
              : p.in === 'path'
                ? await send(route, { url: urlOf(route, { path: { [p.name]: encodeURIComponent(value) } }) })
                : await send(route, { url: urlOf(route, { query: [p.name, encodeURIComponent(value)] }) })
          const what = `${where}=${show(value)}`
          // A number or boolean is coerced from its text (Ajv trims white space there): refused or read, never a 5xx.
          if (isString) expectInvalidCharacters(res, `/${p.name}`, what)
          else expectNo5xx(res, what)
        }),
        12,
      )
      if (p.in === 'query' || p.in === 'path') {
        // Bytes that are not UTF-8 (a CESU-8 surrogate, a lone continuation byte): refused or read as U+FFFD, never a 5xx.
        for (const bytes of ['%ED%A0%80', '%ED%B0%80', '%80', '%C0%80', '%F4%90%80%80']) {
          const url = p.in === 'path' ? urlOf(route, { path: { [p.name]: bytes } }) : urlOf(route, { query: [p.name, bytes] })
          expectNo5xx(await send(route, { url }), `${where}=${bytes}`)
        }
      }
      if (p.in === 'header' && p.name === 'x-material-title') {
        // The title is percent-encoded UTF-8: what it decodes to is checked too.
        await holds(
          t,
          `${where} (decoded)`,
          fc.asyncProperty(hostileFor(false, false), fc.nat(), async (ch, at) => {
            const value = insert('调解协议书.pdf', ch, at)
            const res = await send(route, { headers: { [p.name]: encodeURIComponent(value) } })
            expectInvalidCharacters(res, '/headers/x-material-title', `${where}=${show(value)} (encoded)`)
          }),
          6,
        )
      }
    }
  }
})

/** A JSON value no cursor key kind takes (uuid, non-negative safe integer, bigint decimal string, slug). */
const wrongValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isSafeInteger(d) || d < 0),
  fc.constantFrom(1e308, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE),
  fc.string().map((s) => `${s}' OR '1'='1`),
  fc.string().map((s) => `${s} $gt`),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
)
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8').toString('base64url')

const forgedCursor = fc.oneof(
  fc.dictionary(fc.constantFrom('id', 'seq', 't', 'p', 'x', '__proto__', 'constructor'), wrongValue, { minKeys: 1, maxKeys: 4 }).map(b64),
  fc
    .jsonValue()
    .filter((v) => v === null || typeof v !== 'object' || Array.isArray(v))
    .map(b64),
  fc.constantFrom(
    b64('{"id":'),
    b64('{"seq":99999999999999999999999}'),
    b64('{"t":"99999999999999999999","p":"0"}'),
    b64({ id: "x' OR 1=1 --" }),
    b64({ id: 'a b' }),
    "' OR 1=1 --",
    '1e308',
    '-1',
    'null',
    '%00',
    '%E2%80%AE',
    'A'.repeat(600),
    '====',
  ),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/).filter((s) => {
    try {
      const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown
      return v === null || typeof v !== 'object' || Array.isArray(v) || Object.keys(v).length === 0
    } catch {
      return true
    }
  }),
)

t.test('forged cursors on every list route', async (t) => {
  const lists = routes.filter((r) => r.method === 'GET' && r.params.some((p) => p.in === 'query' && (p.name === 'cursor' || p.name === 'after')))
  t.ok(lists.length >= 8, `${lists.length} list routes`)
  for (const route of lists) {
    const param = route.params.find((p) => p.in === 'query' && (p.name === 'cursor' || p.name === 'after'))!.name
    await holds(
      t,
      `${route.path} ?${param}=`,
      fc.asyncProperty(forgedCursor, async (cursor) => {
        const encoded = /^%/.test(cursor) ? cursor : encodeURIComponent(cursor)
        const res = await send(route, { url: urlOf(route, { query: [param, encoded] }) })
        const what = `${route.path}?${param}=${cursor.slice(0, 80)}`
        expectNo5xx(res, what)
        const code = (res.json() as { code?: string }).code
        if (res.statusCode !== 400 || (code !== 'invalid_cursor' && code !== 'validation_failed')) {
          throw new Error(`${what}: expected 400 invalid_cursor, got ${res.statusCode} ${res.body.slice(0, 300)}`)
        }
      }),
      24,
    )
  }
})

t.test('no 5xx anywhere, within the budget', async (t) => {
  t.same(fiveHundreds, [], 'no request answered 5xx')
  t.ok(requests > 300, `${requests} hostile requests in ${Date.now() - started} ms`)
  t.ok(Date.now() - started < BUDGET_MS + 15_000, 'the fuzz stayed within its time budget')
})
