import type { Redis } from 'ioredis'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import type pg from 'pg'
import type { Config } from './config/config.js'
import { AccessTrail } from './db/access-log-repository.js'
import { CalendarProvider } from './db/calendar-repository.js'
import { insertClient } from './db/client-repository.js'
import { createDb } from './db/connection.js'
import { migrateToLatest } from './db/migrate.js'
import type { Database } from './db/database.js'
import { createQueues, createRedis } from './delivery/queues.js'
import { OutboxSignal, outboxChannel } from './delivery/outbox-signal.js'
import { ChannelSubscriber } from './delivery/pubsub.js'
import { TimerScheduler } from './cases/referrals/referral-timers.js'
import type { AppDeps, CommitHints } from './http/app-deps.js'
import type { BootstrapOperator } from './http/auth.js'
import { hashApiKey } from './security/api-keys.js'
import { DecryptPool } from './security/decrypt-pool.js'
import { FieldCipher, parseDataKeys } from './security/field-cipher.js'
import { loadOrCreateKeyFile, loadOrCreateReceiptKey } from './security/key-file.js'
import { parseReceiptKeys, ReceiptSigner } from './security/receipts.js'
import { keyIdsInUse } from './db/key-rotation.js'

/** Stored personal data needs data keys that are not configured (DATA_KEYS or DATA_KEYS_FILE). */
export class MissingDataKeysError extends Error {
  constructor(readonly keyIds: string[]) {
    super(`stored data was encrypted with data key(s) ${keyIds.join(', ')}, which are not configured: add them to DATA_KEYS (or restore DATA_KEYS_FILE)`)
    this.name = 'MissingDataKeysError'
  }
}

/** The fixed id of the client behind OPERATOR_API_KEY (a row exists so it can own subscriptions and keys). */
export const BOOTSTRAP_OPERATOR_ID = '00000000-0000-7000-8000-000000000001'

export interface Deps extends AppDeps {
  pool: pg.Pool
  /**
   * The delivery worker's own pool, with asynchronous commit (see DbOptions.asyncCommit): at-least-once delivery
   * makes a lost bookkeeping write harmless, and the API's pool stays free for requests. Connects on first use.
   */
  deliveryDb: Kysely<Database>
  /** The one subscriber-mode Redis connection (key revocations, outbox wake-ups); opened on the first listener. */
  subscriber: ChannelSubscriber
  /** Wakes outbox relays after commits (the worker runtime registers this process's relay). */
  outboxSignal: OutboxSignal
  close(): Promise<void>
}

/**
 * The one composition root: every connection the process opens is made here and closed by close().
 * API and worker entry points both build it; tests build it with their own database and queue prefix.
 */
