/**
 * Keys that survive a restart (contract §7, reliability row 30): without DATA_KEYS the data key is generated once into
 * DATA_KEYS_FILE (0600) and reused, so cases stay readable after a restart; a start whose keys cannot read the stored
 * data stops with the missing key ids instead of answering 500 later.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/config.js'
import { createDeps, MissingDataKeysError } from '../../src/deps.js'
import { createLogger } from '../../src/logging.js'
import { formatDataKeys, generateThrowawayKeys, parseDataKeys } from '../../src/security/field-cipher.js'
import { loadOrCreateKeyFile, newDataKeyEntry } from '../../src/security/key-file.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { REDIS_URL, startHarness } from '../helpers/harness.js'

const dir = mkdtempSync(path.join(tmpdir(), 'zdz-keys-'))

t.test('the key file is created once, 0600, and reused', async (t) => {
  const file = path.join(dir, 'nested', 'keys.json')
  const first = loadOrCreateKeyFile(file)
  t.equal(first.created, true)
  t.equal(first.keys.length, 1)
  t.equal(statSync(file).mode & 0o777, 0o600, 'only the owner may read it')
  const again = loadOrCreateKeyFile(file)
  t.equal(again.created, false)
  t.same(
    again.keys.map((k) => [k.id, k.key.toString('hex')]),
    first.keys.map((k) => [k.id, k.key.toString('hex')]),
    'the same key on the next start',
  )
  t.match(readFileSync(file, 'utf8'), /"dataKeys": "[A-Za-z0-9_-]+:/)
  t.throws(() => loadOrCreateKeyFile(path.join(dir)), /DATA_KEYS_FILE .* cannot be read/, 'a directory is not a key file')
})

t.test('npm run keygen prints an entry DATA_KEYS accepts', async (t) => {
  const entry = newDataKeyEntry()
  t.equal(parseDataKeys(entry)[0]?.key.length, 32)
})

t.test('a restart without DATA_KEYS keeps reading its cases; a start with the wrong key stops with its id', async (t) => {
  const file = path.join(dir, 'service-keys.json')
  const h = await startHarness({ env: { DATA_KEYS_FILE: file } })
  const world = await standardWorld(h)
  const created = await post(h, world.court.key, '/v1/referrals', referralBody())
  t.equal(created.statusCode, 201, created.body)
  const id = created.json().id as string
  const before = await h.call(world.court.key, { method: 'GET', url: `/v1/referrals/${id}` })
  await h.app.close()
  await h.deps.close()
  t.teardown(() => h.db.drop())

  // "Restart": a new process's dependencies on the same database and key file.
  const env = { DATABASE_URL: h.db.url, REDIS_URL, QUEUE_PREFIX: h.prefix, LOG_LEVEL: 'silent' as const }
  const again = await createDeps(loadConfig({ ...env, DATA_KEYS_FILE: file }), createLogger('silent'), { migrate: true })
  const app = await buildApp(again)
  const after = await app.inject({ method: 'GET', url: `/v1/referrals/${id}`, headers: { authorization: `Bearer ${world.court.key}` } })
  t.equal(after.statusCode, 200, 'still readable after the restart')
  t.same(after.json().parties, before.json().parties, 'the full personal data as before')
  await app.close()
  await again.close()

  // A start with another key (a lost key file, a wrong DATA_KEYS) refuses, naming the key the data needs.
  const stored = loadOrCreateKeyFile(file).keys[0]!.id
  const refused = await createDeps(loadConfig({ ...env, DATA_KEYS: formatDataKeys(generateThrowawayKeys()) }), createLogger('silent'), { migrate: true }).then(
    async (d) => {
      await d.close()
      return undefined
    },
    (err: unknown) => err,
  )
  t.ok(refused instanceof MissingDataKeysError, 'start-up refuses')
  t.ok((refused as MissingDataKeysError).keyIds.includes(stored), 'naming the key id the stored data needs')
  t.match((refused as Error).message, stored)
})
