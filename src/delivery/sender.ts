/**
 * The HTTP call to a subscriber: one attempt, classified, never retried here (retries belong to the queue).
 *
 * Every attempt checks the URL afresh (syntax, then every address the host resolves to) and connects through
 * {@link guardedLookup}, which checks the address the socket really uses, so a DNS answer that changes between
 * the check and the connection (rebinding) is refused too. Node does not call `lookup` for IP-literal hosts,
 * which is why the explicit check comes first. Redirects are never followed (node:http does not follow them;
 * a 3xx is an answer like any other). One deadline covers the whole attempt, from resolution to the last byte
 * of the answer, so a hanging or dripping peer costs one timeout and its socket is destroyed.
 *
 * Connections are kept alive between attempts (a fresh TCP connection for every webhook was a large part of
 * the attempt's cost). The guarded lookup runs when a connection is made, so the pools are split by address policy: a
 * subscription that may reach private networks and one that may not never share a socket, and a pooled socket
 * is always one whose address was checked under the policy of the attempt that reuses it. The URL itself is
 * still checked at every attempt. A socket that timed out, carried an over-long answer or failed is destroyed,
 * never pooled; idle ones close after {@link IDLE_SOCKET_MS} (earlier when the peer announces a shorter
 * keep-alive), and {@link closeAgents} closes them at shutdown. A peer that closes an idle connection just as it
 * is reused makes that attempt fail as a connection error, retried like any other.
 */
import http from 'node:http'
import https from 'node:https'
import type { DeliveryErrorKind } from '../domain/retry-policy.js'
import { checkUrlSyntax, guardedLookup, resolveAndCheck, type ResolveAll, URL_NOT_ALLOWED } from './url-guard.js'

/** Standard Webhooks: a receiver has 15 s to answer. */
export const DELIVERY_TIMEOUT_MS = 15_000

/** Bytes of the answer kept for the attempt log. */
export const RESPONSE_EXCERPT_BYTES = 1024

/** Bytes of the answer read at most; a receiver that keeps talking after that has answered enough. */
const MAX_RESPONSE_BYTES = 64 * 1024

/** How long an idle kept-alive connection is kept (below the 5 s keep-alive of common servers, Node's included). */
export const IDLE_SOCKET_MS = 4_000

/**
 * Connections per receiver (host and port) and pool: above the worker's default concurrency of 50, so attempts
 * never queue for a socket at that setting, and all of them may stay idle between bursts.
 */
const MAX_SOCKETS_PER_HOST = 64

// `timeout` is the sockets' inactivity timeout: the agent closes a pooled socket when it fires; on a socket in use
// it only emits an event nobody acts on (the attempt's deadline is its signal).
const agentOptions = {
  keepAlive: true,
  timeout: IDLE_SOCKET_MS,
  maxSockets: MAX_SOCKETS_PER_HOST,
  maxFreeSockets: MAX_SOCKETS_PER_HOST,
  scheduling: 'lifo',
} as const

/** One pair of agents (http, https) per address policy (see the module comment). */
interface Pools {
  private: { http: http.Agent; https: https.Agent }
  public: { http: http.Agent; https: https.Agent }
}
const newPools = (): Pools => ({
  private: { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) },
  public: { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) },
})
const pools = newPools()
/** Pools of injected resolvers (a test hook): a socket reached through one resolver never serves another. */
const resolverPools = new Map<ResolveAll, Pools>()

/** The agent an attempt uses. Exported for tests. */
export function agentFor(protocol: string, allowPrivateNetwork: boolean, resolve?: ResolveAll): http.Agent {
  let p = pools
  if (resolve) {
    p = resolverPools.get(resolve) ?? newPools()
    resolverPools.set(resolve, p)
  }
  const pair = allowPrivateNetwork ? p.private : p.public
  return protocol === 'https:' ? pair.https : pair.http
}

/**
 * Closes every idle pooled connection (at shutdown, once the attempts have ended); one still in use goes back
 * to its pool when its attempt ends and closes after {@link IDLE_SOCKET_MS}. The pools stay usable.
 */
export function closeAgents(): void {
  for (const p of [pools, ...resolverPools.values()]) {
    for (const agent of [p.private.http, p.private.https, p.public.http, p.public.https]) {
      for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy()
    }
  }
  resolverPools.clear()
}

