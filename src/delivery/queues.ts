import { Queue, type ConnectionOptions } from 'bullmq'
import { Redis, type RedisOptions } from 'ioredis'

export const QUEUES = {
  /** Deadline timers: one delayed job per referral deadline (PostgreSQL's sweep is the truth behind them). */
  timers: 'timers',
  /** Webhook deliveries: one job per delivery row, job id = delivery id. */
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
