/**
 * Where the machine's CPU went during a phase: CPU seconds of the service process (user and system), of
 * PostgreSQL's processes, of Redis, and of everything else (the load generator and the bench itself), read from
 * /proc before and after (Linux only; elsewhere the figures are absent). With the load generator on the same
 * two cores, this is what says whether a phase was limited by the service's one event loop, by PostgreSQL, or by
 * the machine as a whole.
 */
import { readdirSync, readFileSync } from 'node:fs'

const TICKS_PER_SECOND = 100

function snapshot(servicePid) {
  const groups = { serviceUser: 0, serviceSys: 0, postgres: 0, redis: 0, other: 0 }
  const perPid = new Map()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    let stat
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8')
    } catch {
      continue
    }
    const close = stat.lastIndexOf(')')
    const comm = stat.slice(stat.indexOf('(') + 1, close)
    const f = stat.slice(close + 2).split(' ')
    const user = Number(f[11])
    const sys = Number(f[12])
    const minflt = Number(f[7])
    const group = Number(d) === servicePid ? 'service' : comm.startsWith('postgres') ? 'postgres' : comm.startsWith('redis') ? 'redis' : 'other'
    perPid.set(d, { group, user, sys, minflt })
  }
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number)
  return { perPid, groups, idle: cpu[3] + cpu[4], all: cpu.reduce((a, b) => a + b, 0) }
}

function difference(a, b, ops) {
  const s = { serviceUser: 0, serviceSys: 0, postgres: 0, redis: 0, other: 0 }
  let serviceFaults = 0
  for (const [pid, v] of b.perPid) {
    const p = a.perPid.get(pid) ?? { user: 0, sys: 0, minflt: 0 }
    const du = Math.max(0, v.user - p.user) / TICKS_PER_SECOND
    const ds = Math.max(0, v.sys - p.sys) / TICKS_PER_SECOND
    if (v.group === 'service') {
      s.serviceUser += du
      s.serviceSys += ds
      serviceFaults += Math.max(0, v.minflt - p.minflt)
    } else {
      s[v.group] += du + ds
    }
  }
  const all = (b.all - a.all) / TICKS_PER_SECOND
  const idle = (b.idle - a.idle) / TICKS_PER_SECOND
  const wall = all / (a.cores || 1)
  const perOp = (x) => (ops ? Math.round((x / ops) * 1e5) / 100 : null)
  return {
    machineBusyPct: all ? Math.round((1 - idle / all) * 1000) / 10 : null,
    /** The service process's share of one core (100 = one core fully used). */
    serviceCorePct: wall ? Math.round(((s.serviceUser + s.serviceSys) / wall) * 1000) / 10 : null,
    msPerOp: {
      service: perOp(s.serviceUser + s.serviceSys),
      serviceUser: perOp(s.serviceUser),
      serviceSys: perOp(s.serviceSys),
      postgres: perOp(s.postgres),
      redis: perOp(s.redis),
      other: perOp(s.other),
    },
    /**
     * The service's minor page faults per operation: memory the process touched for the first time (a fresh mapping).
     * On a virtual machine each costs microseconds; V8 maps a fresh "large object" page for every string over
     * 128 KB (a two-byte string of more than 64 K characters), and faults on each 4 KB of it.
     */
    serviceMinorFaultsPerOp: ops ? Math.round((serviceFaults / ops) * 10) / 10 : null,
    ops,
  }
}

/** Runs `fn`, then returns its result and the CPU accounting; `ops(result)` is the number of operations done. */
export async function withCpu(servicePid, fn, ops) {
  let before
  try {
    before = snapshot(servicePid)
    before.cores = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .filter((l) => /^cpu\d/.test(l)).length
  } catch {
    return { result: await fn(), cpu: undefined }
  }
  const result = await fn()
  const after = snapshot(servicePid)
  return { result, cpu: difference(before, after, ops(result)) }
}