export interface SendInput {
  url: string
  body: string
  headers: Record<string, string>
  allowPrivateNetwork: boolean
  /** Total time allowed for the attempt. @defaultValue {@link DELIVERY_TIMEOUT_MS} */
  timeoutMs?: number
  /** Name resolution, injectable for tests. */
  resolve?: ResolveAll
}

export interface SendResult {
  /** The HTTP status, or null when no complete answer was read. */
  status: number | null
  /** Why there is no status (or why the address was refused). */
  errorKind?: DeliveryErrorKind
  error?: string
  /** The first KiB of the answer body. */
  responseExcerpt: string | null
  retryAfter?: string
  latencyMs: number
}

class Deadline extends Error {
  constructor() {
    super('timeout')
  }
}

function excerpt(chunks: Buffer[]): string | null {
  if (!chunks.length) return null
  // PostgreSQL text cannot hold NUL; a binary answer is only ever read by people anyway.
  return Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8').replace(/\0/g, '')
}

/** Sends one webhook request and reports what happened. Never throws. */
export async function sendWebhook(input: SendInput): Promise<SendResult> {
  const started = performance.now()
  const timeoutMs = input.timeoutMs ?? DELIVERY_TIMEOUT_MS
  const signal = AbortSignal.timeout(timeoutMs)
  const elapsed = () => performance.now() - started
  const fail = (errorKind: DeliveryErrorKind, error: string): SendResult => ({ status: null, errorKind, error, responseExcerpt: null, latencyMs: elapsed() })

  const syntax = checkUrlSyntax(input.url)
  if (!syntax.ok) return fail('url_not_allowed', syntax.detail)

  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Deadline()), timeoutMs)
  })
  try {
    const target = await Promise.race([resolveAndCheck(syntax.url, input.allowPrivateNetwork, input.resolve), deadline])
    if (!target.ok) {
      // A name that does not resolve may resolve again later (DNS outage): retry. A refused address: never.
      return target.reason === 'resolution_failed' ? fail('connection', target.detail) : fail('url_not_allowed', target.detail)
    }
  } catch {
    return fail('timeout', 'name resolution timed out')
  } finally {
    clearTimeout(timer)
  }

  const body = Buffer.from(input.body, 'utf8')
  const client = syntax.url.protocol === 'https:' ? https : http
  return new Promise<SendResult>((resolve) => {
    let settled = false
    const chunks: Buffer[] = []
    let kept = 0
    let read = 0
    const done = (r: Omit<SendResult, 'latencyMs'>) => {
      if (settled) return
      settled = true
      resolve({ ...r, latencyMs: elapsed() })
    }
    const onError = (err: NodeJS.ErrnoException) => {
      if (settled) return
      if (err.code === URL_NOT_ALLOWED) return done({ status: null, errorKind: 'url_not_allowed', error: err.message, responseExcerpt: null })
      if (signal.aborted)
        return done({ status: null, errorKind: 'timeout', error: `no complete answer within ${timeoutMs} ms`, responseExcerpt: excerpt(chunks) })
      done({ status: null, errorKind: 'connection', error: `${err.code ?? 'error'}: ${err.message}`.slice(0, 500), responseExcerpt: excerpt(chunks) })
    }
    const req = client.request(syntax.url, {
      method: 'POST',
      headers: { ...input.headers, 'content-length': String(body.length), 'user-agent': 'zdz-connector-webhooks/1' },
      agent: agentFor(syntax.url.protocol, input.allowPrivateNetwork, input.resolve),
      // Runs for each new connection (an agent passes the request's options to it); a pooled socket was checked
      // by it when it connected, under the same policy.
      lookup: guardedLookup(input.allowPrivateNetwork, input.resolve),
      signal,
    })
    req.on('error', onError)
    req.on('response', (res) => {
      const status = res.statusCode ?? null
      const retryAfter = typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : undefined
      res.on('data', (chunk: Buffer) => {
        read += chunk.length
        if (kept < RESPONSE_EXCERPT_BYTES) {
          chunks.push(chunk)
          kept += chunk.length
        }
        if (read > MAX_RESPONSE_BYTES) {
          done({ status, retryAfter, responseExcerpt: excerpt(chunks) })
          res.destroy()
        }
      })
      res.on('end', () => done({ status, retryAfter, responseExcerpt: excerpt(chunks) }))
      res.on('error', onError)
      // 'aborted' without 'error' happens when the peer closes mid-body.
      res.on('aborted', () => onError(Object.assign(new Error('answer cut off'), { code: 'ECONNRESET' })))
    })
    req.end(body)
  })
}
