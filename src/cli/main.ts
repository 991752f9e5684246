import { readFileSync } from 'node:fs'
import { Command, CommanderError, InvalidArgumentError } from 'commander'
import { ApiClient, ApiError, UsageError } from './api.js'
import { record, table } from './table.js'

/**
 * `npx zdz <command>` (contract §7): operator tasks over the service's public API, with the operator key in
 * ZDZ_OPERATOR_KEY and the service at ZDZ_URL. Human-readable tables by default, `--json` for scripts. Exit codes:
 * 0 success, 1 the service answered an error (its problem `code` is printed) or could not be reached, 2 a usage
 * error (commander's own included).
 */

export interface CliIo {
  argv: string[]
  env: Record<string, string | undefined>
  stdout: (s: string) => void
  stderr: (s: string) => void
}

export const EXIT_OK = 0
export const EXIT_API = 1
export const EXIT_USAGE = 2

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

interface ClientView {
  id: string
  name: string
  role: string
  courtCodes: string[]
  organizationIds: string[]
  regionCodes: string[]
  createdAt: string
  keys?: Array<{ keyId: string; createdAt: string; lastUsedAt: string | null; revokedAt: string | null }>
  keyId?: string
  apiKey?: string | null
}
interface SubscriptionView {
  id: string
  clientId: string
  url: string
  eventTypes: string[]
  enabled: boolean
  disabledReason: string | null
  createdAt: string
  secret?: string
}
interface DeliveryView {
  id: string
  subscriptionId: string
  eventId: string
  eventType: string
  status: string
  attempts: number
  lastStatus: number | null
  lastError: string | null
  deadAt: string | null
  nextAttemptAt: string | null
}
interface SyncItem {
  subscriptionId: string
  pending: number
  oldestPendingAgeSeconds: number | null
  dead: number
  lastDeliveredAt: string | null
}
interface CalendarView {
  year: number
  holidays: string[]
  workdays: string[]
  provisional: boolean
}
interface CaseView {
  id: string
  status: string
  version?: number
  caseNumber?: string | null
  courtCode?: string
  organizationId?: string | null
  disputeType?: string
  createdAt?: string
  updatedAt?: string
  [k: string]: unknown
}
interface EventView {
  sequence: number
  type: string
  occurredAt: string
  actor?: unknown
}
interface Integrity {
  valid: boolean
  length?: number
  head?: string
  brokenAtSequence?: number
}

const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

const positiveInt = (v: string): string => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('not a positive integer')
  return v
}

const year = (v: string): string => {
  if (!/^\d{4}$/.test(v)) throw new InvalidArgumentError('not a year (YYYY)')
  return v
}

const instant = (v: string): string => {
  if (Number.isNaN(Date.parse(v)) || !/[zZ]|[+-]\d\d:\d\d$/.test(v))
    throw new InvalidArgumentError('not an RFC 3339 time with offset, e.g. 2026-03-01T00:00:00+08:00')
  return v
}

const keyState = (k: { revokedAt: string | null }) => (k.revokedAt ? 'revoked' : 'live')

