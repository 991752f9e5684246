/**
 * The common part of the two peer simulators: a real HTTP server that receives the connector's webhooks the
 * way an integrating system should.
 *
 * - Verifies the Standard Webhooks signature (and the timestamp tolerance) of every request: a forged, replayed
 *   or stale one gets 401 and is not looked at further.
 * - Deduplicates on `webhook-id`: deliveries are at-least-once, so the same event may come several times (a
 *   worker killed after we answered, a retry after a lost answer); only the first is acted on.
 * - Records every event per subject in the order it was processed and checks that sequences are gap-free; a
 *   gap (a delivery the connector gave up on) is filled from the case's history before going on.
 * - Acts on events through the real API with Idempotency-Keys derived from the event id, so even an event
 *   processed twice would change nothing twice; the answer to the webhook does not wait for that (a receiver
 *   should answer fast), the effects run in order per subject behind it.
 * - Can be told to fail: a share of calls answered 5xx, reset or left hanging, extra latency, or the whole
 *   server taken offline. Configured at start, by method calls, or through a tiny control API
 *   (`GET /_control/state`, `PUT /_control/faults`, `POST /_control/reconcile`).
 * - Reconciles through the pull feed (`GET /v1/events?after=<cursor>`) after an outage.
 *
 * State lives in memory: a simulator stands for a peer system during one run, not across restarts.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { verifyWebhook, type WebhookVerificationError } from '../../src/client/index.js'
import type { ApiAnswer, ApiClient } from './api-client.js'
import { EVENT_LABELS, type EventEnvelope, referralOf, type ReferralData, seededRandom } from './shared.js'

export type FaultMode = 'error' | 'reset' | 'hang'

export interface FaultConfig {
  /** Share of webhook calls that fail (0–1). */
  failureRate: number
  /** How failing calls fail; one is picked at random for each. */
  modes: FaultMode[]
  /** Statuses of `error` answers, picked at random. */
  errorStatuses: number[]
  /** Added before every answer, ms. */
  latencyMs: number
  /** A hanging call is held this long, then its connection is dropped (longer than the sender's timeout). */
  hangMs: number
}

export const HEALTHY: FaultConfig = { failureRate: 0, modes: ['error', 'reset', 'hang'], errorStatuses: [500, 502, 503], latencyMs: 0, hangMs: 20_000 }

export interface SimulatorOptions {
  api: ApiClient
  /** @defaultValue 0 (a free port) */
  port?: number
  /** @defaultValue 127.0.0.1 */
  host?: string
  /** Webhook path. @defaultValue /webhook */
  path?: string
  /** Seeds the fault choices and the simulator's decisions. */
  seed?: number
  faults?: Partial<FaultConfig>
  /** Signature timestamp tolerance. @defaultValue 300 s (Standard Webhooks) */
  toleranceSeconds?: number
  /** Narration, one line per step (Chinese / English). */
  log?: (line: string) => void
}

/** How an event reached the simulator. */
export type Via = 'push' | 'pull' | 'history'

export interface SeenEvent {
  event: EventEnvelope
  via: Via
  at: number
}

export interface ActionRecord {
  key: string
  path: string
  eventId: string
  eventType: string
  subjectId: string
  status: number
  attempts: number
  body: string
}

export interface SimulatorStats {
  /** Webhook requests received. */
  requests: number
  /** Refused with 401: missing, invalid, stale or future signatures. */
  badSignatures: number
  /** Answered 503 before a secret was configured. */
  notReady: number
  /** Calls failed on purpose, by mode. */
  injected: Record<FaultMode, number>
  /** Events first seen through a push. */
  pushedNew: number
  /** Pushes of an event already seen (acknowledged, not acted on again). */
  pushDuplicates: number
  /** Events read from the pull feed, and those among them not seen before. */
  pulled: number
  pulledNew: number
  /** Events read from a case's history to fill a sequence gap. */
  historyFilled: number
  /** API calls made as effects, and those whose final answer was not 2xx. */
  actions: number
  actionFailures: number
}

