import { type Job, type Queue, Worker } from 'bullmq'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../../db/database.js'
import { findOverdue } from '../../db/referral-repository.js'
import { QUEUES, redisOptions } from '../../delivery/queues.js'
import { shanghaiDate } from '../../domain/calendar.js'
import { expiryDue } from '../../domain/referral-actions.js'
import { inWork, transitionCase } from '../case-kit.js'
import { referralKind } from './referral-service.js'

/**
 * Deadline timers, the system's own actions on referrals. A BullMQ delayed job fires at the end of the due day for
 * timeliness; a periodic sweep of PostgreSQL is the truth behind it (a wiped Redis or a restart loses no deadline).
 * Either way the expiry is a guarded transition on the locked row, through the same kit as every caller's action,
 * so it happens exactly once however many workers race for it.
 */
/** The delayed job of a deadline timer: fires a second after the due instant, one job per (referral, due instant). */
function timerJob(referralId: string, dueAt: Date) {
  return {
    name: 'expire',
    data: { referralId },
    opts: {
      jobId: `${referralId}_${dueAt.getTime()}`,
      delay: Math.max(0, dueAt.getTime() - Date.now() + 1_000),
      removeOnComplete: 1000,
      removeOnFail: 1000,
      attempts: 5,
      backoff: { type: 'exponential' as const, delay: 5_000 },
    },
  }
}

/** Jobs per `addBulk` (one MULTI each): a calendar recomputation may start thousands of timers in one turn. */
const BULK = 500

/**
 * Schedules the timers of the writes committed within one turn of the event loop together, in one `addBulk` (one
 * round trip to Redis) instead of one `add` each: concurrent intakes each start a timer. Each caller still waits
 * until its own timers are added, and learns of a failure (which the sweep makes good).
 */
export class TimerScheduler {
  #pending: Array<{ referralId: string; dueAt: Date }> = []
  #flush: Promise<void> | undefined

  constructor(private readonly queue: Queue) {}

  schedule(timers: ReadonlyArray<{ referralId: string; dueAt: Date }>): Promise<void> {
    if (!timers.length) return Promise.resolve()
    this.#pending.push(...timers)
    this.#flush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const batch = this.#pending
      this.#pending = []
      this.#flush = undefined
      const jobs = batch.map((t) => timerJob(t.referralId, t.dueAt))
      const chunks = Array.from({ length: Math.ceil(jobs.length / BULK) }, (_, i) => jobs.slice(i * BULK, (i + 1) * BULK))
      return Promise.all(chunks.map((c) => this.queue.addBulk(c))).then(() => undefined)
    })
    return this.#flush
  }
}

/** Expires the referral if (and only if) a deadline has passed as of `today`. Returns whether it transitioned. */
export async function expireIfDue(db: Kysely<Database>, referralId: string, today: string, now = new Date()): Promise<boolean> {
  const done = await inWork(db, (work) =>
    transitionCase(work, referralKind, {
      id: referralId,
      by: 'system',
      now,
      action: (r) => expiryDue(r, today, now)?.action ?? null,
      apply: (r) => (expiryDue(r, today, now) as NonNullable<ReturnType<typeof expiryDue>>).after,
    }),
  )
  return done !== undefined
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
