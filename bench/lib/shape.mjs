/**
 * Rows in the shape the service writes, built with the service's own functions (from dist/): the sealed
 * parties and blind indexes of POST /v1/referrals, and the masked referral view carried by events.
 */
import { maskedReferralView as maskedView } from '../../dist/src/domain/referral.js'
import { sealParties } from '../../dist/src/cases/parties.js'
import { FieldCipher, parseDataKeys } from '../../dist/src/security/field-cipher.js'
import { BENCH_DATA_KEYS } from './service.mjs'

export { maskedView }

/** The field cipher of the bench's fixed DATA_KEYS (the service under test is started with the same keys). */
export function benchCipher() {
  return new FieldCipher(parseDataKeys(BENCH_DATA_KEYS))
}

/** referrals.doc as POST /v1/referrals stores it, and the party blind-index hashes. */
export function intakeDoc(cipher, body, deadlines) {
  const { stored, hashes } = sealParties(cipher, body.parties)
  const doc = {
    ...(body.procedure ? { procedure: body.procedure } : {}),
    ...(body.causeOfAction !== undefined ? { causeOfAction: body.causeOfAction } : {}),
    claimSummary: body.claimSummary,
    ...(body.claimAmount !== undefined ? { claimAmount: body.claimAmount } : {}),
    parties: stored,
    consent: body.consent,
    designation: body.designation,
    materials: body.materials ?? [],
    deadlines,
  }
  return { doc, hashes }
}