/** The base of the court and platform simulators. */
export abstract class PeerSimulator {
  readonly server: http.Server
  url = ''
  port = 0
  /** Verification secrets (several during a rotation). Until one is set, pushes get 503. */
  secrets: string[] = []
  faults: FaultConfig
  readonly api: ApiClient
  /** Every event seen, by id. */
  readonly seen = new Map<string, SeenEvent>()
  /** Event ids that arrived by push at least once (verified, not failed on purpose). */
  readonly pushed = new Set<string>()
  /** Processed events per subject, in processing order. */
  readonly subjects = new Map<string, SeenEvent[]>()
  /** Subjects whose events were processed out of sequence, with what happened. */
  readonly orderErrors: string[] = []
  /** Effects by key: the API call and its final answer. */
  readonly actions = new Map<string, ActionRecord>()
  /** How often each effect was started: more than once would be a duplicate effect. */
  readonly effectRuns = new Map<string, number>()
  /** Errors while processing (a bug in the simulator or an API that never answered). */
  readonly errors: string[] = []
  /** The pull feed's resume cursor. */
  cursor: string | undefined
  readonly stats: SimulatorStats = {
    requests: 0,
    badSignatures: 0,
    notReady: 0,
    injected: { error: 0, reset: 0, hang: 0 },
    pushedNew: 0,
    pushDuplicates: 0,
    pulled: 0,
    pulledNew: 0,
    historyFilled: 0,
    actions: 0,
    actionFailures: 0,
  }
  protected readonly seed: number
  protected readonly log: (line: string) => void
  readonly #host: string
  readonly #path: string
  readonly #tolerance: number
  readonly #random: () => number
  readonly #lastSeq = new Map<string, number>()
  readonly #chains = new Map<string, Promise<void>>()
  #inFlight = 0
  readonly #sockets = new Set<Socket>()
  readonly #timers = new Set<NodeJS.Timeout>()
  #wantedPort: number

  /** Chinese and English name, for narration. */
  abstract readonly label: string

