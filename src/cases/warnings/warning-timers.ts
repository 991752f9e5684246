import type { Kysely } from 'kysely'
import type { Database } from '../../db/database.js'
import { findAcknowledgementOverdue } from '../../db/warning-repository.js'
import { markOverdueIfDue } from './warning-service.js'

/**
 * The overdue timer of warnings (contract §5 v1.1): a warning nobody acknowledged within its level's time (red 2 h,
 * orange 12 h, yellow 24 h) gets one `warning.overdue` event. The due time is stored with the warning in PostgreSQL
 * (warnings.ack_due_at, indexed for this scan), and the worker sweeps it periodically (src/worker-runtime.ts), so
 * nothing depends on Redis: a FLUSHALL or a restart loses no timer, it fires at the next sweep. Each mark is a
 * guarded transition on the locked row (markOverdueIfDue), so racing sweeps in several workers write it once.
 */
export async function sweepWarningOverdue(db: Kysely<Database>, now = new Date(), batch = 500): Promise<number> {
  let total = 0
  for (;;) {
    const due = await findAcknowledgementOverdue(db, now, batch)
    let n = 0
    for (const d of due) if (await markOverdueIfDue(db, d.id, now)) n++
    total += n
    if (due.length < batch || n === 0) return total
  }
}
