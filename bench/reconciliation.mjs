#!/usr/bin/env node
/**
 * Daily reconciliation at scale (contract §4: "a day with 50,000 changed cases answers in under a second").
 *
 *   npm run build && npm run build:tools && node bench/reconciliation.mjs [--day-count 50000] [--other-count 950000] [--runs 7] [--keep-db]
 *   node bench/reconciliation.mjs --database zdz_bench_recon_<kept>     # measure again without seeding
 *
 * Seeds a scratch database `zdz_bench_recon_<random>` with `--day-count` referrals last changed on one Asia/Shanghai
 * day (yesterday) and `--other-count` last changed on the 364 days before it, interleaved in the table as a live
 * system's would be (cases created over months, changed on the day). Rows carry a real intake document (sealed
 * parties), so the heap is the size the service's is. Then it measures:
 *
 * - the repository function behind the route (`reconcileDay` from dist/): SQL, the digest and the counts, in process;
 * - `GET /v1/reconciliation` over HTTP against the service started as a child process (`node dist/src/server.js`);
 * - `POST /v1/reconciliation/diff` with 10,000 items,
 *
 * as the operator (all 50,000), a court (its share), a regional platform and a platform bound to one organization;
 * median and worst of `--runs` after one warm-up. It checks the service's digest against one computed here from the
 * rows, prints the plans, and drops the database (and its Redis keys) unless `--keep-db`.
 */
import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { createDb } from '../dist/src/db/connection.js'
import { migrateToLatest } from '../dist/src/db/migrate.js'
import { upsertOrganization } from '../dist/src/db/organization-repository.js'
import { reconcileDay } from '../dist/src/db/reconciliation-repository.js'
import { addCalendarDays, endOfShanghaiDay, shanghaiDate, startOfShanghaiDay } from '../dist/src/domain/calendar.js'
import { createLogger } from '../dist/src/logging.js'
import { referralFactory } from './lib/bodies.mjs'
import { SCALE_COURTS, scaleOrganizations } from './lib/history.mjs'
import { createDatabase, dbUrl, dropDatabase, dropRedisPrefix, startService } from './lib/service.mjs'
import { benchCipher, intakeDoc } from './lib/shape.mjs'
import { api, hex, log, quantile, round } from './lib/util.mjs'

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const DAY_COUNT = arg('day-count', 50_000)
const OTHER_COUNT = arg('other-count', 950_000)
const RUNS = arg('runs', 7)
const KEEP_DB = process.argv.includes('--keep-db')
/** `--database NAME`: measure a database an earlier `--keep-db` run seeded (no seeding; it is kept). */
const REUSE = process.argv.includes('--database') ? process.argv[process.argv.indexOf('--database') + 1] : undefined

const STATUSES = [
  ['referred', 0.12],
  ['declined', 0.04],
  ['mediating', 0.3],
  ['suspended', 0.03],
  ['agreed', 0.16],
  ['terminated', 0.08],
  ['materials_returned', 0.05],
  ['case_registered', 0.07],
  ['trial_resumed', 0.02],
  ['closed', 0.13],
]

/** `count` intake documents as POST /v1/referrals stores them (sealed parties), reused round-robin by the rows. */
function sampleDocs(count) {
  const cipher = benchCipher()
  const factory = referralFactory({ seed: 7 })
  return Array.from({ length: count }, () => intakeDoc(cipher, factory.next(), { acceptanceDueOn: null, mediationDueOn: null, provisional: false }).doc)
}

/**
 * A table of `size` entries in which each value appears in proportion to its weight: a row picks one entry with
 * random(), so courts and statuses follow their weights without per-row logic in SQL.
 */
function weighted(pairs, size = 1000) {
  const total = pairs.reduce((a, [, w]) => a + w, 0)
  const out = []
  for (const [v, w] of pairs) for (let i = 0; i < Math.round((w / total) * size); i++) out.push(v)
  while (out.length < size) out.push(pairs[0][0])
  return out.slice(0, size)
}

