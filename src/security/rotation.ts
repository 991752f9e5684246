import type { FieldCipher } from './field-cipher.js'
import { isEncryptedToken } from './field-cipher.js'

/**
 * Re-encrypts, with the current key, every sealed value `{ enc, masked }` found anywhere in a JSON document whose
 * ciphertext was made with an older key. The field name holding the sealed value (idNumber, phone, address) is the
 * ciphertext's bound context. Returns the new document and how many values changed (0 → nothing to write).
 */
export function rotateSealedValues(doc: unknown, cipher: FieldCipher): { doc: unknown; rotated: number } {
  let rotated = 0
  const walk = (value: unknown, field: string | undefined): unknown => {
    if (Array.isArray(value)) return value.map((v) => walk(v, field))
    if (!value || typeof value !== 'object') return value
    const obj = value as Record<string, unknown>
    if (field && typeof obj.enc === 'string' && typeof obj.masked === 'string' && isEncryptedToken(obj.enc)) {
      if (!cipher.needsRotation(obj.enc)) return obj
      rotated++
      return { ...obj, enc: cipher.encrypt(cipher.decrypt(obj.enc, field), field) }
    }
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(obj)) out[k] = walk(v, k)
    return out
  }
  const next = walk(doc, undefined)
  return { doc: next, rotated }
}
