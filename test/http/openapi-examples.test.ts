/**
 * The OpenAPI document's examples (contract §6, v1.1): loads /docs/json from a listening service, checks that every
 * operation has an example for its request body and for each 2xx answer with content, validates every example
 * against its schema (Ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses), checks the `webhooks` section (one entry per
 * event type, the three webhook-* headers, both signature schemes), then plays every operation once against the
 * live service, sending the request example, and expects a documented 2xx status.
 *
 * Substitutions made when sending a request example (everything else is sent as documented):
 * - dates: every YYYY-MM-DD (and the date part of a timestamp) moves by the days between the examples' day
 *   (EXAMPLE_DAY) and today in Asia/Shanghai — what the /docs page does at load;
 * - the example "now" timestamp (EXAMPLE_NOW) becomes the current time — what the /docs page does on send;
 * - case numbers (`（YYYY）…N号`) get a fresh serial number N, so each run makes new cases;
 * - ids the example cannot know: path ids, `referralId`, `agreementSha256`, `clientId`, `materialId`s, and the
 *   subscription `url` (a local receiver, with `allowPrivateNetwork: true`); Idempotency-Key is fresh per request.
 *
 * With WRITE_OPENAPI_EXAMPLES=1 the answers are written to src/http/openapi-response-examples.ts (then run
 * `npm run openapi` and `npm run client:types`): the response examples are these real answers.
 */
import { writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import vm from 'node:vm'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import prettier from 'prettier'
import t, { type Test } from 'tap'
import { docsRequestInterceptor, docsResponseInterceptor, EXAMPLE_DAY, EXAMPLE_NOW } from '../../src/http/openapi-examples.js'
import { EVENT_TYPES } from '../../src/schemas/events.js'
import { startEngine } from '../helpers/delivery.js'
import { organizationBody, referralBody } from '../helpers/fixtures.js'
import { idemKey, startHarness, TEST_DIR } from '../helpers/harness.js'
import { eventually, startPeer } from '../helpers/peer.js'

type Json = Record<string, unknown>
type MediaType = { schema?: Json; example?: unknown }
type Operation = {
  operationId?: string
  requestBody?: { content: Record<string, MediaType> }
  responses: Record<string, { content?: Record<string, MediaType> }>
}

const h = await startHarness({ env: { RATE_LIMIT_PER_MINUTE: '100000' } })
await h.app.listen({ host: '127.0.0.1', port: 0 })
const baseUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
const engine = startEngine(h.deps)
const receiver = await startPeer()
const refusing = await startPeer({ respond: () => ({ kind: 'status', status: 400 }) })
t.teardown(async () => {
  await receiver.close()
  await refusing.close()
  await engine.stop()
  await h.close()
})

const doc = (await (await fetch(`${baseUrl}/docs/json`)).json()) as {
  paths: Record<string, Record<string, Operation>>
  webhooks: Record<string, { post: Operation & { parameters: Json[] } }>
}
const operations: Array<{ key: string; op: Operation }> = []
for (const [p, item] of Object.entries(doc.paths)) for (const [m, op] of Object.entries(item)) operations.push({ key: `${m.toUpperCase()} ${p}`, op })

type AddFormats = (ajv: Ajv2020) => Ajv2020
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true })
addFormats(ajv)
ajv.addFormat('binary', true)
ajv.addSchema(doc as unknown as Json, 'doc')
const pointer = (...parts: string[]) => 'doc#/' + parts.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')
function validate(ref: string, value: unknown): string | null {
  const check = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref })
  return check(value) ? null : ajv.errorsText(check.errors)
}

t.test('every operation has its examples, and each example matches its schema', async (t) => {
  t.ok(operations.length > 60, `${operations.length} operations`)
  for (const { key, op } of operations) {
    const [method, p] = key.split(' ') as [string, string]
    for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
      if (media.schema?.format === 'binary') continue // a file upload: the body is the file
      t.not(media.example, undefined, `${key}: request example (${type})`)
      if (media.example !== undefined)
        t.equal(
          validate(pointer('paths', p, method.toLowerCase(), 'requestBody', 'content', type, 'schema'), media.example),
          null,
          `${key}: request example is valid`,
        )
    }
    for (const [status, response] of Object.entries(op.responses)) {
      if (!status.startsWith('2') || !response.content) continue
      for (const [type, media] of Object.entries(response.content)) {
        t.not(media.example, undefined, `${key} → ${status}: response example (${type})`)
        if (media.example !== undefined && media.schema) {
          t.equal(
            validate(pointer('paths', p, method.toLowerCase(), 'responses', status, 'content', type, 'schema'), media.example),
            null,
            `${key} → ${status}: valid`,
          )
        }
      }
    }
  }
})

