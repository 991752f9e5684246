import { randomUUID } from 'node:crypto'

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

/** The service's public API over HTTP with an operator key; mutating calls carry a fresh Idempotency-Key. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly key: string,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`)
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}`, accept: 'application/json, application/problem+json' }
    if (method === 'POST') headers['idempotency-key'] = `zdz-cli-${randomUUID()}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      throw new ApiError(0, 'connection_failed', `cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, undefined)
    }
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {
      parsed = undefined
    }
    if (!res.ok) {
      const p = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined
      const code = typeof p?.code === 'string' ? p.code : `http_${res.status}`
      const detail = typeof p?.detail === 'string' ? p.detail : text.slice(0, 200) || res.statusText
      throw new ApiError(res.status, code, detail, p)
    }
    return parsed as T
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
