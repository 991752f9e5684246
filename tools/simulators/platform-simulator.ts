/**
 * The ministry's non-litigation platform (矛盾纠纷非诉化解平台) as a peer: it receives the connector's events for
 * its organizations and does what a mediation organization does with them, through the real API and its own
 * key: accepts (or, when the plan says so, declines) a referral, mediates it to an agreement signed by every
 * party or to a termination, returns the materials after a termination, and reports performance after the
 * court closed the case.
 */
import { keyedRandom, shanghaiDate, type EventEnvelope, type ReferralData } from './shared.js'
import { PeerSimulator, type SimulatorOptions } from './simulator.js'

export type MediationOutcome = 'agree' | 'terminate'

/** What the platform will do with one referral. */
export interface LifePlan {
  /** Decline the first designation (the court then redesignates, and the next one is accepted). */
  decline: boolean
  outcome: MediationOutcome
}

export interface PlatformOptions extends SimulatorOptions {
  /** The organizations this platform acts for; events of other organizations are recorded, not acted on. */
  organizations: string[]
  /** Share of mediations that end in an agreement (seeded per case). @defaultValue 0.5 */
  agreeRate?: number
  /** Share of referrals whose first designation is declined (seeded per case). @defaultValue 0 */
  declineRate?: number
  /** Overrides the seeded plan for chosen cases (the demo scripts its lives this way). */
  plan?: (referral: ReferralData) => Partial<LifePlan> | undefined
  /** Mediate after accepting; false stops every life at acceptance. @defaultValue true */
  mediate?: boolean
}

const TERMINATION_REASONS = ['gap_too_large', 'party_refused', 'refused_to_sign'] as const

export class PlatformSimulator extends PeerSimulator {
  readonly label = '调解平台 platform'
  protected readonly keyPrefix = 'platform'
  readonly organizations: Set<string>
  readonly #opts: PlatformOptions

  constructor(opts: PlatformOptions) {
    super(opts)
    this.#opts = opts
    this.organizations = new Set(opts.organizations)
  }

  /** The plan for a referral: the override if any, otherwise decided by the seed and the case number. */
  planFor(r: Pick<ReferralData, 'caseNumber'> & Partial<ReferralData>): LifePlan {
    const seeded: LifePlan = {
      decline: keyedRandom(this.seed, `${r.caseNumber}:decline`) < (this.#opts.declineRate ?? 0),
      outcome: keyedRandom(this.seed, `${r.caseNumber}:outcome`) < (this.#opts.agreeRate ?? 0.5) ? 'agree' : 'terminate',
    }
    return { ...seeded, ...(this.#opts.plan?.(r as ReferralData) ?? {}) }
  }

  protected async onEvent(e: EventEnvelope, r: ReferralData): Promise<void> {
    if (!this.organizations.has(r.organizationId)) return
    const path = `/v1/referrals/${r.id}`
    // Every body is a function of the event alone (times included), so processing the same event again, even
    // in another instance that lost its memory, sends the same request under the same Idempotency-Key and
    // gets the stored answer instead of acting twice.
    const at = e.occurredAt
    switch (e.type) {
      case 'referral.created':
      case 'referral.redesignated':
      case 'referral.assigned': {
        if (r.status !== 'referred') return
        // Only the first designation is ever declined, so a declined life goes on after the redesignation.
        if (e.type === 'referral.created' && this.planFor(r).decline) {
          await this.act(
            e,
            'decline',
            `${path}/acceptance`,
            { decision: 'declined', reason: '本组织调解员均已满负荷，建议另行指定调解组织' },
            `不予接受 / decline ${r.caseNumber}`,
          )
          return
        }
        await this.act(
          e,
          'accept',
          `${path}/acceptance`,
          { decision: 'accepted', mediator: { name: '王调解', id: `M-${r.organizationId}` }, acceptedAt: at },
          `受理 / accept ${r.caseNumber}`,
        )
        return
      }
      case 'referral.accepted': {
        if (this.#opts.mediate === false) return
        if (this.planFor(r).outcome === 'agree') {
          const amount = r.claimAmount ? (Number(r.claimAmount) * 0.6).toFixed(2) : undefined
          const signedAt = at
          await this.act(
            e,
            'agreement',
            `${path}/agreement`,
            {
              agreementNumber: `调协〔${shanghaiDate(new Date(at)).slice(0, 4)}〕${r.caseNumber.replace(/\D/g, '').slice(-6)}号`,
              form: 'electronic',
              terms: `被申请人于协议生效之日起十五日内一次性给付申请人${amount ?? '若干'}元，双方就本纠纷再无其他争议。`,
              ...(amount ? { amount } : {}),
              signatures: r.parties.map((_, i) => ({ partyIndex: i, signedAt })),
              // The mediator's e-signature and the organization's e-seal (在线调解规则 19), at the parties' signing.
              mediatorSignedAt: signedAt,
              sealedAt: signedAt,
              performance: { method: 'immediate' },
            },
            `达成调解协议（全体当事人、调解员签署并盖章）/ agreement signed by all parties and the mediator, sealed ${r.caseNumber}`,
          )
        } else {
          const reason = TERMINATION_REASONS[Math.floor(keyedRandom(this.seed, `${r.caseNumber}:reason`) * TERMINATION_REASONS.length)]
          await this.act(
            e,
            'termination',
            `${path}/termination`,
            { reason, report: '经多次组织调解，双方未能达成一致，调解终结。' },
            `调解终结（${reason}）/ mediation terminated ${r.caseNumber}`,
          )
        }
        return
      }
      case 'referral.terminated':
        await this.act(
          e,
          'material-return',
          `${path}/material-return`,
          { materials: [], report: '调解终结报告：双方分歧较大，调解不成，卷宗材料退回法院。', returnedAt: at },
          `退回材料 / materials returned ${r.caseNumber}`,
        )
        return
      case 'referral.closed':
        await this.act(
          e,
          'performance',
          `${path}/performance`,
          { status: 'performed', reportedOn: shanghaiDate(new Date(at)), note: '回访确认已按协议履行' },
          `履行回访 / performance reported ${r.caseNumber}`,
        )
        return
      default:
        return
    }
  }
}