t.test('webhooks: one entry per event type, with the envelope, the three headers and both signature schemes', async (t) => {
  t.same(Object.keys(doc.webhooks).sort(), [...EVENT_TYPES].sort())
  for (const [type, { post }] of Object.entries(doc.webhooks)) {
    t.same(
      post.parameters.map((p) => p.name),
      ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
      `${type}: headers`,
    )
    const sig = post.parameters[2] as { description: string }
    t.match(sig.description, /v1,/)
    t.match(sig.description, /sm3,/)
    const media = post.requestBody?.content['application/json']
    t.ok(media?.schema, `${type}: payload schema`)
    if (media?.example !== undefined)
      t.equal(
        validate(pointer('webhooks', type, 'post', 'requestBody', 'content', 'application/json', 'schema'), media.example),
        null,
        `${type}: example valid`,
      )
  }
})

t.test('the /docs page moves example dates to today and sends the example "now" as the current time', async (t) => {
  const script = await (await fetch(`${baseUrl}/docs/static/swagger-initializer.js`)).text()
  t.match(script, /responseInterceptor/)
  t.match(script, /requestInterceptor/)
  t.doesNotThrow(() => new vm.Script(script), 'the page script (with the interceptors serialised into it) compiles')
  const shanghaiToday = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
  const spec = {
    paths: { '/x': { post: { requestBody: { content: { 'application/json': { example: { on: EXAMPLE_DAY, at: EXAMPLE_NOW, name: EXAMPLE_DAY } } } } } } },
    description: EXAMPLE_DAY,
  }
  const res = docsResponseInterceptor({ url: 'http://h/docs/json', text: JSON.stringify(spec) }) as { obj: typeof spec }
  const example = res.obj.paths['/x'].post.requestBody.content['application/json'].example
  t.equal(example.on, shanghaiToday, 'an example date becomes today')
  t.equal(example.at, `${shanghaiToday}T10:00:00+08:00`)
  t.equal(res.obj.description, EXAMPLE_DAY, 'text outside examples is left alone')
  const sent = docsRequestInterceptor({ body: JSON.stringify({ acceptedAt: example.at }) }) as { body: string }
  const acceptedAt = (JSON.parse(sent.body) as { acceptedAt: string }).acceptedAt
  t.ok(Math.abs(Date.parse(acceptedAt) - Date.now()) < 5_000, `sent as the current time (${acceptedAt})`)
})

// ---- the live tour ------------------------------------------------------------------------------------------------

