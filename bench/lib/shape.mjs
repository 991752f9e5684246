/**
 * Rows in the shape the service writes, built with the service's own functions (from dist/): the sealed
 * parties and blind indexes of POST /v1/referrals, and the masked referral view carried by events.
 */
import { maskedReferralView as maskedView, personalFields, referralView } from '../../dist/src/domain/referral.js'
import { differingStrings } from '../../dist/src/http/idempotency.js'
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

/**
 * One intake as the `rawSameRows` baseline writes it (bench/lib/pg-same-rows.mjs): the referral as the service builds
 * it (sealed parties, deadlines; ids, 案号 and instants are drawn per transaction by the baseline), its blind-index
 * hashes, the personal fields its access-trail row names, and the paths of the strings its stored answer holds masked.
 */
export function sameRowsTemplate(cipher, body, deadlines, regionCode) {
  const { doc, hashes } = intakeDoc(cipher, body, deadlines)
  const org = body.designation.organizationId
  const now = new Date()
  const ref = {
    id: '00000000-0000-7000-8000-000000000000',
    version: 1,
    status: 'referred',
    referralType: body.referralType,
    courtCode: body.courtCode,
    caseNumber: body.caseNumber,
    disputeType: body.disputeType,
    organizationId: org,
    heldBy: [org],
    chainHead: '',
    doc,
    createdAt: now,
    updatedAt: now,
  }
  const decrypt = (token, context) => cipher.decrypt(token, context)
  const paths = differingStrings(referralView(ref, true, decrypt), referralView(ref, false, decrypt))
  return { referral: ref, hashes, fields: personalFields(ref), paths, regionCode }
}