async function seed(url, date) {
  const { db } = createDb(url, 2, createLogger('warn'))
  try {
    await migrateToLatest(db)
    await db.transaction().execute(async (trx) => {
      for (const o of scaleOrganizations()) await upsertOrganization(trx, o)
    })
  } finally {
    await db.destroy()
  }
  const c = new pg.Client({ connectionString: url, application_name: 'zdz-bench-reconciliation' })
  await c.connect()
  try {
    await c.query('SET synchronous_commit = off')
    await c.query('SELECT setseed(0.2026)')
    const total = DAY_COUNT + OTHER_COUNT
    // Court and organization together: the courts by weight, each court's organizations in turn.
    const orgsOf = new Map(SCALE_COURTS.map((sc) => [sc.code, scaleOrganizations().filter((o) => o.rosters.courtSpecial.includes(sc.code))]))
    const turn = new Map()
    const picks = weighted(SCALE_COURTS.map((sc) => [sc.code, sc.weight])).map((code) => {
      const orgs = orgsOf.get(code)
      const n = turn.get(code) ?? 0
      turn.set(code, n + 1)
      return [code, orgs[n % orgs.length].id]
    })
    const statuses = weighted(STATUSES)
    const docs = sampleDocs(40)
    const dayStart = startOfShanghaiDay(date)
    const batch = 25_000
    for (let from = 1; from <= total; from += batch) {
      const to = Math.min(total, from + batch - 1)
      // Row i is on the day when floor(i·day/total) steps up at i: exactly DAY_COUNT rows, spread evenly through the
      // table (and over the day); the others fall on one of the 364 days before it.
      await c.query(
        `INSERT INTO referrals (id, version, status, referral_type, court_code, case_number, dispute_type, organization_id, held_by,
                                acceptance_due_on, mediation_due_on, chain_head, doc, created_at, updated_at)
         SELECT gen_random_uuid(), 1 + floor(random() * 8)::int, ($5::text[])[1 + floor(random() * 1000)::int], 'pre_filing', ($3::text[])[k],
                '（2026）' || ($3::text[])[k] || '民诉前调' || g.i || '号', 'neighbor', ($4::text[])[k], ARRAY[($4::text[])[k]], NULL, NULL,
                repeat('0', 64), ($6::jsonb) -> (g.i % 40), at - interval '20 days', at
           FROM generate_series($1::int, $2::int) AS g(i)
           CROSS JOIN LATERAL (SELECT 1 + floor(random() * 1000 + 0 * g.i)::int AS k) AS pick -- g.i: once per row, not once per statement
           CROSS JOIN LATERAL (
             SELECT CASE WHEN floor(g.i::numeric * $8::numeric / $9::numeric) > floor((g.i - 1)::numeric * $8::numeric / $9::numeric)
                         THEN $7::timestamptz + (floor(g.i::numeric * $8::numeric / $9::numeric) - 1)::float8 * (interval '86400 seconds' / $8::float8)
                         ELSE $7::timestamptz - (1 + floor(random() * 364)) * interval '1 day' + random() * interval '1 day'
                    END AS at) AS t`,
        [from, to, picks.map(([code]) => code), picks.map(([, org]) => org), statuses, JSON.stringify(docs), dayStart.toISOString(), DAY_COUNT, total],
      )
      log(`seeded ${to.toLocaleString('en')} / ${total.toLocaleString('en')} referrals`)
    }
    await c.query('VACUUM ANALYZE referrals')
    const size = await c.query(`SELECT pg_size_pretty(pg_total_relation_size('referrals')) AS size`)
    const onDay = await c.query('SELECT count(*)::int AS n FROM referrals WHERE updated_at >= $1 AND updated_at < $2', [dayStart, endOfShanghaiDay(date)])
    return { total, onDay: onDay.rows[0].n, tableSize: size.rows[0].size }
  } finally {
    await c.end()
  }
}

