import { Queue, type ConnectionOptions } from 'bullmq'
import { Redis, type RedisOptions } from 'ioredis'

export const QUEUES = {
  /** Deadline timers: one delayed job per referral deadline (PostgreSQL's sweep is the truth behind them). */
  timers: 'timers',
  /** Webhook deliveries that come a few at a time: one job per delivery, job id = delivery id (many at once go to the pump). */
  deliveries: 'deliveries',
  /** Background operator jobs (subscription recovery). */
  jobs: 'jobs',
} as const

/** BullMQ job name of a time-window recovery (queue `jobs`): the API adds it, the worker runs it. */
export const RECOVERY_JOB = 'subscription-recovery'

/**
 * Redis connection options per BullMQ's production guide: workers wait for Redis forever (maxRetriesPerRequest
 * null); producers and request-path calls fail fast so an API request never hangs on a missing Redis.
 */
export function redisOptions(url: string, purpose: 'worker' | 'producer'): RedisOptions {
  const u = new URL(url)
  const base: RedisOptions = {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: false,
  }
  return purpose === 'worker'
    ? { ...base, maxRetriesPerRequest: null, enableReadyCheck: true }
    : { ...base, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000, commandTimeout: 2_000 }
}

export function createRedis(url: string, purpose: 'worker' | 'producer', onError: (err: Error) => void): Redis {
  const r = new Redis(redisOptions(url, purpose))
  r.on('error', onError)
  return r
}

export interface QueueSet {
  timers: Queue
  deliveries: Queue
  jobs: Queue
  close(): Promise<void>
}

export function createQueues(url: string, prefix: string, onError: (err: Error) => void): QueueSet {
  const connection = redisOptions(url, 'producer') as ConnectionOptions
  const make = (name: string) => {
    const q = new Queue(name, { connection, prefix })
    q.on('error', onError)
    return q
  }
  const timers = make(QUEUES.timers)
  const deliveries = make(QUEUES.deliveries)
  const jobs = make(QUEUES.jobs)
  return {
    timers,
    deliveries,
    jobs,
    async close() {
      await Promise.allSettled([timers.close(), deliveries.close(), jobs.close()])
    },
  }
}

/** BullMQ job name of a delivery attempt. */
export const DELIVERY_JOB = 'deliver'

export interface DeliveryJobData {
  deliveryId: string
}

/** Jobs vanish once finished: PostgreSQL keeps the history, and a finished id must be addable again (retries). */
const JOB_OPTS = { removeOnComplete: true, removeOnFail: true } as const

/**
 * Adds one job per delivery (job id = delivery id). An id that already has a job is left as it is, so adding
 * twice is harmless.
 */
export async function enqueueDeliveries(queue: Queue, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    await queue.addBulk(
      ids.slice(i, i + 500).map((id) => ({ name: DELIVERY_JOB, data: { deliveryId: id } satisfies DeliveryJobData, opts: { jobId: id, ...JOB_OPTS } })),
    )
  }
}

/**
 * Makes sure the delivery's job runs at `at` (now by default): adds it, or brings forward a job already waiting
 * in the delayed set (an operator retry of a delivery whose next attempt was hours away).
 */
export async function enqueueAt(queue: Queue, id: string, at?: Date): Promise<void> {
  const delay = at ? Math.max(0, at.getTime() - Date.now()) : 0
  const state = await queue.getJobState(id)
  if (state === 'delayed' && delay === 0) {
    const job = await queue.getJob(id)
    await job?.promote().catch(() => undefined)
    return
  }
  if (state === 'completed' || state === 'failed') {
    const job = await queue.getJob(id)
    await job?.remove().catch(() => undefined)
  }
  await queue.add(DELIVERY_JOB, { deliveryId: id } satisfies DeliveryJobData, { jobId: id, delay, ...JOB_OPTS })
}
