import { loadConfig } from '../src/config/config.js'
import { createDb } from '../src/db/connection.js'
import { rotateDocuments } from '../src/db/key-rotation.js'
import { createLogger } from '../src/logging.js'
import { FieldCipher, parseDataKeys } from '../src/security/field-cipher.js'

/**
 * `npm run rotate-keys`: after putting a new key first in DATA_KEYS (keeping the old ones after it) and restarting
 * the service, this re-encrypts stored personal data with the new key in batches while the service runs. When it
 * reports 0 left, the old key can be removed from DATA_KEYS.
 */
const config = loadConfig()
const logger = createLogger(config.logLevel)
if (!config.dataKeys) {
  logger.error('DATA_KEYS is required for key rotation')
  process.exit(78)
}
const cipher = new FieldCipher(parseDataKeys(config.dataKeys))
const { db } = createDb(config.databaseUrl, 2, logger)
try {
  const n = await rotateDocuments(db, cipher, { onBatch: (table, rotated) => rotated && logger.info({ table, rotated }, 're-encrypted a batch') })
  logger.info({ rotated: n, currentKeyId: cipher.currentKeyId }, 'key rotation finished')
} finally {
  await db.destroy()
}
