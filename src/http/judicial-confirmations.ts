import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { Transaction } from 'kysely'
import Type, { type Static } from 'typebox'
import { uuidv7 } from 'uuidv7'
import { recordAccess } from '../db/access-log-repository.js'
import {
  commitConfirmationTransition,
  copyPartyIndex,
  findLiveConfirmation,
  getConfirmation,
  insertConfirmation,
  listConfirmations,
  lockConfirmation,
} from '../db/confirmation-repository.js'
import type { Database } from '../db/database.js'
import { appendEvent, listSubjectEvents, toEnvelope } from '../db/event-repository.js'
import type { WriteBatch } from '../db/write-batch.js'
import { assertMaterialsExist, linkMaterials } from '../db/material-repository.js'
import { getOrganization } from '../db/organization-repository.js'
import { getReferral, holderRegions, insertPartyIndex } from '../db/referral-repository.js'
import { daysBetween, type LegalCalendar, reviewDueOn, shanghaiDate } from '../domain/calendar.js'
import {
  agreementEffectiveAt,
  agreementSha256,
  applicationTiming,
  checkAgreementIntegrity,
  checkJointApplication,
  checkReferringCourt,
  checkStandaloneVenue,
  checkSubject,
  type Confirmation,
  type ConfirmationAction,
  type ConfirmationDoc,
  type ConfirmationProblem,
  confirmationPersonalFields,
  confirmationView,
  decideConfirmationTransition,
  referralAllowsConfirmation,
  type Venue,
} from '../domain/confirmation.js'
import { AppError, businessRule, conflict, type FieldError, illegalTransition, notFound, validationFailed } from '../domain/errors.js'
import { GENESIS_HASH } from '../domain/event-chain.js'
import { parseCaseNumber } from '../domain/identifiers.js'
import { isUuid } from '../domain/ids.js'
import { confirmationStanding as standingOf, organizationInScope } from '../domain/access.js'
import type { Principal } from '../domain/principal.js'
import type { Agreement, StoredParty } from '../domain/referral.js'
import { coversAllParties } from '../domain/referral-machine.js'
import type { AppDeps } from './app-deps.js'
import { caseActionSchema, ifMatch } from './case-actions.js'
import { errorResponses } from './common-schemas.js'
import { CursorQuery, IdParam, LimitQuery, listOf } from '../schemas/common.js'
import {
  ConfirmationAcceptanceBody,
  ConfirmationRulingBody,
  ConfirmationStatusSchema,
  ConfirmationView,
  ConfirmationWithdrawalBody,
  CreateConfirmationBody,
} from '../schemas/confirmations.js'
import { EventEnvelopeSchema } from '../schemas/events.js'
import { IDEMPOTENCY_HEADER, runIdempotent } from './idempotency.js'
import { decodeCursor, page } from './pagination.js'
import { checkPartyIndexes, decryptWith, notFuture, sealParties, standing } from './referrals.js'

type Trx = Transaction<Database>
type ConfirmationViewT = Static<typeof ConfirmationView>

const CLOCK_SKEW_MS = 5 * 60_000
const WHAT = '司法确认申请'

// ---------------------------------------------------------------------------------------------
// Reading and scope

interface ConfirmationStanding {
  /** May read the application (404 otherwise). */
  read: boolean
  /** May see full personal data: the court concerned and the handling organization (contract §1). */
  full: boolean
  /** The organization's region: the read scope of the application's events. */
  organizationRegion: string | null
}

/**
 * How a principal stands to an application: a court by its court codes, a mediation client by the organization that
 * applied (its id or region in the client's scope), operators read everything masked.
 */
export async function confirmationStanding(db: AppDeps['db'] | Trx, p: Principal, c: Confirmation): Promise<ConfirmationStanding> {
  const [org] = await holderRegions(db, [c.organizationId])
  return { ...standingOf(p, c, org), organizationRegion: org?.regionCode || null }
}

const today = (now = new Date()) => shanghaiDate(now)

