/**
 * The peer simulators against a real service (listening API, real delivery engine, PostgreSQL and Redis):
 * signatures verified (forged, stale, future and altered requests get 401), deduplication on webhook-id, one
 * effect per event even when the event comes again, faults on command, the demo's lives reaching their end
 * states, and reconciliation through the pull feed after an outage.
 */
import type { AddressInfo } from 'node:net'
import { sql } from 'kysely'
import t from 'tap'
import { webhookHeaders } from '../../src/delivery/signing.js'
import { ApiClient } from '../../tools/simulators/api-client.js'
import { DEMO_LIVES, historyOf, playLife, playOutage } from '../../tools/simulators/demo-lives.js'
import { PlatformSimulator, type LifePlan } from '../../tools/simulators/platform-simulator.js'
import type { EventEnvelope } from '../../tools/simulators/shared.js'
import { checkSync } from '../../tools/simulators/sync-check.js'
import { createWorld, ORGANIZATIONS } from '../../tools/simulators/world.js'
import { startEngine } from '../helpers/delivery.js'
import { startHarness } from '../helpers/harness.js'
import { eventually } from '../helpers/peer.js'

const h = await startHarness({ env: { RATE_LIMIT_PER_MINUTE: '100000' } })
await h.app.listen({ host: '127.0.0.1', port: 0 })
const baseUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
// Short attempt timeout so hangs cost a second; 100 ms retries (test/helpers/delivery.ts).
const engine = startEngine(h.deps, { timeoutMs: 1_000 })
const scripted = new Map<string, Partial<LifePlan>>()
const world = await createWorld({ baseUrl, operatorKey: h.operatorKey, seed: 7, platform: { plan: (r) => scripted.get(r.caseNumber) } })
const { court, platform } = world
t.teardown(async () => {
  await world.close()
  await engine.stop()
  await h.close()
})

/** A signed request to a simulator, as the connector would send it (or a tampered version of it). */
async function push(url: string, body: string, headers: Record<string, string>) {
  const res = await fetch(url, { method: 'POST', body, headers })
  return { status: res.status, text: await res.text() }
}

t.test('signatures: forged, stale, future, altered and unsigned requests get 401 and are not looked at', async (t) => {
  const p = await playLife(world, scripted, DEMO_LIVES[0])
  t.ok(p.ok, `life played: ${p.history.join(' → ')}`)
  // The life's last webhooks may still be on their way: count what the court took in once nothing is pending.
  await eventually(
    async () => {
      const r = await sql<{
        n: number
      }>`SELECT (SELECT count(*) FROM outbox)::int + (SELECT count(*) FROM deliveries WHERE status = 'pending')::int AS n`.execute(h.deps.db)
      return r.rows[0]?.n === 0
    },
    20_000,
    'no delivery pending',
  )
  const event = (await court.api.getOk<{ items: EventEnvelope[] }>(`/v1/referrals/${p.id}/events`)).items[0]
  const body = JSON.stringify(event)
  const now = Math.floor(Date.now() / 1000)
  const secret = court.secrets[0]
  const before = { seen: court.seen.size, bad: court.stats.badSignatures, runs: court.effectRuns.size }
  const forgedSecret = 'whsec_' + Buffer.alloc(32, 7).toString('base64')
  const cases: Array<[string, string, Record<string, string>]> = [
    ['no signature headers', body, { 'content-type': 'application/json' }],
    ['signed with another secret', body, webhookHeaders(event.id, now, body, [{ secret: forgedSecret }])],
    ['timestamp 10 minutes old', body, webhookHeaders(event.id, now - 600, body, [{ secret }])],
    ['timestamp 10 minutes ahead', body, webhookHeaders(event.id, now + 600, body, [{ secret }])],
    ['one body byte changed', body.replace('"sequence":1', '"sequence":2'), webhookHeaders(event.id, now, body, [{ secret }])],
    ['another webhook-id than signed', body, { ...webhookHeaders(event.id, now, body, [{ secret }]), 'webhook-id': '0192f0c4-8d1e-7c3a-9b1e-2f5d6a7b8c9d' }],
  ]
  for (const [name, b, headers] of cases) {
    const res = await push(court.url, b, headers)
    t.equal(res.status, 401, `${name} → 401`)
  }
  t.equal(court.stats.badSignatures - before.bad, cases.length)
  t.equal(court.seen.size, before.seen, 'nothing was taken in')
  t.equal(court.effectRuns.size, before.runs, 'nothing was acted on')
  const ok = await push(court.url, body, webhookHeaders(event.id, now, body, [{ secret }]))
  t.equal(ok.status, 200, 'the genuine request is accepted')
  t.match(ok.text, /duplicate/, '(it had already arrived: a duplicate)')
  const rotated = await push(court.url, body, webhookHeaders(event.id, now, body, [{ secret: forgedSecret }, { secret }]))
  t.equal(rotated.status, 200, 'two signatures during a rotation: one matching is enough')
})

