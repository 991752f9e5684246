import { type Kysely, sql } from 'kysely'
import type { Logger } from 'pino'
import {
  type CalendarProvider,
  FIRST_PHASE,
  getRecomputation,
  pendingRecomputations,
  type RecomputationRow,
  recordRecomputationProgress,
} from '../db/calendar-repository.js'
import { commitConfirmationTransition, toConfirmation } from '../db/confirmation-repository.js'
import type { Database } from '../db/database.js'
import { commitTransition, holderRegions, toReferral } from '../db/referral-repository.js'
import { type LegalCalendar, shanghaiDate } from '../domain/calendar.js'
import { type Confirmation, maskedConfirmationView } from '../domain/confirmation.js'
import { type DueChange, recomputeConfirmation, recomputeReferral } from '../domain/deadlines.js'
import { AppError } from '../domain/errors.js'
import { maskedReferralView, type Referral } from '../domain/referral.js'
import { type CaseKind, type CommitHints, inWork, transitionCase } from './case-kit.js'
import { confirmationKind } from './confirmations/confirmation-service.js'
import { referralHints, referralKind } from './referrals/referral-service.js'

/**
 * The recomputation of open cases' due dates when a year's calendar changes (contract §2 "Recomputation"), run by
 * `PUT /v1/calendar/{year}` before it answers, and resumed at start-up when a crash or a shutdown stopped it.
 *
 * Every open case whose running due date reaches into the year (the acceptance deadline of a referred referral, the
 * mediation deadline of a mediating or suspended one, the review deadline and day-15 target of an application under
 * review or awaiting materials, the parties' objection window of a ruled one) is recomputed from its start on the calendar as PostgreSQL now holds it. A date only moves later. Each
 * case that changes does so in its own short transaction, through the versioned-case kit with the system as actor:
 * its version is bumped, its one `*.deadlines_changed` event `{ before, after, calendarYear }` is written, and its
 * timer follows after the commit. Cases are walked in batches by state and id; after each batch the walk records
 * where it stands (table calendar_recomputations), so a crash resumes at the next batch, and a case done twice moves
 * nothing the second time. One process walks a year at a time (an advisory lock); the others wait for it to finish.
 */

export interface RecomputeDeps {
  db: Kysely<Database>
  calendar: Pick<CalendarProvider, 'load'>
  afterCommit: (hints: CommitHints) => Promise<void>
  logger: Logger
}

export interface RecomputeOptions {
  /** Cases read per batch (default 500). */
  batchSize?: number
  /** Case transactions in flight at once (default 4; keep it below the pool size). */
  concurrency?: number
  /** Stops the walk between batches (shutdown); it resumes at the next start or PUT. */
  signal?: AbortSignal
  /** Stops after this many batches, as a crash would (tests). */
  maxBatches?: number
}

export interface RecomputeSummary {
  year: number
  generation: number
  done: boolean
  examined: number
  changed: number
}

type RecomputeAction = 'recompute_deadlines'
type Kind = 'referral' | 'confirmation'

/** The walk: one phase per state with a running due date, in this order. */
const PHASES: ReadonlyArray<{
  name: string
  kind: Kind
  status: string
  due: 'acceptance_due_on' | 'mediation_due_on' | 'review_due_on' | 'objection_due_on'
}> = [
  { name: 'referred', kind: 'referral', status: 'referred', due: 'acceptance_due_on' },
  { name: 'mediating', kind: 'referral', status: 'mediating', due: 'mediation_due_on' },
  { name: 'suspended', kind: 'referral', status: 'suspended', due: 'mediation_due_on' },
  { name: 'under_review', kind: 'confirmation', status: 'under_review', due: 'review_due_on' },
  { name: 'materials_requested', kind: 'confirmation', status: 'materials_requested', due: 'review_due_on' },
  // The parties' objection window after the ruling (民诉法解释 372), kept in the application file.
  { name: 'ruled_valid', kind: 'confirmation', status: 'ruled_valid', due: 'objection_due_on' },
  { name: 'ruled_rejected', kind: 'confirmation', status: 'ruled_rejected', due: 'objection_due_on' },
]
if (PHASES[0]?.name !== FIRST_PHASE) throw new Error('calendar-recompute: the first phase must be FIRST_PHASE')

/** Advisory lock namespace of the walks (the second key is the year). */
const LOCK_NAMESPACE = 7243010

/** How long a waiting PUT sleeps between looks at a walk another process is running. */
const WAIT_POLL_MS = 200

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Runs `fn` on each item, at most `limit` at a time. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T)
  })
  await Promise.all(lanes)
}

