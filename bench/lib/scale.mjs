/**
 * `node bench/run.mjs --scale`: list and statistics queries on a database of 1 000 000 referrals with history.
 *
 * Seeds a fresh database (bench/seed-million.mjs), starts the service on it, and measures GET /v1/referrals with
 * filters (p50/p99 under 10 connections) and GET /v1/stats (wall time, sequential runs) for courts, a regional
 * platform, an organization's client and the operator. The SQL the service runs for each is captured from its own
 * repository functions (dist/) and explained with EXPLAIN (ANALYZE, BUFFERS); the plans go to
 * bench/results/scale-plans.md, a one-line summary of each to the results table.
 *
 * Options: --count N (default 1 000 000), --seconds S per list query (default 8), --reuse-db NAME (skip seeding,
 * use an already seeded database; it is kept), --keep-db.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { URLSearchParams } from 'node:url'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { addCalendarDays, endOfShanghaiDay, shanghaiDate, startOfShanghaiDay } from '../../dist/src/domain/calendar.js'
import { normalizeResidentId } from '../../dist/src/domain/identifiers.js'
import { listReferrals } from '../../dist/src/db/referral-repository.js'
import { encodeCursor } from '../../dist/src/http/pagination.js'
import { seedScale } from '../seed-million.mjs'
import { cannon, figures } from './load.mjs'
import { evaluateTargets, markdownTable, updateReadme, writeResults } from './report.mjs'
import { createDatabase, dbUrl, dropDatabase, dropRedisPrefix, startService } from './service.mjs'
import { benchCipher } from './shape.mjs'
import { api, hex, log, RESULTS_DIR } from './util.mjs'

/** Runs one repository call on a Kysely that records the SQL instead of guessing it. */
async function captureSql(pool, fn) {
  const captured = []
  const db = new Kysely({ dialect: new PostgresDialect({ pool }), log: (e) => e.level === 'query' && captured.push(e.query) })
  await fn(db)
  return captured
}

/**
 * Replays captured statements in one transaction, as the service ran them: transaction control is replayed,
 * `SET` statements run as they are (a repository may `SET LOCAL work_mem`/`jit`), and every query runs under
 * EXPLAIN (ANALYZE, BUFFERS). Rolled back at the end. Returns the plan text and a one-line summary.
 */
async function explain(pool, statements) {
  const texts = []
  let execMs = 0
  const scans = new Set()
  let hit = 0
  let read = 0
  const c = await pool.connect()
  try {
    await c.query('BEGIN')
    for (const q of statements) {
      const head = q.sql.trim().slice(0, 12).toLowerCase()
      if (/^(begin|start|commit|rollback|savepoint|release)/.test(head)) continue
      if (head.startsWith('set ')) {
        await c.query(q.sql, q.parameters)
        texts.push(q.sql)
        continue
      }
      const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, q.parameters)
      const lines = r.rows.map((row) => row['QUERY PLAN'])
      texts.push(lines.join('\n'))
      execMs += Number(/Execution Time: ([\d.]+) ms/.exec(lines.join('\n'))?.[1] ?? 0)
      for (const l of lines) {
        const m = /(Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan|Parallel Seq Scan)(?: Backward)?(?: using (\S+))?(?: on (\S+))?/.exec(l)
        if (m) scans.add(m[2] ? `${m[1]} ${m[2]}` : `${m[1]} on ${m[3]}`)
      }
      const top = lines.find((l) => l.includes('Buffers:'))
      hit += Number(/shared hit=(\d+)/.exec(top ?? '')?.[1] ?? 0)
      read += Number(/read=(\d+)/.exec(top ?? '')?.[1] ?? 0)
    }
  } finally {
    await c.query('ROLLBACK').catch(() => undefined)
    c.release()
  }
  return {
    text: texts.join('\n\n'),
    executionMs: Math.round(execMs * 10) / 10,
    summary: `${[...scans].join(', ')}; ${Math.round(execMs * 10) / 10} ms; buffers hit ${hit}, read ${read}`,
  }
}

const principalOf = (client, role) => ({
  clientId: client.id,
  role,
  name: client.name ?? role,
  courtCodes: client.courtCodes ?? [],
  organizationIds: client.organizationIds ?? [],
  regionCodes: client.regionCodes ?? [],
})

