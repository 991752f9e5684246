import { createHash } from 'node:crypto'
import t from 'tap'
import { CONFIRMATION_STATUSES } from '../../src/domain/confirmation.js'
import { ORGANIZATION_KINDS } from '../../src/domain/organization.js'
import { REFERRAL_STATUSES, SYSTEM_TERMINATION_REASON, TERMINATION_REASONS } from '../../src/domain/referral-machine.js'
import { CODE_TABLES } from '../../src/schemas/code-tables.js'
import { EVENT_TYPES } from '../../src/schemas/events.js'
import { CreateReferralBody, DISPUTE_TYPES, ID_TYPES, PartyInput, SuspensionBody, TerminationBody } from '../../src/schemas/referrals.js'
import { startHarness } from '../helpers/harness.js'

const h = await startHarness()
t.teardown(() => h.close())

const court = await h.client('court', { courtCodes: ['京0105'] })
const mediation = await h.client('mediation', { regionCodes: ['11'] })
const keys = { court: court.key, mediation: mediation.key, operator: h.operatorKey }

interface Entry {
  code: string
  zh: string
  en: string
}
interface Table {
  name: string
  version: string
  entries: Entry[]
}

const get = (key: string | null, url: string) => h.call(key, { method: 'GET', url })
const enumOf = (schema: unknown): string[] => (schema as { enum: string[] }).enum

/** The enumeration each table must equal: the arrays and schemas the API validates with. */
const warningLevels = () => {
  const doc = h.app.swagger() as unknown as {
    paths: Record<string, { post: { requestBody: { content: Record<string, { schema: { properties: { level: { enum: string[] } } } }> } } }>
  }
  return doc.paths['/v1/warnings'].post.requestBody.content['application/json'].schema.properties.level.enum
}
const EXPECTED: Record<string, () => readonly string[]> = {
  'dispute-types': () => DISPUTE_TYPES,
  'termination-reasons': () => [...TERMINATION_REASONS, SYSTEM_TERMINATION_REASON],
  'organization-kinds': () => ORGANIZATION_KINDS,
  'suspension-reasons': () => enumOf(SuspensionBody.properties.reason),
  'referral-statuses': () => REFERRAL_STATUSES,
  'confirmation-statuses': () => CONFIRMATION_STATUSES,
  'warning-levels': warningLevels,
  'event-types': () => EVENT_TYPES,
  'id-types': () => ID_TYPES,
}

t.test('every table of contract §6, bilingual, with a version over its entries', async (t) => {
  const res = await get(court.key, '/v1/code-tables')
  t.equal(res.statusCode, 200)
  const items = (res.json() as { items: Table[] }).items
  t.same(
    items.map((i) => i.name),
    Object.keys(EXPECTED),
    'the tables of the contract, decline reasons excepted (free text)',
  )
  for (const table of items) {
    t.ok(table.entries.length > 0, `${table.name} has entries`)
    for (const e of table.entries) {
      t.same(Object.keys(e).sort(), ['code', 'en', 'zh'], `${table.name}/${e.code}: code, zh, en only`)
      t.ok(e.code.length > 0 && e.zh.trim().length > 0 && e.en.trim().length > 0, `${table.name}/${e.code} is labelled in both languages`)
      t.match(e.zh, /\p{Script=Han}/u, `${table.name}/${e.code}: the Chinese label is Chinese`)
      t.match(e.en, /^[\x20-\x7e’]+$/, `${table.name}/${e.code}: the English label is English`)
    }
    t.equal(new Set(table.entries.map((e) => e.code)).size, table.entries.length, `${table.name}: each code once`)
    const canonical = JSON.stringify(table.entries.map((e) => ({ code: e.code, zh: e.zh, en: e.en })))
    t.equal(table.version, createHash('sha256').update(canonical).digest('hex').slice(0, 16), `${table.name}: version = SHA-256 of the entries, 16 hex`)
  }
  t.equal(new Set(items.map((i) => i.version)).size, items.length, 'versions differ between tables')

  const again = await get(mediation.key, '/v1/code-tables')
  t.same(again.json(), res.json(), 'the same tables and versions on a second call, whoever asks')
  t.same(
    items.map((i) => i.version),
    CODE_TABLES.map((c) => c.version),
    'the versions are those the module computes once',
  )
})

t.test('the codes are the enumerations the API validates with', async (t) => {
  const items = (await get(h.operatorKey, '/v1/code-tables')).json().items as Table[]
  for (const table of items) {
    t.same(
      table.entries.map((e) => e.code),
      [...EXPECTED[table.name]()],
      `${table.name} equals its enumeration, in its order`,
    )
  }
  // The enumerations themselves are the ones in the request schemas.
  t.same(enumOf(CreateReferralBody.properties.disputeType), [...DISPUTE_TYPES])
  t.same(enumOf(PartyInput.properties.idType), [...ID_TYPES])
  t.same(enumOf(TerminationBody.properties.reason), [...TERMINATION_REASONS])
  t.same(warningLevels(), ['red', 'orange', 'yellow'])

  const byName = new Map(items.map((i) => [i.name, new Map(i.entries.map((e) => [e.code, e]))]))
  t.equal(byName.get('dispute-types')?.get('medical')?.zh, '医疗')
  t.equal(byName.get('dispute-types')?.get('property_management')?.zh, '物业')
  t.equal(byName.get('dispute-types')?.get('marriage_family')?.zh, '婚姻家庭')
  t.equal(byName.get('referral-statuses')?.get('mediating')?.zh, '调解中')
  t.equal(byName.get('confirmation-statuses')?.get('ruled_valid')?.zh, '裁定调解协议有效')
  t.equal(byName.get('termination-reasons')?.get('deadline_expired')?.en.includes('system'), true, 'the timer’s reason says it is the system’s')
})

t.test('one table by name; an unknown name is a 404', async (t) => {
  const all = (await get(h.operatorKey, '/v1/code-tables')).json().items as Table[]
  for (const table of all) {
    const res = await get(court.key, `/v1/code-tables/${table.name}`)
    t.equal(res.statusCode, 200, table.name)
    t.same(res.json(), table, `${table.name}: the same as in the list`)
  }
  for (const name of ['decline-reasons', 'nope', 'DISPUTE-TYPES', '%E4%BA%AC']) {
    const res = await get(mediation.key, `/v1/code-tables/${name}`)
    t.equal(res.statusCode, 404, name)
    t.equal(res.json().code, 'not_found')
  }
  const q = await get(court.key, '/v1/code-tables?lang=zh')
  t.equal(q.statusCode, 400, 'an unknown query parameter is refused')
})

t.test('any client may read; no key is a 401', async (t) => {
  for (const [role, key] of Object.entries(keys)) {
    t.equal((await get(key, '/v1/code-tables')).statusCode, 200, `${role}: the list`)
    t.equal((await get(key, '/v1/code-tables/id-types')).statusCode, 200, `${role}: a table`)
  }
  t.equal((await get(null, '/v1/code-tables')).statusCode, 401)
  t.equal((await get(null, '/v1/code-tables/id-types')).statusCode, 401)
  t.equal((await get('zdz_nokey_nosecret', '/v1/code-tables')).statusCode, 401)
})
