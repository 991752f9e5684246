import t from 'tap'
import { buildApp } from '../../src/app.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { idemKey, startHarness } from '../helpers/harness.js'

const h = await startHarness({ env: { RATE_LIMIT_PER_MINUTE: '400' } })
t.teardown(() => h.close())
const w = await standardWorld(h)

const DUMMY: Record<string, string> = { id: '01a224ae-0000-7000-8000-000000000000', keyId: 'aaaaaaaaaa', year: '2026' }

t.test('function-level authorisation: every route refuses every role it does not declare (403)', async (t) => {
  const keys: Record<string, string> = { court: w.court.key, mediation: w.platform.key, operator: h.operatorKey }
  let checked = 0
  for (const r of h.routes.filter((r) => r.url.startsWith('/v1/'))) {
    const roles = (r.config as { roles: string[] }).roles
    const method = (Array.isArray(r.method) ? r.method[0] : r.method) as 'GET'
    if (method === ('HEAD' as string)) continue
    const url = r.url.replace(/:(\w+)/g, (_, name: string) => DUMMY[name] ?? DUMMY.id)
    for (const role of ['court', 'mediation', 'operator']) {
      if (roles.includes(role)) continue
      const res = await h.call(keys[role], {
        method,
        url,
        headers: { 'idempotency-key': idemKey() },
        payload: method === 'GET' || method === ('DELETE' as string) ? undefined : {},
      })
      t.equal(res.statusCode, 403, `${role} on ${method} ${r.url}`)
      checked++
    }
  }
  t.ok(checked > 20, `${checked} refusals checked`)
})

t.test('tamper evidence: the hash chain names the broken sequence', async (t) => {
  const r = (await post(h, w.court.key, '/v1/referrals', referralBody())).json()
  await post(h, w.platform.key, `/v1/referrals/${r.id}/acceptance`, { decision: 'accepted', mediator: { name: '王' }, acceptedAt: new Date().toISOString() })
  await post(h, w.platform.key, `/v1/referrals/${r.id}/suspension`, { reason: 'other' })
  const ok = await h.call(w.court.key, { method: 'GET', url: `/v1/referrals/${r.id}/integrity` })
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { valid: true, length: 3, head: /^[0-9a-f]{64}$/ })
  t.equal((await h.call(w.otherCourt.key, { method: 'GET', url: `/v1/referrals/${r.id}/integrity` })).statusCode, 404)

  await t.rejects(h.deps.pool.query(`UPDATE events SET type = 'x' WHERE subject_id = $1`, [r.id]), 'the service cannot update events')
  await t.rejects(h.deps.pool.query(`DELETE FROM events WHERE subject_id = $1`, [r.id]), 'nor delete them')

  const su = await h.deps.pool.connect()
  try {
    await su.query('SET session_replication_role = replica')
    await su.query(`UPDATE events SET data = jsonb_set(data, '{tampered}', 'true') WHERE subject_id = $1 AND sequence = 2`, [r.id])
    await su.query('SET session_replication_role = DEFAULT')
  } finally {
    su.release()
  }
  const bad = await h.call(w.court.key, { method: 'GET', url: `/v1/referrals/${r.id}/integrity` })
  t.same(bad.json(), { valid: false, brokenAtSequence: 2 })
})

t.test('access trail for full personal data', async (t) => {
  const r = (await post(h, w.court.key, '/v1/referrals', referralBody())).json()
  await h.call(w.platform.key, { method: 'GET', url: `/v1/referrals/${r.id}`, headers: { 'x-request-id': `trail-${r.id}` } })
  await h.call(h.operatorKey, { method: 'GET', url: `/v1/referrals/${r.id}` })
  const log = await h.call(h.operatorKey, { method: 'GET', url: `/v1/access-log?subjectId=${r.id}` })
  t.equal(log.statusCode, 200)
  const items = log.json().items
  t.ok(
    items.some((e: { clientId: string }) => e.clientId === w.court.id),
    'the referring court (on create)',
  )
  t.ok(
    items.some((e: { clientId: string; requestId: string }) => e.clientId === w.platform.id && e.requestId === `trail-${r.id}`),
    'the platform, with its request id',
  )
  t.notOk(
    items.some((e: { clientId: string }) => e.clientId === '00000000-0000-7000-8000-000000000001'),
    'masked views are not full views',
  )
  t.ok(items.every((e: { fields: string[] }) => e.fields.includes('idNumber')))
  t.equal((await h.call(w.court.key, { method: 'GET', url: '/v1/access-log' })).statusCode, 403)
})

t.test('rate limits are per client and shared across instances through Redis', async (t) => {
  const h2 = await startHarness({ env: { RATE_LIMIT_PER_MINUTE: '5' } })
  t.teardown(() => h2.close())
  const second = await buildApp(h2.deps)
  t.teardown(() => second.close())
  const c = await h2.client('court', { courtCodes: ['京0105'] })
  const other = await h2.client('court', { courtCodes: ['京0105'] })
  const apps = [h2.app, second, h2.app, second, h2.app]
  for (const app of apps) {
    const res = await app.inject({ method: 'GET', url: '/v1/organizations', headers: { authorization: `Bearer ${c.key}` } })
    t.equal(res.statusCode, 200)
  }
  const limited = await second.inject({ method: 'GET', url: '/v1/organizations', headers: { authorization: `Bearer ${c.key}` } })
  t.equal(limited.statusCode, 429, 'the sixth request in the minute, on either instance')
  t.equal(limited.json().code, 'rate_limited')
  t.ok(Number(limited.headers['retry-after']) > 0, 'with Retry-After')
  t.match(limited.headers['content-type'], /problem\+json/)
  const fine = await h2.app.inject({ method: 'GET', url: '/v1/organizations', headers: { authorization: `Bearer ${other.key}` } })
  t.equal(fine.statusCode, 200, 'another client is not affected')
  t.equal((await h2.app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200, 'health is never limited')
})

t.test('repeated bad keys from one address are slowed, then refused; X-Forwarded-For is not trusted', async (t) => {
  const h3 = await startHarness()
  t.teardown(() => h3.close())
  const tries = await Promise.all(
    Array.from({ length: 36 }, (_, i) =>
      h3.app.inject({
        method: 'GET',
        url: '/v1/organizations',
        headers: { authorization: `Bearer zdz_aaaaaaaaaa_${'A'.repeat(43)}`, 'x-forwarded-for': `203.0.113.${i}` },
      }),
    ),
  )
  const codes = tries.map((r) => r.statusCode)
  t.ok(codes.filter((c) => c === 401).length >= 25, 'the first attempts get 401')
  t.ok(codes.filter((c) => c === 429).length >= 1, 'then 429, although each claimed another address')
  const blocked = tries.find((r) => r.statusCode === 429)
  t.equal(blocked?.json().code, 'too_many_failed_authentications')
  t.ok(Number(blocked?.headers['retry-after']) > 0)
})