/** A recomputation that cannot judge a day it needs (no arrangement, beyond the lunar data) leaves the date as it is. */
function unlessUnavailable<T>(compute: () => T | null): T | null {
  try {
    return compute()
  } catch (err) {
    if (err instanceof AppError && err.code === 'calendar_unavailable') return null
    throw err
  }
}

/** The day each referral's acceptance clock started: its last (re)designation, from its events. */
async function designationDays(db: Kysely<Database>, rows: ReadonlyArray<{ id: string; createdAt: Date }>): Promise<Map<string, string>> {
  const days = new Map(rows.map((r) => [r.id, shanghaiDate(r.createdAt)]))
  if (!rows.length) return days
  const found = await sql<{ subject_id: string; occurred_at: Date }>`
    SELECT DISTINCT ON (subject_id) subject_id, occurred_at FROM events
    WHERE subject_id = ANY(${rows.map((r) => r.id)}::uuid[]) AND type IN ('referral.created', 'referral.redesignated')
    ORDER BY subject_id, sequence DESC`.execute(db)
  for (const r of found.rows) days.set(r.subject_id, shanghaiDate(r.occurred_at))
  return days
}

/** The event data of a `*.deadlines_changed` event (contract §2): the moved fields before and after, and the year. */
const changeData = (change: DueChange, year: number) => ({ before: change.before, after: change.after, calendarYear: year })

/** The kit's decision for this system action: the action's own check (the plan) already ran on the locked case. */
const systemOnly =
  (event: string) =>
  <C extends { status: string }>(c: C, _action: RecomputeAction, by: string) =>
    by === 'system' ? ({ ok: true, to: c.status, event } as const) : ({ ok: false, reason: 'forbidden' } as const)

/** The kit's view of a referral for this one system action, written with the change's event data. */
function referralRecomputeKind(year: number, region: string | null, change: () => DueChange | null): CaseKind<Referral, RecomputeAction> {
  return {
    ...referralKind,
    decide: systemOnly('referral.deadlines_changed'),
    async commit(trx, c) {
      const view = maskedReferralView({ ...c.after, version: c.before.version + 1, updatedAt: c.now })
      return commitTransition(trx, { ...c, eventData: { ...changeData(change() as DueChange, year), referral: view }, holderRegion: region })
    },
  }
}

function confirmationRecomputeKind(year: number, region: string | null, change: () => DueChange | null): CaseKind<Confirmation, RecomputeAction> {
  return {
    ...confirmationKind,
    decide: systemOnly('confirmation.deadlines_changed'),
    async commit(trx, t) {
      const view = maskedConfirmationView({ ...t.after, version: t.before.version + 1, updatedAt: t.now }, shanghaiDate(t.now))
      return commitConfirmationTransition(trx, {
        ...t,
        eventData: { ...changeData(change() as DueChange, year), confirmation: view },
        organizationRegion: region,
      })
    },
  }
}

type ReferralPlan = NonNullable<ReturnType<typeof recomputeReferral>>
type ConfirmationPlan = NonNullable<ReturnType<typeof recomputeConfirmation>>

/**
 * One referral in its own transaction: locked, recomputed, written if a date moves. 'stale' when the case changed
 * since `expectedVersion` was read (its acceptance clock may have restarted): the caller reads it again.
 */
async function recomputeOneReferral(
  deps: RecomputeDeps,
  cal: LegalCalendar,
  year: number,
  seen: { id: string; version: number; designatedOn: string; region: string | null },
): Promise<Referral | 'unchanged' | 'stale'> {
  let plan: ReferralPlan | null = null
  let stale = false
  const done = await inWork(deps.db, (work) =>
    transitionCase(
      work,
      referralRecomputeKind(year, seen.region, () => plan),
      {
        id: seen.id,
        by: 'system',
        now: new Date(),
        action: (r) => {
          stale = r.version !== seen.version
          plan = stale ? null : unlessUnavailable(() => recomputeReferral(r, cal, seen.designatedOn))
          return plan ? 'recompute_deadlines' : null
        },
        apply: (r) => ({ ...r, doc: { ...r.doc, deadlines: (plan as ReferralPlan).deadlines } }),
      },
    ),
  )
  return done ? done.value : stale ? 'stale' : 'unchanged'
}

