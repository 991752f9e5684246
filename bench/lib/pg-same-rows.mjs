/**
 * Baseline `rawSameRows`: the rows ONE intake writes, written through `pg` directly — the referral (its sealed
 * document), its parties' blind-index rows, its `referral.created` event with its chain hash and masked view, the
 * event's outbox row, the access-trail row and the stored idempotent answer (masked view, personal paths) — in one
 * transaction per referral (BEGIN; one prepared statement of data-modifying CTEs; COMMIT), a pool of 10 kept busy by
 * 10 loops, in its own process. The fewest round trips such an intake can take: the limit of intake on this machine.
 *
 * The tables are copies of the service's (`CREATE TABLE … (LIKE public.… INCLUDING ALL)`: the same columns, defaults
 * and indexes) in a schema of their own, so the service's relay does not fan these events out meanwhile.
 *
 * argv: databaseUrl seconds poolSize intakesFile clientId
 * intakesFile: [{ referral (the service's Referral, dates as ISO strings), hashes, fields, paths }] sealed by the parent.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { uuidv7 } from 'uuidv7'
import { chainHash, GENESIS_HASH } from '../../dist/src/domain/event-chain.js'
import { maskedReferralView, referralView } from '../../dist/src/domain/referral.js'

const [url, secondsArg, poolArg, intakesFile, clientId] = process.argv.slice(2)
const seconds = Number(secondsArg)
const poolSize = Number(poolArg)
const templates = JSON.parse(readFileSync(intakesFile, 'utf8'))
const S = 'bench_same_rows'
const TABLES = ['referrals', 'party_index', 'events', 'outbox', 'access_log', 'idempotency_keys']

const pool = new pg.Pool({ connectionString: url, max: poolSize })
pool.on('error', () => undefined)
await pool.query(`CREATE SCHEMA IF NOT EXISTS ${S}`)
for (const t of TABLES) await pool.query(`CREATE TABLE IF NOT EXISTS ${S}.${t} (LIKE public.${t} INCLUDING ALL)`)
await pool.query(`CREATE SEQUENCE IF NOT EXISTS ${S}.events_pos_seq`)
await pool.query(`ALTER TABLE ${S}.events ALTER COLUMN pos SET DEFAULT nextval('${S}.events_pos_seq')`)
process.send({ ready: true })

const TEXT = `WITH r AS (
    INSERT INTO ${S}.referrals (id, version, status, referral_type, court_code, case_number, dispute_type, organization_id, held_by,
                                acceptance_due_on, mediation_due_on, chain_head, doc, created_at, updated_at)
    VALUES ($1, 1, 'referred', $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $11, $11)
  ), pi AS (
    INSERT INTO ${S}.party_index (subject_id, id_hash) SELECT $1, h FROM unnest($12::text[]) AS h ON CONFLICT DO NOTHING
  ), ev AS (
    INSERT INTO ${S}.events (id, type, occurred_at, subject_kind, subject_id, sequence, case_version, actor, data, court_code, organization_id,
                             region_code, prev_hash, hash)
    VALUES ($13, 'referral.created', $11, 'referral', $1, 1, 1, $14, $15, $3, $6, $16, $17, $9)
    RETURNING pos
  ), ob AS (
    INSERT INTO ${S}.outbox (event_pos) SELECT pos FROM ev
  ), al AS (
    INSERT INTO ${S}.access_log (client_id, subject_id, fields, request_id) VALUES ($18, $1, $19, $20)
  ), ik AS (
    INSERT INTO ${S}.idempotency_keys (client_id, key, request_hash, response_status, response_body, response_headers, subject_kind, subject_id,
                                       personal_paths)
    VALUES ($18, $21, $22, 201, $23, $24, '/v1/referrals', $1, $25)
  )
  SELECT 1`

let n = 0
const year = new Date(Date.now() + 8 * 3600_000).getUTCFullYear()
const noDecrypt = () => {
  throw new Error('the stored answer is the masked view')
}

/** One intake's parameters: new ids, 案号 and instant; the event and the stored answer built as the service builds them. */
function params() {
  const t = templates[n % templates.length]
  const seq = n++
  const now = new Date()
  const ref = { ...t.referral, id: uuidv7(), caseNumber: `（${year}）${t.referral.courtCode}民诉前调${9_000_000 + seq}号`, createdAt: now, updatedAt: now }
  const actor = { clientId, role: 'court' }
  const envelope = {
    id: uuidv7(),
    type: 'referral.created',
    occurredAt: now.toISOString(),
    sequence: 1,
    subject: { kind: 'referral', id: ref.id },
    caseVersion: 1,
    actor,
    data: { referral: maskedReferralView(ref) },
  }
  const hash = chainHash(GENESIS_HASH, envelope)
  ref.chainHead = hash
  const stored = JSON.stringify(referralView(ref, false, noDecrypt))
  const key = `same-${process.pid}-${seq}`
  return [
    ref.id,
    ref.referralType,
    ref.courtCode,
    ref.caseNumber,
    ref.disputeType,
    ref.organizationId,
    ref.heldBy,
    ref.doc.deadlines.acceptanceDueOn,
    hash,
    JSON.stringify(ref.doc),
    now,
    t.hashes,
    envelope.id,
    JSON.stringify(actor),
    JSON.stringify(envelope.data),
    t.regionCode,
    GENESIS_HASH,
    clientId,
    t.fields,
    `req-${seq}`,
    key,
    createHash('sha256').update(`POST\n/v1/referrals\n${key}`).digest('hex'),
    stored,
    JSON.stringify({ etag: '"1"', location: `/v1/referrals/${ref.id}` }),
    JSON.stringify(t.paths),
  ]
}

async function loop(end, latencies) {
  while (performance.now() < end) {
    const values = params()
    const t0 = performance.now()
    const c = await pool.connect()
    try {
      await c.query('BEGIN')
      await c.query({ name: 'same_rows', text: TEXT, values })
      await c.query('COMMIT')
    } finally {
      c.release()
    }
    if (latencies) latencies.push(performance.now() - t0)
  }
}

const warm = performance.now() + 1000
await Promise.all(Array.from({ length: poolSize }, () => loop(warm)))
const latencies = []
const start = performance.now()
await Promise.all(Array.from({ length: poolSize }, () => loop(start + seconds * 1000, latencies)))
const elapsed = (performance.now() - start) / 1000
latencies.sort((a, b) => a - b)
const q = (p) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]
await pool.query(`DROP SCHEMA ${S} CASCADE`)
await pool.end()
process.send({ tps: latencies.length / elapsed, transactions: latencies.length, p50Ms: q(0.5), p99Ms: q(0.99) })
