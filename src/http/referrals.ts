import { createHash } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { Transaction } from 'kysely'
import Type, { type Static } from 'typebox'
import { uuidv7 } from 'uuidv7'
import { recordAccess } from '../db/access-log-repository.js'
import type { Database } from '../db/database.js'
import { appendEvent, listSubjectEvents, toEnvelope } from '../db/event-repository.js'
import { assertMaterialsExist, linkMaterials } from '../db/material-repository.js'
import type { WriteBatch } from '../db/write-batch.js'
import { getOrganization } from '../db/organization-repository.js'
import {
  commitTransition,
  getReferral,
  holderRegions,
  insertPartyIndex,
  insertReferral,
  listReferrals,
  lockReferral,
} from '../db/referral-repository.js'
import {
  acceptanceDueOn,
  daysBetween,
  endOfShanghaiDay,
  mediationDueOn,
  resumedDueOn,
  shanghaiDate,
  type LegalCalendar,
} from '../domain/calendar.js'
import { AppError, businessRule, conflict, fieldInvalid, illegalTransition, notFound, outOfScope, validationFailed, type FieldError } from '../domain/errors.js'
import { GENESIS_HASH } from '../domain/event-chain.js'
import { isUuid } from '../domain/ids.js'
import { normalizeResidentId, parseCaseNumber, regionCovers } from '../domain/identifiers.js'
import { checkDesignation, type Organization } from '../domain/organization.js'
import { maskIdNumber, maskPhone } from '../domain/personal-data.js'
import { referralStanding, type Standing } from '../domain/access.js'
import type { Principal } from '../domain/principal.js'
import { personalFields, type Referral, type ReferralDoc, referralView, type Sealed, type StoredParty } from '../domain/referral.js'
import { CLOSURE_DISPOSITIONS, coversAllParties, decideTransition, type ReferralAction } from '../domain/referral-machine.js'
import type { FieldCipher } from '../security/field-cipher.js'
import type { AppDeps, CommitHints } from './app-deps.js'
import { caseActionSchema, ifMatch } from './case-actions.js'
import { errorResponses } from './common-schemas.js'
import { CursorQuery, IdParam, LimitQuery, listOf, StringEnum, Timestamp } from '../schemas/common.js'
import { IDEMPOTENCY_HEADER, runIdempotent } from './idempotency.js'
import { decodeCursor, page } from './pagination.js'
import {
  AcceptanceBody,
  AgreementBody,
  AssignmentBody,
  ClosureBody,
  CourtFilingBody,
  CreateReferralBody,
  DISPUTE_TYPES,
  ExtensionBody,
  MaterialReturnBody,
  PerformanceBody,
  RedesignationBody,
  ReferralView,
  ResumptionBody,
  SuspensionBody,
  TerminationBody,
} from '../schemas/referrals.js'
import { EventEnvelopeSchema } from '../schemas/events.js'

const CLOCK_SKEW_MS = 5 * 60_000

type ReferralViewT = Static<typeof ReferralView>

type Trx = Transaction<Database>

// ---------------------------------------------------------------------------------------------
// Reading and scope

export type { Standing }

export async function standing(db: AppDeps['db'] | Trx, p: Principal, r: Referral): Promise<Standing> {
  return referralStanding(p, r, p.role === 'mediation' ? await holderRegions(db, r.heldBy) : [])
}

export function decryptWith(cipher: FieldCipher) {
  return (token: string, context: string) => cipher.decrypt(token, context)
}

export function maskedView(r: Referral): Record<string, unknown> {
  return referralView(r, false, () => {
    throw new Error('masked view never decrypts')
  })
}

// ---------------------------------------------------------------------------------------------
// Intake helpers

function seal(cipher: FieldCipher, value: string, mask: (s: string) => string, context: string): Sealed {
  return { enc: cipher.encrypt(value, context), masked: mask(value) }
}

const maskAddress = (s: string): string => {
  const cps = [...s]
  return cps.length <= 6 ? '*'.repeat(cps.length) : `${cps.slice(0, 6).join('')}${'*'.repeat(Math.min(cps.length - 6, 8))}`
}

type PartyBody = Static<typeof CreateReferralBody>['parties'][number]

