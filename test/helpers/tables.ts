import { readFileSync } from 'node:fs'
import type { Test } from 'tap'
import { LegalCalendar, type LunarYear, type YearArrangement } from '../../src/domain/calendar.js'
import { AppError } from '../../src/domain/errors.js'

/** The machinery of the domain table tests: one row an input and either fields of the result or the exact refusal. */

function readYears<T>(file: string): Record<string, T> {
  return (JSON.parse(readFileSync(new URL(`../../data/${file}`, import.meta.url), 'utf8')) as { years: Record<string, T> }).years
}

/** The calendar the service ships (data/). */
export const shippedCalendar = () =>
  new LegalCalendar({ arrangements: readYears<YearArrangement>('holidays.json'), lunar: readYears<LunarYear>('statutory-lunar.json') })

/** The refusal as the caller sees it: status, code, `path code` of each field error, and the extra members. */
export interface Refusal {
  status: number
  code: string
  errors?: string[]
  extra?: Record<string, unknown>
}

export function refusal(run: () => unknown): Refusal | null | { unexpected: string } {
  try {
    run()
  } catch (e) {
    if (!(e instanceof AppError)) return { unexpected: String(e) }
    return {
      status: e.status,
      code: e.code,
      ...(e.errors ? { errors: e.errors.map((x) => `${x.path} ${x.code}`) } : {}),
      ...(e.extra ? { extra: e.extra } : {}),
    }
  }
  return null
}

/** The values at dotted paths of `value` (`doc.deadlines`), keyed by path. */
export function pick(value: unknown, paths: string[]): Record<string, unknown> {
  const get = (path: string) =>
    path.split('.').reduce<unknown>((o, k) => (o === null || o === undefined ? undefined : (o as Record<string, unknown>)[k]), value)
  return Object.fromEntries(paths.map((p) => [p, get(p)]))
}

/** A row either expects fields of the result (`want`, by dotted path) or a refusal (`err`; null = must not throw). */
export interface Row {
  name: string
  want?: Record<string, unknown>
  err?: Refusal | null
}

export function verify(t: Test, row: Row, run: () => unknown): void {
  if (row.err !== undefined) {
    t.strictSame(refusal(run), row.err, row.name)
    return
  }
  if (!row.want || Object.keys(row.want).length === 0) throw new Error(`row ${row.name} checks nothing`)
  let got: unknown
  try {
    got = run()
  } catch (e) {
    t.fail(`${row.name}: threw ${String(e)}`)
    return
  }
  t.strictSame(pick(got, Object.keys(row.want)), row.want, row.name)
}

export const invalid = (...errors: string[]): Refusal => ({ status: 400, code: 'validation_failed', errors })
export const rule = (code: string, extra?: Record<string, unknown>): Refusal => ({ status: 422, code, ...(extra ? { extra } : {}) })
export const illegal = (currentStatus: string): Refusal => ({ status: 409, code: 'illegal_transition', extra: { currentStatus } })

/** Frozen fixtures: an action that mutated its input instead of returning a new case would throw. */
export function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o)
    for (const v of Object.values(o)) deepFreeze(v)
  }
  return o
}
