/**
 * Baseline: raw PostgreSQL insert transactions (BEGIN; INSERT one jsonb row; COMMIT) through `pg` directly, with
 * a pool of 10 kept busy by 10 concurrent loops, in its own process. The rows are referral documents of the
 * shape and size the service stores, handed over by the parent.
 *
 * With `notify` the transaction also calls pg_notify, as the service's appendEvent once did: a diagnostic, since
 * PostgreSQL serialises the commits of notifying transactions on one database-wide lock.
 *
 * argv: databaseUrl seconds poolSize docsFile [notify]
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import pg from 'pg'

const [url, secondsArg, poolArg, docsFile, variant] = process.argv.slice(2)
const notify = variant === 'notify'
const seconds = Number(secondsArg)
const poolSize = Number(poolArg)
const docs = JSON.parse(readFileSync(docsFile, 'utf8')).map((d) => JSON.stringify(d))

const pool = new pg.Pool({ connectionString: url, max: poolSize })
pool.on('error', () => undefined)
await pool.query(`CREATE TABLE IF NOT EXISTS bench_raw_insert (
  id uuid PRIMARY KEY, case_number text NOT NULL, doc jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`)
process.send({ ready: true })

let n = 0
async function loop(end, latencies) {
  while (performance.now() < end) {
    const t0 = performance.now()
    const c = await pool.connect()
    try {
      await c.query('BEGIN')
      await c.query('INSERT INTO bench_raw_insert (id, case_number, doc) VALUES ($1, $2, $3)', [randomUUID(), `raw-${n}`, docs[n++ % docs.length]])
      if (notify) await c.query(`SELECT pg_notify('bench_raw_insert', '')`)
      await c.query('COMMIT')
    } finally {
      c.release()
    }
    if (latencies) latencies.push(performance.now() - t0)
  }
}

// One second of warm-up (connections, plan cache), then the measured run.
const warm = performance.now() + 1000
await Promise.all(Array.from({ length: poolSize }, () => loop(warm)))
const latencies = []
const start = performance.now()
await Promise.all(Array.from({ length: poolSize }, () => loop(start + seconds * 1000, latencies)))
const elapsed = (performance.now() - start) / 1000
latencies.sort((a, b) => a - b)
const q = (p) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]
const size = await pool.query('SELECT avg(pg_column_size(doc))::int AS bytes FROM bench_raw_insert')
await pool.end()
process.send({ tps: latencies.length / elapsed, transactions: latencies.length, p50Ms: q(0.5), p99Ms: q(0.99), docBytes: size.rows[0].bytes })
