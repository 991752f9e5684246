/**
 * The referral lives the demo plays (and the simulator tests replay): each one scripted on the platform's side
 * by its case number, created by the court simulator, and driven to its end by the two simulators reacting
 * to pushed events. Plus an outage of the court's receiver, reconciled through the pull feed.
 */
import type { LifePlan } from './platform-simulator.js'
import { sleep } from './shared.js'
import type { World } from './world.js'

export interface LifeSpec {
  title: string
  referralType: 'pre_filing' | 'in_litigation'
  plan: LifePlan
  /** The case's history when the life is over. */
  expected: string[]
}

const head = ['referral.created', 'referral.accepted']

export const DEMO_LIVES: readonly LifeSpec[] = [
  {
    title: '诉前委派 → 调解成功 → 协议备案结案 → 履行回访 / pre-filing referral → agreement → closed (agreement filed) → performance reported',
    referralType: 'pre_filing',
    plan: { decline: false, outcome: 'agree' },
    expected: [...head, 'referral.agreement_recorded', 'referral.closed', 'referral.performance_reported'],
  },
  {
    title: '诉前委派 → 调解不成 → 退回材料 → 登记立案 / pre-filing referral → mediation fails → materials returned → case registered',
    referralType: 'pre_filing',
    plan: { decline: false, outcome: 'terminate' },
    expected: [...head, 'referral.terminated', 'referral.materials_returned', 'referral.case_registered'],
  },
  {
    title: '诉中委托 → 调解不成 → 退回材料 → 恢复审理 / in-litigation referral → mediation fails → materials returned → trial resumed',
    referralType: 'in_litigation',
    plan: { decline: false, outcome: 'terminate' },
    expected: [...head, 'referral.terminated', 'referral.materials_returned', 'referral.trial_resumed'],
  },
  {
    title: '不予接受 → 重新指定 → 调解成功 → 结案 / declined → redesignated → agreement → closed',
    referralType: 'pre_filing',
    plan: { decline: true, outcome: 'agree' },
    expected: [
      'referral.created',
      'referral.declined',
      'referral.redesignated',
      'referral.accepted',
      'referral.agreement_recorded',
      'referral.closed',
      'referral.performance_reported',
    ],
  },
]

export interface LifeResult {
  title: string
  id: string
  caseNumber: string
  status: string
  history: string[]
  ok: boolean
}

/** Reads a case's history (event types in sequence order) with the court's key. */
export async function historyOf(world: World, id: string): Promise<string[]> {
  const types: string[] = []
  let cursor: string | null = null
  do {
    const page: { items: Array<{ type: string }>; nextCursor: string | null } = await world.court.api.getOk(
      `/v1/referrals/${id}/events?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    )
    types.push(...page.items.map((e) => e.type))
    cursor = page.nextCursor
  } while (cursor)
  return types
}

/**
 * Plays one life: scripts the platform's behaviour for a new case number, has the court create the referral,
 * and waits until the case's history is the expected one (or `timeoutMs` passed).
 */
export async function playLife(world: World, scripted: Map<string, Partial<LifePlan>>, spec: LifeSpec, timeoutMs = 60_000): Promise<LifeResult> {
  const caseNumber = world.court.caseNumbers.next(spec.referralType === 'pre_filing' ? '民诉前调' : '民初')
  scripted.set(caseNumber, spec.plan)
  const created = await world.court.createReferral({ referralType: spec.referralType, caseNumber, organizationId: world.court.organizations[0] })
  if (!created.id) throw new Error(`referral ${caseNumber} was not created: ${created.answer.status} ${created.answer.body.slice(0, 300)}`)
  const history = await waitForHistory(world, created.id, spec.expected, timeoutMs)
  const referral = await world.court.api.getOk<{ status: string }>(`/v1/referrals/${created.id}`)
  return { title: spec.title, id: created.id, caseNumber, status: referral.status, history, ok: same(history, spec.expected) }
}

/** Polls the case's history until it equals `expected`; returns the last one read either way. */
export async function waitForHistory(world: World, id: string, expected: readonly string[], timeoutMs: number): Promise<string[]> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const history = await historyOf(world, id)
    if (same(history, expected) || Date.now() > until) return history
    await sleep(200)
  }
}

export interface OutageResult extends LifeResult {
  pulled: number
  fresh: number
}

/**
 * The court's receiver goes offline while a case moves on (accepted, agreement recorded); the court reads what it
 * missed from the pull feed with its resume cursor and acts on it (closes the case); its receiver back online, the
 * connector's late pushes of the same events are recognised as duplicates.
 */
export async function playOutage(
  world: World,
  scripted: Map<string, Partial<LifePlan>>,
  log: (line: string) => void,
  timeoutMs = 60_000,
): Promise<OutageResult> {
  const { court, platform } = world
  const spec = DEMO_LIVES[0]
  await court.reconcile()
  await court.offline()
  log('法院业务系统接收端离线 / the court system’s webhook receiver goes offline')
  const caseNumber = court.caseNumbers.next('民诉前调')
  scripted.set(caseNumber, spec.plan)
  const created = await court.createReferral({ referralType: 'pre_filing', caseNumber })
  if (!created.id) throw new Error(`referral ${caseNumber} was not created: ${created.answer.status}`)
  const id = created.id
  const until = Date.now() + timeoutMs
  while (!platform.eventsOf(id).some((e) => e.type === 'referral.agreement_recorded')) {
    if (Date.now() > until) throw new Error('the platform did not record the agreement in time')
    await sleep(100)
  }
  log('调解平台已记录协议，法院尚未收到 / the platform recorded the agreement; the court has not heard of it')
  // The pull comes before the receiver is back, so every missed event is found by the pull: a retried push arriving
  // between the two would otherwise take one of them first, as it may in production (it is then a duplicate there).
  const { pulled, fresh } = await court.reconcile()
  log(`法院业务系统按游标拉取事件 / the court pulled GET /v1/events?after=<cursor>: ${pulled} events, ${fresh} new`)
  await court.online()
  log('法院业务系统接收端恢复，迟到的推送按重复处理 / its receiver is back online; the late pushes are recognised as duplicates')
  const history = await waitForHistory(world, id, spec.expected, Math.max(1_000, until - Date.now()))
  const referral = await court.api.getOk<{ status: string }>(`/v1/referrals/${id}`)
  return {
    title: '接收端离线后按游标对账 / receiver outage, reconciled through the pull feed',
    id,
    caseNumber,
    status: referral.status,
    history,
    ok: same(history, spec.expected),
    pulled,
    fresh,
  }
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