  constructor(opts: SimulatorOptions) {
    this.api = opts.api
    this.#host = opts.host ?? '127.0.0.1'
    this.#path = opts.path ?? '/webhook'
    this.#wantedPort = opts.port ?? 0
    this.#tolerance = opts.toleranceSeconds ?? 300
    this.seed = opts.seed ?? 1
    this.#random = seededRandom(this.seed ^ 0x5eed)
    this.faults = { ...HEALTHY, ...opts.faults }
    this.log = opts.log ?? (() => undefined)
    this.server = http.createServer((req, res) => this.#handle(req, res))
    this.server.keepAliveTimeout = 5_000
    this.server.on('connection', (s) => {
      this.#sockets.add(s)
      s.on('close', () => this.#sockets.delete(s))
    })
  }

  /** Starts listening; the URL to subscribe is then in `url`. */
  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.#wantedPort, this.#host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    this.port = (this.server.address() as AddressInfo).port
    // A restart after offline() comes back on the same port, so the subscription stays valid.
    this.#wantedPort = this.port
    this.url = `http://${this.#host}:${this.port}${this.#path}`
    return this
  }

  /** Stops listening and drops every connection: the connector sees connection errors until {@link online}. */
  async offline(): Promise<void> {
    await this.#closeServer()
  }

  /** Listens again on the same port. */
  async online(): Promise<void> {
    await this.start()
  }

  /** Stops the server and waits for the effects still running. */
  async stop(): Promise<void> {
    await this.#closeServer()
    await this.idle(60_000).catch(() => undefined)
  }

  async #closeServer(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    if (!this.server.listening) return
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeAllConnections()
    for (const s of this.#sockets) s.destroy()
    await closed
  }

  /** Changes the fault settings (the rest stays as it is). */
  setFaults(change: Partial<FaultConfig>): FaultConfig {
    this.faults = { ...this.faults, ...change }
    return this.faults
  }

  /** Creates this simulator's subscription (operator key) and keeps its secret. */
  async subscribe(operator: ApiClient, clientId: string, description: string): Promise<string> {
    const a = await operator.postOk<{ id: string; secret: string }>(
      '/v1/subscriptions',
      { clientId, url: this.url, eventTypes: ['*'], allowPrivateNetwork: true, description },
      `subscribe-${clientId}-${this.port}`,
      [201],
    )
    this.secrets = [a.secret]
    return a.id
  }

  // ---------------------------------------------------------------------------------------------------------
  // Receiving

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/'
    if (url.startsWith('/_control/')) {
      void this.#control(req, res, url)
      return
    }
    if (req.method !== 'POST' || url.split('?')[0] !== this.#path) {
      res.writeHead(404).end()
      return
    }
    readBody(req, 1024 * 1024)
      .then((body) => this.#webhook(req, res, body))
      .catch(() => {
        if (!res.headersSent) res.writeHead(413).end()
      })
  }

  #webhook(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    this.stats.requests++
    if (this.secrets.length === 0) {
      // Not configured yet: ask the sender to come back later rather than refusing for good.
      this.stats.notReady++
      res.writeHead(503, { 'retry-after': '1' }).end()
      return
    }
    try {
      verifyWebhook({ headers: req.headers, body, secrets: this.secrets, toleranceSeconds: this.#tolerance })
    } catch (err) {
      this.stats.badSignatures++
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (err as WebhookVerificationError).code ?? 'invalid_signature' }))
      return
    }
    const f = this.faults
    if (f.failureRate > 0 && f.modes.length && this.#random() < f.failureRate) {
      const mode = f.modes[Math.floor(this.#random() * f.modes.length)]
      this.stats.injected[mode]++
      if (mode === 'reset') {
        req.socket.resetAndDestroy()
        return
      }
      if (mode === 'hang') {
        const timer = setTimeout(() => {
          this.#timers.delete(timer)
          req.socket.destroy()
        }, f.hangMs)
        this.#timers.add(timer)
        req.socket.once('close', () => {
          clearTimeout(timer)
          this.#timers.delete(timer)
        })
        return
      }
      const status = f.errorStatuses[Math.floor(this.#random() * f.errorStatuses.length)] ?? 500
      this.#later(f.latencyMs, () => res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"simulated failure"}'))
      return
    }
    let event: EventEnvelope
    try {
      event = JSON.parse(body) as EventEnvelope
      if (!event || typeof event.id !== 'string' || !event.subject || typeof event.sequence !== 'number') throw new Error('not an event')
    } catch {
      res.writeHead(400).end()
      return
    }
    // The id is signed together with the body; a body whose id differs from webhook-id is not trusted.
    if (event.id !== req.headers['webhook-id']) {
      res.writeHead(400).end()
      return
    }
    this.pushed.add(event.id)
    const fresh = this.ingest(event, 'push')
    this.#later(f.latencyMs, () => res.writeHead(200, { 'content-type': 'application/json' }).end(fresh ? '{"status":"accepted"}' : '{"status":"duplicate"}'))
  }

  #later(ms: number, fn: () => void): void {
    if (!ms) return fn()
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      fn()
    }, ms)
    this.#timers.add(timer)
  }