async function recomputeOneConfirmation(
  deps: RecomputeDeps,
  cal: LegalCalendar,
  year: number,
  seen: { id: string; region: string | null },
): Promise<Confirmation | undefined> {
  let plan: ConfirmationPlan | null = null
  const done = await inWork(deps.db, (work) =>
    transitionCase(
      work,
      confirmationRecomputeKind(year, seen.region, () => plan),
      {
        id: seen.id,
        by: 'system',
        now: new Date(),
        action: (c) => {
          plan = unlessUnavailable(() => recomputeConfirmation(c, cal))
          return plan ? 'recompute_deadlines' : null
        },
        apply: (c) => {
          const p = plan as ConfirmationPlan
          const doc = {
            ...c.doc,
            provisional: p.provisional,
            ...(p.reviewTargetOn !== undefined ? { reviewTargetOn: p.reviewTargetOn } : {}),
            ...(p.objectionDueOn !== undefined ? { objectionDueOn: p.objectionDueOn } : {}),
          }
          return { ...c, reviewDueOn: p.reviewDueOn, doc }
        },
      },
    ),
  )
  return done?.value
}

/** The regions of organizations, for the events' read scope. */
async function regionsOf(db: Kysely<Database>, organizationIds: string[]): Promise<Map<string, string | null>> {
  return new Map((await holderRegions(db, [...new Set(organizationIds)])).map((x) => [x.id, x.regionCode || null]))
}

/** One batch of one phase: the cases after `afterId`; those whose dates move change one transaction each. */
async function runBatch(
  deps: RecomputeDeps,
  cal: LegalCalendar,
  year: number,
  phase: (typeof PHASES)[number],
  afterId: string | null,
  o: { batchSize: number; concurrency: number },
): Promise<{ examined: number; changed: number; lastId: string | null; hints: CommitHints[] }> {
  const from = `${year}-01-01`
  const hints: CommitHints[] = []
  let changed = 0
  if (phase.kind === 'referral') {
    let q = deps.db
      .selectFrom('referrals')
      .selectAll()
      .where('status', '=', phase.status)
      .where(phase.due as 'acceptance_due_on', '>=', from)
    if (afterId) q = q.where('id', '>', afterId)
    const rows = (await q.orderBy('id').limit(o.batchSize).execute()).map(toReferral)
    const designated = phase.status === 'referred' ? await designationDays(deps.db, rows) : new Map<string, string>()
    const dayOf = (r: Referral, days: Map<string, string>) => days.get(r.id) ?? shanghaiDate(r.createdAt)
    // Read without locks: only the cases whose dates would move open a transaction (where they are checked again).
    const moving = rows.filter((r) => unlessUnavailable(() => recomputeReferral(r, cal, dayOf(r, designated))) !== null)
    const regions = await regionsOf(
      deps.db,
      moving.map((r) => r.organizationId),
    )
    await eachLimit(moving, o.concurrency, async (first) => {
      let r: Referral | undefined = first
      let days = designated
      for (let attempt = 0; r && attempt < 5; attempt++) {
        const out = await recomputeOneReferral(deps, cal, year, {
          id: r.id,
          version: r.version,
          designatedOn: dayOf(r, days),
          region: regions.get(r.organizationId) ?? null,
        })
        if (out === 'unchanged') return
        if (out !== 'stale') {
          changed++
          hints.push(referralHints(out))
          return
        }
        r = await referralKind.get(deps.db, r.id)
        if (r) days = await designationDays(deps.db, [r])
      }
    })
    return { examined: rows.length, changed, lastId: rows.at(-1)?.id ?? null, hints }
  }
  let q = deps.db
    .selectFrom('judicial_confirmations')
    .selectAll()
    .where('status', '=', phase.status)
    .where((eb) => (phase.due === 'objection_due_on' ? eb(sql<string>`(doc->>'objectionDueOn')`, '>=', from) : eb('review_due_on', '>=', from)))
  if (afterId) q = q.where('id', '>', afterId)
  const rows = (await q.orderBy('id').limit(o.batchSize).execute()).map(toConfirmation)
  const moving = rows.filter((c) => unlessUnavailable(() => recomputeConfirmation(c, cal)) !== null)
  const regions = await regionsOf(
    deps.db,
    moving.map((c) => c.organizationId),
  )
  await eachLimit(moving, o.concurrency, async (c) => {
    if (await recomputeOneConfirmation(deps, cal, year, { id: c.id, region: regions.get(c.organizationId) ?? null })) {
      changed++
      hints.push({ events: true })
    }
  })
  return { examined: rows.length, changed, lastId: rows.at(-1)?.id ?? null, hints }
}

/** After the batch committed: wake the relay, schedule the moved timers. Best effort: the deadline sweep is the truth. */
async function followCommits(deps: RecomputeDeps, hints: CommitHints[]): Promise<void> {
  if (!hints.length) return
  const timers = hints.flatMap((h) => h.timers ?? [])
  const lanes = 8
  const size = Math.ceil(timers.length / lanes)
  try {
    await deps.afterCommit({ events: true })
    await Promise.all(
      Array.from({ length: lanes }, (_, i) => timers.slice(i * size, (i + 1) * size)).map((t) => (t.length ? deps.afterCommit({ timers: t }) : undefined)),
    )
  } catch (err) {
    deps.logger.warn({ err: { message: (err as Error).message } }, 'calendar recomputation: timers not scheduled; the deadline sweep will act on the new dates')
  }
}

