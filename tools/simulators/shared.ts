/**
 * Small pieces the peer simulators, the demo and the headline fault run share: seeded randomness, realistic
 * case data (案号, ID numbers, referral bodies), dates in Asia/Shanghai and bilingual labels for event types.
 */
import { createHash } from 'node:crypto'
import { residentIdCheckChar } from '../../src/domain/identifiers.js'

/** A seeded PRNG (mulberry32): a run with the same seed makes the same choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A number in [0, 1) fixed by the seed and a key, independent of the order in which keys are asked for:
 * a simulator's decision about one case does not depend on which events happened to arrive first.
 */
export function keyedRandom(seed: number, key: string): number {
  return createHash('sha256').update(`${seed}:${key}`).digest().readUInt32BE(0) / 4294967296
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Today in Asia/Shanghai as YYYY-MM-DD (legal dates are calendar dates there). */
export function shanghaiDate(at = new Date()): string {
  return new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 10)
}

/** The current year in Asia/Shanghai (案号 years may not be in the future). */
export function shanghaiYear(at = new Date()): number {
  return Number(shanghaiDate(at).slice(0, 4))
}

/** Hands out case numbers (案号) of one court, unique within a run: a random start, then counting up. */
export class CaseNumbers {
  #next: number
  constructor(
    readonly courtCode: string,
    seed = Date.now(),
  ) {
    this.#next = 100_000 + Math.floor(keyedRandom(seed, 'case-numbers') * 8_000_000)
  }

  /** `（2026）京0105民诉前调1234567号` for pre_filing, `…民初…` for in_litigation and new filings. */
  next(type: '民诉前调' | '民初'): string {
    return `（${shanghaiYear()}）${this.courtCode}${type}${this.#next++}号`
  }
}

/** A valid resident ID number (with its computed check character) for a person born in `year`. */
export function residentId(area: string, year: number, order: number): string {
  const first17 = `${area}${year}0${1 + (order % 9)}1${order % 10}${String(100 + (order % 900)).padStart(3, '0')}`
  return first17 + residentIdCheckChar(first17)
}

const SURNAMES = ['张', '王', '李', '赵', '刘', '陈', '杨', '黄', '周', '吴', '欧阳', '司马']
const GIVEN = ['伟', '芳', '娜', '敏', '静', '强', '磊', '洋', '艳', '勇', '军', '杰', '𠀾', '雪梅', '建国']
const DISPUTES = [
  { disputeType: 'neighbor', causeOfAction: '相邻关系纠纷', claimSummary: '请求被申请人停止漏水侵害并赔偿损失', amount: '12000.00' },
  { disputeType: 'marriage_family', causeOfAction: '离婚后财产纠纷', claimSummary: '请求分割离婚时未处理的共有房屋', amount: '350000.00' },
  { disputeType: 'contract', causeOfAction: '买卖合同纠纷', claimSummary: '请求支付货款及逾期付款利息', amount: '86500.50' },
  { disputeType: 'property_management', causeOfAction: '物业服务合同纠纷', claimSummary: '请求支付拖欠的物业服务费', amount: '4320.00' },
  { disputeType: 'labor', causeOfAction: '劳务合同纠纷', claimSummary: '请求支付拖欠的劳务报酬', amount: '23800.00' },
  { disputeType: 'traffic', causeOfAction: '机动车交通事故责任纠纷', claimSummary: '请求赔偿医疗费、误工费及车辆维修费', amount: '41260.00' },
] as const

export interface ReferralPlanInput {
  referralType: 'pre_filing' | 'in_litigation'
  courtCode: string
  caseNumber: string
  organizationId: string
  /** Picks names, dispute type and ID numbers; the same seed gives the same body. */
  seed: number
}

/**
 * A realistic referral body (contract §2): two natural persons who both consented, a dispute of a common type,
 * a court designation. in_litigation referrals carry a procedure.
 */
export function referralBody(p: ReferralPlanInput): Record<string, unknown> {
  const r = seededRandom(p.seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]
  const name = () => `${pick(SURNAMES)}${pick(GIVEN)}${r() < 0.3 ? pick(GIVEN) : ''}`
  const dispute = pick(DISPUTES)
  const order = Math.floor(r() * 1_000_000)
  const consentedAt = new Date(Date.now() - 3_600_000).toISOString()
  return {
    referralType: p.referralType,
    ...(p.referralType === 'in_litigation' ? { procedure: r() < 0.5 ? 'ordinary' : 'summary' } : {}),
    courtCode: p.courtCode,
    caseNumber: p.caseNumber,
    disputeType: dispute.disputeType,
    causeOfAction: dispute.causeOfAction,
    claimSummary: dispute.claimSummary,
    claimAmount: dispute.amount,
    parties: [
      {
        role: 'applicant',
        kind: 'natural_person',
        name: name(),
        idType: 'resident_id',
        idNumber: residentId('110105', 1960 + (order % 40), order),
        phone: `139${String(order).padStart(8, '0')}`,
        address: '北京市朝阳区八里庄街道十里堡北区1号',
      },
      { role: 'respondent', kind: 'natural_person', name: name(), idType: 'resident_id', idNumber: residentId('440524', 1970 + (order % 30), order + 7) },
    ],
    consent: [
      { partyIndex: 0, consentedAt, method: 'written' },
      { partyIndex: 1, consentedAt, method: 'online' },
    ],
    designation: { mode: 'court_designated', organizationId: p.organizationId },
    materials: [],
  }
}

/** Chinese labels of the referral event types, for the demo's narration. */
export const EVENT_LABELS: Readonly<Record<string, string>> = {
  'referral.created': '委派/委托',
  'referral.accepted': '受理',
  'referral.declined': '不予接受',
  'referral.redesignated': '重新指定',
  'referral.assigned': '分派',
  'referral.suspended': '中止',
  'referral.resumed': '恢复',
  'referral.extended': '延期',
  'referral.agreement_recorded': '达成调解协议',
  'referral.terminated': '调解终结',
  'referral.materials_returned': '退回材料',
  'referral.case_registered': '登记立案',
  'referral.trial_resumed': '恢复审理',
  'referral.closed': '结案',
  'referral.performance_reported': '履行回访',
}

/** The event envelope as pushed and pulled (contract §4). */
export interface EventEnvelope {
  id: string
  type: string
  occurredAt: string
  sequence: number
  subject: { kind: string; id: string }
  caseVersion: number | null
  actor: unknown
  data: Record<string, unknown>
}

/** The referral view inside a referral event's `data` (personal data masked). */
export interface ReferralData {
  id: string
  status: string
  version: number
  referralType: 'pre_filing' | 'in_litigation'
  courtCode: string
  caseNumber: string
  organizationId: string
  parties: unknown[]
  [k: string]: unknown
}

/** The referral carried by a referral event, if it is one. */
export function referralOf(e: EventEnvelope): ReferralData | undefined {
  const r = e.data?.referral as ReferralData | undefined
  return e.subject.kind === 'referral' && r && typeof r === 'object' ? r : undefined
}
