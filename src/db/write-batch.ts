import { type Compilable, CompiledQuery, type Transaction } from 'kysely'
import type { Database } from './database.js'

interface Part {
  name: string
  sql: string
  parameters: readonly unknown[]
  onUniqueViolation?: { constraint: string; error: () => Error }
}

/**
 * Writes whose results nobody reads before the commit, sent to PostgreSQL as ONE statement in which each write
 * is a data-modifying CTE: one round trip instead of one per write, and atomic like any single statement (a
 * failing part fails them all, and the caller's transaction with them). Constraints are checked at the end of
 * the statement, so a part may insert rows that reference another part's rows; a part may also read an earlier
 * part's `RETURNING` columns by its name (the outbox row reads its event's position).
 *
 * Round trips are what a request costs on this service's hot paths (see bench/results), which is why the
 * intake and the idempotency record go through here.
 */
export class WriteBatch {
  readonly #parts: Part[] = []

  /**
   * Adds a write. `name` lets later parts refer to it; `onUniqueViolation` turns a unique violation of the named
   * constraint into the given error (the batch does not know which part failed otherwise).
   */
  add(query: Compilable | CompiledQuery, opts: { name?: string; onUniqueViolation?: Part['onUniqueViolation'] } = {}): this {
    const c = 'compile' in query ? query.compile() : query
    // Renumbering placeholders is only safe in text without literals, which compiled Kysely queries are.
    if (/'|\$(?!\d)/.test(c.sql)) throw new Error('WriteBatch: a part contains a literal; pass values as parameters')
    this.#parts.push({ name: opts.name ?? `w${this.#parts.length}`, sql: c.sql, parameters: c.parameters, onUniqueViolation: opts.onUniqueViolation })
    return this
  }

  get size(): number {
    return this.#parts.length
  }

  /** Sends every write in one statement (nothing when empty). */
  async execute(trx: Transaction<Database>): Promise<void> {
    const parts = this.#parts.splice(0)
    if (!parts.length) return
    let query: CompiledQuery
    if (parts.length === 1) {
      query = CompiledQuery.raw(parts[0]!.sql, [...parts[0]!.parameters])
    } else {
      const parameters: unknown[] = []
      const ctes = parts.map((p) => {
        const offset = parameters.length
        parameters.push(...p.parameters)
        return `"${p.name}" AS (${p.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)})`
      })
      query = CompiledQuery.raw(`WITH ${ctes.join(', ')} SELECT 1`, parameters)
    }
    try {
      await trx.executeQuery(query)
    } catch (err) {
      const e = err as { code?: string; constraint?: string }
      const mapped = e.code === '23505' ? parts.find((p) => p.onUniqueViolation?.constraint === e.constraint) : undefined
      throw mapped ? mapped.onUniqueViolation!.error() : err
    }
  }
}

/** Runs the write now, or adds it to `batch` when there is one. */
export async function writeOrDefer(query: Compilable & { execute(): Promise<unknown> }, batch: WriteBatch | undefined): Promise<void> {
  if (batch) batch.add(query)
  else await query.execute()
}
