import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Kysely, sql } from 'kysely'
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
    const rows = await this.db.selectFrom('calendar_years').selectAll().execute()
    const arrangements: Record<string, YearArrangement> = { ...this.shipped.arrangements }
    for (const r of rows) arrangements[String(r.year)] = { holidays: r.holidays, workdays: r.workdays }
    const cal = new LegalCalendar({ arrangements, lunar: this.shipped.lunar })
    this.cached = { cal, stamp, at: now }
    return cal
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

  async put(year: number, arr: YearArrangement): Promise<void> {
    await this.db
      .insertInto('calendar_years')
      .values({ year, holidays: arr.holidays, workdays: arr.workdays })
      .onConflict((oc) => oc.column('year').doUpdateSet({ holidays: arr.holidays, workdays: arr.workdays, updated_at: sql`now()` }))
      .execute()
    // Effective at once on this instance: the next deadline computed here reads the new arrangement.
    this.cached = undefined
    await this.refresh()
  }
}
