/**
 * Masking and detection of personal data (contract §1, PIPL art. 6 and 51).
 *
 * Everyone except the referring court and the handling organization sees ID numbers and phones masked, and
 * neither may ever appear unmasked in logs or event payloads. These helpers are pure so that the HTTP layer,
 * the event builder and the log redaction all mask the same way, and so that tests can scan output for leaks.
 */

/** How many leading code points a masked value keeps (contract §1: `110***********1234`, `138****5678`). */
const KEEP_HEAD = 3
/** How many trailing code points a masked value keeps. */
const KEEP_TAIL = 4
const MASK_CHAR = '*'

/**
 * Keeps the first {@link KEEP_HEAD} and last {@link KEEP_TAIL} code points and stars everything in between.
 *
 * Counting in code points (not UTF-16 units) matters because the contract counts text lengths in code points
 * and because slicing a surrogate pair in half would produce an invalid string. A value too short to keep
 * both ends without revealing all of it is starred completely.
 */
function maskMiddle(value: string): string {
  const chars = Array.from(value)
  if (chars.length <= KEEP_HEAD + KEEP_TAIL) {
    return MASK_CHAR.repeat(chars.length)
  }
  return chars.slice(0, KEEP_HEAD).join('') + MASK_CHAR.repeat(chars.length - KEEP_HEAD - KEEP_TAIL) + chars.slice(chars.length - KEEP_TAIL).join('')
}

/**
 * Masks a resident ID number for readers who may not see it in full: `110105194912310021` → `110***********0021`.
 *
 * The mask keeps the length, so a reader can still tell an 18-character number from a malformed one, while the
 * birth date and the sequence number in the middle stay hidden.
 */
export function maskIdNumber(idNumber: string): string {
  return maskMiddle(idNumber)
}

/**
 * Masks a phone number for readers who may not see it in full: `13812345678` → `138****5678`.
 *
 * The first three digits (carrier prefix) and the last four are what a human needs to tell two numbers apart.
 */
export function maskPhone(phone: string): string {
  return maskMiddle(phone)
}

/**
 * Full 18-character resident ID numbers that are not part of a longer run of digits.
 * A lower-case `x` check character is included because it is still the same person's number.
 */
const ID_NUMBER_PATTERN = /(?<![\d.])\d{17}[\dXx](?!\d)/g
/**
 * Mainland mobile numbers (`1` followed by ten digits) that are not part of a longer run of digits, nor the
 * fraction of a decimal number (a log line's `"responseTime":12.10987654321` is not a phone).
 */
const MOBILE_PATTERN = /(?<![\d.])1\d{10}(?!\d)/g
/** UUIDs and hex digests carry long digit runs by chance; they are identifiers, not personal data. */
const HEX_IDENTIFIERS = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<![0-9a-z])[0-9a-f]{32,}(?![0-9a-z])/gi

/**
 * Finds full ID numbers and mobile numbers in free text, in order of appearance.
 *
 * Used by tests that scan every log line and event payload of a run (reliability row 22): a non-empty result
 * means unmasked personal data escaped. Digit-run boundaries keep long numeric identifiers such as millisecond
 * timestamps from being reported as phones.
 */
export function scanForPersonalData(text: string): string[] {
  const hits: Array<{ index: number; value: string }> = []
  // Blank out UUIDs and digests first (same length, so indexes stay put): `…-a15704332219` is not a phone.
  const scanned = text.replace(HEX_IDENTIFIERS, (m) => ' '.repeat(m.length))
  for (const pattern of [ID_NUMBER_PATTERN, MOBILE_PATTERN]) {
    for (const match of scanned.matchAll(pattern)) {
      hits.push({ index: match.index ?? 0, value: match[0] })
    }
  }
  hits.sort((a, b) => a.index - b.index)
  return hits.map((hit) => hit.value)
}

/** Masks an address: the first six code points (province, city, district as a rule) and up to eight stars. */
export function maskAddress(address: string): string {
  const cps = [...address]
  return cps.length <= 6 ? MASK_CHAR.repeat(cps.length) : `${cps.slice(0, 6).join('')}${MASK_CHAR.repeat(Math.min(cps.length - 6, 8))}`
}

/**
 * Masks the full ID numbers and mobile numbers found in free text (the patterns of {@link scanForPersonalData}),
 * leaving everything else as written: `联系人 13812345678` → `联系人 138****5678`. For texts that go into events
 * (warning notes and reports), which must never carry personal data unmasked whoever reads them.
 */
export function maskPersonalDataInText(text: string): string {
  const scanned = text.replace(HEX_IDENTIFIERS, (m) => ' '.repeat(m.length))
  const hits: Array<{ index: number; value: string }> = []
  for (const pattern of [ID_NUMBER_PATTERN, MOBILE_PATTERN]) {
    for (const match of scanned.matchAll(pattern)) hits.push({ index: match.index ?? 0, value: match[0] })
  }
  if (!hits.length) return text
  // Right to left, so earlier indexes stay valid (masks keep the length anyway: all matches are ASCII digits).
  hits.sort((a, b) => b.index - a.index)
  let out = text
  for (const h of hits) out = out.slice(0, h.index) + maskMiddle(h.value) + out.slice(h.index + h.value.length)
  return out
}
