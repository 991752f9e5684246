/**
 * Test helpers around the delivery engine: start it against a harness with test-friendly timings, and create
 * subscriptions that point at a {@link Peer}.
 */
import { startDeliveryWorker, type DeliveryWorker, type DeliveryWorkerOptions } from '../../src/delivery/delivery-worker.js'
import type { Deps } from '../../src/deps.js'
import { idemKey, type Harness } from './harness.js'
import type { Peer } from './peer.js'

export interface TestEngine {
  engine: DeliveryWorker
  /** Stops the periodic sweep and closes the workers and the relay. */
  stop(): Promise<void>
}

/**
 * Starts the delivery worker with its relay, plus a sweep every `sweepEveryMs` (the runtime does that with
 * `every()`; tests want it faster). Retries default to 100 ms so failure scenarios finish quickly.
 */
export function startEngine(deps: Deps, opts: DeliveryWorkerOptions & { sweepEveryMs?: number } = {}): TestEngine {
  const engine = startDeliveryWorker(deps, {
    concurrency: 8,
    retryDelayMs: () => 100,
    lockDurationMs: 5_000,
    stalledIntervalMs: 1_000,
    sweep: { graceMs: 300 },
    ...opts,
  })
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    engine
      .sweep()
      .catch(() => undefined)
      .finally(() => {
        running = false
      })
  }, opts.sweepEveryMs ?? 500)
  return {
    engine,
    async stop() {
      clearInterval(timer)
      await engine.close()
    },
  }
}

export interface CreatedSubscription {
  id: string
  secret: string
}

/** Creates a subscription for `clientId` pointing at the peer (loopback, so allowPrivateNetwork) and tells the peer its secret. */
export async function subscribePeer(h: Harness, clientId: string, peer: Peer, extra: Record<string, unknown> = {}): Promise<CreatedSubscription> {
  const res = await h.call(h.operatorKey, {
    method: 'POST',
    url: '/v1/subscriptions',
    headers: { 'idempotency-key': idemKey() },
    payload: { clientId, url: peer.url, eventTypes: ['*'], allowPrivateNetwork: true, ...extra },
  })
  if (res.statusCode !== 201) throw new Error(`subscription: ${res.statusCode} ${res.body}`)
  const body = res.json() as { id: string; secret: string }
  peer.secrets = [body.secret]
  if (extra.signatureAlgorithm) peer.algorithm = extra.signatureAlgorithm as Peer['algorithm']
  return { id: body.id, secret: body.secret }
}

/**
 * POSTs like a well-behaved client: a 503 (the service is briefly short of database connections, as happens when
 * many test files share one machine) is retried with the same Idempotency-Key.
 */
export async function postRetrying(h: Harness, key: string, url: string, payload: unknown) {
  const idem = idemKey()
  for (let i = 0; ; i++) {
    const res = await h.call(key, { method: 'POST', url, payload: payload as object, headers: { 'idempotency-key': idem } })
    if (res.statusCode !== 503 || i >= 10) return res
    await new Promise((r) => setTimeout(r, 200 * (i + 1)))
  }
}
