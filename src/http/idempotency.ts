import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../db/database.js'
import { claimKey, type JsonPath, type Outcome, replayOf, store, storedAfterFailure, type StoredSubject } from '../db/idempotency-repository.js'
import { WriteBatch } from '../db/write-batch.js'
import { AppError, conflict } from '../domain/errors.js'
import { jsonBytes, jsonPieces } from '../json-bytes.js'

export interface HandlerResult {
  status: number
  body: unknown
  headers?: Record<string, string>
  /** Fields holding one-time secrets: sent now, stored as null (contract §1). */
  secretFields?: string[]
  /** Runs after the transaction committed (e.g. nudging the queue). Errors there are logged, never sent. */
  afterCommit?: () => Promise<void> | void
  /**
   * An answer showing a case's personal data: `body` with that data masked, stored instead of it, and the case a
   * replay shows it again from (see {@link ReplayView}). Personal data is never stored in clear (contract §8).
   */
  stored?: { body: unknown; subject: StoredSubject }
}

/**
 * Rebuilds a stored case answer for a replay: the stored body (personal data masked) with that data as the caller
 * may see it now (reliability row 28). Without one, a replay answers the stored, masked body.
 */
export type ReplayView = (body: string, subject: StoredSubject) => Promise<string>

const KEY_RE = /^[\x21-\x7e]{1,255}$/

export const IDEMPOTENCY_HEADER = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      description:
        '幂等键（1–255 个可见 ASCII 字符），同一调用方内唯一；保存至少 24 小时。重放返回所存状态与应答体，其中个人信息按调用方重放时的权限显示（完整显示时记入访问记录）。Idempotency key, scoped to the calling client. A replay answers the stored status and body, with personal data as the caller may see it at the replay (recorded in the access log when shown in full).',
    },
  },
} as const

/**
 * The headers of an action on an existing versioned case: the Idempotency-Key and the optional `If-Match` (a stale
 * one → 412 version_mismatch). Creates take {@link IDEMPOTENCY_HEADER} alone: there is no version to match yet.
 */
export const CASE_ACTION_HEADERS = {
  type: 'object',
  properties: {
    ...IDEMPOTENCY_HEADER.properties,
    'if-match': {
      type: 'string',
      description:
        '乐观并发控制：期望的版本号，如 "3"（GET 应答的 ETag）；不一致 → 412 version_mismatch。Optimistic concurrency: the expected version (the ETag of GET); stale → 412 version_mismatch.',
    },
  },
} as const

/** What a stored answer is matched on: method, URL and body (a batch item is hashed as its single POST). */
export function requestHashOf(method: string, url: string, body: unknown): string {
  const h = createHash('sha256')
  h.update(method)
  h.update('\n')
  h.update(url)
  h.update('\n')
  // The text of JSON.stringify(body), hashed piece by piece (a batch's body would be one large string: json-bytes.ts).
  jsonPieces(body, (piece) => h.update(piece))
  return h.digest('hex')
}

const requestHash = (req: FastifyRequest): string => requestHashOf(req.method, req.url, req.body)

function nullSecrets(body: unknown, fields: string[] | undefined): unknown {
  if (!fields?.length || !body || typeof body !== 'object') return body
  const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) }
  for (const f of fields) if (f in copy) copy[f] = null
  return copy
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The paths of the strings that differ between two renderings of one answer, e.g. a case's full and masked views:
 * where the personal data is.
 */
export function differingStrings(a: unknown, b: unknown, at: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  if (typeof a === 'string' && typeof b === 'string') {
    if (a !== b) out.push(at)
  } else if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) differingStrings(a[i], b[i], [...at, i], out)
  } else if (isRecord(a) && isRecord(b)) {
    for (const k of Object.keys(a)) if (Object.hasOwn(b, k)) differingStrings(a[k], b[k], [...at, k], out)
  }
  return out
}

function valueAt(v: unknown, path: JsonPath): unknown {
  let cur = v
  for (const k of path) {
    if (Array.isArray(cur) && typeof k === 'number') cur = cur[k]
    else if (isRecord(cur) && typeof k === 'string' && Object.hasOwn(cur, k)) cur = cur[k]
    else return undefined
  }
  return cur
}

