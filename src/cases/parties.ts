import { normalizeResidentId } from '../domain/identifiers.js'
import { maskAddress, maskIdNumber, maskPhone } from '../domain/personal-data.js'
import { type Revealed, revealedKey, type Sealed, type StoredParty } from '../domain/referral.js'
import type { PartyInputT } from '../schemas/referrals.js'
import type { FieldCipher } from '../security/field-cipher.js'

/**
 * Sealing parties for storage (contract §8): each ID number, phone and address encrypted with the data keys and
 * kept beside its masked form; each party's ID number also gives a blind index for exact searches.
 */

function seal(cipher: FieldCipher, value: string, mask: (s: string) => string, context: string, revealed: Map<string, string>): Sealed {
  const enc = cipher.encrypt(value, context)
  revealed.set(revealedKey(enc, context), value)
  return { enc, masked: mask(value) }
}

const normalizedId = (idType: string | undefined, idNumber: string) => (idType === 'resident_id' ? normalizeResidentId(idNumber) : idNumber)

/**
 * The parties as stored, the blind-index hashes of their ID numbers, and what was sealed by token and field
 * ({@link Revealed}: the writer's answer shows it without decrypting what it has just encrypted).
 */
export function sealParties(cipher: FieldCipher, parties: PartyInputT[]): { stored: StoredParty[]; hashes: string[]; revealed: Revealed } {
  const hashes: string[] = []
  const revealed = new Map<string, string>()
  const stored = parties.map((p): StoredParty => {
    const idNumber = normalizedId(p.idType, p.idNumber)
    hashes.push(cipher.blindIndex(idNumber, 'idNumber'))
    return {
      role: p.role,
      kind: p.kind,
      name: p.name,
      idType: p.idType,
      idNumber: seal(cipher, idNumber, maskIdNumber, 'idNumber', revealed),
      ...(p.phone ? { phone: seal(cipher, p.phone, maskPhone, 'phone', revealed) } : {}),
      ...(p.address ? { address: seal(cipher, p.address, maskAddress, 'address', revealed) } : {}),
      ...(p.agents
        ? {
            agents: p.agents.map(({ idNumber, phone, ...rest }) => ({
              ...rest,
              ...(idNumber ? { idNumber: seal(cipher, normalizedId(rest.idType, idNumber), maskIdNumber, 'idNumber', revealed) } : {}),
              ...(phone ? { phone: seal(cipher, phone, maskPhone, 'phone', revealed) } : {}),
            })),
          }
        : {}),
    }
  })
  return { stored, hashes, revealed }
}
