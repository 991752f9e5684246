import { uuidv7 } from 'uuidv7'
import type { AccessTrail } from '../../db/access-log-repository.js'
import type { Database } from '../../db/database.js'
import { appendEvent, eventEnvelope, type NewEventInput, writtenEvent } from '../../db/event-repository.js'
import { assertMaterialsExist, getMaterial, linkMaterials } from '../../db/material-repository.js'
import { getOrganization } from '../../db/organization-repository.js'
import {
  commitTransition,
  getReferral,
  holderRegions,
  insertPartyIndex,
  insertReferral,
  listReferrals,
  lockReferral,
  type ReferralFilters,
} from '../../db/referral-repository.js'
import type { Kysely } from 'kysely'
import { referralStanding } from '../../domain/access.js'
import { acceptanceDueOn, endOfShanghaiDay, shanghaiDate } from '../../domain/calendar.js'
import { AppError, conflict } from '../../domain/errors.js'
import { type EventEnvelope, GENESIS_HASH } from '../../domain/event-chain.js'
import type { Principal } from '../../domain/principal.js'
import { maskedReferralView, personalFields, type Referral, type ReferralDoc } from '../../domain/referral.js'
import * as rules from '../../domain/referral-actions.js'
import { decideTransition, type ReferralAction } from '../../domain/referral-machine.js'
import type {
  AcceptanceInput,
  AgreementInput,
  AssignmentInput,
  ClosureInput,
  CourtFilingInput,
  CreateReferralInput,
  ExtensionInput,
  MaterialReturnInput,
  PerformanceInput,
  RecallInput,
  RedesignationInput,
  ResumptionInput,
  SuspensionInput,
  TerminationInput,
} from '../../schemas/referrals.js'
import {
  type CaseDeps,
  caseEvents,
  type CaseKind,
  type CaseStanding,
  type Caller,
  type CommitHints,
  type Outcome,
  readCase,
  recordFullView,
  transitionCase,
  type Trx,
  type Work,
} from '../case-kit.js'
import { sealParties } from '../parties.js'

/**
 * The referral service (contract §2): intake and one function per action. Each owns the unit of work it is given,
 * asks domain/referral-actions.ts to decide, and writes through db/; the HTTP layer only renders what it returns.
 */

const WHAT = '委派/委托案件'

type Db = Kysely<Database> | Trx

/** How a principal stands to a referral (domain/access.ts), with the regions of the organizations that held it. */
export async function referralStandingIn(db: Db, p: Principal, r: Referral): Promise<CaseStanding> {
  const st = referralStanding(p, r, p.role === 'mediation' ? await holderRegions(db, r.heldBy) : [])
  return { read: st.read, full: st.full, act: st.holder }
}

/** The referral as the versioned-case kit sees it. */
export const referralKind: CaseKind<Referral, ReferralAction> = {
  what: WHAT,
  notActing: '该案件当前不由调用方的组织办理',
  get: getReferral,
  lock: lockReferral,
  standing: referralStandingIn,
  decide: (r, action, by) => decideTransition(r.status, action, by, r.referralType),
  async commit(trx, c) {
    const [region] = await holderRegions(trx, [c.after.organizationId])
    return commitTransition(trx, {
      ...c,
      eventData: { referral: maskedReferralView({ ...c.after, version: c.before.version + 1, updatedAt: c.now }) },
      holderRegion: region?.regionCode || null,
    })
  },
}

/** After a commit: wake the relay, and schedule the timer of the deadline now running, if any. */
export function referralHints(r: Referral): CommitHints {
  const due = rules.pendingDeadline(r)
  return { events: true, timers: due ? [{ referralId: r.id, dueAt: endOfShanghaiDay(due) }] : [] }
}

export interface ReferralServiceDeps extends CaseDeps {
  db: Kysely<Database>
  /** Batched access trail for reads (writes record in their own unit of work). */
  accessTrail: AccessTrail
}

/** The detail of 409 duplicate_referral (single and batch intake). */
export const DUPLICATE_DETAIL = '同一法院同一案号已有未办结的委派/委托'

/**
 * What one intake writes, built without I/O once the body passed its checks and the organization its roster check:
 * the referral (parties sealed), its blind-index hashes and its first event (`referral.created`, hash-chained from
 * the genesis hash, its envelope's id and hash fixed here). Single and batch intake both build through here.
 */