function maskedConfirmation(c: Confirmation, day: string): Record<string, unknown> {
  return confirmationView(
    c,
    false,
    () => {
      throw new Error('masked view never decrypts')
    },
    day,
  )
}

function raise(problem: ConfirmationProblem | null): void {
  if (!problem) return
  throw problem.status === 409 ? conflict(problem.code, problem.detail) : businessRule(problem.code, problem.detail)
}

// ---------------------------------------------------------------------------------------------
// Application intake

type CreateBody = Static<typeof CreateConfirmationBody>

/** What an application is made of, once its source (a referral, or the body itself) has been checked. */
interface Intake {
  referralId: string | null
  organizationId: string
  organizationRegion: string
  agreement: Agreement
  parties: StoredParty[]
  /** Blind-index hashes of a standalone application's parties; a referral's are copied from the referral. */
  partyHashes: string[]
  venue?: Venue
}

/** Schema-level consistency that JSON Schema cannot say: which fields go with which kind of application. */
function checkShape(b: CreateBody): void {
  const errors: FieldError[] = []
  if (b.referralId !== undefined) {
    for (const f of ['parties', 'organizationId', 'venue'] as const) {
      if (b[f] !== undefined) errors.push({ path: `/${f}`, code: 'not_allowed', message: `关联委派案件的申请不填写 ${f}（取自委派案件）` })
    }
  } else {
    if (!b.agreement) errors.push({ path: '/agreement', code: 'required', message: '独立申请须附调解协议' })
    if (!b.parties) errors.push({ path: '/parties', code: 'required', message: '独立申请须列明当事人' })
    if (!b.organizationId) errors.push({ path: '/organizationId', code: 'required', message: '独立申请须填写主持调解的组织' })
    const basis = b.venue?.basis ?? 'organization_seat'
    if (basis === 'organization_seat' && b.venue?.regionCode !== undefined) {
      errors.push({ path: '/venue/regionCode', code: 'not_allowed', message: '以调解组织所在地确定管辖时不填写 regionCode' })
    }
    if (basis !== 'organization_seat' && b.venue?.regionCode === undefined) {
      errors.push({ path: '/venue/regionCode', code: 'required', message: '以当事人住所地或标的物所在地确定管辖时须填写 regionCode' })
    }
    if (b.parties) {
      if (!b.parties.some((x) => x.role === 'applicant')) errors.push({ path: '/parties', code: 'applicant_required', message: '至少需要一名申请人' })
      if (!b.parties.some((x) => x.role === 'respondent')) errors.push({ path: '/parties', code: 'respondent_required', message: '至少需要一名被申请人' })
      errors.push(...checkPartyIndexes(b.parties.length, b.applicants.map((index, i) => ({ path: `/applicants/${i}`, index }))))
      if (b.agreement) errors.push(...checkPartyIndexes(b.parties.length, b.agreement.signatures.map((s, i) => ({ path: `/agreement/signatures/${i}/partyIndex`, index: s.partyIndex }))))
    }
  }
  if (b.agreement?.form === 'oral' && !b.agreement.effectiveAt) errors.push({ path: '/agreement/effectiveAt', code: 'required', message: '口头协议须填写生效时间' })
  if (errors.length) throw validationFailed(errors)
}

/** A referral-linked application: the agreement and parties come from the referral (205(1), the referring court). */
async function fromReferral(trx: Trx, p: Principal, b: CreateBody, referralId: string): Promise<Intake> {
  const r = isUuid(referralId) ? await getReferral(trx, referralId) : undefined
  // Only the organization handling the case applies on the parties' behalf; for anyone else the case is not there.
  if (!r || !(await standing(trx, p, r)).holder) throw notFound('委派/委托案件')
  const agreement = r.doc.agreement
  if (!agreement || !referralAllowsConfirmation(r.status, r.doc.closure?.disposition)) throw illegalTransition(r.status, 'judicial_confirmation')
  raise(checkAgreementIntegrity(agreement.sha256, b.agreementSha256))
  if (b.agreement && agreementSha256(b.agreement.terms) !== agreement.sha256) {
    throw businessRule('agreement_mismatch', '申请所附调解协议与委派案件记录的协议不一致')
  }
  raise(checkReferringCourt(r.courtCode, b.courtCode))
  raise(checkSubject(b.subject ?? 'ordinary'))
  const errors = checkPartyIndexes(r.doc.parties.length, b.applicants.map((index, i) => ({ path: `/applicants/${i}`, index })))
  if (errors.length) throw validationFailed(errors)
  raise(checkJointApplication(r.doc.parties.length, b.applicants))
  const [org] = await holderRegions(trx, [r.organizationId])
  return { referralId: r.id, organizationId: r.organizationId, organizationRegion: org?.regionCode ?? '', agreement, parties: r.doc.parties, partyHashes: [] }
}

