import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type, { type Static, type TSchema } from 'typebox'
import type { Caller, Outcome, Work } from '../cases/case-kit.js'
import { AppError } from '../domain/errors.js'
import { type Decrypt, revealedKey } from '../domain/referral.js'
import type { Role } from '../domain/principal.js'
import type { FieldCipher } from '../security/field-cipher.js'
import { issueReceipt } from '../security/receipts.js'
import type { EventRow } from '../db/database.js'
import { toEnvelope } from '../db/event-repository.js'
import { CursorQuery, IdParam, LimitQuery, listOf } from '../schemas/common.js'
import { EventEnvelopeSchema } from '../schemas/events.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import {
  CASE_ACTION_HEADERS,
  differingStrings,
  type HandlerResult,
  IDEMPOTENCY_HEADER,
  type ReplayView,
  runIdempotent,
  withStringsFrom,
} from './idempotency.js'
import { listPage } from './pagination.js'

const READERS = ['court', 'mediation', 'operator'] as const

/** What the route files of case resources share: the caller of a request, the answer of a write, action routes. */

type App = Parameters<FastifyPluginAsyncTypebox>[0]

/** The caller as the services see it: principal, request id (access trail), If-Match (optimistic concurrency). */
export function callerOf(req: FastifyRequest): Caller {
  const h = req.headers['if-match']
  return { principal: req.principal, requestId: String(req.id), ...(h !== undefined ? { ifMatch: String(h) } : {}) }
}

/** Decryption for full views. */
export const decryptWith =
  (cipher: FieldCipher): Decrypt =>
  (token, context) =>
    cipher.decrypt(token, context)

/** Below this many fields a page decrypts on the event loop: a message to a thread and back costs about as much. */
const POOLED_FROM_FIELDS = 32

/**
 * The decryption a page of full views renders with: its `sealed` values (token and the field each is bound to, e.g.
 * `sealedFields` of every full view's parties) decrypted on the decryption threads in one message, so that the ~3.5 ms
 * 50 views take do not hold the event loop. A value the pool did not answer (a short page, no pool, a failed thread, a
 * field that does not decrypt) is decrypted on the event loop when the view asks for it, as without a pool, with the
 * same errors.
 */
export async function pageDecrypt(
  deps: Pick<AppDeps, 'cipher' | 'decryptPool'>,
  sealed: ReadonlyArray<readonly [token: string, context: string]>,
): Promise<Decrypt> {
  const inline = decryptWith(deps.cipher)
  if (!deps.decryptPool || sealed.length < POOLED_FROM_FIELDS) return inline
  const plain = await deps.decryptPool.decrypt(
    sealed.map((s) => s[0]),
    sealed.map((s) => s[1]),
  )
  if (!plain) return inline
  const known = new Map(sealed.map(([token, context], i) => [revealedKey(token, context), plain[i]!]))
  return (token, context) => known.get(revealedKey(token, context)) ?? inline(token, context)
}

/** The OpenAPI description of the `Receipt` header every 2xx answer of a write on a case carries (contract §4). */
export const RECEIPT_RESPONSE_HEADER = {
  Receipt: {
    type: 'string',
    description:
      '签名回执：JWS 紧凑序列化，载荷 { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }，eventHash 为该事件在案件哈希链中的哈希；' +
      '用 GET /v1/service-keys 公布的密钥（按 kid）验证；幂等重放返回同一回执。' +
      'Signed receipt: a JWS (compact serialization) whose payload is { subject: { kind, id }, sequence, eventId, eventHash, caseVersion, issuedAt }, ' +
      'eventHash being the event’s hash in the case’s chain; verify it with the key of its `kid` from GET /v1/service-keys ' +
      '(alg EdDSA: Ed25519; alg SM2SM3: SM2 over SM3 with user id 1234567812345678, signature r‖s of 32 bytes each). A replay carries the same receipt. See docs/receipts.md.',
    pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
  },
} as const

