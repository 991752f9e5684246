import { type Job, type Queue, Worker } from 'bullmq'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import { commitTransition, findOverdue, holderRegions, lockReferral } from '../db/referral-repository.js'
import { shanghaiDate } from '../domain/calendar.js'
import { decideTransition, SYSTEM_DECLINE_REASON, SYSTEM_TERMINATION_REASON } from '../domain/referral-machine.js'
import { referralView, type Referral } from '../domain/referral.js'
import { QUEUES, redisOptions } from './queues.js'

/**
 * Deadline timers. A BullMQ delayed job fires at the end of the due day for timeliness; a periodic sweep of
 * PostgreSQL is the truth behind it (a wiped Redis or a restart loses no deadline). Either way the expiry is a
 * guarded transition on the locked row, so it happens exactly once however many workers race for it.
 */
export async function scheduleTimer(queue: Queue, referralId: string, dueAt: Date): Promise<void> {
  const delay = Math.max(0, dueAt.getTime() - Date.now() + 1_000)
  await queue.add('expire', { referralId }, { jobId: `${referralId}_${dueAt.getTime()}`, delay, removeOnComplete: 1000, removeOnFail: 1000, attempts: 5, backoff: { type: 'exponential', delay: 5_000 } })
}

const masked = (r: Referral) => referralView(r, false, () => '')

/** Expires the referral if (and only if) a deadline has passed as of `today`. Returns whether it transitioned. */
export async function expireIfDue(db: Kysely<Database>, referralId: string, today: string, now = new Date()): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const r = await lockReferral(trx, referralId)
    if (!r) return false
    let after: Referral
    let action: 'acceptance_timeout' | 'mediation_timeout'
    if (r.status === 'referred' && r.doc.deadlines.acceptanceDueOn && r.doc.deadlines.acceptanceDueOn < today) {
      action = 'acceptance_timeout'
      after = { ...r, doc: { ...r.doc, decline: { reason: SYSTEM_DECLINE_REASON, declinedAt: now.toISOString(), by: 'system' } } }
    } else if (r.status === 'mediating' && r.doc.deadlines.mediationDueOn && r.doc.deadlines.mediationDueOn < today) {
      action = 'mediation_timeout'
      after = { ...r, doc: { ...r.doc, termination: { reason: SYSTEM_TERMINATION_REASON, terminatedAt: now.toISOString(), by: 'system' } } }
    } else {
      return false
    }
    const d = decideTransition(r.status, action, 'system', r.referralType)
    if (!d.ok) return false
    const next: Referral = { ...after, status: d.to }
    const [region] = await holderRegions(trx, [next.organizationId])
    await commitTransition(trx, {
      before: r,
      after: next,
      eventType: d.event,
      actor: 'system',
      eventData: { referral: masked({ ...next, version: r.version + 1, updatedAt: now }) },
      holderRegion: region?.regionCode || null,
      now,
    })
    return true
  })
}

/** Expires everything overdue as of `today`; returns how many transitioned. */
export async function sweepOverdue(db: Kysely<Database>, today = shanghaiDate(new Date()), batch = 500): Promise<number> {
  let total = 0
  for (;;) {
    const due = await findOverdue(db, today, batch)
    let n = 0
    for (const d of due) if (await expireIfDue(db, d.id, today)) n++
    total += n
    if (due.length < batch || n === 0) return total
  }
}

/** `onExpired` runs after an expiry committed (it wakes the outbox relay). */
export function startTimerWorker(db: Kysely<Database>, redisUrl: string, prefix: string, logger: Logger, onExpired: () => void = () => undefined): Worker {
  const worker = new Worker(
    QUEUES.timers,
    async (job: Job<{ referralId: string }>) => {
      if (await expireIfDue(db, job.data.referralId, shanghaiDate(new Date()))) onExpired()
    },
    { connection: redisOptions(redisUrl, 'worker') as never, prefix, concurrency: 10, maxStalledCount: 10 },
  )
  worker.on('error', (err) => logger.warn({ err: { message: err.message } }, 'timer worker error'))
  return worker
}
