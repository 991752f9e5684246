import type { ReferralStatus } from './referral-machine.js'
import type { WrittenEvent } from './event-chain.js'

/** Personal data as stored: the ciphertext for privileged readers and the masked form for everyone else. */
export interface Sealed {
  enc: string
  masked: string
}

export interface StoredAgent {
  name: string
  idType?: string
  idNumber?: Sealed
  phone?: Sealed
  [k: string]: unknown
}

export interface StoredParty {
  role: 'applicant' | 'respondent' | 'third_party'
  kind: 'natural_person' | 'legal_person' | 'other_org'
  name: string
  idType: string
  idNumber: Sealed
  phone?: Sealed
  address?: Sealed
  agents?: StoredAgent[]
}

export interface Consent {
  partyIndex: number
  consentedAt: string
  method: 'written' | 'oral' | 'online'
}

export interface Designation {
  mode: 'party_selected' | 'court_designated'
  organizationId: string
}

export interface Deadlines {
  acceptanceDueOn: string | null
  mediationDueOn: string | null
  provisional: boolean
}

export interface Agreement {
  agreementNumber?: string
  form: 'written' | 'oral' | 'electronic'
  terms: string
  amount?: string
  signatures: Array<{ partyIndex: number; signedAt: string }>
  /** The mediator's signature and the organization's seal (人民调解法 29; 在线调解规则 19: e-signature, e-seal). */
  mediatorSignedAt?: string
  sealedAt?: string
  /** When an oral agreement was reached (人民调解法 30). */
  reachedAt?: string
  /** The signed agreement file (a material) and its SHA-256 (lowercase hex). */
  documentMaterialId?: string
  documentSha256?: string
  /** Written/electronic: the latest of the signatures and the seal; oral: reachedAt. */
  effectiveAt: string
  performance: { method: 'immediate' | 'installments' | 'deferred'; dueOn?: string }
  sha256: string
  recordedAt: string
}

/** The case file kept in referrals.doc. Everything a GET shows beyond the indexed columns. */
export interface ReferralDoc {
  procedure?: 'ordinary' | 'summary'
  causeOfAction?: string
  claimSummary: string
  claimAmount?: string
  parties: StoredParty[]
  consent: Consent[]
  designation: Designation
  materials: Array<{ materialId: string }>
  deadlines: Deadlines
  mediator?: { name: string; id?: string }
  acceptedAt?: string
  decline?: { reason: string; declinedAt: string; by: 'organization' | 'system' }
  recall?: { reason: string; note?: string; recalledAt: string }
  suspension?: { reason: string; note?: string; suspendedOn: string; suspendedAt: string }
  suspensions?: Array<{ reason: string; note?: string; suspendedOn: string; resumedOn?: string }>
  extensions?: Array<{ previousDueOn: string; newDueOn: string; consent: Consent[]; extendedAt: string }>
  agreement?: Agreement
  termination?: {
    reason: string
    report?: string
    undisputedFacts?: Array<{ statement: string; confirmedBy: number[] }>
    terminatedAt: string
    by: 'organization' | 'system'
  }
  materialReturn?: { materials: Array<{ materialId: string }>; report: string; returnedAt: string }
  courtFiling?: { action: 'case_registered'; caseNumber: string; filedOn: string } | { action: 'trial_resumed'; resumedOn: string }
  closure?: { disposition: string; documentNumber?: string; closedAt: string }
  performance?: { status: string; reportedOn: string; note?: string; reportedAt: string }
  assignments?: Array<{ from: string; to: string; assignedAt: string }>
}

/** The referral as the domain sees it (one row of `referrals`). */
export interface Referral {
  id: string
  version: number
  status: ReferralStatus
  referralType: 'pre_filing' | 'in_litigation'
  courtCode: string
  caseNumber: string
  disputeType: string
  organizationId: string
  heldBy: string[]
  chainHead: string
  /** Not stored: the event the current unit of work wrote for it, once written (what its receipt attests). */
  lastEvent?: WrittenEvent
  /** Not stored: the personal data the current unit of work sealed, as it was given (an intake's answer shows it without decrypting). */
  revealed?: Revealed
  doc: ReferralDoc
  createdAt: Date
  updatedAt: Date
}

/** Decrypts a sealed value; `context` is the field name the ciphertext is bound to. */
export type Decrypt = (token: string, context: string) => string

/**
 * Plaintexts a unit of work has just sealed, by {@link revealedKey} (token and the field it is bound to). Held in
 * memory for that one answer, never stored or serialized (a Map stringifies as `{}`).
 */