/** A case view as the 2xx answer of a write: the view, documented with its `Receipt` header. */
export const withReceiptHeader = (view: TSchema): TSchema => ({ ...view, headers: RECEIPT_RESPONSE_HEADER }) as TSchema

/**
 * The receipt of the event a write on a case added (contract §4), or undefined for an outcome that wrote none. What a
 * route over a case service sends in `Receipt`; batch intake puts it in each item's `receipt`.
 */
export function receiptOf(deps: Pick<AppDeps, 'receipts'>, out: Pick<Outcome<unknown>, 'event'>, issuedAt: Date = new Date()): string | undefined {
  return out.event ? issueReceipt(deps.receipts, out.event, issuedAt) : undefined
}

/**
 * The answer to a write on a case: its view, its version as ETag, its signed receipt (`Receipt`, stored with the answer
 * so that a replay carries the same one), and the commit hints for after the commit. It is
 * stored for replays with the case's personal data masked (the strings where the full and the masked views differ),
 * with the case it shows, so that a replay shows that data as the caller may see it then ({@link replayedCase}).
 */
export function caseAnswer<C extends { version: number; id: string }>(
  deps: AppDeps,
  kind: Pick<CaseResource<C>, 'base' | 'render'>,
  out: Outcome<C>,
  status = 200,
  headers: Record<string, string> = {},
): HandlerResult {
  const body = kind.render(out.value, out.full)
  const masked = kind.render(out.value, false)
  const paths = differingStrings(out.full ? body : kind.render(out.value, true), masked)
  const receipt = receiptOf(deps, out)
  return {
    status,
    body,
    headers: { etag: `"${out.value.version}"`, ...(receipt ? { receipt } : {}), ...headers },
    afterCommit: () => deps.afterCommit(out.hints),
    stored: { body: withStringsFrom(body, paths, masked), subject: { kind: kind.base, id: out.value.id, paths } },
  }
}

/**
 * A replayed answer about a case as the caller may see it now (reliability row 28): stored masked, it shows the
 * personal data again, taken from the case itself, only while the caller may see the case in full (the service's
 * `get`, which asks the case's standing and records the full view in the access trail like any read). Parties and the
 * other masked texts never change once set, so for an unchanged standing the replay is the first answer byte for byte;
 * a caller who lost the case, or may no longer read it at all, gets the stored masked answer.
 */
export function replayedCase<C extends { version: number }>(kind: CaseResource<C>, caller: Caller): ReplayView {
  return async (body, subject) => {
    if (subject.kind !== kind.base || !subject.paths.length) return body
    let now: { value: C; full: boolean }
    try {
      now = await kind.get(caller, subject.id)
    } catch (err) {
      if (err instanceof AppError && err.status === 404) return body
      throw err
    }
    if (!now.full) return body
    return JSON.stringify(withStringsFrom(JSON.parse(body), subject.paths, kind.render(now.value, true)))
  }
}

export interface CaseActionRoute<S extends TSchema, C extends { version: number }> {
  /** `POST {base}/{id}/{path}`. */
  path: string
  roles: readonly Role[]
  summary: string
  description: string
  body: S
  /** An action without required fields may be posted without a body at all. */
  emptyBody?: boolean
  /** The one service call. */
  run: (work: Work, caller: Caller, id: string, body: Static<S>) => Promise<Outcome<C>>
}

export interface CaseCreateRoute<S extends TSchema, C> {
  roles: readonly Role[]
  summary: string
  description: string
  body: S
  /** The problem statuses the route answers besides the common ones. */
  errors: number[]
  /** The one service call: checks the body, then gives the writes to run in the unit of work. */
  prepare: (caller: Caller, body: Static<S>) => (work: Work) => Promise<Outcome<C>>
}

/** What the routes of one kind of case need to know of it. */
export interface CaseResource<C extends { version: number }> {
  /** The collection path, e.g. `/v1/referrals`. */
  base: string
  tags: string[]
  view: TSchema
  render: (c: C, full: boolean) => unknown
  get: (caller: Caller, id: string) => Promise<{ value: C; full: boolean }>
  events: (caller: Caller, id: string, afterSequence: number, limit: number) => Promise<EventRow[]>
}

