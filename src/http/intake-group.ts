import type { FastifyReply, FastifyRequest } from 'fastify'
import { Histogram } from 'prom-client'
import type { Caller } from '../cases/case-kit.js'
import { type PreparedItem, runBatch } from '../cases/referrals/referral-batch.js'
import type { Outcome, StoredResponse } from '../db/idempotency-repository.js'
import { WriteBatch } from '../db/write-batch.js'
import { AppError } from '../domain/errors.js'
import type { Referral } from '../domain/referral.js'
import type { CreateReferralInput } from '../schemas/referrals.js'
import type { AppDeps } from './app-deps.js'
import { caseAnswer, type CaseResource, replayedCase } from './case-routes.js'
import { idempotencyKeyOf, requestHashOf, runAfterCommit, sendOutcome } from './idempotency.js'

/**
 * Group commit of single intakes (`POST /v1/referrals`): the intakes of one client that reach their handler in the
 * same turn of the event loop are written together, in ONE transaction through batch intake's {@link runBatch}
 * (one commit, one fsync, one multi-row statement per table), each answering exactly as it would alone: the same
 * status, body and headers (`ETag`, `Receipt`, `Location`), the same stored answer for its replays, the same
 * access-trail row with its own request id. An intake alone in its turn (any moderate rate) takes the single path
 * unchanged, and so does every intake of a group whose transaction fails: the group wrote nothing, and each is
 * judged again on its own, so one intake never fails because of another.
 *
 * The body was judged before (the route's `prepare`, 400/422 as alone); the group judges the rest in request order
 * as batch intake does: the Idempotency-Key (a stored answer → replay or 422 idempotency_key_reused; held by a
 * request in flight → the single path, which replays what that request committed or answers 409), the roster, the
 * materials, the 案号 (409 duplicate_referral, also against earlier intakes of the group).
 */

/** What one waiting intake is told once its group is done. */
type Verdict = { kind: 'single' } | { kind: 'answer'; outcome: Outcome } | { kind: 'refused'; error: Error }

interface Waiting {
  caller: Caller
  item: PreparedItem
  settle: (v: Verdict) => void
}

/** At most this many intakes in one group (batch intake's own limit). */
const MAX_GROUP = 100
/** The process metric of group sizes (`/metrics`). */
export const GROUP_SIZE_METRIC = 'zdz_intake_group_size'

export class IntakeGroups {
  readonly #waiting = new Map<string, Waiting[]>()
  readonly #replay: (caller: Caller) => ReturnType<typeof replayedCase>
  readonly #sizes: Histogram

  constructor(
    private readonly deps: AppDeps,
    private readonly kind: CaseResource<Referral>,
  ) {
    this.#replay = (caller) => replayedCase(kind, caller)
    // Several app instances may share one registry (one per process): registered once.
    this.#sizes =
      (deps.metrics.getSingleMetric(GROUP_SIZE_METRIC) as Histogram | undefined) ??
      new Histogram({
        name: GROUP_SIZE_METRIC,
        help: 'Single intakes (POST /v1/referrals) written per transaction by group commit; 1 = the single path',
        buckets: [1, 2, 4, 8, 16, 32, 64, 100],
        registers: [deps.metrics],
      })
  }

  /**
   * Answers one intake whose body passed the route's checks (giving its 案号): in a group when other intakes of its client wait in
   * the same turn, otherwise through `single` (the route's own path).
   */
  async answer(
    req: FastifyRequest,
    reply: FastifyReply,
    caller: Caller,
    body: CreateReferralInput,
    caseNumber: string,
    single: () => Promise<FastifyReply>,
  ): Promise<FastifyReply> {
    const key = idempotencyKeyOf(req)
    const item: PreparedItem = { key, hash: requestHashOf(req.method, req.url, req.body), body, caseNumber, requestId: caller.requestId }
    const verdict = await new Promise<Verdict>((settle) => this.#enqueue(caller, { caller, item, settle }))
    if (verdict.kind === 'single') return single()
    if (verdict.kind === 'refused') throw verdict.error
    return sendOutcome(req, reply, verdict.outcome, undefined, this.#replay(caller))
  }

  #enqueue(caller: Caller, w: Waiting): void {
    const client = caller.principal.clientId
    const list = this.#waiting.get(client)
    if (list) {
      list.push(w)
      return
    }
    this.#waiting.set(client, [w])
    setImmediate(() => {
      const all = this.#waiting.get(client) ?? []
      this.#waiting.delete(client)
      for (let i = 0; i < all.length; i += MAX_GROUP) {
        const group = all.slice(i, i + MAX_GROUP)
        this.#sizes.observe(group.length)
        if (group.length === 1) group[0]!.settle({ kind: 'single' })
        else void this.#write(group)
      }
    })
  }

  async #write(group: Waiting[]): Promise<void> {
    const { deps, kind } = this
    const caller = group[0]!.caller
    const full = new Map<string, string>()
    const answerOf = (key: string, hash: string, r: Referral): StoredResponse => {
      const a = caseAnswer(deps, kind, { value: r, full: true, hints: {}, ...(r.lastEvent ? { event: r.lastEvent } : {}) }, 201, {
        location: `${kind.base}/${r.id}`,
      })
      full.set(r.id, JSON.stringify(a.body))
      const stored = a.stored!
      return { requestHash: hash, status: 201, body: JSON.stringify(stored.body), headers: a.headers ?? {}, subject: stored.subject }
    }
    let run: Awaited<ReturnType<typeof runBatch>>
    try {
      run = await deps.db.transaction().execute(async (trx) => {
        const batch = new WriteBatch()
        const done = await runBatch(
          deps,
          { trx, batch },
          caller,
          group.map((w) => w.item),
          answerOf,
        )
        await batch.execute(trx)
        return done
      })
    } catch (err) {
      // Nothing was written: each intake is judged again on its own.
      deps.logger.warn({ err: { message: (err as Error).message }, intakes: group.length }, 'intake group not written; its intakes go one by one')
      for (const w of group) w.settle({ kind: 'single' })
      return
    }
    await runAfterCommit(deps.logger, () => deps.afterCommit(run.hints))
    for (const [i, o] of run.outcomes.entries()) {
      const w = group[i]!
      if (o.kind === 'created') {
        w.settle({ kind: 'answer', outcome: { replay: false, status: 201, body: full.get(o.referral.id)!, headers: o.stored.headers } })
      } else if (o.kind === 'replay') {
        w.settle({ kind: 'answer', outcome: o.answer })
      } else if (o.error instanceof AppError && o.error.code === 'idempotency_key_in_use') {
        // Held by a request in flight: alone, the intake replays what that request committed meanwhile, or answers 409.
        w.settle({ kind: 'single' })
      } else {
        w.settle({ kind: 'refused', error: o.error })
      }
    }
  }
}
