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
  subscriptions: SubscriptionsTable
  deliveries: DeliveriesTable
  delivery_attempts: DeliveryAttemptsTable
  recovery_jobs: RecoveryJobsTable
  judicial_confirmations: JudicialConfirmationsTable
  materials: MaterialsTable
  material_chunks: MaterialChunksTable
  material_links: MaterialLinksTable
  warnings: WarningsTable
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
  /** Written at most once a minute per key, asynchronously (src/http/key-cache.ts). */
  last_used_at: Date | null
}

export interface IdempotencyKeysTable {
  client_id: string
  key: string
  request_hash: string
  response_status: number
  response_body: string
  response_headers: ColumnType<Record<string, string>, string, string>
  /** The case resource a stored case answer shows (its collection path), with `subject_id` and `personal_paths`; else null. */
  subject_kind: string | null
  subject_id: string | null
  /** The paths of the strings `response_body` holds masked (JSON array of paths). */
  personal_paths: ColumnType<Array<Array<string | number>> | null, string | null, string | null>
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

export interface JudicialConfirmationsTable {
  id: string
  version: number
  status: string
  referral_id: string | null
  court_code: string
  organization_id: string
  subject: string
  late: boolean
  applied_at: Timestamp
  case_number: string | null
  review_due_on: DateCol | null
  agreement_sha256: string
  chain_head: string
  doc: ColumnType<unknown, string, string>
  created_at: Timestamp
  updated_at: Timestamp
}

export type JudicialConfirmationRow = Selectable<JudicialConfirmationsTable>

export interface SubscriptionsTable {
  id: string
  client_id: string
  url: string
  event_types: string[]
  description: string | null
  allow_private_network: boolean
  signature_algorithm: 'hmac-sha256' | 'hmac-sm3'
  secret_enc: string
  previous_secret_enc: string | null
  previous_secret_expires_at: Date | null
  enabled: Generated<boolean>
  disabled_reason: string | null
  disabled_at: Date | null
  created_at: Timestamp
  updated_at: Timestamp
  deleted_at: Date | null
}

export interface DeliveriesTable {
  id: string
  subscription_id: string
  event_id: string
  /** bigint: pg returns it as a string */
  event_pos: string
  event_type: string
  subject_kind: string
  subject_id: string
  sequence: number
  status: 'pending' | 'delivered' | 'dead'
  attempts: Generated<number>
  next_attempt_at: Timestamp
  lease_until: Date | null
  first_attempt_at: Date | null
  last_attempt_at: Date | null
  last_status: number | null
  last_error: string | null
  created_at: Timestamp
  delivered_at: Date | null
  dead_at: Date | null
}

export interface DeliveryAttemptsTable {
  id: Generated<string>
  delivery_id: string
  attempted_at: Date
  http_status: number | null
  latency_ms: number
  response_body: string | null
  error: string | null
  outcome: string
}

export interface RecoveryJobsTable {
  id: string
  subscription_id: string
  since: Date
  until: Date
  status: 'queued' | 'done'
  requeued: number | null
  created_at: Timestamp
  finished_at: Date | null
}

export type SubscriptionRow = Selectable<SubscriptionsTable>
export type DeliveryRow = Selectable<DeliveriesTable>
export type DeliveryAttemptRow = Selectable<DeliveryAttemptsTable>

export interface MaterialsTable {
  id: string
  client_id: string
  client_role: string
  content_type: string
  title: string
  /** bigint: pg returns it as a string. */
  size_bytes: ColumnType<string, number | string | undefined, number | string>
  sha256: string | null
  chunk_size: number
  status: 'uploading' | 'complete'
  created_at: Timestamp
  completed_at: Date | null
}

export interface MaterialChunksTable {
  material_id: string
  seq: number
  data: Buffer
}

export interface MaterialLinksTable {
  material_id: string
  subject_kind: string
  subject_id: string
  linked_at: Generated<Date>
}

export interface WarningsTable {
  id: string
  level: string
  region_code: string
  dispute_type: string
  summary: string
  involved_persons: number
  referral_id: string | null
  raised_by_client: string
  raised_by_role: 'court' | 'mediation'
  raised_by_name: string
  chain_head: string
  created_at: Timestamp
  status: Generated<'raised' | 'acknowledged' | 'closed'>
  version: Generated<number>
  updated_at: Timestamp
  ack_due_at: Timestamp
  overdue_at: Timestamp | null
  acknowledged_at: Timestamp | null
  acknowledged_by: ColumnType<WarningActorJson | null, string | null, string | null>
  acknowledgement_note: string | null
  follow_ups: ColumnType<WarningFollowUpJson[], string | undefined, string>
  closed_at: Timestamp | null
  closed_by: ColumnType<WarningActorJson | null, string | null, string | null>
  closure_report: string | null
}

/** Who acted on a warning, as stored (jsonb). */
export interface WarningActorJson {
  clientId: string
  role: 'court' | 'mediation'
}

/** One follow-up report (续报) as stored (jsonb; `at` an RFC 3339 string). */
export interface WarningFollowUpJson {
  at: string
  by: WarningActorJson
  report: string
}

export type MaterialRow = Selectable<MaterialsTable>
export type WarningRow = Selectable<WarningsTable>
