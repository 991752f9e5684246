import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Kysely, sql, type Transaction } from 'kysely'
import { LegalCalendar, type LunarYear, type YearArrangement } from '../domain/calendar.js'
import type { Database } from './database.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
/** data/ at the package root, whether running from src/ or from dist/src/. */
const DATA_DIR =
  [path.resolve(HERE, '../../data'), path.resolve(HERE, '../../../data')].find((d) => existsSync(path.join(d, 'holidays.json'))) ??
  path.resolve(HERE, '../../data')

/** The shipped data files: the State Council arrangements and the statutory lunar dates. */
export function loadShippedCalendarData(dir = DATA_DIR): { arrangements: Record<string, YearArrangement>; lunar: Record<string, LunarYear> } {
  const holidays = JSON.parse(readFileSync(path.join(dir, 'holidays.json'), 'utf8')) as { years: Record<string, YearArrangement> }
  const lunar = JSON.parse(readFileSync(path.join(dir, 'statutory-lunar.json'), 'utf8')) as { years: Record<string, LunarYear> }
  return { arrangements: holidays.years, lunar: lunar.years }
}

/**
 * The calendar deadlines are computed with: the shipped arrangements overlaid by operator updates
 * (PUT /v1/calendar/{year}) stored in PostgreSQL. Cached per process and refreshed when the table changes, so an
 * update on one instance reaches the others within `maxAgeMs`, and the updating instance at once.
 */
export class CalendarProvider {
  private cached: { cal: LegalCalendar; stamp: string; at: number } | undefined
  private readonly shipped: ReturnType<typeof loadShippedCalendarData>

  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxAgeMs = 2_000,
    shipped = loadShippedCalendarData(),
  ) {
    this.shipped = shipped
  }

  /**
   * The current calendar. Once loaded it is answered from memory and refreshed in the background when older than
   * `maxAgeMs` (stale-while-revalidate): callers run inside request transactions, and a second pool connection
   * taken there could starve the pool under load. The first call, and the one after a PUT here, read the database.
   */
  async get(): Promise<LegalCalendar> {
    if (!this.cached) return this.refresh()
    if (Date.now() - this.cached.at >= this.maxAgeMs && !this.refreshing) {
      this.refreshing = this.refresh()
        .catch(() => this.cached?.cal)
        .finally(() => {
          this.refreshing = undefined
        })
    }
    return this.cached.cal
  }

  private refreshing: Promise<unknown> | undefined

  private async refresh(): Promise<LegalCalendar> {
    const now = Date.now()
    const stampRow = await sql<{ stamp: string | null }>`SELECT max(updated_at)::text || ':' || count(*)::text AS stamp FROM calendar_years`.execute(this.db)
    const stamp = stampRow.rows[0]?.stamp ?? ''
    if (this.cached && this.cached.stamp === stamp) {
      this.cached.at = now
      return this.cached.cal
    }
    const cal = await this.load()
    this.cached = { cal, stamp, at: now }
    return cal
  }

  /**
   * The calendar as PostgreSQL holds it now, read afresh (never the cache): what a recomputation must use, whichever
   * instance took the PUT.
   */
  async load(db: Kysely<Database> = this.db): Promise<LegalCalendar> {
    const rows = await db.selectFrom('calendar_years').selectAll().execute()
    const arrangements: Record<string, YearArrangement> = { ...this.shipped.arrangements }
    for (const r of rows) arrangements[String(r.year)] = { holidays: r.holidays, workdays: r.workdays }
    return new LegalCalendar({ arrangements, lunar: this.shipped.lunar })
  }

  /**
   * Which years have a published arrangement (shipped or put by an operator) and from which year on deadlines are
   * provisional. Falls back to the shipped years when the database cannot be read (readiness must still answer).
   */
  async coverage(): Promise<{ publishedYears: number[]; provisionalFrom: number }> {
    let years: number[]
    try {
      years = (await this.get()).publishedYears()
    } catch {
      years = Object.keys(this.shipped.arrangements).map(Number)
    }
    years.sort((a, b) => a - b)
    const current = new Date().getUTCFullYear()
    let provisionalFrom = current
    while (years.includes(provisionalFrom)) provisionalFrom++
    return { publishedYears: years, provisionalFrom }
  }

  /**
   * Stores `arr` as the arrangement of `year` and, in the same transaction, (re)starts the year's recomputation of
   * open cases (contract §2): a new arrangement restarts it from the first case; the same arrangement again leaves a
   * finished one finished and an unfinished one where it stands. Returns the recomputation's generation.
   */
  async put(year: number, arr: YearArrangement): Promise<number> {
    const generation = await this.db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('calendar_years').selectAll().where('year', '=', year).forUpdate().executeTakeFirst()
      const same = before !== undefined && sameDays(before.holidays, arr.holidays) && sameDays(before.workdays, arr.workdays)
      await trx
        .insertInto('calendar_years')
        .values({ year, holidays: arr.holidays, workdays: arr.workdays })
        .onConflict((oc) => oc.column('year').doUpdateSet({ holidays: arr.holidays, workdays: arr.workdays, updated_at: sql`now()` }))
        .execute()
      return requestRecomputation(trx, year, !same)
    })
    // Effective at once on this instance: the next deadline computed here reads the new arrangement.
    this.cached = undefined
    await this.refresh()
    return generation
  }
}

