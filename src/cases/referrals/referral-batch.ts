import { sql } from 'kysely'
import { claimKeys, findStoredMany, type Outcome as StoredOutcome, replayOf, type StoredResponse } from '../../db/idempotency-repository.js'
import { assertMaterialsExist, linkMaterials } from '../../db/material-repository.js'
import { activeCaseKeys, caseKey, insertIntakes, type IntakeRows, organizationsById } from '../../db/referral-batch-repository.js'
import { endOfShanghaiDay } from '../../domain/calendar.js'
import { AppError, conflict } from '../../domain/errors.js'
import type { EventEnvelope } from '../../domain/event-chain.js'
import { personalFields, type Referral } from '../../domain/referral.js'
import * as rules from '../../domain/referral-actions.js'
import type { CreateReferralInput } from '../../schemas/referrals.js'
import type { Caller, CaseDeps, CommitHints, Work } from '../case-kit.js'
import { DUPLICATE_DETAIL, newIntake } from './referral-service.js'

/**
 * Batch intake (contract §2 v1.1, `POST /v1/referrals/batch`): each item judged and written exactly as
 * `POST /v1/referrals` would with its body and its Idempotency-Key, as if the items were sent one after another in
 * request order, but in ONE transaction (one commit, one fsync) and one multi-row statement per table.
 *
 * How an item is judged, in the order of the single route:
 *   1. the body alone (schema, identifiers, intake rules: 400 / 422), before any unit of work — see {@link judgeBody};
 *   2. its Idempotency-Key: held by another request in flight → 409 idempotency_key_in_use; an answer stored under it
 *      (by a single POST, by an earlier batch, or by an earlier item of this batch) → that answer again when the body
 *      is the same (a replay), 422 idempotency_key_reused when it differs; a refused item stores nothing, so a later
 *      item with the same key is judged afresh, as a retried single POST would be;
 *   3. the organization's roster (422), the materials (422 unknown_material), the 案号 (409 duplicate_referral against
 *      the active referrals and against the earlier items of this batch).
 * Nothing can fail at the write that the checks passed, except a 案号 taken by a concurrent transaction after the
 * check: the referrals go in with `ON CONFLICT DO NOTHING` and every other row of an intake only if its referral
 * went in. When one did not, the batch rolls back to its savepoint (taken before any of its writes) and judges again:
 * the check then sees the other transaction's referral, and that item alone answers 409 duplicate_referral.
 */

/** An item once its body was judged: the body and its 案号, or the refusal a single POST would have answered. */
export interface PreparedItem {
  key: string
  /** The request hash of the item's single POST (method, URL, body), as stored answers are matched. */
  hash: string
  body?: CreateReferralInput
  caseNumber?: string
  refused?: Error
}

export type ItemOutcome =
  | { kind: 'created'; referral: Referral; event: EventEnvelope; stored: StoredResponse }
  /** A stored answer given again; `sourceIndex` when it is the answer of an earlier item of this batch. */
  | { kind: 'replay'; answer: StoredOutcome; sourceIndex?: number }
  | { kind: 'refused'; error: Error }

/** How many times the batch judges again after concurrent transactions took 案号 it had checked. */
const MAX_ATTEMPTS = 5

/**
 * Step 1, pure: the intake rules the single route judges from the body alone (after its schema), and the refusal
 * of an item that uses the request's own Idempotency-Key (the request holds that key while in flight).
 */
export function judgeBody(caller: Caller, item: { key: string; hash: string; body: CreateReferralInput }, requestKey: string, now: Date): PreparedItem {
  try {
    const { caseNumber } = rules.checkReferralIntake(item.body, caller.principal, now)
    if (item.key === requestKey) throw inUse()
    return { ...item, caseNumber }
  } catch (error) {
    if (!(error instanceof AppError)) throw error
    return { key: item.key, hash: item.hash, refused: error }
  }
}

const inUse = () => conflict('idempotency_key_in_use', '相同 Idempotency-Key 的请求正在处理中，请稍后重试')

export interface BatchRun {
  outcomes: ItemOutcome[]
  hints: CommitHints
}

/**
 * Steps 2 and 3 and the write, in the unit of work. `answerOf` renders a created referral's stored answer (its
 * view with personal data masked, status 201), as the single route stores it under the item's key.
 */