  async #control(req: http.IncomingMessage, res: http.ServerResponse, url: string): Promise<void> {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    }
    try {
      if (req.method === 'GET' && url === '/_control/state') return send(200, this.state())
      if ((req.method === 'PUT' || req.method === 'POST') && url === '/_control/faults') {
        const change = JSON.parse((await readBody(req, 64 * 1024)) || '{}') as Partial<FaultConfig>
        return send(200, this.setFaults(pickFaults(change)))
      }
      if (req.method === 'POST' && url === '/_control/reconcile') return send(200, await this.reconcile())
      send(404, { error: 'not_found' })
    } catch (err) {
      send(400, { error: (err as Error).message })
    }
  }

  /** A summary for the control API and for reports. */
  state() {
    return {
      label: this.label,
      url: this.url,
      faults: this.faults,
      stats: this.stats,
      events: this.seen.size,
      subjects: this.subjects.size,
      orderErrors: this.orderErrors.length,
      duplicateEffects: this.duplicateEffects().length,
      errors: this.errors.slice(0, 20),
      cursor: this.cursor ?? null,
    }
  }

  /**
   * Takes an event in, from a push or the pull feed. Returns false for one seen before: at-least-once in, and
   * the dedup here is what makes it exactly-once effects.
   */
  ingest(event: EventEnvelope, via: Via): boolean {
    if (this.seen.has(event.id)) {
      if (via === 'push') {
        this.stats.pushDuplicates++
        this.log(`[${this.label}] 重复推送已忽略 / duplicate push ignored: ${event.type} #${event.sequence}`)
      }
      return false
    }
    this.seen.set(event.id, { event, via, at: Date.now() })
    if (via === 'push') this.stats.pushedNew++
    this.#enqueue(event.subject.id, () => this.#process(event, via))
    return true
  }

  #enqueue(subjectId: string, fn: () => Promise<void>): void {
    this.#inFlight++
    const prev = this.#chains.get(subjectId) ?? Promise.resolve()
    const next: Promise<void> = prev
      .then(fn)
      .catch((err: unknown) => {
        this.errors.push(`${subjectId}: ${(err as Error).message}`)
        this.log(`[${this.label}] 处理出错 / processing failed: ${(err as Error).message}`)
      })
      .finally(() => {
        this.#inFlight--
        if (this.#chains.get(subjectId) === next) this.#chains.delete(subjectId)
      })
    this.#chains.set(subjectId, next)
  }

  async #process(event: EventEnvelope, via: Via): Promise<void> {
    const subjectId = event.subject.id
    const last = this.#lastSeq.get(subjectId) ?? 0
    if (event.sequence <= last) return
    if (event.sequence > last + 1 && event.subject.kind === 'referral') await this.#fillGap(subjectId, last, event.sequence)
    const now = this.#lastSeq.get(subjectId) ?? 0
    if (event.sequence !== now + 1) {
      this.orderErrors.push(`${subjectId}: #${event.sequence} ${event.type} after #${now}`)
    }
    await this.#apply(event, via)
  }

  /** A sequence gap: the missing events are read from the case's history and processed first. */
  async #fillGap(subjectId: string, last: number, upTo: number): Promise<void> {
    this.log(`[${this.label}] 序号缺口 #${last + 1}–#${upTo - 1}，从案件历史补齐 / sequence gap, filling from the case history`)
    let cursor: string | null = null
    const missing: EventEnvelope[] = []
    do {
      const page: { items: EventEnvelope[]; nextCursor: string | null } = await this.api.getOk(
        `/v1/referrals/${subjectId}/events?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )
      for (const e of page.items) if (e.sequence > last && e.sequence < upTo) missing.push(e)
      cursor = page.nextCursor
    } while (cursor)
    for (const e of missing.sort((a, b) => a.sequence - b.sequence)) {
      if (!this.seen.has(e.id)) this.seen.set(e.id, { event: e, via: 'history', at: Date.now() })
      this.stats.historyFilled++
      await this.#apply(e, 'history')
    }
  }

  async #apply(event: EventEnvelope, via: Via): Promise<void> {
    const subjectId = event.subject.id
    const list = this.subjects.get(subjectId) ?? []
    list.push({ event, via, at: Date.now() })
    this.subjects.set(subjectId, list)
    this.#lastSeq.set(subjectId, Math.max(this.#lastSeq.get(subjectId) ?? 0, event.sequence))
    const r = referralOf(event)
    this.log(
      `[${this.label}] 收到 ${EVENT_LABELS[event.type] ?? ''} / received ${event.type} #${event.sequence}${r ? ` ${r.caseNumber}` : ''}${via === 'push' ? '' : ` (${via === 'pull' ? '拉取 / pulled' : '补齐 / from history'})`}`,
    )
    if (r) await this.onEvent(event, r)
  }

  /** Reacts to one new referral event, in order per case. */
  protected abstract onEvent(event: EventEnvelope, referral: ReferralData): Promise<void>

  /**
   * Performs one effect: a changing POST with the Idempotency-Key `<simulator>-<event id>-<step>`, retried
   * until the answer is definitive. A non-2xx final answer is recorded as a failed action.
   */
  protected async act(event: EventEnvelope, step: string, path: string, body: unknown, narration: string): Promise<ApiAnswer | undefined> {
    const key = `${this.keyPrefix}-${event.id}-${step}`
    this.effectRuns.set(key, (this.effectRuns.get(key) ?? 0) + 1)
    this.stats.actions++
    const a = await this.api.post(path, body, key)
    this.actions.set(key, {
      key,
      path,
      eventId: event.id,
      eventType: event.type,
      subjectId: event.subject.id,
      status: a.status,
      attempts: a.attempts,
      body: a.body.slice(0, 500),
    })
    const ok = a.status >= 200 && a.status <= 299
    if (!ok) this.stats.actionFailures++
    this.log(`[${this.label}] ${narration} → ${a.status}${a.attempts > 1 ? ` (${a.attempts} 次尝试 / attempts)` : ''}${ok ? '' : ` ${a.body.slice(0, 200)}`}`)
    return a
  }

  /** Prefix of this simulator's Idempotency-Keys. */
  protected abstract readonly keyPrefix: string

  /** Effects started more than once (must stay empty). */
  duplicateEffects(): string[] {
    return [...this.effectRuns].filter(([, n]) => n > 1).map(([k]) => k)
  }

  /** Actions whose final answer was not 2xx. */
  failedActions(): ActionRecord[] {
    return [...this.actions.values()].filter((a) => a.status < 200 || a.status > 299)
  }

  /**
   * Reads the pull feed from the resume cursor to its end and takes in every event not seen yet (after an
   * outage, or to start from "now"). Returns how many events were read and how many were new.
   */
  async reconcile(): Promise<{ pulled: number; fresh: number }> {
    let pulled = 0
    let fresh = 0
    for (;;) {
      const q = this.cursor ? `?after=${encodeURIComponent(this.cursor)}&limit=200` : '?limit=200'
      const page = await this.api.getOk<{ items: EventEnvelope[]; nextCursor: string }>(`/v1/events${q}`)
      for (const e of page.items) {
        pulled++
        this.stats.pulled++
        if (this.ingest(e, 'pull')) {
          fresh++
          this.stats.pulledNew++
        }
      }
      this.cursor = page.nextCursor
      if (page.items.length === 0) break
    }
    return { pulled, fresh }
  }

  /** Moves the pull cursor to the end of the feed without acting on what is there (a fresh peer starts "now"). */
  async skipToEnd(): Promise<void> {
    for (;;) {
      const q = this.cursor ? `?after=${encodeURIComponent(this.cursor)}&limit=200` : '?limit=200'
      const page = await this.api.getOk<{ items: EventEnvelope[]; nextCursor: string }>(`/v1/events${q}`)
      this.cursor = page.nextCursor
      if (page.items.length === 0) return
    }
  }

  /** Whether no event is waiting or being acted on. */
  isIdle(): boolean {
    return this.#inFlight === 0
  }

  /** Waits until every event taken in so far has been processed. */
  async idle(timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs
    while (this.#inFlight > 0) {
      if (Date.now() > until) throw new Error(`${this.label}: still processing ${this.#inFlight} events after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  /** The processed events of one subject, in order. */
  eventsOf(subjectId: string): EventEnvelope[] {
    return (this.subjects.get(subjectId) ?? []).map((s) => s.event)
  }
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) {
        reject(new Error('too large'))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/** Only the known fault fields, type-checked, from a control request. */
function pickFaults(input: Partial<FaultConfig>): Partial<FaultConfig> {
  const out: Partial<FaultConfig> = {}
  const num = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max
  if (input.failureRate !== undefined) {
    if (!num(input.failureRate, 0, 1)) throw new Error('failureRate must be a number in [0, 1]')
    out.failureRate = input.failureRate
  }
  if (input.modes !== undefined) {
    if (!Array.isArray(input.modes) || input.modes.some((m) => !['error', 'reset', 'hang'].includes(m))) throw new Error('modes: error | reset | hang')
    out.modes = input.modes
  }
  if (input.errorStatuses !== undefined) {
    if (!Array.isArray(input.errorStatuses) || input.errorStatuses.some((s) => !num(s, 100, 599))) throw new Error('errorStatuses: HTTP statuses')
    out.errorStatuses = input.errorStatuses
  }
  if (input.latencyMs !== undefined) {
    if (!num(input.latencyMs, 0, 600_000)) throw new Error('latencyMs: 0–600000')
    out.latencyMs = input.latencyMs
  }
  if (input.hangMs !== undefined) {
    if (!num(input.hangMs, 0, 600_000)) throw new Error('hangMs: 0–600000')
    out.hangMs = input.hangMs
  }
  return out
}
