/**
 * A webhook receiver for tests (and a base for the peer simulators): a real HTTP server on port 0 that verifies
 * Standard Webhooks signatures, deduplicates on `webhook-id`, records everything it saw, and can be told to
 * fail: any status code (with Retry-After or a Location), hang, drip its answer one byte at a time, or reset
 * the connection.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { type SignatureAlgorithm, verify } from '../../src/delivery/signing.js'

/** How the peer answers one request. */
export type PeerAction =
  | { kind: 'ok'; status?: number; delayMs?: number }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string; delayMs?: number }
  /** Never answers; the socket stays open until the sender gives up. */
  | { kind: 'hang' }
  /** Answers `200 OK` one byte every `intervalMs` (default 1 000). */
  | { kind: 'drip'; intervalMs?: number }
  /** Resets the connection (TCP RST) once the request headers are in. */
  | { kind: 'reset' }

/** The event envelope as received. */
export interface ReceivedEvent {
  id: string
  type: string
  sequence: number
  subject: { kind: string; id: string }
  data: Record<string, unknown>
  [k: string]: unknown
}

export interface Received {
  /** Arrival order, from 0. */
  index: number
  webhookId: string
  timestamp: string
  signature: string
  body: string
  event: ReceivedEvent | undefined
  /** Signature check: true/false when the peer knows secrets, undefined otherwise. */
  verified: boolean | undefined
  verifyError?: string
  action: PeerAction['kind']
  status?: number
  /** A 2xx answer for an id already accepted before. */
  duplicate: boolean
}

export interface PeerOptions {
  /** Secrets to verify with (several while the sender rotates). Settable later through `peer.secrets`. */
  secrets?: string[]
  algorithm?: SignatureAlgorithm
  /** Decides the answer when no scripted action is queued. Default: 204 for verified requests. */
  respond?: (r: Received, peer: Peer) => PeerAction
}

export class Peer {
  readonly server: http.Server
  url = ''
  port = 0
  secrets: string[]
  algorithm: SignatureAlgorithm
  respond: (r: Received, peer: Peer) => PeerAction
  /** Actions used first, one per request, before `respond` decides. */
  readonly script: PeerAction[] = []
  /** Every request, in arrival order. */
  readonly requests: Received[] = []
  /** The first accepted (2xx) request of each webhook-id: what a deduplicating receiver acts on. */
  readonly accepted = new Map<string, Received>()
  duplicates = 0
  readonly #sockets = new Set<Socket>()
  readonly #timers = new Set<NodeJS.Timeout>()

  constructor(opts: PeerOptions = {}) {
    this.secrets = opts.secrets ?? []
    this.algorithm = opts.algorithm ?? 'hmac-sha256'
    this.respond = opts.respond ?? (() => ({ kind: 'ok' }))
    this.server = http.createServer((req, res) => this.#handle(req, res))
    this.server.on('connection', (s) => {
      this.#sockets.add(s)
      s.on('close', () => this.#sockets.delete(s))
    })
  }

  /** Starts listening on 127.0.0.1 and a free port; `path` is appended to the URL. */
  async listen(path = '/hook'): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    this.url = `http://127.0.0.1:${this.port}${path}`
    return this
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const header = (n: string) => (typeof req.headers[n] === 'string' ? (req.headers[n] as string) : '')
      let event: ReceivedEvent | undefined
      try {
        event = JSON.parse(body) as ReceivedEvent
      } catch {
        event = undefined
      }
      const r: Received = {
        index: this.requests.length,
        webhookId: header('webhook-id'),
        timestamp: header('webhook-timestamp'),
        signature: header('webhook-signature'),
        body,
        event,
        verified: undefined,
        action: 'ok',
        duplicate: false,
      }
      if (this.secrets.length) {
        try {
          verify({ headers: req.headers, body, secrets: this.secrets, algorithm: this.algorithm })
          r.verified = true
        } catch (err) {
          r.verified = false
          r.verifyError = (err as { code?: string }).code ?? 'invalid'
        }
      }
      this.requests.push(r)
      const action: PeerAction = r.verified === false ? { kind: 'status', status: 401, body: 'bad signature' } : (this.script.shift() ?? this.respond(r, this))
      r.action = action.kind
      this.#act(action, r, req, res)
    })
  }

  #act(action: PeerAction, r: Received, req: http.IncomingMessage, res: http.ServerResponse): void {
    switch (action.kind) {
      case 'ok':
      case 'status': {
        if (action.delayMs) {
          const timer = setTimeout(() => {
            this.#timers.delete(timer)
            if (!req.socket.destroyed) this.#act({ ...action, delayMs: 0 }, r, req, res)
          }, action.delayMs)
          this.#timers.add(timer)
          return
        }
        const status = action.kind === 'ok' ? (action.status ?? 204) : action.status
        r.status = status
        if (status >= 200 && status <= 299) {
          if (this.accepted.has(r.webhookId)) {
            r.duplicate = true
            this.duplicates++
          } else {
            this.accepted.set(r.webhookId, r)
          }
        }
        res.writeHead(status, action.kind === 'status' ? (action.headers ?? {}) : {})
        res.end(action.kind === 'status' ? (action.body ?? '') : '')
        return
      }
      case 'hang':
        return
      case 'drip': {
        const bytes = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
        let i = 0
        const timer = setInterval(() => {
          if (req.socket.destroyed || i >= bytes.length) {
            clearInterval(timer)
            this.#timers.delete(timer)
            return
          }
          req.socket.write(bytes.subarray(i, ++i))
        }, action.intervalMs ?? 1_000)
        this.#timers.add(timer)
        return
      }
      case 'reset':
        req.socket.resetAndDestroy()
        return
    }
  }

  /** Accepted events in acceptance order (deduplicated). */
  acceptedEvents(): ReceivedEvent[] {
    return [...this.accepted.values()].sort((a, b) => a.index - b.index).map((r) => r.event as ReceivedEvent)
  }

  /**
   * Requests that broke per-subject order: a request for sequence s of a subject that arrived before an
   * accepted, lower sequence of the same subject had been accepted. Re-sends of earlier sequences are fine.
   */
  orderViolations(): string[] {
    const acceptedAt = new Map<string, Map<number, number>>()
    for (const r of this.accepted.values()) {
      if (!r.event) continue
      const m = acceptedAt.get(r.event.subject.id) ?? new Map<number, number>()
      m.set(r.event.sequence, r.index)
      acceptedAt.set(r.event.subject.id, m)
    }
    const out: string[] = []
    for (const r of this.requests) {
      if (!r.event) continue
      for (const [seq, at] of acceptedAt.get(r.event.subject.id) ?? []) {
        if (seq < r.event.sequence && at > r.index) out.push(`${r.event.subject.id}#${r.event.sequence} arrived before #${seq} was accepted`)
      }
    }
    return out
  }

  /** Waits until `predicate` holds, polling; throws after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
    const until = Date.now() + timeoutMs
    while (!predicate()) {
      if (Date.now() > until) throw new Error(`peer: timed out waiting for ${what} (requests: ${this.requests.length}, accepted: ${this.accepted.size})`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  /** Open connections on the peer's side. */
  openSockets(): number {
    return this.#sockets.size
  }

  async close(): Promise<void> {
    for (const t of this.#timers) {
      clearInterval(t)
      clearTimeout(t)
    }
    this.#timers.clear()
    this.server.closeAllConnections()
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** Creates a listening peer. */
export async function startPeer(opts: PeerOptions = {}, path?: string): Promise<Peer> {
  return new Peer(opts).listen(path)
}

/** Polls an async condition; throws after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