export function sealParties(cipher: FieldCipher, parties: PartyBody[]): { stored: StoredParty[]; hashes: string[] } {
  const hashes: string[] = []
  const stored = parties.map((p): StoredParty => {
    const idNumber = p.idType === 'resident_id' ? normalizeResidentId(p.idNumber) : p.idNumber
    hashes.push(cipher.blindIndex(idNumber, 'idNumber'))
    return {
      role: p.role,
      kind: p.kind,
      name: p.name,
      idType: p.idType,
      idNumber: seal(cipher, idNumber, maskIdNumber, 'idNumber'),
      ...(p.phone ? { phone: seal(cipher, p.phone, maskPhone, 'phone') } : {}),
      ...(p.address ? { address: seal(cipher, p.address, maskAddress, 'address') } : {}),
      ...(p.agents
        ? {
            agents: p.agents.map(({ idNumber, phone, ...rest }) => ({
              ...rest,
              ...(idNumber ? { idNumber: seal(cipher, rest.idType === 'resident_id' ? normalizeResidentId(idNumber) : idNumber, maskIdNumber, 'idNumber') } : {}),
              ...(phone ? { phone: seal(cipher, phone, maskPhone, 'phone') } : {}),
            })),
          }
        : {}),
    }
  })
  return { stored, hashes }
}

export function checkPartyIndexes(count: number, indexes: Array<{ path: string; index: number }>): FieldError[] {
  return indexes.filter((i) => i.index >= count).map((i) => ({ path: i.path, code: 'invalid_party_index', message: `当事人序号超出范围（共 ${count} 人）` }))
}

async function designatedOrganization(trx: Trx, courtCode: string, d: { mode: 'party_selected' | 'court_designated'; organizationId: string }): Promise<Organization> {
  const org = await getOrganization(trx, d.organizationId)
  const problem = checkDesignation(d.mode, courtCode, org)
  if (problem) throw businessRule(problem.code, problem.detail)
  return org as Organization
}

export function notFuture(iso: string, now: Date, path: string): void {
  if (new Date(iso).getTime() > now.getTime() + CLOCK_SKEW_MS) {
    throw businessRule('timestamp_in_future', `${path} 不能晚于当前时间`, { path })
  }
}

function timerHints(r: Referral): CommitHints['timers'] {
  const due = r.status === 'referred' ? r.doc.deadlines.acceptanceDueOn : r.status === 'mediating' ? r.doc.deadlines.mediationDueOn : null
  return due ? [{ referralId: r.id, dueAt: endOfShanghaiDay(due) }] : []
}

// ---------------------------------------------------------------------------------------------
// Transitions

export interface ActionContext {
  trx: Trx
  principal: Principal
  now: Date
  cal: LegalCalendar
  referral: Referral
}

type ActionResult = { after: Referral; eventData?: Record<string, unknown> }

/**
 * Runs one action on a locked referral: scope, If-Match, the transition table, the action's own rules, then the
 * state, version and event written together. Shared by every action route.
 */
async function transition(
  deps: AppDeps,
  req: FastifyRequest,
  trx: Trx,
  id: string,
  action: ReferralAction,
  apply: (ctx: ActionContext) => Promise<ActionResult> | ActionResult,
  batch: WriteBatch,
): Promise<{ referral: Referral; st: Standing }> {
  const p = req.principal
  const r = isUuid(id) ? await lockReferral(trx, id) : undefined
  if (!r) throw notFound('委派/委托案件')
  const st = await standing(trx, p, r)
  if (!st.read) throw notFound('委派/委托案件')
  if (!st.holder) throw outOfScope('该案件当前不由调用方的组织办理')
  ifMatch(req, r.version)
  const decision = decideTransition(r.status, action, p.role, r.referralType)
  if (!decision.ok) {
    if (decision.reason === 'forbidden') throw new AppError(403, 'forbidden', '当前角色无权执行此操作')
    throw illegalTransition(r.status, action)
  }
  const now = new Date()
  const cal = await deps.calendar.get()
  const { after } = await apply({ trx, principal: p, now, cal, referral: r })
  const next: Referral = { ...after, status: decision.to }
  const holder = next.organizationId === r.organizationId ? undefined : next.organizationId
  const regions = await holderRegions(trx, [holder ?? next.organizationId])
  const saved = await commitTransition(trx, {
    before: r,
    after: next,
    eventType: decision.event,
    actor: { clientId: p.clientId, role: p.role },
    eventData: { referral: maskedView({ ...next, version: r.version + 1, updatedAt: now }) },
    holderRegion: regions[0]?.regionCode || null,
    now,
    batch,
  })
  const stAfter = await standing(trx, p, saved)
  return { referral: saved, st: stAfter }
}

