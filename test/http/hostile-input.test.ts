/**
 * Issue #12 items 3, 6 and 8 through the app on PostgreSQL and Redis: hostile characters in bodies, queries, paths and
 * headers (contract §1 v1.1: 400 `invalid_characters` at the path, never a 500), blank names, the identifier and
 * timestamp rules wherever such a value appears (parties, agents, consent, signatures), the parser's refusals as
 * problem+json, and calendar years that are four digits.
 */
import net from 'node:net'
import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { residentIdCheckChar } from '../../src/domain/identifiers.js'
import { post, referralBody, residentId, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'

const h = await startHarness({ env: { RATE_LIMIT_PER_MINUTE: '5000' } })
t.teardown(() => h.close())
const w = await standardWorld(h)

interface FieldError {
  path: string
  code: string
  message: string
}

/** A 400 validation_failed whose errors[] names `path` with `code`. */
function refusedAt(t: Test, res: LightMyRequestResponse, path: string, code = 'invalid_characters', what = `${code} at ${path}`): void {
  t.equal(res.statusCode, 400, `${what}: status (${res.body.slice(0, 200)})`)
  t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
  const body = res.json() as { code: string; errors?: FieldError[] }
  t.equal(body.code, 'validation_failed', `${what}: code`)
  t.ok(
    body.errors?.some((e) => e.path === path && e.code === code),
    `${what}: errors[] names it (${JSON.stringify(body.errors)})`,
  )
}

const mediating = async (): Promise<string> => {
  const created = await post(h, w.court.key, '/v1/referrals', referralBody())
  if (created.statusCode !== 201) throw new Error(created.body)
  const id = created.json().id as string
  const acc = await post(h, w.platform.key, `/v1/referrals/${id}/acceptance`, {
    decision: 'accepted',
    mediator: { name: '王调解' },
    acceptedAt: new Date(Date.now() - 60_000).toISOString(),
  })
  if (acc.statusCode !== 200) throw new Error(acc.body)
  return id
}

const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString()

t.test('item 3: NUL and lone surrogates in free text are a 400 at their path, not a 500', async (t) => {
  const withParty = (over: Record<string, unknown>) => {
    const b = referralBody()
    Object.assign(b.parties[0], over)
    return b
  }
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['claimSummary NUL', referralBody({ claimSummary: '漏水\u0000赔偿' }), '/claimSummary'],
    ['causeOfAction NUL', referralBody({ causeOfAction: '相邻\u0000关系' }), '/causeOfAction'],
    ['claimSummary lone high surrogate', referralBody({ claimSummary: '漏水\ud800' }), '/claimSummary'],
    ['claimSummary lone low surrogate', referralBody({ claimSummary: '\udc00漏水' }), '/claimSummary'],
    ['party name NUL', withParty({ name: '张\u0000三' }), '/parties/0/name'],
    ['party name lone surrogate (jsonb)', withParty({ name: '张\ud83d' }), '/parties/0/name'],
    ['party address NUL', withParty({ address: '北京\u0000朝阳' }), '/parties/0/address'],
    ['agent name NUL', withParty({ agents: [{ name: '律\u0000师' }] }), '/parties/0/agents/0/name'],
    ['agent licence lone surrogate', withParty({ agents: [{ name: '律师', licenseNumber: '1110\udfff' }] }), '/parties/0/agents/0/licenseNumber'],
  ]
  for (const [what, body, path] of cases) refusedAt(t, await post(h, w.court.key, '/v1/referrals', body), path, 'invalid_characters', what)

  const id = await mediating()
  refusedAt(t, await post(h, w.platform.key, `/v1/referrals/${id}/suspension`, { reason: 'other', note: '鉴定\u0000' }), '/note')
  refusedAt(
    t,
    await post(h, w.platform.key, `/v1/referrals/${id}/agreement`, {
      form: 'written',
      terms: '赔偿\ud800',
      signatures: [
        { partyIndex: 0, signedAt: hourAgo() },
        { partyIndex: 1, signedAt: hourAgo() },
      ],
      mediatorSignedAt: hourAgo(),
      sealedAt: hourAgo(),
      performance: { method: 'immediate' },
    }),
    '/terms',
  )
  refusedAt(
    t,
    await post(h, w.platform.key, `/v1/referrals/${id}/termination`, {
      reason: 'gap_too_large',
      report: '分歧\u0000过大',
      undisputedFacts: [{ statement: '漏水\ud800', confirmedBy: [0, 1] }],
    }),
    '/undisputedFacts/0/statement',
  )
  refusedAt(
    t,
    await h.call(w.platform.key, {
      method: 'POST',
      url: '/v1/judicial-confirmations',
      headers: { 'idempotency-key': idemKey() },
      payload: { courtCode: '京0105', applicants: [0, 1], appliedAt: hourAgo(), lateReason: '迟\u0000延' },
    }),
    '/lateReason',
  )
  // The referral is untouched by the refused writes.
  const after = await h.call(w.court.key, { method: 'GET', url: `/v1/referrals/${id}` })
  t.equal(after.json().status, 'mediating')
  t.equal(after.json().version, 2)
})

