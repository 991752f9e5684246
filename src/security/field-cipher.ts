/**
 * Field-level encryption of personal data at rest (contract §8, PIPL art. 51).
 *
 * ID numbers, phones and addresses are stored as self-describing tokens, `enc:v1:<keyId>:<base64>`, encrypted
 * with AES-256-GCM. The key id travels in the token so that keys rotate without downtime: a new key is put first
 * in `DATA_KEYS` and encrypts from then on, older keys stay in the list and keep decrypting until a background
 * job has re-encrypted what {@link FieldCipher.needsRotation} reports. Exact search works on a keyed hash
 * ({@link FieldCipher.blindIndex}) instead of the plaintext.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, type KeyObject, randomBytes, randomFillSync } from 'node:crypto'

/** One data key as configured in `DATA_KEYS`. */
export interface DataKey {
  id: string
  key: Buffer
}

/** AES-256 needs 32-byte keys; the contract fixes `DATA_KEYS` entries at exactly that. */
export const DATA_KEY_BYTES = 32
/** 96-bit IVs are GCM's native size; random IVs are safe for far more values than one key will ever encrypt. */
const IV_BYTES = 12
const TAG_BYTES = 16
const TOKEN_PREFIX = 'enc:v1:'
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/

/**
 * Parses `DATA_KEYS` (`keyId:base64-of-32-bytes`, comma-separated, first one encrypts).
 *
 * Errors name `DATA_KEYS` and the offending entry by position and key id but never echo key material, since
 * start-up errors end up in logs.
 */
export function parseDataKeys(value: string): DataKey[] {
  const fail = (message: string): never => {
    throw new Error(`DATA_KEYS ${message}`)
  }
  if (value.trim() === '') fail('is empty (expected "keyId:base64-of-32-bytes", comma-separated)')
  const keys: DataKey[] = []
  const seen = new Set<string>()
  value.split(',').forEach((raw, index) => {
    const entry = raw.trim()
    const position = `entry ${index + 1}`
    if (entry === '') fail(`${position} is empty (stray comma?)`)
    const colon = entry.indexOf(':')
    if (colon < 0) fail(`${position} has no key id (expected "keyId:base64-of-32-bytes")`)
    const id = entry.slice(0, colon)
    const encoded = entry.slice(colon + 1)
    if (!KEY_ID_PATTERN.test(id)) {
      fail(`${position}: key id must be 1-32 characters of A-Z, a-z, 0-9, "_" or "-"`)
    }
    if (seen.has(id)) fail(`${position}: key id "${id}" appears twice`)
    if (!BASE64_PATTERN.test(encoded)) fail(`${position} (key id "${id}"): key is not base64`)
    const key = Buffer.from(encoded, 'base64')
    if (key.length !== DATA_KEY_BYTES) {
      fail(`${position} (key id "${id}"): key must decode to ${DATA_KEY_BYTES} bytes, got ${key.length}`)
    }
    seen.add(id)
    keys.push({ id, key })
  })
  return keys
}

/** Formats keys back into the `DATA_KEYS` syntax, e.g. to print a freshly generated development key. */
export function formatDataKeys(keys: readonly DataKey[]): string {
  return keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',')
}

/**
 * Creates a single random key for tests and for rendering the OpenAPI document. Whatever it encrypts becomes unreadable
 * once the process exits; a service without `DATA_KEYS` keeps its key in `DATA_KEYS_FILE` instead (key-file.ts).
 */
export function generateThrowawayKeys(): DataKey[] {
  return [{ id: `dev-${randomBytes(4).toString('hex')}`, key: randomBytes(DATA_KEY_BYTES) }]
}

/**
 * Normalizes a value before blind indexing so that equal identifiers hash equally whatever their spelling:
 * surrounding whitespace is dropped and letters are upper-cased (an ID number's check character `x` is `X`).
 */
export function normalizeForIndex(value: string): string {
  return value.trim().toUpperCase()
}

/** Stable failure reasons, so callers can tell corruption from a missing key without parsing messages. */
export type FieldCipherErrorCode = 'malformed_token' | 'unknown_key' | 'authentication_failed'

/** Raised by {@link FieldCipher.decrypt}. Messages never contain plaintext or key material. */
export class FieldCipherError extends Error {
  readonly code: FieldCipherErrorCode

  constructor(code: FieldCipherErrorCode, message: string) {
    super(message)
    this.name = 'FieldCipherError'
    this.code = code
  }
}

