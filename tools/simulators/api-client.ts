/**
 * The connector's API as a peer system calls it: bearer key, JSON, and a well-behaved retry loop. A changing
 * POST carries an Idempotency-Key and is sent again, with the same key and the same body, until the answer is
 * definitive, so a request whose answer was lost (the API process killed mid-request, a reset connection)
 * takes effect exactly once.
 */
import { createClient, ProblemError, type ConnectorClient } from '../../src/client/index.js'
import { sleep } from './shared.js'

/** One answer of the API. */
export interface ApiAnswer<T = unknown> {
  status: number
  /** The raw body, byte for byte (replays are compared on it). */
  body: string
  json: T
  headers: Headers
  /** Requests sent for this answer (1 when the first was definitive). */
  attempts: number
}

/** The request could not be completed after retrying until `giveUpAfterMs`. */
export class ApiUnavailableError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
  ) {
    super(message)
    this.name = 'ApiUnavailableError'
  }
}

export interface ApiClientOptions {
  /** Per request. @defaultValue 10 000 */
  timeoutMs?: number
  /** How long to keep retrying one call before giving up. @defaultValue 600 000 */
  giveUpAfterMs?: number
  /** Longest pause between two tries. @defaultValue 2 000 */
  maxBackoffMs?: number
  /**
   * Requests in flight at most, like the bounded connection pool of a real HTTP client; the rest wait their
   * turn. @defaultValue unbounded
   */
  maxInFlight?: number
}

export interface CallOptions {
  body?: unknown
  idempotencyKey?: string
  headers?: Record<string, string>
}

/** Whether an answer may change if the same request is sent again (so the caller must try again). */
export function isRetryable(status: number, body: string): boolean {
  if (status >= 500 || status === 429 || status === 408) return true
  // The first request with this key is still running (or its process just died and PostgreSQL has not yet
  // noticed): the same request will soon get the stored answer or run afresh.
  return status === 409 && body.includes('"idempotency_key_in_use"')
}

export class ApiClient {
  readonly timeoutMs: number
  readonly giveUpAfterMs: number
  readonly maxBackoffMs: number
  /** Requests sent, including retries. */
  requests = 0
  /** Requests that failed without an answer or got a retryable one. */
  retries = 0
  /** The signed receipts (`Receipt`, contract §4) of the writes answered 2xx, for the peer to verify. */
  readonly receipts: string[] = []
  readonly #maxInFlight: number
  #inFlight = 0
  readonly #waiting: Array<() => void> = []
  readonly #client: ConnectorClient

  constructor(
    readonly baseUrl: string,
    readonly key: string,
    opts: ApiClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 10_000
    this.giveUpAfterMs = opts.giveUpAfterMs ?? 600_000
    this.maxBackoffMs = opts.maxBackoffMs ?? 2_000
    this.#maxInFlight = opts.maxInFlight ?? Infinity
    // The integrator's client (zdz-connector/client) does the HTTP: this class adds the retry loop and the pool.
    this.#client = createClient({ baseUrl, apiKey: key, timeoutMs: this.timeoutMs })
  }

  /** Takes a slot; the returned function hands it to the next waiter, or frees it. */
  async #slot(): Promise<() => void> {
    if (this.#inFlight >= this.#maxInFlight) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    else this.#inFlight++
    return () => {
      const next = this.#waiting.shift()
      if (next) next()
      else this.#inFlight--
    }
  }