export type Revealed = ReadonlyMap<string, string>

export const revealedKey = (token: string, context: string) => `${context}\u0000${token}`

/** `decrypt`, answering from `revealed` what the unit of work has just sealed. */
function revealing(revealed: Revealed, decrypt: Decrypt): Decrypt {
  return (token, context) => revealed.get(revealedKey(token, context)) ?? decrypt(token, context)
}

function unseal(s: Sealed | undefined, full: boolean, decrypt: Decrypt, context: string): string | undefined {
  if (!s) return undefined
  return full ? decrypt(s.enc, context) : s.masked
}

/**
 * Every sealed value a full view of `parties` decrypts, with the field it is bound to, in the order the view asks
 * for them: what a page of full views has decrypted in one go (http/case-routes.ts `pageDecrypt`). Taken from
 * {@link partiesView} itself, so the two never disagree on which fields a view shows.
 */
export function sealedFields(parties: readonly StoredParty[]): Array<[token: string, context: string]> {
  const out: Array<[string, string]> = []
  partiesView(parties, true, (token, context) => {
    out.push([token, context])
    return ''
  })
  return out
}

/** Parties as the API shows them: personal data full or masked (contract §1). */
export function partiesView(parties: readonly StoredParty[], full: boolean, decrypt: Decrypt) {
  return parties.map((p) => ({
    role: p.role,
    kind: p.kind,
    name: p.name,
    idType: p.idType,
    idNumber: unseal(p.idNumber, full, decrypt, 'idNumber'),
    ...(p.phone ? { phone: unseal(p.phone, full, decrypt, 'phone') } : {}),
    ...(p.address ? { address: unseal(p.address, full, decrypt, 'address') } : {}),
    ...(p.agents
      ? {
          agents: p.agents.map((a) => ({
            ...a,
            ...(a.idNumber ? { idNumber: unseal(a.idNumber, full, decrypt, 'idNumber') } : {}),
            ...(a.phone ? { phone: unseal(a.phone, full, decrypt, 'phone') } : {}),
          })),
        }
      : {}),
  }))
}

/**
 * The referral as the API shows it. `full` reveals personal data (the referring court and the handling
 * organization only, contract §1); otherwise ID numbers, phones and addresses are masked.
 */
export function referralView(r: Referral, full: boolean, decrypt: Decrypt): Record<string, unknown> {
  const d = r.doc
  const parties = partiesView(d.parties, full, r.revealed && full ? revealing(r.revealed, decrypt) : decrypt)
  return {
    id: r.id,
    version: r.version,
    status: r.status,
    referralType: r.referralType,
    ...(d.procedure ? { procedure: d.procedure } : {}),
    courtCode: r.courtCode,
    caseNumber: r.caseNumber,
    disputeType: r.disputeType,
    ...(d.causeOfAction !== undefined ? { causeOfAction: d.causeOfAction } : {}),
    claimSummary: d.claimSummary,
    ...(d.claimAmount !== undefined ? { claimAmount: d.claimAmount } : {}),
    parties,
    consent: d.consent,
    designation: d.designation,
    materials: d.materials,
    organizationId: r.organizationId,
    deadlines: d.deadlines,
    mediator: d.mediator ?? null,
    acceptedAt: d.acceptedAt ?? null,
    decline: d.decline ?? null,
    recall: d.recall ?? null,
    suspension: d.suspension ?? null,
    extensions: d.extensions ?? [],
    agreement: d.agreement ?? null,
    termination: d.termination ?? null,
    materialReturn: d.materialReturn ?? null,
    courtFiling: d.courtFiling ?? null,
    closure: d.closure ?? null,
    performance: d.performance ?? null,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  }
}

/** The personal-data fields a full view of these parties shows (for the access trail). */
export function partyPersonalFields(parties: readonly StoredParty[]): string[] {
  const fields = new Set<string>(['idNumber'])
  for (const p of parties) {
    if (p.phone) fields.add('phone')
    if (p.address) fields.add('address')
  }
  return [...fields]
}

/** The personal-data fields a full view of this referral shows (for the access trail). */
export const personalFields = (r: Referral): string[] => partyPersonalFields(r.doc.parties)

/** Stands in for a decryption that a masked view never makes. */
export const NEVER_DECRYPT: Decrypt = () => {
  throw new Error('a masked view never decrypts')
}

/** The referral with personal data masked: what events carry and operators see. */
export const maskedReferralView = (r: Referral): Record<string, unknown> => referralView(r, false, NEVER_DECRYPT)