const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
const delta = Math.round((Date.parse(today) - Date.parse(EXAMPLE_DAY)) / 86_400_000)
const nowIso = () => new Date(Date.now() + 8 * 3600_000).toISOString().replace('Z', '+08:00')
let serial = 10_000 + Math.floor(Math.random() * 80_000)
function moveDate(s: string): string {
  const d = new Date(`${s.slice(0, 10)}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + delta)
  return d.toISOString().slice(0, 10) + s.slice(10)
}
/**
 * The documented substitutions (see the file's comment). Every EXAMPLE_NOW of one example becomes the same instant:
 * the agreement example's signatures and its effectiveAt must agree to the millisecond.
 */
function fresh<T>(value: T, now = nowIso()): T {
  if (typeof value === 'string') {
    if (value === EXAMPLE_NOW) return now as T
    if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$/.test(value)) return moveDate(value) as T
    if (/^（\d{4}）.+\d+号$/.test(value)) return value.replace(/\d+号$/, `${serial++}号`) as T
    return value
  }
  if (Array.isArray(value)) return value.map((v) => fresh(v, now)) as T
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fresh(v, now)])) as T
  return value
}
function requestExample(key: string): Json {
  const [method, p] = key.split(' ') as [string, string]
  const media = doc.paths[p]?.[method.toLowerCase()]?.requestBody?.content['application/json']
  if (!media || media.example === undefined) throw new Error(`${key} has no request example`)
  return fresh(structuredClone(media.example)) as Json
}

const played = new Map<string, number>()
const recorded: Record<string, unknown> = {}
interface Sent {
  status: number
  json: Json
  text: string
}
/** Sends `key` (`METHOD /path`) with a key; `example: true` sends the request example (after `edit`). */
async function send(
  key: string,
  apiKey: string | null,
  opts: {
    path?: Record<string, string>
    query?: Record<string, string>
    body?: unknown
    example?: boolean
    edit?: (b: Json) => Json
    raw?: Buffer
    headers?: Record<string, string>
  } = {},
): Promise<Sent> {
  const [method, template] = key.split(' ') as [string, string]
  const url = template.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(opts.path?.[n] ?? `missing-${n}`))
  const query = opts.query ? `?${new URLSearchParams(opts.query)}` : ''
  let body: string | Buffer | undefined
  const headers: Record<string, string> = { ...opts.headers }
  if (apiKey) headers.authorization = `Bearer ${apiKey}`
  if (method === 'POST') headers['idempotency-key'] = idemKey()
  if (opts.example) {
    const ex = requestExample(key)
    body = JSON.stringify(opts.edit ? opts.edit(ex) : ex)
  } else if (opts.body !== undefined) body = JSON.stringify(opts.body)
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (opts.raw) body = opts.raw
  const res = await fetch(baseUrl + url + query, { method, headers, body })
  const text = await res.text()
  let json: Json
  try {
    json = text ? (JSON.parse(text) as Json) : {}
  } catch {
    json = {}
  }
  return { status: res.status, json, text }
}
/** Like {@link send}, for the operation under test: counts it and expects a documented 2xx. */
async function play(t: Test, key: string, apiKey: string | null, opts: Parameters<typeof send>[2] = {}): Promise<Sent> {
  const [method, p] = key.split(' ') as [string, string]
  const op = doc.paths[p]?.[method.toLowerCase()]
  const documented = Object.keys(op?.responses ?? {}).filter((s) => s.startsWith('2'))
  const r = await send(key, apiKey, { example: !!op?.requestBody && opts.body === undefined && !opts.raw, ...opts })
  if (!t.ok(documented.includes(String(r.status)), `${key} → ${r.status} (documented: ${documented.join(', ')})`)) t.comment(r.text.slice(0, 600))
  played.set(key, (played.get(key) ?? 0) + 1)
  if (documented.includes(String(r.status)) && recorded[`${key} ${r.status}`] === undefined && r.text) {
    recorded[`${key} ${r.status}`] = /^\s*[[{]/.test(r.text) ? r.json : r.text.slice(0, 400)
  }
  return r
}
/** A setup call that must succeed. */
async function must(key: string, apiKey: string, opts: Parameters<typeof send>[2] = {}): Promise<Json> {
  const r = await send(key, apiKey, opts)
  if (r.status >= 300) throw new Error(`${key}: ${r.status} ${r.text}`)
  return r.json
}
const caseNo = (type = '民诉前调') => `（${today.slice(0, 4)}）京0105${type}${serial++}号`
const pdf = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n')

t.test('every request example works against the live service (fresh ids), answering its documented status', async (t) => {
  const op = h.operatorKey
  await play(t, 'GET /health/live', null)
  await play(t, 'GET /health/ready', null)
  await play(t, 'GET /metrics', null)

  // Clients: the court comes from the example itself.
  const courtClient = (await play(t, 'POST /v1/clients', op)).json as { id: string; apiKey: string; keyId: string }
  const court = courtClient.apiKey
  const platformClient = await must('POST /v1/clients', op, { body: { name: '北京平台', role: 'mediation', regionCodes: ['11'] } })
  const platform = String(platformClient.apiKey)
  await play(t, 'GET /v1/clients', op)
  await play(t, 'GET /v1/clients/{id}', op, { path: { id: courtClient.id } })
  const extraKey = (await play(t, 'POST /v1/clients/{id}/keys', op, { path: { id: courtClient.id } })).json
  await play(t, 'DELETE /v1/clients/{id}/keys/{keyId}', op, { path: { id: courtClient.id, keyId: String(extraKey.keyId) } })

  // Organizations and rosters.
  await play(t, 'PUT /v1/organizations/{id}', platform, { path: { id: 'bj-cy-blz' } })
  await play(t, 'PUT /v1/organizations/{id}', platform, { path: { id: 'bj-cy-blz' } })
  await play(t, 'PUT /v1/courts/{courtCode}/special-roster/{organizationId}', court, { path: { courtCode: '京0105', organizationId: 'bj-cy-blz' } })
  await must('PUT /v1/organizations/{id}', platform, {
    path: { id: 'bj-cy-centre' },
    body: organizationBody({ name: '朝阳区非诉讼纠纷化解中心', kind: 'centre', fullTimeMediators: 5 }),
  })
  await must('PUT /v1/courts/{courtCode}/special-roster/{organizationId}', court, { path: { courtCode: '京0105', organizationId: 'bj-cy-centre' } })
  await play(t, 'GET /v1/organizations/{id}', platform, { path: { id: 'bj-cy-blz' } })
  await play(t, 'GET /v1/organizations', platform)
  await play(t, 'GET /v1/routing/suggestions', court, { query: { courtCode: '京0105', disputeType: 'neighbor' } })

  // Subscriptions: one to a receiver that takes everything, one to a receiver that refuses (a dead delivery to retry).
  const sub = (
    await play(t, 'POST /v1/subscriptions', op, {
      edit: (b) => ({ ...b, clientId: courtClient.id, url: receiver.url, allowPrivateNetwork: true }),
    })
  ).json as { id: string }
  const deadSub = await must('POST /v1/subscriptions', op, {
    body: { clientId: courtClient.id, url: refusing.url, eventTypes: ['referral.created'], allowPrivateNetwork: true },
  })

  // Materials.
  const material = (
    await play(t, 'POST /v1/materials', platform, {
      raw: pdf,
      headers: { 'content-type': 'application/pdf', 'x-material-title': encodeURIComponent('调解主持证明.pdf') },
    })
  ).json as { id: string }
  await play(t, 'GET /v1/materials/{id}', platform, { path: { id: material.id } })

  // Referral A: the happy path to closure, every action from its example.
  const a = (await play(t, 'POST /v1/referrals', court)).json as { id: string }
  await play(t, 'GET /v1/referrals/{id}', court, { path: { id: a.id } })
  await play(t, 'GET /v1/referrals', court)
  await play(t, 'POST /v1/referrals/{id}/acceptance', platform, { path: { id: a.id } })
  await play(t, 'POST /v1/referrals/{id}/suspension', platform, { path: { id: a.id } })
  await play(t, 'POST /v1/referrals/{id}/resumption', platform, { path: { id: a.id } })
  await play(t, 'POST /v1/referrals/{id}/extension', platform, { path: { id: a.id } })
  const agreed = (await play(t, 'POST /v1/referrals/{id}/agreement', platform, { path: { id: a.id } })).json as { agreement?: { sha256?: string } }
  await play(t, 'POST /v1/referrals/{id}/performance', platform, { path: { id: a.id } })
  await play(t, 'POST /v1/referrals/{id}/closure', court, { path: { id: a.id } })
  await play(t, 'GET /v1/referrals/{id}/events', court, { path: { id: a.id } })
  await play(t, 'GET /v1/referrals/{id}/integrity', op, { path: { id: a.id } })

  // Referral B: declined → redesignated → recalled → case registered.
  const b = await must('POST /v1/referrals', court, { body: referralBody({ caseNumber: caseNo() }) })
  await must('POST /v1/referrals/{id}/acceptance', platform, { path: { id: String(b.id) }, body: { decision: 'declined', reason: '本组织近期无调解员可派' } })
  await play(t, 'POST /v1/referrals/{id}/redesignation', court, { path: { id: String(b.id) } })
  await play(t, 'POST /v1/referrals/{id}/recall', court, { path: { id: String(b.id) } })
  await play(t, 'POST /v1/referrals/{id}/court-filing', court, { path: { id: String(b.id) } })

  // Referral C: terminated, materials returned.
  const c = await must('POST /v1/referrals', court, { body: referralBody({ caseNumber: caseNo() }) })
  await must('POST /v1/referrals/{id}/acceptance', platform, {
    path: { id: String(c.id) },
    body: { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: nowIso() },
  })
  await play(t, 'POST /v1/referrals/{id}/termination', platform, { path: { id: String(c.id) } })
  await play(t, 'POST /v1/referrals/{id}/material-return', platform, { path: { id: String(c.id) } })

  // Referral D: designated to a centre, which assigns it.
  const d = await must('POST /v1/referrals', court, {
    body: referralBody({ caseNumber: caseNo(), designation: { mode: 'court_designated', organizationId: 'bj-cy-centre' } }),
  })
  await play(t, 'POST /v1/referrals/{id}/assignment', platform, { path: { id: String(d.id) } })

  // Judicial confirmation of A's agreement, through review, supplements, ruling and objection.
  const jc = (
    await play(t, 'POST /v1/judicial-confirmations', platform, { edit: (body) => ({ ...body, referralId: a.id, agreementSha256: agreed.agreement?.sha256 }) })
  ).json as { id: string }
  await play(t, 'GET /v1/judicial-confirmations/{id}', court, { path: { id: jc.id } })
  await play(t, 'GET /v1/judicial-confirmations', court)
  await play(t, 'POST /v1/judicial-confirmations/{id}/acceptance', court, { path: { id: jc.id } })
  await play(t, 'POST /v1/judicial-confirmations/{id}/review-extension', court, { path: { id: jc.id } })
  await play(t, 'POST /v1/judicial-confirmations/{id}/material-request', court, { path: { id: jc.id } })
  await play(t, 'POST /v1/judicial-confirmations/{id}/material-supplement', platform, {
    path: { id: jc.id },
    edit: (body) => ({ ...body, materials: [{ materialId: material.id }] }),
  })
  await play(t, 'POST /v1/judicial-confirmations/{id}/ruling', court, { path: { id: jc.id } })
  await play(t, 'POST /v1/judicial-confirmations/{id}/objection', court, { path: { id: jc.id } })
  await play(t, 'POST /v1/judicial-confirmations/{id}/objection-ruling', court, { path: { id: jc.id } })
  await play(t, 'GET /v1/judicial-confirmations/{id}/events', court, { path: { id: jc.id } })
  await play(t, 'GET /v1/judicial-confirmations/{id}/integrity', op, { path: { id: jc.id } })

  // A second referral agreed, its application withdrawn.
  const e = await must('POST /v1/referrals', court, { body: referralBody({ caseNumber: caseNo() }) })
  await must('POST /v1/referrals/{id}/acceptance', platform, {
    path: { id: String(e.id) },
    body: { decision: 'accepted', mediator: { name: '王调解' }, acceptedAt: nowIso() },
  })
  const eAgreed = await must('POST /v1/referrals/{id}/agreement', platform, {
    path: { id: String(e.id) },
    body: requestExample('POST /v1/referrals/{id}/agreement'),
  })
  const jc2 = await must('POST /v1/judicial-confirmations', platform, {
    body: { ...requestExample('POST /v1/judicial-confirmations'), referralId: e.id, agreementSha256: (eAgreed.agreement as { sha256: string }).sha256 },
  })
  await play(t, 'POST /v1/judicial-confirmations/{id}/withdrawal', platform, { path: { id: String(jc2.id) } })

  // Warnings, statistics, calendar, code tables, reconciliation, access log.
  const w = (await play(t, 'POST /v1/warnings', court)).json as { id: string }
  await play(t, 'GET /v1/warnings', court)
  await play(t, 'GET /v1/warnings/{id}', court, { path: { id: w.id } })
  await play(t, 'POST /v1/warnings/{id}/follow-up', court, { path: { id: w.id } })
  await play(t, 'POST /v1/warnings/{id}/acknowledgement', platform, { path: { id: w.id } })
  await play(t, 'GET /v1/warnings/{id}/events', court, { path: { id: w.id } })
  await play(t, 'POST /v1/warnings/{id}/closure', court, { path: { id: w.id } })
  await play(t, 'GET /v1/service-keys', court)
  await play(t, 'GET /v1/error-codes', court)
  await play(t, 'POST /v1/referrals/batch', court)
  await play(t, 'GET /v1/stats', court)
  await play(t, 'GET /v1/calendar/{year}', court, { path: { year: today.slice(0, 4) } })
  await play(t, 'PUT /v1/calendar/{year}', op, { path: { year: '2027' } })
  await play(t, 'GET /v1/code-tables', court)
  await play(t, 'GET /v1/code-tables/{name}', court, { path: { name: 'dispute-types' } })
  await play(t, 'GET /v1/reconciliation', court, { query: { date: today, kind: 'referral' } })
  await play(t, 'POST /v1/reconciliation/diff', court, { edit: (body) => ({ ...body, items: [{ id: a.id, version: 1 }] }) })
  await play(t, 'GET /v1/access-log', op)

  // Events, deliveries, subscriptions.
  await play(t, 'GET /v1/events', court)
  await play(t, 'GET /v1/sync/status', op)
  const dead = await eventually(
    async () => {
      const r = await send('GET /v1/deliveries', op, { query: { subscriptionId: String(deadSub.id), status: 'dead' } })
      return (r.json.items as Array<{ id: string }> | undefined)?.[0]
    },
    20_000,
    'a dead delivery',
  )
  await eventually(async () => receiver.requests.length > 0, 20_000, 'a delivery to the receiver')
  await play(t, 'GET /v1/deliveries', op, { query: { subscriptionId: sub.id } })
  await play(t, 'GET /v1/deliveries/{id}', op, { path: { id: dead.id } })
  await play(t, 'POST /v1/deliveries/{id}/retry', op, { path: { id: dead.id } })
  await play(t, 'GET /v1/subscriptions', op)
  await play(t, 'GET /v1/subscriptions/{id}', op, { path: { id: sub.id } })
  await play(t, 'PATCH /v1/subscriptions/{id}', op, { path: { id: sub.id } })
  await play(t, 'POST /v1/subscriptions/{id}/secret-rotation', op, { path: { id: sub.id } })
  const job = (await play(t, 'POST /v1/subscriptions/{id}/recovery', op, { path: { id: String(deadSub.id) } })).json as { jobId?: string; id?: string }
  await play(t, 'GET /v1/subscriptions/{id}/recovery/{jobId}', op, { path: { id: String(deadSub.id), jobId: String(job.jobId ?? job.id) } })
  await play(t, 'DELETE /v1/subscriptions/{id}', op, { path: { id: String(deadSub.id) } })
  await play(t, 'DELETE /v1/courts/{courtCode}/special-roster/{organizationId}', court, { path: { courtCode: '京0105', organizationId: 'bj-cy-centre' } })

  const missing = operations.map((o) => o.key).filter((k) => !played.has(k))
  t.same(missing, [], 'every documented operation was played')

  // Webhook payload examples: one real event of each type seen.
  const events: Record<string, unknown> = {}
  for (let after: string | undefined; ;) {
    const r = await send('GET /v1/events', op, { query: { limit: '200', ...(after ? { after } : {}) } })
    const items = r.json.items as Array<{ type: string }>
    for (const ev of items) events[ev.type] ??= ev
    if (items.length === 0) break
    after = String(r.json.nextCursor)
  }

  if (process.env.WRITE_OPENAPI_EXAMPLES === '1') {
    const target = path.resolve(TEST_DIR, '../../src/http/openapi-response-examples.ts')
    // Lists keep three entries: enough to show their shape, short enough to read.
    const trim = (v: unknown): unknown =>
      Array.isArray(v) ? v.slice(0, 3).map(trim) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, trim(x)])) : v
    const redact = (v: unknown): unknown =>
      JSON.parse(
        JSON.stringify(trim(v))
          .replace(/"apiKey":"[^"]+"/g, '"apiKey":"zdz_example_key_shown_once_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"')
          .replace(/"secret":"whsec_[^"]+"/g, `"secret":"whsec_${Buffer.alloc(32, 42).toString('base64')}"`),
      )
    const source =
      '/**\n * Real answers of the service, recorded by test/http/openapi-examples.test.ts with WRITE_OPENAPI_EXAMPLES=1\n' +
      ' * (one-time keys and secrets replaced by placeholders). Generated: do not edit by hand.\n */\n' +
      `export const RESPONSE_EXAMPLES: Readonly<Record<string, unknown>> = ${JSON.stringify(redact(recorded))}\n` +
      `export const EVENT_EXAMPLES: Readonly<Record<string, unknown>> = ${JSON.stringify(redact(events))}\n`
    writeFileSync(target, await prettier.format(source, { ...(await prettier.resolveConfig(target)), filepath: target }))
    t.comment(`wrote ${target}`)
  }
})