/** Runs one command; resolves with the exit code (never calls process.exit). */
export async function run(io: CliIo): Promise<number> {
  let code = EXIT_OK
  const program = new Command('zdz')
  program
    .description('总对总 connector operator CLI: talks to a running service (ZDZ_URL) with an operator key (ZDZ_OPERATOR_KEY)')
    .option('--json', 'print JSON (for scripts) instead of tables')
    .option('--server <url>', 'the service (default: $ZDZ_URL, else http://127.0.0.1:3000)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run zdz --help for usage)')
    .addHelpText('after', '\nExit codes: 0 success, 1 the service answered an error (its code is printed), 2 usage error.')

  const globals = () => program.opts<{ json?: boolean; server?: string }>()
  const api = (): ApiClient => {
    const key = io.env.ZDZ_OPERATOR_KEY
    if (!key) throw new UsageError('ZDZ_OPERATOR_KEY is not set: export an operator API key (OPERATOR_API_KEY or one created for an operator client)')
    const url = globals().server ?? io.env.ZDZ_URL ?? 'http://127.0.0.1:3000'
    try {
      new URL(url)
    } catch {
      throw new UsageError(`ZDZ_URL is not a URL: ${url}`)
    }
    return new ApiClient(url, key)
  }
  /** JSON for scripts, else the human rendering. */
  const out = (value: unknown, human: () => string) => io.stdout(globals().json ? JSON.stringify(value, null, 2) + '\n' : human())

  // clients
  const clients = program.command('clients').description('clients (callers) and their API keys')
  clients
    .command('list')
    .description('list clients with their keys (never a key itself)')
    .option('--role <role>', 'court | mediation | operator')
    .action(async (o: { role?: string }) => {
      const items = await api().all<ClientView>('/v1/clients', { role: o.role })
      out(items, () =>
        table(
          ['ID', 'NAME', 'ROLE', 'SCOPE', 'KEYS'],
          items.map((c) => [
            c.id,
            c.name,
            c.role,
            [...c.courtCodes, ...c.organizationIds, ...c.regionCodes],
            (c.keys ?? []).map((k) => `${k.keyId}(${keyState(k)})`),
          ]),
        ),
      )
    })
  clients
    .command('create')
    .description('create a client and its first API key (shown once)')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--role <role>', 'court | mediation | operator')
    .option('--court-codes <codes>', 'comma-separated court codes (court clients)', list)
    .option('--organization-ids <ids>', 'comma-separated organization ids (mediation clients)', list)
    .option('--region-codes <codes>', 'comma-separated region codes (mediation platforms)', list)
    .action(async (o: { name: string; role: string; courtCodes?: string[]; organizationIds?: string[]; regionCodes?: string[] }) => {
      const c = await api().call<ClientView>('POST', '/v1/clients', {
        name: o.name,
        role: o.role,
        ...(o.courtCodes ? { courtCodes: o.courtCodes } : {}),
        ...(o.organizationIds ? { organizationIds: o.organizationIds } : {}),
        ...(o.regionCodes ? { regionCodes: o.regionCodes } : {}),
      })
      out(
        c,
        () =>
          record([
            ['id', c.id],
            ['name', c.name],
            ['role', c.role],
            ['keyId', c.keyId],
            ['apiKey', c.apiKey],
          ]) + 'The API key is shown once: hand it over now.\n',
      )
    })
  clients
    .command('issue-key')
    .description('issue a further API key for a client (rotation; shown once)')
    .argument('<clientId>')
    .action(async (clientId: string) => {
      const k = await api().call<{ keyId: string; apiKey: string }>('POST', `/v1/clients/${encodeURIComponent(clientId)}/keys`)
      out(
        k,
        () =>
          record([
            ['keyId', k.keyId],
            ['apiKey', k.apiKey],
          ]) + 'The API key is shown once. Revoke the old key once the client uses this one.\n',
      )
    })
  clients
    .command('revoke-key')
    .description('revoke a key at once')
    .argument('<clientId>')
    .argument('<keyId>')
    .action(async (clientId: string, keyId: string) => {
      await api().call('DELETE', `/v1/clients/${encodeURIComponent(clientId)}/keys/${encodeURIComponent(keyId)}`)
      out({ clientId, keyId, revoked: true }, () => `revoked key ${keyId} of client ${clientId}\n`)
    })

  // subscriptions
  const subscriptions = program.command('subscriptions').description('webhook subscriptions')
  subscriptions
    .command('list')
    .description('list subscriptions')
    .option('--client <clientId>', 'only those of this client')
    .action(async (o: { client?: string }) => {
      const items = await api().all<SubscriptionView>('/v1/subscriptions', { clientId: o.client })
      out(items, () =>
        table(
          ['ID', 'CLIENT', 'URL', 'EVENTS', 'STATE'],
          items.map((s) => [s.id, s.clientId, s.url, s.eventTypes, s.enabled ? 'enabled' : `disabled (${s.disabledReason ?? '-'})`]),
        ),
      )
    })
  subscriptions
    .command('create')
    .description('create a subscription for a client (its signing secret is shown once)')
    .requiredOption('--client <clientId>', 'the receiving client (its read scope decides which events are sent)')
    .requiredOption('--url <url>', 'the https endpoint')
    .option('--events <types>', 'comma-separated event types, or * for all', list, ['*'])
    .option('--description <text>')
    .option('--allow-private-network', 'allow a private-network address (operator only)')
    .action(async (o: { client: string; url: string; events: string[]; description?: string; allowPrivateNetwork?: boolean }) => {
      const s = await api().call<SubscriptionView>('POST', '/v1/subscriptions', {
        clientId: o.client,
        url: o.url,
        eventTypes: o.events,
        ...(o.description ? { description: o.description } : {}),
        ...(o.allowPrivateNetwork ? { allowPrivateNetwork: true } : {}),
      })
      out(
        s,
        () =>
          record([
            ['id', s.id],
            ['client', s.clientId],
            ['url', s.url],
            ['events', s.eventTypes],
            ['secret', s.secret],
          ]) + 'The signing secret is shown once: hand it to the receiver now.\n',
      )
    })

  // deliveries
  const deliveries = program.command('deliveries').description('webhook deliveries: dead ones, retry, recovery')
  deliveries
    .command('dead')
    .description('list dead deliveries (the receiver refused them or the retry window ran out)')
    .option('--subscription <id>', 'only this subscription')
    .option('--limit <n>', 'at most this many', positiveInt, '100')
    .action(async (o: { subscription?: string; limit: string }) => {
      const page = await api().call<{ items: DeliveryView[]; nextCursor: string | null }>(
        'GET',
        `/v1/deliveries?${new URLSearchParams({ status: 'dead', limit: String(Math.min(Number(o.limit), 100)), ...(o.subscription ? { subscriptionId: o.subscription } : {}) })}`,
      )
      out(
        page,
        () =>
          table(
            ['ID', 'SUBSCRIPTION', 'EVENT TYPE', 'ATTEMPTS', 'LAST STATUS', 'LAST ERROR', 'DEAD AT'],
            page.items.map((d) => [d.id, d.subscriptionId, d.eventType, d.attempts, d.lastStatus, d.lastError, d.deadAt]),
          ) + (page.nextCursor ? '(more: narrow with --subscription or fix and retry these first)\n' : ''),
      )
    })
  deliveries
    .command('retry')
    .description('send dead (or pending) deliveries again now')
    .argument('<deliveryId...>')
    .action(async (ids: string[]) => {
      const client = api()
      const done: DeliveryView[] = []
      for (const id of ids) done.push(await client.call<DeliveryView>('POST', `/v1/deliveries/${encodeURIComponent(id)}/retry`))
      out(done, () =>
        table(
          ['ID', 'STATUS', 'NEXT ATTEMPT'],
          done.map((d) => [d.id, d.status, d.nextAttemptAt]),
        ),
      )
    })
  deliveries
    .command('recover')
    .description("re-send a subscription's dead deliveries of a time window (e.g. after the receiver was down)")
    .argument('<subscriptionId>')
    .requiredOption('--since <time>', 'RFC 3339 with offset: events created from then', instant)
    .option('--until <time>', 'RFC 3339 with offset (default: now)', instant)
    .action(async (subscriptionId: string, o: { since: string; until?: string }) => {
      const job = await api().call<{ jobId: string; status: string; requeued: number | null; since: string; until: string }>(
        'POST',
        `/v1/subscriptions/${encodeURIComponent(subscriptionId)}/recovery`,
        { since: o.since, ...(o.until ? { until: o.until } : {}) },
      )
      out(job, () =>
        record([
          ['jobId', job.jobId],
          ['status', job.status],
          ['since', job.since],
          ['until', job.until],
          ['requeued', job.requeued],
        ]),
      )
    })

  // sync
  program
    .command('sync')
    .description('sync health')
    .command('status')
    .description('per subscription: pending, dead, oldest pending age, last delivery')
    .action(async () => {
      const s = await api().call<{ items: SyncItem[] }>('GET', '/v1/sync/status')
      out(s, () =>
        table(
          ['SUBSCRIPTION', 'PENDING', 'OLDEST PENDING (s)', 'DEAD', 'LAST DELIVERED'],
          s.items.map((i) => [i.subscriptionId, i.pending, i.oldestPendingAgeSeconds, i.dead, i.lastDeliveredAt]),
        ),
      )
    })

  // calendar
  const calendar = program.command('calendar').description('the holiday calendar every deadline uses')
  calendar
    .command('show')
    .argument('<year>', 'YYYY', year)
    .description("a year's days off and make-up working days")
    .action(async (y: string) => {
      const c = await api().call<CalendarView>('GET', `/v1/calendar/${y}`)
      out(c, () =>
        record([
          ['year', c.year],
          ['state', c.provisional ? 'provisional (statutory days only; publish the arrangement)' : 'published'],
          ['holidays', c.holidays],
          ['workdays', c.workdays],
        ]),
      )
    })
  calendar
    .command('publish')
    .argument('<year>', 'YYYY', year)
    .argument('<file>', 'JSON file: { "holidays": ["YYYY-MM-DD"...], "workdays": [...] }')
    .description("publish a year's arrangement (effective at once for deadlines computed afterwards)")
    .action(async (y: string, file: string) => {
      let body: unknown
      try {
        body = JSON.parse(readFileSync(file, 'utf8'))
      } catch (err) {
        throw new UsageError(`cannot read ${file} as JSON: ${(err as Error).message}`)
      }
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new UsageError(`${file} must hold an object { holidays, workdays }`)
      const { holidays, workdays } = body as { holidays?: unknown; workdays?: unknown }
      const c = await api().call<CalendarView>('PUT', `/v1/calendar/${y}`, { holidays, workdays })
      out(c, () => `published ${c.year}: ${c.holidays.length} days off, ${c.workdays.length} make-up working days\n`)
    })

  // case
  const caseCmd = program.command('case').description('cases (referrals and judicial confirmations)')
  caseCmd
    .command('show')
    .argument('<idOr案号>', 'a case id, or a referral 案号 (case number)')
    .description('a case (masked view) and its history')
    .action(async (ref: string) => {
      const client = api()
      const { kind, value } = await findCase(client, ref)
      const events = await client.all<EventView>(`/v1/${kind}/${value.id}/events`)
      out({ kind: kind === 'referrals' ? 'referral' : 'judicial-confirmation', case: value, events }, () =>
        [
          record([
            ['kind', kind === 'referrals' ? 'referral' : 'judicial confirmation'],
            ['id', value.id],
            ['案号', value.caseNumber],
            ['status', value.status],
            ['version', value.version],
            ['court', value.courtCode],
            ['organization', value.organizationId],
            ['dispute', value.disputeType],
            ['created', value.createdAt],
            ['updated', value.updatedAt],
          ]),
          '\n',
          table(
            ['SEQ', 'EVENT', 'AT'],
            events.map((e) => [e.sequence, e.type, e.occurredAt]),
          ),
        ].join(''),
      )
    })
  caseCmd
    .command('verify')
    .argument('<id>', 'a case id')
    .description("recompute the case's event hash chain (exit 1 with integrity_broken if it does not hold)")
    .action(async (id: string) => {
      if (!UUID.test(id)) throw new UsageError(`not a case id: ${id}`)
      const client = api()
      const r = await orConfirmation(
        () => client.call<Integrity>('GET', `/v1/referrals/${id}/integrity`),
        () => client.call<Integrity>('GET', `/v1/judicial-confirmations/${id}/integrity`),
      )
      out(r, () =>
        r.valid
          ? record([
              ['valid', 'yes'],
              ['length', r.length],
              ['head', r.head],
            ])
          : record([
              ['valid', 'NO'],
              ['brokenAtSequence', r.brokenAtSequence],
            ]),
      )
      if (!r.valid) {
        io.stderr(`error: integrity_broken: the event chain of ${id} breaks at sequence ${r.brokenAtSequence}\n`)
        code = EXIT_API
      }
    })

  try {
    if (io.argv.length === 0) {
      program.outputHelp()
      return EXIT_USAGE
    }
    await program.parseAsync(io.argv, { from: 'user' })
    return code
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT_OK : EXIT_USAGE
    }
    if (err instanceof UsageError) {
      io.stderr(`error: ${err.message}\n`)
      return EXIT_USAGE
    }
    if (err instanceof ApiError) {
      io.stderr(`error: ${err.code}${err.status ? ` (HTTP ${err.status})` : ''}: ${err.detail}\n`)
      if (globals().json) io.stdout(JSON.stringify(err.problem ?? { code: err.code, detail: err.detail }, null, 2) + '\n')
      return EXIT_API
    }
    io.stderr(`error: ${(err as Error).message}\n`)
    return EXIT_API
  }
}