/** A standalone application (the organization mediated on its own): its own agreement, parties and venue (205(2)). */
async function standalone(deps: AppDeps, trx: Trx, p: Principal, b: CreateBody, now: Date): Promise<Intake> {
  const agreementBody = b.agreement as NonNullable<CreateBody['agreement']>
  const partiesBody = b.parties as NonNullable<CreateBody['parties']>
  const org = await getOrganization(trx, b.organizationId as string)
  // Unknown and foreign organizations answer alike, so the answer tells nothing about organizations outside the scope.
  if (!org || !organizationInScope(p, org)) throw businessRule('organization_out_of_scope', '主持调解的组织不存在或不在调用方的管辖范围内')
  const sha256 = agreementSha256(agreementBody.terms)
  if (b.agreementSha256 !== undefined) raise(checkAgreementIntegrity(sha256, b.agreementSha256))
  const venue: Venue = b.venue ? { basis: b.venue.basis, ...(b.venue.regionCode ? { regionCode: b.venue.regionCode } : {}) } : { basis: 'organization_seat' }
  raise(checkStandaloneVenue(b.courtCode, org.regionCode, venue))
  raise(checkSubject(b.subject ?? 'ordinary'))
  if (!coversAllParties(partiesBody.length, agreementBody.signatures.map((s) => s.partyIndex))) {
    throw businessRule('signatures_incomplete', '调解协议须经全体当事人签署')
  }
  for (const [i, s] of agreementBody.signatures.entries()) notFuture(s.signedAt, now, `agreement/signatures/${i}/signedAt`)
  if (agreementBody.effectiveAt) notFuture(agreementBody.effectiveAt, now, 'agreement/effectiveAt')
  raise(checkJointApplication(partiesBody.length, b.applicants))
  const agreement: Agreement = {
    ...(agreementBody.agreementNumber ? { agreementNumber: agreementBody.agreementNumber } : {}),
    form: agreementBody.form,
    terms: agreementBody.terms,
    ...(agreementBody.amount !== undefined ? { amount: agreementBody.amount } : {}),
    signatures: agreementBody.signatures,
    effectiveAt: agreementEffectiveAt(agreementBody.form, agreementBody.signatures, agreementBody.effectiveAt),
    performance: agreementBody.performance,
    sha256,
    recordedAt: now.toISOString(),
  }
  const { stored, hashes } = sealParties(deps.cipher, partiesBody)
  return { referralId: null, organizationId: org.id, organizationRegion: org.regionCode, agreement, parties: stored, partyHashes: hashes, venue }
}

// ---------------------------------------------------------------------------------------------
// Decisions

interface ActionContext {
  trx: Trx
  now: Date
  today: string
  cal: LegalCalendar
  confirmation: Confirmation
}

type Apply = (ctx: ActionContext) => Promise<Confirmation> | Confirmation

/**
 * Runs one decision on a locked application: scope (404), If-Match (412), the transition table (403/409), the
 * action's own rules, then the state, version and event written together.
 */
