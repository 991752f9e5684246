import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { run } from '../../src/cli/main.js'
import { table } from '../../src/cli/table.js'
import { startEngine } from '../helpers/delivery.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness, TEST_DIR } from '../helpers/harness.js'
import { eventually, startPeer } from '../helpers/peer.js'

const ROOT = path.resolve(TEST_DIR, '..', '..')
const h = await startHarness()
await h.app.listen({ host: '127.0.0.1', port: 0 })
const url = `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`
const world = await standardWorld(h)
const peer = await startPeer()
const engine = startEngine(h.deps)
t.teardown(async () => {
  await engine.stop()
  await peer.close()
  await h.close()
})

const env = { ZDZ_URL: url, ZDZ_OPERATOR_KEY: h.operatorKey }

/** The CLI in this process over real HTTP, its output captured. */
async function zdz(args: string[], e: Record<string, string | undefined> = env) {
  let stdout = ''
  let stderr = ''
  const code = await run({ argv: args, env: e, stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) })
  return { code, stdout, stderr, json: () => JSON.parse(stdout) }
}

/** The CLI as a real process (src/cli/bin.ts, what bin/zdz.js runs once compiled), with this test's TypeScript loader. */
function zdzProcess(args: string[], e: Record<string, string> = env) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [...process.execArgv, path.join(ROOT, 'src/cli/bin.ts'), ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...e } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

t.test('the table formatter pads columns (Chinese characters count two)', async (t) => {
  t.equal(
    table(
      ['A', 'BB'],
      [
        ['中文', 1],
        ['x', null],
      ],
    ),
    'A     BB\n----  --\n中文  1\nx     -\n',
  )
})

t.test('clients: create, list, issue-key, revoke-key', async (t) => {
  const created = await zdz(['--json', 'clients', 'create', '--name', '朝阳法院 CLI', '--role', 'court', '--court-codes', '京0105'])
  t.equal(created.code, 0, created.stderr)
  const c = created.json()
  t.match(c, { id: String, keyId: String, apiKey: String, role: 'court', courtCodes: ['京0105'] })

  const human = await zdz(['clients', 'create', '--name', 'platform', '--role', 'mediation', '--region-codes', '11'])
  t.equal(human.code, 0)
  t.match(human.stdout, /apiKey\s+zdz_/)
  t.match(human.stdout, /shown once/)

  const listed = await zdz(['clients', 'list', '--json', '--role', 'court'])
  t.equal(listed.code, 0)
  const mine = listed.json().find((x: { id: string }) => x.id === c.id)
  t.match(mine, { name: '朝阳法院 CLI', keys: [{ keyId: c.keyId, revokedAt: null }] })
  t.notOk(listed.stdout.includes(c.apiKey), 'never a key')
  const tableOut = await zdz(['clients', 'list'])
  t.match(tableOut.stdout, /^ID\s+NAME\s+ROLE\s+SCOPE\s+KEYS\n-+/)
  t.match(tableOut.stdout, new RegExp(`${c.id}\\s+朝阳法院 CLI\\s+court\\s+京0105\\s+${c.keyId}\\(live\\)`))

  const issued = await zdz(['clients', 'issue-key', c.id, '--json'])
  t.equal(issued.code, 0)
  t.match(issued.json(), { keyId: String, apiKey: String })
  const revoked = await zdz(['clients', 'revoke-key', c.id, c.keyId])
  t.equal(revoked.code, 0)
  t.match(revoked.stdout, /revoked key/)
  const after = (await zdz(['--json', 'clients', 'list'])).json().find((x: { id: string }) => x.id === c.id)
  t.ok(after.keys.find((k: { keyId: string }) => k.keyId === c.keyId).revokedAt, 'the key is revoked')
  t.equal((await h.call(c.apiKey, { method: 'GET', url: '/v1/calendar/2026' })).statusCode, 401)
})

