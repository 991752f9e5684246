import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * API keys look like `zdz_<keyId>_<secret>`: the key id (10 lowercase base32 chars) is a lookup handle stored in
 * clear, the secret is 32 random bytes (base64url). Only SHA-256 of the whole key is stored: with 256 bits of
 * entropy a slow hash adds nothing, and a database dump holds no usable key.
 */
const KEY_RE = /^zdz_([a-z2-7]{10})_([A-Za-z0-9_-]{43})$/

export interface NewApiKey {
  keyId: string
  apiKey: string
  hash: Buffer
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

function randomKeyId(): string {
  const bytes = randomBytes(10)
  let out = ''
  for (const b of bytes) out += BASE32[b & 31]
  return out
}

export function generateApiKey(): NewApiKey {
  const keyId = randomKeyId()
  const apiKey = `zdz_${keyId}_${randomBytes(32).toString('base64url')}`
  return { keyId, apiKey, hash: hashApiKey(apiKey) }
}

export function hashApiKey(apiKey: string): Buffer {
  return createHash('sha256').update(apiKey, 'utf8').digest()
}

/** The key id of a well-formed key, or null. */
export function parseApiKey(apiKey: string): string | null {
  const m = KEY_RE.exec(apiKey)
  return m ? m[1] : null
}

export function hashesEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}
