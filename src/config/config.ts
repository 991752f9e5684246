import Type, { type Static } from 'typebox'
import { Value } from 'typebox/value'
import { parseReceiptKeys, RECEIPT_ALGORITHMS, type ReceiptAlgorithm } from '../security/receipts.js'

/**
 * The environment the service reads, in one TypeBox schema: the only place a variable is named, typed and
 * defaulted. `loadConfig` is called once by each entry point and the result is injected; nothing else reads
 * `process.env`.
 */
export const EnvSchema = Type.Object({
  NODE_ENV: Type.String({ default: 'development' }),
  DATABASE_URL: Type.String({ default: 'postgres://postgres@127.0.0.1:5432/zdz', pattern: '^postgres(ql)?://' }),
  DATABASE_POOL_SIZE: Type.Integer({ default: 10, minimum: 1, maximum: 200 }),
  /** Named prepared statements per connection; false behind a pooler that cannot keep them (PgBouncer < 1.21 in transaction mode). */
  DATABASE_PREPARED_STATEMENTS: Type.Union([Type.Literal('true'), Type.Literal('false')], { default: 'true' }),
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', pattern: '^rediss?://' }),
  QUEUE_PREFIX: Type.String({ default: 'zdz', pattern: '^[A-Za-z0-9_.:-]{1,64}$' }),
  HOST: Type.String({ default: '0.0.0.0', minLength: 1 }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535 }),
  OPERATOR_API_KEY: Type.Optional(Type.String({ minLength: 32 })),
  /** With it, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; without it /metrics is open. */
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 1 })),
  LOG_LEVEL: Type.Union(
    [
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent'),
    ],
    { default: 'info' },
  ),
  DATA_KEYS: Type.Optional(Type.String({ minLength: 1 })),
  /** Where the data key lives without DATA_KEYS (outside production): generated on the first start, reused after. */
  DATA_KEYS_FILE: Type.String({ default: '.zdz/keys.json', minLength: 1 }),
  /** Threads that decrypt the personal data of list pages off the event loop (src/security/decrypt-pool.ts); 0: inline. */
  DECRYPT_THREADS: Type.Integer({ default: 1, minimum: 0, maximum: 16 }),
  /** Receipt signing keys (contract §4): comma-separated `kid:base64(PKCS#8 PEM private key)`, the first one signing. */
  RECEIPT_KEYS: Type.Optional(Type.String({ minLength: 1 })),
  /** The receipt algorithm: `eddsa` (Ed25519, JWS `EdDSA`) or `sm2` (JWS `SM2SM3`). */
  RECEIPT_ALGORITHM: Type.Union([Type.Literal('eddsa'), Type.Literal('sm2')], { default: 'eddsa' }),
  RATE_LIMIT_PER_MINUTE: Type.Integer({ default: 1000, minimum: 1 }),
  AUTH_FAILURES_PER_MINUTE: Type.Integer({ default: 30, minimum: 1 }),
  TRUST_PROXY: Type.String({ default: 'false' }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 25000, minimum: 1000 }),
  /** Bytes of complete materials one client may keep (uploads beyond it answer 507 quota_exceeded). Default 10 GiB. */
  MATERIAL_QUOTA_BYTES_PER_CLIENT: Type.Integer({ default: 10 * 1024 ** 3, minimum: 1 }),
  /** Hours after its upload a material no case references is removed by the worker. */
  MATERIAL_ORPHAN_TTL_HOURS: Type.Integer({ default: 72, minimum: 1 }),
})

export type Env = Static<typeof EnvSchema>

