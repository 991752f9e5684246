import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as signEd25519, type KeyObject } from 'node:crypto'
import jsbn from 'jsbn'
import smCrypto from 'sm-crypto'
import type { WrittenEvent } from '../domain/event-chain.js'
import { type Jwk, type ReceiptAlgorithm, type ReceiptPayload, SM2_DEFAULT_USER_ID } from '../client/receipts.js'

/**
 * Signing receipts (contract §4 "Signed receipts"): the service's receipt keys, from `RECEIPT_KEYS`
 * (`kid:base64(PKCS#8 PEM private key)`, comma-separated, the first one signing) or, outside production, the key kept in
 * `DATA_KEYS_FILE` (key-file.ts). Verification is src/client/receipts.ts (pure, exported to peers by `zdz-connector/client`).
 *
 * Why SM2 is signed with `sm-crypto` and not node:crypto: Node 20 / OpenSSL 3 accepts an EC key on curve `SM2` but
 * `crypto.sign('sm3', …)` then computes ECDSA over SM3(M) — no Z_A (the user id `1234567812345678` never enters it)
 * and ECDSA's equation rather than SM2's — which no GB/T 32918 verifier accepts; an OpenSSL-made SM2 key even loads
 * with `asymmetricKeyType` undefined, and Node offers no `distid` option. `sm-crypto` implements GB/T 32918.2 with
 * Z_A over the default user id and interoperates with the OpenSSL CLI (`pkeyutl -digest sm3 -pkeyopt distid:…`), which
 * the tests use as an independent check. Its nonce comes from an RC4 generator seeded once, so the nonce `k` is drawn
 * here from node:crypto's CSPRNG and handed to it (`pointPool`).
 */

export type { ReceiptAlgorithm }

/** One receipt key: its id, algorithm, public JWK and a signing function over the JWS signing input. */
export interface ReceiptKey {
  kid: string
  alg: ReceiptAlgorithm
  jwk: Jwk
  sign(input: Buffer): Buffer
}

const KID = /^[A-Za-z0-9._-]{1,64}$/

// PKCS#8 (RFC 5208) of an SM2 key as OpenSSL 3 writes it: AlgorithmIdentifier { id-ecPublicKey, sm2 }, then an
// ECPrivateKey (RFC 5915) holding d and the public point.
const OID_EC_PUBLIC_KEY = '2a8648ce3d0201'
const OID_SM2 = '2a811ccf5501822d'
const SM2_N = BigInt('0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123')

interface Tlv {
  tag: number
  value: Buffer
  end: number
}

function readTlv(buf: Buffer, at: number): Tlv {
  const tag = buf[at]
  let len = buf[at + 1]
  if (tag === undefined || len === undefined) throw new Error('truncated DER')
  let start = at + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n < 1 || n > 3) throw new Error('unsupported DER length')
    len = 0
    for (let i = 0; i < n; i++) len = (len << 8) | (buf[start + i] ?? 0)
    start += n
  }
  if (start + len > buf.length) throw new Error('truncated DER')
  return { tag, value: buf.subarray(start, start + len), end: start + len }
}

function children(value: Buffer): Tlv[] {
  const out: Tlv[] = []
  for (let at = 0; at < value.length;) {
    const t = readTlv(value, at)
    out.push(t)
    at = t.end
  }
  return out
}

/** The private scalar d (32 bytes hex) of an SM2 PKCS#8 key, or undefined when the DER is not one. */
function sm2PrivateScalar(der: Buffer): string | undefined {
  try {
    const top = readTlv(der, 0)
    const [version, algId, privOctets] = children(top.value)
    if (top.tag !== 0x30 || version?.tag !== 0x02 || algId?.tag !== 0x30 || privOctets?.tag !== 0x04) return undefined
    const oids = children(algId.value).map((o) => (o.tag === 0x06 ? o.value.toString('hex') : ''))
    const isSm2 = (oids[0] === OID_EC_PUBLIC_KEY && oids[1] === OID_SM2) || oids[0] === OID_SM2
    if (!isSm2) return undefined
    const ecKey = readTlv(privOctets.value, 0)
    const [ecVersion, d] = children(ecKey.value)
    if (ecKey.tag !== 0x30 || ecVersion?.tag !== 0x02 || d?.tag !== 0x04 || d.value.length === 0 || d.value.length > 32) return undefined
    const scalar = BigInt(`0x${d.value.toString('hex')}`)
    // d ∈ [1, n − 2] (GB/T 32918.1 §6.1): (1 + d) must be invertible.
    if (scalar < 1n || scalar > SM2_N - 2n) return undefined
    return d.value.toString('hex').padStart(64, '0')
  } catch {
    return undefined
  }
}

function pemBody(pem: string): Buffer | undefined {
  const m = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(pem)
  return m?.[1] ? Buffer.from(m[1].replace(/\s+/g, ''), 'base64') : undefined
}

