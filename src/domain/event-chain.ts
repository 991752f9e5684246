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

/**
 * JSON with object keys sorted at every level: the same event always hashes the same. Keys sort by UTF-16 code
 * units (the default sort); properties holding `undefined` are left out, as JSON.stringify does. Built by string
 * concatenation, without the intermediate entry arrays: it runs on every event written.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) {
    let s = '['
    for (let i = 0; i < value.length; i++) {
      if (i > 0) s += ','
      // A hole stays empty, as Array.prototype.join writes it.
      if (i in value) s += canonicalJson(value[i])
    }
    return `${s}]`
  }
  const o = value as Record<string, unknown>
  const keys = Object.keys(o).sort()
  let s = '{'
  for (const k of keys) {
    const v = o[k]
    if (v === undefined) continue
    if (s.length > 1) s += ','
    s += `${JSON.stringify(k)}:${canonicalJson(v)}`
  }
  return `${s}}`
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
