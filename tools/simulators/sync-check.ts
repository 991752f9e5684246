/**
 * "In sync": a simulator saw every event its client may read, case by case, in sequence order, and nothing
 * else. The reference is the service's own pull feed read from its start with the simulator's key.
 */
import type { EventEnvelope } from './shared.js'
import type { PeerSimulator } from './simulator.js'

export interface SyncReport {
  ok: boolean
  /** Cases compared. */
  subjects: number
  /** Events the service shows for them. */
  events: number
  /** `<subject>#<sequence> <type>` the simulator never processed. */
  missing: string[]
  /** Cases whose events the simulator processed in another order than 1, 2, 3, … */
  outOfOrder: string[]
  /** Events the simulator processed that the service does not show to its client. */
  extra: string[]
  /** Cases whose sequences in the service itself are not 1..n. */
  serviceGaps: string[]
}

/** Reads the whole pull feed visible to the simulator's client. */
export async function readWholeFeed(sim: PeerSimulator): Promise<EventEnvelope[]> {
  const all: EventEnvelope[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await sim.api.getOk<{ items: EventEnvelope[]; nextCursor: string }>(
      `/v1/events?limit=200${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`,
    )
    all.push(...page.items)
    cursor = page.nextCursor
    if (page.items.length === 0) return all
  }
}

/**
 * Compares what the simulator processed with the service's feed, for referral cases (all of them, or those
 * in `only`).
 */
export async function checkSync(sim: PeerSimulator, only?: ReadonlySet<string>): Promise<SyncReport> {
  const feed = await readWholeFeed(sim)
  const bySubject = new Map<string, EventEnvelope[]>()
  for (const e of feed) {
    if (e.subject.kind !== 'referral' || (only && !only.has(e.subject.id))) continue
    const list = bySubject.get(e.subject.id) ?? []
    list.push(e)
    bySubject.set(e.subject.id, list)
  }
  const report: SyncReport = { ok: true, subjects: bySubject.size, events: 0, missing: [], outOfOrder: [], extra: [], serviceGaps: [] }
  const known = new Set<string>()
  for (const [subject, events] of bySubject) {
    events.sort((a, b) => a.sequence - b.sequence)
    report.events += events.length
    if (events.some((e, i) => e.sequence !== i + 1)) report.serviceGaps.push(subject)
    for (const e of events) known.add(e.id)
    const mine = sim.eventsOf(subject)
    const mineIds = new Set(mine.map((e) => e.id))
    for (const e of events) if (!mineIds.has(e.id)) report.missing.push(`${subject}#${e.sequence} ${e.type}`)
    if (mine.some((e, i) => e.sequence !== i + 1)) report.outOfOrder.push(`${subject}: ${mine.map((e) => e.sequence).join(',')}`)
  }
  for (const [subject, seen] of sim.subjects) {
    if (only && !only.has(subject)) continue
    for (const s of seen) if (s.event.subject.kind === 'referral' && !known.has(s.event.id)) report.extra.push(`${subject}#${s.event.sequence} ${s.event.type}`)
  }
  report.ok = !report.missing.length && !report.outOfOrder.length && !report.extra.length && !report.serviceGaps.length
  return report
}
