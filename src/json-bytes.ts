/**
 * Large JSON texts without one large string.
 *
 * V8 keeps a string of more than 128 KB (a two-byte string — any Chinese text — of more than 64 K characters) in its
 * large-object space: a fresh memory mapping for each one, which the process then faults in page by page. On this
 * service's virtual machines a minor page fault costs ~15 µs, so making one such string flat (to measure it, encode
 * it, hash it) costs ~0.6 ms for a 150 KB text — more than building it. A batch of 100 referrals made several (its
 * statement's JSON parameters, its answer, its stored answer, its request hash), ten page faults an item; a page of
 * 50 full referral views one (bench/README.md, "What limits each target").
 *
 * Here a large array is serialized element by element, each element a small string (V8's young generation, whose
 * memory is reused), and the pieces are hashed one by one or encoded straight into one Buffer (malloc'd memory, reused).
 * The text is exactly `JSON.stringify(value)`'s.
 */

/** Arrays shorter than this are serialized whole: splitting a small one only adds work. */
export const SPLIT_AT = 16

const isPlain = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v) as unknown
  return (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function'
}

const isSplitArray = (v: unknown): v is unknown[] => Array.isArray(v) && v.length >= SPLIT_AT && typeof (v as { toJSON?: unknown }).toJSON !== 'function'

/**
 * Emits the JSON text of `value` in pieces whose concatenation is `JSON.stringify(value)`: an array of
 * {@link SPLIT_AT} or more elements one element at a time, and a plain object holding such an array one property at a
 * time. Anything else is one piece. Values with a `toJSON` are serialized by `JSON.stringify` on their own, so their
 * `toJSON` is called without the property name (Date's ignores it). Nothing is emitted for a value `JSON.stringify`
 * gives no text for (undefined, a function, a symbol).
 */
export function jsonPieces(value: unknown, emit: (piece: string) => void): void {
  if (isSplitArray(value)) {
    emit('[')
    for (let i = 0; i < value.length; i++) {
      if (i) emit(',')
      const text = JSON.stringify(value[i]) as string | undefined
      emit(text ?? 'null')
    }
    emit(']')
    return
  }
  if (isPlain(value) && Object.values(value).some(isSplitArray)) {
    emit('{')
    let first = true
    for (const key of Object.keys(value)) {
      const v = value[key]
      const split = isSplitArray(v)
      const text = split ? undefined : (JSON.stringify(v) as string | undefined)
      if (!split && text === undefined) continue
      emit(first ? `${JSON.stringify(key)}:` : `,${JSON.stringify(key)}:`)
      first = false
      if (split) jsonPieces(v, emit)
      else emit(text!)
    }
    emit('}')
    return
  }
  const text = JSON.stringify(value) as string | undefined
  if (text !== undefined) emit(text)
}

/** `JSON.stringify(value)` as UTF-8 bytes, built from {@link jsonPieces}. */
export function jsonBytes(value: unknown): Buffer {
  const parts: Buffer[] = []
  let length = 0
  jsonPieces(value, (s) => {
    const b = Buffer.from(s)
    parts.push(b)
    length += b.length
  })
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length)
}
