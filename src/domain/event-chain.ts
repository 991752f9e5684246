import { createHash } from 'node:crypto'

/** The §4 event envelope. */
export interface EventEnvelope {
  id: string
  type: string
  occurredAt: string
  sequence: number
  subject: { kind: 'referral' | 'judicial_confirmation' | 'warning' | 'delivery'; id: string }
  caseVersion: number | null
  actor: { clientId: string; role: string } | 'system'
  data: unknown
}

export const GENESIS_HASH = '0'.repeat(64)

/** JSON with object keys sorted at every level: the same event always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
}

/** hash = SHA-256(previous hash ‖ canonical event), hex (contract §8 tamper evidence). */
export function chainHash(prevHash: string, event: EventEnvelope): string {
  return createHash('sha256').update(prevHash, 'utf8').update(canonicalJson(event), 'utf8').digest('hex')
}

export type ChainVerdict = { valid: true; length: number; head: string } | { valid: false; brokenAtSequence: number; length: number }

/** Recomputes a subject's chain from its events in sequence order. */
export function verifyChain(events: ReadonlyArray<{ envelope: EventEnvelope; prevHash: string; hash: string }>): ChainVerdict {
  let prev = GENESIS_HASH
  let expectedSeq = 1
  for (const e of events) {
    if (e.envelope.sequence !== expectedSeq || e.prevHash !== prev || chainHash(prev, e.envelope) !== e.hash) {
      return { valid: false, brokenAtSequence: expectedSeq, length: events.length }
    }
    prev = e.hash
    expectedSeq++
  }
  return { valid: true, length: events.length, head: prev }
}

/** An event just written on a case, as its receipt names it (contract §4 "Signed receipts"). */
export interface WrittenEvent {
  id: string
  subject: EventEnvelope['subject']
  sequence: number
  caseVersion: number | null
  /** Its hash in the subject's chain. */
  hash: string
}
