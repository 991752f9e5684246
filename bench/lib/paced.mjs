/**
 * An open-loop load generator at an even pace: request i is due at start + i / rate, whatever the answers before
 * it did. autocannon's `overallRate` is not that: each connection sends its whole quota for the second back to back
 * when the second starts, then waits, so "50/s" arrives as a burst of 50 at every second's boundary and the
 * latency it measures is mostly the burst's own queue.
 *
 * Latency is counted from the moment a request was due, not from when it left (no coordinated omission: a stalled
 * generator or a full connection pool shows up in the figures instead of hiding them).
 */
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import { quantile, round } from './util.mjs'

/**
 * @param {{ base: string, rate: number, seconds: number, maxSockets?: number,
 *   request: (i: number) => { method: string, path: string, headers: Record<string, string>, body?: string },
 *   onResponse?: (status: number, body: string) => void }} opts
 */
export function paced({ base, rate, seconds, request, onResponse = () => {}, maxSockets = 64 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets })
  const total = Math.max(1, Math.round(rate * seconds))
  const interval = 1000 / rate
  const latencies = []
  let ok = 0
  let non2xx = 0
  let errors = 0
  let sent = 0
  let settled = 0
  let maxLagMs = 0
  return new Promise((resolve) => {
    const t0 = performance.now() + 20
    const finish = () => {
      agent.destroy()
      latencies.sort((a, b) => a - b)
      const elapsed = (performance.now() - t0) / 1000
      resolve({
        rate,
        sent,
        ok,
        non2xx,
        errors,
        rps: Math.round(ok / seconds),
        seconds: round(elapsed, 1),
        p50Ms: round(quantile(latencies, 0.5), 1),
        p90Ms: round(quantile(latencies, 0.9), 1),
        p99Ms: round(quantile(latencies, 0.99), 1),
        maxMs: round(latencies.at(-1), 1),
        generatorMaxLagMs: round(maxLagMs, 1),
      })
    }
    const done = () => {
      settled++
      if (sent === total && settled === total) finish()
    }
    const fire = (i, due) => {
      const { method, path, headers, body } = request(i)
      const req = http.request(
        new URL(path, base),
        { method, agent, headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks = []
          res.on('data', (c) => chunks.push(c))
          res.on('end', () => {
            latencies.push(performance.now() - due)
            if (res.statusCode >= 200 && res.statusCode < 300) ok++
            else non2xx++
            onResponse(res.statusCode, Buffer.concat(chunks).toString('utf8'))
            done()
          })
        },
      )
      req.on('error', () => {
        errors++
        done()
      })
      req.end(body)
    }
    const tick = () => {
      const now = performance.now()
      while (sent < total && t0 + sent * interval <= now) {
        const due = t0 + sent * interval
        maxLagMs = Math.max(maxLagMs, now - due)
        fire(sent++, due)
      }
      if (sent < total) setTimeout(tick, Math.max(0, t0 + sent * interval - performance.now()))
    }
    setTimeout(tick, 20)
  })
}
