import type { Kysely } from 'kysely'
import { findSupplementOverdue } from '../../db/confirmation-repository.js'
import type { Database } from '../../db/database.js'
import { shanghaiDate } from '../../domain/calendar.js'
import { deemedWithdrawal } from '../../domain/confirmation-actions.js'
import { inWork, transitionCase } from '../case-kit.js'
import { confirmationKind } from './confirmation-service.js'

/**
 * The system's own action on judicial confirmations: materials the court ordered (民诉法解释 354) and not supplied
 * by the end of `dueOn` (Asia/Shanghai) → the application is deemed withdrawn (357). A periodic sweep of
 * PostgreSQL drives it (src/worker-runtime.ts); each withdrawal is a guarded transition on the locked row through
 * the case kit, so it happens exactly once however many workers race for it, and never after a supplement won.
 */

/** Deems the application withdrawn if (and only if) its materials are overdue as of `today`. Returns whether it did. */
export async function deemWithdrawnIfDue(db: Kysely<Database>, id: string, today: string, now = new Date()): Promise<boolean> {
  const done = await inWork(db, (work) =>
    transitionCase(work, confirmationKind, {
      id,
      by: 'system',
      now,
      action: (c) => (deemedWithdrawal(c, { now, today }) ? 'deem_withdrawn' : null),
      apply: (c) => deemedWithdrawal(c, { now, today }) as NonNullable<ReturnType<typeof deemedWithdrawal>>,
    }),
  )
  return done !== undefined
}

/** Deems withdrawn every application whose materials are overdue as of `today`; returns how many transitioned. */
export async function sweepSupplementOverdue(db: Kysely<Database>, today = shanghaiDate(new Date()), now = new Date(), batch = 500): Promise<number> {
  let total = 0
  for (;;) {
    const due = await findSupplementOverdue(db, today, batch)
    let n = 0
    for (const d of due) if (await deemWithdrawnIfDue(db, d.id, today, now)) n++
    total += n
    if (due.length < batch || n === 0) return total
  }
}
