/**
 * Standard Webhooks signing and verification (contract §4 and §8, reliability row 21).
 *
 * The sender signs `"<id>.<timestamp>.<body>"` with each active secret; receivers (peers, simulators, our own
 * tests) verify with {@link verify}. The id and timestamp are part of the signed content so that a captured
 * request cannot be replayed under another id or, outside the tolerance window, at another time.
 */
import { randomBytes } from 'node:crypto'
import { signWebhook, verifyWebhook, WEBHOOK_SCHEMES, WEBHOOK_TOLERANCE_SECONDS, type WebhookErrorCode, WebhookVerificationError } from '../client/webhooks.js'
import type { SignatureAlgorithm } from '../db/subscription-repository.js'

/** Signature algorithms a subscription may choose (contract §8); `hmac-sm3` serves deployments under 密评. */
export type { SignatureAlgorithm }

/**
 * Scheme prefix written in the `webhook-signature` header for each algorithm. The HMAC itself and the verifier are the
 * integrators' own (`zdz-connector/client`, src/client/webhooks.ts): what the service sends is what they check.
 */
export const SIGNATURE_SCHEMES: Readonly<Record<SignatureAlgorithm, string>> = WEBHOOK_SCHEMES

/** Field-cipher context of subscription secrets: the API encrypts them under it, the worker decrypts them to sign. */
export const SECRET_CONTEXT = 'subscriptionSecret'

/** Prefix that marks a Standard Webhooks secret, so a secret pasted into the wrong place is recognisable. */
export const SECRET_PREFIX = 'whsec_'

/** Default tolerance between the signed timestamp and the receiver's clock (Standard Webhooks: 5 minutes). */
export const DEFAULT_TOLERANCE_SECONDS = WEBHOOK_TOLERANCE_SECONDS

/** Bytes of randomness in a generated secret: above the contract's minimum of 24, matching the HMAC block needs. */
const SECRET_BYTES = 32

/** Creates a new subscription secret: `whsec_` followed by base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64')
}

/**
 * Decodes a secret into the HMAC key bytes. The `whsec_` prefix is optional, as in the reference libraries,
 * so receivers can paste either form.
 *
 * @throws TypeError when the rest is not base64 or decodes to nothing, because an HMAC with an empty or
 *   garbled key would sign "successfully" and fail only at the receiver.
 */
export function secretBytes(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new TypeError('webhook secret is not base64 (expected "whsec_<base64>")')
  }
  const bytes = Buffer.from(encoded, 'base64')
  if (bytes.length === 0) {
    throw new TypeError('webhook secret decodes to no bytes')
  }
  return bytes
}

/** Body of a webhook request: signed byte for byte as sent. */
export type WebhookBody = string | Uint8Array

/** A secret together with the algorithm it signs with. */
export interface SigningKey {
  secret: string
  algorithm?: SignatureAlgorithm
}

/** What {@link sign} needs. */
export interface SignInput {
  /** Event id, also sent as `webhook-id`. */
  id: string
  /** Unix time in seconds, also sent as `webhook-timestamp`. */
  timestamp: number
  body: WebhookBody
  secret: string
  algorithm?: SignatureAlgorithm
}

function assertTimestamp(timestamp: number): void {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`webhook timestamp must be a non-negative integer of unix seconds, got ${timestamp}`)
  }
}

/** Signs one message with one secret: `v1,<base64>` for HMAC-SHA256, `sm3,<base64>` for HMAC-SM3. */
export function sign(input: SignInput): string {
  assertTimestamp(input.timestamp)
  secretBytes(input.secret)
  return signWebhook({ ...input, algorithm: input.algorithm ?? 'hmac-sha256' })
}

/**
 * Builds the `webhook-signature` value: one signature per secret, space-separated. During secret rotation both
 * the old and the new secret sign, so receivers that still know only the old one keep accepting deliveries.
 */
export function signatureHeader(id: string, timestamp: number, body: WebhookBody, secrets: readonly SigningKey[]): string {
  if (secrets.length === 0) {
    throw new RangeError('at least one secret is needed to sign a webhook')
  }
  return secrets.map((key) => sign({ id, timestamp, body, secret: key.secret, algorithm: key.algorithm })).join(' ')
}

/**
 * Headers of one Standard Webhooks delivery. A type alias rather than an interface so that it is assignable to
 * plain header records (and so can be handed straight to {@link verify} or `http.request`).
 */
export type WebhookHeaders = {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
  'content-type': 'application/json'
}

/** All headers of a delivery, so the sender cannot forget one or sign a different timestamp than it sends. */
export function webhookHeaders(id: string, timestamp: number, body: WebhookBody, secrets: readonly SigningKey[]): WebhookHeaders {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(id, timestamp, body, secrets),
    'content-type': 'application/json',
  }
}

/** Stable reasons a verification fails, for receivers to log and tests to assert on. */
export type WebhookVerificationErrorCode = WebhookErrorCode

/** Thrown by {@link verify}; `code` is stable, the message is for humans. */
export { WebhookVerificationError }

/** Header container accepted by {@link verify}: Node's `IncomingHttpHeaders`, a plain object, or a fetch `Headers`. */
export type HeaderSource = { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | undefined>>

/** What {@link verify} needs. */
export interface VerifyInput {
  headers: HeaderSource
  /** The raw body exactly as received; re-serialised JSON would not match. */
  body: WebhookBody
  /** One secret, or several while the sender rotates. */
  secrets: string | readonly string[]
  algorithm?: SignatureAlgorithm
  toleranceSeconds?: number
  now?: Date
}

/**
 * Verifies a Standard Webhooks request and returns `true`, or throws {@link WebhookVerificationError}.
 *
 * Checks, in this order: all three headers present, the timestamp is an integer, it lies within
 * `toleranceSeconds` of `now` in either direction (blocks replays and badly skewed clocks), and at least one of
 * the space-separated signatures with the algorithm's scheme matches one of the secrets. Signatures with another
 * scheme are ignored, so an `sm3` signature never satisfies an `hmac-sha256` receiver and vice versa.
 */
export function verify(input: VerifyInput): true {
  const secrets = typeof input.secrets === 'string' ? [input.secrets] : input.secrets
  // A garbled secret is the receiver's configuration error, not a bad request: a TypeError, as when signing.
  for (const secret of secrets) secretBytes(secret)
  verifyWebhook({
    headers: input.headers,
    body: input.body,
    secrets,
    algorithm: input.algorithm ?? 'hmac-sha256',
    toleranceSeconds: input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS,
    now: input.now,
  })
  return true
}
