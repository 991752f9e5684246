import type { Redis } from 'ioredis'
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
import type { DecryptPool } from '../security/decrypt-pool.js'
import type { FieldCipher } from '../security/field-cipher.js'
import type { ReceiptSigner } from '../security/receipts.js'

/** What the HTTP layer needs from the composition root (src/deps.ts). Tests build it from real connections. */
export interface AppDeps {
  config: Config
  logger: Logger
  db: Kysely<Database>
  /** Fail-fast Redis connection for rate limits, readiness and queue nudges. */
  redis: Redis
  calendar: CalendarProvider
  cipher: FieldCipher
  /** Decrypts a list page's personal data off the event loop (DECRYPT_THREADS); without it pages decrypt inline. */
  decryptPool?: DecryptPool
  /** Signs the receipts of writes on cases and publishes their keys (contract §4). */
  receipts: ReceiptSigner
  bootstrap?: BootstrapOperator
  metrics: Registry
  /** Batched access-trail writer for read requests. */
  accessTrail: AccessTrail
  /** Producer side of the BullMQ queues (fail-fast connection). */
  queues: QueueSet
  /** Called after a transaction that wrote events commits: wakes the relay and schedules timers. Best effort. */
  afterCommit: (hints: CommitHints) => Promise<void>
}

export type { CommitHints }
