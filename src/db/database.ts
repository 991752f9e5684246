import type { ColumnType, Generated, Insertable, Selectable } from 'kysely'

/** Kysely's view of the schema created by migrations/. Rows never leave src/db. */
export interface Database {
  clients: ClientsTable
  api_keys: ApiKeysTable
  idempotency_keys: IdempotencyKeysTable
  organizations: OrganizationsTable
  referrals: ReferralsTable
  party_index: PartyIndexTable
  events: EventsTable
  outbox: OutboxTable
  calendar_years: CalendarYearsTable
  access_log: AccessLogTable
}

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>
/** `date` columns come back as 'YYYY-MM-DD' strings (the pg type parser is set in connection.ts). */
type DateCol = ColumnType<string, string, string>

export interface ClientsTable {
  id: string
  name: string
  role: 'court' | 'mediation' | 'operator'
  court_codes: string[]
  organization_ids: string[]
  region_codes: string[]
  created_at: Timestamp
}

export interface ApiKeysTable {
  key_id: string
  client_id: string
  key_hash: Buffer
  created_at: Timestamp
  revoked_at: Date | null
}

export interface IdempotencyKeysTable {
  client_id: string
  key: string
  request_hash: string
  response_status: number
  response_body: string
  response_headers: ColumnType<Record<string, string>, string, string>
  created_at: Timestamp
}

export interface OrganizationsTable {
  id: string
  name: string
  kind: string
  region_code: string
  uscc: string | null
  dispute_types: string[]
  full_time_mediators: number
  ministry_roster: boolean
  court_special: string[]
  active: boolean
  version: Generated<number>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface ReferralsTable {
  id: string
  version: number
  status: string
  referral_type: string
  court_code: string
  case_number: string
  dispute_type: string
  organization_id: string
  held_by: string[]
  acceptance_due_on: DateCol | null
  mediation_due_on: DateCol | null
  chain_head: string
  doc: ColumnType<unknown, string, string>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface PartyIndexTable {
  subject_id: string
  id_hash: string
}

export interface EventsTable {
  pos: ColumnType<string, never, never>
  id: string
  txid: ColumnType<string, never, never>
  type: string
  occurred_at: Timestamp
  subject_kind: string
  subject_id: string
  sequence: number
  case_version: number | null
  actor: ColumnType<unknown, string, string>
  data: ColumnType<unknown, string, string>
  court_code: string | null
  organization_id: string | null
  region_code: string | null
  audience: Generated<string>
  prev_hash: string
  hash: string
}

export interface OutboxTable {
  event_pos: string
  created_at: Generated<Date>
}

export interface CalendarYearsTable {
  year: number
  holidays: string[]
  workdays: string[]
  updated_at: Generated<Date>
}

export type ClientRow = Selectable<ClientsTable>
export type OrganizationRow = Selectable<OrganizationsTable>
export type ReferralRow = Selectable<ReferralsTable>
export type EventRow = Selectable<EventsTable>
export type NewEvent = Insertable<EventsTable>

export interface AccessLogTable {
  id: Generated<string>
  at: Generated<Date>
  client_id: string
  subject_id: string
  fields: string[]
  request_id: string
}
