import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type, { type Static, type TSchema } from 'typebox'
import type { Caller, Outcome, Work } from '../cases/case-kit.js'
import type { Decrypt } from '../domain/referral.js'
import type { Role } from '../domain/principal.js'
import type { FieldCipher } from '../security/field-cipher.js'
import type { EventRow } from '../db/database.js'
import { toEnvelope } from '../db/event-repository.js'
import { CursorQuery, IdParam, LimitQuery, listOf } from '../schemas/common.js'
import { EventEnvelopeSchema } from '../schemas/events.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import { type HandlerResult, IDEMPOTENCY_HEADER, runIdempotent } from './idempotency.js'
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

/** The answer to a write on a case: its view, its version as ETag, and the commit hints for after the commit. */
export function caseAnswer<C extends { version: number }>(
  deps: AppDeps,
  out: Outcome<C>,
  view: (c: C, full: boolean) => unknown,
  status = 200,
  headers: Record<string, string> = {},
): HandlerResult {
  return { status, body: view(out.value, out.full), headers: { etag: `"${out.value.version}"`, ...headers }, afterCommit: () => deps.afterCommit(out.hints) }
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
            response: { 201: kind.view, ...errorResponses(...route.errors) },
          },
        },
        async (req, reply) => {
          const run = route.prepare(callerOf(req), req.body as Static<S>)
          return runIdempotent(req, reply, deps.db, async (trx, batch) => {
            const out = await run({ trx, batch })
            return caseAnswer(deps, out, kind.render, 201, { location: `${kind.base}/${out.value.id}` })
          })
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
            headers: IDEMPOTENCY_HEADER,
            body: route.body,
            response: { 200: kind.view, ...errorResponses(404, 409, 412, 422) },
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
          return runIdempotent(req, reply, deps.db, async (trx, batch) =>
            caseAnswer(deps, await route.run({ trx, batch }, caller, req.params.id, body), kind.render),
          )
        },
      )
    },
  }
}
