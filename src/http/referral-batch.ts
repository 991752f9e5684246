import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifySchemaCompiler } from 'fastify'
import Type, { type Static } from 'typebox'
import type { Caller } from '../cases/case-kit.js'
import { judgeBody, type PreparedItem, runBatch } from '../cases/referrals/referral-batch.js'
import { referralStandingIn } from '../cases/referrals/referral-service.js'
import type { JsonPath, StoredResponse, StoredSubject } from '../db/idempotency-repository.js'
import { getReferral } from '../db/referral-repository.js'
import { AppError } from '../domain/errors.js'
import { personalFields, type Referral } from '../domain/referral.js'
import type { Role } from '../domain/principal.js'
import { CreateReferralBody, type CreateReferralInput, ReferralView } from '../schemas/referrals.js'
import type { AppDeps } from './app-deps.js'
import { callerOf, caseAnswer, type CaseResource } from './case-routes.js'
import { semanticChecks } from './checks.js'
import { errorResponses } from './common-schemas.js'
import { IDEMPOTENCY_HEADER, idempotencyKeyOf, requestHashOf, runIdempotent, withStringsFrom } from './idempotency.js'
import { localizeProblem, type Problem, toProblem } from './problem.js'
import { type Language, preferredLanguage } from '../domain/error-catalogue.js'
import { createValidatorCompiler } from './validation.js'

type App = Parameters<FastifyPluginAsyncTypebox>[0]

/** At most this many items per request (contract §2 v1.1). */
export const MAX_BATCH_ITEMS = 100
/** 100 referrals of up to 100 parties each may exceed the 1 MiB of other routes. */
export const BATCH_BODY_LIMIT = 8 * 1024 * 1024
/** The URL a batch item is judged (and its stored answer matched) as. */
const SINGLE_URL = '/v1/referrals'
/** The `subject.kind` of a stored batch answer: its paths are under `items/<index>/referral`. */
const BATCH_KIND = '/v1/referrals/batch'

const IdempotencyKey = Type.String({
  pattern: '^[\\x21-\\x7e]{1,255}$',
  description: '该条目的幂等键，等同于单条 POST /v1/referrals 的 Idempotency-Key / the item’s own Idempotency-Key',
})

/** The envelope as documented: each item's `referral` is the body of POST /v1/referrals. */
const BatchBody = Type.Object(
  {
    items: Type.Array(Type.Object({ idempotencyKey: IdempotencyKey, referral: CreateReferralBody }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: MAX_BATCH_ITEMS,
    }),
  },
  {
    additionalProperties: false,
    examples: [{ items: [{ idempotencyKey: 'jc0105-2026-1024', referral: (CreateReferralBody as { examples?: unknown[] }).examples?.[0] }] }],
  },
)

/**
 * The envelope as validated: a `referral` may be anything here, since each item's body is judged on its own, with
 * the single route's schema, into that item's answer (400 validation_failed for that item alone).
 */
const BatchEnvelope = Type.Object(
  {
    items: Type.Array(Type.Object({ idempotencyKey: IdempotencyKey, referral: Type.Unknown() }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: MAX_BATCH_ITEMS,
    }),
  },
  { additionalProperties: false },
)

const ItemAnswer = Type.Object({
  index: Type.Integer({ minimum: 0, description: '条目在请求中的位置（从 0 起）/ the item’s position in the request' }),
  status: Type.Integer({ description: '单条 POST /v1/referrals 将给出的状态码：201 或 4xx / the status the single route would answer' }),
  referral: Type.Optional(ReferralView),
  problem: Type.Optional(Type.Unsafe<Problem>({ $ref: 'Problem#' })),
  replayed: Type.Optional(
    Type.Boolean({ description: '该条目的幂等键已有存储的应答，此为重放（单条请求的 Idempotent-Replayed: true）/ a stored answer given again' }),
  ),
  receipt: Type.Optional(Type.String({ description: '签名回执（JWS，合同 §4）/ the signed receipt of the item’s event (JWS)' })),
})

