/**
 * Verifies a webhook the connector delivered (Standard Webhooks, https://www.standardwebhooks.com/).
 *
 * The connector signs `"<webhook-id>.<webhook-timestamp>.<raw body>"` with HMAC under the subscription's secret
 * (`whsec_` + base64 of the key bytes) and sends `webhook-signature: <scheme>,<base64>`: scheme `v1` for HMAC-SHA256
 * (the default), `sm3` for HMAC-SM3 (subscriptions with `signatureAlgorithm: "hmac-sm3"`). While a secret rotates, the
 * header holds several space-separated signatures (old and new secret): one match is enough.
 *
 * Independent of the server code on purpose: it is what integrators import, and the tests check it against the
 * service's own signer.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export type WebhookAlgorithm = 'hmac-sha256' | 'hmac-sm3'

/** The `webhook-signature` scheme of each algorithm. */
export const WEBHOOK_SCHEMES: Readonly<Record<WebhookAlgorithm, string>> = { 'hmac-sha256': 'v1', 'hmac-sm3': 'sm3' }

const DIGESTS: Readonly<Record<WebhookAlgorithm, string>> = { 'hmac-sha256': 'sha256', 'hmac-sm3': 'sm3' }

/** Standard Webhooks' default tolerance between the signed timestamp and the receiver's clock. */
export const WEBHOOK_TOLERANCE_SECONDS = 300

export type WebhookErrorCode = 'missing_headers' | 'invalid_timestamp' | 'timestamp_too_old' | 'timestamp_too_new' | 'invalid_signature' | 'invalid_secret'

/** Thrown by {@link verifyWebhook}; branch on `code`. Answer 401 (or 400) and do not process the body. */
export class WebhookVerificationError extends Error {
  readonly code: WebhookErrorCode
  constructor(code: WebhookErrorCode, message: string) {
    super(message)
    this.name = 'WebhookVerificationError'
    this.code = code
  }
}

/** Node's `IncomingHttpHeaders`, a plain record, or a fetch `Headers`. */
export type WebhookHeaderSource = { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | undefined>>

export interface VerifyWebhookInput {
  /** The subscription's secret (`whsec_…`, shown once at creation or rotation). */
  secret?: string
  /** Several secrets, e.g. the old and the new one while rotating. */
  secrets?: readonly string[]
  headers: WebhookHeaderSource
  /** The raw body exactly as received (string or bytes): re-serialised JSON would not match. */
  body: string | Uint8Array
  /** @defaultValue 'hmac-sha256' */
  algorithm?: WebhookAlgorithm
  /** @defaultValue 300 */
  toleranceSeconds?: number
  /** The receiver's clock. @defaultValue new Date() */
  now?: Date
}

/** What a verified delivery carries. */
export interface VerifiedWebhook<T = unknown> {
  /** `webhook-id`, the event id: deduplicate on it (deliveries are at least once). */
  id: string
  timestamp: number
  /** The body parsed as JSON (the §4 event envelope). */
  payload: T
}

function header(headers: WebhookHeaderSource, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(n: string): string | null }).get(name) ?? undefined
  for (const [key, value] of Object.entries(headers as Record<string, string | readonly string[] | undefined>)) {
    if (key.toLowerCase() !== name) continue
    if (typeof value === 'string') return value
    if (Array.isArray(value) && value.length === 1) return value[0] as string
    return undefined
  }
  return undefined
}

function keyBytes(secret: string): Buffer {
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0)
  if (bytes.length === 0) throw new WebhookVerificationError('invalid_secret', 'the webhook secret is not "whsec_<base64>"')
  return bytes
}

/** Computes `<scheme>,<base64>` for one message: what the connector sends (useful to test a receiver). */
export function signWebhook(input: {
  secret: string
  id: string
  timestamp: number | string
  body: string | Uint8Array
  algorithm?: WebhookAlgorithm
}): string {
  const algorithm = input.algorithm ?? 'hmac-sha256'
  const hmac = createHmac(DIGESTS[algorithm], keyBytes(input.secret))
  hmac.update(`${input.id}.${input.timestamp}.`, 'utf8')
  hmac.update(typeof input.body === 'string' ? Buffer.from(input.body, 'utf8') : input.body)
  return `${WEBHOOK_SCHEMES[algorithm]},${hmac.digest('base64')}`
}

/**
 * Verifies the headers and raw body of one delivery and returns its id, timestamp and parsed payload, or throws
 * {@link WebhookVerificationError}. Checks: the three `webhook-*` headers, the timestamp within `toleranceSeconds` of
 * `now` (either direction), then a constant-time match of one signature of the algorithm's scheme against one secret.
 */
export function verifyWebhook<T = unknown>(input: VerifyWebhookInput): VerifiedWebhook<T> {
  const algorithm = input.algorithm ?? 'hmac-sha256'
  if (!(algorithm in WEBHOOK_SCHEMES)) throw new TypeError(`unknown webhook algorithm ${String(algorithm)}`)
  const secrets = [...(input.secret !== undefined ? [input.secret] : []), ...(input.secrets ?? [])]
  if (secrets.length === 0) throw new TypeError('verifyWebhook needs secret or secrets')
  const id = header(input.headers, 'webhook-id')
  const ts = header(input.headers, 'webhook-timestamp')
  const signatures = header(input.headers, 'webhook-signature')
  if (!id || !ts || !signatures) throw new WebhookVerificationError('missing_headers', 'missing webhook-id, webhook-timestamp or webhook-signature')
  if (!/^\d{1,15}$/.test(ts)) throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not unix seconds')
  const timestamp = Number(ts)
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000)
  const tolerance = input.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS
  if (timestamp < now - tolerance) throw new WebhookVerificationError('timestamp_too_old', 'webhook-timestamp is too old')
  if (timestamp > now + tolerance) throw new WebhookVerificationError('timestamp_too_new', 'webhook-timestamp is too far in the future')

  const scheme = WEBHOOK_SCHEMES[algorithm]
  const offered = signatures
    .split(' ')
    .filter((part) => part.startsWith(`${scheme},`))
    .map((part) => Buffer.from(part.slice(scheme.length + 1), 'utf8'))
  let matched = false
  for (const secret of secrets) {
    const expected = Buffer.from(signWebhook({ secret, id, timestamp: ts, body: input.body, algorithm }).slice(scheme.length + 1), 'utf8')
    for (const candidate of offered) {
      // Every comparison runs: the time taken does not tell which secret or signature matched.
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true
    }
  }
  if (!matched) throw new WebhookVerificationError('invalid_signature', 'no matching webhook signature')
  const text = typeof input.body === 'string' ? input.body : Buffer.from(input.body).toString('utf8')
  let payload: T
  try {
    payload = JSON.parse(text) as T
  } catch {
    payload = text as T
  }
  return { id, timestamp, payload }
}
