import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Config } from './config/config.js'
import { hasLiveOperatorKey } from './db/client-repository.js'
import type { Database } from './db/database.js'
import { problemOf, sendProblem } from './http/problem.js'

/**
 * Graceful stop of the HTTP side. Once {@link Drain.start} is called, every new request — on a new connection or
 * a kept-alive one — is answered 503 `service_unavailable` with `Connection: close` and `Retry-After`, while the
 * requests already in flight run to their end; {@link Drain.idle} resolves when none is left. The listening
 * socket stays open meanwhile, so a load balancer sees 503s (and a failing /health/ready) instead of refused
 * connections until the process really closes.
 */
export class Drain {
  private active = 0
  private stopping = false
  private waiters: Array<() => void> = []

  get draining(): boolean {
    return this.stopping
  }

  get inFlight(): number {
    return this.active
  }

  /** Registers the hook: call before any other onRequest hook, so a refused request does no work at all. */
  install(app: FastifyInstance): void {
    app.addHook('onRequest', async (_req, reply) => {
      if (this.stopping) {
        return sendProblem(reply, problemOf(503, 'service_unavailable', '服务正在停止，请稍后重试或改连其他实例'), {
          connection: 'close',
          'retry-after': '5',
        })
      }
      this.active++
      let done = false
      // 'close' fires once whether the answer was sent or the client went away.
      reply.raw.once('close', () => {
        if (done) return
        done = true
        this.active--
        if (this.active === 0 && this.stopping) this.wake()
      })
    })
  }

  start(): void {
    this.stopping = true
    if (this.active === 0) this.wake()
  }

  /** Resolves when no request accepted before {@link start} is still running, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void> {
    if (this.stopping && this.active === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      timer.unref()
      this.waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
}

/**
 * The order of a graceful stop: refuse new requests with 503 while the in-flight ones finish, stop the workers
 * (still answering 503), close the HTTP server and then every connection, and log a final `stopped` line.
 */
export async function stopGracefully(parts: {
  logger: Logger
  drain?: Drain
  app?: FastifyInstance
  workers?: { close(): Promise<void> }
  deps: { close(): Promise<void> }
  timeoutMs: number
}): Promise<void> {
  const { logger, drain, app, workers, deps } = parts
  if (drain) {
    drain.start()
    if (drain.inFlight > 0) logger.info({ inFlight: drain.inFlight }, 'waiting for in-flight requests; new ones get 503')
    await drain.idle(parts.timeoutMs)
  }
  await workers?.close()
  await app?.close()
  await deps.close()
  logger.info('stopped')
  await new Promise<void>((resolve) => logger.flush(() => resolve()))
}

/** Start-up warning: with no OPERATOR_API_KEY and no live operator key stored, nobody can create a client. */
export const NO_OPERATOR_MESSAGE =
  'no operator can sign in: OPERATOR_API_KEY is not set and the database holds no live operator key, so nobody can create clients. ' +
  'Set OPERATOR_API_KEY to a long random value (e.g. `openssl rand -base64 32`) and restart, then create clients with it (npx zdz clients create …)'

/** Logs {@link NO_OPERATOR_MESSAGE} at `error` when it applies; returns whether it did. */
export async function warnIfNoOperator(deps: { db: Kysely<Database>; config: Pick<Config, 'operatorApiKey'>; logger: Logger }): Promise<boolean> {
  if (deps.config.operatorApiKey) return false
  if (await hasLiveOperatorKey(deps.db)) return false
  deps.logger.error({ variable: 'OPERATOR_API_KEY' }, NO_OPERATOR_MESSAGE)
  return true
}