t.test('item 3: query strings, path parameters and headers are checked the same way', async (t) => {
  refusedAt(t, await h.call(w.court.key, { method: 'GET', url: '/v1/referrals?status=%00' }), '/status')
  refusedAt(t, await h.call(w.court.key, { method: 'GET', url: '/v1/referrals?partyIdNumber=1%00' }), '/partyIdNumber')
  refusedAt(t, await h.call(w.court.key, { method: 'GET', url: '/v1/referrals?cursor=%1B' }), '/cursor')
  refusedAt(t, await h.call(w.platform.key, { method: 'GET', url: '/v1/organizations?disputeType=%E2%80%AE' }), '/disputeType')
  refusedAt(t, await h.call(w.court.key, { method: 'GET', url: '/v1/referrals/%00' }), '/id')
  refusedAt(t, await h.call(h.operatorKey, { method: 'GET', url: '/v1/access-log?subjectId=%07' }), '/subjectId')

  refusedAt(t, await post(h, w.court.key, '/v1/referrals', referralBody(), { 'idempotency-key': 'k\u0000' }), '/idempotency-key')
  // If-Match belongs to actions on an existing case (a create has no version to match).
  const open = await post(h, w.court.key, '/v1/referrals', referralBody())
  refusedAt(t, await post(h, w.court.key, `/v1/referrals/${open.json().id}/recall`, { reason: 'court_decision' }, { 'if-match': '"1"\u0000' }), '/if-match')

  // X-Material-Title is percent-encoded: its decoded value is checked.
  for (const title of ['%00', 'a%07b', '%E2%80%AEfdp.exe', 'a%0Ab']) {
    const res = await h.call(w.court.key, {
      method: 'POST',
      url: '/v1/materials',
      payload: Buffer.from('%PDF-1.7 x'),
      headers: { 'content-type': 'application/pdf', 'x-material-title': title, 'idempotency-key': idemKey() },
    })
    refusedAt(t, res, '/headers/x-material-title', 'invalid_characters', `title ${title}`)
  }
})

