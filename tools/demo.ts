/**
 * `npm run demo`: the connector between a court system and the ministry's non-litigation platform, live.
 *
 * Starts the built service (dist/, API and worker in one process) on a fresh database, creates the clients
 * and two mediation organizations, starts the court and platform simulators, and plays complete referral
 * lives through the real API, printing every step as it happens. Then the court's receiver goes offline for
 * one case and catches up through the pull feed. At the end both simulators are checked against the
 * service: every event of every case seen, in sequence order; every signed receipt verifies; both sides reconcile
 * the day (same versions, same digest). Exits 0 when all holds, 1 otherwise.
 *
 *   node dist/tools/demo.js [--failure-rate 0.3] [--keep-db] [--database-url …] [--redis-url …]
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { type Jwk, verifyReceipt } from '../src/client/index.js'
import { formatDataKeys, generateThrowawayKeys } from '../src/security/field-cipher.js'
import { ApiClient } from './simulators/api-client.js'
import { DEMO_LIVES, playLife, playOutage } from './simulators/demo-lives.js'
import type { LifePlan } from './simulators/platform-simulator.js'
import { clearRedisPrefix, dropDatabase, freePort, killAllServiceProcesses, ServiceProcess, withDatabase } from './simulators/service-process.js'
import { sleep } from './simulators/shared.js'
import type { PeerSimulator } from './simulators/simulator.js'
import { checkSync } from './simulators/sync-check.js'
import { COURT_CODE, createWorld, ORGANIZATIONS, type World } from './simulators/world.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), process.argv[1]?.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..')
const { values } = parseArgs({
  options: {
    'failure-rate': { type: 'string', default: '0' },
    'database-url': { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    'keep-db': { type: 'boolean', default: false },
  },
})
const failureRate = Number(values['failure-rate'])
if (!Number.isFinite(failureRate) || failureRate < 0 || failureRate > 0.9) {
  process.stderr.write('--failure-rate must be between 0 and 0.9\n')
  process.exit(2)
}

const t0 = Date.now()
const say = (line: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`)
const title = (line: string) => process.stdout.write(`\n=== ${line}\n`)

const hex = randomBytes(5).toString('hex')
const databaseUrl = withDatabase(values['database-url'], `zdz_demo_${hex}`)
const prefix = `demo_${hex}`
const port = await freePort()
const baseUrl = `http://127.0.0.1:${port}`
const operatorKey = `op_${randomBytes(24).toString('base64url')}`
const logDir = path.join(os.tmpdir(), `zdz-demo-${hex}`)
mkdirSync(logDir, { recursive: true })
const service = new ServiceProcess({
  name: 'service',
  args: [path.join(root, 'dist/src/server.js')],
  cwd: root,
  env: {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_OPTIONS: '',
    DATABASE_URL: databaseUrl,
    REDIS_URL: values['redis-url'],
    QUEUE_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: String(port),
    OPERATOR_API_KEY: operatorKey,
    DATA_KEYS: formatDataKeys(generateThrowawayKeys()),
    LOG_LEVEL: 'info',
  },
  ready: { url: `${baseUrl}/health/ready` },
  logFile: path.join(logDir, 'service.log'),
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllServiceProcesses()
    process.stderr.write(`\ninterrupted: the service was killed; database zdz_demo_${hex} is left behind\n`)
    process.exit(130)
  })
}

let world: World | undefined
let ok: boolean
try {
  title('启动连接器 / Starting the connector')
  say(`数据库 / database zdz_demo_${hex}; 队列前缀 / queue prefix ${prefix}; 日志 / log ${service.opts.logFile}`)
  await service.start()
  say(`服务就绪 / service ready at ${baseUrl} (API + worker, ${service.startupMs[0]} ms); 文档 / docs ${baseUrl}/docs`)

  title('建立客户端、调解组织与订阅 / Clients, organizations, subscriptions')
  const scripted = new Map<string, Partial<LifePlan>>()
  world = await createWorld({
    baseUrl,
    operatorKey,
    seed: 2026,
    log: say,
    faults: failureRate ? { failureRate, modes: ['error', 'reset'] } : undefined,
    platform: { plan: (r) => scripted.get(r.caseNumber) },
  })
  say(`法院业务系统 / court client ${world.clients.court.id} (${COURT_CODE}), 订阅 / subscription ${world.subscriptions.court} → ${world.court.url}`)
  say(`调解平台 / platform client ${world.clients.platform.id} (region 11), 订阅 / subscription ${world.subscriptions.platform} → ${world.platform.url}`)
  say(
    `调解组织（平台登记，法院列入 ${COURT_CODE} 特邀调解名册）/ organizations (registered by the platform, put on the ${COURT_CODE} special roster by the court): ${ORGANIZATIONS.map((o) => `${o.name} (${o.id})`).join(', ')}`,
  )
  if (failureRate) say(`两个模拟器均随机失败 ${Math.round(failureRate * 100)}% 的推送 / both simulators fail ${Math.round(failureRate * 100)}% of pushes`)

  const results = []
  for (const spec of DEMO_LIVES) {
    title(spec.title)
    const r = await playLife(world, scripted, spec, 120_000)
    results.push(r)
    say(`${r.ok ? '✓' : '✗'} ${r.caseNumber}: ${r.status} — ${r.history.map((x) => x.replace('referral.', '')).join(' → ')}`)
  }

  title('接收端离线与拉取对账 / Receiver outage, reconciled through the pull feed')
  const outage = await playOutage(world, scripted, say, 120_000)
  results.push(outage)
  say(`${outage.ok ? '✓' : '✗'} ${outage.caseNumber}: ${outage.status} — ${outage.history.map((x) => x.replace('referral.', '')).join(' → ')}`)

  title('等待连接器自身的重试送达 / Waiting for the connector’s own retries to land')
  const operator = new ApiClient(baseUrl, operatorKey)
  const until = Date.now() + 120_000
  for (;;) {
    const s = await operator.getOk<{ items: Array<{ subscriptionId: string; pending: number; dead: number }> }>('/v1/sync/status')
    const pending = s.items.reduce((a, i) => a + i.pending, 0)
    const dead = s.items.reduce((a, i) => a + i.dead, 0)
    if (pending === 0 || Date.now() > until) {
      say(`同步状态 / sync status: pending ${pending}, dead ${dead}`)
      break
    }
    await sleep(1_000)
  }
  await world.court.idle()
  await world.platform.idle()
  say(`法院业务系统忽略重复推送 ${world.court.stats.pushDuplicates} 次 / the court ignored ${world.court.stats.pushDuplicates} duplicate pushes`)

  title('一致性核对 / Are both sides in sync?')
  let allSynced = true
  // The last step of a life may still be on its way (committed, not yet pushed): give it a few seconds.
  for (let i = 0; i < 20 && !((await checkSync(world.court)).ok && (await checkSync(world.platform)).ok); i++) await sleep(500)
  for (const sim of [world.court, world.platform]) {
    const sync = await checkSync(sim)
    const clean = sync.ok && !sim.duplicateEffects().length && !sim.failedActions().length && !sim.errors.length
    allSynced &&= clean
    say(
      `${clean ? '✓' : '✗'} ${sim.label}: ${sync.subjects} 个案件 / cases, ${sync.events} 个事件 / events; 缺失 / missing ${sync.missing.length}, 乱序 / out of order ${sync.outOfOrder.length}, ` +
        `多余 / extra ${sync.extra.length}; 重复效果 / duplicate effects ${sim.duplicateEffects().length}; 失败操作 / failed actions ${sim.failedActions().length}; ` +
        `收到推送 / pushes ${sim.stats.requests} (故障注入 / injected ${sim.stats.injected.error + sim.stats.injected.reset + sim.stats.injected.hang})`,
    )
    for (const m of [...sync.missing, ...sync.outOfOrder, ...sync.extra].slice(0, 5)) say(`    ${m}`)
  }

  title('签名回执核验 / Verifying the signed receipts')
  const jwks = await operator.getOk<{ keys: Jwk[] }>('/v1/service-keys')
  let receiptsOk = true
  for (const sim of [world.court, world.platform]) {
    let verified = 0
    const bad: string[] = []
    for (const receipt of sim.api.receipts) {
      try {
        verifyReceipt(receipt, jwks)
        verified++
      } catch (err) {
        bad.push((err as Error).message)
      }
    }
    receiptsOk &&= bad.length === 0 && verified > 0
    say(
      `${bad.length === 0 && verified > 0 ? '✓' : '✗'} ${sim.label}: ${verified} 份回执验签通过 / receipts verified (keys ${jwks.keys.map((k) => k.kid).join(', ')}); 失败 / failed ${bad.length}`,
    )
    for (const m of bad.slice(0, 3)) say(`    ${m}`)
  }

  title('按日对账 / Reconciling the day')
  const reconciled = await reconcileDay([world.court, world.platform], say)
  const livesOk = results.every((r) => r.ok)
  ok = livesOk && allSynced && receiptsOk && reconciled
  title(ok ? '结果：双方与连接器完全同步 / RESULT: both sides in sync with the connector' : '结果：不同步 / RESULT: OUT OF SYNC')
} catch (err) {
  say(`失败 / failed: ${(err as Error).stack ?? String(err)}`)
  ok = false
} finally {
  await world?.close().catch(() => undefined)
  await service.stop(15_000)
  if (!values['keep-db']) await dropDatabase(databaseUrl).catch((err: Error) => say(`could not drop the database: ${err.message}`))
  await clearRedisPrefix(values['redis-url'], prefix).catch(() => undefined)
}
process.exit(ok ? 0 : 1)

/**
 * Each side proves the day's exchange complete (contract §4 reconciliation): from the events it received it knows
 * each referral's version and status; it sends the versions to `POST /v1/reconciliation/diff` and compares its own
 * digest of `<id>:<version>:<status>\n` lines with the service's `GET /v1/reconciliation`.
 */