/**
 * Walks `year` from where it stands until it is done (or stopped): the caller holds the year's lock. A newer PUT
 * during the walk restarts it on the newer calendar.
 */
async function walk(deps: RecomputeDeps, year: number, opts: RecomputeOptions): Promise<RecomputeSummary | undefined> {
  const o = { batchSize: opts.batchSize ?? 500, concurrency: Math.max(1, opts.concurrency ?? 4) }
  let cal: { generation: number; value: LegalCalendar } | undefined
  let job: RecomputationRow | undefined
  for (let batches = 0; ; batches++) {
    job = await getRecomputation(deps.db, year)
    if (!job || job.status === 'done') break
    if (opts.signal?.aborted || (opts.maxBatches !== undefined && batches >= opts.maxBatches)) break
    if (cal?.generation !== job.generation) cal = { generation: job.generation, value: await deps.calendar.load() }
    const at = PHASES.findIndex((p) => p.name === job?.phase)
    const index = at < 0 ? 0 : at
    const phase = PHASES[index] as (typeof PHASES)[number]
    const batch = await runBatch(deps, cal.value, year, phase, at < 0 ? null : job.afterId, o)
    await followCommits(deps, batch.hints)
    const phaseDone = batch.examined < o.batchSize
    const next = phaseDone ? PHASES[index + 1] : phase
    await recordRecomputationProgress(deps.db, {
      year,
      generation: job.generation,
      phase: next?.name ?? phase.name,
      afterId: phaseDone ? null : batch.lastId,
      examined: batch.examined,
      changed: batch.changed,
      done: next === undefined,
    })
  }
  if (!job) return undefined
  const last = await getRecomputation(deps.db, year)
  return last ? { year, generation: last.generation, done: last.status === 'done', examined: last.examined, changed: last.changed } : undefined
}

/**
 * Takes the year's walk if no other process holds it, and walks it. Returns undefined when another process holds it.
 * The lock is a session lock on one pooled connection held for the walk; a crash releases it with the connection.
 */
export async function tryRecompute(deps: RecomputeDeps, year: number, opts: RecomputeOptions = {}): Promise<RecomputeSummary | null | undefined> {
  return deps.db.connection().execute(async (conn) => {
    const got = await sql<{ ok: boolean }>`SELECT pg_try_advisory_lock(${LOCK_NAMESPACE}, ${year}) AS ok`.execute(conn)
    if (!got.rows[0]?.ok) return undefined
    try {
      const started = Date.now()
      const summary = await walk(deps, year, opts)
      if (summary?.done && summary.examined > 0) {
        deps.logger.info({ calendarYear: year, ...summary, ms: Date.now() - started }, 'calendar recomputation done')
      }
      return summary ?? null
    } finally {
      await sql`SELECT pg_advisory_unlock(${LOCK_NAMESPACE}, ${year})`.execute(conn)
    }
  })
}

/**
 * What `PUT /v1/calendar/{year}` waits for: the recomputation of generation `generation` (or a later one) done.
 * Walks it here, or, while another process walks it, waits for that one to finish (and takes over if it stops).
 */
export async function completeRecomputation(deps: RecomputeDeps, year: number, generation: number, opts: RecomputeOptions = {}): Promise<RecomputeSummary> {
  for (;;) {
    const ran = await tryRecompute(deps, year, opts)
    const job = await getRecomputation(deps.db, year)
    const summary = {
      year,
      generation: job?.generation ?? generation,
      done: !job || job.status === 'done',
      examined: job?.examined ?? 0,
      changed: job?.changed ?? 0,
    }
    if (!job || (job.status === 'done' && job.generation >= generation)) return summary
    // Walked here but stopped on request (shutdown, tests): it resumes at the next start or PUT.
    if (ran !== undefined && (opts.signal?.aborted || opts.maxBatches !== undefined)) return summary
    if (ran === undefined) await sleep(WAIT_POLL_MS)
  }
}

/** At start-up: resumes every walk a crash or a shutdown left unfinished (those another process holds are its own). */
export async function resumeRecomputations(deps: RecomputeDeps, opts: RecomputeOptions = {}): Promise<void> {
  for (const year of await pendingRecomputations(deps.db)) {
    if (opts.signal?.aborted) return
    deps.logger.info({ calendarYear: year }, 'resuming an unfinished calendar recomputation')
    await tryRecompute(deps, year, opts)
  }
}
