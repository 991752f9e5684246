import type { Kysely, Transaction } from 'kysely'
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

export async function listKeyIds(db: Db, clientId: string): Promise<Array<{ keyId: string; createdAt: Date; revokedAt: Date | null }>> {
  const rows = await db.selectFrom('api_keys').select(['key_id', 'created_at', 'revoked_at']).where('client_id', '=', clientId).orderBy('created_at').execute()
  return rows.map((r) => ({ keyId: r.key_id, createdAt: r.created_at, revokedAt: r.revoked_at }))
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
