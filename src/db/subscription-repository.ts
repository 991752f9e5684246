import { type Kysely, sql, type Transaction } from 'kysely'
import type { Principal } from '../domain/principal.js'
import type { Database, SubscriptionRow } from './database.js'

type Db = Kysely<Database> | Transaction<Database>

export type SignatureAlgorithm = 'hmac-sha256' | 'hmac-sm3'

/** A subscription as the application sees it. Secrets stay encrypted here; only the sender decrypts them. */
export interface Subscription {
  id: string
  clientId: string
  url: string
  eventTypes: string[]
  description: string | null
  allowPrivateNetwork: boolean
  signatureAlgorithm: SignatureAlgorithm
  secretEnc: string
  previousSecretEnc: string | null
  previousSecretExpiresAt: Date | null
  enabled: boolean
  disabledReason: string | null
  disabledAt: Date | null
  createdAt: Date
  updatedAt: Date
}

export function toSubscription(r: SubscriptionRow): Subscription {
  return {
    id: r.id,
    clientId: r.client_id,
    url: r.url,
    eventTypes: r.event_types,
    description: r.description,
    allowPrivateNetwork: r.allow_private_network,
    signatureAlgorithm: r.signature_algorithm,
    secretEnc: r.secret_enc,
    previousSecretEnc: r.previous_secret_enc,
    previousSecretExpiresAt: r.previous_secret_expires_at,
    enabled: r.enabled,
    disabledReason: r.disabled_reason,
    disabledAt: r.disabled_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

export interface NewSubscription {
  id: string
  clientId: string
  url: string
  eventTypes: string[]
  description: string | null
  allowPrivateNetwork: boolean
  signatureAlgorithm: SignatureAlgorithm
  secretEnc: string
}

export async function insertSubscription(db: Db, s: NewSubscription): Promise<Subscription> {
  const row = await db
    .insertInto('subscriptions')
    .values({
      id: s.id,
      client_id: s.clientId,
      url: s.url,
      event_types: s.eventTypes,
      description: s.description,
      allow_private_network: s.allowPrivateNetwork,
      signature_algorithm: s.signatureAlgorithm,
      secret_enc: s.secretEnc,
      previous_secret_enc: null,
      previous_secret_expires_at: null,
      disabled_reason: null,
      disabled_at: null,
      deleted_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toSubscription(row)
}

/** A live (not deleted) subscription. */
export async function getSubscription(db: Db, id: string, opts: { forUpdate?: boolean } = {}): Promise<Subscription | undefined> {
  let q = db.selectFrom('subscriptions').selectAll().where('id', '=', id).where('deleted_at', 'is', null)
  if (opts.forUpdate) q = q.forUpdate()
  const row = await q.executeTakeFirst()
  return row ? toSubscription(row) : undefined
}

export async function listSubscriptions(db: Db, f: { clientId?: string; afterId?: string; limit: number }): Promise<Subscription[]> {
  let q = db.selectFrom('subscriptions').selectAll().where('deleted_at', 'is', null)
  if (f.clientId) q = q.where('client_id', '=', f.clientId)
  if (f.afterId) q = q.where('id', '>', f.afterId)
  const rows = await q.orderBy('id').limit(f.limit).execute()
  return rows.map(toSubscription)
}

export interface SubscriptionChanges {
  url?: string
  eventTypes?: string[]
  description?: string | null
  allowPrivateNetwork?: boolean
  enabled?: boolean
}

export async function updateSubscription(db: Db, id: string, c: SubscriptionChanges, now = new Date()): Promise<Subscription | undefined> {
  const row = await db
    .updateTable('subscriptions')
    .set({
      ...(c.url !== undefined ? { url: c.url } : {}),
      ...(c.eventTypes !== undefined ? { event_types: c.eventTypes } : {}),
      ...(c.description !== undefined ? { description: c.description } : {}),
      ...(c.allowPrivateNetwork !== undefined ? { allow_private_network: c.allowPrivateNetwork } : {}),
      ...(c.enabled === true ? { enabled: true, disabled_reason: null, disabled_at: null } : {}),
      ...(c.enabled === false ? { enabled: false, disabled_reason: 'disabled_by_operator', disabled_at: now } : {}),
      updated_at: now,
    })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
  return row ? toSubscription(row) : undefined
}

/** Replaces the secret; the current one keeps signing until `previousExpiresAt`. */
export async function rotateSecret(db: Db, id: string, newSecretEnc: string, previousExpiresAt: Date, now = new Date()): Promise<Subscription | undefined> {
  const row = await db
    .updateTable('subscriptions')
    .set({
      previous_secret_enc: sql`secret_enc`,
      previous_secret_expires_at: previousExpiresAt,
      secret_enc: newSecretEnc,
      updated_at: now,
    })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
  return row ? toSubscription(row) : undefined
}

/** Disables a subscription whose endpoint answered 410 Gone. */
export async function disableSubscription(db: Db, id: string, reason: string, now = new Date()): Promise<void> {
  await db
    .updateTable('subscriptions')
    .set({ enabled: false, disabled_reason: reason, disabled_at: now, updated_at: now })
    .where('id', '=', id)
    .where('enabled', '=', true)
    .execute()
}

/**
 * Soft-deletes a subscription (its delivery history stays for the operators) and ends its pending deliveries,
 * which no longer have anywhere to go. Returns false when there was no such live subscription.
 */
export async function deleteSubscription(trx: Transaction<Database>, id: string, now = new Date()): Promise<boolean> {
  const r = await trx
    .updateTable('subscriptions')
    .set({ deleted_at: now, updated_at: now })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst()
  if (Number(r.numUpdatedRows) === 0) return false
  await trx
    .updateTable('deliveries')
    .set({ status: 'dead', dead_at: now, last_error: 'subscription_deleted', lease_until: null })
    .where('subscription_id', '=', id)
    .where('status', '=', 'pending')
    .execute()
  return true
}

/** A subscription together with the read scope of its client, as the fan-out needs it. */
export interface FanOutTarget {
  subscription: Subscription
  principal: Principal
}

/** Every live subscription with its client's current scope. */
export async function fanOutTargets(db: Db): Promise<FanOutTarget[]> {
  const rows = await db
    .selectFrom('subscriptions as s')
    .innerJoin('clients as c', 'c.id', 's.client_id')
    .selectAll('s')
    .select(['c.role', 'c.name', 'c.court_codes', 'c.organization_ids', 'c.region_codes'])
    .where('s.deleted_at', 'is', null)
    .execute()
  return rows.map((r) => ({
    subscription: toSubscription(r),
    principal: {
      clientId: r.client_id,
      role: r.role,
      name: r.name,
      courtCodes: r.court_codes,
      organizationIds: r.organization_ids,
      regionCodes: r.region_codes,
    },
  }))
}

/** Whether a subscription wants events of this type (`*` = all). */
export function wantsType(s: Pick<Subscription, 'eventTypes'>, type: string): boolean {
  return s.eventTypes.includes('*') || s.eventTypes.includes(type)
}
