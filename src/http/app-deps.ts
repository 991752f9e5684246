import type { Redis } from 'ioredis'
import type { EventEnvelope } from '../domain/event-chain.js'
import type { CommitHints } from '../cases/case-kit.js'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Config } from '../config/config.js'
import type { QueueSet } from '../delivery/queues.js'
import type { AccessTrail } from '../db/access-log-repository.js'
import type { Database } from '../db/database.js'
import type { BootstrapOperator } from './auth.js'
import type { CalendarProvider } from '../db/calendar-repository.js'
import type { FieldCipher } from '../security/field-cipher.js'

/** What the HTTP layer needs from the composition root (src/deps.ts). Tests build it from real connections. */
export interface AppDeps {
  config: Config
  logger: Logger
  db: Kysely<Database>
  /** Fail-fast Redis connection for rate limits, readiness and queue nudges. */
  redis: Redis
  calendar: CalendarProvider
  cipher: FieldCipher
  bootstrap?: BootstrapOperator
  metrics: Registry
  /** Batched access-trail writer for read requests. */
  accessTrail: AccessTrail
  /** Producer side of the BullMQ queues (fail-fast connection). */
  queues: QueueSet
  /** Called after a transaction that wrote events commits: wakes the relay and schedules timers. Best effort. */
  afterCommit: (hints: CommitHints) => Promise<void>
  /**
   * INTEGRATION POINT (contract §4 signed receipts): signs the receipt (JWS) of an event a write produced. Batch
   * intake (src/http/referral-batch.ts) puts it in each created item's `receipt`; unset, items carry none.
   */
  receiptFor?: ReceiptHook
}

/** Signs the receipt of an event (contract §4), e.g. a JWS over the event's id, subject, sequence and hash. */
export type ReceiptHook = (event: EventEnvelope) => string | Promise<string>

export type { CommitHints }
