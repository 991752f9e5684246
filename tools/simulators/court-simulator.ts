/**
 * A court's case system (法院业务系统) as a peer: it creates referrals through the real API, and acts on the
 * connector's events for its courts: after the materials come back it registers the case (诉前委派, a new 民初
 * 案号) or resumes the trial (诉中委托); after an agreement it closes the case (备案 or 调解书); after a decline it
 * designates another organization.
 */
import { randomUUID } from 'node:crypto'
import type { ApiAnswer } from './api-client.js'
import { CaseNumbers, keyedRandom, referralBody, shanghaiDate, type EventEnvelope, type ReferralData } from './shared.js'
import { PeerSimulator, type SimulatorOptions } from './simulator.js'

export interface CourtOptions extends SimulatorOptions {
  /** The court this system belongs to (法院代字), e.g. 京0105. */
  courtCode: string
  /** Organizations the court designates, in order of preference: a declined referral goes to the next one. */
  organizations: string[]
}

/** One referral creation: the request as sent (for replays) and the definitive answer. */
export interface CreatedReferral {
  idempotencyKey: string
  body: Record<string, unknown>
  answer: ApiAnswer<{ id: string; status: string }>
  id: string | undefined
  caseNumber: string
}

export class CourtSimulator extends PeerSimulator {
  readonly label = '法院业务系统 court'
  protected readonly keyPrefix = 'court'
  readonly courtCode: string
  readonly organizations: string[]
  readonly caseNumbers: CaseNumbers
  /** Every referral this court created. */
  readonly created: CreatedReferral[] = []

  constructor(opts: CourtOptions) {
    super(opts)
    this.courtCode = opts.courtCode
    this.organizations = opts.organizations
    this.caseNumbers = new CaseNumbers(opts.courtCode, this.seed)
  }

  /**
   * Creates a referral through the API, retrying with the same Idempotency-Key until the answer is definitive.
   * The answer is kept as received, so a later replay can be compared with it byte for byte.
   */
  async createReferral(
    opts: { referralType?: 'pre_filing' | 'in_litigation'; organizationId?: string; caseNumber?: string; seed?: number } = {},
  ): Promise<CreatedReferral> {
    const referralType = opts.referralType ?? 'pre_filing'
    const caseNumber = opts.caseNumber ?? this.caseNumbers.next(referralType === 'pre_filing' ? '民诉前调' : '民初')
    const body = referralBody({
      referralType,
      courtCode: this.courtCode,
      caseNumber,
      organizationId: opts.organizationId ?? this.organizations[0],
      seed: opts.seed ?? this.created.length + this.seed,
    })
    const idempotencyKey = `court-create-${randomUUID()}`
    const answer = await this.api.post<{ id: string; status: string }>('/v1/referrals', body, idempotencyKey)
    const ok = answer.status === 201
    const c: CreatedReferral = { idempotencyKey, body, answer, id: ok ? answer.json.id : undefined, caseNumber }
    this.created.push(c)
    this.log(
      `[${this.label}] ${referralType === 'pre_filing' ? '诉前委派' : '诉中委托'} / ${referralType} referral ${caseNumber} → ${answer.status}${answer.attempts > 1 ? ` (${answer.attempts} 次尝试 / attempts)` : ''}${ok ? '' : ` ${answer.body.slice(0, 200)}`}`,
    )
    return c
  }

  /**
   * Puts an organization on this court's special roster (特邀调解名册), or takes it off (`on` false): the roster is the
   * court's to grant (contract §5), so the court system does it, never the platform. Throws unless the API answers 204.
   */
  async specialRoster(organizationId: string, on = true): Promise<void> {
    const path = `/v1/courts/${encodeURIComponent(this.courtCode)}/special-roster/${encodeURIComponent(organizationId)}`
    const a = on ? await this.api.put(path) : await this.api.delete(path)
    if (a.status !== 204) throw new Error(`${on ? 'PUT' : 'DELETE'} ${path}: HTTP ${a.status} ${a.body.slice(0, 300)}`)
    this.log(
      `[${this.label}] ${on ? '列入特邀调解名册' : '移出特邀调解名册'} / ${on ? 'put on' : 'took off'} the ${this.courtCode} special roster: ${organizationId}`,
    )
  }

  protected async onEvent(e: EventEnvelope, r: ReferralData): Promise<void> {
    if (r.courtCode !== this.courtCode) return
    const path = `/v1/referrals/${r.id}`
    // Bodies depend on the event alone (see PlatformSimulator), new 案号 included.
    const on = shanghaiDate(new Date(e.occurredAt))
    const newCaseNumber = `（${on.slice(0, 4)}）${this.courtCode}民初${1_000_000 + Math.floor(keyedRandom(this.seed, e.id) * 9_000_000)}号`
    switch (e.type) {
      case 'referral.declined': {
        const next = this.organizations.find((o) => o !== r.organizationId)
        if (!next) return
        await this.act(
          e,
          'redesignation',
          `${path}/redesignation`,
          { designation: { mode: 'court_designated', organizationId: next } },
          `重新指定调解组织 ${next} / redesignated ${r.caseNumber}`,
        )
        return
      }
      case 'referral.agreement_recorded': {
        const body =
          r.referralType === 'pre_filing' ? { disposition: 'agreement_filed' } : { disposition: 'mediation_document_issued', documentNumber: newCaseNumber }
        await this.act(
          e,
          'closure',
          `${path}/closure`,
          body,
          `${r.referralType === 'pre_filing' ? '协议备案结案' : '出具调解书结案'} / closed (${body.disposition}) ${r.caseNumber}`,
        )
        return
      }
      case 'referral.materials_returned': {
        if (r.referralType === 'pre_filing') {
          await this.act(
            e,
            'court-filing',
            `${path}/court-filing`,
            { action: 'case_registered', caseNumber: newCaseNumber, filedOn: on },
            `登记立案 ${newCaseNumber} / case registered ${r.caseNumber}`,
          )
        } else {
          await this.act(e, 'court-filing', `${path}/court-filing`, { action: 'trial_resumed', resumedOn: on }, `恢复审理 / trial resumed ${r.caseNumber}`)
        }
        return
      }
      default:
        return
    }
  }
}