function sm2PemOf(dHex: string, pointHex: string): string {
  const der = Buffer.from(`308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420${dHex}a144034200${pointHex}`, 'hex')
  const lines = der.toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`
}

/** A fresh SM2 nonce point (k, x1 of kG) with k from node:crypto's CSPRNG (reduced into [1, n − 1] by sm-crypto). */
function sm2NoncePoint(): { k: jsbn.BigInteger; x1: jsbn.BigInteger } {
  const generate = smCrypto.sm2.generateKeyPairHex as unknown as (a: string, radix: number) => { privateKey: string; publicKey: string }
  const kp = generate(randomBytes(48).toString('hex'), 16)
  return { k: new jsbn.BigInteger(kp.privateKey, 16), x1: new jsbn.BigInteger(kp.publicKey.slice(2, 66), 16) }
}

function sm2Key(kid: string, dHex: string): ReceiptKey {
  const point = (smCrypto.sm2 as unknown as { getPublicKeyFromPrivateKey(d: string): string }).getPublicKeyFromPrivateKey(dHex)
  const x = Buffer.from(point.slice(2, 66), 'hex').toString('base64url')
  const y = Buffer.from(point.slice(66, 130), 'hex').toString('base64url')
  return {
    kid,
    alg: 'SM2SM3',
    jwk: { kty: 'EC', crv: 'SM2', x, y, kid, alg: 'SM2SM3', use: 'sig' },
    sign(input) {
      const rs = smCrypto.sm2.doSignature(Array.from(input), dHex, {
        hash: true,
        publicKey: point,
        userId: SM2_DEFAULT_USER_ID,
        pointPool: [sm2NoncePoint() as unknown as ReturnType<typeof smCrypto.sm2.getPoint>],
      })
      return Buffer.from(rs, 'hex')
    },
  }
}

function ed25519Key(kid: string, key: KeyObject): ReceiptKey {
  const { x } = createPublicKey(key).export({ format: 'jwk' }) as { x: string }
  return {
    kid,
    alg: 'EdDSA',
    jwk: { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' },
    sign: (input) => signEd25519(null, input, key),
  }
}

/** A receipt key from its PKCS#8 PEM: Ed25519 (EdDSA) or SM2 (SM2SM3); throws on anything else. */
export function receiptKeyFromPem(kid: string, pem: string): ReceiptKey {
  if (!KID.test(kid)) throw new Error(`key id "${kid}" must be 1–64 of A-Z a-z 0-9 . _ -`)
  const der = pemBody(pem)
  if (!der) throw new Error(`key ${kid} is not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)`)
  const d = sm2PrivateScalar(der)
  if (d) return sm2Key(kid, d)
  let key: KeyObject
  try {
    key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  } catch {
    throw new Error(`key ${kid} is not a readable PKCS#8 private key`)
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`key ${kid} is neither Ed25519 nor SM2 (${key.asymmetricKeyType ?? 'unknown type'})`)
  return ed25519Key(kid, key)
}

/**
 * Parses `RECEIPT_KEYS` (or the key file's entry): comma-separated `kid:base64(PKCS#8 PEM)`, the first one signing.
 * Throws an Error saying what is wrong (never the key itself).
 */
export function parseReceiptKeys(value: string): ReceiptKey[] {
  const keys = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const sep = entry.indexOf(':')
      if (sep < 1) throw new Error(`entry ${i + 1} is not kid:base64(PKCS#8 PEM)`)
      const kid = entry.slice(0, sep)
      const b64 = entry.slice(sep + 1)
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error(`key ${kid}: the PEM is not base64`)
      return receiptKeyFromPem(kid, Buffer.from(b64, 'base64').toString('utf8'))
    })
  if (!keys.length) throw new Error('holds no key')
  const ids = new Set<string>()
  for (const k of keys) {
    if (ids.has(k.kid)) throw new Error(`key id ${k.kid} appears twice`)
    ids.add(k.kid)
  }
  return keys
}

/** The `RECEIPT_ALGORITHM` values and the JWS `alg` each signs with. */
export const RECEIPT_ALGORITHMS = { eddsa: 'EdDSA', sm2: 'SM2SM3' } as const satisfies Record<string, ReceiptAlgorithm>

/** A new receipt key entry (`kid:base64(PKCS#8 PEM)`), as `npm run keygen -- --receipt [--sm2]` prints it. */
export function newReceiptKeyEntry(alg: ReceiptAlgorithm = 'EdDSA'): string {
  const kid = `r${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`
  let pem: string
  if (alg === 'EdDSA') {
    pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  } else {
    const generate = smCrypto.sm2.generateKeyPairHex as unknown as (a: string, radix: number) => { privateKey: string; publicKey: string }
    const kp = generate(randomBytes(48).toString('hex'), 16)
    pem = sm2PemOf(kp.privateKey, kp.publicKey)
  }
  return `${kid}:${Buffer.from(pem, 'utf8').toString('base64')}`
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url')

/** Signs receipts with the first of its keys and publishes all of them. */
export class ReceiptSigner {
  readonly #keys: ReceiptKey[]

  constructor(keys: ReceiptKey[]) {
    if (!keys[0]) throw new Error('a receipt signer needs a key')
    this.#keys = keys
  }

  /** The algorithm receipts are signed with now. */
  get algorithm(): ReceiptAlgorithm {
    return this.#keys[0]!.alg
  }

  /** The JWKS of `GET /v1/service-keys`: every configured key, the signing one first. */
  jwks(): { keys: Jwk[] } {
    return { keys: this.#keys.map((k) => ({ ...k.jwk })) }
  }

  /** A JWS (compact serialization) of the payload, signed with the first key. */
  sign(payload: ReceiptPayload): string {
    const key = this.#keys[0]!
    const input = `${b64url({ alg: key.alg, kid: key.kid })}.${b64url(payload)}`
    return `${input}.${key.sign(Buffer.from(input, 'ascii')).toString('base64url')}`
  }
}

/**
 * The receipt of an event just written on a case (contract §4): what a route answering a state-changing request sends
 * in its `Receipt` header — and what batch intake puts in each item's `receipt` field.
 */
export function issueReceipt(signer: ReceiptSigner, event: WrittenEvent, issuedAt: Date = new Date()): string {
  return signer.sign({
    subject: { kind: event.subject.kind, id: event.subject.id },
    sequence: event.sequence,
    eventId: event.id,
    eventHash: event.hash,
    caseVersion: event.caseVersion ?? event.sequence,
    issuedAt: issuedAt.toISOString(),
  })
}