async function transition(deps: AppDeps, req: FastifyRequest, trx: Trx, id: string, action: ConfirmationAction, apply: Apply, batch: WriteBatch) {
  const p = req.principal
  const c = isUuid(id) ? await lockConfirmation(trx, id) : undefined
  if (!c) throw notFound(WHAT)
  const st = await confirmationStanding(trx, p, c)
  if (!st.read) throw notFound(WHAT)
  ifMatch(req, c.version)
  const decision = decideConfirmationTransition(c.status, action, p.role)
  if (!decision.ok) {
    if (decision.reason === 'forbidden') throw new AppError(403, 'forbidden', '当前角色无权执行此操作')
    throw illegalTransition(c.status, action)
  }
  const now = new Date()
  const day = today(now)
  const cal = await deps.calendar.get()
  const after = await apply({ trx, now, today: day, cal, confirmation: c })
  const next: Confirmation = { ...after, status: decision.to }
  const saved = await commitConfirmationTransition(trx, {
    before: c,
    after: next,
    eventType: decision.event,
    actor: { clientId: p.clientId, role: p.role },
    eventData: { confirmation: maskedConfirmation({ ...next, version: c.version + 1, updatedAt: now }, day) },
    organizationRegion: st.organizationRegion,
    now,
    batch,
  })
  return { confirmation: saved, st }
}

async function respondWith(deps: AppDeps, req: FastifyRequest, trx: Trx, c: Confirmation, full: boolean, status: number, batch?: WriteBatch) {
  const body = confirmationView(c, full, decryptWith(deps.cipher), today())
  if (full) await recordAccess(trx, [{ clientId: req.principal.clientId, subjectId: c.id, fields: confirmationPersonalFields(c), requestId: String(req.id) }], batch)
  return {
    status,
    body,
    headers: { etag: `"${c.version}"` },
    afterCommit: () => deps.afterCommit({ events: true }),
  }
}

// ---------------------------------------------------------------------------------------------
// Routes

const COURT = ['court'] as const
const MEDIATION = ['mediation'] as const
const READERS = ['court', 'mediation', 'operator'] as const
const TAGS = ['judicial-confirmations']

const actionSchema = (summary: string, description: string, body: unknown) => caseActionSchema(TAGS, ConfirmationView, summary, description, body)

const confirmationsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.post(
    '/v1/judicial-confirmations',
    {
      config: { roles: MEDIATION },
      schema: {
        tags: TAGS,
        summary: '申请司法确认 / Apply for judicial confirmation',
        description:
          '调解平台代全体当事人共同申请（民事诉讼法 205；人民调解法 33）。' +
          '关联委派（referralId）：案件须由调用方的组织承办（否则 404），状态为 agreed 或以 agreement_filed 结案的 closed（否则 409 illegal_transition）；' +
          '协议取自案件，须携带 agreementSha256 且与案件协议一致（否则 422 agreement_mismatch；如同时附 agreement，其条款亦须一致）；须向委派法院申请（422 wrong_court）。' +
          '独立申请（无 referralId）：自带 agreement、parties 与 organizationId（组织须在调用方范围内，否则 422 organization_out_of_scope），' +
          '向基层法院申请：venue.basis 为 organization_seat（默认，法院辖区覆盖组织所在地）、party_domicile 或 subject_matter（法院辖区覆盖 venue.regionCode），否则 422 wrong_court；如附 agreementSha256 须与条款一致。' +
          '全体当事人均须为申请人（422 joint_application_required）；协议生效后 30 日内申请，按民事诉讼法 85 计算（Asia/Shanghai 日期，末日遇休息日顺延），逾期须填写 lateReason（此时 late: true，由法院决定），否则 422 confirmation_deadline_passed；' +
          'subject 为 personal_status、property_title、ip_title 的不予受理（422 excluded_subject，民诉法解释 355）。appliedAt 不得晚于当前时间（422 timestamp_in_future）或早于协议生效（422 timestamp_before_agreement）。' +
          'materials[] 引用调用方可读的材料（否则 422 unknown_material）。同一委派案件已有待审或已裁定有效的申请时 409 duplicate_application。' +
          ' Mediation only, on the parties’ joint application. Referral-linked: the referral must be handled by the caller’s organization (404), agreed or closed as agreement_filed (409), ' +
          'agreementSha256 must equal the recorded agreement’s (422 agreement_mismatch), the court must be the referring court (422 wrong_court). Standalone: own agreement, parties and organizationId ' +
          '(422 organization_out_of_scope when unknown or outside the caller’s scope), a basic court covering the venue region (422 wrong_court). Every party applies (422 joint_application_required); ' +
          'within 30 days after the agreement took effect counted per art. 85, else 422 confirmation_deadline_passed unless lateReason is given (then late: true). ' +
          'Excluded subjects → 422 excluded_subject. materials[] must name materials the caller may read (422 unknown_material). A live application (pending or ruled valid) for the same referral → 409 duplicate_application. Answers 201 with the application.',
        headers: IDEMPOTENCY_HEADER,
        body: CreateConfirmationBody,
        response: { 201: ConfirmationView, ...errorResponses(404, 409, 422) },
      },
    },
    async (req, reply) => {
      const b = req.body
      const p = req.principal
      checkShape(b)
      return runIdempotent(req, reply, deps.db, async (trx) => {
        const now = new Date()
        const day = today(now)
        const intake = b.referralId !== undefined ? await fromReferral(trx, p, b, b.referralId) : await standalone(deps, trx, p, b, now)

        notFuture(b.appliedAt, now, 'appliedAt')
        if (new Date(b.appliedAt).getTime() < new Date(intake.agreement.effectiveAt).getTime() - CLOCK_SKEW_MS) {
          throw businessRule('timestamp_before_agreement', 'appliedAt 不能早于调解协议生效时间', { path: 'appliedAt' })
        }
        const cal = await deps.calendar.get()
        const timing = applicationTiming(cal, intake.agreement.effectiveAt, b.appliedAt, b.lateReason)
        if (!timing.ok) throw businessRule(timing.problem.code, timing.problem.detail, { applicationDueOn: timing.applicationDueOn })

        // A material is quoted only if the caller may read it (uploaded it, or may read a case referencing it).
        const materials = b.materials ?? []
        await assertMaterialsExist(trx, materials.map((m) => m.materialId), p)

        if (intake.referralId) {
          const live = await findLiveConfirmation(trx, intake.referralId)
          if (live) throw conflict('duplicate_application', '该委派案件已有待审查或已裁定有效的司法确认申请', { existingId: live.id })
        }

        const doc: ConfirmationDoc = {
          applicants: [...new Set(b.applicants)].sort((x, y) => x - y),
          appliedAt: new Date(b.appliedAt).toISOString(),
          applicationDueOn: timing.applicationDueOn,
          provisional: timing.provisional,
          ...(b.lateReason !== undefined ? { lateReason: b.lateReason } : {}),
          agreement: intake.agreement,
          parties: intake.parties,
          materials,
          ...(intake.venue ? { venue: intake.venue } : {}),
        }
        const c: Confirmation = {
          id: uuidv7(),
          version: 1,
          status: 'applied',
          referralId: intake.referralId,
          courtCode: b.courtCode,
          organizationId: intake.organizationId,
          subject: b.subject ?? 'ordinary',
          late: timing.late,
          caseNumber: null,
          reviewDueOn: null,
          agreementSha256: intake.agreement.sha256,
          chainHead: GENESIS_HASH,
          doc,
          createdAt: now,
          updatedAt: now,
        }
        const { hash } = await appendEvent(trx, {
          type: 'confirmation.applied',
          subject: { kind: 'judicial_confirmation', id: c.id },
          sequence: 1,
          caseVersion: 1,
          actor: { clientId: p.clientId, role: p.role },
          data: { confirmation: maskedConfirmation(c, day) },
          prevHash: GENESIS_HASH,
          occurredAt: now,
          scope: { courtCode: c.courtCode, organizationId: c.organizationId, regionCode: intake.organizationRegion || null, audience: 'case' },
        })
        c.chainHead = hash
        try {
          await insertConfirmation(trx, c)
        } catch (err) {
          // Two applications for one referral racing past the check above: the unique index decides.
          if ((err as { code?: string }).code === '23505') throw conflict('duplicate_application', '该委派案件已有待审查或已裁定有效的司法确认申请')
          throw err
        }
        if (intake.referralId) await copyPartyIndex(trx, intake.referralId, c.id)
        else await insertPartyIndex(trx, c.id, intake.partyHashes)
        await linkMaterials(trx, 'judicial_confirmation', c.id, materials.map((m) => m.materialId))
        const result = await respondWith(deps, req, trx, c, true, 201)
        return { ...result, headers: { ...result.headers, location: `/v1/judicial-confirmations/${c.id}` } }
      })
    },
  )

  app.get(
    '/v1/judicial-confirmations/:id',
    {
      config: { roles: READERS },
      schema: {
        tags: TAGS,
        summary: '查询司法确认申请 / Get a judicial confirmation application',
        description:
          '返回 ETag: "<version>"。个人信息仅对受理法院与承办组织完整显示；审查中且已过 reviewDueOn 时 overdue 为 true。' +
          ' ETag carries the version; personal data is full only for the court concerned and the handling organization; overdue is true while under review past reviewDueOn.',
        params: IdParam,
        response: { 200: ConfirmationView, ...errorResponses(404) },
      },
    },
    async (req, reply) => {
      const c = isUuid(req.params.id) ? await getConfirmation(deps.db, req.params.id) : undefined
      if (!c) throw notFound(WHAT)
      const st = await confirmationStanding(deps.db, req.principal, c)
      if (!st.read) throw notFound(WHAT)
      if (st.full) deps.accessTrail.record([{ clientId: req.principal.clientId, subjectId: c.id, fields: confirmationPersonalFields(c), requestId: String(req.id) }])
      reply.header('etag', `"${c.version}"`)
      return confirmationView(c, st.full, decryptWith(deps.cipher), today()) as ConfirmationViewT
    },
  )

  app.get(
    '/v1/judicial-confirmations',
    {
      config: { roles: READERS },
      schema: {
        tags: TAGS,
        summary: '司法确认申请列表 / List judicial confirmation applications',
        description:
          '仅返回调用方可读的申请：法院为其法院代字，调解平台为其组织，运维为全部（脱敏）。overdue=true 为审查中且已过 reviewDueOn 的申请。' +
          ' Courts see their court codes, mediation clients their organizations, operators everything (masked). overdue=true: under review past reviewDueOn.',
        querystring: Type.Object(
          {
            status: Type.Optional(ConfirmationStatusSchema),
            courtCode: Type.Optional(Type.String({ 'x-check': 'courtCode' })),
            organizationId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
            referralId: Type.Optional(Type.String({ format: 'uuid' })),
            overdue: Type.Optional(Type.Boolean()),
            limit: Type.Optional(LimitQuery),
            cursor: Type.Optional(CursorQuery),
          },
          { additionalProperties: false },
        ),
        response: { 200: listOf(ConfirmationView), ...errorResponses() },
      },
    },
    async (req) => {
      const q = req.query
      const p = req.principal
      const limit = q.limit ?? 50
      const after = decodeCursor<{ id: string }>(q.cursor, ['id'])
      const day = today()
      const rows = await listConfirmations(deps.db, p, {
        status: q.status,
        courtCode: q.courtCode,
        organizationId: q.organizationId,
        referralId: q.referralId,
        overdue: q.overdue,
        today: day,
        afterId: after?.id,
        limit: limit + 1,
      })
      const { items, nextCursor } = page(rows, limit, (c) => ({ id: c.id }))
      // The list is already cut to the caller's scope, whose courts and organizations are exactly those that see
      // personal data in full; operators see it masked.
      const full = p.role !== 'operator'
      const views = items.map((c) => confirmationView(c, full, decryptWith(deps.cipher), day))
      if (full) {
        deps.accessTrail.record(items.map((c) => ({ clientId: p.clientId, subjectId: c.id, fields: confirmationPersonalFields(c), requestId: String(req.id) })))
      }
      return { items: views as ConfirmationViewT[], nextCursor }
    },
  )

  app.get(
    '/v1/judicial-confirmations/:id/events',
    {
      config: { roles: READERS },
      schema: {
        tags: TAGS,
        summary: '司法确认申请的事件历史 / The application’s events in sequence order',
        params: IdParam,
        querystring: Type.Object({ limit: Type.Optional(LimitQuery), cursor: Type.Optional(CursorQuery) }, { additionalProperties: false }),
        response: { 200: listOf(EventEnvelopeSchema), ...errorResponses(404) },
      },
    },
    async (req) => {
      const c = isUuid(req.params.id) ? await getConfirmation(deps.db, req.params.id) : undefined
      if (!c || !(await confirmationStanding(deps.db, req.principal, c)).read) throw notFound(WHAT)
      const limit = req.query.limit ?? 50
      const after = decodeCursor<{ seq: number }>(req.query.cursor, ['seq'])
      const rows = await listSubjectEvents(deps.db, c.id, after?.seq ?? 0, limit + 1)
      const { items, nextCursor } = page(rows, limit, (e) => ({ seq: e.sequence }))
      return { items: items.map(toEnvelope) as Array<Static<typeof EventEnvelopeSchema>>, nextCursor }
    },
  )

  const action = <B>(
    path: string,
    roles: typeof COURT | typeof MEDIATION,
    schema: ReturnType<typeof actionSchema>,
    /** Picks the action the body asks for (acceptance carries two) and how to apply it. */
    plan: (body: B) => { action: ConfirmationAction; apply: Apply },
    opts: { emptyBody?: boolean } = {},
  ) => {
    app.post(
      `/v1/judicial-confirmations/:id/${path}`,
      {
        config: { roles },
        schema: schema as never,
        // An action without required fields may be posted without a body at all.
        ...(opts.emptyBody
          ? {
              preValidation: async (req: FastifyRequest) => {
                if (req.body === undefined || req.body === null) req.body = {}
              },
            }
          : {}),
      },
      async (req, reply) => {
        const { action: chosen, apply } = plan(req.body as B)
        return runIdempotent(req, reply, deps.db, async (trx, batch) => {
          const { confirmation, st } = await transition(deps, req, trx, (req.params as { id: string }).id, chosen, apply, batch)
          return respondWith(deps, req, trx, confirmation, st.full, 200, batch)
        })
      },
    )
  }

  action<Static<typeof ConfirmationAcceptanceBody>>(
    'acceptance',
    COURT,
    actionSchema(
      '受理或不予受理 / Accept or refuse the application',
      '受理：applied → under_review，须填写 诉前调确 或 民特 案号（法院代字须与申请一致，否则 400 invalid_case_number），审查期限 reviewDueOn = 立案日（acceptedOn，默认当日）后 30 日，末日遇休息日顺延（民事诉讼法 187、85）；' +
        '不予受理：applied → not_accepted，须说明理由（民诉法解释 355）。acceptedOn 不得晚于当日（422 date_in_future）或早于申请日（422 date_before_application）。' +
        ' Court only. accepted: a 诉前调确/民特 case number of this court, reviewDueOn = acceptance date + 30 days rolled per art. 85; not_accepted: a reason.',
      ConfirmationAcceptanceBody,
    ),
    (b) => {
      if (b.decision === 'accepted') {
        return {
          action: 'accept',
          apply: (ctx) => {
            const c = ctx.confirmation
            const errors: FieldError[] = []
            if (!b.caseNumber) errors.push({ path: '/caseNumber', code: 'required', message: '受理须填写司法确认案号' })
            if (b.reason !== undefined) errors.push({ path: '/reason', code: 'not_allowed', message: '受理时不填写理由' })
            const parsed = b.caseNumber ? parseCaseNumber(b.caseNumber, { currentYear: Number(ctx.today.slice(0, 4)) }) : null
            if (parsed && parsed.court !== c.courtCode) errors.push({ path: '/caseNumber', code: 'invalid_case_number', message: `案号中的法院代字须为受理法院 ${c.courtCode}` })
            if (errors.length) throw validationFailed(errors)
            const acceptedOn = b.acceptedOn ?? ctx.today
            if (daysBetween(ctx.today, acceptedOn) > 0) throw businessRule('date_in_future', 'acceptedOn 不能晚于当日', { path: 'acceptedOn' })
            if (daysBetween(shanghaiDate(new Date(c.doc.appliedAt)), acceptedOn) < 0) throw businessRule('date_before_application', 'acceptedOn 不能早于申请日', { path: 'acceptedOn' })
            const due = reviewDueOn(ctx.cal, acceptedOn)
            const caseNumber = parsed?.normalized ?? (b.caseNumber as string)
            return {
              ...c,
              caseNumber,
              reviewDueOn: due.date,
              doc: { ...c.doc, provisional: c.doc.provisional || due.provisional, acceptance: { caseNumber, acceptedOn, acceptedAt: ctx.now.toISOString() } },
            }
          },
        }
      }
      return {
        action: 'not_accept',
        apply: (ctx) => {
          const errors: FieldError[] = []
          if (!b.reason) errors.push({ path: '/reason', code: 'required', message: '不予受理须说明理由' })
          if (b.caseNumber !== undefined) errors.push({ path: '/caseNumber', code: 'not_allowed', message: '不予受理时不填写案号' })
          if (b.acceptedOn !== undefined) errors.push({ path: '/acceptedOn', code: 'not_allowed', message: '不予受理时不填写立案日期' })
          if (errors.length) throw validationFailed(errors)
          const c = ctx.confirmation
          return { ...c, doc: { ...c.doc, notAccepted: { reason: b.reason as string, decidedAt: ctx.now.toISOString() } } }
        },
      }
    },
  )

  action<Static<typeof ConfirmationWithdrawalBody>>(
    'withdrawal',
    MEDIATION,
    actionSchema(
      '撤回申请 / Withdraw the application',
      'applied 或 under_review → withdrawn（民诉法解释 357）；请求体可省略或附 reason。Mediation only; the body may be omitted.',
      ConfirmationWithdrawalBody,
    ),
    (b) => ({
      action: 'withdraw',
      apply: (ctx) => {
        const c = ctx.confirmation
        return { ...c, doc: { ...c.doc, withdrawal: { ...(b.reason !== undefined ? { reason: b.reason } : {}), withdrawnAt: ctx.now.toISOString() } } }
      },
    }),
    { emptyBody: true },
  )

  action<Static<typeof ConfirmationRulingBody>>(
    'ruling',
    COURT,
    actionSchema(
      '裁定 / Rule on the application',
      'under_review → ruled_valid（裁定调解协议有效）或 ruled_rejected（裁定驳回申请），民事诉讼法 206；裁定载明所确认协议的 agreementSha256。ruledOn 不得晚于当日（422 date_in_future）或早于立案日（422 date_before_acceptance）。' +
        ' Court only; the ruling shows the agreementSha256 of the agreement it rules on.',
      ConfirmationRulingBody,
    ),
    (b) => ({
      action: b.result === 'valid' ? 'rule_valid' : 'rule_rejected',
      apply: (ctx) => {
        const c = ctx.confirmation
        if (daysBetween(ctx.today, b.ruledOn) > 0) throw businessRule('date_in_future', 'ruledOn 不能晚于当日', { path: 'ruledOn' })
        const acceptedOn = c.doc.acceptance?.acceptedOn
        if (acceptedOn && daysBetween(acceptedOn, b.ruledOn) < 0) throw businessRule('date_before_acceptance', 'ruledOn 不能早于立案日', { path: 'ruledOn' })
        const ruling = {
          result: b.result,
          rulingNumber: b.rulingNumber,
          ruledOn: b.ruledOn,
          ...(b.reason !== undefined ? { reason: b.reason } : {}),
          agreementSha256: c.agreementSha256,
          recordedAt: ctx.now.toISOString(),
        }
        return { ...c, doc: { ...c.doc, ruling } }
      },
    }),
  )
}

export default confirmationsPlugin