/** Options of {@link FieldCipher}. */
export interface FieldCipherOptions {
  /**
   * Key for blind indexes (at least 32 bytes). Give one to make indexes independent of the data keys, so even
   * the oldest data key can be retired without recomputing every index.
   */
  indexKey?: Buffer
}

/**
 * Additional authenticated data: binds a ciphertext to its key id and to the field it belongs to, so a token
 * cannot be relabelled with another key id or copied from one column (say, an address) into another (an ID
 * number) without decryption failing. The context comes last, so the NUL separators keep the encoding unambiguous
 * (key ids cannot contain NUL).
 */
function aad(keyId: string, context: string | undefined): Buffer {
  return Buffer.from(`${TOKEN_PREFIX}\u0000${keyId}\u0000${context ?? ''}`, 'utf8')
}

/** Contexts whose AAD one key keeps ready; callers name a handful of fields, so this bound is never reached in practice. */
const MAX_CACHED_CONTEXTS = 64

/**
 * One configured data key, ready for use: a `KeyObject` (createCipheriv/createDecipheriv with a raw Buffer key
 * import it on every call) and the AAD of each context it has been used with.
 */
class LoadedKey {
  readonly secret: KeyObject
  readonly #aads = new Map<string, Buffer>()

  constructor(
    readonly id: string,
    key: Buffer,
  ) {
    this.secret = createSecretKey(key)
  }

  /** The AAD for a context; never modified once made (setAAD copies it into the cipher). */
  aad(context: string | undefined): Buffer {
    const name = context ?? ''
    let value = this.#aads.get(name)
    if (value === undefined) {
      value = aad(this.id, name)
      if (this.#aads.size < MAX_CACHED_CONTEXTS) this.#aads.set(name, value)
    }
    return value
  }
}

/**
 * Random IVs drawn from the CSPRNG 341 at a time: a `randomBytes(12)` call costs about as much as the rest of an
 * encryption (the call, not the bytes), and a batch intake encrypts a dozen fields per referral. Every IV is handed
 * out once; the view returned is valid until the next call and is copied by the caller before it returns.
 */
const ivPool = Buffer.alloc(IV_BYTES * 341)
let ivOffset = ivPool.length

function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    randomFillSync(ivPool)
    ivOffset = 0
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV_BYTES)
  ivOffset += IV_BYTES
  return iv
}

/** Splits a token into key id and payload, or returns undefined when it is not one. */
function parseToken(token: string): { keyId: string; payload: string } | undefined {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined
  const rest = token.slice(TOKEN_PREFIX.length)
  const colon = rest.indexOf(':')
  if (colon < 0) return undefined
  const keyId = rest.slice(0, colon)
  const payload = rest.slice(colon + 1)
  if (!KEY_ID_PATTERN.test(keyId) || !BASE64_PATTERN.test(payload)) return undefined
  return { keyId, payload }
}

const notAToken = () => new FieldCipherError('malformed_token', 'value is not an encrypted field token')

/** Whether a stored value is an encryption token (as opposed to legacy plaintext). */
export function isEncryptedToken(value: string): boolean {
  return parseToken(value) !== undefined
}

/** Encrypts, decrypts and blind-indexes personal data fields with the configured data keys. */
export class FieldCipher {
  readonly #keys: ReadonlyMap<string, LoadedKey>
  readonly #current: LoadedKey
  readonly #indexKey: Buffer
  readonly #purposeKeys = new Map<string, Buffer>()

  /**
   * @param keys data keys, the first one encrypting new values (as parsed by {@link parseDataKeys}).
   * @throws Error on an empty list, a duplicate id or a key of the wrong length.
   */
  constructor(keys: readonly DataKey[], options: FieldCipherOptions = {}) {
    if (keys.length === 0) throw new Error('FieldCipher needs at least one data key')
    const map = new Map<string, LoadedKey>()
    for (const { id, key } of keys) {
      if (!KEY_ID_PATTERN.test(id)) throw new Error(`data key id "${id}" is not 1-32 characters of [A-Za-z0-9_-]`)
      if (key.length !== DATA_KEY_BYTES) throw new Error(`data key "${id}" must be ${DATA_KEY_BYTES} bytes`)
      if (map.has(id)) throw new Error(`data key id "${id}" appears twice`)
      map.set(id, new LoadedKey(id, key))
    }
    this.#keys = map
    this.#current = map.get(keys[0].id) as LoadedKey

    if (options.indexKey !== undefined) {
      if (options.indexKey.length < DATA_KEY_BYTES) {
        throw new Error(`blind index key must be at least ${DATA_KEY_BYTES} bytes`)
      }
      this.#indexKey = Buffer.from(options.indexKey)
    } else {
      // Blind indexes are stored and searched, so they must survive key rotation. Rotation adds new keys at the
      // FRONT of the list; the LAST (oldest) key is the one that stays put longest, so the index key is derived
      // from it. Retiring that oldest key changes every index: pass `indexKey` to avoid that, or re-index.
      const oldest = keys[keys.length - 1]
      this.#indexKey = Buffer.from(hkdfSync('sha256', oldest.key, Buffer.alloc(0), Buffer.from('zdz blind index v1', 'utf8'), 32))
    }
  }

