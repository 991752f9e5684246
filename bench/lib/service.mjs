/**
 * The service under test as a child process (`node dist/src/server.js`) on its own database and queue prefix,
 * plus the database and Redis housekeeping around it, and sampling of its memory from /proc.
 */
import { spawn } from 'node:child_process'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { createWriteStream, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { Redis } from 'ioredis'
import { freePort, hex, log, ROOT, sleep, until } from './util.mjs'

export const ADMIN_URL = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * A fixed data key, so that rows seeded by SQL (scale mode) decrypt in the service. Derived, not random: the
 * bench's data is throwaway and the key is deliberately public.
 */
export const BENCH_DATA_KEYS = `bench:${createHash('sha256').update('zdz bench data key').digest('base64')}`

/** A receipt signing key (contract §4), required in production: generated per run, the bench verifies no receipt. */
const BENCH_RECEIPT_KEYS = `bench:${Buffer.from(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' })).toString('base64')}`

export function dbUrl(name) {
  const u = new URL(ADMIN_URL)
  u.pathname = `/${name}`
  return u.toString()
}

async function admin(fn) {
  const c = new pg.Client({ connectionString: ADMIN_URL })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

export async function createDatabase(name) {
  await admin((c) => c.query(`CREATE DATABASE ${name}`))
}

export async function dropDatabase(name) {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
}

/** Deletes every Redis key under the bench's queue prefix (queues, rate-limit counters). */
export async function dropRedisPrefix(prefix) {
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true })
  await r.connect()
  try {
    let cursor = '0'
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
      cursor = next
      if (keys.length) await r.del(...keys)
    } while (cursor !== '0')
  } finally {
    r.disconnect()
  }
}

/** The Node flags `npm start` gives the service (package.json `scripts.start`: `node <flags> dist/src/server.js`). */
export function startFlags() {
  const start = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start
  const m = /^node((?: --\S+)*) dist\/src\/server\.js$/.exec(start)
  if (!m) throw new Error(`package.json scripts.start is not "node [flags] dist/src/server.js": ${start}`)
  return m[1].split(' ').filter(Boolean)
}

function procStatus(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN)
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') }
  } catch {
    return undefined
  }
}

/**
 * Starts `node dist/src/server.js` with the bench's environment and waits for /health/ready.
 * `profile` loads bench/lib/profiler-preload.mjs, which profiles between SIGWINCH signals.
 */
export async function startService({ database, queuePrefix, operatorKey, profileDir, extraEnv = {} }) {
  const port = await freePort()
  const logFile = path.join(os.tmpdir(), `zdz-bench-service-${hex(4)}.log`)
  const out = createWriteStream(logFile)
  // The service runs with the Node flags of `npm start` (its heap limit), as in production.
  // A/B runs of Node's flags that NODE_OPTIONS refuses (--min-semi-space-size, --perf-basic-prof for `perf record`):
  // BENCH_SERVICE_FLAGS='--flag …', after those of `npm start`.
  const args = [...startFlags(), ...(process.env.BENCH_SERVICE_FLAGS ? process.env.BENCH_SERVICE_FLAGS.split(' ').filter(Boolean) : [])]
  if (profileDir) args.push('--import', path.join(ROOT, 'bench', 'lib', 'profiler-preload.mjs'))
  args.push(path.join(ROOT, 'dist', 'src', 'server.js'))
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      DATABASE_URL: dbUrl(database),
      DATABASE_POOL_SIZE: '10',
      REDIS_URL,
      QUEUE_PREFIX: queuePrefix,
      HOST: '127.0.0.1',
      PORT: String(port),
      OPERATOR_API_KEY: operatorKey,
      LOG_LEVEL: 'warn',
      DATA_KEYS: BENCH_DATA_KEYS,
      RECEIPT_KEYS: BENCH_RECEIPT_KEYS,
      RATE_LIMIT_PER_MINUTE: '100000000',
      ...(profileDir ? { BENCH_PROFILE_DIR: profileDir } : {}),
      // A/B runs: BENCH_SERVICE_DATABASE_PREPARED_STATEMENTS=false runs the service without prepared statements.
      ...(process.env.BENCH_SERVICE_DATABASE_PREPARED_STATEMENTS
        ? { DATABASE_PREPARED_STATEMENTS: process.env.BENCH_SERVICE_DATABASE_PREPARED_STATEMENTS }
        : {}),
      // A/B runs of V8's memory settings: BENCH_SERVICE_NODE_OPTIONS='--max-old-space-size=…' (NODE_OPTIONS come before
      // the command line's flags, so a flag of `npm start` wins over the same flag here).
      ...(process.env.BENCH_SERVICE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVICE_NODE_OPTIONS } : {}),
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout.pipe(out)
  child.stderr.pipe(out)
  let exited = null
  child.on('exit', (code, signal) => {
    exited = { code, signal }
  })
  const base = `http://127.0.0.1:${port}`
  const ready = await until(
    async () => {
      if (exited) return 'exited'
      try {
        const res = await globalThis.fetch(`${base}/health/ready`)
        return res.status === 200 ? 'ready' : undefined
      } catch {
        return undefined
      }
    },
    60_000,
    100,
  )
  if (ready !== 'ready') {
    child.kill('SIGKILL')
    throw new Error(`the service did not become ready (${ready ?? 'timeout'}); its log: ${logFile}\n${readFileSync(logFile, 'utf8').slice(-3000)}`)
  }

  // Memory: VmHWM is the kernel's own peak; VmRSS is sampled to give a per-phase peak.
  let phasePeakKb = 0
  // Per-second maxima of the 100 ms samples: shows when a peak happens, not only how high it went.
  const series = []
  const t0 = Date.now()
  const sampler = setInterval(() => {
    const s = procStatus(child.pid)
    if (!s) return
    if (s.rssKb > phasePeakKb) phasePeakKb = s.rssKb
    const sec = Math.floor((Date.now() - t0) / 1000)
    const mb = Math.round(s.rssKb / 102.4) / 10
    const last = series.at(-1)
    if (last && last[0] === sec) last[1] = Math.max(last[1], mb)
    else series.push([sec, mb])
  }, 100)
  sampler.unref()

  return {
    pid: child.pid,
    port,
    base,
    logFile,
    /** Peak RSS since the last call (MiB), from 100 ms samples. */
    takePhasePeakMb() {
      const s = procStatus(child.pid)
      const peak = Math.max(phasePeakKb, s?.rssKb ?? 0)
      phasePeakKb = 0
      return Math.round(peak / 102.4) / 10
    },
    /** [seconds since start, max RSS MiB in that second] */
    rssSeries: () => series,
    /** Seconds since sampling started (the time base of rssSeries). */
    elapsedS: () => Math.round((Date.now() - t0) / 1000),
    memory() {
      const s = procStatus(child.pid)
      return s ? { rssMb: Math.round(s.rssKb / 102.4) / 10, hwmMb: Math.round(s.hwmKb / 102.4) / 10 } : undefined
    },
    /** Starts or stops the in-process CPU profiler (profile mode only). */
    toggleProfiler() {
      child.kill('SIGWINCH')
    },
    logTail(chars = 2000) {
      try {
        return readFileSync(logFile, 'utf8').slice(-chars)
      } catch {
        return ''
      }
    },
    async stop() {
      clearInterval(sampler)
      if (exited) return exited
      const done = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
      child.kill('SIGTERM')
      const result = await Promise.race([done, sleep(30_000).then(() => null)])
      if (!result) {
        log('the service did not stop within 30 s; killing it')
        child.kill('SIGKILL')
        return done
      }
      return result
    },
  }
}
