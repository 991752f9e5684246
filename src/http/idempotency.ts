import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../db/database.js'
import { claimKey, findStored, store, type StoredResponse } from '../db/idempotency-repository.js'
import { WriteBatch } from '../db/write-batch.js'
import { AppError, conflict } from '../domain/errors.js'

export interface HandlerResult {
  status: number
  body: unknown
  headers?: Record<string, string>
  /** Fields holding one-time secrets: sent now, stored as null (contract §1). */
  secretFields?: string[]
  /** Runs after the transaction committed (e.g. nudging the queue). Errors there are logged, never sent. */
  afterCommit?: () => Promise<void> | void
}

const KEY_RE = /^[\x21-\x7e]{1,255}$/

export const IDEMPOTENCY_HEADER = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      description: '幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。Idempotency key, scoped to the calling client.',
    },
    'if-match': { type: 'string', description: '乐观并发控制：期望的版本号，如 "3"。Optimistic concurrency: the expected version.' },
  },
} as const

function requestHash(req: FastifyRequest): string {
  const h = createHash('sha256')
  h.update(req.method)
  h.update('\n')
  h.update(req.url)
  h.update('\n')
  h.update(req.body === undefined ? '' : JSON.stringify(req.body))
  return h.digest('hex')
}

interface Outcome {
  replay: boolean
  status: number
  body: string
  headers: Record<string, string>
}

function replayOf(prior: StoredResponse, hash: string): Outcome {
  if (prior.requestHash !== hash) throw new AppError(422, 'idempotency_key_reused', '该 Idempotency-Key 已用于内容不同的请求')
  return { replay: true, status: prior.status, body: prior.body, headers: prior.headers }
}

/**
 * After a failed attempt, the answer of a duplicate that committed between this attempt's snapshot and its claim,
 * if there is one (an effect that lost such a race fails with a conflict, a refused transition or a stale version).
 */
export async function storedAfterFailure(db: Kysely<Database>, clientId: string, key: string, hash: string, err: unknown): Promise<Outcome | undefined> {
  if (err instanceof AppError && (err.status === 400 || err.code === 'idempotency_key_in_use' || err.code === 'idempotency_key_reused')) return undefined
  const prior = await findStored(db, clientId, key).catch(() => undefined)
  return prior ? replayOf(prior, hash) : undefined
}

function nullSecrets(body: unknown, fields: string[] | undefined): unknown {
  if (!fields?.length || !body || typeof body !== 'object') return body
  const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) }
  for (const f of fields) if (f in copy) copy[f] = null
  return copy
}

/**
 * Runs a creating or changing POST exactly once per (client, Idempotency-Key).
 *
 * The claim, the effect and the stored answer share one transaction: the advisory lock (try, never wait) makes a
 * concurrent duplicate answer 409 `idempotency_key_in_use`; a finished one is replayed byte for byte; a crash before
 * commit leaves no trace, so the client's retry runs afresh. Refusals (4xx) are not stored: they changed nothing.
 */
export async function runIdempotent(
  req: FastifyRequest,
  reply: FastifyReply,
  db: Kysely<Database>,
  handler: (trx: Transaction<Database>, batch: WriteBatch) => Promise<HandlerResult>,
): Promise<FastifyReply> {
  const raw = req.headers['idempotency-key']
  if (raw === undefined) {
    throw new AppError(400, 'idempotency_key_required', '此请求必须携带 Idempotency-Key 请求头', {
      errors: [{ path: 'headers/idempotency-key', code: 'required', message: '缺少 Idempotency-Key' }],
    })
  }
  const key = Array.isArray(raw) ? raw[0] : raw
  if (!KEY_RE.test(key)) {
    throw new AppError(400, 'validation_failed', 'Idempotency-Key 必须为 1–255 个可见 ASCII 字符', {
      errors: [{ path: 'headers/idempotency-key', code: 'invalid_format', message: 'Idempotency-Key 格式不正确' }],
    })
  }
  const clientId = req.principal.clientId
  const hash = requestHash(req)
  let afterCommit: HandlerResult['afterCommit']
  let outcome: Outcome
  try {
    outcome = await db.transaction().execute(async (trx) => {
      const claim = await claimKey(trx, clientId, key)
      if (claim.kind === 'in_use') throw conflict('idempotency_key_in_use', '相同 Idempotency-Key 的请求正在处理中，请稍后重试')
      if (claim.prior) return replayOf(claim.prior, hash)
      const batch = new WriteBatch()
      const result = await handler(trx, batch)
      const payload = JSON.stringify(result.body)
      const headers = result.headers ?? {}
      // The answer is stored in the same statement as the handler's deferred writes.
      await store(
        trx,
        clientId,
        key,
        {
          requestHash: hash,
          status: result.status,
          body: result.secretFields?.length ? JSON.stringify(nullSecrets(result.body, result.secretFields)) : payload,
          headers,
        },
        batch,
      )
      await batch.execute(trx)
      afterCommit = result.afterCommit
      return { replay: false, status: result.status, body: payload, headers }
    })
  } catch (err) {
    // A duplicate that committed just before this one claimed the key holds the answer (see claimKey).
    const stored = await storedAfterFailure(db, clientId, key, hash, err)
    if (!stored) throw err
    outcome = stored
  }
  if (afterCommit) {
    try {
      await afterCommit()
    } catch (err) {
      req.log.warn({ err: { message: (err as Error).message } }, 'post-commit step failed; the sweeper will catch up')
    }
  }
  for (const [k, v] of Object.entries(outcome.headers)) reply.header(k, v)
  if (outcome.replay) reply.header('idempotent-replayed', 'true')
  return reply
    .code(outcome.status)
    .type('application/json; charset=utf-8')
    .serializer((s: unknown) => s as string)
    .send(outcome.body)
}