t.test('item 3: control characters, bidirectional overrides and blank names', async (t) => {
  const named = (name: string) => {
    const b = referralBody()
    b.parties[1].name = name
    return b
  }
  for (const [what, name] of [
    ['BEL', '李\u0007四'],
    ['ESC', '李四\u001b[2J'],
    ['DEL', '李四\u007f'],
    ['C1 control', '李四\u0085'],
    ['right-to-left override', '李四\u202egpj.exe'],
    ['left-to-right isolate', '\u2066李四'],
    ['a line feed in a name', '李\n四'],
    ['a tab in a name', '李\t四'],
  ]) {
    refusedAt(t, await post(h, w.court.key, '/v1/referrals', named(name)), '/parties/1/name', 'invalid_characters', what)
  }
  for (const [what, name] of [
    ['spaces', '   '],
    ['an ideographic space', '\u3000'],
    ['zero-width characters', '\u200b\u200c\u200d\ufeff'],
    ['a Hangul filler', '\u3164'],
  ]) {
    refusedAt(t, await post(h, w.court.key, '/v1/referrals', named(name)), '/parties/1/name', 'blank', what)
  }
  const mediator = await post(h, w.platform.key, `/v1/referrals/${(await post(h, w.court.key, '/v1/referrals', referralBody())).json().id}/acceptance`, {
    decision: 'accepted',
    mediator: { name: '\u200b' },
    acceptedAt: hourAgo(),
  })
  refusedAt(t, mediator, '/mediator/name', 'blank')

  // Multi-line text keeps its tabs and line breaks; names with letters from any script are fine.
  const ok = await post(
    h,
    w.court.key,
    '/v1/referrals',
    referralBody({ claimSummary: '一、停止侵害；\r\n二、赔偿损失\t12000 元。', parties: named('Zoë O’Brien-李').parties }),
  )
  t.equal(ok.statusCode, 201, ok.body)
  t.equal(ok.json().claimSummary, '一、停止侵害；\r\n二、赔偿损失\t12000 元。')
})

t.test('item 6: one identifier rule wherever an ID number appears', async (t) => {
  const withCheck = (first17: string) => first17 + residentIdCheckChar(first17)
  const cases: Array<[string, string]> = [
    ['region 000000', withCheck('00000019800101001')],
    ['region 990000', withCheck('99000019800101001')],
    ['born in 1800', withCheck('11010518000101001')],
    ['born in 1899', withCheck('11010518991231001')],
    ['born tomorrow', withCheck(`110105${new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '')}001`)],
  ]
  for (const [what, id] of cases) {
    const party = referralBody()
    party.parties[0].idNumber = id
    refusedAt(t, await post(h, w.court.key, '/v1/referrals', party), '/parties/0/idNumber', 'invalid_id_number', `party: ${what}`)
    const agent = referralBody()
    Object.assign(agent.parties[0], { agents: [{ name: '律师甲', idType: 'resident_id', idNumber: id }] })
    refusedAt(t, await post(h, w.court.key, '/v1/referrals', agent), '/parties/0/agents/0/idNumber', 'invalid_id_number', `agent: ${what}`)
  }

  // An agent's idNumber without its idType no longer escapes the checksum.
  const noType = referralBody()
  Object.assign(noType.parties[0], { agents: [{ name: '律师甲', idNumber: '110105198001010011' }] })
  refusedAt(t, await post(h, w.court.key, '/v1/referrals', noType), '/parties/0/agents/0/idType', 'required')

  const fine = referralBody()
  Object.assign(fine.parties[0], { agents: [{ name: '律师甲', idType: 'resident_id', idNumber: residentId('110108', '19000101') }] })
  const created = await post(h, w.court.key, '/v1/referrals', fine)
  t.equal(created.statusCode, 201, `an agent born 1900-01-01 passes: ${created.body.slice(0, 200)}`)
})

t.test('item 6: phones start with a digit', async (t) => {
  for (const phone of ['      ', '------', '- - - -', '+ 1380013', '+-123456', '12345', '1'.repeat(21)]) {
    const b = referralBody()
    b.parties[0].phone = phone
    refusedAt(t, await post(h, w.court.key, '/v1/referrals', b), '/parties/0/phone', 'invalid_format', `phone ${JSON.stringify(phone)}`)
    const agent = referralBody()
    Object.assign(agent.parties[0], { agents: [{ name: '律师甲', phone }] })
    refusedAt(t, await post(h, w.court.key, '/v1/referrals', agent), '/parties/0/agents/0/phone', 'invalid_format', `agent phone ${JSON.stringify(phone)}`)
  }
  for (const phone of ['13800138000', '+86 138 0013 8000', '010-6512-3456', '123456']) {
    const b = referralBody()
    b.parties[0].phone = phone
    const res = await post(h, w.court.key, '/v1/referrals', b)
    t.equal(res.statusCode, 201, `phone ${phone}: ${res.body.slice(0, 200)}`)
  }
})