/** A referral, else a judicial confirmation, with that id (both answer 404 for an id they do not hold). */
async function orConfirmation<T>(referral: () => Promise<T>, confirmation: () => Promise<T>): Promise<T> {
  try {
    return await referral()
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return confirmation()
    throw err
  }
}

async function findCase(client: ApiClient, ref: string): Promise<{ kind: 'referrals' | 'judicial-confirmations'; value: CaseView }> {
  if (UUID.test(ref)) {
    let kind: 'referrals' | 'judicial-confirmations' = 'referrals'
    const value = await orConfirmation(
      () => client.call<CaseView>('GET', `/v1/referrals/${ref}`),
      () => {
        kind = 'judicial-confirmations'
        return client.call<CaseView>('GET', `/v1/judicial-confirmations/${ref}`)
      },
    )
    return { kind, value }
  }
  let page: { items: CaseView[] }
  try {
    page = await client.call('GET', `/v1/referrals?${new URLSearchParams({ caseNumber: ref, limit: '2' })}`)
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) {
      throw new ApiError(
        400,
        err.code,
        `this service cannot look a case up by 案号 (GET /v1/referrals?caseNumber= is not supported: ${err.detail}); use the case id`,
        err.problem,
      )
    }
    throw err
  }
  // A service without the caseNumber filter may ignore the parameter and list other cases: only an exact match counts.
  const match = page.items.filter((c) => c.caseNumber === ref)
  if (page.items.length > 0 && match.length === 0) {
    throw new ApiError(
      400,
      'case_number_lookup_unsupported',
      `this service cannot look a case up by 案号 (GET /v1/referrals ignores caseNumber); use the case id`,
      undefined,
    )
  }
  if (match.length === 0) throw new ApiError(404, 'not_found', `no referral with 案号 ${ref}`, undefined)
  return { kind: 'referrals', value: match[0] }
}
