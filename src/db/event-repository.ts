import { type Kysely, sql, type Transaction } from 'kysely'
import { uuidv7 } from 'uuidv7'
import { type ChainVerdict, chainHash, type EventEnvelope, verifyChain, type WrittenEvent } from '../domain/event-chain.js'
import type { Database, EventRow } from './database.js'
import { WriteBatch } from './write-batch.js'

type Db = Kysely<Database> | Transaction<Database>

export interface NewEventInput {
  type: string
  subject: EventEnvelope['subject']
  sequence: number
  caseVersion: number | null
  actor: EventEnvelope['actor']
  data: unknown
  prevHash: string
  occurredAt?: Date
  /** Who may read it: the court and organization concerned at the time of the event. */
  scope: { courtCode?: string | null; organizationId?: string | null; regionCode?: string | null; audience?: string }
}

/** The envelope of a new event (its id drawn here, unless given) and its chain hash: no I/O. */
export function eventEnvelope(e: NewEventInput & { envelope?: EventEnvelope }): { envelope: EventEnvelope; hash: string } {
  if (e.envelope) return { envelope: e.envelope, hash: chainHash(e.prevHash, e.envelope) }
  const occurredAt = e.occurredAt ?? new Date()
  const envelope: EventEnvelope = {
    id: uuidv7(),
    type: e.type,
    occurredAt: occurredAt.toISOString(),
    sequence: e.sequence,
    subject: e.subject,
    caseVersion: e.caseVersion,
    actor: e.actor,
    data: e.data,
  }
  return { envelope, hash: chainHash(e.prevHash, envelope) }
}

/**
 * Appends one event (and its outbox marker) in the caller's transaction, or to `batch` (sent later, in that
 * transaction). The caller wakes the relay after the commit (AppDeps.afterCommit); the relay's poll finds the
 * event otherwise. Returns the envelope and its chain hash. An `envelope` built before ({@link eventEnvelope}) is
 * written as it is.
 */
export async function appendEvent(
  trx: Transaction<Database>,
  e: NewEventInput & { envelope?: EventEnvelope },
  batch?: WriteBatch,
): Promise<{ envelope: EventEnvelope; hash: string }> {
  const { envelope, hash } = eventEnvelope(e)
  const occurredAt = new Date(envelope.occurredAt)
  // The event and its outbox marker: two parts of one statement (the marker reads the event's position).
  const writes = batch ?? new WriteBatch()
  const name = `ev${writes.size}`
  writes.add(
    trx
      .insertInto('events')
      .values({
        id: envelope.id,
        type: envelope.type,
        occurred_at: occurredAt,
        subject_kind: e.subject.kind,
        subject_id: e.subject.id,
        sequence: e.sequence,
        case_version: e.caseVersion,
        actor: JSON.stringify(e.actor),
        data: JSON.stringify(e.data),
        court_code: e.scope.courtCode ?? null,
        organization_id: e.scope.organizationId ?? null,
        region_code: e.scope.regionCode ?? null,
        ...(e.scope.audience ? { audience: e.scope.audience } : {}),
        prev_hash: e.prevHash,
        hash,
      })
      .returning('pos'),
    { name },
  )
  writes.add(sql`INSERT INTO outbox (event_pos) SELECT pos FROM ${sql.table(name)}`.compile(trx))
  if (!batch) await writes.execute(trx)
  return { envelope, hash }
}

/** The written event as a receipt names it. */
export function writtenEvent(envelope: EventEnvelope, hash: string): WrittenEvent {
  return { id: envelope.id, subject: envelope.subject, sequence: envelope.sequence, caseVersion: envelope.caseVersion, hash }
}

export function toEnvelope(r: EventRow): EventEnvelope {
  return {
    id: r.id,
    type: r.type,
    occurredAt: r.occurred_at.toISOString(),
    sequence: r.sequence,
    subject: { kind: r.subject_kind as EventEnvelope['subject']['kind'], id: r.subject_id },
    caseVersion: r.case_version,
    actor: r.actor as EventEnvelope['actor'],
    data: r.data,
  }
}

/** A subject's events in sequence order, from `afterSequence` on. */
export async function listSubjectEvents(db: Db, subjectId: string, afterSequence: number, limit: number): Promise<EventRow[]> {
  return db
    .selectFrom('events')
    .selectAll()
    .where('subject_id', '=', subjectId)
    .where('sequence', '>', afterSequence)
    .orderBy('sequence')
    .limit(limit)
    .execute()
}

/** Recomputes a subject's hash chain from its stored events (contract §8 tamper evidence). */
export async function verifySubjectChain(db: Db, subjectId: string): Promise<ChainVerdict> {
  const rows = await db.selectFrom('events').selectAll().where('subject_id', '=', subjectId).orderBy('sequence').execute()
  return verifyChain(rows.map((r) => ({ envelope: toEnvelope(r), prevHash: r.prev_hash, hash: r.hash })))
}

/** A versioned case resource: its version is its event sequence, its chain head the hash of its last event. */
export interface Versioned {
  id: string
  version: number
  chainHead: string
  updatedAt: Date
  /** Not stored: the event this unit of work just wrote for it (its receipt's subject, contract §4). */
  lastEvent?: WrittenEvent
}

export interface VersionedCommit<T extends Versioned> {
  subjectKind: 'referral' | 'judicial_confirmation' | 'warning'
  before: T
  after: T
  eventType: string
  actor: EventEnvelope['actor']
  eventData: unknown
  scope: NewEventInput['scope']
  now: Date
  save: (trx: Transaction<Database>, saved: T, batch?: WriteBatch) => Promise<void>
  /** Defers the writes to this batch (sent by the caller, in the same transaction). */
  batch?: WriteBatch
}

/**
 * Writes a transition of a versioned case resource: the new state with its version bumped and its one hash-chained
 * event, in the caller's transaction (contract §2: the state change, the version bump and its event are one).
 */
export async function commitVersioned<T extends Versioned>(trx: Transaction<Database>, c: VersionedCommit<T>): Promise<T> {
  const version = c.before.version + 1
  const { envelope, hash } = await appendEvent(
    trx,
    {
      type: c.eventType,
      subject: { kind: c.subjectKind, id: c.before.id },
      sequence: version,
      caseVersion: version,
      actor: c.actor,
      data: c.eventData,
      prevHash: c.before.chainHead,
      occurredAt: c.now,
      scope: c.scope,
    },
    c.batch,
  )
  const saved: T = { ...c.after, version, chainHead: hash, updatedAt: c.now, lastEvent: writtenEvent(envelope, hash) }
  await c.save(trx, saved, c.batch)
  return saved
}