t.test('item 6: timestamps lie within 1900 … now + 5 min wherever they appear', async (t) => {
  const consentAt = (consentedAt: string) =>
    referralBody({
      consent: [
        { partyIndex: 0, consentedAt, method: 'written' },
        { partyIndex: 1, consentedAt: hourAgo(), method: 'online' },
      ],
    })
  for (const early of ['0001-01-01T00:00:00Z', '1899-12-31T23:59:59+08:00']) {
    refusedAt(t, await post(h, w.court.key, '/v1/referrals', consentAt(early)), '/consent/0/consentedAt', 'out_of_range', `consentedAt ${early}`)
  }
  const future = await post(h, w.court.key, '/v1/referrals', consentAt('9999-12-31T23:59:59Z'))
  t.equal(future.statusCode, 422, future.body)
  t.match(future.json(), { code: 'timestamp_in_future', path: 'consent/0/consentedAt' })
  const ahead = await post(h, w.court.key, '/v1/referrals', consentAt(new Date(Date.now() + 3_600_000).toISOString()))
  t.equal(ahead.statusCode, 422)
  t.equal(ahead.json().code, 'timestamp_in_future')
  // A schema violation elsewhere answers first: the 400 lists it, not the business rule.
  const both = consentAt('9999-12-31T23:59:59Z')
  both.claimSummary = ''
  refusedAt(t, await post(h, w.court.key, '/v1/referrals', both), '/claimSummary', 'too_short')
  const skew = await post(h, w.court.key, '/v1/referrals', consentAt(new Date(Date.now() + 60_000).toISOString()))
  t.equal(skew.statusCode, 201, 'a minute of clock skew is tolerated')
  const oldest = await post(h, w.court.key, '/v1/referrals', consentAt('1900-01-01T00:00:00Z'))
  t.equal(oldest.statusCode, 201, '1900-01-01T00:00:00Z is the earliest')

  const id = await mediating()
  const sign = (signedAt: string) => ({
    form: 'written',
    terms: '赔偿 5000 元',
    signatures: [
      { partyIndex: 0, signedAt },
      { partyIndex: 1, signedAt: hourAgo() },
    ],
    mediatorSignedAt: signedAt,
    sealedAt: signedAt,
    performance: { method: 'immediate' },
  })
  refusedAt(t, await post(h, w.platform.key, `/v1/referrals/${id}/agreement`, sign('0001-01-01T00:00:00Z')), '/signatures/0/signedAt', 'out_of_range')
  const signedLater = await post(h, w.platform.key, `/v1/referrals/${id}/agreement`, sign('9999-01-01T00:00:00Z'))
  t.equal(signedLater.statusCode, 422)
  t.match(signedLater.json(), { code: 'timestamp_in_future', path: 'signatures/0/signedAt' })

  const extension = (consentedAt: string) => ({
    newDueOn: '2099-01-05',
    consent: [
      { partyIndex: 0, consentedAt },
      { partyIndex: 1, consentedAt: hourAgo() },
    ].map((c) => ({ ...c, method: 'written' })),
  })
  refusedAt(t, await post(h, w.platform.key, `/v1/referrals/${id}/extension`, extension('1000-01-01T00:00:00Z')), '/consent/0/consentedAt', 'out_of_range')
  const extLater = await post(h, w.platform.key, `/v1/referrals/${id}/extension`, extension('9999-01-01T00:00:00Z'))
  t.equal(extLater.statusCode, 422)
  t.equal(extLater.json().code, 'timestamp_in_future')

  const accepted = await post(h, w.platform.key, `/v1/referrals/${(await post(h, w.court.key, '/v1/referrals', referralBody())).json().id}/acceptance`, {
    decision: 'accepted',
    mediator: { name: '王调解' },
    acceptedAt: '0001-01-01T00:00:00Z',
  })
  refusedAt(t, accepted, '/acceptedAt', 'out_of_range')
})