/** Median and worst of `runs` timed calls after one warm-up; the last result is returned too. */
async function timed(fn, runs = RUNS) {
  let result = await fn()
  const ms = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    result = await fn()
    ms.push(performance.now() - t0)
  }
  ms.sort((a, b) => a - b)
  return { p50: round(quantile(ms, 0.5)), max: round(ms.at(-1)), result }
}

/** The digest computed here from the rows, independently of the service. */
async function independentDigest(c, date, where = 'true', params = []) {
  const rows = await c.query(
    `SELECT id::text, version, status FROM referrals WHERE updated_at >= $1 AND updated_at < $2 AND ${where} ORDER BY id::text COLLATE "C"`,
    [startOfShanghaiDay(date), endOfShanghaiDay(date), ...params],
  )
  const h = createHash('sha256')
  for (const r of rows.rows) h.update(`${r.id}:${r.version}:${r.status}\n`)
  return { count: rows.rowCount, digest: h.digest('hex') }
}

async function main() {
  const database = REUSE ?? `zdz_bench_recon_${hex(4)}`
  const url = dbUrl(database)
  const queuePrefix = `zdzbr${hex(3)}`
  let date = addCalendarDays(shanghaiDate(new Date()), -1)
  if (!REUSE) await createDatabase(database)
  let service
  try {
    let seeded
    const t0 = performance.now()
    if (REUSE) {
      // The seeded day is the last one with changes.
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      try {
        date = (await c.query(`SELECT to_char(max(updated_at) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS d FROM referrals`)).rows[0].d
        const n = await c.query('SELECT count(*)::int AS n FROM referrals')
        const onDay = await c.query('SELECT count(*)::int AS n FROM referrals WHERE updated_at >= $1 AND updated_at < $2', [
          startOfShanghaiDay(date),
          endOfShanghaiDay(date),
        ])
        const size = await c.query(`SELECT pg_size_pretty(pg_total_relation_size('referrals')) AS size`)
        seeded = { total: n.rows[0].n, onDay: onDay.rows[0].n, tableSize: size.rows[0].size }
      } finally {
        await c.end()
      }
    } else {
      seeded = await seed(url, date)
    }
    log(
      `${REUSE ? 'reusing' : `seeded in ${round((performance.now() - t0) / 1000)} s:`} ${seeded.total.toLocaleString('en')} referrals (${seeded.onDay.toLocaleString('en')} on ${date}); table ${seeded.tableSize}`,
    )

    const principals = {
      operator: { clientId: 'bench-op', role: 'operator', name: 'bench', courtCodes: [], organizationIds: [], regionCodes: [] },
      'court 京0105': { clientId: 'bench-court', role: 'court', name: 'bench', courtCodes: ['京0105'], organizationIds: [], regionCodes: [] },
      'platform, region 11': { clientId: 'bench-pf', role: 'mediation', name: 'bench', courtCodes: [], organizationIds: [], regionCodes: ['11'] },
      'platform, one organization': { clientId: 'bench-org', role: 'mediation', name: 'bench', courtCodes: [], organizationIds: ['bj-cy-01'], regionCodes: [] },
    }

    // 1. The repository function, in process (pool of 2, prepared statements as the service runs them).
    const { db } = createDb(url, 2, createLogger('warn'))
    const repo = {}
    try {
      for (const [label, p] of Object.entries(principals)) {
        const r = await timed(() => reconcileDay(db, p, 'referral', date))
        repo[label] = r
        log(`repository  ${label.padEnd(28)} count ${String(r.result.count).padStart(6)}  p50 ${r.p50} ms  max ${r.max} ms`)
      }
    } finally {
      await db.destroy()
    }

    // 2. Through the service, over HTTP.
    const operatorKey = `bench-op-${hex(24)}`
    service = await startService({ database, queuePrefix, operatorKey })
    const keys = { operator: operatorKey }
    const clients = [
      ['court 京0105', { role: 'court', courtCodes: ['京0105'] }],
      ['platform, region 11', { role: 'mediation', regionCodes: ['11'] }],
      ['platform, one organization', { role: 'mediation', organizationIds: ['bj-cy-01'] }],
    ]
    for (const [label, body] of clients) {
      const res = await api(service.base, 'POST', '/v1/clients', { key: operatorKey, idem: true, body: { name: `bench ${label}`, ...body } })
      keys[label] = res.body.apiKey
    }
    const http = {}
    for (const [label, key] of Object.entries(keys)) {
      const r = await timed(() => api(service.base, 'GET', `/v1/reconciliation?date=${date}&kind=referral`, { key }))
      http[label] = r
      log(`HTTP GET    ${label.padEnd(28)} count ${String(r.result.body.count).padStart(6)}  p50 ${r.p50} ms  max ${r.max} ms`)
    }

    // 3. The digests agree with one computed here from the rows, and with the repository's.
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    let diffTiming
    try {
      const all = await independentDigest(c, date)
      const court = await independentDigest(c, date, 'court_code = $3', ['京0105'])
      const ok =
        http.operator.result.body.digest === all.digest &&
        http.operator.result.body.count === all.count &&
        http['court 京0105'].result.body.digest === court.digest &&
        repo.operator.result.digest === all.digest
      log(`digests: ${ok ? 'the service, the repository and an independent computation agree' : 'MISMATCH'}`)
      if (!ok) process.exitCode = 1

      // 4. A diff of 10,000 items: the court's first 10,000 cases of the day, every tenth at an older version.
      const mine = await c.query(
        `SELECT id::text, version FROM referrals WHERE court_code = '京0105' AND updated_at >= $1 AND updated_at < $2 ORDER BY id LIMIT 10000`,
        [startOfShanghaiDay(date), endOfShanghaiDay(date)],
      )
      const items = mine.rows.map((r, i) => ({ id: r.id, version: i % 10 === 0 && r.version > 1 ? r.version - 1 : r.version }))
      diffTiming = await timed(() =>
        api(service.base, 'POST', '/v1/reconciliation/diff', { key: keys['court 京0105'], body: { date, kind: 'referral', items }, expect: [200] }),
      )
      const d = diffTiming.result.body
      log(
        `HTTP diff   court 京0105, ${items.length.toLocaleString('en')} items      missing ${d.missing.length}  matched ${d.matched}  unknown ${d.unknown.length}  p50 ${diffTiming.p50} ms  max ${diffTiming.max} ms`,
      )

      // 5. The plans (the repository's statements, written out).
      for (const [label, where, params] of [
        ['operator', 'true', []],
        ['court 京0105', 'r.court_code IN ($3)', ['京0105']],
      ]) {
        const plan = await c.query(
          `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT r.id, r.version, r.status FROM referrals r
            WHERE r.updated_at >= $1 AND r.updated_at < $2 AND ${where} ORDER BY r.id`,
          [startOfShanghaiDay(date), endOfShanghaiDay(date), ...params],
        )
        log(`plan, ${label}:\n    ${plan.rows.map((r) => r['QUERY PLAN']).join('\n    ')}`)
      }
    } finally {
      await c.end()
    }

    const summary = {
      date,
      referrals: seeded.total,
      onDay: seeded.onDay,
      tableSize: seeded.tableSize,
      repository: Object.fromEntries(Object.entries(repo).map(([k, v]) => [k, { count: v.result.count, p50Ms: v.p50, maxMs: v.max }])),
      http: Object.fromEntries(Object.entries(http).map(([k, v]) => [k, { count: v.result.body.count, p50Ms: v.p50, maxMs: v.max }])),
      diff10000: { p50Ms: diffTiming.p50, maxMs: diffTiming.max },
      machine: { loadAverage: (await import('node:os')).loadavg().map((l) => round(l, 2)) },
    }
    console.log(JSON.stringify(summary, null, 2))
  } finally {
    if (service) await service.stop()
    await dropRedisPrefix(queuePrefix)
    if (KEEP_DB || REUSE) log(`kept database ${database}`)
    else await dropDatabase(database)
  }
}

await main()
