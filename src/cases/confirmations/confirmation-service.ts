import type { Kysely } from 'kysely'
import { uuidv7 } from 'uuidv7'
import type { AccessTrail } from '../../db/access-log-repository.js'
import {
  commitConfirmationTransition,
  type ConfirmationFilters,
  copyPartyIndex,
  findLiveConfirmation,
  getConfirmation,
  insertConfirmation,
  listConfirmations,
  lockConfirmation,
} from '../../db/confirmation-repository.js'
import type { Database } from '../../db/database.js'
import { appendEvent, writtenEvent } from '../../db/event-repository.js'
import { assertMaterialsExist, getMaterial, linkMaterials } from '../../db/material-repository.js'
import { getOrganization } from '../../db/organization-repository.js'
import { getReferral, holderRegions, insertPartyIndex } from '../../db/referral-repository.js'
import { confirmationStanding, organizationInScope } from '../../domain/access.js'
import { shanghaiDate } from '../../domain/calendar.js'
import {
  type Confirmation,
  type ConfirmationAction,
  type ConfirmationDoc,
  confirmationPersonalFields,
  decideConfirmationTransition,
  maskedConfirmationView,
  type Venue,
} from '../../domain/confirmation.js'
import * as rules from '../../domain/confirmation-actions.js'
import { AppError, businessRule, conflict, notFound } from '../../domain/errors.js'
import { GENESIS_HASH } from '../../domain/event-chain.js'
import { isUuid } from '../../domain/ids.js'
import type { Principal } from '../../domain/principal.js'
import type { Agreement, StoredParty } from '../../domain/referral.js'
import type {
  ConfirmationAcceptanceInput,
  ConfirmationMaterialRequestInput,
  ConfirmationMaterialSupplementInput,
  ConfirmationObjectionInput,
  ConfirmationObjectionRulingInput,
  ConfirmationReviewExtensionInput,
  ConfirmationRulingInput,
  ConfirmationWithdrawalInput,
  CreateConfirmationInput,
} from '../../schemas/confirmations.js'
import {
  type CaseDeps,
  caseEvents,
  type CaseKind,
  type CaseStanding,
  type Caller,
  type Outcome,
  readCase,
  recordFullView,
  transitionCase,
  type Trx,
  type Work,
} from '../case-kit.js'
import { sealParties } from '../parties.js'
import { referralStandingIn } from '../referrals/referral-service.js'

/**
 * The judicial confirmation service (司法确认, contract §3): applications from a referral or standalone, and the
 * court's decisions. The rules are in domain/confirmation-actions.ts; this module looks up and writes.
 */

const WHAT = '司法确认申请'

type Db = Kysely<Database> | Trx

/** The applying organization with its region (the events' read scope), or undefined when unknown. */
async function applyingOrganization(db: Db, c: Confirmation) {
  const [org] = await holderRegions(db, [c.organizationId])
  return org
}

export async function confirmationStandingIn(db: Db, p: Principal, c: Confirmation): Promise<CaseStanding> {
  const st = confirmationStanding(p, c, await applyingOrganization(db, c))
  // Whoever may read an application may ask to act on it; the transition table decides by role.
  return { ...st, act: st.read }
}

const today = (now = new Date()) => shanghaiDate(now)

export const confirmationKind: CaseKind<Confirmation, ConfirmationAction> = {
  what: WHAT,
  notActing: WHAT,
  get: getConfirmation,
  lock: lockConfirmation,
  standing: confirmationStandingIn,
  decide: (c, action, by) => decideConfirmationTransition(c.status, action, by, c.doc.ruling?.result),
  async commit(trx, t) {
    const org = await applyingOrganization(trx, t.before)
    return commitConfirmationTransition(trx, {
      ...t,
      eventData: { confirmation: maskedConfirmationView({ ...t.after, version: t.before.version + 1, updatedAt: t.now }, today(t.now)) },
      organizationRegion: org?.regionCode || null,
    })
  },
}

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

export interface ConfirmationServiceDeps extends CaseDeps {
  db: Kysely<Database>
  accessTrail: AccessTrail
}

export type ConfirmationService = ReturnType<typeof confirmationService>

/** An unknown material named in a field of its own: the 422 names that field in `errors[].path`. */
function pinnedAt(err: unknown, path: string, materialId: string): unknown {
  if (!(err instanceof AppError) || err.code !== 'unknown_material') return err
  return new AppError(err.status, err.code, err.detail, {
    extra: err.extra,
    detailEn: err.detailEn,
    errors: [
      {
        path,
        code: 'unknown_material',
        message: `材料 ${materialId} 不存在或不可引用`,
        messageEn: `material ${materialId} is unknown or may not be referenced`,
      },
    ],
  })
}