  /** Sends one request; throws on a network error or timeout. */
  async once<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<ApiAnswer<T>> {
    this.requests++
    const release = await this.#slot()
    try {
      const a = await this.#client.request<T>(method, path, {
        body: opts.body,
        idempotencyKey: opts.idempotencyKey,
        headers: opts.headers,
        signal: AbortSignal.timeout(this.timeoutMs),
      })
      const receipt = a.headers.get('receipt')
      if (receipt) this.receipts.push(receipt)
      return { status: a.status, body: a.text, json: (a.text ? a.data : undefined) as T, headers: a.headers, attempts: 1 }
    } catch (err) {
      // A problem answer is an answer: the retry loop decides what to do with it.
      if (err instanceof ProblemError) return { status: err.status, body: err.text, json: err.body as T, headers: err.headers, attempts: 1 }
      throw err
    } finally {
      release()
    }
  }

  /**
   * Sends the request until the answer is definitive: network errors, timeouts, 5xx, 408, 429 and
   * `idempotency_key_in_use` are tried again (a changing POST only with an Idempotency-Key, which makes that
   * safe). Throws {@link ApiUnavailableError} after `giveUpAfterMs`.
   */
  async call<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<ApiAnswer<T>> {
    const until = Date.now() + this.giveUpAfterMs
    for (let attempt = 1; ; attempt++) {
      let retryAfterMs: number | undefined
      let last: string
      try {
        const a = await this.once<T>(method, path, opts)
        if (!isRetryable(a.status, a.body)) return { ...a, attempts: attempt }
        last = `HTTP ${a.status}`
        const ra = Number(a.headers.get('retry-after'))
        if (Number.isFinite(ra) && ra > 0) retryAfterMs = Math.min(ra * 1000, 5_000)
      } catch (err) {
        // Only a failed exchange is worth another try; a request that cannot even be built never will be.
        if (!isNetworkError(err)) throw err
        last = describe(err)
      }
      this.retries++
      if (Date.now() > until) throw new ApiUnavailableError(`${method} ${path}: no definitive answer after ${attempt} attempts (last: ${last})`, attempt)
      const backoff = Math.min(this.maxBackoffMs, 100 * 2 ** Math.min(attempt - 1, 10))
      await sleep(retryAfterMs ?? backoff / 2 + Math.random() * (backoff / 2))
    }
  }

  /** A changing POST, retried with the same key and body until definitive. */
  post<T = unknown>(path: string, body: unknown, idempotencyKey: string): Promise<ApiAnswer<T>> {
    if (!idempotencyKey) throw new Error('a changing POST needs an Idempotency-Key')
    return this.call<T>('POST', path, { body, idempotencyKey })
  }

  /** A PUT, idempotent by nature: sent again until definitive, no Idempotency-Key. `body` undefined sends none. */
  put<T = unknown>(path: string, body?: unknown): Promise<ApiAnswer<T>> {
    return this.call<T>('PUT', path, { body })
  }

  /** A DELETE, idempotent by nature: sent again until definitive. */
  delete<T = unknown>(path: string): Promise<ApiAnswer<T>> {
    return this.call<T>('DELETE', path)
  }

  get<T = unknown>(path: string): Promise<ApiAnswer<T>> {
    return this.call<T>('GET', path)
  }

  /** A GET that must succeed: throws with the answer when it is not 200. */
  async getOk<T = unknown>(path: string): Promise<T> {
    const a = await this.get<T>(path)
    if (a.status !== 200) throw new Error(`GET ${path}: HTTP ${a.status} ${a.body.slice(0, 300)}`)
    return a.json
  }

  /** A changing POST that must succeed with `expected`: throws with the answer otherwise. */
  async postOk<T = unknown>(path: string, body: unknown, idempotencyKey: string, expected = [200, 201, 202]): Promise<T> {
    const a = await this.post<T>(path, body, idempotencyKey)
    if (!expected.includes(a.status)) throw new Error(`POST ${path}: HTTP ${a.status} ${a.body.slice(0, 300)}`)
    return a.json
  }
}

/** A timeout or a failed connection (fetch reports those as a TypeError "fetch failed" with a cause). */
export function isNetworkError(err: unknown): boolean {
  const e = err as { name?: string; message?: string; cause?: unknown }
  return e?.name === 'TimeoutError' || e?.name === 'AbortError' || (e?.message === 'fetch failed' && e.cause !== undefined)
}

/** A short description of a fetch failure: undici hides the socket error in `cause`. */
export function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } }
  if (e?.name === 'TimeoutError') return 'timeout'
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err)
}