t.test('API errors exit 1 with the problem code; --json prints the problem', async (t) => {
  const missing = await zdz(['clients', 'revoke-key', '00000000-0000-7000-8000-00000000abcd', 'nokey'])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /not_found/)
  const asJson = await zdz(['--json', 'clients', 'create', '--name', 'x', '--role', 'judge'])
  t.equal(asJson.code, 1)
  t.match(asJson.json(), { status: 400, code: 'validation_failed' })
  t.match(asJson.stderr, /validation_failed/)
  const badKey = await zdz(['sync', 'status'], { ...env, ZDZ_OPERATOR_KEY: 'zdz_aaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })
  t.equal(badKey.code, 1)
  t.match(badKey.stderr, /unauthorized/)
  const court = await zdz(['sync', 'status'], { ...env, ZDZ_OPERATOR_KEY: world.court.key })
  t.equal(court.code, 0, 'a court key sees its own sync status')
  const forbidden = await zdz(['clients', 'list'], { ...env, ZDZ_OPERATOR_KEY: world.court.key })
  t.equal(forbidden.code, 1)
  t.match(forbidden.stderr, /forbidden/)
  const down = await zdz(['sync', 'status'], { ...env, ZDZ_URL: 'http://127.0.0.1:1' })
  t.equal(down.code, 1)
  t.match(down.stderr, /connection_failed/)
})

t.test('usage errors exit 2', async (t) => {
  for (const args of [
    ['bogus'],
    ['clients', 'issue-key'],
    ['clients', 'create', '--role', 'court'],
    ['clients', 'list', '--no-such-option'],
    ['calendar', 'show', '26'],
    ['calendar', 'publish', '2031'],
    ['deliveries', 'recover', '00000000-0000-7000-8000-000000000000', '--since', 'yesterday'],
    ['case', 'verify', 'not-an-id'],
    [],
  ]) {
    const r = await zdz(args)
    t.equal(r.code, 2, `zdz ${args.join(' ')}`)
  }
  const noKey = await zdz(['sync', 'status'], { ZDZ_URL: url })
  t.equal(noKey.code, 2)
  t.match(noKey.stderr, /ZDZ_OPERATOR_KEY/)
  const help = await zdz(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Usage: zdz/)
  const notJson = await zdz(['calendar', 'publish', '2031', path.join(ROOT, 'package-lock.json.missing')])
  t.equal(notJson.code, 2)
})

t.test('calendar show and publish', async (t) => {
  const shown = await zdz(['--json', 'calendar', 'show', '2026'])
  t.equal(shown.code, 0)
  t.match(shown.json(), { year: 2026, provisional: false, holidays: Array })
  const provisional = await zdz(['calendar', 'show', '2031'])
  t.match(provisional.stdout, /state\s+provisional/)
  const dir = mkdtempSync(path.join(tmpdir(), 'zdz-cli-'))
  const file = path.join(dir, '2031.json')
  writeFileSync(file, JSON.stringify({ holidays: ['2031-01-01', '2031-01-02'], workdays: ['2031-01-04'] }))
  const published = await zdz(['calendar', 'publish', '2031', file])
  t.equal(published.code, 0, published.stderr)
  t.match(published.stdout, /published 2031: 2 days off, 1 make-up/)
  t.match((await zdz(['--json', 'calendar', 'show', '2031'])).json(), { provisional: false, holidays: ['2031-01-01', '2031-01-02'], workdays: ['2031-01-04'] })
})

t.test('subscriptions, dead deliveries, retry, recovery and sync status', async (t) => {
  const created = await zdz([
    '--json',
    'subscriptions',
    'create',
    '--client',
    world.court.id,
    '--url',
    peer.url,
    '--events',
    'referral.created',
    '--allow-private-network',
  ])
  t.equal(created.code, 0, created.stderr)
  const sub = created.json()
  t.match(sub, { id: String, clientId: world.court.id, eventTypes: ['referral.created'], secret: String })
  const listed = await zdz(['subscriptions', 'list', '--client', world.court.id])
  t.match(listed.stdout, new RegExp(`${sub.id}\\s+${world.court.id}\\s+\\S+\\s+referral.created\\s+enabled`))

  // The receiver refuses the first event: the delivery is dead.
  peer.script.push({ kind: 'status', status: 400, body: 'no' })
  const res = await post(h, world.court.key, '/v1/referrals', referralBody())
  t.equal(res.statusCode, 201)
  const dead = await eventually(async () => {
    const r = await zdz(['--json', 'deliveries', 'dead', '--subscription', sub.id])
    return r.json().items.length === 1 ? r.json().items[0] : undefined
  })
  t.match(dead, { subscriptionId: sub.id, eventType: 'referral.created', status: 'dead', lastStatus: 400 })
  const deadTable = await zdz(['deliveries', 'dead'])
  t.match(deadTable.stdout, new RegExp(`${dead.id}\\s+${sub.id}\\s+referral.created\\s+1\\s+400`))
  const status = await zdz(['--json', 'sync', 'status'])
  t.match(
    status.json().items.find((i: { subscriptionId: string }) => i.subscriptionId === sub.id),
    { dead: 1, pending: 0 },
  )
  t.match((await zdz(['sync', 'status'])).stdout, /SUBSCRIPTION\s+PENDING\s+OLDEST PENDING \(s\)\s+DEAD\s+LAST DELIVERED/)

  const retried = await zdz(['--json', 'deliveries', 'retry', dead.id])
  t.equal(retried.code, 0, retried.stderr)
  t.match(retried.json(), [{ id: dead.id, status: 'pending' }])
  await eventually(async () =>
    (await zdz(['--json', 'sync', 'status']))
      .json()
      .items.find((i: { subscriptionId: string; dead: number; lastDeliveredAt: string | null }) => i.subscriptionId === sub.id && i.lastDeliveredAt),
  )
  t.equal((await zdz(['deliveries', 'retry', '00000000-0000-7000-8000-00000000dead'])).code, 1)

  const recover = await zdz(['--json', 'deliveries', 'recover', sub.id, '--since', '2020-01-01T00:00:00+08:00'])
  t.equal(recover.code, 0, recover.stderr)
  t.match(recover.json(), { jobId: String, subscriptionId: sub.id, status: String })
})

t.test('case show and verify', async (t) => {
  const body = referralBody()
  const res = await post(h, world.court.key, '/v1/referrals', body)
  t.equal(res.statusCode, 201)
  const id = res.json().id as string
  const shown = await zdz(['--json', 'case', 'show', id])
  t.equal(shown.code, 0, shown.stderr)
  t.match(shown.json(), { kind: 'referral', case: { id, caseNumber: body.caseNumber }, events: [{ sequence: 1, type: 'referral.created' }] })
  t.notOk(shown.stdout.includes(body.parties[0].idNumber as string), 'the masked view')
  const human = await zdz(['case', 'show', id])
  t.match(human.stdout, new RegExp(`案号\\s+${body.caseNumber.replace(/[()（）]/g, '.')}`))
  t.match(human.stdout, /1\s+referral.created/)

  // By 案号: GET /v1/referrals?caseNumber= (where the service supports it), else a clear message.
  const byNumber = await zdz(['--json', 'case', 'show', body.caseNumber])
  if (byNumber.code === 0) t.equal(byNumber.json().case.id, id, 'found by 案号')
  else {
    t.equal(byNumber.code, 1)
    t.match(byNumber.stderr, /案号/)
  }

  const verified = await zdz(['--json', 'case', 'verify', id])
  t.equal(verified.code, 0)
  t.match(verified.json(), { valid: true, length: 1, head: String })
  t.match((await zdz(['case', 'verify', id])).stdout, /valid\s+yes/)
  const unknown = await zdz(['case', 'show', '00000000-0000-7000-8000-0000000000ff'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /not_found/)
})

t.test('the real process: exit codes 0, 1 and 2', async (t) => {
  const ok = await zdzProcess(['--json', 'calendar', 'show', '2026'])
  t.equal(ok.code, 0, ok.stderr)
  t.equal(JSON.parse(ok.stdout).year, 2026)
  const apiError = await zdzProcess(['clients', 'revoke-key', '00000000-0000-7000-8000-00000000abcd', 'nokey'])
  t.equal(apiError.code, 1)
  t.match(apiError.stderr, /error: not_found/)
  const usage = await zdzProcess(['clients', 'frobnicate'])
  t.equal(usage.code, 2)
  t.match(usage.stderr, /unknown command/)
})