const BATCH_EXAMPLE = {
  items: [
    {
      index: 0,
      status: 201,
      referral: {
        id: '019ad2a4-5c1e-7b3a-9f00-2b1c3d4e5f60',
        version: 1,
        status: 'referred',
        referralType: 'pre_filing',
        courtCode: '京0105',
        caseNumber: '（2026）京0105民诉前调1024号',
        disputeType: 'neighbor',
        claimSummary: '请求被申请人停止漏水侵害并赔偿损失',
        parties: [
          { role: 'applicant', kind: 'natural_person', name: '张三', idType: 'resident_id', idNumber: '11010519491231002X' },
          { role: 'respondent', kind: 'natural_person', name: '李四', idType: 'resident_id', idNumber: '440524196001010014' },
        ],
        consent: [
          { partyIndex: 0, consentedAt: '2026-11-27T09:00:00+08:00', method: 'written' },
          { partyIndex: 1, consentedAt: '2026-11-27T09:30:00+08:00', method: 'online' },
        ],
        designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' },
        materials: [],
        organizationId: 'bj-cy-blz',
        deadlines: { acceptanceDueOn: '2026-12-02', mediationDueOn: null, provisional: false },
        mediator: null,
        acceptedAt: null,
        decline: null,
        recall: null,
        suspension: null,
        extensions: [],
        agreement: null,
        termination: null,
        materialReturn: null,
        courtFiling: null,
        closure: null,
        performance: null,
        createdAt: '2026-11-27T10:00:00.000Z',
        updatedAt: '2026-11-27T10:00:00.000Z',
      },
    },
    {
      index: 1,
      status: 409,
      problem: {
        type: 'https://zdz-connector.invalid/problems/duplicate_referral',
        title: 'Conflict',
        status: 409,
        detail: '同一法院同一案号已有未办结的委派/委托',
        code: 'duplicate_referral',
      },
    },
  ],
}

const BatchAnswer = Type.Object({ items: Type.Array(ItemAnswer) }, { examples: [BATCH_EXAMPLE] })
type ItemAnswerT = Static<typeof ItemAnswer>

const DESCRIPTION =
  '批量委派（合同 §2 v1.1）：1–100 条，每条按单条 POST /v1/referrals 以其请求体与其 idempotencyKey 判定与写入（状态码、案件或问题详情相同，含重放），' +
  '互不影响；整批一个事务提交。Batch intake: each item is judged and written exactly as POST /v1/referrals would with that body and that ' +
  'Idempotency-Key — the same `status` (201 or 4xx) with the same `referral` or the same problem+json body as `problem` — as if the items ' +
  'were sent one after another in request order, independently of each other (one bad item never fails the rest); the answer lists them ' +
  'in request order with their `index`. The whole batch is one transaction (one commit).\n\n' +
  '- The request needs its own `Idempotency-Key`: a replay answers the whole stored batch answer with `Idempotent-Replayed: true`.\n' +
  '- Each item’s `idempotencyKey` is that item’s Idempotency-Key, in the caller’s key space shared with single requests: a key whose ' +
  'answer is stored (by a single POST /v1/referrals, an earlier batch, or an earlier item of this batch) with the same body → that ' +
  'answer again with `replayed: true`; with a different body → 422 `idempotency_key_reused`; a later single POST with an item’s key ' +
  'replays the item’s answer. Refused items store nothing (like refused single requests), so a later item with the same key is judged ' +
  'afresh. An item whose key is held by a request in flight, or equals this request’s own Idempotency-Key → 409 `idempotency_key_in_use`.\n' +
  '- Two items of one batch with the same `courtCode` + `caseNumber`: the second answers 409 `duplicate_referral`, as if sent after the first.\n' +
  '- Over 100 items, no items, or a malformed envelope (an item without `idempotencyKey` or `referral`, another property) → 400 ' +
  '`validation_failed` for the whole request; a malformed `referral` is that item’s 400. Body limit 8 MiB (other routes: 1 MiB).\n' +
  '- Successful items carry `receipt`, the signed receipt of the item’s event (§4), where receipts are enabled.\n' +
  '- A referral taken concurrently (the same 案号 created by another request between this batch’s check and its write) fails only its ' +
  'item (409 `duplicate_referral`): the batch then judges its items again.'

