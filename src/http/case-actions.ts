import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { Static, TSchema } from 'typebox'
import type { Caller, Outcome, Work } from '../cases/case-kit.js'
import type { Decrypt } from '../domain/referral.js'
import type { Role } from '../domain/principal.js'
import type { FieldCipher } from '../security/field-cipher.js'
import { IdParam } from '../schemas/common.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import { type HandlerResult, IDEMPOTENCY_HEADER, runIdempotent } from './idempotency.js'

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

/**
 * Declares the action routes of one kind of case: each validates its body, runs its one service call exactly once
 * per Idempotency-Key, and answers the case's view with its ETag.
 */
export function caseActions<C extends { version: number }>(
  app: App,
  deps: AppDeps,
  kind: { base: string; tags: string[]; view: TSchema; render: (c: C, full: boolean) => unknown },
) {
  return <S extends TSchema>(route: CaseActionRoute<S, C>): void => {
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
        return runIdempotent(req, reply, deps.db, async (trx, batch) => caseAnswer(deps, await route.run({ trx, batch }, caller, req.params.id, body), kind.render))
      },
    )
  }
}
