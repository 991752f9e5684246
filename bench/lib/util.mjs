/**
 * Small helpers shared by the bench scripts: paths, clocks, percentiles, free ports, JSON over HTTP.
 */
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

export { sleep }

/** The repository root (bench/lib/ is two levels down). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results')

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes on one machine. */
export const wallMs = () => performance.timeOrigin + performance.now()

export const hex = (bytes) => randomBytes(bytes).toString('hex')

/** The q-quantile (0–1) of numbers sorted ascending, by the nearest-rank method. */
export function quantile(sorted, q) {
  if (!sorted.length) return null
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}

export const round = (n, digits = 1) => (n === null || n === undefined || !Number.isFinite(n) ? null : Math.round(n * 10 ** digits) / 10 ** digits)

/** A TCP port that was free a moment ago (the service is told to listen on it). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** Calls the service with JSON in and out; throws on an unexpected status with the answer's body. */
export async function api(base, method, url, { key, body, idem, expect = [200, 201, 202, 204] } = {}) {
  const headers = { accept: 'application/json' }
  if (key) headers.authorization = `Bearer ${key}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (idem) headers['idempotency-key'] = idem === true ? `bench-${hex(8)}` : idem
  const res = await globalThis.fetch(`${base}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  if (!expect.includes(res.status)) throw new Error(`${method} ${url} → ${res.status}: ${text.slice(0, 500)}`)
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

export function log(...parts) {
  const t = new Date().toISOString().slice(11, 19)
  process.stdout.write(`[bench ${t}] ${parts.join(' ')}\n`)
}

/** Polls `fn` until it returns a truthy value; returns it, or undefined after `timeoutMs`. */
export async function until(fn, timeoutMs, intervalMs = 200) {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) return undefined
    await sleep(intervalMs)
  }
}
