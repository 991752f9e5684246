/**
 * Writes the results: JSON, a Markdown table, and the table inside bench/README.md (between
 * the bench markers; nothing else in that file is touched).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from './util.mjs'

export const README_START = '<!-- bench:results:start -->'
export const README_END = '<!-- bench:results:end -->'

const n = (v, digits = 0) =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const ms = (v) => (v === null || v === undefined ? '—' : v === 0 ? '< 1 ms' : `${n(v, v < 10 ? 1 : 0)} ms`)
const mark = (t) => (t === undefined ? '' : t.met ? '✅ met' : '❌ missed')

/** The targets (issue 6's, kept as information, and issue 16's against same-work baselines), evaluated on a result object. */
export function evaluateTargets(r) {
  const t = {}
  if (r.intake?.ratio !== undefined) t.intake = { target: 'intake ≥ 0.5 × raw insert-transaction baseline', value: r.intake.ratio, met: r.intake.ratio >= 0.5 }
  if (r.batchIntake?.perSecond !== undefined) {
    t.batchIntake = {
      target: 'batch intake ≥ 1,500 referrals/s and ≥ 0.5 × raw insert-transaction baseline',
      value: r.batchIntake.perSecond,
      met: r.batchIntake.perSecond >= 1500 && r.batchIntake.ratio >= 0.5,
    }
  }
  if (r.read?.ratio !== undefined) t.read = { target: 'read ≥ 0.25 × bare-route baseline', value: r.read.ratio, met: r.read.ratio >= 0.25 }
  if (r.e2e?.p99Ms !== undefined && r.e2e.offeredPerSecond !== undefined) {
    // At 80 % of the maximum end-to-end rate measured in the same run, evenly paced.
    const rateOk = r.e2e.achievedRate >= 0.95 * r.e2e.offeredPerSecond
    t.e2e = {
      target: `end-to-end p99 ≤ 250 ms at 80 % of the maximum end-to-end rate (${r.e2e.offeredPerSecond}/s of ${r.e2e.maxPerSecond}/s)`,
      value: r.e2e.p99Ms,
      met: r.e2e.p99Ms !== null && r.e2e.p99Ms <= 250 && rateOk && r.e2e.missing === 0,
    }
  }
  if (r.drain?.perSecond !== undefined) t.drain = { target: 'drain ≥ 2,000 deliveries/s', value: r.drain.perSecond, met: r.drain.perSecond >= 2000 }
  if (r.rssPeakMb !== undefined) t.rss = { target: 'peak RSS ≤ 250 MB', value: r.rssPeakMb, met: r.rssPeakMb <= 250 }
  // Issue 16: against baselines that do the same data work without the service.
  if (r.intake?.sameRowsRatio !== undefined) {
    t.intakeSameRows = { target: 'intake ≥ 0.8 × the same rows written raw', value: r.intake.sameRowsRatio, met: r.intake.sameRowsRatio >= 0.8 }
  }
  if (r.read?.pkRatio !== undefined)
    t.readPk = { target: 'read ≥ 0.6 × a bare route reading the row by primary key', value: r.read.pkRatio, met: r.read.pkRatio >= 0.6 }
  if (r.e2e?.lowRate?.p99Ms !== undefined) {
    const l = r.e2e.lowRate
    t.e2eLowRate = { target: `end-to-end p99 ≤ 50 ms at ${l.rate}/s`, value: l.p99Ms, met: l.p99Ms !== null && l.p99Ms <= 50 && l.missing === 0 }
  }
  // Issue 16, goal 7: measured by the last `--scale` run (its date in scale.date).
  if (r.scale?.statsYearMsMedian !== undefined) {
    const v = r.scale.statsYearMsMedian
    t.statsYear = { target: 'a year of statistics as the operator (groupBy=court) median ≤ 300 ms', value: v, met: v !== null && v <= 300 }
  }
  if (r.scale?.updatedSinceP99Ms !== undefined) {
    const v = r.scale.updatedSinceP99Ms
    t.updatedSince = { target: "a court's updatedSince=<7 days ago> list p99 ≤ 100 ms", value: v, met: v !== null && v <= 100 }
  }
  return t
}

