import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { findLiveKey, recordKeyUse } from '../db/client-repository.js'
import type { Database } from '../db/database.js'
import { AppError } from '../domain/errors.js'
import type { Principal, Role } from '../domain/principal.js'
import { hashApiKey, hashesEqual, parseApiKey } from '../security/api-keys.js'
import { type KeyCache, KeyUsage } from './key-cache.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Roles allowed to call the route. Every /v1 route declares it; the route-table test enforces that. */
    roles?: readonly Role[]
    /** Routes that need no key (health, metrics, docs). */
    public?: boolean
  }
  interface FastifyRequest {
    principal: Principal
  }
}

export const unauthorized = (): AppError =>
  new AppError(401, 'unauthorized', '缺少有效的 API 密钥', { headers: { 'www-authenticate': 'Bearer' }, detailEn: 'A valid API key is required' })

export interface BootstrapOperator {
  hash: Buffer
  principal: Principal
}

export interface AuthOptions {
  db: Kysely<Database>
  cache?: KeyCache
  bootstrap?: BootstrapOperator
  /** Called when a request presents a bad key; may delay or refuse (abuse limits). */
  onBadKey?: (req: FastifyRequest) => Promise<void>
}

/** The principal, and the key id when it was a stored key (the bootstrap operator key has none). */
async function authenticate(opts: AuthOptions, header: string | undefined): Promise<{ principal: Principal; keyId?: string } | null> {
  if (!header) return null
  const m = /^Bearer ([\x21-\x7e]{1,200})$/.exec(header)
  if (!m) return null
  const apiKey = m[1]
  const presented = hashApiKey(apiKey)
  if (opts.bootstrap && hashesEqual(presented, opts.bootstrap.hash)) return { principal: opts.bootstrap.principal }
  const keyId = parseApiKey(apiKey)
  if (!keyId) return null
  let rec = opts.cache?.get(keyId)
  if (!rec) {
    rec = await findLiveKey(opts.db, keyId)
    if (rec) opts.cache?.set(keyId, rec)
  }
  if (!rec || !hashesEqual(presented, rec.keyHash)) return null
  const c = rec.client
  return {
    principal: { clientId: c.id, role: c.role, name: c.name, courtCodes: c.courtCodes, organizationIds: c.organizationIds, regionCodes: c.regionCodes },
    keyId,
  }
}

/** Key checks for routes outside /v1 that authenticate themselves (the console's session, src/http/console.ts). */
export interface KeyChecker {
  /** The principal behind an `Authorization` header, or null (missing, unknown or revoked key). */
  authenticate(header: string | undefined): Promise<{ principal: Principal; keyId?: string } | null>
  /** Whether a stored key is still live and its client still an operator (undefined: the bootstrap key). */
  operatorKeyLive(keyId: string | undefined): Promise<boolean>
  onBadKey?: (req: FastifyRequest) => Promise<void>
}

/**
 * Authentication and the role gate, as one onRequest hook. The route's declared roles decide: no declaration
 * means nobody (fail closed). Unknown routes fall through to the 404 handler.
 */
export function registerAuth(app: FastifyInstance, opts: AuthOptions): KeyChecker {
  app.decorateRequest('principal', null as unknown as Principal)
  // Last use of each key (GET /v1/clients): noted in memory here, written in batches off the requests' path.
  const usage = new KeyUsage({
    record: (uses) => recordKeyUse(opts.db, uses),
    onError: (err) => app.log.warn({ err: { message: (err as Error).message } }, 'could not record when API keys were last used'),
  })
  app.addHook('onClose', async () => usage.close())
  app.addHook('onRequest', async (req, reply) => {
    const cfg = req.routeOptions.config
    // Only API routes need a key (contract §1); health, metrics and docs are open, unknown paths fall to 404.
    if (!req.routeOptions.url?.startsWith('/v1/') || cfg.public) return
    const found = await authenticate(opts, req.headers.authorization)
    if (!found) {
      if (opts.onBadKey && req.headers.authorization) await opts.onBadKey(req)
      throw unauthorized()
    }
    const { principal, keyId } = found
    if (keyId) usage.used(keyId)
    req.principal = principal
    req.log = req.log.child({ clientId: principal.clientId })
    reply.log = req.log
    if (!cfg.roles?.includes(principal.role)) {
      throw new AppError(403, 'forbidden', `角色 ${principal.role} 无权调用此接口`, {
        detailEn: `The role ${principal.role} may not call this operation`,
      })
    }
  })
  return {
    authenticate: (header) => authenticate(opts, header),
    async operatorKeyLive(keyId) {
      if (keyId === undefined) return opts.bootstrap !== undefined
      let rec = opts.cache?.get(keyId)
      if (!rec) {
        rec = await findLiveKey(opts.db, keyId)
        if (rec) opts.cache?.set(keyId, rec)
      }
      return rec?.client.role === 'operator'
    },
    onBadKey: opts.onBadKey,
  }
}
