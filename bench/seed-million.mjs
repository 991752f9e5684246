#!/usr/bin/env node
/**
 * Seeds a database with referrals and their full history, in the shape the service writes (bench/lib/history.mjs):
 * referrals rows, hash-chained events, party blind-index rows, and the organizations they name. Used by
 * `node bench/run.mjs --scale`; also usable alone:
 *
 *   node bench/seed-million.mjs --database-url postgres://postgres@127.0.0.1:5432/zdz_scale [--count 1000000]
 *
 * The database is migrated first if needed. Rows go in by batches of 1 000 referrals through
 * json_populate_recordset (one transaction per batch, two loading connections), generated in a worker thread
 * meanwhile; the service's
 * indexes are in place throughout, as they would be in production. Ends with VACUUM ANALYZE.
 * Personal data is encrypted with the bench's fixed DATA_KEYS, so the service started with them can decrypt it.
 */
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import pg from 'pg'
import { createDb } from '../dist/src/db/connection.js'
import { migrateToLatest } from '../dist/src/db/migrate.js'
import { upsertOrganization } from '../dist/src/db/organization-repository.js'
import { rebuildStatsRollup } from '../dist/src/db/stats-rollup.js'
import { createLogger } from '../dist/src/logging.js'
import { scaleOrganizations } from './lib/history.mjs'
import { log, ROOT } from './lib/util.mjs'

const REFERRAL_COLS =
  'id, version, status, referral_type, court_code, case_number, dispute_type, organization_id, held_by, acceptance_due_on, mediation_due_on, chain_head, doc, created_at, updated_at'
const EVENT_COLS =
  'id, type, occurred_at, subject_kind, subject_id, sequence, case_version, actor, data, court_code, organization_id, region_code, audience, prev_hash, hash'

/** Seeds `count` referrals created over the `days` before now. Returns counts and timings. */
export async function seedScale({ databaseUrl, count = 1_000_000, batch = 1000, days = 365, seed = 20261129 }) {
  const t0 = performance.now()
  const { db } = createDb(databaseUrl, 2, createLogger('warn'))
  try {
    await migrateToLatest(db)
    await db.transaction().execute(async (trx) => {
      for (const o of scaleOrganizations()) await upsertOrganization(trx, o)
    })
  } finally {
    await db.destroy()
  }

  // Two loaders: PostgreSQL turns each batch's JSON into rows on one core while the other batch loads on the
  // second core; the worker thread generates the next batches meanwhile.
  const loaders = []
  for (let k = 0; k < 2; k++) {
    const c = new pg.Client({ connectionString: databaseUrl, application_name: 'zdz-bench-seed' })
    await c.connect()
    // Bulk load: commits need not wait for the WAL flush (a crash would only lose seed rows).
    await c.query('SET synchronous_commit = off')
    loaders.push(c)
  }
  const to = Date.now() - 60_000
  const worker = new Worker(path.join(ROOT, 'bench', 'lib', 'seed-worker.mjs'), {
    workerData: { count, batch, from: to - days * 86_400_000, to, seed, inFlight: loaders.length + 1 },
  })
  let referrals = 0
  let events = 0
  let parties = 0
  let lastLog = performance.now()
  const load = async (c, m) => {
    await c.query('BEGIN')
    await c.query(`INSERT INTO referrals (${REFERRAL_COLS}) SELECT ${REFERRAL_COLS} FROM json_populate_recordset(null::referrals, $1::json)`, [m.referrals])
    await c.query(`INSERT INTO events (${EVENT_COLS}) SELECT ${EVENT_COLS} FROM json_populate_recordset(null::events, $1::json)`, [m.events])
    await c.query(
      'INSERT INTO party_index (subject_id, id_hash) SELECT subject_id, id_hash FROM json_populate_recordset(null::party_index, $1::json) ON CONFLICT DO NOTHING',
      [m.parties],
    )
    await c.query('COMMIT')
  }
  await new Promise((resolve, reject) => {
    const idle = [...loaders]
    const queue = []
    let finished = false
    let busy = 0
    const pump = () => {
      while (idle.length && queue.length) {
        const c = idle.pop()
        const m = queue.shift()
        busy++
        load(c, m).then(() => {
          busy--
          idle.push(c)
          worker.postMessage('ack')
          referrals += m.n
          events += m.e
          parties += m.p
          if (performance.now() - lastLog > 15_000) {
            lastLog = performance.now()
            const s = (performance.now() - t0) / 1000
            log(`seeded ${referrals.toLocaleString('en-US')} referrals, ${events.toLocaleString('en-US')} events (${Math.round(referrals / s)}/s)`)
          }
          pump()
        }, reject)
      }
      if (finished && !busy && !queue.length) resolve()
    }
    worker.on('error', reject)
    worker.on('message', (m) => {
      if (m.done) finished = true
      else queue.push(m)
      pump()
    })
  })
  const client = loaders[0]
  await loaders[1].end()
  await worker.terminate()
  // The rows went in around the write path: the statistics rollup is built from them, as the service keeps it.
  const tr = performance.now()
  {
    const { db } = createDb(databaseUrl, 1, createLogger('warn'))
    try {
      await rebuildStatsRollup(db)
    } finally {
      await db.destroy()
    }
  }
  const rollupSeconds = (performance.now() - tr) / 1000
  log(`statistics rollup built in ${Math.round(rollupSeconds)} s`)
  const seedSeconds = (performance.now() - t0) / 1000
  log(`seeded ${referrals} referrals in ${Math.round(seedSeconds)} s; VACUUM ANALYZE`)
  const t1 = performance.now()
  await client.query(
    'VACUUM (ANALYZE) referrals, events, party_index, organizations, stats_cells, stats_outcome_days, stats_review_due, stats_court_cells, stats_court_outcome_days, stats_court_review_due',
  )
  const vacuumSeconds = (performance.now() - t1) / 1000
  const size = await client.query('SELECT pg_database_size(current_database()) AS bytes')
  await client.end()
  return {
    referrals,
    events,
    partyIndex: parties,
    seedSeconds: Math.round(seedSeconds),
    rollupSeconds: Math.round(rollupSeconds),
    vacuumSeconds: Math.round(vacuumSeconds),
    databaseMb: Math.round(Number(size.rows[0].bytes) / 1048576),
  }
}

if (path.resolve(process.argv[1] ?? '') === path.resolve(new URL(import.meta.url).pathname)) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(name)
    return i >= 0 ? process.argv[i + 1] : dflt
  }
  const databaseUrl = arg('--database-url', process.env.DATABASE_URL)
  if (!databaseUrl) {
    process.stderr.write('usage: node bench/seed-million.mjs --database-url postgres://… [--count 1000000]\n')
    process.exit(2)
  }
  seedScale({ databaseUrl, count: Number(arg('--count', '1000000')) }).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`)
      process.exit(0)
    },
    (err) => {
      process.stderr.write(`seeding failed: ${err.stack ?? err}\n`)
      process.exit(1)
    },
  )
}
