import type { Worker } from 'bullmq'
import type { Deps } from './deps.js'
import { deleteExpired } from './db/idempotency-repository.js'
import { startTimerWorker, sweepOverdue } from './cases/referrals/referral-timers.js'
import { sweepSupplementOverdue } from './cases/confirmations/confirmation-timers.js'
import { sweepWarningOverdue } from './cases/warnings/warning-timers.js'
import { startDeliveryWorker } from './delivery/delivery-worker.js'
import { maintainMaterials } from './delivery/maintenance.js'

export interface RunningWorkers {
  close(): Promise<void>
}

/** Idempotency keys are kept at least 24 h (contract §1); they are removed after 48 h. */
const IDEMPOTENCY_RETENTION_HOURS = 48

/**
 * The background side: BullMQ workers for timeliness, plus periodic sweeps of PostgreSQL that make Redis
 * disposable (they re-create whatever Redis lost). Every sweep is safe to run in several processes at once.
 */
export function startWorkers(deps: Deps, opts: { sweepIntervalMs?: number; materialsIntervalMs?: number } = {}): RunningWorkers {
  const log = deps.logger.child({ component: 'worker' })
  const workers: Worker[] = [startTimerWorker(deps.db, deps.config.redisUrl, deps.config.queuePrefix, log, () => deps.outboxSignal.wake())]
  const timers: NodeJS.Timeout[] = []
  let closing = false

  const every = (name: string, ms: number, fn: () => Promise<unknown>) => {
    let running = false
    const tick = async () => {
      if (running || closing) return
      running = true
      try {
        await fn()
      } catch (err) {
        log.warn({ err: { message: (err as Error).message }, sweep: name }, 'sweep failed; will retry')
      } finally {
        running = false
      }
    }
    timers.push(setInterval(tick, ms).unref())
    setImmediate(tick)
  }

  every('deadlines', opts.sweepIntervalMs ?? 60_000, async () => {
    const n = await sweepOverdue(deps.db)
    if (n) {
      deps.outboxSignal.wake()
      log.info({ expired: n }, 'deadline sweep expired referrals')
    }
  })
  // Judicial confirmations: ordered materials not supplied by the end of dueOn → deemed withdrawn (民诉法解释 357).
  every('confirmation-deadlines', opts.sweepIntervalMs ?? 60_000, async () => {
    const n = await sweepSupplementOverdue(deps.db)
    if (n) {
      deps.outboxSignal.wake()
      log.info({ deemedWithdrawn: n }, 'confirmation sweep deemed applications withdrawn')
    }
  })
  // Warnings not acknowledged within their level's time → one warning.overdue each (contract §5 v1.1).
  every('warning-overdue', opts.sweepIntervalMs ?? 60_000, async () => {
    const n = await sweepWarningOverdue(deps.db)
    if (n) {
      deps.outboxSignal.wake()
      log.info({ overdue: n }, 'warning sweep marked warnings overdue')
    }
  })
  every('idempotency-keys', 3_600_000, () => deleteExpired(deps.db, IDEMPOTENCY_RETENTION_HOURS))
  // Material storage: half-written uploads and materials no case references (src/delivery/maintenance.ts).
  every('materials', opts.materialsIntervalMs ?? 300_000, () =>
    maintainMaterials({ db: deps.db, logger: log }, { orphanTtlHours: deps.config.materialOrphanTtlHours }),
  )
  // Webhook delivery: relay + BullMQ worker + pump; the poll and the sweeper make Redis and the wake-ups disposable.
  // Delivery bookkeeping runs on its own pool with asynchronous commit (Deps.deliveryDb).
  const delivery = startDeliveryWorker({ ...deps, db: deps.deliveryDb })
  // Writers in this process wake this relay directly, without a Redis round trip.
  const unregister = deps.outboxSignal.onWake(() => delivery.relay.kick())
  every('outbox-relay', 2_000, () => delivery.relay.drain())
  every('delivery-sweep', 5_000, () => delivery.sweep())

  return {
    async close() {
      closing = true
      for (const t of timers) clearInterval(t)
      unregister()
      await Promise.allSettled(workers.map((w) => w.close()))
      await delivery.close()
    },
  }
}

/**
 * Deadlines falling in a year without a published State Council arrangement use the statutory fallback and are
 * marked provisional; say so at start-up so operators publish the year with PUT /v1/calendar/{year}.
 */
export async function warnIfProvisional(deps: Pick<Deps, 'calendar' | 'logger'>, logger = deps.logger): Promise<void> {
  const { publishedYears, provisionalFrom } = await deps.calendar.coverage()
  const nextYear = new Date().getUTCFullYear() + 1
  if (nextYear >= provisionalFrom) {
    logger.warn(
      { publishedYears, provisionalFrom },
      `no published holiday arrangement from ${provisionalFrom}: deadlines reaching it use the statutory days and are provisional`,
    )
  }
}
