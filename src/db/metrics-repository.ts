import { type Kysely, sql } from 'kysely'
import type { Database } from './database.js'

/**
 * The aggregate queries behind the business metrics on /metrics (src/http/metrics.ts). Each is one statement that
 * reads indexes sized by what it reports, not by the history: the pending and dead deliveries through their
 * partial indexes, the oldest pending one through deliveries_pending_created_idx, the outbox through its primary
 * key, the overdue deadlines through the partial due-date indexes of the timers, new attempts through the
 * attempt log's primary key. Only the case counts read every case (index-only, by status), which is why the
 * caller refreshes them less often.
 */

export interface DeliveryHealth {
  /** The subscriptions that are not deleted (each gets its series, 0 when it has nothing pending or dead). */
  subscriptions: string[]
  /** Pending deliveries per subscription. */
  pending: Array<{ subscriptionId: string; count: number }>
  /** Dead deliveries per subscription that is not deleted. */
  dead: Array<{ subscriptionId: string; count: number }>
  /** Seconds since the oldest pending delivery was created; 0 when none is pending. */
  oldestPendingSeconds: number
  /** Seconds since the oldest event not yet fanned out was written; 0 when the outbox is empty. */
  outboxLagSeconds: number
  /** Referrals past their acceptance or mediation due date that the deadline timers have not expired yet. */
  overdueDeadlines: number
}

/** Delivery, outbox and deadline health in one statement. `today` is the Asia/Shanghai date the timers use. */
export async function deliveryHealth(db: Kysely<Database>, today: string): Promise<DeliveryHealth> {
  const r = await sql<{
    subscriptions: string[]
    pending: Array<{ s: string; n: number }>
    dead: Array<{ s: string; n: number }>
    oldest_pending: number | null
    outbox_lag: number | null
    overdue: string
  }>`
    SELECT
      (SELECT coalesce(array_agg(id::text ORDER BY id), '{}') FROM subscriptions WHERE deleted_at IS NULL) AS subscriptions,
      (SELECT coalesce(json_agg(json_build_object('s', subscription_id, 'n', n)), '[]'::json)
         FROM (SELECT subscription_id, count(*) AS n FROM deliveries WHERE status = 'pending' GROUP BY subscription_id) p) AS pending,
      (SELECT coalesce(json_agg(json_build_object('s', subscription_id, 'n', n)), '[]'::json)
         FROM (SELECT subscription_id, count(*) AS n FROM deliveries WHERE status = 'dead' GROUP BY subscription_id) d
         WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id AND s.deleted_at IS NULL)) AS dead,
      extract(epoch FROM now() - (SELECT min(created_at) FROM deliveries WHERE status = 'pending'))::float8 AS oldest_pending,
      extract(epoch FROM now() - (SELECT created_at FROM outbox ORDER BY event_pos LIMIT 1))::float8 AS outbox_lag,
      (SELECT count(*) FROM referrals WHERE status = 'referred' AND acceptance_due_on < ${today}::date)
        + (SELECT count(*) FROM referrals WHERE status = 'mediating' AND mediation_due_on < ${today}::date) AS overdue
  `.execute(db)
  const row = r.rows[0]
  return {
    subscriptions: row.subscriptions,
    pending: row.pending.map((p) => ({ subscriptionId: p.s, count: Number(p.n) })),
    dead: row.dead.map((p) => ({ subscriptionId: p.s, count: Number(p.n) })),
    oldestPendingSeconds: Math.max(0, row.oldest_pending ?? 0),
    outboxLagSeconds: Math.max(0, row.outbox_lag ?? 0),
    overdueDeadlines: Number(row.overdue),
  }
}

/** Cases by kind and status (index-only scans of the status indexes). */
export async function caseCounts(db: Kysely<Database>): Promise<Array<{ kind: 'referral' | 'judicial_confirmation'; status: string; count: number }>> {
  const r = await sql<{ kind: 'referral' | 'judicial_confirmation'; status: string; n: string }>`
    SELECT 'referral' AS kind, status, count(*) AS n FROM referrals GROUP BY status
    UNION ALL
    SELECT 'judicial_confirmation' AS kind, status, count(*) AS n FROM judicial_confirmations GROUP BY status
  `.execute(db)
  return r.rows.map((x) => ({ kind: x.kind, status: x.status, count: Number(x.n) }))
}

/** The highest id in the attempt log, where counting starts (0 when it is empty). */
export async function lastAttemptId(db: Kysely<Database>): Promise<bigint> {
  const r = await sql<{ id: string | null }>`SELECT max(id)::text AS id FROM delivery_attempts`.execute(db)
  return BigInt(r.rows[0].id ?? '0')
}

export interface NewAttempts {
  /** Attempts found, by recorded outcome (`delivered`, `retry`, `dead`, `gone`). */
  counts: Record<string, number>
  /** The highest id now counted (unchanged when nothing new was found). */
  high: bigint
  /** Ids between the old and the new `high` not seen (yet): written by a transaction that had not committed. */
  missing: bigint[]
  /** Those of `recheck` found now. */
  found: bigint[]
}

/**
 * Attempts recorded since the last count: up to `batch` of those with an id above `high`, plus those of `recheck`
 * (ids skipped earlier). An id is drawn when the row is inserted but seen only once its transaction commits, so
 * a lower id can appear after a higher one; such ids come back in `missing`, for the caller to look for again.
 */
export async function newAttempts(db: Kysely<Database>, high: bigint, recheck: readonly bigint[], batch = 100_000): Promise<NewAttempts> {
  const r = await sql<{ counts: Record<string, number> | null; top: string | null; missing: string[]; found: string[] }>`
    WITH fresh AS (
      SELECT id, outcome FROM delivery_attempts WHERE id > ${high.toString()}::bigint ORDER BY id LIMIT ${batch}
    ), rechecked AS (
      SELECT id, outcome FROM delivery_attempts WHERE id = ANY(${recheck.map(String)}::bigint[])
    ), top AS (
      SELECT max(id) AS top FROM fresh
    )
    SELECT
      (SELECT json_object_agg(outcome, n) FROM (
         SELECT outcome, count(*) AS n FROM (SELECT outcome FROM fresh UNION ALL SELECT outcome FROM rechecked) a GROUP BY outcome) c) AS counts,
      (SELECT top::text FROM top) AS top,
      (SELECT coalesce(array_agg(g::text), '{}') FROM top CROSS JOIN generate_series(${high.toString()}::bigint + 1, top.top) g
         LEFT JOIN fresh f ON f.id = g WHERE f.id IS NULL) AS missing,
      (SELECT coalesce(array_agg(id::text), '{}') FROM rechecked) AS found
  `.execute(db)
  const row = r.rows[0]
  return {
    counts: Object.fromEntries(Object.entries(row.counts ?? {}).map(([k, v]) => [k, Number(v)])),
    high: row.top === null ? high : BigInt(row.top),
    missing: row.missing.map((x) => BigInt(x)),
    found: row.found.map((x) => BigInt(x)),
  }
}
