import { readFileSync } from 'node:fs'
import path from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import { sweepOverdue } from '../../src/cases/referrals/referral-timers.js'
import { relayBatch } from '../../src/delivery/relay.js'
import { refreshBusinessMetrics } from '../../src/http/metrics.js'
import { postRetrying, startEngine, subscribePeer, type TestEngine } from '../helpers/delivery.js'
import { referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness, TEST_DIR } from '../helpers/harness.js'
import { eventually, startPeer } from '../helpers/peer.js'

// Contract §6 v1.1 Metrics: business metrics on /metrics besides HTTP and process metrics, read from PostgreSQL;
// and the shipped alert rules and dashboard only use metrics a running service exports.

const h = await startHarness()
const world = await standardWorld(h)
const okPeer = await startPeer()
const failingPeer = await startPeer()
let engine: TestEngine | undefined
t.teardown(async () => {
  await engine?.stop()
  await okPeer.close()
  await failingPeer.close()
  await h.close()
})

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses the Prometheus text format: the samples, and the names declared by `# TYPE`. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type) types.set(type[1], type[2])
    if (!line || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line)
    if (!m) throw new Error(`unparsed line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    samples.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return { samples, types }
}

async function scrape(fresh = true) {
  if (fresh) refreshBusinessMetrics(h.deps.metrics)
  const res = await h.call(null, { method: 'GET', url: '/metrics' })
  if (res.statusCode !== 200) throw new Error(`metrics: ${res.statusCode} ${res.body}`)
  const parsed = parseExposition(res.body)
  const get = (name: string, labels: Record<string, string> = {}) =>
    parsed.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  const value = (name: string, labels: Record<string, string> = {}) => {
    const found = get(name, labels)
    if (found.length !== 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples`)
    return found[0].value
  }
  return { ...parsed, body: res.body, get, value }
}

const BUSINESS = {
  zdz_deliveries_pending: 'gauge',
  zdz_deliveries_dead: 'gauge',
  zdz_delivery_oldest_pending_seconds: 'gauge',
  zdz_delivery_attempts_total: 'counter',
  zdz_outbox_lag_seconds: 'gauge',
  zdz_cases: 'gauge',
  zdz_deadlines_overdue: 'gauge',
  zdz_ready: 'gauge',
}

const newReferral = async () => {
  const res = await postRetrying(h, world.court.key, '/v1/referrals', referralBody())
  if (res.statusCode !== 201) throw new Error(`referral ${res.statusCode} ${res.body}`)
  return res.json().id as string
}

