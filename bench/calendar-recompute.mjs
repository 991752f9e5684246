#!/usr/bin/env node
/**
 * Recomputation of open cases when a year's calendar is published (contract §2 "Recomputation"): how long
 * `PUT /v1/calendar/2027` takes with 50,000 open cases whose due dates the statutory fallback computed.
 *
 *   npm run build && npm run build:tools && node bench/calendar-recompute.mjs [--open 50000] [--closed 50000] [--keep-db]
 *
 * Seeds a scratch database `zdz_bench_cal_<random>` directly with SQL: `--open` open referrals (15% referred, 75%
 * mediating, 10% suspended) made or accepted in January–February 2027, their due dates computed on the fallback (the
 * statutory days with 补假), and `--closed` closed ones with dates in the same weeks (they must be left alone). Rows
 * carry a real intake document (sealed parties). Then it starts the service (`node dist/src/server.js`, pool of 10)
 * and times, over HTTP:
 *
 * - the PUT of 2027 as the State Council typically arranges it (春节 02-05…02-12 off, Saturday 02-13 worked): most
 *   open cases move later, each in its own transaction with its event and its timer;
 * - the same PUT again (nothing moves).
 *
 * It checks that every moved case has exactly one `referral.deadlines_changed` event, that no due date moved
 * earlier, that closed cases kept their version, and drops the database (and its Redis keys) unless `--keep-db`.
 */
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { createDb } from '../dist/src/db/connection.js'
import { loadShippedCalendarData } from '../dist/src/db/calendar-repository.js'
import { migrateToLatest } from '../dist/src/db/migrate.js'
import { upsertOrganization } from '../dist/src/db/organization-repository.js'
import { acceptanceDueOn, LegalCalendar, mediationDueOn, startOfShanghaiDay } from '../dist/src/domain/calendar.js'
import { createLogger } from '../dist/src/logging.js'
import { referralFactory } from './lib/bodies.mjs'
import { scaleOrganizations } from './lib/history.mjs'
import { createDatabase, dbUrl, dropDatabase, dropRedisPrefix, startService } from './lib/service.mjs'
import { benchCipher, intakeDoc } from './lib/shape.mjs'
import { api, hex, log, round } from './lib/util.mjs'

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const OPEN = arg('open', 50_000)
const CLOSED = arg('closed', 50_000)
const KEEP_DB = process.argv.includes('--keep-db')

const range = (from, to) => {
  const out = []
  for (let d = new Date(`${from}T00:00:00Z`); d <= new Date(`${to}T00:00:00Z`); d = new Date(d.getTime() + 86_400_000)) out.push(d.toISOString().slice(0, 10))
  return out
}

/** 2027 as published in this run. */
const Y2027 = {
  holidays: [
    '2027-01-01',
    ...range('2027-02-05', '2027-02-12'),
    '2027-04-05',
    ...range('2027-05-01', '2027-05-05'),
    '2027-06-09',
    '2027-09-15',
    ...range('2027-10-01', '2027-10-07'),
  ],
  workdays: ['2027-02-13', '2027-10-09'],
}

/**
 * The kinds of rows, each with its share and its due dates on the fallback: referred on 02-01…02-04 (acceptance);
 * pre-filing referrals accepted 01-06…01-15 (30 days: unrolled 02-05…02-14), suspended or not; closed ones like them.
 */
