/**
 * The small world the demo, the fault run and the tests play in: one court (京0105 朝阳区人民法院), one
 * platform client for Beijing, two mediation organizations the platform registers and the court puts on its
 * special roster, and the two simulators subscribed to their clients' events.
 */
import { randomUUID } from 'node:crypto'
import { ApiClient, type ApiClientOptions } from './api-client.js'
import { CourtSimulator } from './court-simulator.js'
import { PlatformSimulator, type PlatformOptions } from './platform-simulator.js'
import type { FaultConfig } from './simulator.js'

export const COURT_CODE = '京0105'

export const ORGANIZATIONS = [
  { id: 'bj-cy-blz', name: '八里庄街道人民调解委员会' },
  { id: 'bj-cy-jsl', name: '劲松街道人民调解委员会' },
] as const

export interface Credentials {
  id: string
  key: string
}

export interface World {
  court: CourtSimulator
  platform: PlatformSimulator
  clients: { court: Credentials; platform: Credentials }
  subscriptions: { court: string; platform: string }
  close(): Promise<void>
}

export interface WorldOptions {
  /** The API's base URL, e.g. http://127.0.0.1:3000 */
  baseUrl: string
  operatorKey: string
  seed?: number
  /** Options of the simulators' API clients. */
  api?: ApiClientOptions
  faults?: Partial<FaultConfig>
  log?: (line: string) => void
  platform?: Omit<PlatformOptions, 'api' | 'organizations' | 'seed' | 'faults' | 'log'>
  /** Start the pull cursors at the end of the feed. @defaultValue true */
  skipToEnd?: boolean
}

/** Creates a client through the operator API and returns its id and its key (shown once). */
export async function createClient(operator: ApiClient, body: Record<string, unknown>): Promise<Credentials> {
  const c = await operator.postOk<{ id: string; apiKey: string }>('/v1/clients', body, `client-${randomUUID()}`, [201])
  return { id: c.id, key: c.apiKey }
}

/**
 * Sets up the clients, the organizations, the simulators and their subscriptions. The platform registers the
 * organizations (without `courtSpecial`: a platform may not list itself on a court's roster); the court system
 * then puts them on its special roster through `PUT /v1/courts/{courtCode}/special-roster/{organizationId}`.
 */
export async function createWorld(opts: WorldOptions): Promise<World> {
  const operator = new ApiClient(opts.baseUrl, opts.operatorKey, opts.api)
  const courtClient = await createClient(operator, { name: '朝阳区人民法院业务系统', role: 'court', courtCodes: [COURT_CODE] })
  const platformClient = await createClient(operator, { name: '矛盾纠纷非诉化解平台（北京）', role: 'mediation', regionCodes: ['11'] })
  const platformApi = new ApiClient(opts.baseUrl, platformClient.key, opts.api)
  for (const o of ORGANIZATIONS) {
    const a = await platformApi.put(`/v1/organizations/${o.id}`, {
      name: o.name,
      kind: 'township_committee',
      regionCode: '110105',
      disputeTypes: ['neighbor', 'marriage_family', 'contract', 'property_management', 'labor', 'traffic'],
      fullTimeMediators: 3,
      rosters: { ministry: true },
      active: true,
    })
    if (a.status !== 201 && a.status !== 200) throw new Error(`organization ${o.id}: HTTP ${a.status} ${a.body.slice(0, 300)}`)
  }
  const seed = opts.seed ?? 1
  const court = await new CourtSimulator({
    api: new ApiClient(opts.baseUrl, courtClient.key, opts.api),
    courtCode: COURT_CODE,
    organizations: ORGANIZATIONS.map((o) => o.id),
    seed,
    faults: opts.faults,
    log: opts.log,
  }).start()
  for (const o of ORGANIZATIONS) await court.specialRoster(o.id)
  const platform = await new PlatformSimulator({
    ...opts.platform,
    api: platformApi,
    organizations: ORGANIZATIONS.map((o) => o.id),
    seed: seed + 1,
    faults: opts.faults,
    log: opts.log,
  }).start()
  const subscriptions = {
    court: await court.subscribe(operator, courtClient.id, '法院业务系统模拟器 / court system simulator'),
    platform: await platform.subscribe(operator, platformClient.id, '调解平台模拟器 / platform simulator'),
  }
  if (opts.skipToEnd !== false) {
    await court.skipToEnd()
    await platform.skipToEnd()
  }
  return {
    court,
    platform,
    clients: { court: courtClient, platform: platformClient },
    subscriptions,
    async close() {
      await Promise.all([court.stop(), platform.stop()])
    },
  }
}