t.test('dedup and exactly-once effects: a redelivered event is acknowledged and not acted on again', async (t) => {
  const caseNumber = court.caseNumbers.next('民诉前调')
  scripted.set(caseNumber, { decline: false, outcome: 'agree' })
  const created = await court.createReferral({ caseNumber })
  const id = created.id as string
  await eventually(async () => platform.eventsOf(id).some((e) => e.type === 'referral.accepted'), 20_000, 'accepted pushed to the platform')
  const createdEvent = platform.eventsOf(id)[0]
  const key = `platform-${createdEvent.id}-accept`
  t.equal(platform.effectRuns.get(key), 1, 'accepted once')

  // The connector sends the same event again (as after a worker killed before it recorded the answer).
  const body = JSON.stringify(createdEvent)
  const dupsBefore = platform.stats.pushDuplicates
  const again = await push(platform.url, body, webhookHeaders(createdEvent.id, Math.floor(Date.now() / 1000), body, [{ secret: platform.secrets[0] }]))
  t.equal(again.status, 200)
  t.match(again.text, /duplicate/)
  t.equal(platform.stats.pushDuplicates, dupsBefore + 1)
  // And through the pull feed.
  await platform.reconcile()
  await platform.idle()
  t.equal(platform.effectRuns.get(key), 1, 'still accepted once')

  // A receiver that lost its memory (a second instance) acts again: the Idempotency-Key derived from the event
  // id makes the API replay the first answer, so the service changes nothing twice either.
  const amnesiac = new PlatformSimulator({
    api: new ApiClient(baseUrl, world.clients.platform.key),
    organizations: ORGANIZATIONS.map((o) => o.id),
    seed: 8,
    plan: () => ({ outcome: 'agree' }),
    mediate: false,
  })
  amnesiac.ingest(createdEvent, 'pull')
  await amnesiac.idle()
  const record = amnesiac.actions.get(key)
  t.equal(record?.status, 200, 'the API answered the replay with the stored 200')
  t.equal(record?.body.slice(0, 100), platform.actions.get(key)?.body.slice(0, 100), 'the same answer as the first time')
  await eventually(async () => (await historyOf(world, id)).includes('referral.performance_reported'), 30_000, 'life completed')
  const history = await historyOf(world, id)
  t.equal(history.filter((x) => x === 'referral.accepted').length, 1, 'one acceptance in the case history')
  t.same(history, DEMO_LIVES[0].expected)
})