/**
 * `POST /v1/referrals/batch` (court): declared by the referral routes, with the referral resource they declare.
 * Items are validated with the single route's own body schema (a compiled copy), so an item's 400 lists the same
 * paths and codes, relative to its body, as the single route's would.
 */
export function batchIntakeRoute(app: App, deps: AppDeps, kind: CaseResource<Referral>, roles: readonly Role[]): void {
  const compile = createValidatorCompiler(semanticChecks)
  const validateReferral = compile({ schema: CreateReferralBody, httpPart: 'body', method: 'POST', url: SINGLE_URL }) as ((v: unknown) => boolean) & {
    errors?: unknown[] | null
  }
  const batchCompiler: FastifySchemaCompiler<unknown> = (ctx) => compile(ctx.httpPart === 'body' ? { ...ctx, schema: BatchEnvelope } : ctx)

  /** An item's refusal as the single route answers it: the same problem+json body, in the request's language. */
  const problemOf = (error: Error, lang: Language): Problem => localizeProblem(toProblem(error).problem, lang)

  app.post(
    `${kind.base}/batch`,
    {
      bodyLimit: BATCH_BODY_LIMIT,
      validatorCompiler: batchCompiler,
      config: { roles },
      schema: {
        tags: kind.tags,
        summary: '批量委派 / Batch intake',
        description: DESCRIPTION,
        headers: IDEMPOTENCY_HEADER,
        body: BatchBody,
        response: { 200: BatchAnswer, ...errorResponses(409, 413, 422) },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req)
      const requestKey = idempotencyKeyOf(req)
      const now = new Date()
      const body = req.body as { items: Array<{ idempotencyKey: string; referral: unknown }> }
      // Step 1, before any unit of work: each body alone, as the single route judges it before its claim.
      const prepared: PreparedItem[] = body.items.map(({ idempotencyKey: key, referral }) => {
        const hash = requestHashOf('POST', SINGLE_URL, referral)
        if (!validateReferral(referral)) {
          return { key, hash, refused: Object.assign(new Error('validation failed'), { validation: validateReferral.errors ?? [], validationContext: 'body' }) }
        }
        return judgeBody(caller, { key, hash, body: referral as CreateReferralInput }, requestKey, now)
      })
      return runIdempotent(
        req,
        reply,
        deps.db,
        async (trx, batch) => {
          // Each created referral's full view (the answer) and masked view (its stored answers), by id.
          const full = new Map<string, unknown>()
          const maskedView = new Map<string, unknown>()
          const answerOf = (key: string, hash: string, r: Referral): StoredResponse => {
            const a = caseAnswer(deps, kind, { value: r, full: true, hints: {}, ...(r.lastEvent ? { event: r.lastEvent } : {}) }, 201, {
              location: `${kind.base}/${r.id}`,
            })
            full.set(r.id, a.body)
            const stored = a.stored!
            maskedView.set(r.id, stored.body)
            return { requestHash: hash, status: 201, body: JSON.stringify(stored.body), headers: a.headers ?? {}, subject: stored.subject }
          }
          const run = await runBatch(deps, { trx, batch }, caller, prepared, answerOf)
          const items: ItemAnswerT[] = []
          const masked: ItemAnswerT[] = []
          const paths: JsonPath[] = []
          for (const [index, o] of run.outcomes.entries()) {
            if (o.kind === 'refused') {
              const problem = problemOf(o.error, preferredLanguage(req.headers['accept-language']))
              items.push({ index, status: problem.status, problem })
              masked.push({ index, status: problem.status, problem })
              continue
            }
            let shown: unknown
            let stored: unknown
            let subject: StoredSubject | undefined
            let receipt: string | undefined
            if (o.kind === 'created') {
              shown = full.get(o.referral.id)
              // The object its stored text was made from: the same JSON, without parsing that text back.
              stored = maskedView.get(o.referral.id)
              subject = o.stored.subject
              // The signed receipt (contract §4) is the one stored with the item's answer: a replay carries it too.
              receipt = o.stored.headers.receipt
            } else {
              stored = JSON.parse(o.answer.body)
              subject = o.answer.subject
              receipt = o.answer.headers?.receipt
              shown =
                o.sourceIndex !== undefined
                  ? (items[o.sourceIndex]?.referral ?? stored)
                  : await replayedInWork(trx, caller, o.answer.body, o.answer.subject, kind, deps).then((b) => JSON.parse(b))
            }
            const status = o.kind === 'created' ? 201 : o.answer.status
            const extra = { ...(o.kind === 'replay' ? { replayed: true } : {}), ...(receipt !== undefined ? { receipt } : {}) }
            // A stored answer that is not a referral (a problem stored by another route under this key cannot match
            // this body's hash, so this is a referral view) is shown as it is.
            items.push({ index, status, referral: shown as ItemAnswerT['referral'], ...extra })
            masked.push({ index, status, referral: stored as ItemAnswerT['referral'], ...extra })
            for (const p of subject?.paths ?? []) paths.push(['items', index, 'referral', ...p])
          }
          const firstShown = run.outcomes
            .map((o) => (o.kind === 'created' ? o.referral.id : o.kind === 'replay' ? o.answer.subject?.id : undefined))
            .find(Boolean)
          return {
            status: 200,
            body: { items },
            afterCommit: () => deps.afterCommit(run.hints),
            ...(firstShown ? { stored: { body: { items: masked }, subject: { kind: BATCH_KIND, id: firstShown, paths } } } : {}),
          }
        },
        replayedBatch(kind, caller),
      )
    },
  )
}

