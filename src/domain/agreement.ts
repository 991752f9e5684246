import { checkPartyIndexes, notFuture } from './case-checks.js'
import { businessRule, validationFailed } from './errors.js'
import { coversAllParties } from './referral-machine.js'

/**
 * When a mediation agreement takes effect (contract §2 v1.1 `agreement`), for referrals and standalone judicial
 * confirmation applications alike. Pure: the caller passes the clock.
 *
 * - Written and electronic agreements (人民调解法 29, 在线调解规则 19): every party signed, the mediator signed
 *   (`mediatorSignedAt`) and the organization sealed it (`sealedAt`, seal or e-seal); effective at the latest of these.
 * - Oral agreements (人民调解法 30): effective when reached (`reachedAt`); signatures may be empty.
 */

/** The time-bearing fields of an agreement as a client sends it. */
export interface AgreementTimes {
  form: 'written' | 'oral' | 'electronic'
  signatures: ReadonlyArray<{ partyIndex: number; signedAt: string }>
  mediatorSignedAt?: string
  sealedAt?: string
  reachedAt?: string
  effectiveAt?: string
}

/**
 * The moment the agreement takes effect (ISO, UTC): the latest of the party signatures, `mediatorSignedAt` and
 * `sealedAt` for a written or electronic agreement; `reachedAt` for an oral one. `null` while a field it needs is
 * missing (no signature, signature or seal, or no `reachedAt`); it does not check that every party signed.
 */
export function agreementEffectiveAt(a: Omit<AgreementTimes, 'signatures'> & { signatures: ReadonlyArray<{ signedAt: string }> }): string | null {
  if (a.form === 'oral') return a.reachedAt === undefined ? null : new Date(a.reachedAt).toISOString()
  if (a.mediatorSignedAt === undefined || a.sealedAt === undefined || a.signatures.length === 0) return null
  const times = [...a.signatures.map((s) => s.signedAt), a.mediatorSignedAt, a.sealedAt].map((t) => new Date(t).getTime())
  return new Date(Math.max(...times)).toISOString()
}

/**
 * Checks an agreement of `partyCount` parties against the rules above and returns when it takes effect. `at` is
 * where the agreement sits in the body: '' for a referral's agreement, 'agreement' inside a confirmation application.
 *
 * - 400 `validation_failed`: a signature of a party that does not exist; an oral agreement without `reachedAt`;
 * - 422 `signatures_incomplete`: a written or electronic agreement not signed by every party, or without the
 *   mediator's signature or the seal (`extra.missing` names the missing fields);
 * - 422 `timestamp_in_future`: any of its times later than now (beyond the allowed skew);
 * - 422 `effective_at_mismatch`: a given `effectiveAt` that is not the moment computed (`extra.effectiveAt`).
 */
export function checkAgreement(partyCount: number, a: AgreementTimes, now: Date, at = ''): string {
  const p = at ? `${at}/` : ''
  const errors = checkPartyIndexes(
    partyCount,
    a.signatures.map((s, i) => ({ path: `/${p}signatures/${i}/partyIndex`, index: s.partyIndex })),
  )
  if (a.form === 'oral' && a.reachedAt === undefined) {
    errors.push({ path: `/${p}reachedAt`, code: 'required', message: '口头协议须填写达成时间 reachedAt（人民调解法 30）' })
  }
  if (errors.length) throw validationFailed(errors)
  if (a.form !== 'oral') {
    if (
      !coversAllParties(
        partyCount,
        a.signatures.map((s) => s.partyIndex),
      )
    ) {
      throw businessRule('signatures_incomplete', '调解协议须经全体当事人签署（人民调解法 29）', { missing: ['signatures'] })
    }
    const missing = [...(a.mediatorSignedAt === undefined ? ['mediatorSignedAt'] : []), ...(a.sealedAt === undefined ? ['sealedAt'] : [])]
    if (missing.length) {
      throw businessRule('signatures_incomplete', '书面或电子调解协议须有调解员签名和调解组织印章（人民调解法 29，在线调解规则 19）', { missing })
    }
  }
  for (const [i, s] of a.signatures.entries()) notFuture(s.signedAt, now, `${p}signatures/${i}/signedAt`)
  for (const field of ['mediatorSignedAt', 'sealedAt', 'reachedAt', 'effectiveAt'] as const) {
    const v = a[field]
    if (v !== undefined) notFuture(v, now, `${p}${field}`)
  }
  const effectiveAt = agreementEffectiveAt(a) as string
  if (a.effectiveAt !== undefined && new Date(a.effectiveAt).getTime() !== new Date(effectiveAt).getTime()) {
    throw businessRule(
      'effective_at_mismatch',
      `effectiveAt 与协议生效时间 ${effectiveAt} 不一致：书面与电子协议自当事人、调解员签名和盖章中最晚者生效，口头协议自达成时生效`,
      { effectiveAt },
      `effectiveAt differs from the agreement's effective time ${effectiveAt}: a written or electronic agreement takes effect at the latest of the party and mediator signatures and the seal, an oral one when reached`,
    )
  }
  return effectiveAt
}