export async function createDeps(config: Config, logger: Logger, opts: { migrate?: boolean } = {}): Promise<Deps> {
  const { db, pool } = createDb(config.databaseUrl, config.databasePoolSize, logger, { prepare: config.databasePreparedStatements })
  if (opts.migrate) {
    const applied = await migrateToLatest(db)
    if (applied.length) logger.info({ applied }, 'migrations applied')
  }
  let keys
  if (config.dataKeys) {
    keys = parseDataKeys(config.dataKeys)
  } else {
    const file = loadOrCreateKeyFile(config.dataKeysFile)
    keys = file.keys
    logger.info(
      { file: config.dataKeysFile, created: file.created },
      file.created
        ? 'DATA_KEYS is not set: generated a data key and kept it in DATA_KEYS_FILE (back it up; set DATA_KEYS in production)'
        : 'DATA_KEYS is not set: using the data key kept in DATA_KEYS_FILE',
    )
  }
  const cipher = new FieldCipher(keys)
  const decryptPool = new DecryptPool(keys, config.decryptThreads, (err) =>
    logger.warn({ err: { message: err.message } }, 'decryption thread failed; list pages decrypt on the event loop until it is back'),
  )
  if (opts.migrate) {
    // Stored values encrypted with a key that is not configured would fail every read: refuse to start, naming them.
    const configured = new Set(keys.map((k) => k.id))
    const missing = (await keyIdsInUse(db)).filter((id) => !configured.has(id))
    if (missing.length) {
      await db.destroy()
      throw new MissingDataKeysError(missing)
    }
  }

  const receipts = new ReceiptSigner(loadReceiptKeys(config, logger))

  const onRedisError = (err: Error) => logger.warn({ err: { message: err.message } }, 'Redis connection error')
  const redis = createRedis(config.redisUrl, 'producer', onRedisError)
  const queues = createQueues(config.redisUrl, config.queuePrefix, onRedisError)
  const subscriber = new ChannelSubscriber(() =>
    createRedis(config.redisUrl, 'worker', (err) =>
      logger.warn({ err: { message: err.message } }, 'Redis subscriber connection error; key revocations fall back on the TTL, the outbox on its poll'),
    ),
  )
  const deliveryDb = createDb(config.databaseUrl, Math.max(10, config.databasePoolSize), logger, {
    asyncCommit: true,
    applicationName: 'zdz-connector-delivery',
    prepare: config.databasePreparedStatements,
  }).db
  const calendar = new CalendarProvider(db)
  // Load the calendar before serving, so no request transaction ever waits for its first read.
  if (opts.migrate) await calendar.get()

  let bootstrap: BootstrapOperator | undefined
  if (config.operatorApiKey) {
    await ensureBootstrapOperator(db)
    bootstrap = {
      hash: hashApiKey(config.operatorApiKey),
      principal: { clientId: BOOTSTRAP_OPERATOR_ID, role: 'operator', name: 'bootstrap operator', courtCodes: [], organizationIds: [], regionCodes: [] },
    }
  }

  const outboxSignal = new OutboxSignal(redis, outboxChannel(config.queuePrefix), onRedisError)
  const timers = new TimerScheduler(queues.timers)
  const afterCommit = async (hints: CommitHints) => {
    if (hints.events) outboxSignal.wake()
    await timers.schedule(hints.timers ?? [])
  }

  const accessTrail = new AccessTrail(db, (err) => logger.warn({ err: { message: err.message } }, 'access trail flush failed; will retry'))

  return {
    config,
    accessTrail,
    logger,
    db,
    pool,
    redis,
    queues,
    calendar,
    cipher,
    decryptPool,
    receipts,
    bootstrap,
    metrics: new Registry(),
    afterCommit,
    deliveryDb,
    subscriber,
    outboxSignal,
    async close() {
      await accessTrail.close()
      await decryptPool.close()
      await queues.close()
      subscriber.close()
      redis.disconnect()
      await deliveryDb.destroy()
      await db.destroy()
    },
  }
}

/** The receipt keys: RECEIPT_KEYS (checked by loadConfig), or the key of the configured algorithm kept in DATA_KEYS_FILE. */
function loadReceiptKeys(config: Config, logger: Logger) {
  if (config.receiptKeys) return parseReceiptKeys(config.receiptKeys)
  const file = loadOrCreateReceiptKey(config.dataKeysFile, config.receiptAlgorithm)
  logger.info(
    { file: config.dataKeysFile, created: file.created, algorithm: config.receiptAlgorithm },
    file.created
      ? 'RECEIPT_KEYS is not set: generated a receipt key and kept it in DATA_KEYS_FILE (set RECEIPT_KEYS in production)'
      : 'RECEIPT_KEYS is not set: using the receipt key kept in DATA_KEYS_FILE',
  )
  return parseReceiptKeys(file.entry)
}

async function ensureBootstrapOperator(db: Kysely<Database>): Promise<void> {
  await insertClient(db, {
    id: BOOTSTRAP_OPERATOR_ID,
    name: 'bootstrap operator (OPERATOR_API_KEY)',
    role: 'operator',
    courtCodes: [],
    organizationIds: [],
    regionCodes: [],
  })
}

export type { Redis }