export async function runScale(argv) {
  const arg = (name, dflt) => {
    const i = argv.indexOf(name)
    return i >= 0 ? argv[i + 1] : dflt
  }
  const count = Number(arg('--count', '1000000'))
  const seconds = Number(arg('--seconds', '8'))
  const reuse = arg('--reuse-db')
  const keep = argv.includes('--keep-db') || !!reuse
  const runId = hex(4)
  const database = reuse ?? `zdz_bench_scale_${runId}`
  const queuePrefix = `bench_scale_${runId}`
  const operatorKey = `op_${hex(24)}`
  const databaseUrl = dbUrl(database)
  const scale = { date: new Date().toISOString(), database: reuse ? database : undefined }

  let svc
  let ok = false
  // EXPLAIN ANALYZE runs the statistics for real: give it longer than the service's 30 s.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, options: '-c statement_timeout=300000' })
  pool.on('error', () => undefined)
  try {
    if (!reuse) {
      await createDatabase(database)
      log(`seeding ${count.toLocaleString('en-US')} referrals into ${database}`)
      Object.assign(scale, await seedScale({ databaseUrl, count }))
    } else {
      const c = await pool.query(
        `SELECT (SELECT count(*) FROM referrals)::int AS referrals, (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM party_index)::int AS party, pg_database_size(current_database()) AS bytes`,
      )
      Object.assign(scale, {
        referrals: c.rows[0].referrals,
        events: c.rows[0].events,
        partyIndex: c.rows[0].party,
        databaseMb: Math.round(Number(c.rows[0].bytes) / 1048576),
        seedSeconds: null,
      })
    }
    log(`${scale.referrals} referrals, ${scale.events} events, ${scale.databaseMb} MB`)

    svc = await startService({ database, queuePrefix, operatorKey })
    const mk = async (body) => (await api(svc.base, 'POST', '/v1/clients', { key: operatorKey, idem: true, body })).body
    const court = await mk({ name: '北京市朝阳区人民法院（bench）', role: 'court', courtCodes: ['京0105'] })
    const platform = await mk({ name: '北京市非诉讼纠纷化解平台（bench）', role: 'mediation', regionCodes: ['11'] })
    const orgClient = await mk({ name: '八里庄街道人民调解委员会（bench）', role: 'mediation', organizationIds: ['bj-cy-02'] })
    const operator = { id: '00000000-0000-7000-8000-000000000001', apiKey: operatorKey, name: 'operator' }
    const P = {
      court: principalOf(court, 'court'),
      platform: principalOf(platform, 'mediation'),
      org: principalOf(orgClient, 'mediation'),
      operator: principalOf(operator, 'operator'),
    }

    // Sample values from the data: a party of a recent 京0105 case, an id half-way through 京0105's cases.
    const cipher = benchCipher()
    const enc = (await pool.query(`SELECT doc->'parties'->0->'idNumber'->>'enc' AS enc FROM referrals WHERE court_code = '京0105' ORDER BY id DESC LIMIT 1`))
      .rows[0].enc
    const partyId = cipher.decrypt(enc, 'idNumber')
    const mid = (
      await pool.query(
        `SELECT id FROM referrals WHERE court_code = '京0105' ORDER BY id OFFSET (SELECT count(*) / 2 FROM referrals WHERE court_code = '京0105') LIMIT 1`,
      )
    ).rows[0].id
    const weekAgo = new Date(Date.now() - 7 * 86_400_000).toISOString()

    const lists = [
      { caller: 'court 京0105', key: court.apiKey, p: P.court, qs: {} },
      { caller: 'court 京0105', key: court.apiKey, p: P.court, qs: { status: 'mediating' } },
      { caller: 'court 京0105', key: court.apiKey, p: P.court, qs: { status: 'closed', disputeType: 'labor' } },
      { caller: 'court 京0105', key: court.apiKey, p: P.court, qs: { updatedSince: weekAgo } },
      { caller: 'court 京0105', key: court.apiKey, p: P.court, qs: { partyIdNumber: partyId } },
      { caller: 'court 京0105', key: court.apiKey, p: P.court, qs: { cursor: encodeCursor({ id: mid }) }, label: 'cursor=<half-way>' },
      { caller: 'platform (region 11)', key: platform.apiKey, p: P.platform, qs: { status: 'referred' } },
      { caller: 'platform (region 11)', key: platform.apiKey, p: P.platform, qs: { organizationId: 'bj-hd-03', status: 'agreed' } },
      { caller: 'organization client (bj-cy-02)', key: orgClient.apiKey, p: P.org, qs: {} },
      { caller: 'operator', key: operatorKey, p: P.operator, qs: { courtCode: '粤0604', status: 'terminated' } },
      { caller: 'operator', key: operatorKey, p: P.operator, qs: { status: 'suspended' } },
    ]
    scale.list = []
    const plans = [
      '# Query plans on the scale database',
      '',
      `${scale.referrals} referrals, ${scale.events} events (${scale.date}). Captured from the service's own repository functions, run with EXPLAIN (ANALYZE, BUFFERS).`,
      '',
    ]
    for (const q of lists) {
      const url = `/v1/referrals?${new URLSearchParams({ limit: '50', ...q.qs })}`
      const shown =
        q.label ??
        (decodeURIComponent(new URLSearchParams(q.qs).toString())
          .replace(/partyIdNumber=[^&]+/, 'partyIdNumber=<id>')
          .replace(/updatedSince=[^&]+/, 'updatedSince=<7 days ago>') ||
          '(no filter)')
      const probe = await api(svc.base, 'GET', url, { key: q.key })
      await cannon({ url: `${svc.base}${url}`, connections: 2, duration: 1, headers: { authorization: `Bearer ${q.key}` } })
      const res = await cannon({ url: `${svc.base}${url}`, connections: 10, duration: seconds, headers: { authorization: `Bearer ${q.key}` } })
      const f = figures(res)
      const hash = q.qs.partyIdNumber ? cipher.blindIndex(normalizeResidentId(q.qs.partyIdNumber), 'idNumber') : undefined
      const after = q.qs.cursor ? mid : undefined
      const statements = await captureSql(pool, (db) =>
        listReferrals(db, q.p, {
          status: q.qs.status,
          courtCode: q.qs.courtCode,
          organizationId: q.qs.organizationId,
          disputeType: q.qs.disputeType,
          updatedSince: q.qs.updatedSince,
          partyIdHash: hash,
          afterId: after,
          limit: 51,
        }),
      )
      const plan = await explain(pool, statements)
      scale.list.push({
        query: shown,
        caller: q.caller,
        items: probe.body.items.length,
        rps: f.rps,
        p50Ms: f.p50Ms,
        p99Ms: f.p99Ms,
        non2xx: f.non2xx,
        plan: { summary: plan.summary, executionMs: plan.executionMs },
      })
      plans.push(
        `## ${q.caller}: \`GET /v1/referrals?${shown}\``,
        '',
        `${f.rps} req/s, p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms over HTTP; ${probe.body.items.length} items on the page.`,
        '',
        '```sql',
        statements.map((s) => s.sql).join(';\n'),
        '```',
        '',
        '```',
        plan.text,
        '```',
        '',
      )
      log(`list ${q.caller} ${shown}: ${f.rps} req/s, p99 ${f.p99Ms} ms; SQL ${plan.executionMs} ms`)
    }

    // Statistics (GET /v1/stats): wall time of sequential calls, each three times.
    const today = shanghaiDate(new Date())
    const yearAgo = addCalendarDays(today, -364)
    const probe = await api(svc.base, 'GET', `/v1/stats?groupBy=court`, { key: operatorKey, expect: [200, 404, 500] })
    if (probe.status === 404) {
      scale.statsNote = 'GET /v1/stats is not in this build: statistics not measured.'
    } else {
      const { computeStats, hasConfirmations, readStatsRollup } = await import('../../dist/src/db/stats-repository.js')
      const statsQueries = [
        { caller: 'operator', key: operatorKey, p: P.operator, qs: { groupBy: 'court', from: yearAgo, to: today } },
        { caller: 'operator', key: operatorKey, p: P.operator, qs: { groupBy: 'organization', from: yearAgo, to: today } },
        { caller: 'operator', key: operatorKey, p: P.operator, qs: { groupBy: 'region', from: yearAgo, to: today } },
        { caller: 'operator', key: operatorKey, p: P.operator, qs: { groupBy: 'disputeType', from: yearAgo, to: today } },
        { caller: 'operator', key: operatorKey, p: P.operator, qs: { groupBy: 'month', from: yearAgo, to: today } },
        { caller: 'operator', key: operatorKey, p: P.operator, qs: { groupBy: 'court' }, label: 'groupBy=court (default: last 30 days)' },
        { caller: 'court 京0105', key: court.apiKey, p: P.court, qs: { groupBy: 'month', from: yearAgo, to: today } },
        { caller: 'platform (region 11)', key: platform.apiKey, p: P.platform, qs: { groupBy: 'organization', from: yearAgo, to: today } },
      ]
      scale.stats = []
      plans.push('# Statistics', '')
      for (const q of statsQueries) {
        const url = `/v1/stats?${new URLSearchParams(q.qs)}`
        const shown = q.label ?? new URLSearchParams(q.qs).toString().replace(`from=${yearAgo}&to=${today}`, 'from=<365 days ago>&to=<today>')
        const times = []
        let status = 200
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now()
          const r = await api(svc.base, 'GET', url, { key: q.key, expect: [200, 400, 422, 500, 503] })
          times.push(performance.now() - t0)
          status = r.status
          if (r.status !== 200) {
            log(`stats ${shown}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`)
            break
          }
        }
        times.sort((a, b) => a - b)
        const from = q.qs.from ?? addCalendarDays(today, -29)
        const statements = await captureSql(pool, async (db) => {
          const withConfirmations = await hasConfirmations(db)
          const query = { start: startOfShanghaiDay(from), end: endOfShanghaiDay(q.qs.to ?? today), today, groupBy: q.qs.groupBy }
          // What the route runs: the rollup, the direct count only for a period it cannot answer.
          if (!(await readStatsRollup(db, q.p, query))) await computeStats(db, q.p, query, withConfirmations)
        })
        const plan = await explain(pool, statements)
        scale.stats.push({
          query: shown,
          caller: q.caller,
          status: status === 200 ? 'ok' : `HTTP ${status}`,
          medianMs: Math.round(times[Math.floor(times.length / 2)]),
          maxMs: Math.round(times.at(-1)),
          sqlMs: plan.executionMs,
          plan: plan.summary,
        })
        plans.push(
          `## ${q.caller}: \`GET /v1/stats?${shown}\``,
          '',
          `wall time ${times.map((t) => Math.round(t)).join(', ')} ms (HTTP ${status}).`,
          '',
          '```',
          plan.text,
          '```',
          '',
        )
        log(`stats ${q.caller} ${shown}: ${times.map((t) => Math.round(t)).join(' / ')} ms (HTTP ${status}); SQL ${plan.executionMs} ms`)
      }
    }
    // Issue 16, goal 7: the two figures with targets. statsYearMsMedian is the operator's groupBy=court year (the
    // other groupings are in scale.stats); updatedSinceP99Ms the court's updatedSince=<7 days ago> list.
    scale.statsYearMsMedian = scale.stats?.find((x) => x.caller === 'operator' && x.query.startsWith('groupBy=court&from='))?.medianMs ?? null
    scale.updatedSinceP99Ms = scale.list.find((x) => x.caller === 'court 京0105' && x.query.startsWith('updatedSince='))?.p99Ms ?? null
    writeFileSync(path.join(RESULTS_DIR, 'scale-plans.md'), `${plans.join('\n')}\n`)
    scale.rssPeakMb = svc.memory()?.hwmMb
    ok = true
  } finally {
    await pool.end()
    if (svc) await svc.stop()
    // A failed run keeps its seeded database: seeding takes most of the time; --reuse-db picks it up again.
    if (keep || !ok) log(`kept database ${database}${ok ? '' : ` (failed run: retry with --scale --reuse-db ${database})`}`)
    else await dropDatabase(database)
    await dropRedisPrefix(queuePrefix).catch(() => undefined)
  }

  const file = path.join(RESULTS_DIR, 'latest.json')
  let result = { mode: 'scale', date: scale.date }
  if (existsSync(file)) {
    try {
      result = JSON.parse(readFileSync(file, 'utf8'))
    } catch {
      // replaced below
    }
  }
  result.scale = scale
  result.targets = { ...(result.targets ?? {}), ...evaluateTargets({ scale }) }
  if (!result.machine) {
    const { default: os } = await import('node:os')
    result.machine = {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      memGb: Math.round(os.totalmem() / 1e8) / 10,
      node: process.version,
      postgres: '',
      redis: '',
    }
  }
  writeResults(file, result)
  log(updateReadme(result) ? 'README.md table updated' : 'README.md has no bench markers; table not written there')
  process.stdout.write(`\n${markdownTable(result)}\n`)
}