/**
 * Declares the routes every kind of case has: `GET {base}/{id}` (the view with its version as ETag),
 * `GET {base}/{id}/events` (its history, keyset-paginated by sequence), and `POST {base}/{id}/{action}` routes,
 * each validating its body and running its one service call exactly once per Idempotency-Key.
 */
export function caseRoutes<C extends { version: number; id: string }>(app: App, deps: AppDeps, kind: CaseResource<C>) {
  return {
    /** `POST {base}`: 201 with the new case and its Location; the body's own checks run before the idempotency claim. */
    create<S extends TSchema>(route: CaseCreateRoute<S, C>): void {
      app.post(
        kind.base,
        {
          config: { roles: route.roles },
          schema: {
            tags: kind.tags,
            summary: route.summary,
            description: route.description,
            headers: IDEMPOTENCY_HEADER,
            body: route.body,
            response: { 201: withReceiptHeader(kind.view), ...errorResponses(...route.errors) },
          },
        },
        async (req, reply) => {
          const caller = callerOf(req)
          const run = route.prepare(caller, req.body as Static<S>)
          return runIdempotent(
            req,
            reply,
            deps.db,
            async (trx, batch) => {
              const out = await run({ trx, batch })
              return caseAnswer(deps, kind, out, 201, { location: `${kind.base}/${out.value.id}` })
            },
            replayedCase(kind, caller),
          )
        },
      )
    },

    getOne(summary: string, description: string): void {
      app.get(
        `${kind.base}/:id`,
        {
          config: { roles: READERS },
          schema: { tags: kind.tags, summary, description, params: IdParam, response: { 200: kind.view, ...errorResponses(404) } },
        },
        async (req, reply) => {
          const { value, full } = await kind.get(callerOf(req), req.params.id)
          reply.header('etag', `"${value.version}"`)
          return kind.render(value, full)
        },
      )
    },

    events(summary: string): void {
      app.get(
        `${kind.base}/:id/events`,
        {
          config: { roles: READERS },
          schema: {
            tags: kind.tags,
            summary,
            params: IdParam,
            querystring: Type.Object({ limit: Type.Optional(LimitQuery), cursor: Type.Optional(CursorQuery) }, { additionalProperties: false }),
            response: { 200: listOf(EventEnvelopeSchema), ...errorResponses(404) },
          },
        },
        async (req) => {
          const { items, nextCursor } = await listPage(
            req.query,
            { seq: 'int' },
            (after, take) => kind.events(callerOf(req), req.params.id, after?.seq ?? 0, take),
            (e) => ({ seq: e.sequence }),
          )
          return { items: items.map(toEnvelope) as Array<Static<typeof EventEnvelopeSchema>>, nextCursor }
        },
      )
    },

    action<S extends TSchema>(route: CaseActionRoute<S, C>): void {
      app.post(
        `${kind.base}/:id/${route.path}`,
        {
          config: { roles: route.roles },
          schema: {
            tags: kind.tags,
            summary: route.summary,
            description: route.description,
            params: IdParam,
            headers: CASE_ACTION_HEADERS,
            body: route.body,
            response: { 200: withReceiptHeader(kind.view), ...errorResponses(404, 409, 412, 422) },
          },
          ...(route.emptyBody
            ? {
                preValidation: async (req: FastifyRequest) => {
                  if (req.body === undefined || req.body === null) req.body = {}
                },
              }
            : {}),
        },
        async (req, reply) => {
          const caller = callerOf(req)
          const body = req.body as Static<S>
          return runIdempotent(
            req,
            reply,
            deps.db,
            async (trx, batch) => caseAnswer(deps, kind, await route.run({ trx, batch }, caller, req.params.id, body)),
            replayedCase(kind, caller),
          )
        },
      )
    },
  }
}
