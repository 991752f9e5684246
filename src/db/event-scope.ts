import { type Kysely, type SqlBool, sql, type Transaction } from 'kysely'
import type { EventScope } from '../domain/access.js'
import type { Principal } from '../domain/principal.js'
import { eventScopeSql } from './access-sql.js'
import type { Database, EventRow } from './database.js'

type Db = Kysely<Database> | Transaction<Database>

/** The scope columns of an event row: what `mayReadEvent` (domain/access.ts) decides on. */
export function scopeOf(e: Pick<EventRow, 'audience' | 'court_code' | 'organization_id' | 'region_code'>): EventScope {
  return { audience: e.audience, courtCode: e.court_code, organizationId: e.organization_id, regionCode: e.region_code }
}

/** Re-exported for test/http/warnings.test.ts, which still imports the rule from here. */

/** Position in the pull feed: the writing transaction's id and the event's position, both as decimal strings. */
export interface FeedCursor {
  txid: string
  pos: string
}

export const FEED_START: FeedCursor = { txid: '0', pos: '0' }

/**
 * One page of the pull feed: the events the principal may read after `after`, ordered by (txid, pos).
 *
 * Why not simply `pos > cursor`? `pos` comes from a sequence, taken when a row is inserted, but rows become
 * visible when their transaction commits, in whatever order the commits happen. If transaction A takes pos 10
 * and transaction B takes pos 11 and commits first, a reader that sees 11 and moves its cursor past it would
 * never see 10 once A commits: the event is skipped for good.
 *
 * The technique: every event records the id of the transaction that wrote it (`txid`, xid8), and the feed only
 * serves events whose transaction id lies below a *horizon* that no transaction still able to commit can be
 * under. Every transaction id below the horizon belongs to a transaction that had finished (committed or rolled
 * back) when the reading statement took its snapshot, so the set of events below the horizon can never grow
 * again. Serving only those, ordered by (txid, pos) with the cursor on the same pair, means everything at or
 * below a cursor has been served and nothing can later appear there.
 *
 * The horizon is the snapshot's xmin (`pg_snapshot_xmin(pg_current_snapshot())`, the oldest transaction still
 * running) refined in one way: transaction ids are cluster-wide, and a long transaction in *another database*
 * of the same cluster cannot write our events, so it should not hold the feed back. The horizon is therefore
 * the smallest in-progress id of the snapshot (`pg_snapshot_xip`) that is not positively known, from
 * `pg_stat_activity`, to belong to another database, or the snapshot's xmax when there is none (every later
 * transaction will get a larger id). An id not found there (its backend just finished, or the role may not see
 * other sessions) counts as ours: the feed may wait a moment longer, it never skips.
 *
 * The price is a short delay: an event waits until every older transaction of this database has finished (a
 * long-running transaction holds the feed back; it never makes it skip).
 */
export async function readFeed(db: Db, p: Principal, after: FeedCursor, types: string[] | undefined, limit: number): Promise<EventRow[]> {
  const horizon = sql<string>`(
    SELECT coalesce(min(x.id), pg_snapshot_xmax(pg_current_snapshot()))
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x(id)
    WHERE NOT EXISTS (
      SELECT 1 FROM pg_stat_activity a
      WHERE a.backend_xid = x.id::xid AND a.datname IS DISTINCT FROM current_database()))`
  let q = db
    .selectFrom('events as e')
    .selectAll('e')
    .where(sql<SqlBool>`e.txid < ${horizon}`)
    .where(sql<SqlBool>`(e.txid, e.pos) > (${after.txid}::xid8, ${after.pos}::bigint)`)
    .where(eventScopeSql(p, 'e'))
  if (types?.length) q = q.where('e.type', 'in', types)
  return q
    .orderBy(sql`e.txid`)
    .orderBy('e.pos')
    .limit(limit)
    .execute()
}