t.test('an idle service: every business metric is there, zero where nothing is pending', async (t) => {
  const m = await scrape()
  for (const [name, type] of Object.entries(BUSINESS)) t.equal(m.types.get(name), type, `${name} is a ${type}`)
  t.match(m.body, /http_request_duration_seconds_bucket\{/, 'HTTP metrics')
  t.match(m.body, /process_cpu_user_seconds_total/, 'process metrics')
  t.equal(m.value('zdz_ready'), 1)
  t.equal(m.value('zdz_delivery_oldest_pending_seconds'), 0)
  t.equal(m.value('zdz_outbox_lag_seconds'), 0)
  t.equal(m.value('zdz_deadlines_overdue'), 0)
  for (const outcome of ['delivered', 'retry', 'dead']) t.equal(m.value('zdz_delivery_attempts_total', { outcome }), 0, `no ${outcome} attempts yet`)
  t.equal(m.value('zdz_cases', { kind: 'referral', status: 'referred' }), 0, 'every known status, at 0')
  t.equal(m.value('zdz_cases', { kind: 'judicial_confirmation', status: 'under_review' }), 0)
})

let okSub = ''
let failingSub = ''
let overdueId = ''

t.test('without a worker: the outbox lags, fanned-out deliveries wait, a deadline passes unacted', async (t) => {
  okSub = (await subscribePeer(h, world.court.id, okPeer)).id
  failingSub = (await subscribePeer(h, world.court.id, failingPeer, { eventTypes: ['referral.created'] })).id
  const ids = [await newReferral(), await newReferral()]
  overdueId = ids[0]
  // The referral's acceptance was due long ago (the timers would have expired it, were a worker running).
  await sql`UPDATE referrals SET acceptance_due_on = '2020-01-02', doc = jsonb_set(doc, '{deadlines,acceptanceDueOn}', '"2020-01-02"')
            WHERE id = ${overdueId}`.execute(h.deps.db)

  // Nothing relays the outbox: its oldest event ages.
  await sql`UPDATE outbox SET created_at = now() - interval '120 seconds'`.execute(h.deps.db)
  let m = await scrape()
  t.ok(m.value('zdz_outbox_lag_seconds') >= 120 && m.value('zdz_outbox_lag_seconds') < 180, `outbox lag ${m.value('zdz_outbox_lag_seconds')}`)
  t.equal(m.value('zdz_deadlines_overdue'), 1, 'one referral past its due date, still open')
  t.equal(m.value('zdz_cases', { kind: 'referral', status: 'referred' }), 2)
  t.equal(m.value('zdz_deliveries_pending', { subscription_id: okSub }), 0, 'a live subscription with nothing pending: 0')

  // The relay fans out (here by hand), no worker attempts: the deliveries wait.
  await relayBatch(h.deps.db, 100)
  await sql`UPDATE deliveries SET created_at = now() - interval '300 seconds' WHERE subscription_id = ${okSub}`.execute(h.deps.db)
  m = await scrape()
  t.equal(m.value('zdz_outbox_lag_seconds'), 0, 'outbox drained')
  t.equal(m.value('zdz_deliveries_pending', { subscription_id: okSub }), 2)
  t.equal(m.value('zdz_deliveries_pending', { subscription_id: failingSub }), 2)
  const oldest = m.value('zdz_delivery_oldest_pending_seconds')
  t.ok(oldest >= 300 && oldest < 360, `oldest pending ${oldest}`)
})

t.test('with a worker: attempts counted by outcome from the attempt log, dead deliveries by subscription', async (t) => {
  // The failing receiver answers 500 (retried), then 400 (dead), then accepts.
  failingPeer.script.push({ kind: 'status', status: 500 }, { kind: 'status', status: 400 })
  engine = startEngine(h.deps)
  await eventually(
    async () => {
      const open = await h.deps.db.selectFrom('deliveries').select('id').where('status', '=', 'pending').execute()
      return open.length === 0
    },
    20_000,
    'every delivery finished',
  )
  const m = await scrape()
  t.equal(m.value('zdz_deliveries_pending', { subscription_id: okSub }), 0)
  t.equal(m.value('zdz_deliveries_pending', { subscription_id: failingSub }), 0)
  t.equal(m.value('zdz_deliveries_dead', { subscription_id: failingSub }), 1, 'the 400 killed one')
  t.equal(m.value('zdz_deliveries_dead', { subscription_id: okSub }), 0)
  t.equal(m.value('zdz_delivery_oldest_pending_seconds'), 0)
  const recorded = await h.deps.db
    .selectFrom('delivery_attempts')
    .select(['outcome', (eb) => eb.fn.countAll<string>().as('n')])
    .groupBy('outcome')
    .execute()
  const byOutcome = Object.fromEntries(recorded.map((r) => [r.outcome, Number(r.n)]))
  t.same(byOutcome, { delivered: 3, retry: 1, dead: 1 }, 'the attempt log')
  t.equal(m.value('zdz_delivery_attempts_total', { outcome: 'delivered' }), 3)
  t.equal(m.value('zdz_delivery_attempts_total', { outcome: 'retry' }), 1)
  t.equal(m.value('zdz_delivery_attempts_total', { outcome: 'dead' }), 1)

  // Cached between scrapes: a scrape right after reads the same snapshot; a counter never goes back.
  const again = await scrape(false)
  t.equal(again.value('zdz_delivery_attempts_total', { outcome: 'delivered' }), 3)

  // A deleted subscription's dead deliveries are nobody's concern any more.
  await h.call(h.operatorKey, { method: 'DELETE', url: `/v1/subscriptions/${failingSub}` })
  const after = await scrape()
  t.equal(after.get('zdz_deliveries_dead', { subscription_id: failingSub }).length, 0, 'no series for a deleted subscription')
})

t.test('the deadline sweep acts: nothing overdue; the case counts follow', async (t) => {
  t.equal(await sweepOverdue(h.deps.db), 1)
  const m = await scrape()
  t.equal(m.value('zdz_deadlines_overdue'), 0)
  t.equal(m.value('zdz_cases', { kind: 'referral', status: 'referred' }), 1)
  t.equal(m.value('zdz_cases', { kind: 'referral', status: 'declined' }), 1, 'the expired one')
})

t.test('an attempt that commits after a higher one was counted is counted all the same', async (t) => {
  await scrape()
  const before = (await scrape()).value('zdz_delivery_attempts_total', { outcome: 'retry' })
  // Draw an id, let a later attempt commit and be counted, then commit the earlier one.
  const delivery = await h.deps.db.selectFrom('deliveries').select('id').executeTakeFirstOrThrow()
  const insert = (id: string) =>
    sql`INSERT INTO delivery_attempts (id, delivery_id, attempted_at, http_status, latency_ms, outcome)
        VALUES (${id}::bigint, ${delivery.id}, now(), 503, 1, 'retry')`
  const { rows } = await sql<{
    a: string
    b: string
  }>`SELECT nextval('delivery_attempts_id_seq')::text AS a, nextval('delivery_attempts_id_seq')::text AS b`.execute(h.deps.db)
  await insert(rows[0].b).execute(h.deps.db)
  const m = await scrape()
  t.equal(m.value('zdz_delivery_attempts_total', { outcome: 'retry' }), before + 1, 'the later one')
  await insert(rows[0].a).execute(h.deps.db)
  const late = await scrape()
  t.equal(late.value('zdz_delivery_attempts_total', { outcome: 'retry' }), before + 2, 'the earlier one, once it is there')
  t.equal((await scrape()).value('zdz_delivery_attempts_total', { outcome: 'retry' }), before + 2, 'counted once')
})

// --- The shipped alert rules and dashboard. ---

const OPS = path.resolve(TEST_DIR, '../../ops')
const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan'])
/** Series Prometheus makes itself, not the service. */
const PROMETHEUS_OWN = new Set(['up'])

/** The metric names a PromQL expression reads: identifiers that are neither functions, keywords, labels nor durations. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
    .replace(/\[[^\]]*\]/g, '') // ranges
  const names: string[] = []
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = stripped.slice((m.index ?? 0) + m[0].length)
    if (/^\s*\(/.test(rest)) continue // a function or aggregation
    if (PROMQL_WORDS.has(m[0].toLowerCase())) continue
    names.push(m[0])
  }
  return names
}

t.test('metricNames reads PromQL as expected', async (t) => {
  t.same(metricNames('max by (subscription_id) (zdz_deliveries_dead) > 0'), ['zdz_deliveries_dead'])
  t.same(metricNames('histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))'), ['http_request_duration_seconds_bucket'])
  t.same(metricNames('up{job="zdz-connector"} == 0 or a_b unless on (x) c'), ['up', 'a_b', 'c'])
})

t.test('ops/prometheus-rules.yml: valid YAML, the alerts asked for, only metrics the service exports', async (t) => {
  const doc = parseYaml(readFileSync(path.join(OPS, 'prometheus-rules.yml'), 'utf8')) as {
    groups: Array<{
      name: string
      rules: Array<{ alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }>
    }>
  }
  t.ok(Array.isArray(doc.groups) && doc.groups.length > 0, 'rule groups')
  const rules = doc.groups.flatMap((g) => g.rules)
  const runbook = readFileSync(path.join(OPS, '..', 'docs', 'runbook.md'), 'utf8')
  const exported = new Set((await scrape()).samples.map((s) => s.name))
  for (const r of rules) {
    t.type(r.alert, 'string', 'an alerting rule')
    t.type(r.expr, 'string')
    t.match(r.for ?? '', /^(\d+[smh])?$/, `${r.alert}: for`)
    t.match(r.labels?.severity, /^(warning|critical)$/, `${r.alert}: severity`)
    t.type(r.annotations?.summary, 'string', `${r.alert}: summary`)
    t.match(r.annotations?.runbook, /docs\/runbook\.md#alerts/, `${r.alert}: runbook`)
    t.match(runbook, new RegExp(`^### .*\\b${r.alert}\\b`, 'm'), `${r.alert}: a section of docs/runbook.md`)
    const names = metricNames(r.expr)
    t.ok(names.length > 0, `${r.alert} reads a metric`)
    for (const n of names) t.ok(exported.has(n) || PROMETHEUS_OWN.has(n), `${r.alert}: ${n} is exported by /metrics`)
  }
  const uses = (metric: string, op: RegExp) => rules.some((r) => r.expr.includes(metric) && op.test(r.expr))
  t.ok(uses('zdz_deliveries_dead', />\s*0\b/), 'dead deliveries > 0')
  t.ok(uses('zdz_delivery_oldest_pending_seconds', />\s*900\b/), 'oldest pending > 15 min')
  t.ok(uses('zdz_outbox_lag_seconds', />\s*60\b/), 'outbox lag > 60 s')
  t.ok(uses('zdz_deadlines_overdue', />\s*0\b/), 'overdue deadlines > 0')
  t.ok(uses('zdz_ready', /==\s*0\b/), 'readiness failing')
})

t.test('ops/grafana-dashboard.json: panels read only metrics the service exports', async (t) => {
  const dash = JSON.parse(readFileSync(path.join(OPS, 'grafana-dashboard.json'), 'utf8')) as {
    title: string
    uid: string
    panels: Array<{ title: string; targets?: Array<{ expr: string; refId: string }> }>
  }
  t.type(dash.uid, 'string')
  const exported = new Set((await scrape()).samples.map((s) => s.name))
  const used = new Set<string>()
  for (const p of dash.panels) {
    t.ok(p.targets?.length, `${p.title} has queries`)
    for (const target of p.targets ?? []) {
      const names = metricNames(target.expr)
      t.ok(names.length > 0, `${p.title}: ${target.expr} reads a metric`)
      for (const n of names) {
        used.add(n)
        t.ok(exported.has(n), `${p.title}: ${n} is exported by /metrics`)
      }
    }
  }
  for (const name of Object.keys(BUSINESS)) t.ok(used.has(name), `the dashboard shows ${name}`)
})
