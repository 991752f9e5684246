/**
 * The integrator examples: examples/receiver.ts (verification, deduplication on webhook-id, the answer before the
 * processing, bounded memory) and examples/walkthrough.sh, run with bash, curl and jq against a listening service
 * with its delivery engine, playing one whole case life and showing the webhooks its receiver got.
 */
import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { signWebhook } from '../../src/client/index.js'
import { startReceiver, type WebhookEvent } from '../../examples/receiver.js'
import { startEngine } from '../helpers/delivery.js'
import { startHarness, TEST_DIR } from '../helpers/harness.js'

const ROOT = path.resolve(TEST_DIR, '../..')
const secret = 'whsec_' + Buffer.alloc(32, 9).toString('base64')

function signed(id: string, body: string, key = secret, timestamp = Math.floor(Date.now() / 1000)) {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook({ secret: key, id, timestamp, body }),
  }
}

t.test('examples/receiver: verifies, deduplicates on webhook-id, answers before processing, remembers a bounded number of ids', async (t) => {
  const processed: string[] = []
  let release: () => void = () => undefined
  const gate = new Promise<void>((resolve) => (release = resolve))
  const receiver = await startReceiver({
    secrets: [secret],
    port: 0,
    rememberIds: 2,
    onEvent: async (event: WebhookEvent) => {
      processed.push(event.id)
      await gate // slow processing: the answers below must not wait for it
    },
  })
  t.teardown(() => receiver.close())
  const event = (id: string) => JSON.stringify({ id, type: 'referral.created', sequence: 1, subject: { kind: 'referral', id: 'r1' }, data: {} })
  const post = (id: string, body = event(id), headers = signed(id, body)) => fetch(receiver.url, { method: 'POST', body, headers }).then((r) => r.status)

  t.equal(await post('evt_1'), 204, 'answered while the processing of evt_1 is still blocked')
  t.equal(await post('evt_1'), 204, 'a redelivery is acknowledged')
  t.equal(receiver.duplicates, 1, '… and not processed again')
  t.equal(await post('evt_2', event('evt_2'), signed('evt_2', event('evt_2'), 'whsec_' + Buffer.alloc(32, 8).toString('base64'))), 401, 'wrong secret')
  t.equal(await post('evt_3', event('evt_3') + ' ', signed('evt_3', event('evt_3'))), 401, 'altered body')
  t.equal(await post('evt_4', event('evt_4'), signed('evt_4', event('evt_4'), secret, Math.floor(Date.now() / 1000) - 3600)), 401, 'stale timestamp')
  t.equal(receiver.refused, 3)
  t.equal(await post('evt_5'), 204)
  t.equal(await post('evt_6'), 204)
  t.equal(await post('evt_1'), 204, 'evt_1 was forgotten (only 2 ids kept): processed again')
  release()
  await new Promise((r) => setImmediate(r))
  t.same(processed, ['evt_1', 'evt_5', 'evt_6', 'evt_1'])
})

t.test('examples/walkthrough.sh plays a whole case life against the real service', async (t) => {
  const h = await startHarness({ env: { RATE_LIMIT_PER_MINUTE: '100000' } })
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const engine = startEngine(h.deps)
  t.teardown(async () => {
    await engine.stop()
    await h.close()
  })
  const baseUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
  // The receiver runs from its TypeScript source through tap's loader (the script's default is the compiled one).
  const loader = pathToFileURL(path.join(ROOT, 'node_modules/@tapjs/typescript/dist/esm/import.mjs')).href
  const receiverCmd = `node --import=${loader} ${path.join(ROOT, 'examples/receiver.ts')}`
  const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('bash', [path.join(ROOT, 'examples/walkthrough.sh')], {
      env: { ...process.env, BASE_URL: baseUrl, OPERATOR_KEY: h.operatorKey, RECEIVER_CMD: receiverCmd },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
  if (!t.equal(run.code, 0, 'the walk-through exits 0')) t.comment(run.stdout + run.stderr)
  const referral = /^referral (\S+) (\S+)$/m.exec(run.stdout)
  const confirmation = /^confirmation (\S+) (\S+)$/m.exec(run.stdout)
  t.equal(referral?.[2], 'agreed', 'the referral ends agreed')
  t.equal(confirmation?.[2], 'ruled_valid', 'the confirmation ends ruled valid')
  for (const type of [
    'referral.created',
    'referral.accepted',
    'referral.agreement_recorded',
    'confirmation.applied',
    'confirmation.accepted',
    'confirmation.ruled',
  ]) {
    t.match(run.stdout, new RegExp(`^  ${type.replace('.', '\\.')}\\t`, 'm'), `the receiver got ${type}`)
  }
  // The final state as the service holds it.
  const res = await h.call(h.operatorKey, { method: 'GET', url: `/v1/judicial-confirmations/${confirmation?.[1] ?? 'none'}` })
  t.equal(res.json().status, 'ruled_valid')
})
