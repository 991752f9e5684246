import { type Kysely, sql } from 'kysely'

// Frozen: migrations never import application code.

/*
 * Stored answers without personal data (contract §8; reliability rows 24 and 28). An answer that shows a case is
 * stored with the case's personal data masked, beside a reference to the case (the case resource, its id) and the
 * paths of the strings held masked; a replay shows them again from the case itself, as the caller may see them then.
 *
 * Rows written before hold the full view in clear. They are rewritten here the way the service now stores them: the
 * party fields take the masked forms kept beside their ciphertexts in the case's doc, the free texts of a judicial
 * confirmation are masked as its views mask them (a frozen copy of that rule below), and the paths are where the
 * old body and the rewritten one differ. Their replays keep working, byte for byte for an unchanged standing. A row
 * showing parties whose case cannot be found (none should exist) cannot be rewritten faithfully and is deleted: a
 * retry with its key then runs afresh.
 */

type Json = unknown
type JsonPath = Array<string | number>

interface Sealed {
  enc: string
  masked: string
}

interface StoredParty {
  idNumber?: Sealed
  phone?: Sealed
  address?: Sealed
  agents?: Array<{ idNumber?: Sealed; phone?: Sealed }>
}

const RESOURCES = [
  { table: 'referrals', kind: '/v1/referrals', freeText: false },
  { table: 'judicial_confirmations', kind: '/v1/judicial-confirmations', freeText: true },
] as const

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

// The masking of free text in judicial confirmation views as of this migration: full ID numbers and mainland mobiles
// not part of a longer run of digits, keeping the first 3 and the last 4 code points.
const FREE_TEXT_PERSONAL_DATA = /(?<!\d)(?:\d{17}[\dXx]|1\d{10})(?!\d)/g
const maskMiddle = (v: string): string => {
  const cps = Array.from(v)
  return cps.length <= 7 ? '*'.repeat(cps.length) : cps.slice(0, 3).join('') + '*'.repeat(cps.length - 7) + cps.slice(-4).join('')
}
const maskFreeText = (text: string): string => text.replace(FREE_TEXT_PERSONAL_DATA, maskMiddle)

const isRecord = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v)

function differingStrings(a: Json, b: Json, at: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  if (typeof a === 'string' && typeof b === 'string') {
    if (a !== b) out.push(at)
  } else if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) differingStrings(a[i], b[i], [...at, i], out)
  } else if (isRecord(a) && isRecord(b)) {
    for (const k of Object.keys(a)) if (Object.hasOwn(b, k)) differingStrings(a[k], b[k], [...at, k], out)
  }
  return out
}

/** Sets `field` of `o` to the masked form of `sealed` when both are there. */
function maskField(o: Json, field: string, sealed: Sealed | undefined): void {
  if (isRecord(o) && typeof o[field] === 'string' && typeof sealed?.masked === 'string') o[field] = sealed.masked
}

/** The stored answer `body` (parsed) with the case's personal data masked. */
function masked(body: Record<string, Json>, parties: StoredParty[], freeText: boolean): Record<string, Json> {
  const copy = JSON.parse(JSON.stringify(body)) as Record<string, Json>
  const shown = Array.isArray(copy.parties) ? copy.parties : []
  shown.forEach((p, i) => {
    const stored = parties[i]
    if (!stored) return
    for (const f of ['idNumber', 'phone', 'address'] as const) maskField(p, f, stored[f])
    const agents = isRecord(p) && Array.isArray(p.agents) ? p.agents : []
    agents.forEach((a, j) => {
      for (const f of ['idNumber', 'phone'] as const) maskField(a, f, stored.agents?.[j]?.[f])
    })
  })
  if (freeText) {
    const text = (o: Json, field: string) => {
      if (isRecord(o) && typeof o[field] === 'string') o[field] = maskFreeText(o[field])
    }
    text(copy, 'lateReason')
    text(copy.agreement, 'terms')
    for (const decision of ['notAccepted', 'withdrawal', 'ruling']) text(copy[decision], 'reason')
  }
  return copy
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE idempotency_keys
      ADD COLUMN subject_kind text,
      ADD COLUMN subject_id uuid,
      ADD COLUMN personal_paths jsonb,
      ADD CONSTRAINT idempotency_keys_subject_chk CHECK ((subject_kind IS NULL) = (subject_id IS NULL) AND (subject_id IS NULL) = (personal_paths IS NULL));
  `.execute(db)

  let after = { clientId: '00000000-0000-0000-0000-000000000000', key: '' }
  for (;;) {
    const { rows } = await sql<{ client_id: string; key: string; response_body: string }>`
      SELECT client_id, key, response_body FROM idempotency_keys
      WHERE (client_id, key) > (${after.clientId}::uuid, ${after.key}) AND response_body LIKE '%"parties":[%'
      ORDER BY client_id, key
      LIMIT 500`.execute(db)
    if (!rows.length) break
    const last = rows[rows.length - 1]!
    after = { clientId: last.client_id, key: last.key }

    const answers = rows.flatMap((r) => {
      try {
        const body = JSON.parse(r.response_body) as Json
        return isRecord(body) && Array.isArray(body.parties) ? [{ row: r, body, id: typeof body.id === 'string' && UUID.test(body.id) ? body.id : null }] : []
      } catch {
        return []
      }
    })
    const ids = [...new Set(answers.map((a) => a.id).filter((id): id is string => id !== null))]
    const cases = new Map<string, { resource: (typeof RESOURCES)[number]; parties: StoredParty[] }>()
    for (const resource of RESOURCES) {
      if (!ids.length) break
      const found = await sql<{ id: string; parties: StoredParty[] | null }>`
        SELECT id, doc->'parties' AS parties FROM ${sql.table(resource.table)} WHERE id = ANY(${ids}::uuid[])`.execute(db)
      for (const c of found.rows) cases.set(c.id, { resource, parties: Array.isArray(c.parties) ? c.parties : [] })
    }

    for (const { row, body, id } of answers) {
      const c = id ? cases.get(id) : undefined
      if (!c) {
        await sql`DELETE FROM idempotency_keys WHERE client_id = ${row.client_id} AND key = ${row.key}`.execute(db)
        continue
      }
      const m = masked(body, c.parties, c.resource.freeText)
      await sql`
        UPDATE idempotency_keys
        SET response_body = ${JSON.stringify(m)}, subject_kind = ${c.resource.kind}, subject_id = ${id},
            personal_paths = ${JSON.stringify(differingStrings(body, m))}::jsonb
        WHERE client_id = ${row.client_id} AND key = ${row.key}`.execute(db)
    }
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // The stored answers stay masked: their personal data is not put back in clear.
  await sql`
    ALTER TABLE idempotency_keys
      DROP CONSTRAINT idempotency_keys_subject_chk,
      DROP COLUMN personal_paths,
      DROP COLUMN subject_id,
      DROP COLUMN subject_kind;
  `.execute(db)
}
