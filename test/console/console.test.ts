/**
 * The operator console (contract §6): its pages and policy, the queues session, the 案号 filter it relies on, and —
 * when Debian's chromium is installed (.ci/run installs it) — the console driven in a real browser against the real
 * service on PostgreSQL and Redis: sign in, retry a dead delivery, find a case by 案号, issue and revoke a key,
 * publish a calendar year, open Bull Board.
 *
 * CONSOLE_SCREENSHOTS=1 also saves docs/images/console-deliveries.png and docs/images/console-case.png.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { CONSOLE_COOKIE, sanitizeBoardPage, sessionSigner } from '../../src/http/console.js'
import { startEngine } from '../helpers/delivery.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness, TEST_DIR } from '../helpers/harness.js'
import { eventually, startPeer, type PeerAction } from '../helpers/peer.js'
import { subscribePeer } from '../helpers/delivery.js'

// Functions run inside the page (puppeteer serialises them) use the DOM's names, typed just enough here.
declare const document: { getElementById(id: string): { textContent: string | null } | null; body: { innerText: string }; cookie: string }
declare const window: { sessionStorage: { getItem(k: string): string | null; length: number }; localStorage: { length: number } }

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS === '1'
const REPO = path.resolve(TEST_DIR, '../..')

const h = await startHarness()
const world = await standardWorld(h)
const operator = await h.client('operator')

// A peer that refuses (400: dead at once) until told otherwise.
let answer: PeerAction = { kind: 'status', status: 400, body: 'bad request' }
const peer = await startPeer({ respond: () => answer })
const sub = await subscribePeer(h, world.platform.id, peer, { description: 'console test peer' })
const engine = startEngine(h.deps)
t.teardown(async () => {
  await engine.stop()
  await peer.close()
  await h.close()
})

const year = new Date().getFullYear()
const seqNo = 700000 + Math.floor(Math.random() * 99999)
const caseNo = `（${year}）京0105民诉前调${seqNo}号`
const halfWidth = `(${year})京0105民诉前调${seqNo}号`
const created = await post(h, world.court.key, '/v1/referrals', referralBody({ caseNumber: caseNo }))
if (created.statusCode !== 201) throw new Error(`referral: ${created.statusCode} ${created.body}`)
const referral = created.json() as { id: string; parties: Array<{ idNumber: string }> }
const fullId = referral.parties[0].idNumber
const get = (key: string, url: string) => h.call(key, { method: 'GET', url })

const deadDelivery = await eventually(
  async () => {
    const res = await get(h.operatorKey, `/v1/deliveries?status=dead&subscriptionId=${sub.id}`)
    return (res.json().items as Array<{ id: string; subject: { id: string } }>).find((d) => d.subject.id === referral.id)
  },
  30_000,
  'the referral.created delivery to go dead',
)

t.test('GET /v1/referrals?caseNumber=: exact, half-width brackets read as full-width, within scope', async (t) => {
  for (const key of [world.court.key, world.platform.key, h.operatorKey]) {
    for (const q of [caseNo, halfWidth, ` ${halfWidth}`]) {
      const res = await get(key, `/v1/referrals?caseNumber=${encodeURIComponent(q)}`)
      t.equal(res.statusCode, 200, res.body)
      t.same(
        res.json().items.map((r: { id: string }) => r.id),
        [referral.id],
        q,
      )
    }
  }
  const operatorView = (await get(h.operatorKey, `/v1/referrals?caseNumber=${encodeURIComponent(caseNo)}`)).json().items[0]
  t.not(operatorView.parties[0].idNumber, fullId, 'operators see the ID number masked')
  t.match(operatorView.parties[0].idNumber, /^\d{3}\*{11}[\dX]{4}$/)
  t.same((await get(h.operatorKey, `/v1/referrals?caseNumber=${encodeURIComponent(caseNo.replace('号', '0号'))}`)).json().items, [], 'no partial match')
  t.same((await get(world.otherCourt.key, `/v1/referrals?caseNumber=${encodeURIComponent(caseNo)}`)).json().items, [], 'another court sees nothing')
  t.equal((await get(h.operatorKey, `/v1/referrals?caseNumber=`)).statusCode, 400, 'empty → 400')
})

t.test('the console page: no key needed, strict CSP, not in the OpenAPI document', async (t) => {
  const page = await h.app.inject({ method: 'GET', url: '/console' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  const csp = String(page.headers['content-security-policy'])
  const directives = new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/) as [string, ...string[]])
      .map(([k, ...v]) => [k, v]),
  )
  t.same(directives.get('script-src'), ["'self'"], csp)
  t.same(directives.get('connect-src'), ["'self'"])
  t.same(directives.get('frame-ancestors'), ["'none'"])
  t.same(directives.get('default-src'), ["'none'"])
  t.notMatch(csp, /unsafe-inline|unsafe-eval/)
  t.equal(page.headers['x-frame-options'], 'SAMEORIGIN')
  t.equal(page.headers['referrer-policy'], 'no-referrer')
  t.notMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script')
  t.notMatch(page.body, /\son[a-z]+=/i, 'no inline event handler')
  t.notMatch(page.body, /\sstyle=/i, 'no inline style')
  t.notMatch(page.body, /https?:\/\//, 'nothing from outside the service')
  for (const [url, type] of [
    ['/console/assets/console.js', /^text\/javascript/],
    ['/console/assets/console.css', /^text\/css/],
  ] as const) {
    const res = await h.app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 200, url)
    t.match(res.headers['content-type'], type)
    t.notMatch(res.body, /https?:\/\/(?!www\.w3\.org)/, `${url} loads nothing from outside`)
    const again = await h.app.inject({ method: 'GET', url, headers: { 'if-none-match': String(res.headers.etag) } })
    t.equal(again.statusCode, 304, `${url} revalidates`)
  }
  t.equal((await h.app.inject({ method: 'GET', url: '/console/' })).headers.location, '/console')
  const doc = (await h.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> }
  t.same(
    Object.keys(doc.paths).filter((p) => p.startsWith('/console')),
    [],
  )
})

t.test('the queues session: operator keys only, a signed HttpOnly cookie scoped to /console/queues', async (t) => {
  const session = (key?: string) => h.app.inject({ method: 'POST', url: '/console/session', headers: key ? { authorization: `Bearer ${key}` } : {} })
  t.equal((await session()).statusCode, 401)
  t.equal((await session('not-a-key')).statusCode, 401)
  const court = await session(world.court.key)
  t.equal(court.statusCode, 403)
  t.equal(court.json().code, 'forbidden')
  t.notOk(court.headers['set-cookie'])

  const spare = await h.client('operator')
  const ok = await session(spare.key)
  t.equal(ok.statusCode, 204)
  const cookie = String(ok.headers['set-cookie'])
  t.match(cookie, new RegExp(`^${CONSOLE_COOKIE}=[0-9a-f]+\\.[0-9a-f]{64}; Path=/console/queues; Max-Age=1800; HttpOnly; SameSite=Strict$`))
  t.notMatch(cookie, spare.key.slice(-20), 'the cookie holds no key')
  const token = cookie.split(';')[0].split('=')[1]
  const board = (url: string, value?: string) =>
    h.app.inject({ method: 'GET', url, headers: value === undefined ? {} : { cookie: `other=1; ${CONSOLE_COOKIE}=${value}` } })

  const refused = await board('/console/queues/')
  t.equal(refused.statusCode, 401, 'no cookie')
  t.match(refused.body, /Not signed in/)
  const tampered = token.replace(/.$/, (c) => (c === '0' ? '1' : '0'))
  t.equal((await board('/console/queues/', tampered)).statusCode, 401, 'a tampered token')
  t.equal((await board('/console/queues/api/queues', 'abc.def')).statusCode, 401, 'the API too')
  t.equal((await board('/console/queues/static/images/logo.svg')).statusCode, 401, 'and its files')

  const entry = await board('/console/queues/', token)
  t.equal(entry.statusCode, 200)
  t.notMatch(entry.body, /https?:\/\/[^"]*fonts/, 'no Google Fonts link')
  t.notMatch(entry.body, /\sstyle="|<style>/, 'no inline style left')
  t.notMatch(String(entry.headers['content-security-policy']), /unsafe-inline/)
  t.equal((await board('/console/queues', token)).statusCode, 200, 'without the trailing slash too')
  const api = await board('/console/queues/api/queues?activeQueue=deliveries&page=1&jobsPerPage=10', token)
  t.equal(api.statusCode, 200, api.body)
  const names = (api.json() as { queues: Array<{ name: string; readOnlyMode: boolean }> }).queues.map((q) => q.name).sort()
  t.same(names, ['deliveries', 'jobs', 'timers'])

  // Revoking the key closes the board at once, though the token has not expired.
  const revoke = await h.call(h.operatorKey, { method: 'DELETE', url: `/v1/clients/${spare.id}/keys/${spare.keyId}` })
  t.equal(revoke.statusCode, 204)
  t.equal((await board('/console/queues/api/queues', token)).statusCode, 401, 'revoked key: the session is void')

  const bootstrap = await session(h.operatorKey)
  t.equal(bootstrap.statusCode, 204, 'the bootstrap key signs in too')
  const out = await h.app.inject({ method: 'DELETE', url: '/console/session' })
  t.match(String(out.headers['set-cookie']), /^zdz_console=; Path=\/console\/queues; Max-Age=0; HttpOnly; SameSite=Strict$/)
})

t.test('session tokens: signature, expiry, shape', async (t) => {
  const signer = sessionSigner((p) => h.deps.cipher.blindIndex(p, 'console.session'))
  const other = sessionSigner((p) => h.deps.cipher.blindIndex(p, 'another.purpose'))
  const token = signer.sign({ c: 'client', k: 'key', e: 1000 })
  t.same(signer.verify(token, 999), { c: 'client', k: 'key', e: 1000 })
  t.equal(signer.verify(token, 1000), null, 'expired')
  t.equal(other.verify(token, 0), null, 'another key')
  t.equal(signer.verify(undefined, 0), null)
  t.equal(signer.verify(`${token}x`, 0), null)
  const forged = `${Buffer.from(JSON.stringify({ c: 'client', k: 'key', e: 9e9 })).toString('hex')}.${token.split('.')[1]}`
  t.equal(signer.verify(forged, 0), null, 'a changed payload')
})

t.test('Bull Board page sanitising', async (t) => {
  const html =
    '<head><link href="https://fonts.googleapis.com/css2?family=X" rel="stylesheet"><link href="static/css/main.css" rel="stylesheet"></head>' +
    '<div id="root"><div style="display:flex">Loading</div><style>@keyframes x{}</style></div>'
  t.equal(sanitizeBoardPage(html), '<head><link href="static/css/main.css" rel="stylesheet"></head><div id="root"><div>Loading</div></div>')
})

t.test('in a real browser', { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (.ci/run installs Debian's chromium)` }, async (t) => {
  const puppeteer = (await import('puppeteer-core')).default
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
  const profile = mkdtempSync(path.join(tmpdir(), 'zdz-console-'))
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  t.teardown(async () => {
    await browser.close()
    rmSync(profile, { recursive: true, force: true })
  })
  const page = await browser.newPage()
  await page.setViewport({ width: 1360, height: 900 })
  const requests: string[] = []
  const consoleErrors: string[] = []
  page.on('request', (r) => requests.push(r.url()))
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()} @ ${m.location().url ?? ''}`)
  })
  page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${(e as Error).message}`))
  const shot = async (name: string) => {
    if (!SCREENSHOTS) return
    mkdirSync(path.join(REPO, 'docs/images'), { recursive: true })
    await page.screenshot({ path: path.join(REPO, `docs/images/${name}.png`) as `${string}.png` })
  }
  // Locators wait until the element is attached, visible and stable (the tables are re-rendered as data arrives).
  const click = (sel: string) => page.locator(sel).setTimeout(15_000).click()
  const visible = (sel: string) => page.waitForSelector(sel, { visible: true, timeout: 15_000 })
  const text = (sel: string) => page.$eval(sel, (e) => (e as unknown as { textContent: string }).textContent ?? '')

  // Sign in.
  const res = await page.goto(`${base}/console`, { waitUntil: 'load' })
  t.equal(res?.status(), 200)
  const csp = res?.headers()['content-security-policy'] ?? ''
  const scriptSrc = csp.split(';').find((d) => d.trim().startsWith('script-src')) ?? ''
  t.equal(scriptSrc.trim(), "script-src 'self'")
  await page.type('#signin-key', operator.key)
  await click('#signin-form button[type=submit]')
  await visible('#app')

  // Delivery health: the dead delivery, retried once the peer accepts.
  const row = `#sync-table tr[data-subscription="${sub.id}"]`
  await visible(row)
  t.match(await text(row), /console test peer/)
  await click(`${row} button`)
  const retry = `#dead-table button[data-delivery="${deadDelivery.id}"]`
  await visible(retry)
  t.match(await text(`#dead-table tr[data-delivery="${deadDelivery.id}"]`), /referral\.created[\s\S]*HTTP 400/)
  await shot('console-deliveries')
  answer = { kind: 'ok', status: 200 }
  await click(retry)
  await page.waitForFunction(() => /Re-queued/.test(document.getElementById('flash')?.textContent ?? ''), { timeout: 15_000 })
  const delivered = await eventually(
    async () => {
      const d = (await get(h.operatorKey, `/v1/deliveries?subscriptionId=${sub.id}&status=delivered`)).json().items as Array<{ id: string }>
      return d.find((x) => x.id === deadDelivery.id)
    },
    30_000,
    'the retried delivery to be delivered',
  )
  t.ok(delivered, 'delivered after the retry')
  const refusedIds = peer.requests.filter((r) => r.status === 400).map((r) => r.webhookId)
  t.ok(
    peer.requests.some((r) => r.status === 200 && refusedIds.includes(r.webhookId)),
    'the peer accepted the refused webhook-id',
  )

  // Case lookup by 案号, typed with half-width brackets.
  await click('#nav button[data-view=cases]')
  await page.type('#case-query', halfWidth)
  await click('#case-form button[type=submit]')
  await page.waitForSelector('#case-integrity[data-valid="true"]', { timeout: 15_000 })
  t.match(await text('#case-integrity'), /valid · 1 events/)
  t.match(await text('#case-title'), caseNo)
  const parties = await text('#case-parties')
  t.notMatch(parties, fullId, 'the full ID number is not shown')
  t.match(parties, `${fullId.slice(0, 3)}***********${fullId.slice(-4)}`, 'the masked ID number is')
  t.match(await text('#case-events'), /referral\.created/)
  await shot('console-case')

  // Clients: create one, issue a further key (shown once), revoke it.
  await click('#nav button[data-view=clients]')
  await visible('#clients-table tbody tr')
  await page.type('#client-name', '控制台测试平台')
  await page.select('#client-role', 'mediation')
  await page.type('#client-regions', '11')
  await click('#client-form button[type=submit]')
  await visible('#secret-box')
  const firstKey = await text('#secret-value')
  t.match(firstKey, /\S{40,}/)
  const listed = (await get(h.operatorKey, '/v1/clients?role=mediation&limit=200')).json().items as Array<{
    id: string
    name: string
    regionCodes: string[]
    keys: Array<{ keyId: string; revokedAt: string | null }>
  }>
  const newClient = listed.find((c) => c.name === '控制台测试平台')
  t.ok(newClient, 'the client exists')
  t.same(newClient?.regionCodes, ['11'])
  t.equal((await get(firstKey, '/v1/code-tables')).statusCode, 200, 'its key works')
  await click('#secret-dismiss')
  const clientRow = `#clients-table tr[data-client="${newClient?.id}"]`
  await visible(clientRow)
  await click(`${clientRow} td:last-child button`)
  await visible('#secret-box')
  const issuedKeyId = await page.$eval('#secret-value', (e) => (e as unknown as { dataset: { keyId: string } }).dataset.keyId)
  const issuedKey = await text('#secret-value')
  t.not(issuedKey, firstKey)
  t.equal((await get(issuedKey, '/v1/code-tables')).statusCode, 200, 'the issued key works')
  const revokeButton = `${clientRow} li[data-key="${issuedKeyId}"] button[data-revoke]`
  await visible(revokeButton)
  await click(revokeButton)
  await page.waitForSelector(`${revokeButton}.armed`)
  await click(revokeButton)
  await page.waitForSelector(`${clientRow} li[data-key="${issuedKeyId}"] code.revoked`, { timeout: 15_000 })
  const after = (await get(h.operatorKey, '/v1/clients?role=mediation&limit=200')).json().items.find((c: { id: string }) => c.id === newClient?.id)
  t.ok(after.keys.find((k: { keyId: string; revokedAt: string | null }) => k.keyId === issuedKeyId)?.revokedAt, 'revoked per the API')
  t.notOk(after.keys.find((k: { keyId: string; revokedAt: string | null }) => k.keyId !== issuedKeyId)?.revokedAt, 'the first key stays live')
  t.equal((await get(issuedKey, '/v1/code-tables')).statusCode, 401, 'the revoked key is refused')

  // Calendar: publish a provisional year as shown.
  const target = year + 3
  t.equal((await get(h.operatorKey, `/v1/calendar/${target}`)).json().provisional, true, `${target} starts provisional`)
  await click('#nav button[data-view=calendar]')
  await visible('#years-table tbody tr')
  await page.type('#year-other', String(target))
  await click('#year-form button[type=submit]')
  await page.waitForFunction((y) => document.getElementById('calendar-year')?.textContent === String(y), {}, target)
  await click('#calendar-form button[type=submit]')
  await page.waitForFunction(() => /published/.test(document.getElementById('calendar-state')?.textContent ?? ''), { timeout: 15_000 })
  const published = (await get(h.operatorKey, `/v1/calendar/${target}`)).json()
  t.equal(published.provisional, false, 'published per the API')
  t.ok(published.holidays.length > 0, 'with the days shown')

  // What the tab keeps: the key in sessionStorage only; no readable cookie, nothing in localStorage.
  const storage = await page.evaluate(() => ({
    session: window.sessionStorage.getItem('zdz.operatorKey'),
    sessionKeys: window.sessionStorage.length,
    local: window.localStorage.length,
    cookie: document.cookie,
  }))
  t.same(storage, { session: operator.key, sessionKeys: 1, local: 0, cookie: '' })

  // Bull Board, through the console's link (which asks for a fresh session first).
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), click('#queues-link')])
  t.equal(new URL(page.url()).pathname, '/console/queues/')
  await page.waitForFunction(() => ['deliveries', 'timers', 'jobs'].every((q) => document.body.innerText.includes(q)), { timeout: 20_000 })
  const cookies = await browser.cookies()
  t.same(
    cookies.map((c) => ({ name: c.name, path: c.path, httpOnly: c.httpOnly, sameSite: c.sameSite })),
    [{ name: CONSOLE_COOKIE, path: '/console/queues', httpOnly: true, sameSite: 'Strict' }],
    'one cookie: the HttpOnly queues session',
  )

  const outside = requests.filter((u) => !u.startsWith(`${base}/`) && !u.startsWith('data:'))
  t.same(outside, [], 'no request left the service')
  t.ok(
    requests.some((u) => u.startsWith(`${base}/console/queues/static/`)),
    'Bull Board loaded its files',
  )
  t.same(
    consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e)),
    [],
    'no CSP violation',
  )
  t.same(consoleErrors, [], 'no console error at all')
})
