import { type Kysely, sql } from 'kysely'
import type { FieldCipher } from '../security/field-cipher.js'
import { rotateSealedValues } from '../security/rotation.js'
import type { Database } from './database.js'

/** Tables whose jsonb document holds sealed personal data (`{ enc, masked }` values), by primary key. */
export const SEALED_DOCUMENTS: ReadonlyArray<{ table: string; id: string; column: string }> = [
  { table: 'referrals', id: 'id', column: 'doc' },
  { table: 'judicial_confirmations', id: 'id', column: 'doc' },
]

/**
 * Re-encrypts sealed personal data with the current (first) DATA_KEYS key, in small batches while the service runs.
 * Each batch locks its rows briefly (FOR UPDATE), so a concurrent transition either finishes first or waits.
 * Safe to run again: rows already on the current key are left alone.
 */
export async function rotateDocuments(
  db: Kysely<Database>,
  cipher: FieldCipher,
  opts: { batch?: number; onBatch?: (table: string, rotated: number) => void } = {},
): Promise<number> {
  const batch = opts.batch ?? 200
  let total = 0
  for (const t of SEALED_DOCUMENTS) {
    let after: string | null = null
    for (;;) {
      const rotatedInBatch: number = await db.transaction().execute(async (trx) => {
        const rows = await sql<{ id: string; doc: unknown }>`
          SELECT ${sql.ref(t.id)} AS id, ${sql.ref(t.column)} AS doc FROM ${sql.table(t.table)}
          WHERE ${after === null ? sql`true` : sql`${sql.ref(t.id)} > ${after}`}
          ORDER BY ${sql.ref(t.id)} LIMIT ${batch} FOR UPDATE`.execute(trx)
        let n = 0
        for (const r of rows.rows) {
          const { doc, rotated } = rotateSealedValues(r.doc, cipher)
          if (!rotated) continue
          await sql`UPDATE ${sql.table(t.table)} SET ${sql.ref(t.column)} = ${JSON.stringify(doc)}::jsonb WHERE ${sql.ref(t.id)} = ${r.id}`.execute(trx)
          n += rotated
        }
        after = rows.rows.at(-1)?.id ?? null
        return rows.rows.length ? n : -1
      })
      if (rotatedInBatch < 0) break
      total += rotatedInBatch
      opts.onBatch?.(t.table, rotatedInBatch)
    }
  }
  return total
}

/**
 * The data key ids that stored values were encrypted with, from a sample: the oldest and newest `sample` rows of each
 * sealed table, and every subscription secret. Start-up compares them with the configured keys, so a missing key
 * stops the process with its id instead of failing reads later; `npm run rotate-keys` reads every row.
 */
export async function keyIdsInUse(db: Kysely<Database>, sample = 500): Promise<string[]> {
  const docs = SEALED_DOCUMENTS.flatMap((t) =>
    (['ASC', 'DESC'] as const).map(
      (dir) => sql`(SELECT ${sql.ref(t.column)}::text AS v FROM ${sql.table(t.table)} ORDER BY ${sql.ref(t.id)} ${sql.raw(dir)} LIMIT ${sample})`,
    ),
  )
  const secrets = sql`(SELECT secret_enc AS v FROM subscriptions UNION ALL SELECT previous_secret_enc FROM subscriptions WHERE previous_secret_enc IS NOT NULL)`
  const r = await sql<{ key_id: string }>`
    SELECT DISTINCT m[1] AS key_id
    FROM (${sql.join([...docs, secrets], sql` UNION ALL `)}) s, regexp_matches(s.v, 'enc:v1:([A-Za-z0-9_-]{1,32}):', 'g') AS m`.execute(db)
  return r.rows.map((row) => row.key_id).sort()
}