function templates(cal, cipher) {
  const factory = referralFactory({ seed: 2027 })
  const out = []
  const add = (share, status, day, extra) => {
    const body = factory.next()
    const acceptance = acceptanceDueOn(cal, day)
    const deadlines = extra.accepted
      ? { acceptanceDueOn: acceptance.date, mediationDueOn: mediationDueOn(cal, extra.accepted, 'pre_filing').date, provisional: true }
      : { acceptanceDueOn: acceptance.date, mediationDueOn: null, provisional: true }
    const { doc } = intakeDoc(cipher, body, deadlines)
    if (extra.accepted) {
      doc.mediator = { name: '王调解' }
      doc.acceptedAt = new Date(`${extra.accepted}T10:00:00+08:00`).toISOString()
    }
    if (status === 'suspended') doc.suspension = { reason: 'appraisal', suspendedOn: '2027-01-25', suspendedAt: '2027-01-25T02:00:00.000Z' }
    out.push({ share, status, created: startOfShanghaiDay(day).getTime() + 2 * 3600_000, deadlines, doc })
  }
  for (const day of range('2027-02-01', '2027-02-04')) add(0.15 / 4, 'referred', day, {})
  const accepted = range('2027-01-06', '2027-01-15')
  for (const day of accepted) {
    const referred = range('2027-01-01', day).at(-2) ?? day
    add(0.75 / accepted.length, 'mediating', referred, { accepted: day })
    add(0.1 / accepted.length, 'suspended', referred, { accepted: day })
    add(0, 'closed', referred, { accepted: day })
  }
  return out
}

/** Row i's template: the open ones by share, spread through the table; closed ones after them. */
function picks(tpls) {
  const open = tpls.filter((t) => t.status !== 'closed')
  const table = []
  for (const [i, t] of open.entries()) for (let k = 0; k < Math.round(t.share * 1000); k++) table.push(i)
  return { open, table }
}

async function seed(url, cal) {
  const { db } = createDb(url, 2, createLogger('warn'))
  const orgs = scaleOrganizations().filter((o) => o.rosters.courtSpecial.includes('京0105'))
  try {
    await migrateToLatest(db)
    await db.transaction().execute(async (trx) => {
      for (const o of scaleOrganizations()) await upsertOrganization(trx, o)
    })
  } finally {
    await db.destroy()
  }
  const tpls = templates(cal, benchCipher())
  const { open, table } = picks(tpls)
  const closed = tpls.filter((t) => t.status === 'closed')
  const c = new pg.Client({ connectionString: url, application_name: 'zdz-bench-calendar' })
  await c.connect()
  try {
    await c.query('SET synchronous_commit = off')
    const insert = async (first, count, kinds, choose) => {
      for (let from = first; from < first + count; from += 25_000) {
        const to = Math.min(first + count - 1, from + 24_999)
        await c.query(
          `INSERT INTO referrals (id, version, status, referral_type, court_code, case_number, dispute_type, organization_id, held_by,
                                  acceptance_due_on, mediation_due_on, chain_head, doc, created_at, updated_at)
           SELECT gen_random_uuid(), 2, k.status, 'pre_filing', '京0105', '（2027）京0105民诉前调' || g.i || '号', 'neighbor', o.id, ARRAY[o.id],
                  k.acceptance::date, k.mediation::date, repeat('0', 64), k.doc, k.created, k.created
             FROM generate_series($1::int, $2::int) AS g(i)
             CROSS JOIN LATERAL (SELECT ($3::jsonb) -> (${choose}) AS t) AS pick
             CROSS JOIN LATERAL (SELECT pick.t ->> 'status' AS status, pick.t ->> 'acceptance' AS acceptance, pick.t ->> 'mediation' AS mediation,
                                        pick.t -> 'doc' AS doc, to_timestamp((pick.t ->> 'created')::float8 / 1000) AS created) AS k
             CROSS JOIN LATERAL (SELECT ($4::text[])[1 + g.i % $5::int] AS id) AS o`,
          [
            from,
            to,
            JSON.stringify(
              kinds.map((t) => ({
                status: t.status,
                acceptance: t.deadlines.acceptanceDueOn,
                mediation: t.deadlines.mediationDueOn,
                doc: t.doc,
                created: t.created,
              })),
            ),
            orgs.map((o) => o.id),
            orgs.length,
          ],
        )
      }
    }
    await insert(1, OPEN, open, `(ARRAY[${table.join(',')}])[1 + g.i % ${table.length}]`)
    await insert(OPEN + 1, CLOSED, closed, `g.i % ${closed.length}`)
    await c.query('VACUUM ANALYZE referrals')
    const counts = await c.query(`SELECT status, count(*)::int AS n FROM referrals GROUP BY status ORDER BY status`)
    return Object.fromEntries(counts.rows.map((r) => [r.status, r.n]))
  } finally {
    await c.end()
  }
}

