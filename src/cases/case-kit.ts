import { type Kysely, type Transaction } from 'kysely'
import { recordAccess } from '../db/access-log-repository.js'
import type { CalendarProvider } from '../db/calendar-repository.js'
import type { Database } from '../db/database.js'
import { listSubjectEvents, type Versioned } from '../db/event-repository.js'
import { WriteBatch } from '../db/write-batch.js'
import { checkIfMatch } from '../domain/case-checks.js'
import { forbidden, illegalTransition, notFound, outOfScope } from '../domain/errors.js'
import type { EventEnvelope, WrittenEvent } from '../domain/event-chain.js'
import { isUuid } from '../domain/ids.js'
import type { Principal, Role } from '../domain/principal.js'
import type { FieldCipher } from '../security/field-cipher.js'

/**
 * The application layer's shared kit: what every case service (referrals, judicial confirmations, the deadline
 * timers) does around its domain decision. One transition is always
 *
 *   lock the case → who is asking (404 / 403) → If-Match (412) → the transition table (403 / 409)
 *   → the action's own rules (domain/) → write state + version + hash-chained event + outbox row → after commit
 *
 * and it happens here once. The services own the unit of work they are given: HTTP opens it through the
 * idempotency runner (so the stored answer commits with the effect); tests and timers open it with {@link inWork}.
 */

export type Trx = Transaction<Database>
type Db = Kysely<Database> | Trx

/** The unit of work a service decides in: the transaction, and the writes deferred to one statement at its end. */
export interface Work {
  trx: Trx
  batch: WriteBatch
}

/** Runs `fn` in a new transaction with its own write batch, sent before the commit. */
export async function inWork<T>(db: Kysely<Database>, fn: (work: Work) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    const work = { trx, batch: new WriteBatch() }
    const out = await fn(work)
    await work.batch.execute(trx)
    return out
  })
}

/** Who asks, and how: the principal, the request id (for the access trail) and the If-Match header if any. */
export interface Caller {
  principal: Principal
  requestId: string
  ifMatch?: string
}

/** What the case services need besides the unit of work. */
export interface CaseDeps {
  cipher: FieldCipher
  calendar: CalendarProvider
}

/** What to do once the transaction committed: wake the outbox relay, schedule deadline timers. Best effort. */
export interface CommitHints {
  events?: boolean
  timers?: Array<{ referralId: string; dueAt: Date }>
}

/**
 * A service's answer about one case: the case, whether the caller sees personal data in full, what follows the commit,
 * and the event the write added to the case's history (what its signed receipt attests, contract §4).
 */
export interface Outcome<C> {
  value: C
  full: boolean
  hints: CommitHints
  event?: WrittenEvent
}

/** How a principal stands to a case: may read it (else 404), see it in full, act on it (else 403 out_of_scope). */
export interface CaseStanding {
  read: boolean
  full: boolean
  act: boolean
}

export type Decision = { ok: true; to: string; event: string } | { ok: false; reason: 'forbidden' | 'illegal_transition' }

/** What the kit needs to know of one kind of case. */
export interface CaseKind<C extends Versioned & { status: string }, A extends string> {
  /** The case's name in 404 answers. */
  what: string
  /** The detail of 403 out_of_scope for a reader who may not act. */
  notActing: string
  get(db: Db, id: string): Promise<C | undefined>
  lock(trx: Trx, id: string): Promise<C | undefined>
  standing(db: Db, p: Principal, c: C): Promise<CaseStanding>
  decide(c: C, action: A, by: Role | 'system'): Decision
  /** Writes the new state, its version and its event (built from `masked`, the case as events show it). */
  commit(trx: Trx, c: { before: C; after: C; eventType: string; actor: EventEnvelope['actor']; now: Date; batch?: WriteBatch }): Promise<C>
}

export interface TransitionInput<C, A> {
  id: string
  by: Caller | 'system'
  /** The action, or how to tell it from the locked case (null: nothing to do, e.g. a deadline not yet passed). */
  action: A | ((c: C) => A | null)
  now: Date
  /** The action's own rules: the case after the action (the kit sets the status from the decision). */
  apply: (c: C) => Promise<C> | C
}

/**
 * Runs one transition on a case. A caller's refusal throws the error it gets; a refused system action (the case
 * moved on meanwhile) returns undefined.
 */
export async function transitionCase<C extends Versioned & { status: string }, A extends string>(
  work: { trx: Trx; batch?: WriteBatch },
  kind: CaseKind<C, A>,
  t: TransitionInput<C, A>,
): Promise<{ value: C; standing: CaseStanding } | undefined> {
  const { trx, batch } = work
  const c = isUuid(t.id) ? await kind.lock(trx, t.id) : undefined
  if (!c) {
    if (t.by === 'system') return undefined
    throw notFound(kind.what)
  }
  let st: CaseStanding = { read: true, full: false, act: true }
  if (t.by !== 'system') {
    st = await kind.standing(trx, t.by.principal, c)
    if (!st.read) throw notFound(kind.what)
    if (!st.act) throw outOfScope(kind.notActing)
    checkIfMatch(t.by.ifMatch, c.version)
  }
  const action = typeof t.action === 'function' ? t.action(c) : t.action
  if (action === null) return undefined
  const decision = kind.decide(c, action, t.by === 'system' ? 'system' : t.by.principal.role)
  if (!decision.ok) {
    if (t.by === 'system') return undefined
    throw decision.reason === 'forbidden' ? forbidden('当前角色无权执行此操作') : illegalTransition(c.status, action)
  }
  const after = await t.apply(c)
  const actor = t.by === 'system' ? 'system' : { clientId: t.by.principal.clientId, role: t.by.principal.role }
  const saved = await kind.commit(trx, { before: c, after: { ...after, status: decision.to }, eventType: decision.event, actor, now: t.now, batch })
  // A transition that hands the case to another organization changes what the caller may see of it.
  if (t.by !== 'system' && (saved as { organizationId?: string }).organizationId !== (c as { organizationId?: string }).organizationId) {
    st = await kind.standing(trx, t.by.principal, saved)
  }
  return { value: saved, standing: st }
}

/** A case the principal may read, with how it stands to it; 404 when there is none or it is outside the scope. */
export async function readCase<C extends Versioned & { status: string }>(
  db: Db,
  kind: CaseKind<C, string>,
  p: Principal,
  id: string,
): Promise<{ value: C; standing: CaseStanding }> {
  const c = isUuid(id) ? await kind.get(db, id) : undefined
  const standing = c ? await kind.standing(db, p, c) : undefined
  if (!c || !standing?.read) throw notFound(kind.what)
  return { value: c, standing }
}

/** The events of a case the principal may read, after a sequence number. */
export async function caseEvents(
  db: Kysely<Database>,
  kind: CaseKind<Versioned & { status: string }, string>,
  p: Principal,
  id: string,
  afterSequence: number,
  limit: number,
) {
  const { value } = await readCase(db, kind, p, id)
  return listSubjectEvents(db, value.id, afterSequence, limit)
}

/** Records, with the unit of work, that the caller was shown full personal data of a case (contract §8). */
export async function recordFullView(work: Work, caller: Caller, subjectId: string, fields: string[]): Promise<void> {
  await recordAccess(work.trx, [{ clientId: caller.principal.clientId, subjectId, fields, requestId: caller.requestId }], work.batch)
}