/**
 * `target` with the strings at `paths` replaced by those of `source` at the same paths. A path where either holds no
 * string is left as it is; nothing else changes, the order of properties included. `target` itself is not changed:
 * the objects and arrays on the replaced paths are copied, every other part is shared with it (the answer is
 * serialized, never changed in place).
 */
export function withStringsFrom(target: unknown, paths: JsonPath[], source: unknown): unknown {
  const copies = new Set<unknown>()
  const own = <T>(v: T): T => {
    if (copies.has(v)) return v
    const c = (Array.isArray(v) ? [...v] : { ...v }) as T
    copies.add(c)
    return c
  }
  let root = target
  for (const path of paths) {
    const from = valueAt(source, path)
    const last = path.at(-1)
    if (typeof from !== 'string' || last === undefined || typeof valueAt(root, path) !== 'string') continue
    root = own(root)
    let parent = root as Record<string | number, unknown>
    for (const k of path.slice(0, -1)) parent = parent[k] = own(parent[k]) as Record<string | number, unknown>
    parent[last] = from
  }
  return root
}

/**
 * Runs a creating or changing POST exactly once per (client, Idempotency-Key).
 *
 * The claim, the effect and the stored answer share one transaction: the advisory lock (try, never wait) makes a
 * duplicate of a request still in flight answer 409 `idempotency_key_in_use`; a finished one is replayed (also while
 * another replay holds the lock) with its stored status and
 * body; a crash before commit leaves no trace, so the client's retry runs afresh. Refusals (4xx) are not stored:
 * they changed nothing. An answer showing a case is stored with its personal data masked (`stored`), and `replayView`
 * shows that data again as the caller may see it at the replay: for an unchanged standing, byte for byte the first
 * answer.
 */
/** The request's `Idempotency-Key` (contract §1): required (400 idempotency_key_required), 1–255 visible ASCII chars. */
export function idempotencyKeyOf(req: FastifyRequest): string {
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
  return key
}

export async function runIdempotent(
  req: FastifyRequest,
  reply: FastifyReply,
  db: Kysely<Database>,
  handler: (trx: Transaction<Database>, batch: WriteBatch) => Promise<HandlerResult>,
  replayView?: ReplayView,
): Promise<FastifyReply> {
  const key = idempotencyKeyOf(req)
  const clientId = req.principal.clientId
  const hash = requestHash(req)
  let afterCommit: HandlerResult['afterCommit']
  // A fresh answer is sent as the bytes it was stored as (json-bytes.ts); a replay as the text read back.
  let outcome: Outcome | { replay: false; status: number; body: Buffer; headers: Record<string, string> }
  try {
    outcome = await db.transaction().execute(async (trx) => {
      const claim = await claimKey(trx, clientId, key)
      if (claim.kind === 'in_use') throw conflict('idempotency_key_in_use', '相同 Idempotency-Key 的请求正在处理中，请稍后重试')
      if (claim.prior) return replayOf(claim.prior, hash)
      const batch = new WriteBatch()
      const result = await handler(trx, batch)
      const payload = jsonBytes(result.body)
      const headers = result.headers ?? {}
      // The answer is stored in the same statement as the handler's deferred writes, without secrets or personal data.
      const stored = result.stored
        ? { body: jsonBytes(result.stored.body), subject: result.stored.subject }
        : { body: result.secretFields?.length ? jsonBytes(nullSecrets(result.body, result.secretFields)) : payload }
      await store(trx, clientId, key, { requestHash: hash, status: result.status, headers, ...stored }, batch)
      await batch.execute(trx)
      afterCommit = result.afterCommit
      return { replay: false as const, status: result.status, body: payload, headers }
    })
  } catch (err) {
    // A duplicate that committed just before this one claimed the key holds the answer (see claimKey).
    const stored = await storedAfterFailure(db, clientId, key, hash, err)
    if (!stored) throw err
    outcome = stored
  }
  // Outside the transaction: showing a case as the caller may see it now reads the case on a connection of its own.
  if (outcome.replay && outcome.subject) outcome = { ...outcome, body: replayView ? await replayView(outcome.body, outcome.subject) : outcome.body }
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