function respondWith(deps: AppDeps, req: FastifyRequest, trx: Trx, r: Referral, st: Standing, status: number, batch?: WriteBatch) {
  const body = referralView(r, st.full, decryptWith(deps.cipher))
  const access = st.full ? recordAccess(trx, [{ clientId: req.principal.clientId, subjectId: r.id, fields: personalFields(r), requestId: String(req.id) }], batch) : Promise.resolve()
  return access.then(() => ({
    status,
    body,
    headers: { etag: `"${r.version}"` },
    afterCommit: () => deps.afterCommit({ events: true, timers: timerHints(r) }),
  }))
}

// ---------------------------------------------------------------------------------------------
// Routes

const COURT = ['court'] as const
const MEDIATION = ['mediation'] as const
const READERS = ['court', 'mediation', 'operator'] as const

const actionSchema = (summary: string, description: string, body: unknown) => caseActionSchema(['referrals'], ReferralView, summary, description, body)

const referralsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.post(
    '/v1/referrals',
    {
      config: { roles: COURT },
      schema: {
        tags: ['referrals'],
        summary: '委派/委托调解 / Refer a dispute to mediation',
        description:
          '法院在立案前委派（pre_filing）或诉中委托（in_litigation）调解。须全体当事人同意（意见 三(二)），指定组织须在名册中。' +
          '受理期限为转交日后第 3 个工作日（在线调解规则 12）。Court only. Answers 201 with the referral; 409 duplicate_referral when an active referral of the same 案号 exists.',
        headers: IDEMPOTENCY_HEADER,
        body: CreateReferralBody,
        response: { 201: ReferralView, ...errorResponses(409, 422) },
      },
    },
    async (req, reply) => {
      const b = req.body
      const p = req.principal
      const errors: FieldError[] = []
      if (b.referralType === 'in_litigation' && !b.procedure) errors.push({ path: '/procedure', code: 'required', message: '诉中委托须注明普通或简易程序' })
      if (b.referralType === 'pre_filing' && b.procedure) errors.push({ path: '/procedure', code: 'not_allowed', message: '诉前委派不适用 procedure' })
      if (!b.parties.some((x) => x.role === 'applicant')) errors.push({ path: '/parties', code: 'applicant_required', message: '至少需要一名申请人/原告' })
      if (!b.parties.some((x) => x.role === 'respondent')) errors.push({ path: '/parties', code: 'respondent_required', message: '至少需要一名被申请人/被告' })
      errors.push(...checkPartyIndexes(b.parties.length, b.consent.map((c, i) => ({ path: `/consent/${i}/partyIndex`, index: c.partyIndex }))))
      if (errors.length) throw validationFailed(errors)
      if (!p.courtCodes.includes(b.courtCode)) throw businessRule('court_code_not_allowed', '调用方无权以该法院代字委派案件')
      if (!coversAllParties(b.parties.length, b.consent.map((c) => c.partyIndex))) {
        throw businessRule('consent_required', '委派调解须经全体当事人同意（意见 三(二)）')
      }
      const caseNumber = parseCaseNumber(b.caseNumber, { currentYear: Number(shanghaiDate(new Date()).slice(0, 4)) })?.normalized ?? b.caseNumber

      const materialIds = (b.materials ?? []).map((m) => m.materialId)
      return runIdempotent(req, reply, deps.db, async (trx, batch) => {
        const org = await designatedOrganization(trx, b.courtCode, b.designation)
        await assertMaterialsExist(trx, materialIds, p)
        const now = new Date()
        const cal = await deps.calendar.get()
        const due = acceptanceDueOn(cal, shanghaiDate(now))
        const { stored, hashes } = sealParties(deps.cipher, b.parties)
        const doc: ReferralDoc = {
          ...(b.procedure ? { procedure: b.procedure } : {}),
          ...(b.causeOfAction !== undefined ? { causeOfAction: b.causeOfAction } : {}),
          claimSummary: b.claimSummary,
          ...(b.claimAmount !== undefined ? { claimAmount: b.claimAmount } : {}),
          parties: stored,
          consent: b.consent,
          designation: b.designation,
          materials: b.materials ?? [],
          deadlines: { acceptanceDueOn: due.date, mediationDueOn: null, provisional: due.provisional },
        }
        const referral: Referral = {
          id: uuidv7(),
          version: 1,
          status: 'referred',
          referralType: b.referralType,
          courtCode: b.courtCode,
          caseNumber,
          disputeType: b.disputeType,
          organizationId: org.id,
          heldBy: [org.id],
          chainHead: GENESIS_HASH,
          doc,
          createdAt: now,
          updatedAt: now,
        }
        const { hash } = await appendEvent(trx, {
          type: 'referral.created',
          subject: { kind: 'referral', id: referral.id },
          sequence: 1,
          caseVersion: 1,
          actor: { clientId: p.clientId, role: p.role },
          data: { referral: maskedView(referral) },
          prevHash: GENESIS_HASH,
          occurredAt: now,
          scope: { courtCode: referral.courtCode, organizationId: org.id, regionCode: org.regionCode },
        }, batch)
        referral.chainHead = hash
        // Every write of the intake goes in one statement with the stored answer (runIdempotent sends it).
        await insertReferral(trx, referral, batch, () => conflict('duplicate_referral', '同一法院同一案号已有未办结的委派/委托'))
        await insertPartyIndex(trx, referral.id, hashes, batch)
        await linkMaterials(trx, 'referral', referral.id, materialIds)
        const result = await respondWith(deps, req, trx, referral, { read: true, full: true, holder: true }, 201, batch)
        return { ...result, headers: { ...result.headers, location: `/v1/referrals/${referral.id}` } }
      })
    },
  )

  app.get(
    '/v1/referrals/:id',
    {
      config: { roles: READERS },
      schema: {
        tags: ['referrals'],
        summary: '查询委派/委托案件 / Get a referral',
        description: '返回 ETag: "<version>"。个人信息仅对委派法院与承办组织完整显示。ETag carries the version; personal data is full only for the referring court and the handling organization.',
        params: IdParam,
        response: { 200: ReferralView, ...errorResponses(404) },
      },
    },
    async (req, reply) => {
      const r = isUuid(req.params.id) ? await getReferral(deps.db, req.params.id) : undefined
      if (!r) throw notFound('委派/委托案件')
      const st = await standing(deps.db, req.principal, r)
      if (!st.read) throw notFound('委派/委托案件')
      if (st.full) deps.accessTrail.record([{ clientId: req.principal.clientId, subjectId: r.id, fields: personalFields(r), requestId: String(req.id) }])
      reply.header('etag', `"${r.version}"`)
      return referralView(r, st.full, decryptWith(deps.cipher)) as ReferralViewT
    },
  )

  app.get(
    '/v1/referrals',
    {
      config: { roles: READERS },
      schema: {
        tags: ['referrals'],
        summary: '委派/委托案件列表 / List referrals',
        description: '仅返回调用方可读的案件。partyIdNumber 为当事人证件号精确检索（盲索引），仅限法院与调解平台。Only cases the caller may read; partyIdNumber is an exact blind-index search for courts and platforms.',
        querystring: Type.Object(
          {
            status: Type.Optional(Type.String({ maxLength: 32 })),
            courtCode: Type.Optional(Type.String({ 'x-check': 'courtCode' })),
            organizationId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
            disputeType: Type.Optional(StringEnum(DISPUTE_TYPES)),
            updatedSince: Type.Optional(Timestamp),
            partyIdNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
            limit: Type.Optional(LimitQuery),
            cursor: Type.Optional(CursorQuery),
          },
          { additionalProperties: false },
        ),
        response: { 200: listOf(ReferralView), ...errorResponses() },
      },
    },
    async (req) => {
      const q = req.query
      const p = req.principal
      if (q.partyIdNumber !== undefined && p.role === 'operator') {
        throw new AppError(403, 'forbidden', '运维角色不能按证件号检索')
      }
      const limit = q.limit ?? 50
      const after = decodeCursor<{ id: string }>(q.cursor, ['id'])
      const partyIdHash = q.partyIdNumber !== undefined ? deps.cipher.blindIndex(normalizeResidentId(q.partyIdNumber.trim()), 'idNumber') : undefined
      const rows = await listReferrals(deps.db, p, {
        status: q.status,
        courtCode: q.courtCode,
        organizationId: q.organizationId,
        disputeType: q.disputeType,
        updatedSince: q.updatedSince,
        partyIdHash,
        afterId: after?.id,
        limit: limit + 1,
      })
      const { items, nextCursor } = page(rows, limit, (r) => ({ id: r.id }))
      const views = []
      const access = []
      for (const r of items) {
        const st = await standing(deps.db, p, r)
        if (st.full) access.push({ clientId: p.clientId, subjectId: r.id, fields: personalFields(r), requestId: String(req.id) })
        views.push(referralView(r, st.full, decryptWith(deps.cipher)))
      }
      deps.accessTrail.record(access)
      return { items: views as ReferralViewT[], nextCursor }
    },
  )

  app.get(
    '/v1/referrals/:id/events',
    {
      config: { roles: READERS },
      schema: {
        tags: ['referrals'],
        summary: '案件事件历史 / The referral’s events in sequence order',
        params: IdParam,
        querystring: Type.Object({ limit: Type.Optional(LimitQuery), cursor: Type.Optional(CursorQuery) }, { additionalProperties: false }),
        response: { 200: listOf(EventEnvelopeSchema), ...errorResponses(404) },
      },
    },
    async (req) => {
      const r = isUuid(req.params.id) ? await getReferral(deps.db, req.params.id) : undefined
      if (!r || !(await standing(deps.db, req.principal, r)).read) throw notFound('委派/委托案件')
      const limit = req.query.limit ?? 50
      const after = decodeCursor<{ seq: number }>(req.query.cursor, ['seq'])
      const rows = await listSubjectEvents(deps.db, r.id, after?.seq ?? 0, limit + 1)
      const { items, nextCursor } = page(rows, limit, (e) => ({ seq: e.sequence }))
      return { items: items.map(toEnvelope) as Array<Static<typeof EventEnvelopeSchema>>, nextCursor }
    },
  )

  const action = <B>(
    path: string,
    roles: typeof COURT | typeof MEDIATION,
    schema: ReturnType<typeof actionSchema>,
    /** Picks the action the body asks for (some routes carry two, e.g. accept/decline) and how to apply it. */
    plan: (body: B) => { action: ReferralAction; apply: (ctx: ActionContext) => Promise<ActionResult> | ActionResult },
  ) => {
    app.post(`/v1/referrals/:id/${path}`, { config: { roles }, schema: schema as never }, async (req, reply) => {
      const { action: chosen, apply } = plan(req.body as B)
      return runIdempotent(req, reply, deps.db, async (trx, batch) => {
        const { referral, st } = await transition(deps, req, trx, (req.params as { id: string }).id, chosen, apply, batch)
        return respondWith(deps, req, trx, referral, st, 200, batch)
      })
    })
  }

  action<Static<typeof AcceptanceBody>>(
    'acceptance',
    MEDIATION,
    actionSchema('受理或不予接受 / Accept or decline', '受理：referred → mediating，开始调解期限（诉前 30 日、诉中普通 15 日、简易 7 日）；不予接受须说明理由。Accepting starts the mediation clock.', AcceptanceBody),
    (b) => {
      if (b.decision === 'accepted') {
        return {
          action: 'accept',
          apply: (ctx) => {
            const errors: FieldError[] = []
            if (!b.mediator) errors.push({ path: '/mediator', code: 'required', message: '受理须指定调解员' })
            if (!b.acceptedAt) errors.push({ path: '/acceptedAt', code: 'required', message: '受理须填写受理时间' })
            if (b.reason !== undefined) errors.push({ path: '/reason', code: 'not_allowed', message: '受理时不填写理由' })
            if (errors.length) throw validationFailed(errors)
            const r = ctx.referral
            const acceptedAt = new Date(b.acceptedAt as string)
            notFuture(b.acceptedAt as string, ctx.now, 'acceptedAt')
            if (acceptedAt.getTime() < r.createdAt.getTime() - CLOCK_SKEW_MS) throw businessRule('timestamp_before_referral', 'acceptedAt 不能早于委派时间', { path: 'acceptedAt' })
            const due = mediationDueOn(ctx.cal, shanghaiDate(acceptedAt), r.referralType, r.doc.procedure)
            return {
              after: {
                ...r,
                doc: {
                  ...r.doc,
                  mediator: b.mediator,
                  acceptedAt: acceptedAt.toISOString(),
                  deadlines: { acceptanceDueOn: r.doc.deadlines.acceptanceDueOn, mediationDueOn: due.date, provisional: due.provisional },
                },
              },
            }
          },
        }
      }
      return {
        action: 'decline',
        apply: (ctx) => {
          if (!b.reason) throw fieldInvalid('/reason', 'required', '不予接受须说明理由')
          if (b.mediator || b.acceptedAt) throw fieldInvalid(b.mediator ? '/mediator' : '/acceptedAt', 'not_allowed', '不予接受时不填写调解员或受理时间')
          const r = ctx.referral
          return { after: { ...r, doc: { ...r.doc, decline: { reason: b.reason, declinedAt: ctx.now.toISOString(), by: 'organization' } } } }
        },
      }
    },
  )

  action<Static<typeof RedesignationBody>>(
    'redesignation',
    COURT,
    actionSchema('重新指定调解组织 / Redesignate', 'declined → referred；指定规则同委派，重新计算受理期限。Same designation rules as at intake; a new acceptance deadline.', RedesignationBody),
    (b) => ({
      action: 'redesignate',
      apply: async (ctx) => {
        const r = ctx.referral
        const org = await designatedOrganization(ctx.trx, r.courtCode, b.designation)
        const due = acceptanceDueOn(ctx.cal, shanghaiDate(ctx.now))
        const { decline: _decline, ...rest } = r.doc
        void _decline
        return {
          after: {
            ...r,
            organizationId: org.id,
            heldBy: r.heldBy.includes(org.id) ? r.heldBy : [...r.heldBy, org.id],
            doc: { ...rest, designation: b.designation, deadlines: { acceptanceDueOn: due.date, mediationDueOn: null, provisional: due.provisional } },
          },
        }
      },
    }),
  )

  action<Static<typeof AssignmentBody>>(
    'assignment',
    MEDIATION,
    actionSchema('中心分派 / Dispatch from a centre', '仅当被指定组织为非诉讼纠纷化解中心，且目标组织在中心辖区内（意见 三(二)）。Only a centre may dispatch, to an active organization in its region.', AssignmentBody),
    (b) => ({
      action: 'assign',
      apply: async (ctx) => {
        const r = ctx.referral
        const centre = await getOrganization(ctx.trx, r.organizationId)
        if (!centre || centre.kind !== 'centre') throw businessRule('not_a_centre', '只有非诉讼纠纷化解中心可以分派案件')
        const target = await getOrganization(ctx.trx, b.organizationId)
        if (!target) throw businessRule('not_on_roster', '目标调解组织不存在')
        if (!target.active) throw businessRule('organization_inactive', '目标调解组织已停用')
        if (target.id === centre.id || !regionCovers(centre.regionCode, target.regionCode)) {
          throw businessRule('outside_centre_region', '目标调解组织不在中心辖区内')
        }
        return {
          after: {
            ...r,
            organizationId: target.id,
            heldBy: r.heldBy.includes(target.id) ? r.heldBy : [...r.heldBy, target.id],
            doc: { ...r.doc, assignments: [...(r.doc.assignments ?? []), { from: centre.id, to: target.id, assignedAt: ctx.now.toISOString() }] },
          },
        }
      },
    }),
  )

  action<Static<typeof SuspensionBody>>(
    'suspension',
    MEDIATION,
    actionSchema('中止调解 / Suspend', 'mediating → suspended；鉴定评估或疑似虚假调解，期限暂停（在线调解规则 26；特邀调解规定 18）。The clock stops.', SuspensionBody),
    (b) => ({
      action: 'suspend',
      apply: (ctx) => {
        const r = ctx.referral
        const suspension = { reason: b.reason, ...(b.note ? { note: b.note } : {}), suspendedOn: shanghaiDate(ctx.now), suspendedAt: ctx.now.toISOString() }
        return { after: { ...r, doc: { ...r.doc, suspension } } }
      },
    }),
  )

  action<Static<typeof ResumptionBody>>(
    'resumption',
    MEDIATION,
    actionSchema('恢复调解 / Resume', 'suspended → mediating；期限顺延中止期间的日历天数，遇休息日顺延。The due date moves later by the calendar days suspended, then rolls forward.', ResumptionBody),
    (b) => ({
      action: 'resume',
      apply: (ctx) => {
        const r = ctx.referral
        const s = r.doc.suspension
        const resumedOn = shanghaiDate(ctx.now)
        const current = r.doc.deadlines.mediationDueOn
        const due = s && current ? resumedDueOn(ctx.cal, current, s.suspendedOn, resumedOn) : { date: current, provisional: r.doc.deadlines.provisional }
        const { suspension: _s, ...rest } = r.doc
        void _s
        return {
          after: {
            ...r,
            doc: {
              ...rest,
              suspensions: [...(r.doc.suspensions ?? []), ...(s ? [{ reason: s.reason, ...(s.note ? { note: s.note } : {}), suspendedOn: s.suspendedOn, resumedOn, ...(b.note ? { resumeNote: b.note } : {}) }] : [])],
              deadlines: { ...r.doc.deadlines, mediationDueOn: due.date, provisional: due.provisional },
            },
          },
        }
      },
    }),
  )

  action<Static<typeof ExtensionBody>>(
    'extension',
    MEDIATION,
    actionSchema('延长调解期限 / Extend', '须全体当事人同意（特邀调解规定 27），新期限须晚于当前期限。Every party must consent; the new date must be later.', ExtensionBody),
    (b) => ({
      action: 'extend',
      apply: (ctx) => {
        const r = ctx.referral
        const errors = checkPartyIndexes(r.doc.parties.length, b.consent.map((c, i) => ({ path: `/consent/${i}/partyIndex`, index: c.partyIndex })))
        if (errors.length) throw validationFailed(errors)
        if (!coversAllParties(r.doc.parties.length, b.consent.map((c) => c.partyIndex))) throw businessRule('consent_required', '延长调解期限须经全体当事人同意')
        const current = r.doc.deadlines.mediationDueOn
        if (current && daysBetween(current, b.newDueOn) <= 0) throw businessRule('due_date_not_later', `newDueOn 须晚于当前期限 ${current}`)
        return {
          after: {
            ...r,
            doc: {
              ...r.doc,
              extensions: [...(r.doc.extensions ?? []), { previousDueOn: current ?? '', newDueOn: b.newDueOn, consent: b.consent, extendedAt: ctx.now.toISOString() }],
              deadlines: { ...r.doc.deadlines, mediationDueOn: b.newDueOn, provisional: ctx.cal.isProvisional(Number(b.newDueOn.slice(0, 4))) && r.doc.deadlines.provisional },
            },
          },
        }
      },
    }),
  )

  action<Static<typeof AgreementBody>>(
    'agreement',
    MEDIATION,
    actionSchema('记录调解协议 / Record the agreement', '全体当事人签署；书面与电子协议自最后一方签署时生效（在线调解规则 19），口头协议自达成之日生效。agreement.sha256 = SHA-256(terms).', AgreementBody),
    (b) => ({
      action: 'record_agreement',
      apply: (ctx) => {
        const r = ctx.referral
        const errors = checkPartyIndexes(r.doc.parties.length, b.signatures.map((s, i) => ({ path: `/signatures/${i}/partyIndex`, index: s.partyIndex })))
        if (b.form === 'oral' && !b.effectiveAt) errors.push({ path: '/effectiveAt', code: 'required', message: '口头协议须填写生效时间' })
        if (errors.length) throw validationFailed(errors)
        if (!coversAllParties(r.doc.parties.length, b.signatures.map((s) => s.partyIndex))) throw businessRule('signatures_incomplete', '调解协议须经全体当事人签署')
        for (const [i, s] of b.signatures.entries()) notFuture(s.signedAt, ctx.now, `signatures/${i}/signedAt`)
        const last = b.signatures.reduce((m, s) => Math.max(m, new Date(s.signedAt).getTime()), 0)
        const effectiveAt = b.form === 'oral' ? new Date(b.effectiveAt as string).toISOString() : new Date(last).toISOString()
        const agreement = {
          ...(b.agreementNumber ? { agreementNumber: b.agreementNumber } : {}),
          form: b.form,
          terms: b.terms,
          ...(b.amount !== undefined ? { amount: b.amount } : {}),
          signatures: b.signatures,
          effectiveAt,
          performance: b.performance,
          sha256: createHash('sha256').update(b.terms, 'utf8').digest('hex'),
          recordedAt: ctx.now.toISOString(),
        }
        return { after: { ...r, doc: { ...r.doc, agreement } } }
      },
    }),
  )

  action<Static<typeof TerminationBody>>(
    'termination',
    MEDIATION,
    actionSchema('调解终结 / Terminate', '终结理由见在线调解规则 25；无争议事实须经全体当事人确认。Reasons per art. 25; undisputed facts must be confirmed by every party.', TerminationBody),
    (b) => ({
      action: 'terminate',
      apply: (ctx) => {
        const r = ctx.referral
        const facts = b.undisputedFacts ?? []
        const errors = checkPartyIndexes(r.doc.parties.length, facts.flatMap((f, i) => f.confirmedBy.map((pi, j) => ({ path: `/undisputedFacts/${i}/confirmedBy/${j}`, index: pi }))))
        if (errors.length) throw validationFailed(errors)
        if (facts.some((f) => !coversAllParties(r.doc.parties.length, f.confirmedBy))) throw businessRule('signatures_incomplete', '无争议事实须经全体当事人签字确认')
        const { suspension: _s, ...rest } = r.doc
        void _s
        return {
          after: {
            ...r,
            doc: { ...rest, termination: { reason: b.reason, report: b.report, ...(facts.length ? { undisputedFacts: facts } : {}), terminatedAt: ctx.now.toISOString(), by: 'organization' } },
          },
        }
      },
    }),
  )

  action<Static<typeof MaterialReturnBody>>(
    'material-return',
    MEDIATION,
    actionSchema('退回材料 / Return the materials', 'terminated → materials_returned；须附书面终结报告（特邀调解规定 26）。A written report is required; materials may be empty when the file goes back on paper.', MaterialReturnBody),
    (b) => ({
      action: 'return_materials',
      apply: async (ctx) => {
        const r = ctx.referral
        notFuture(b.returnedAt, ctx.now, 'returnedAt')
        const ids = b.materials.map((m) => m.materialId)
        await assertMaterialsExist(ctx.trx, ids, ctx.principal)
        await linkMaterials(ctx.trx, 'referral', r.id, ids)
        return { after: { ...r, doc: { ...r.doc, materialReturn: { materials: b.materials, report: b.report, returnedAt: new Date(b.returnedAt).toISOString() } } } }
      },
    }),
  )

  action<Static<typeof CourtFilingBody>>(
    'court-filing',
    COURT,
    actionSchema('登记立案或恢复审理 / Register the case or resume the trial', 'materials_returned → case_registered（仅诉前委派，新 民初 案号）或 trial_resumed（仅诉中委托）。', CourtFilingBody),
    (b) => {
      if (b.action === 'case_registered') {
        return {
          action: 'register_case',
          apply: (ctx) => {
            const r = ctx.referral
            const errors: FieldError[] = []
            if (!b.caseNumber) errors.push({ path: '/caseNumber', code: 'required', message: '登记立案须填写新案号' })
            if (!b.filedOn) errors.push({ path: '/filedOn', code: 'required', message: '登记立案须填写立案日期' })
            if (b.resumedOn) errors.push({ path: '/resumedOn', code: 'not_allowed', message: '登记立案不填写 resumedOn' })
            const parsed = b.caseNumber ? parseCaseNumber(b.caseNumber, { currentYear: Number(shanghaiDate(ctx.now).slice(0, 4)) }) : null
            if (parsed && parsed.court !== r.courtCode) errors.push({ path: '/caseNumber', code: 'invalid_case_number', message: '新案号的法院代字须与委派法院一致' })
            if (errors.length) throw validationFailed(errors)
            return { after: { ...r, doc: { ...r.doc, courtFiling: { action: 'case_registered', caseNumber: parsed?.normalized ?? (b.caseNumber as string), filedOn: b.filedOn as string } } } }
          },
        }
      }
      return {
        action: 'resume_trial',
        apply: (ctx) => {
          const r = ctx.referral
          if (!b.resumedOn) throw fieldInvalid('/resumedOn', 'required', '恢复审理须填写恢复日期')
          if (b.caseNumber || b.filedOn) throw fieldInvalid(b.caseNumber ? '/caseNumber' : '/filedOn', 'not_allowed', '恢复审理不填写新案号或立案日期')
          return { after: { ...r, doc: { ...r.doc, courtFiling: { action: 'trial_resumed', resumedOn: b.resumedOn } } } }
        },
      }
    },
  )

  action<Static<typeof ClosureBody>>(
    'closure',
    COURT,
    actionSchema('结案 / Close', 'agreed → closed；诉前委派：agreement_filed（备案）；诉中委托：mediation_document_issued（调解书）或 suit_withdrawn（撤诉）。', ClosureBody),
    (b) => ({
      action: 'close',
      apply: (ctx) => {
        const r = ctx.referral
        const allowed: readonly string[] = CLOSURE_DISPOSITIONS[r.referralType]
        if (!allowed.includes(b.disposition)) throw illegalTransition(r.status, `closure:${b.disposition}`)
        return { after: { ...r, doc: { ...r.doc, closure: { disposition: b.disposition, ...(b.documentNumber ? { documentNumber: b.documentNumber } : {}), closedAt: ctx.now.toISOString() } } } }
      },
    }),
  )

  action<Static<typeof PerformanceBody>>(
    'performance',
    MEDIATION,
    actionSchema('履行情况回访 / Report performance', '协议履行情况（自动履行率），可重复报告，以最新为准；不改变状态。Repeatable, latest wins; no state change.', PerformanceBody),
    (b) => ({
      action: 'report_performance',
      apply: (ctx) => {
        const r = ctx.referral
        return { after: { ...r, doc: { ...r.doc, performance: { status: b.status, reportedOn: b.reportedOn, ...(b.note ? { note: b.note } : {}), reportedAt: ctx.now.toISOString() } } } }
      },
    }),
  )
}

export default referralsPlugin