export function confirmationService(deps: ConfirmationServiceDeps) {
  /** A referral-linked application: only the organization handling the case applies; for anyone else it is not there. */
  async function fromReferral(trx: Trx, p: Principal, b: CreateConfirmationInput, referralId: string): Promise<Intake> {
    const r = isUuid(referralId) ? await getReferral(trx, referralId) : undefined
    if (!r || !(await referralStandingIn(trx, p, r)).act) throw notFound('委派/委托案件')
    const agreement = rules.checkReferralApplication(r, b)
    const [org] = await holderRegions(trx, [r.organizationId])
    return { referralId: r.id, organizationId: r.organizationId, organizationRegion: org?.regionCode ?? '', agreement, parties: r.doc.parties, partyHashes: [] }
  }

  /** A standalone application: the mediating organization must be in the caller's scope. */
  async function standalone(trx: Trx, p: Principal, b: CreateConfirmationInput, now: Date): Promise<Intake> {
    const org = await getOrganization(trx, b.organizationId as string)
    // Unknown and foreign organizations answer alike, so the answer tells nothing about organizations outside the scope.
    if (!org || !organizationInScope(p, org)) throw businessRule('organization_out_of_scope', '主持调解的组织不存在或不在调用方的管辖范围内')
    const documentId = b.agreement?.documentMaterialId
    const document = documentId === undefined ? undefined : await agreementDocument(trx, p, documentId)
    const { agreement, venue } = rules.checkStandaloneApplication(b, org.regionCode, now, document)
    const { stored, hashes } = sealParties(deps.cipher, b.parties as NonNullable<CreateConfirmationInput['parties']>)
    return { referralId: null, organizationId: org.id, organizationRegion: org.regionCode, agreement, parties: stored, partyHashes: hashes, venue }
  }

  /** The signed agreement file of a standalone application: a complete material the caller may read (422 unknown_material). */
  async function agreementDocument(trx: Trx, p: Principal, materialId: string): Promise<{ materialId: string; sha256: string }> {
    await assertMaterialsExist(trx, [materialId], p).catch((err: unknown) => {
      throw pinnedAt(err, '/agreement/documentMaterialId', materialId)
    })
    const m = await getMaterial(trx, materialId)
    if (!m) throw new Error('a material pinned by assertMaterialsExist is there')
    return { materialId: m.id, sha256: m.sha256 }
  }

  async function createIn(work: Work, caller: Caller, b: CreateConfirmationInput): Promise<Outcome<Confirmation>> {
    const { trx } = work
    const p = caller.principal
    const now = new Date()
    const intake = b.referralId !== undefined ? await fromReferral(trx, p, b, b.referralId) : await standalone(trx, p, b, now)
    const timing = rules.checkApplicationTiming(b, intake.agreement, await deps.calendar.get(), now)
    // A material is quoted only if the caller may read it (uploaded it, or may read a case referencing it).
    const materials = b.materials ?? []
    await assertMaterialsExist(
      trx,
      materials.map((m) => m.materialId),
      p,
    )
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
    const { envelope, hash } = await appendEvent(trx, {
      type: 'confirmation.applied',
      subject: { kind: 'judicial_confirmation', id: c.id },
      sequence: 1,
      caseVersion: 1,
      actor: { clientId: p.clientId, role: p.role },
      data: { confirmation: maskedConfirmationView(c, today(now)) },
      prevHash: GENESIS_HASH,
      occurredAt: now,
      scope: { courtCode: c.courtCode, organizationId: c.organizationId, regionCode: intake.organizationRegion || null, audience: 'case' },
    })
    c.chainHead = hash
    c.lastEvent = writtenEvent(envelope, hash)
    try {
      await insertConfirmation(trx, c)
    } catch (err) {
      // Two applications for one referral racing past the check above: the unique index decides.
      if ((err as { code?: string }).code === '23505') throw conflict('duplicate_application', '该委派案件已有待审查或已裁定有效的司法确认申请')
      throw err
    }
    if (intake.referralId) await copyPartyIndex(trx, intake.referralId, c.id)
    else await insertPartyIndex(trx, c.id, intake.partyHashes)
    const documentId = intake.agreement.documentMaterialId
    await linkMaterials(trx, 'judicial_confirmation', c.id, [
      ...materials.map((m) => m.materialId),
      // Linked in the case's transaction: the orphan expiry never takes the signed agreement.
      ...(intake.referralId === null && documentId !== undefined && !materials.some((m) => m.materialId === documentId) ? [documentId] : []),
    ])
    return answer(work, caller, c, true)
  }

  async function answer(work: Work, caller: Caller, c: Confirmation, full: boolean): Promise<Outcome<Confirmation>> {
    if (full) await recordFullView(work, caller, c.id, confirmationPersonalFields(c))
    return { value: c, full, hints: { events: true }, ...(c.lastEvent ? { event: c.lastEvent } : {}) }
  }

  async function decide(
    work: Work,
    caller: Caller,
    id: string,
    action: ConfirmationAction,
    apply: (c: Confirmation, at: rules.At) => Confirmation | Promise<Confirmation>,
  ) {
    const now = new Date()
    const at = { now, today: today(now), cal: await deps.calendar.get() }
    const done = await transitionCase(work, confirmationKind, { id, by: caller, action, now, apply: (c) => apply(c, at) })
    const { value, standing } = done as NonNullable<typeof done>
    return answer(work, caller, value, standing.full)
  }

  /**
   * Materials quoted by an action: the caller may read each (else 422 unknown_material, its `errors[].path` at
   * `path` when the body names one material in a field of its own); they become the application's.
   */
  async function withMaterials(work: Work, caller: Caller, id: string, materialIds: string[], path?: string): Promise<void> {
    await assertMaterialsExist(work.trx, materialIds, caller.principal).catch((err: unknown) => {
      throw path === undefined ? err : pinnedAt(err, path, materialIds[0])
    })
    await linkMaterials(work.trx, 'judicial_confirmation', id, materialIds)
  }

  function trail(caller: Caller, shown: Confirmation[]): void {
    deps.accessTrail.record(
      shown.map((c) => ({ clientId: caller.principal.clientId, subjectId: c.id, fields: confirmationPersonalFields(c), requestId: caller.requestId })),
    )
  }

  return {
    /** An application (民事诉讼法 205; 人民调解法 33); its shape is checked before any unit of work begins. */
    apply(caller: Caller, b: CreateConfirmationInput): (work: Work) => Promise<Outcome<Confirmation>> {
      rules.checkApplicationShape(b, caller.principal.role)
      return (work) => createIn(work, caller, b)
    },

    async get(caller: Caller, id: string): Promise<{ value: Confirmation; full: boolean }> {
      const { value, standing } = await readCase(deps.db, confirmationKind, caller.principal, id)
      if (standing.full) trail(caller, [value])
      return { value, full: standing.full }
    },

    /** The applications the caller may read. Its list scope is exactly the courts and organizations that see them in full. */
    /** A page of applications; the first `shown` of them (all by default) are shown, and only those are trailed. */
    async list(caller: Caller, filters: Omit<ConfirmationFilters, 'today'>, shown = filters.limit): Promise<Array<{ value: Confirmation; full: boolean }>> {
      const rows = await listConfirmations(deps.db, caller.principal, { ...filters, today: today() })
      const full = caller.principal.role !== 'operator'
      if (full) trail(caller, rows.slice(0, shown))
      return rows.map((c) => ({ value: c, full }))
    },

    events: (caller: Caller, id: string, afterSequence: number, limit: number) =>
      caseEvents(deps.db, confirmationKind, caller.principal, id, afterSequence, limit),

    assertReadable: async (caller: Caller, id: string): Promise<Confirmation> => (await readCase(deps.db, confirmationKind, caller.principal, id)).value,

    accept: (work: Work, caller: Caller, id: string, b: ConfirmationAcceptanceInput) =>
      decide(work, caller, id, 'accept', (c, at) => rules.acceptApplication(c, b, at)),
    refuse: (work: Work, caller: Caller, id: string, b: ConfirmationAcceptanceInput) =>
      decide(work, caller, id, 'not_accept', (c, at) => rules.refuseApplication(c, b, at)),
    withdraw: (work: Work, caller: Caller, id: string, b: ConfirmationWithdrawalInput) =>
      decide(work, caller, id, 'withdraw', (c, at) => rules.withdrawApplication(c, b, at)),
    /** The ruling; its document, if given, must be a material the court may read, and is linked to the application. */
    rule: (work: Work, caller: Caller, id: string, b: ConfirmationRulingInput) =>
      decide(work, caller, id, b.result === 'valid' ? 'rule_valid' : 'rule_rejected', async (c, at) => {
        const after = rules.ruleOnApplication(c, b, at)
        if (b.documentMaterialId !== undefined) await withMaterials(work, caller, c.id, [b.documentMaterialId], '/documentMaterialId')
        return after
      }),
    extendReview: (work: Work, caller: Caller, id: string, b: ConfirmationReviewExtensionInput) =>
      decide(work, caller, id, 'extend_review', (c, at) => rules.extendReview(c, b, at)),
    requestMaterials: (work: Work, caller: Caller, id: string, b: ConfirmationMaterialRequestInput) =>
      decide(work, caller, id, 'request_materials', (c, at) => rules.requestMaterials(c, b, at)),
    /** The supplement: materials the caller may read (422 unknown_material), linked to the application. */
    supplementMaterials: (work: Work, caller: Caller, id: string, b: ConfirmationMaterialSupplementInput) =>
      decide(work, caller, id, 'supplement_materials', async (c, at) => {
        const after = rules.supplementMaterials(c, b, at)
        await withMaterials(
          work,
          caller,
          c.id,
          b.materials.map((m) => m.materialId),
        )
        return after
      }),
    fileObjection: (work: Work, caller: Caller, id: string, b: ConfirmationObjectionInput) =>
      decide(work, caller, id, 'file_objection', (c, at) => rules.fileObjection(c, b, at)),
    ruleOnObjection: (work: Work, caller: Caller, id: string, b: ConfirmationObjectionRulingInput) =>
      decide(work, caller, id, b.result === 'revoked' ? 'revoke_ruling' : 'dismiss_objection', (c, at) => rules.ruleOnObjection(c, b, at)),
  }
}