export function markdownTable(r) {
  const t = r.targets ?? {}
  const b = r.baselines ?? {}
  const lines = []
  const load = r.machine.loadAverageAtStart
    ? ` Load average ${r.machine.loadAverageAtStart[0]} at the start, ${r.machine.loadAverageAtEnd?.[0] ?? '—'} at the end (the machine is shared).`
    : ''
  lines.push(
    `Run ${r.date} (${r.mode}, ${r.totalSeconds ?? '—'} s) on ${r.machine.cpus} × ${r.machine.cpuModel}, ${n(r.machine.memGb, 1)} GB RAM, Node ${r.machine.node}, ${r.machine.postgres}, Redis ${r.machine.redis}; load generator on the same machine.${load}`,
  )
  lines.push('')
  lines.push('| measure | result | same-run baseline | ratio | target | |')
  lines.push('|---|---|---|---:|---|---|')
  if (r.intake) {
    lines.push(
      `| intake \`POST /v1/referrals\` (${r.intake.connections} connections, ${r.intake.seconds} s) | ${n(r.intake.rps)} req/s, p99 ${ms(r.intake.p99Ms)} | raw insert transaction via \`pg\`, pool 10: ${n(b.rawInsert?.tps)} tps, p99 ${ms(b.rawInsert?.p99Ms)} | ${n(r.intake.ratio, 2)} | ≥ 0.5 | ${mark(t.intake)} |`,
    )
    if (b.rawInsertNotify)
      lines.push(
        `| (diagnostic) the raw insert transaction plus \`pg_notify\`, as every event write did before the relay's wake-up moved after the commit | ${n(b.rawInsertNotify.tps)} tps, p99 ${ms(b.rawInsertNotify.p99Ms)} | raw insert transaction | ${n(b.rawInsertNotify.tps / b.rawInsert.tps, 2)} | — | |`,
      )
    if (b.rawSameRows)
      lines.push(
        `| intake against the same rows written raw (referral, blind indexes, event with its hash, outbox, access trail, stored answer; one transaction each, pool 10) | ${n(r.intake.rps)} req/s | ${n(b.rawSameRows.tps)} tps, p99 ${ms(b.rawSameRows.p99Ms)} | ${n(r.intake.sameRowsRatio, 2)} | ≥ 0.8 | ${mark(t.intakeSameRows)} |`,
      )
    const o = r.intake.overload
    if (o)
      lines.push(
        `| intake burst: ${o.connections} connections, ${o.seconds} s (more intake transactions than pool connections) | ${n(o.rps)} req/s created, ${n(o.status503)} × 503, p50 ${ms(o.p50Ms)} | — | — | — | |`,
      )
  }
  if (r.batchIntake) {
    const bi = r.batchIntake
    lines.push(
      `| batch intake \`POST /v1/referrals/batch\` (${bi.connections} connections, ${n(bi.requests)} requests × ${bi.itemsPerRequest} items, ${bi.seconds} s) | ${n(bi.perSecond)} referrals/s, request p99 ${ms(bi.requestP99Ms)} | raw insert transaction: ${n(b.rawInsert?.tps)} tps | ${n(bi.ratio, 2)} | ≥ 1,500/s and ≥ 0.5 | ${mark(t.batchIntake)} |`,
    )
  }
  if (r.read) {
    lines.push(
      `| read \`GET /v1/referrals/{id}\` as the court (${r.read.connections} connections, ${n(r.read.ids)} ids) | ${n(r.read.rps)} req/s, p99 ${ms(r.read.p99Ms)} | bare Fastify route: ${n(b.bareFastify?.rps)} req/s, p99 ${ms(b.bareFastify?.p99Ms)} | ${n(r.read.ratio, 2)} | ≥ 0.25 | ${mark(t.read)} |`,
    )
    if (b.pkRoute)
      lines.push(
        `| read against a bare Fastify route reading the row by primary key through \`pg\` (no auth, scope, decryption or trail) | ${n(r.read.rps)} req/s | ${n(b.pkRoute.rps)} req/s, p99 ${ms(b.pkRoute.p99Ms)} | ${n(r.read.pkRatio, 2)} | ≥ 0.6 | ${mark(t.readPk)} |`,
      )
    if (r.read.masked)
      lines.push(
        `| read, masked view (operator: no decryption, no access-log row) | ${n(r.read.masked.rps)} req/s, p99 ${ms(r.read.masked.p99Ms)} | bare Fastify route | ${n(r.read.masked.ratio, 2)} | — | |`,
      )
  }
  if (r.e2e?.lowRate) {
    const l = r.e2e.lowRate
    lines.push(
      `| end-to-end at ${n(l.rate)}/s evenly paced for ${l.seconds} s (the pipeline's own latency; ${n(l.matched)} matched, ${n(l.missing)} missing) | p50 ${ms(l.p50Ms)}, p95 ${ms(l.p95Ms)}, p99 ${ms(l.p99Ms)} | — | — | p99 ≤ 50 ms | ${mark(t.e2eLowRate)} |`,
    )
  }
  if (r.e2e?.max) {
    const m = r.e2e.max
    lines.push(
      `| end-to-end maximum: closed loop, ${m.connections ?? '—'} connections, ${m.seconds} s (intake ${n(m.achievedRate)}/s, delivered ${n(m.deliveredPerSecond)}/s while it ran) | ${n(r.e2e.maxPerSecond)} referrals/s end to end, p99 ${ms(m.p99Ms)} | — | — | — | |`,
    )
  }
  if (r.e2e?.offeredPerSecond !== undefined) {
    const short = r.e2e.achievedRate < 0.95 * r.e2e.offeredPerSecond ? ` (only ${n(r.e2e.achievedRate)}/s of ${n(r.e2e.offeredPerSecond)}/s achieved)` : ''
    lines.push(
      `| end-to-end: intake answer → webhook received, ${n(r.e2e.offeredPerSecond)}/s (80 % of the maximum) evenly paced for ${r.e2e.seconds} s (${n(r.e2e.matched)} matched, ${n(r.e2e.missing)} missing) | p50 ${ms(r.e2e.p50Ms)}, p95 ${ms(r.e2e.p95Ms)}, p99 ${ms(r.e2e.p99Ms)} (intake p99 ${ms(r.e2e.intakeP99Ms)}) | — | — | p99 ≤ 250 ms | ${mark(t.e2e)}${t.e2e && !t.e2e.met ? short : ''} |`,
    )
  }
  if (r.drain) {
    lines.push(
      `| drain: ${n(r.drain.backlog)} pending deliveries after an outage | ${n(r.drain.perSecond)} deliveries/s (steady ${n(r.drain.steadyPerSecond)}/s, first after ${ms(r.drain.timeToFirstMs)}) | BullMQ no-op worker, concurrency 50: ${n(b.bullmq?.processPerSecond)} jobs/s | ${n(r.drain.ratio, 2)} | ≥ 2,000/s | ${mark(t.drain)} |`,
    )
  }
  if (r.rssPeakMb !== undefined) lines.push(`| peak RSS of the service (VmHWM) | ${n(r.rssPeakMb, 1)} MB | — | — | ≤ 250 MB | ${mark(t.rss)} |`)
  // The scale run's two targets, rows of this table (merged from the last --scale run).
  if (r.scale?.statsYearMsMedian !== undefined || r.scale?.updatedSinceP99Ms !== undefined) {
    const s = r.scale
    lines.push(
      `| statistics: \`GET /v1/stats?groupBy=court&from=<365 days ago>\` as the operator, ${n(s.referrals)} referrals (scale run ${s.date}; median of 3 sequential calls) | ${ms(s.statsYearMsMedian)} | — | — | ≤ 300 ms | ${mark(t.statsYear ?? evaluateTargets(r).statsYear)} |`,
      `| a court's list \`GET /v1/referrals?updatedSince=<7 days ago>\`, ${n(s.referrals)} referrals (scale run ${s.date}; 10 connections) | p99 ${ms(s.updatedSinceP99Ms)} | — | — | p99 ≤ 100 ms | ${mark(t.updatedSince ?? evaluateTargets(r).updatedSince)} |`,
    )
  }
  const bd = [r.e2e?.lowRate, r.e2e].filter((e) => e?.breakdown?.eventToDeliveryRowMs)
  if (bd.length) {
    lines.push(
      '',
      "Where the end-to-end time goes (p50 / p95 / p99, from the service's tables): event written → delivery row (relay) → first attempt started (queue) → attempt HTTP time.",
      '',
    )
    lines.push('| rate | event → delivery row | delivery row → attempt | attempt HTTP |', '|---|---|---|---|')
    const f = (x) => (x ? `${n(x.p50, 1)} / ${n(x.p95, 1)} / ${n(x.p99, 1)} ms` : '—')
    for (const e of bd)
      lines.push(
        `| ${n(e.rate)}/s | ${f(e.breakdown.eventToDeliveryRowMs)} | ${f(e.breakdown.deliveryRowToFirstAttemptMs)} | ${f(e.breakdown.attemptHttpMs)} |`,
      )
  }
  const cpuRows = [
    ['intake', r.intake?.cpu, 'referral'],
    ['batch intake', r.batchIntake?.cpu, 'referral'],
    ['read (court)', r.read?.cpu, 'read'],
    [`end-to-end at ${n(r.e2e?.rate)}/s (80 % of the maximum)`, r.e2e?.cpu, 'referral delivered'],
    ['drain', r.drain?.cpu, 'delivery'],
  ].filter(([, c]) => c?.msPerOp)
  if (cpuRows.length) {
    lines.push(
      '',
      'Where the CPU went (from /proc, CPU milliseconds per operation; the load generator shares the same cores). "service core" is the service process\'s share of one core: near 100 % its one event loop is the limit. "faults" are the service\'s minor page faults per operation: memory touched for the first time, ~15 µs each on this machine (see "What limits each target").',
      '',
    )
    lines.push(
      '| phase | machine busy | service core | service (user + sys) | faults | PostgreSQL | Redis | load generator, bench |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    )
    const c2 = (x) => (x === null || x === undefined ? '—' : `${n(x, 2)} ms`)
    for (const [name, c, unit] of cpuRows) {
      const m = c.msPerOp
      lines.push(
        `| ${name} (per ${unit}) | ${n(c.machineBusyPct, 0)} % | ${n(c.serviceCorePct, 0)} % | ${c2(m.service)} (${c2(m.serviceUser)} + ${c2(m.serviceSys)}) | ${c.serviceMinorFaultsPerOp === undefined || c.serviceMinorFaultsPerOp === null ? '—' : n(c.serviceMinorFaultsPerOp, 1)} | ${c2(m.postgres)} | ${c2(m.redis)} | ${c2(m.other)} |`,
      )
    }
  }
  if (r.scale) lines.push('', ...scaleTable(r.scale))
  return lines.join('\n')
}

function scaleTable(s) {
  const lines = []
  lines.push(
    `Scale (${s.date}): ${n(s.referrals)} referrals, ${n(s.events)} events, ${n(s.partyIndex)} party-index rows, database ${n(s.databaseMb)} MB; seeded in ${n(s.seedSeconds)} s.`,
  )
  lines.push('')
  lines.push('| list query (`GET /v1/referrals`, limit 50) | caller | req/s | p50 | p99 | plan (EXPLAIN ANALYZE) |')
  lines.push('|---|---|---:|---:|---:|---|')
  for (const q of s.list ?? []) lines.push(`| \`${q.query}\` | ${q.caller} | ${n(q.rps)} | ${ms(q.p50Ms)} | ${ms(q.p99Ms)} | ${q.plan?.summary ?? '—'} |`)
  if (s.stats?.length) {
    lines.push('')
    lines.push('| statistics (`GET /v1/stats`) | caller | wall time (median of runs) | max | status |')
    lines.push('|---|---|---:|---:|---|')
    for (const q of s.stats) lines.push(`| \`${q.query}\` | ${q.caller} | ${ms(q.medianMs)} | ${ms(q.maxMs)} | ${q.status} |`)
  } else if (s.statsNote) {
    lines.push('', s.statsNote)
  }
  return lines
}

export function writeResults(file, r) {
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`)
  writeFileSync(file.replace(/\.json$/, '.md'), `# Benchmark results\n\n${markdownTable(r)}\n`)
}

/** Replaces the table between the README markers; leaves the README alone when the markers are missing. */
export function updateReadme(r) {
  const file = path.join(ROOT, 'bench', 'README.md')
  if (!existsSync(file)) return false
  const text = readFileSync(file, 'utf8')
  const a = text.indexOf(README_START)
  const b = text.indexOf(README_END)
  if (a < 0 || b < a) return false
  writeFileSync(file, `${text.slice(0, a + README_START.length)}\n${markdownTable(r)}\n${text.slice(b)}`)
  return true
}
