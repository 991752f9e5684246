import { createPublicKey, verify as verifySignature } from 'node:crypto'
import smCrypto from 'sm-crypto'

/**
 * Verifying a signed receipt (contract §4 "Signed receipts"): pure, with no import from the service, so that a peer's
 * client package can re-export it as it is. A receipt is a JWS in compact serialization
 * (`base64url(header).base64url(payload).base64url(signature)`, RFC 7515) whose header names the key (`kid`) and the
 * algorithm (`alg`):
 *
 * - `EdDSA`: Ed25519 (RFC 8037); the JWK is `{ kty: "OKP", crv: "Ed25519", x }`; the signature is the 64 bytes of Ed25519.
 * - `SM2SM3`: SM2 over SM3 with the user id `1234567812345678` (GB/T 32918.2, GM/T 0009: e = SM3(Z_A ‖ M)); the JWK is
 *   `{ kty: "EC", crv: "SM2", x, y }` (each coordinate 32 bytes, base64url); the signature is `r ‖ s`, each 32 bytes
 *   big-endian (64 bytes, as ES256 does in JWS, RFC 7518 §3.4) — not DER.
 *
 * In both cases the signed message is the JWS signing input, the ASCII bytes of `base64url(header).base64url(payload)`.
 */

/** A receipt key as `GET /v1/service-keys` publishes it. */
export interface Jwk {
  kty: string
  crv: string
  x: string
  y?: string
  kid: string
  alg?: string
  use?: string
}

/** What a receipt attests: the event a state-changing request wrote on a case, and when the answer was signed. */
export interface ReceiptPayload {
  subject: { kind: string; id: string }
  /** The event's sequence in the case's history (`GET …/{id}/events`). */
  sequence: number
  eventId: string
  /** The event's hash in the case's chain (contract §8), lowercase hex SHA-256. */
  eventHash: string
  caseVersion: number
  /** RFC 3339 (UTC). */
  issuedAt: string
}

export type ReceiptAlgorithm = 'EdDSA' | 'SM2SM3'

/** The SM2 user id (ID_A) every receipt signature uses: the default of GM/T 0009. */
export const SM2_DEFAULT_USER_ID = '1234567812345678'

export class ReceiptVerificationError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ReceiptVerificationError'
  }
}

const B64URL = /^[A-Za-z0-9_-]*$/

function decodePart(part: string, what: string): Buffer {
  if (!B64URL.test(part)) throw new ReceiptVerificationError(`the ${what} is not base64url`)
  return Buffer.from(part, 'base64url')
}

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new ReceiptVerificationError(`the ${what} is not JSON`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ReceiptVerificationError(`the ${what} is not a JSON object`)
  return v as Record<string, unknown>
}

/** The uncompressed SM2 point of a JWK, as hex `04 ‖ x ‖ y`. */
function sm2PointHex(jwk: Jwk): string {
  const x = Buffer.from(jwk.x, 'base64url')
  const y = Buffer.from(jwk.y ?? '', 'base64url')
  if (x.length !== 32 || y.length !== 32) throw new ReceiptVerificationError(`key ${jwk.kid}: SM2 coordinates must be 32 bytes each`)
  return `04${x.toString('hex')}${y.toString('hex')}`
}

/**
 * Verifies an SM2 signature (`r ‖ s`, 64 bytes) over `message` with the public key of `jwk`, Z_A computed with `userId`
 * (default `1234567812345678`).
 */
export function verifySm2(message: Uint8Array | string, signature: Uint8Array, jwk: Jwk, userId: string = SM2_DEFAULT_USER_ID): boolean {
  if (signature.length !== 64) return false
  const msg = typeof message === 'string' ? Array.from(Buffer.from(message, 'utf8')) : Array.from(message)
  return smCrypto.sm2.doVerifySignature(msg, Buffer.from(signature).toString('hex'), sm2PointHex(jwk), { hash: true, userId })
}

function verifyWith(alg: ReceiptAlgorithm, jwk: Jwk, input: Buffer, signature: Buffer): boolean {
  if (alg === 'EdDSA') {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') throw new ReceiptVerificationError(`key ${jwk.kid} is not an Ed25519 key`)
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' })
    return signature.length === 64 && verifySignature(null, input, key, signature)
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'SM2') throw new ReceiptVerificationError(`key ${jwk.kid} is not an SM2 key`)
  return verifySm2(input, signature, jwk)
}

function checkPayload(p: Record<string, unknown>): ReceiptPayload {
  const subject = p.subject as Record<string, unknown> | undefined
  const ok =
    typeof subject === 'object' &&
    subject !== null &&
    typeof subject.kind === 'string' &&
    typeof subject.id === 'string' &&
    Number.isInteger(p.sequence) &&
    typeof p.eventId === 'string' &&
    typeof p.eventHash === 'string' &&
    Number.isInteger(p.caseVersion) &&
    typeof p.issuedAt === 'string'
  if (!ok) throw new ReceiptVerificationError('the payload is not a receipt')
  return p as unknown as ReceiptPayload
}

/**
 * Verifies a receipt against the service's published keys (`GET /v1/service-keys`) and returns its payload; throws a
 * {@link ReceiptVerificationError} when it is malformed, names an unknown key or algorithm, or its signature does not verify.
 */
export function verifyReceipt(receipt: string, jwks: { keys: Jwk[] }): ReceiptPayload {
  const parts = receipt.split('.')
  if (parts.length !== 3) throw new ReceiptVerificationError('a receipt has three parts (JWS compact serialization)')
  const [h, p, s] = parts as [string, string, string]
  const header = parseJson(decodePart(h, 'header'), 'header')
  const alg = header.alg
  if (alg !== 'EdDSA' && alg !== 'SM2SM3') throw new ReceiptVerificationError(`unsupported algorithm ${String(alg)}`)
  if (typeof header.kid !== 'string') throw new ReceiptVerificationError('the header names no key (kid)')
  if (header.crit !== undefined) throw new ReceiptVerificationError('unsupported critical header parameters')
  const jwk = jwks.keys.find((k) => k.kid === header.kid)
  if (!jwk) throw new ReceiptVerificationError(`unknown key ${header.kid}`)
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new ReceiptVerificationError(`key ${jwk.kid} is for ${jwk.alg}, not ${alg}`)
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new ReceiptVerificationError(`key ${jwk.kid} is not a signing key`)
  let ok: boolean
  try {
    ok = verifyWith(alg, jwk, Buffer.from(`${h}.${p}`, 'ascii'), decodePart(s, 'signature'))
  } catch (err) {
    if (err instanceof ReceiptVerificationError) throw err
    // A malformed published key (e.g. an x that is no Ed25519 point) verifies nothing.
    throw new ReceiptVerificationError(`key ${jwk.kid} is unusable: ${(err as Error).message}`)
  }
  if (!ok) throw new ReceiptVerificationError('the signature does not verify')
  return checkPayload(parseJson(decodePart(p, 'payload'), 'payload'))
}
