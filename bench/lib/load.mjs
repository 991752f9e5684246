/** autocannon, promisified, and the figures the bench reports from its result. */
import autocannon from 'autocannon'

export function cannon(opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ bailout: 1000, ...opts }, (err, result) => (err ? reject(err) : resolve(result)))
    // autocannon keeps running until its duration/amount; nothing to print while it does.
    void instance
  })
}

/** Requests per second counts answers with the expected status only; latencies are autocannon's (ms). */
export function figures(result, okStatus = '2xx') {
  const ok = result[okStatus] ?? 0
  const l = result.latency
  return {
    rps: Math.round(ok / result.duration),
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    p50Ms: l.p50,
    p90Ms: l.p90,
    p99Ms: l.p99,
    maxMs: l.max,
    meanMs: Math.round(l.average * 10) / 10,
    seconds: Math.round(result.duration * 10) / 10,
    connections: result.connections,
  }
}