export interface Config {
  nodeEnv: string
  databaseUrl: string
  databasePoolSize: number
  /** Prepare each parameterised statement once per connection (src/db/connection.ts). */
  databasePreparedStatements: boolean
  redisUrl: string
  queuePrefix: string
  host: string
  port: number
  operatorApiKey: string | undefined
  /** The bearer token /metrics requires; undefined leaves /metrics open (src/http/metrics.ts). */
  metricsToken: string | undefined
  logLevel: Env['LOG_LEVEL']
  dataKeys: string | undefined
  /** The key file used when `dataKeys` is not set (src/security/key-file.ts). */
  dataKeysFile: string
  /** Decryption threads for list pages (0: pages decrypt on the event loop). */
  decryptThreads: number
  /** `RECEIPT_KEYS` as given (checked here; loaded by src/deps.ts). Without it the key lives in `dataKeysFile`. */
  receiptKeys: string | undefined
  /** The JWS `alg` receipts are signed with; the first of `receiptKeys` is of it. */
  receiptAlgorithm: ReceiptAlgorithm
  rateLimitPerMinute: number
  /** Bad keys tolerated per client address and minute before 429 (slowed down from a sixth of that). */
  authFailuresPerMinute: number
  /** false, true, a hop count, or a comma-separated list of trusted proxy addresses/CIDRs */
  trustProxy: boolean | number | string[]
  shutdownTimeoutMs: number
  /** Bytes of complete materials per client; the upload that would pass it is refused (src/http/materials.ts). */
  materialQuotaBytesPerClient: number
  /** Age after which a material no case references is expired by the worker (src/delivery/maintenance.ts). */
  materialOrphanTtlHours: number
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`)
    this.name = 'ConfigError'
  }
}

const NUMERIC = new Set([
  'DATABASE_POOL_SIZE',
  'DECRYPT_THREADS',
  'PORT',
  'RATE_LIMIT_PER_MINUTE',
  'AUTH_FAILURES_PER_MINUTE',
  'SHUTDOWN_TIMEOUT_MS',
  'MATERIAL_QUOTA_BYTES_PER_CLIENT',
  'MATERIAL_ORPHAN_TTL_HOURS',
])

/** Reads and checks the environment once; throws a ConfigError naming the first bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {}
  for (const name of Object.keys(EnvSchema.properties)) {
    const value = source[name]
    if (value === undefined || value === '') continue
    if (NUMERIC.has(name)) {
      if (!/^-?\d+$/.test(value.trim())) throw new ConfigError(name, `must be an integer, got "${value}"`)
      raw[name] = Number(value.trim())
    } else {
      raw[name] = value
    }
  }
  const withDefaults = Value.Default(EnvSchema, raw) as Record<string, unknown>
  const first = Value.Errors(EnvSchema, withDefaults)[0]
  if (first) {
    const variable = first.instancePath.replace(/^\//, '').split('/')[0] || 'environment'
    throw new ConfigError(variable, first.message)
  }
  const env = withDefaults as Env
  if (env.NODE_ENV === 'production' && !env.DATA_KEYS) {
    throw new ConfigError('DATA_KEYS', 'is required when NODE_ENV=production (field encryption keys)')
  }
  if (env.NODE_ENV === 'production' && env.OPERATOR_API_KEY && isDocumentedPlaceholder(env.OPERATOR_API_KEY)) {
    throw new ConfigError('OPERATOR_API_KEY', 'is a placeholder shown in the documentation: set a long random key (e.g. `openssl rand -base64 32`)')
  }
  const receiptAlgorithm = RECEIPT_ALGORITHMS[env.RECEIPT_ALGORITHM]
  if (env.RECEIPT_KEYS) {
    let signing
    try {
      signing = parseReceiptKeys(env.RECEIPT_KEYS)[0]
    } catch (err) {
      throw new ConfigError('RECEIPT_KEYS', `must be a comma-separated list of kid:base64(PKCS#8 PEM private key): ${(err as Error).message}`)
    }
    if (signing?.alg !== receiptAlgorithm) {
      throw new ConfigError(
        'RECEIPT_KEYS',
        `must start with a ${receiptAlgorithm} key (RECEIPT_ALGORITHM=${env.RECEIPT_ALGORITHM}); key ${signing?.kid} is ${signing?.alg}`,
      )
    }
  } else if (env.NODE_ENV === 'production') {
    throw new ConfigError('RECEIPT_KEYS', 'is required when NODE_ENV=production (receipt signing keys; npm run keygen -- --receipt)')
  }
  return {
    nodeEnv: env.NODE_ENV,
    databaseUrl: env.DATABASE_URL,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    databasePreparedStatements: env.DATABASE_PREPARED_STATEMENTS === 'true',
    redisUrl: env.REDIS_URL,
    queuePrefix: env.QUEUE_PREFIX,
    host: env.HOST,
    port: env.PORT,
    operatorApiKey: env.OPERATOR_API_KEY,
    metricsToken: env.METRICS_TOKEN,
    logLevel: env.LOG_LEVEL,
    dataKeys: env.DATA_KEYS,
    dataKeysFile: env.DATA_KEYS_FILE,
    decryptThreads: env.DECRYPT_THREADS,
    receiptKeys: env.RECEIPT_KEYS,
    receiptAlgorithm,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: env.AUTH_FAILURES_PER_MINUTE,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    materialQuotaBytesPerClient: env.MATERIAL_QUOTA_BYTES_PER_CLIENT,
    materialOrphanTtlHours: env.MATERIAL_ORPHAN_TTL_HOURS,
  }
}

/**
 * Operator keys shown in README.md, docs/ and .env.example. Anyone can read them, so production refuses them
 * (contract §7). test/http/operators.test.ts scans the documentation for `OPERATOR_API_KEY=` values and fails
 * when one is missing here: a new example in the docs must be added to this list.
 */
export const DOCUMENTED_OPERATOR_KEYS: readonly string[] = [
  'change-me-to-a-long-random-operator-key',
  'change-me-to-a-long-random-operator-key-of-32-chars-or-more',
  'replace-with-a-long-random-operator-key',
]

/** A documented example value, or any value that says it is one (change-me…, replace-with…, <…>). */
export function isDocumentedPlaceholder(value: string): boolean {
  const v = value.trim()
  return DOCUMENTED_OPERATOR_KEYS.includes(v) || /^(change-?me|replace-?(me|with)|your-|<)/i.test(v)
}

function parseTrustProxy(value: string): Config['trustProxy'] {
  if (value === 'false' || value === '0' || value === '') return false
  if (value === 'true') return true
  if (/^\d+$/.test(value)) return Number(value)
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}