/** The same days, whatever their order or repetitions. */
function sameDays(a: readonly string[], b: readonly string[]): boolean {
  const x = [...new Set(a)].sort()
  const y = [...new Set(b)].sort()
  return x.length === y.length && x.every((d, i) => d === y[i])
}

// ---------------------------------------------------------------------------------------------
// Recomputations (table calendar_recomputations, migration 0010)

type Db = Kysely<Database> | Transaction<Database>

export interface RecomputationRow {
  year: number
  generation: number
  status: 'pending' | 'done'
  /** Which kind of open case the walk is at (src/cases/calendar-recompute.ts PHASES), and the last id done there. */
  phase: string
  afterId: string | null
  examined: number
  changed: number
  requestedAt: Date
  updatedAt: Date
  finishedAt: Date | null
}

/** The first phase of every walk. */
export const FIRST_PHASE = 'referred'

interface RawRow {
  year: number
  generation: number
  status: 'pending' | 'done'
  phase: string
  after_id: string | null
  examined: number
  changed: number
  requested_at: Date
  updated_at: Date
  finished_at: Date | null
}

const fromRaw = (r: RawRow): RecomputationRow => ({
  year: r.year,
  generation: r.generation,
  status: r.status,
  phase: r.phase,
  afterId: r.after_id,
  examined: r.examined,
  changed: r.changed,
  requestedAt: r.requested_at,
  updatedAt: r.updated_at,
  finishedAt: r.finished_at,
})

/**
 * Asks for the recomputation of `year`: `restart` (a new arrangement) starts a new generation from the first case;
 * otherwise a missing row is created and an existing one left as it is. Returns the generation to wait for.
 */
export async function requestRecomputation(db: Db, year: number, restart: boolean): Promise<number> {
  const res = restart
    ? await sql<{ generation: number }>`
        INSERT INTO calendar_recomputations (year, generation, status, phase)
        VALUES (${year}, 1, 'pending', ${FIRST_PHASE})
        ON CONFLICT (year) DO UPDATE SET generation = calendar_recomputations.generation + 1, status = 'pending',
          phase = ${FIRST_PHASE}, after_id = NULL, examined = 0, changed = 0, requested_at = now(), updated_at = now(),
          finished_at = NULL
        RETURNING generation`.execute(db)
    : await sql<{ generation: number }>`
        WITH added AS (
          INSERT INTO calendar_recomputations (year, generation, status, phase) VALUES (${year}, 1, 'pending', ${FIRST_PHASE})
          ON CONFLICT (year) DO NOTHING RETURNING generation
        )
        SELECT generation FROM added UNION ALL SELECT generation FROM calendar_recomputations WHERE year = ${year}`.execute(db)
  return (res.rows[0] as { generation: number }).generation
}

export async function getRecomputation(db: Db, year: number): Promise<RecomputationRow | undefined> {
  const res = await sql<RawRow>`SELECT * FROM calendar_recomputations WHERE year = ${year}`.execute(db)
  return res.rows[0] ? fromRaw(res.rows[0]) : undefined
}

/** The years whose recomputation has not finished (a crash or a shutdown stopped it). */
export async function pendingRecomputations(db: Db): Promise<number[]> {
  const res = await sql<{ year: number }>`SELECT year FROM calendar_recomputations WHERE status = 'pending' ORDER BY year`.execute(db)
  return res.rows.map((r) => r.year)
}

/**
 * Records a batch of generation `generation` done: where the walk stands and what it did. False when a newer PUT
 * restarted the walk meanwhile (the batch's work stands; the walk starts again).
 */
export async function recordRecomputationProgress(
  db: Db,
  p: { year: number; generation: number; phase: string; afterId: string | null; examined: number; changed: number; done: boolean },
): Promise<boolean> {
  const res = await sql`
    UPDATE calendar_recomputations
    SET phase = ${p.phase}, after_id = ${p.afterId}, examined = examined + ${p.examined}, changed = changed + ${p.changed},
      status = ${p.done ? 'done' : 'pending'}, updated_at = now(), finished_at = ${p.done ? sql`now()` : null}
    WHERE year = ${p.year} AND generation = ${p.generation}`.execute(db)
  return Number(res.numAffectedRows ?? 0) > 0
}
