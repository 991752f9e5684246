/**
 * Running the connector as child processes for the demo and the fault run: start one, wait until it is ready,
 * SIGKILL it, start it again. Plus the throwaway resources around it: a free port, a fresh database that is
 * dropped at the end, and the Redis keys of a queue prefix.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, openSync, readSync, statSync } from 'node:fs'
import net from 'node:net'
import { Redis } from 'ioredis'
import pg from 'pg'
import { sleep } from './shared.js'

export interface ServiceProcessOptions {
  /** For messages: "api", "worker". */
  name: string
  /** Arguments after the node executable: loader flags, the entry script, its own flags. */
  args: string[]
  env: NodeJS.ProcessEnv
  cwd?: string
  /** Ready when this URL answers 200, or when a log line matches. */
  ready: { url: string } | { logPattern: RegExp }
  /** stdout and stderr are appended here. */
  logFile: string
  /** @defaultValue 90 000 */
  readyTimeoutMs?: number
}

const running = new Set<ServiceProcess>()

/**
 * SIGKILLs every connector process started here that is still running: for a script interrupted with Ctrl-C,
 * so no orphan keeps serving. Synchronous, so it can run in a signal handler right before exiting.
 */
export function killAllServiceProcesses(): void {
  for (const p of running) if (p.alive) p.child?.kill('SIGKILL')
}

/** One connector process that can be killed and started again. */
export class ServiceProcess {
  child: ChildProcess | undefined
  /** Times started, and times killed with SIGKILL. */
  starts = 0
  kills = 0
  /** When the current process became ready (ms since the epoch). */
  readyAt: number | undefined
  /** Milliseconds each start took until ready. */
  readonly startupMs: number[] = []

  constructor(readonly opts: ServiceProcessOptions) {}

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null
  }

  /** Spawns the process and waits until it is ready; rejects if it exits first or takes too long. */
  async start(): Promise<void> {
    if (this.alive) throw new Error(`${this.opts.name} is already running`)
    const fd = openSync(this.opts.logFile, 'a')
    const offset = statSync(this.opts.logFile).size
    const t0 = Date.now()
    let child: ChildProcess
    try {
      child = spawn(process.execPath, this.opts.args, { cwd: this.opts.cwd, env: this.opts.env, stdio: ['ignore', fd, fd] })
    } finally {
      closeSync(fd)
    }
    this.child = child
    running.add(this)
    child.once('exit', () => {
      if (this.child === child) running.delete(this)
    })
    this.starts++
    this.readyAt = undefined
    const exited = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => resolve(`${this.opts.name} exited (${signal ?? code}) before it was ready; see ${this.opts.logFile}`)),
    )
    const until = t0 + (this.opts.readyTimeoutMs ?? 90_000)
    const ready = this.opts.ready
    let logOffset = offset
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(await exited)
      if ('url' in ready) {
        try {
          const res = await fetch(ready.url, { signal: AbortSignal.timeout(1_000) })
          await res.arrayBuffer()
          if (res.status === 200) break
        } catch {
          // not listening yet
        }
      } else {
        const { text, next } = readFrom(this.opts.logFile, logOffset)
        logOffset = next
        if (ready.logPattern.test(text)) break
      }
      if (Date.now() > until) {
        await this.kill()
        throw new Error(`${this.opts.name} was not ready within ${this.opts.readyTimeoutMs ?? 90_000} ms; see ${this.opts.logFile}`)
      }
      await sleep(100)
    }
    this.readyAt = Date.now()
    this.startupMs.push(this.readyAt - t0)
  }

  /** Kills the process (SIGKILL unless told otherwise) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill(signal)
    if (signal === 'SIGKILL') this.kills++
    await gone
  }

  /** SIGTERM (graceful shutdown), then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    await gone
    clearTimeout(timer)
  }
}

function readFrom(file: string, offset: number): { text: string; next: number } {
  const size = statSync(file).size
  if (size <= offset) return { text: '', next: offset }
  const fd = openSync(file, 'r')
  try {
    const buf = Buffer.alloc(Math.min(size - offset, 4 * 1024 * 1024))
    const n = readSync(fd, buf, 0, buf.length, offset)
    // Keep the last partial line for the next read.
    const text = buf.subarray(0, n).toString('utf8')
    const cut = text.lastIndexOf('\n')
    return cut < 0 ? { text: '', next: offset } : { text: text.slice(0, cut), next: offset + Buffer.byteLength(text.slice(0, cut + 1)) }
  } finally {
    closeSync(fd)
  }
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as net.AddressInfo).port
  await new Promise((resolve) => srv.close(resolve))
  return port
}

/** The same server as `url`, another database. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

/** Drops the database of `databaseUrl` (connections are closed first). */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1))
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`refusing to drop database "${name}"`)
  const admin = new pg.Client({ connectionString: withDatabase(databaseUrl, 'postgres') })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}

/** Deletes every Redis key of one queue prefix. */
export async function clearRedisPrefix(redisUrl: string, prefix: string): Promise<number> {
  if (!/^[A-Za-z0-9_.-]{3,64}$/.test(prefix)) throw new Error(`refusing to clear prefix "${prefix}"`)
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true })
  r.on('error', () => undefined)
  let removed = 0
  try {
    await r.connect()
    let cursor = '0'
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
      cursor = next
      if (keys.length) removed += await r.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    r.disconnect()
  }
  return removed
}