export function newIntake(
  deps: Pick<CaseDeps, 'cipher'>,
  cal: Awaited<ReturnType<CaseDeps['calendar']['get']>>,
  p: Principal,
  b: CreateReferralInput,
  caseNumber: string,
  org: { id: string; regionCode: string },
  now: Date,
): { referral: Referral; hashes: string[]; event: NewEventInput & { envelope: EventEnvelope; hash: string } } {
  const due = acceptanceDueOn(cal, shanghaiDate(now))
  const { stored, hashes, revealed } = sealParties(deps.cipher, b.parties)
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
    revealed,
  }
  const input: NewEventInput = {
    type: 'referral.created',
    subject: { kind: 'referral', id: referral.id },
    sequence: 1,
    caseVersion: 1,
    actor: { clientId: p.clientId, role: p.role },
    data: { referral: maskedReferralView(referral) },
    prevHash: GENESIS_HASH,
    occurredAt: now,
    scope: { courtCode: referral.courtCode, organizationId: org.id, regionCode: org.regionCode },
  }
  const { envelope, hash } = eventEnvelope(input)
  referral.chainHead = hash
  referral.lastEvent = writtenEvent(envelope, hash)
  return { referral, hashes, event: { ...input, envelope, hash } }
}

export type ReferralService = ReturnType<typeof referralService>

