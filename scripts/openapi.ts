import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config/config.js'
import { newReceiptKeyEntry } from '../src/security/receipts.js'
import { createDeps } from '../src/deps.js'
import { createLogger } from '../src/logging.js'
import { formatDataKeys, generateThrowawayKeys } from '../src/security/field-cipher.js'

/**
 * Writes openapi/openapi.json from the routes' TypeBox schemas (the only source), or with --check fails when the
 * committed file differs from what the code generates. No database or Redis traffic is needed to render it.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), process.argv[1]?.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..')
const target = path.join(root, 'openapi', 'openapi.json')

export async function renderOpenApi(): Promise<string> {
  // Throwaway data and receipt keys: rendering the document encrypts nothing and must not create a key file.
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    DATA_KEYS: formatDataKeys(generateThrowawayKeys()),
    RECEIPT_KEYS: newReceiptKeyEntry('EdDSA'),
  })
  const deps = await createDeps(config, createLogger('silent'))
  try {
    const app = await buildApp(deps)
    await app.ready()
    const doc = app.swagger()
    await app.close()
    return `${JSON.stringify(doc, null, 2)}\n`
  } finally {
    await deps.close()
  }
}

const rendered = await renderOpenApi()
if (process.argv.includes('--check')) {
  let committed = ''
  try {
    committed = readFileSync(target, 'utf8')
  } catch {
    // missing counts as different
  }
  if (committed !== rendered) {
    process.stderr.write('openapi/openapi.json differs from the code: run `npm run openapi` and commit the result.\n')
    process.exit(1)
  }
  process.stdout.write('openapi/openapi.json matches the code.\n')
} else {
  writeFileSync(target, rendered)
  process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`)
}
