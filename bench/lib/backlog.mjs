/**
 * The drain phase's backlog: referrals and their `referral.created` events written straight into PostgreSQL,
 * row for row what POST /v1/referrals writes (sealed parties, legal-calendar deadline, masked view in the event,
 * hash chain, outbox row, party blind indexes), then one wake-up on the service's outbox channel so its relay
 * fans them out (its poll would, within 2 s).
 * Seeding them this way takes seconds instead of minutes at the API's intake rate; the deliveries themselves are
 * still created by the service's relay and re-opened by its recovery.
 */
import pg from 'pg'
import { uuidv7 } from 'uuidv7'
import { acceptanceDueOn, LegalCalendar, shanghaiDate } from '../../dist/src/domain/calendar.js'
import { loadShippedCalendarData } from '../../dist/src/db/calendar-repository.js'
import { Redis } from 'ioredis'
import { outboxChannel } from '../../dist/src/delivery/outbox-signal.js'
import { chainHash, GENESIS_HASH } from '../../dist/src/domain/event-chain.js'
import { referralFactory } from './bodies.mjs'
import { referralRow } from './history.mjs'
import { benchCipher, intakeDoc, maskedView } from './shape.mjs'

const REFERRAL_COLS =
  'id, version, status, referral_type, court_code, case_number, dispute_type, organization_id, held_by, acceptance_due_on, mediation_due_on, chain_head, doc, created_at, updated_at'
const EVENT_COLS =
  'id, type, occurred_at, subject_kind, subject_id, sequence, case_version, actor, data, court_code, organization_id, region_code, audience, prev_hash, hash'

/** Writes `count` new referrals of `court` (a client row) designated to `organizations` ({id, regionCode}). */
export async function seedCreatedReferrals(databaseUrl, { count, court, organizations, firstSeq, batch = 1000, redisUrl, queuePrefix }) {
  const cal = new LegalCalendar(loadShippedCalendarData())
  const cipher = benchCipher()
  const factory = referralFactory({ seed: 99, organizationIds: organizations.map((o) => o.id), firstSeq })
  const regionOf = new Map(organizations.map((o) => [o.id, o.regionCode]))
  const actor = { clientId: court.id, role: 'court' }
  const c = new pg.Client({ connectionString: databaseUrl, application_name: 'zdz-bench-backlog' })
  await c.connect()
  try {
    for (let done = 0; done < count;) {
      const n = Math.min(batch, count - done)
      const referrals = []
      const events = []
      const parties = []
      for (let i = 0; i < n; i++) {
        const body = factory.next()
        const now = new Date()
        const due = acceptanceDueOn(cal, shanghaiDate(now))
        const { doc, hashes } = intakeDoc(cipher, body, { acceptanceDueOn: due.date, mediationDueOn: null, provisional: due.provisional })
        const org = body.designation.organizationId
        const ref = {
          id: uuidv7(),
          version: 1,
          status: 'referred',
          referralType: body.referralType,
          courtCode: body.courtCode,
          caseNumber: body.caseNumber,
          disputeType: body.disputeType,
          organizationId: org,
          heldBy: [org],
          chainHead: GENESIS_HASH,
          doc,
          createdAt: now,
          updatedAt: now,
        }
        const envelope = {
          id: uuidv7(),
          type: 'referral.created',
          occurredAt: now.toISOString(),
          sequence: 1,
          subject: { kind: 'referral', id: ref.id },
          caseVersion: 1,
          actor,
          data: { referral: maskedView(ref) },
        }
        const hash = chainHash(GENESIS_HASH, envelope)
        ref.chainHead = hash
        referrals.push(referralRow(ref))
        events.push({
          id: envelope.id,
          type: envelope.type,
          occurred_at: envelope.occurredAt,
          subject_kind: 'referral',
          subject_id: ref.id,
          sequence: 1,
          case_version: 1,
          actor,
          data: envelope.data,
          court_code: ref.courtCode,
          organization_id: org,
          region_code: regionOf.get(org) ?? null,
          audience: 'case',
          prev_hash: GENESIS_HASH,
          hash,
        })
        for (const h of new Set(hashes)) parties.push({ subject_id: ref.id, id_hash: h })
      }
      await c.query('BEGIN')
      await c.query(`INSERT INTO referrals (${REFERRAL_COLS}) SELECT ${REFERRAL_COLS} FROM json_populate_recordset(null::referrals, $1::json)`, [
        JSON.stringify(referrals),
      ])
      await c.query(
        `WITH ev AS (INSERT INTO events (${EVENT_COLS}) SELECT ${EVENT_COLS} FROM json_populate_recordset(null::events, $1::json) RETURNING pos)
         INSERT INTO outbox (event_pos) SELECT pos FROM ev`,
        [JSON.stringify(events)],
      )
      await c.query(
        'INSERT INTO party_index (subject_id, id_hash) SELECT subject_id, id_hash FROM json_populate_recordset(null::party_index, $1::json) ON CONFLICT DO NOTHING',
        [JSON.stringify(parties)],
      )
      await c.query('COMMIT')
      done += n
    }
  } finally {
    await c.end()
  }
  if (redisUrl && queuePrefix) {
    const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
    try {
      await r.publish(outboxChannel(queuePrefix), '')
    } finally {
      r.disconnect()
    }
  }
}