export function referralService(deps: ReferralServiceDeps) {
  /** Answers a write: records the full view in the unit of work when the caller gets one. */
  async function answer(work: Work, caller: Caller, r: Referral, st: Pick<CaseStanding, 'full'>): Promise<Outcome<Referral>> {
    if (st.full) await recordFullView(work, caller, r.id, personalFields(r))
    return { value: r, full: st.full, hints: referralHints(r), ...(r.lastEvent ? { event: r.lastEvent } : {}) }
  }

  /** One action: the kit runs the transition with the action's rules, given the moment and the calendar. */
  async function act(work: Work, caller: Caller, id: string, action: ReferralAction, apply: (r: Referral, at: rules.At) => Promise<Referral> | Referral) {
    const now = new Date()
    const cal = await deps.calendar.get()
    const done = await transitionCase(work, referralKind, { id, by: caller, action, now, apply: (r) => apply(r, { now, cal }) })
    // transitionCase returns undefined only for system actions.
    const { value, standing } = done as NonNullable<typeof done>
    return answer(work, caller, value, standing)
  }

  /** The signed agreement file: a complete material the caller may read (422 unknown_material), with its sha256. */
  async function agreementDocument(work: Work, caller: Caller, materialId: string): Promise<{ materialId: string; sha256: string }> {
    try {
      await assertMaterialsExist(work.trx, [materialId], caller.principal)
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== 'unknown_material') throw e
      throw new AppError(422, 'unknown_material', e.detail, {
        extra: e.extra,
        detailEn: e.detailEn,
        errors: [
          {
            path: '/documentMaterialId',
            code: 'unknown_material',
            message: `材料 ${materialId} 不存在或不可引用`,
            messageEn: `material ${materialId} is unknown or may not be referenced`,
          },
        ],
      })
    }
    const m = await getMaterial(work.trx, materialId)
    if (!m) throw new Error('a material pinned by assertMaterialsExist is there')
    return { materialId: m.id, sha256: m.sha256 }
  }

  function trail(caller: Caller, shown: Array<{ r: Referral; full: boolean }>): void {
    const entries = shown
      .filter((s) => s.full)
      .map((s) => ({ clientId: caller.principal.clientId, subjectId: s.r.id, fields: personalFields(s.r), requestId: caller.requestId }))
    deps.accessTrail.record(entries)
  }

  /** The intake's writes, once the body passed its checks. */
  async function createIn(work: Work, caller: Caller, b: CreateReferralInput, caseNumber: string): Promise<Outcome<Referral>> {
    const p = caller.principal
    const materialIds = (b.materials ?? []).map((m) => m.materialId)
    const org = rules.designated(b.courtCode, b.designation.mode, await getOrganization(work.trx, b.designation.organizationId))
    await assertMaterialsExist(work.trx, materialIds, p)
    const { referral, hashes, event } = newIntake(deps, await deps.calendar.get(), p, b, caseNumber, org, new Date())
    await appendEvent(work.trx, event, work.batch)
    // Every write of the intake goes in one statement with the stored answer (the idempotency runner sends it).
    await insertReferral(work.trx, referral, work.batch, () => conflict('duplicate_referral', DUPLICATE_DETAIL))
    await insertPartyIndex(work.trx, referral.id, hashes, work.batch)
    await linkMaterials(work.trx, 'referral', referral.id, materialIds)
    return answer(work, caller, referral, { full: true })
  }

  return {
    /** Intake (委派/委托): every party consents, the organization is on a roster, the acceptance clock starts. */
    create(caller: Caller, b: CreateReferralInput): (work: Work) => Promise<Outcome<Referral>> {
      const p = caller.principal
      // What the body alone decides is refused before any unit of work (or idempotency claim) begins.
      const { caseNumber } = rules.checkReferralIntake(b, p, new Date())
      return (work) => createIn(work, caller, b, caseNumber)
    },

    /** One referral the caller may read (404 otherwise); a full view goes to the access trail. */
    async get(caller: Caller, id: string): Promise<{ value: Referral; full: boolean }> {
      const { value, standing } = await readCase(deps.db, referralKind, caller.principal, id)
      trail(caller, [{ r: value, full: standing.full }])
      return { value, full: standing.full }
    },

    /** The referrals the caller may read, each with whether it sees it in full. */
    /** A page of referrals; the first `shown` of them (all by default) are shown, and only those are trailed. */
    async list(caller: Caller, filters: ReferralFilters, shown = filters.limit): Promise<Array<{ value: Referral; full: boolean }>> {
      const p = caller.principal
      const rows = await listReferrals(deps.db, p, filters)
      // A mediation client's standing depends on the regions of the organizations that held each case: one query
      // for the page's holders, not one per row (what referralStandingIn does for a single case).
      const regionOf =
        p.role === 'mediation'
          ? new Map((await holderRegions(deps.db, [...new Set(rows.flatMap((r) => r.heldBy))])).map((h) => [h.id, h.regionCode]))
          : undefined
      const standing = rows.map((r) => ({
        r,
        full: referralStanding(p, r, regionOf ? r.heldBy.map((id) => ({ id, regionCode: regionOf.get(id) ?? '' })) : []).full,
      }))
      trail(caller, standing.slice(0, shown))
      return standing.map((s) => ({ value: s.r, full: s.full }))
    },

    events: (caller: Caller, id: string, afterSequence: number, limit: number) => caseEvents(deps.db, referralKind, caller.principal, id, afterSequence, limit),

    /** The referral if the caller may read it (404 otherwise); for resources hanging off a referral. */
    assertReadable: async (caller: Caller, id: string): Promise<Referral> => (await readCase(deps.db, referralKind, caller.principal, id)).value,

    accept: (work: Work, caller: Caller, id: string, b: AcceptanceInput) => act(work, caller, id, 'accept', (r, at) => rules.accept(r, b, at)),
    decline: (work: Work, caller: Caller, id: string, b: AcceptanceInput) => act(work, caller, id, 'decline', (r, at) => rules.decline(r, b, at)),
    redesignate: (work: Work, caller: Caller, id: string, b: RedesignationInput) =>
      act(work, caller, id, 'redesignate', async (r, at) => rules.redesignate(r, b, await getOrganization(work.trx, b.designation.organizationId), at)),
    recall: (work: Work, caller: Caller, id: string, b: RecallInput) => act(work, caller, id, 'recall', (r, at) => rules.recall(r, b, at)),
    assign: (work: Work, caller: Caller, id: string, b: AssignmentInput) =>
      act(work, caller, id, 'assign', async (r, at) =>
        rules.assign(r, b, await getOrganization(work.trx, r.organizationId), await getOrganization(work.trx, b.organizationId), at),
      ),
    suspend: (work: Work, caller: Caller, id: string, b: SuspensionInput) => act(work, caller, id, 'suspend', (r, at) => rules.suspend(r, b, at)),
    resume: (work: Work, caller: Caller, id: string, b: ResumptionInput) => act(work, caller, id, 'resume', (r, at) => rules.resume(r, b, at)),
    extend: (work: Work, caller: Caller, id: string, b: ExtensionInput) => act(work, caller, id, 'extend', (r, at) => rules.extend(r, b, at)),
    recordAgreement: (work: Work, caller: Caller, id: string, b: AgreementInput) =>
      act(work, caller, id, 'record_agreement', async (r, at) => {
        const document = b.documentMaterialId === undefined ? undefined : await agreementDocument(work, caller, b.documentMaterialId)
        const after = rules.recordAgreement(r, b, at, document)
        // Linked in the case's transaction: the orphan expiry never takes the signed agreement.
        if (document) await linkMaterials(work.trx, 'referral', r.id, [document.materialId])
        return after
      }),
    terminate: (work: Work, caller: Caller, id: string, b: TerminationInput) => act(work, caller, id, 'terminate', (r, at) => rules.terminate(r, b, at)),
    returnMaterials: (work: Work, caller: Caller, id: string, b: MaterialReturnInput) =>
      act(work, caller, id, 'return_materials', async (r, at) => {
        const after = rules.returnMaterials(r, b, at)
        const ids = b.materials.map((m) => m.materialId)
        await assertMaterialsExist(work.trx, ids, caller.principal)
        await linkMaterials(work.trx, 'referral', r.id, ids)
        return after
      }),
    registerCase: (work: Work, caller: Caller, id: string, b: CourtFilingInput) =>
      act(work, caller, id, 'register_case', (r, at) => rules.registerCase(r, b, at)),
    resumeTrial: (work: Work, caller: Caller, id: string, b: CourtFilingInput) => act(work, caller, id, 'resume_trial', (r) => rules.resumeTrial(r, b)),
    close: (work: Work, caller: Caller, id: string, b: ClosureInput) => act(work, caller, id, 'close', (r, at) => rules.close(r, b, at)),
    reportPerformance: (work: Work, caller: Caller, id: string, b: PerformanceInput) =>
      act(work, caller, id, 'report_performance', (r, at) => rules.reportPerformance(r, b, at)),
  }
}
