import { randomUUID } from 'node:crypto'
import { type ConnectorClient, createClient, ProblemError } from '../client/http.js'

/** An answer of the service that is not a success: its problem `code` is what the CLI prints (exit code 1). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly problem: Record<string, unknown> | undefined,
  ) {
    super(`${code}: ${detail}`)
    this.name = 'ApiError'
  }
}

/** A usage problem the service never saw (missing ZDZ_OPERATOR_KEY, an unreadable file…): exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/**
 * The service's public API over HTTP with an operator key, through the integrators' own client (`zdz-connector/client`):
 * mutating calls carry a fresh Idempotency-Key; a problem answer becomes an {@link ApiError}.
 */
export class ApiClient {
  private readonly client: ConnectorClient

  constructor(baseUrl: string, key: string) {
    this.client = createClient({ baseUrl, apiKey: key, headers: { accept: 'application/json, application/problem+json' } })
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      const res = await this.client.request<T>(method, path.startsWith('/') ? path : `/${path}`, {
        body,
        ...(method === 'POST' ? { idempotencyKey: `zdz-cli-${randomUUID()}` } : {}),
      })
      return res.data
    } catch (err) {
      if (err instanceof ProblemError) {
        const detail = err.detail ?? (err.text.slice(0, 200) || `HTTP ${err.status}`)
        throw new ApiError(err.status, err.code, detail, err.body as Record<string, unknown>)
      }
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      const origin = new URL(this.client.baseUrl).origin
      throw new ApiError(0, 'connection_failed', `cannot reach ${origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, undefined)
    }
  }

  /** Every page of a cursor-paginated list. */
  async all<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T[]> {
    const items: T[] = []
    let cursor: string | null = null
    do {
      const q = new URLSearchParams()
      for (const [k, v] of Object.entries({ ...query, limit: query.limit ?? '100' })) if (v !== undefined) q.set(k, v)
      if (cursor) q.set('cursor', cursor)
      const page: { items: T[]; nextCursor: string | null } = await this.call('GET', `${path}?${q}`)
      items.push(...page.items)
      cursor = page.nextCursor
    } while (cursor && items.length < 10_000)
    return items
  }
}