async function reconcileDay(sims: PeerSimulator[], log: (line: string) => void): Promise<boolean> {
  let all = true
  for (const sim of sims) {
    // Cases last changed today (Asia/Shanghai), as this side saw them.
    const day = shanghaiDay(new Date())
    const mine = new Map<string, { version: number; status: string }>()
    for (const [id, seen] of sim.subjects) {
      const last = seen.at(-1)?.event
      const view = (last?.data as { referral?: { status?: string; updatedAt?: string } } | undefined)?.referral
      if (
        !last ||
        last.subject.kind !== 'referral' ||
        last.caseVersion === null ||
        !view?.status ||
        !view.updatedAt ||
        shanghaiDay(new Date(view.updatedAt)) !== day
      )
        continue
      mine.set(id, { version: last.caseVersion, status: view.status })
    }
    const items = [...mine].map(([id, v]) => ({ id, version: v.version }))
    const diff = await sim.api.postOk<{ missing: unknown[]; unknown: unknown[]; matched: number }>(
      '/v1/reconciliation/diff',
      { date: day, kind: 'referral', items },
      randomUUID(),
      [200],
    )
    const service = await sim.api.getOk<{ count: number; digest: string }>(`/v1/reconciliation?date=${day}&kind=referral`)
    const lines = [...mine]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, v]) => `${id}:${v.version}:${v.status}\n`)
      .join('')
    const digest = createHash('sha256').update(lines).digest('hex')
    const clean = diff.missing.length === 0 && diff.unknown.length === 0 && diff.matched === items.length && digest === service.digest
    all &&= clean
    log(
      `${clean ? '✓' : '✗'} ${sim.label}: ${day} 对账 / reconciled — 一致 / matched ${diff.matched}, 缺失 / missing ${diff.missing.length}, 未知 / unknown ${diff.unknown.length}; ` +
        `摘要 / digest ${digest.slice(0, 12)}… ${digest === service.digest ? '=' : '≠'} 连接器 / connector ${service.digest.slice(0, 12)}… (${service.count} cases)`,
    )
  }
  return all
}

function shanghaiDay(d: Date): string {
  return new Date(d.getTime() + 8 * 3_600_000).toISOString().slice(0, 10)
}
