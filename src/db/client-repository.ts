import { type Kysely, sql, type Transaction } from 'kysely'
import { uuidv7 } from 'uuidv7'
import type { ClientRow, Database } from './database.js'

export type Role = 'court' | 'mediation' | 'operator'

export interface Client {
  id: string
  name: string
  role: Role
  courtCodes: string[]
  organizationIds: string[]
  regionCodes: string[]
  createdAt: Date
}

export interface KeyRecord {
  client: Client
  keyHash: Buffer
}

type Db = Kysely<Database> | Transaction<Database>

const toClient = (r: ClientRow): Client => ({
  id: r.id,
  name: r.name,
  role: r.role,
  courtCodes: r.court_codes,
  organizationIds: r.organization_ids,
  regionCodes: r.region_codes,
  createdAt: r.created_at,
})

export async function insertClient(db: Db, c: Omit<Client, 'id' | 'createdAt'> & { id?: string }): Promise<Client> {
  const row = await db
    .insertInto('clients')
    .values({
      id: c.id ?? uuidv7(),
      name: c.name,
      role: c.role,
      court_codes: c.courtCodes,
      organization_ids: c.organizationIds,
      region_codes: c.regionCodes,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .returningAll()
    .executeTakeFirst()
  if (row) return toClient(row)
  const existing = await findClient(db, c.id as string)
  if (!existing) throw new Error('client insert conflict without row')
  return existing
}

export async function findClient(db: Db, id: string): Promise<Client | undefined> {
  const row = await db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? toClient(row) : undefined
}

export async function insertApiKey(db: Db, clientId: string, keyId: string, hash: Buffer): Promise<void> {
  await db.insertInto('api_keys').values({ key_id: keyId, client_id: clientId, key_hash: hash }).execute()
}

/** Revokes a key of the client; false when the client has no such live key. */
export async function revokeApiKey(db: Db, clientId: string, keyId: string): Promise<boolean> {
  const r = await db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('client_id', '=', clientId)
    .where('key_id', '=', keyId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return Number(r.numUpdatedRows) > 0
}

/** What operators see of a key: never the key or its hash. */
export interface KeyInfo {
  keyId: string
  createdAt: Date
  lastUsedAt: Date | null
  revokedAt: Date | null
}

const KEY_INFO_COLUMNS = ['client_id', 'key_id', 'created_at', 'last_used_at', 'revoked_at'] as const

export async function listKeyIds(db: Db, clientId: string): Promise<KeyInfo[]> {
  return (await listKeysOf(db, [clientId])).get(clientId) ?? []
}

/** The keys of each of these clients, oldest first, in one query. */
export async function listKeysOf(db: Db, clientIds: string[]): Promise<Map<string, KeyInfo[]>> {
  const out = new Map<string, KeyInfo[]>()
  if (!clientIds.length) return out
  const rows = await db.selectFrom('api_keys').select(KEY_INFO_COLUMNS).where('client_id', 'in', clientIds).orderBy('created_at').orderBy('key_id').execute()
  for (const r of rows) {
    const list = out.get(r.client_id) ?? []
    list.push({ keyId: r.key_id, createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at })
    out.set(r.client_id, list)
  }
  return out
}

/** Clients in id order (creation order: ids are UUIDv7), optionally of one role, after `afterId`. */
export async function listClients(db: Db, f: { role?: Role; afterId?: string; limit: number }): Promise<Client[]> {
  let q = db.selectFrom('clients').selectAll()
  if (f.role) q = q.where('role', '=', f.role)
  if (f.afterId) q = q.where('id', '>', f.afterId)
  const rows = await q.orderBy('id').limit(f.limit).execute()
  return rows.map(toClient)
}

/**
 * Records when keys were last used: one statement for a batch. A key used more recently than `minIntervalMs`
 * ago by the record (another instance wrote it) is left alone, so the instances together write each key about
 * once per interval.
 */
export async function recordKeyUse(db: Db, uses: ReadonlyArray<{ keyId: string; at: Date }>, minIntervalMs = 60_000): Promise<void> {
  if (!uses.length) return
  await sql`
    UPDATE api_keys k SET last_used_at = u.at
    FROM unnest(${uses.map((u) => u.keyId)}::text[], ${uses.map((u) => u.at.toISOString())}::timestamptz[]) AS u(key_id, at)
    WHERE k.key_id = u.key_id
      AND (k.last_used_at IS NULL OR k.last_used_at < u.at - ${minIntervalMs} * interval '1 millisecond')`.execute(db)
}

/** The live key with this id and its client, for authentication. */
export async function findLiveKey(db: Db, keyId: string): Promise<KeyRecord | undefined> {
  const row = await db
    .selectFrom('api_keys as k')
    .innerJoin('clients as c', 'c.id', 'k.client_id')
    .selectAll('c')
    .select('k.key_hash')
    .where('k.key_id', '=', keyId)
    .where('k.revoked_at', 'is', null)
    .executeTakeFirst()
  if (!row) return undefined
  return { client: toClient(row), keyHash: row.key_hash }
}

/** Whether some operator client holds a key that is not revoked (start-up warns when none does and no OPERATOR_API_KEY is set). */
export async function hasLiveOperatorKey(db: Db): Promise<boolean> {
  const row = await db
    .selectFrom('api_keys as k')
    .innerJoin('clients as c', 'c.id', 'k.client_id')
    .select('k.key_id')
    .where('c.role', '=', 'operator')
    .where('k.revoked_at', 'is', null)
    .limit(1)
    .executeTakeFirst()
  return row !== undefined
}
