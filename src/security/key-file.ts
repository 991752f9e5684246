import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type DataKey, formatDataKeys, parseDataKeys } from './field-cipher.js'

/**
 * The data keys of a deployment without `DATA_KEYS` (outside production, contract §7): kept in `DATA_KEYS_FILE`
 * (default `.zdz/keys.json`, mode 0600, git-ignored), generated on the first start and reused on every later one, so
 * a restart never loses the personal data it encrypted.
 */

/** A new data key entry in the `DATA_KEYS` syntax (`keyId:base64-of-32-bytes`), as `npm run keygen` prints it. */
export function newDataKeyEntry(): string {
  return formatDataKeys([{ id: `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`, key: randomBytes(32) }])
}

/** Reads the key file, or creates it with one new key when there is none. Two processes starting at once agree on one file. */
export function loadOrCreateKeyFile(file: string): { keys: DataKey[]; created: boolean } {
  const read = () => parseDataKeys((JSON.parse(readFileSync(file, 'utf8')) as { dataKeys: string }).dataKeys)
  try {
    return { keys: read(), created: false }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`DATA_KEYS_FILE ${file} cannot be read: ${(err as Error).message}`, { cause: err })
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  try {
    // `wx`: exclusive create, so a second process starting at the same moment reads the first one's key.
    writeFileSync(file, `${JSON.stringify({ dataKeys: newDataKeyEntry() }, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
    return { keys: read(), created: true }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { keys: read(), created: false }
    throw err
  }
}