/** Sends raw bytes to the app over a real socket and returns everything it answers. */
async function rawExchange(bytes: string): Promise<string> {
  const address = h.app.server.address()
  const port = typeof address === 'object' && address ? address.port : Number(new URL(await h.app.listen({ port: 0, host: '127.0.0.1' })).port)
  return new Promise((resolve, reject) => {
    let answer = ''
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes))
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => (answer += d))
    socket.on('error', reject)
    socket.on('close', () => resolve(answer))
    setTimeout(() => socket.destroy(), 3000).unref()
  })
}

/** The last HTTP answer in a raw exchange: its status, content type and JSON body. */
function lastAnswer(raw: string): { status: number; type: string; body: Record<string, unknown> } {
  const at = raw.lastIndexOf('HTTP/1.1 ')
  const [head, body] = [raw.slice(at, raw.indexOf('\r\n\r\n', at)), raw.slice(raw.indexOf('\r\n\r\n', at) + 4)]
  return { status: Number(head.slice(9, 12)), type: /content-type: *([^\r\n]+)/i.exec(head)?.[1] ?? '', body: JSON.parse(body) as Record<string, unknown> }
}

t.test('item 8: requests the HTTP parser refuses are answered in problem+json', async (t) => {
  const payload = JSON.stringify(referralBody())
  const longer = await rawExchange(
    `POST /v1/referrals HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${w.court.key}\r\nidempotency-key: ${idemKey()}\r\n` +
      `content-type: application/json\r\ncontent-length: 10\r\n\r\n${payload}`,
  )
  const last = lastAnswer(longer)
  t.equal(last.status, 400, longer.slice(0, 300))
  t.match(last.type, /^application\/problem\+json/)
  t.match(last.body, { status: 400, code: 'bad_request', title: '请求无效', type: '/docs/errors#bad_request' })

  const control = await rawExchange(`GET /v1/referrals HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${w.court.key}\r\nx-note: a\u0007b\r\n\r\n`)
  const refused = lastAnswer(control)
  t.equal(refused.status, 400, control.slice(0, 300))
  t.match(refused.type, /^application\/problem\+json/)
  t.match(refused.body, { code: 'validation_failed', errors: [{ path: '/headers', code: 'invalid_characters' }] })
})

t.test('item 8: a calendar year is four digits, 2000–2100', async (t) => {
  for (const year of ['1e3', '01999', '1999', '2101', '0202', '+2026', '2026.0', ' 2026', '2026%00']) {
    const res = await h.call(w.court.key, { method: 'GET', url: `/v1/calendar/${year}` })
    t.equal(res.statusCode, 400, `${year}: ${res.body.slice(0, 200)}`)
    t.equal(res.json().code, 'validation_failed')
    t.equal(res.json().errors[0].path, '/year')
  }
  const ok = await h.call(w.court.key, { method: 'GET', url: '/v1/calendar/2026' })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().year, 2026)
  for (const year of ['2000', '2100']) {
    const edge = await h.call(w.court.key, { method: 'GET', url: `/v1/calendar/${year}` })
    t.not(edge.statusCode, 400, `${year} is a year the route takes (${edge.statusCode})`)
    t.ok(edge.statusCode < 500, `${year}: no 5xx`)
  }
  const put = await h.call(h.operatorKey, { method: 'PUT', url: '/v1/calendar/1e3', payload: { holidays: [], workdays: [] } })
  t.equal(put.statusCode, 400)
})