export async function runBatch(
  deps: CaseDeps,
  work: Work,
  caller: Caller,
  items: readonly PreparedItem[],
  answerOf: (key: string, hash: string, r: Referral) => StoredResponse,
): Promise<BatchRun> {
  const { trx } = work
  const p = caller.principal
  const live = items.filter((i) => !i.refused)
  const held = await claimKeys(
    trx,
    p.clientId,
    live.map((i) => i.key),
  )
  const prior = await findStoredMany(
    trx,
    p.clientId,
    live.filter((i) => !held.has(i.key)).map((i) => i.key),
  )
  const orgs = await organizationsById(
    trx,
    live.map((i) => i.body!.designation.organizationId),
  )
  const cal = await deps.calendar.get()
  await sql`SAVEPOINT referral_batch`.execute(trx)
  for (let attempt = 1; ; attempt++) {
    const now = new Date()
    const taken = await activeCaseKeys(
      trx,
      live.map((i) => ({ courtCode: i.body!.courtCode, caseNumber: i.caseNumber! })),
    )
    const answered = new Map<string, { stored: StoredResponse; index?: number }>([...prior].map(([k, stored]) => [k, { stored }]))
    const outcomes: ItemOutcome[] = []
    const intakes: IntakeRows[] = []
    for (const [index, item] of items.entries()) {
      outcomes.push(await judge(index, item))
    }
    const inserted = await insertIntakes(trx, intakes)
    if (inserted.size === intakes.length) {
      const created = outcomes.filter((o): o is Extract<ItemOutcome, { kind: 'created' }> => o.kind === 'created')
      const timers = created.flatMap((o) => {
        const due = rules.pendingDeadline(o.referral)
        return due ? [{ referralId: o.referral.id, dueAt: endOfShanghaiDay(due) }] : []
      })
      return { outcomes, hints: { events: created.length > 0, timers } }
    }
    if (attempt >= MAX_ATTEMPTS) throw new Error('batch intake: its case numbers kept being taken by concurrent transactions')
    await sql`ROLLBACK TO SAVEPOINT referral_batch`.execute(trx)

    async function judge(index: number, item: PreparedItem): Promise<ItemOutcome> {
      if (item.refused) return { kind: 'refused', error: item.refused }
      if (held.has(item.key)) return { kind: 'refused', error: inUse() }
      const before = answered.get(item.key)
      if (before) {
        try {
          return { kind: 'replay', answer: replayOf(before.stored, item.hash), ...(before.index !== undefined ? { sourceIndex: before.index } : {}) }
        } catch (error) {
          return { kind: 'refused', error: error as Error }
        }
      }
      const b = item.body!
      try {
        const org = rules.designated(b.courtCode, b.designation.mode, orgs.get(b.designation.organizationId))
        const materialIds = (b.materials ?? []).map((m) => m.materialId)
        await assertMaterialsExist(trx, materialIds, p)
        const at = caseKey(b.courtCode, item.caseNumber!)
        if (taken.has(at)) throw conflict('duplicate_referral', DUPLICATE_DETAIL)
        const { referral, hashes, event } = newIntake(deps, cal, p, b, item.caseNumber!, org, now)
        // Rolled back with the savepoint when the batch judges again.
        await linkMaterials(trx, 'referral', referral.id, materialIds)
        taken.add(at)
        const stored = answerOf(item.key, item.hash, referral)
        answered.set(item.key, { stored, index })
        intakes.push({
          referral,
          hashes,
          event: {
            envelope: event.envelope,
            hash: event.hash,
            prevHash: event.prevHash,
            scope: { courtCode: b.courtCode, organizationId: org.id, regionCode: org.regionCode },
          },
          // The referring court sees its referral in full: recorded like the single intake's (recordFullView).
          access: { clientId: p.clientId, fields: personalFields(referral), requestId: caller.requestId },
          stored: { clientId: p.clientId, key: item.key, answer: stored },
        })
        return { kind: 'created', referral, event: event.envelope, stored }
      } catch (error) {
        if (!(error instanceof AppError)) throw error
        return { kind: 'refused', error }
      }
    }
  }
}