/**
 * A prior single answer replayed by an item, shown as the single route's replay shows it (reliability row 28): the
 * stored masked body with the personal data as the caller may see it now, read in the batch's own transaction
 * (a second connection per request could exhaust the pool under load); a full view goes to the access trail.
 */
async function replayedInWork(
  trx: Parameters<typeof getReferral>[0],
  caller: Caller,
  body: string,
  subject: StoredSubject | undefined,
  kind: CaseResource<Referral>,
  deps: AppDeps,
): Promise<string> {
  if (!subject || subject.kind !== kind.base || !subject.paths.length) return body
  const r = await getReferral(trx, subject.id)
  if (!r) return body
  const st = await referralStandingIn(trx, caller.principal, r)
  if (!st.read || !st.full) return body
  deps.accessTrail.record([{ clientId: caller.principal.clientId, subjectId: r.id, fields: personalFields(r), requestId: caller.requestId }])
  return JSON.stringify(withStringsFrom(JSON.parse(body), subject.paths, kind.render(r, true)))
}

/**
 * A replay of a whole batch answer: stored masked, each item's referral shows its personal data again as the caller
 * may see that case now (as a single replay does, through the resource's `get`, which records the access trail).
 */
function replayedBatch(kind: CaseResource<Referral>, caller: Caller) {
  return async (body: string, subject: StoredSubject): Promise<string> => {
    if (subject.kind !== BATCH_KIND || !subject.paths.length) return body
    const answer = JSON.parse(body) as { items: Array<{ referral?: { id?: string } }> }
    const byItem = new Map<number, JsonPath[]>()
    for (const p of subject.paths) {
      const i = Number(p[1])
      byItem.set(i, [...(byItem.get(i) ?? []), p.slice(3)])
    }
    for (const [i, paths] of byItem) {
      const item = answer.items[i]
      const id = item?.referral?.id
      if (!item || !id) continue
      let now: { value: Referral; full: boolean }
      try {
        now = await kind.get(caller, id)
      } catch (err) {
        if (err instanceof AppError && err.status === 404) continue
        throw err
      }
      if (now.full) item.referral = withStringsFrom(item.referral, paths, kind.render(now.value, true)) as { id?: string }
    }
    return JSON.stringify(answer)
  }
}