  /** Id of the key that encrypts new values. */
  get currentKeyId(): string {
    return this.#current.id
  }

  /**
   * Encrypts one value with the current key. `context` (e.g. the field name) must be given again to decrypt,
   * which stops a token from being moved to another field.
   */
  encrypt(plain: string, context?: string): string {
    const iv = nextIv()
    const cipher = createCipheriv('aes-256-gcm', this.#current.secret, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(this.#current.aad(context))
    // Evaluated in order: the tag exists once final() has run. concat copies the IV out of the pool.
    const payload = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64')
    return `${TOKEN_PREFIX}${this.#current.id}:${payload}`
  }

  /**
   * Decrypts a token with the key its id names, whichever position that key has in the list.
   *
   * @throws FieldCipherError `malformed_token`, `unknown_key` (the key was removed from `DATA_KEYS` too early)
   *   or `authentication_failed` (tampered token, wrong context, or a different key under the same id).
   */
  decrypt(token: string, context?: string): string {
    // What parseToken checks, in an order that reads the token once on the way of every valid one (the views of a
    // list page decrypt hundreds of fields); every refusal still gets the code and message it always had.
    const colon = token.startsWith(TOKEN_PREFIX) ? token.indexOf(':', TOKEN_PREFIX.length) : -1
    if (colon < 0) throw notAToken()
    const keyId = token.slice(TOKEN_PREFIX.length, colon)
    const payload = token.slice(colon + 1)
    // A configured id passed KEY_ID_PATTERN in the constructor.
    const key = this.#keys.get(keyId)
    if (!key) {
      if (!KEY_ID_PATTERN.test(keyId) || !BASE64_PATTERN.test(payload)) throw notAToken()
      throw new FieldCipherError('unknown_key', `data key "${keyId}" is not configured in DATA_KEYS`)
    }
    const raw = Buffer.from(payload, 'base64')
    // Only the canonical encoding is accepted, so no two token strings decrypt to the same stored value. The canonical
    // encoding of any bytes but none matches BASE64_PATTERN, so this one comparison also does the pattern's work.
    if (payload === '' || raw.toString('base64') !== payload) {
      if (!BASE64_PATTERN.test(payload)) throw notAToken()
      throw new FieldCipherError('malformed_token', 'encrypted field token is not canonical base64')
    }
    if (raw.length < IV_BYTES + TAG_BYTES) {
      throw new FieldCipherError('malformed_token', 'encrypted field token is truncated')
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.secret, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES })
      decipher.setAAD(key.aad(context))
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
      const plain = decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES))
      // final() authenticates; GCM has no padding, so it adds no bytes.
      const rest = decipher.final()
      return (rest.length ? Buffer.concat([plain, rest]) : plain).toString('utf8')
    } catch {
      throw new FieldCipherError('authentication_failed', 'encrypted field failed authentication')
    }
  }

  /**
   * Whether a stored value should be re-encrypted: it was encrypted with a key other than the current one,
   * or it is not a token at all (plaintext left from before encryption).
   */
  needsRotation(token: string): boolean {
    const parsed = parseToken(token)
    return parsed === undefined || parsed.keyId !== this.#current.id
  }

  /**
   * Keyed hash for exact-match search (`?partyIdNumber=`), hex-encoded.
   *
   * Each `purpose` (e.g. `party.idNumber`, `party.phone`) gets its own HKDF-derived key, so equal values in
   * different fields do not produce linkable hashes. The value goes through {@link normalizeForIndex} first.
   * The hash is deterministic by design, which is what makes it searchable: only index values with enough
   * entropy for a keyed hash to protect them, and keep the keys secret.
   */
  blindIndex(value: string, purpose: string): string {
    let key = this.#purposeKeys.get(purpose)
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.#indexKey, Buffer.alloc(0), Buffer.from(`purpose:${purpose}`, 'utf8'), 32))
      this.#purposeKeys.set(purpose, key)
    }
    return createHmac('sha256', key).update(normalizeForIndex(value), 'utf8').digest('hex')
  }
}
