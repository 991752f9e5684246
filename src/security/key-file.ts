import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type DataKey, formatDataKeys, parseDataKeys } from './field-cipher.js'
import { newReceiptKeyEntry, type ReceiptAlgorithm } from './receipts.js'

/**
 * The keys of a deployment without `DATA_KEYS` / `RECEIPT_KEYS` (outside production, contract §7): kept in
 * `DATA_KEYS_FILE` (default `.zdz/keys.json`, mode 0600, git-ignored), generated on the first start and reused on every
 * later one, so a restart never loses the personal data it encrypted, nor the key its receipts were signed with.
 * The file holds `{ dataKeys: "keyId:base64", receiptKeys: { EdDSA?: "kid:base64(PEM)", SM2SM3?: … } }`.
 */

/** A new data key entry in the `DATA_KEYS` syntax (`keyId:base64-of-32-bytes`), as `npm run keygen` prints it. */
export function newDataKeyEntry(): string {
  return formatDataKeys([{ id: `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`, key: randomBytes(32) }])
}

interface KeyFile {
  dataKeys?: string
  receiptKeys?: Partial<Record<ReceiptAlgorithm, string>>
}

function readKeyFile(file: string): KeyFile | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new Error(`DATA_KEYS_FILE ${file} cannot be read: ${(err as Error).message}`, { cause: err })
  }
  try {
    return JSON.parse(text) as KeyFile
  } catch (err) {
    throw new Error(`DATA_KEYS_FILE ${file} cannot be read: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * The value `pick` finds in the key file, adding `make()`'s to it when there is none. Two processes starting at once
 * agree on one file: the first write is an exclusive create (`wx`); adding to an existing file writes a copy and renames
 * it over the file, and the value is read back from the file.
 */
function loadOrAdd<T>(file: string, pick: (f: KeyFile) => T | undefined, add: (f: KeyFile) => KeyFile): { value: T; created: boolean } {
  const found = (f: KeyFile | undefined) => (f ? pick(f) : undefined)
  const existing = readKeyFile(file)
  const have = found(existing)
  if (have !== undefined) return { value: have, created: false }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  const text = `${JSON.stringify(add(existing ?? {}), null, 2)}\n`
  if (!existing) {
    try {
      writeFileSync(file, text, { mode: 0o600, flag: 'wx' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      return loadOrAdd(file, pick, add)
    }
  } else {
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' })
    renameSync(tmp, file)
  }
  const value = found(readKeyFile(file))
  if (value === undefined) throw new Error(`DATA_KEYS_FILE ${file} lost the key just written`)
  return { value, created: true }
}

/** Reads the key file's data keys, or adds one new key when there is none. */
export function loadOrCreateKeyFile(file: string): { keys: DataKey[]; created: boolean } {
  const { value, created } = loadOrAdd(
    file,
    (f) => f.dataKeys,
    (f) => ({ ...f, dataKeys: newDataKeyEntry() }),
  )
  try {
    return { keys: parseDataKeys(value), created }
  } catch (err) {
    throw new Error(`DATA_KEYS_FILE ${file} cannot be read: ${(err as Error).message}`, { cause: err })
  }
}

/** Reads the key file's receipt key for `alg` (a `RECEIPT_KEYS` entry), or adds a new one when there is none. */
export function loadOrCreateReceiptKey(file: string, alg: ReceiptAlgorithm): { entry: string; created: boolean } {
  const { value, created } = loadOrAdd(
    file,
    (f) => f.receiptKeys?.[alg],
    (f) => ({ ...f, receiptKeys: { ...f.receiptKeys, [alg]: newReceiptKeyEntry(alg) } }),
  )
  return { entry: value, created }
}