async function main() {
  const database = `zdz_bench_cal_${hex(4)}`
  const url = dbUrl(database)
  const queuePrefix = `zdzbc${hex(3)}`
  const shipped = loadShippedCalendarData()
  const cal = new LegalCalendar(shipped)
  await createDatabase(database)
  let service
  try {
    const t0 = performance.now()
    const seeded = await seed(url, cal)
    log(`seeded ${JSON.stringify(seeded)} in ${round((performance.now() - t0) / 1000)} s`)

    const c = new pg.Client({ connectionString: url })
    await c.connect()
    try {
      const before = new Map(
        (await c.query(`SELECT id::text, status, version, acceptance_due_on::text AS a, mediation_due_on::text AS m FROM referrals`)).rows.map((r) => [
          r.id,
          r,
        ]),
      )
      const operatorKey = `bench-op-${hex(24)}`
      service = await startService({ database, queuePrefix, operatorKey })

      const timePut = async (label) => {
        const t1 = performance.now()
        const res = await api(service.base, 'PUT', '/v1/calendar/2027', { key: operatorKey, body: Y2027, expect: [200] })
        const ms = performance.now() - t1
        log(`${label}: ${round(ms / 1000, 2)} s (provisional ${res.body.provisional})`)
        return ms
      }
      const firstMs = await timePut('PUT /v1/calendar/2027')
      const job = (await c.query(`SELECT * FROM calendar_recomputations WHERE year = 2027`)).rows[0]
      const againMs = await timePut('the same PUT again')

      // Checks: one event per moved case, nothing earlier, closed cases untouched.
      const after = (await c.query(`SELECT id::text, status, version, acceptance_due_on::text AS a, mediation_due_on::text AS m FROM referrals`)).rows
      const events = new Map(
        (await c.query(`SELECT subject_id::text AS id, count(*)::int AS n FROM events WHERE type = 'referral.deadlines_changed' GROUP BY subject_id`)).rows.map(
          (r) => [r.id, r.n],
        ),
      )
      let moved = 0
      let problems = 0
      for (const r of after) {
        const b = before.get(r.id)
        const changed = b.a !== r.a || b.m !== r.m
        if (changed) moved++
        if ((r.a && b.a && r.a < b.a) || (r.m && b.m && r.m < b.m)) problems++
        if (b.status === 'closed' && (changed || r.version !== b.version)) problems++
        if ((events.get(r.id) ?? 0) !== (changed ? 1 : 0)) problems++
        if (r.version !== b.version + (changed ? 1 : 0)) problems++
      }
      log(
        `moved ${moved.toLocaleString('en')} of ${OPEN.toLocaleString('en')} open cases; ${problems ? `${problems} PROBLEMS` : 'one event each, none earlier, closed cases untouched'}`,
      )
      if (problems) process.exitCode = 1
      console.log(
        JSON.stringify(
          {
            openCases: OPEN,
            closedCases: CLOSED,
            moved,
            recomputation: { examined: job.examined, changed: job.changed },
            putSeconds: round(firstMs / 1000, 2),
            casesPerSecond: Math.round((OPEN / firstMs) * 1000),
            samePutAgainSeconds: round(againMs / 1000, 2),
            machine: { cpus: (await import('node:os')).cpus().length, loadAverage: (await import('node:os')).loadavg().map((l) => round(l, 2)) },
          },
          null,
          2,
        ),
      )
    } finally {
      await c.end()
    }
  } finally {
    if (service) await service.stop()
    await dropRedisPrefix(queuePrefix)
    if (KEEP_DB) log(`kept database ${database}`)
    else await dropDatabase(database)
  }
}

await main()
