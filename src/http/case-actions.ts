import type { FastifyRequest } from 'fastify'
import type { TSchema } from 'typebox'
import { versionMismatch } from '../domain/errors.js'
import { errorResponses } from './common-schemas.js'
import { IdParam } from '../schemas/common.js'
import { IDEMPOTENCY_HEADER } from './idempotency.js'

/** Optimistic concurrency for case resources (contract §1): a stale `If-Match: "<version>"` → 412 version_mismatch. */
export function ifMatch(req: FastifyRequest, version: number): void {
  const h = req.headers['if-match']
  if (h === undefined) return
  const want = String(h).replace(/^W\//, '').replace(/"/g, '').trim()
  if (want !== '*' && want !== String(version)) throw versionMismatch(version)
}

/** The schema of an action route on a case resource: `POST …/{id}/<action>` answering the updated resource. */
export function caseActionSchema(tags: string[], view: TSchema, summary: string, description: string, body: unknown) {
  return {
    tags,
    summary,
    description,
    params: IdParam,
    headers: IDEMPOTENCY_HEADER,
    body,
    response: { 200: view, ...errorResponses(404, 409, 412, 422) },
  }
}