t.test('faults on command, through the control API: 5xx, resets and hangs are retried until delivered', async (t) => {
  const control = (path: string, init?: RequestInit) =>
    fetch(`http://127.0.0.1:${platform.port}/_control/${path}`, init).then(async (r) => ({
      status: r.status,
      json: (await r.json()) as Record<string, unknown>,
    }))
  const bad = await control('faults', { method: 'PUT', body: JSON.stringify({ failureRate: 2 }) })
  t.equal(bad.status, 400, 'a failure rate above 1 is refused')
  for (const mode of ['error', 'reset', 'hang'] as const) {
    const set = await control('faults', { method: 'PUT', body: JSON.stringify({ failureRate: 1, modes: [mode], hangMs: 3_000 }) })
    t.equal(set.status, 200)
    const before = platform.stats.injected[mode]
    const c = await court.createReferral({ caseNumber: court.caseNumbers.next('民诉前调') })
    await eventually(async () => platform.stats.injected[mode] > before, 20_000, `${mode} injected`)
    platform.setFaults({ failureRate: 0 })
    await eventually(async () => platform.eventsOf(c.id as string).length > 0, 20_000, `delivered after ${mode}`)
    t.pass(`${mode}: failed on purpose, then delivered`)
  }
  const state = await control('state')
  t.equal(state.status, 200)
  t.match(state.json, { label: platform.label, faults: { failureRate: 0 } })
  await platform.idle()
})

t.test('the demo lives reach their end states, the outage is reconciled, both simulators are in sync', async (t) => {
  const results = await Promise.all(DEMO_LIVES.map((spec) => playLife(world, scripted, spec)))
  for (const r of results) {
    t.ok(r.ok, `${r.title}: ${r.history.map((x) => x.replace('referral.', '')).join(' → ')}`)
  }
  t.same(
    results.map((r) => r.status),
    ['closed', 'case_registered', 'trial_resumed', 'closed'],
  )
  const outage = await playOutage(world, scripted, () => undefined)
  t.ok(outage.ok, `outage life: ${outage.history.join(' → ')}`)
  t.ok(outage.fresh >= 3, `the court pulled what it missed (${outage.fresh} new events)`)

  // The connector's own retries reach the court again: those events come as duplicates.
  await eventually(
    async () => {
      const s = await court.api.getOk<{ items: Array<{ pending: number }> }>('/v1/sync/status')
      return s.items.every((i) => i.pending === 0)
    },
    30_000,
    'no pending deliveries',
  )
  t.ok(court.stats.pushDuplicates > 0, 'late pushes recognised as duplicates')
  // Lives begun in earlier tests may still be taking their last step: in sync means in sync once quiet, i.e. both
  // simulators idle, nothing pending in the service, and the same counts twice in a row.
  let previous = ''
  await eventually(
    async () => {
      await court.idle()
      await platform.idle()
      const [c, p] = [await checkSync(court), await checkSync(platform)]
      const r = await sql<{
        n: number
      }>`SELECT (SELECT count(*) FROM outbox)::int + (SELECT count(*) FROM deliveries WHERE status = 'pending')::int AS n`.execute(h.deps.db)
      const now = `${c.events}/${p.events}`
      const quiet = c.ok && p.ok && r.rows[0]?.n === 0 && now === previous
      previous = now
      return quiet
    },
    30_000,
    'both simulators in sync and quiet',
  )
  for (const sim of [court, platform]) {
    // A life may still take a step after the quiet check (a scheduled action): in sync once its event has arrived too.
    const sync = await eventually(
      async () => {
        await sim.idle()
        const s = await checkSync(sim)
        return s.ok ? s : undefined
      },
      30_000,
      `${sim.label} in sync`,
    ).catch(() => checkSync(sim))
    t.ok(sync.ok, `${sim.label} in sync: ${sync.subjects} cases, ${sync.events} events`)
    t.same([sync.missing, sync.outOfOrder, sync.extra, sync.serviceGaps], [[], [], [], []])
    t.same(sim.duplicateEffects(), [], `${sim.label}: no duplicate effect`)
    t.same(sim.failedActions(), [], `${sim.label}: every action succeeded`)
    t.same(sim.orderErrors, [], `${sim.label}: every case in sequence order`)
    t.same(sim.errors, [])
  }
})
