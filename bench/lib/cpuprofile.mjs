/**
 * Reads a .cpuprofile (V8 format, as written by --cpu-prof or the profiler preload) and summarises it: where
 * the CPU time went by self time per function, by inclusive time per function of the service's own code, and
 * by area (service code, each npm package, Node internals, GC, idle).
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from './util.mjs'

function area(url, name) {
  if (!url) return name.startsWith('(') ? name : '(native)'
  const u = url.replace(/^file:\/\//, '')
  const nm = u.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  if (u.startsWith('node:')) return 'node internals'
  const rel = path.relative(ROOT, u)
  if (rel.startsWith('dist/')) return 'service code'
  if (rel.startsWith('bench/')) return 'bench code'
  return 'other'
}

const label = (cf) => {
  const u = (cf.url || '').replace(/^file:\/\//, '')
  const rel = u.startsWith('/') ? path.relative(ROOT, u) : u
  return `${cf.functionName || '(anonymous)'} ${rel ? `${rel}:${cf.lineNumber + 1}` : ''}`.trim()
}

/** Summarises one profile; `top` rows per table. */
export function summarizeProfile(file, top = 20) {
  const p = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map()
  const inclUs = new Map()
  const areaUs = new Map()
  let totalUs = 0
  let idleUs = 0
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0
    const node = byId.get(p.samples[i])
    if (!node) continue
    totalUs += dt
    const cf = node.callFrame
    if (cf.functionName === '(idle)') idleUs += dt
    const key = label(cf)
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt)
    const a = area(cf.url, cf.functionName)
    areaUs.set(a, (areaUs.get(a) ?? 0) + dt)
    // Inclusive time of service functions: each function once per stack.
    const seen = new Set()
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id).callFrame
      if (area(f.url, f.functionName) !== 'service code') continue
      const k = label(f)
      if (seen.has(k)) continue
      seen.add(k)
      inclUs.set(k, (inclUs.get(k) ?? 0) + dt)
    }
  }
  const busyUs = totalUs - idleUs
  const pct = (us, of) => Math.round((1000 * us) / Math.max(1, of)) / 10
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1])
  return {
    wallSeconds: Math.round(totalUs / 1e5) / 10,
    busyPercent: pct(busyUs, totalUs),
    areas: sorted(areaUs)
      .filter(([k]) => k !== '(idle)')
      .slice(0, top)
      .map(([k, us]) => ({ area: k, percentOfBusy: pct(us, busyUs) })),
    self: sorted(selfUs)
      .filter(([k]) => !k.startsWith('(idle)'))
      .slice(0, top)
      .map(([k, us]) => ({ fn: k, percentOfBusy: pct(us, busyUs) })),
    serviceInclusive: sorted(inclUs)
      .slice(0, top)
      .map(([k, us]) => ({ fn: k, percentOfBusy: pct(us, busyUs) })),
  }
}

/** Summarises a sampling heap profile (allocations, collected ones included): bytes by area and by function. */
export function summarizeHeapProfile(file, top = 15) {
  const p = JSON.parse(readFileSync(file, 'utf8'))
  const byArea = new Map()
  const byFn = new Map()
  let total = 0
  const walk = (node) => {
    const cf = node.callFrame
    if (node.selfSize) {
      total += node.selfSize
      const a = area(cf.url, cf.functionName)
      byArea.set(a, (byArea.get(a) ?? 0) + node.selfSize)
      const k = label(cf)
      byFn.set(k, (byFn.get(k) ?? 0) + node.selfSize)
    }
    for (const c of node.children ?? []) walk(c)
  }
  walk(p.head)
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1])
  const pct = (b) => Math.round((1000 * b) / Math.max(1, total)) / 10
  return {
    sampledMb: Math.round(total / 104857.6) / 10,
    areas: sorted(byArea)
      .slice(0, top)
      .map(([k, b]) => ({ area: k, percent: pct(b) })),
    functions: sorted(byFn)
      .slice(0, top)
      .map(([k, b]) => ({ fn: k, percent: pct(b) })),
  }
}

export function heapMarkdown(title, h) {
  return [
    `Allocations sampled in ${title}: ${h.sampledMb} MB (collected objects included).`,
    '',
    '| allocating area | % of bytes |',
    '|---|---:|',
    ...h.areas.map((a) => `| ${a.area} | ${a.percent} |`),
    '',
    '| allocating function | % of bytes |',
    '|---|---:|',
    ...h.functions.map((f) => `| \`${f.fn}\` | ${f.percent} |`),
    '',
  ].join('\n')
}

/** The summary as Markdown. */
export function profileMarkdown(title, s) {
  const lines = [
    `### ${title}`,
    '',
    `${s.wallSeconds} s profiled, process busy ${s.busyPercent}% of it (the rest idle: waiting on PostgreSQL, Redis, the network).`,
    '',
  ]
  lines.push('| area | % of busy CPU |', '|---|---:|', ...s.areas.map((a) => `| ${a.area} | ${a.percentOfBusy} |`), '')
  lines.push('| hottest functions (self time) | % |', '|---|---:|', ...s.self.map((f) => `| \`${f.fn}\` | ${f.percentOfBusy} |`), '')
  lines.push('| service functions (inclusive time) | % |', '|---|---:|', ...s.serviceInclusive.map((f) => `| \`${f.fn}\` | ${f.percentOfBusy} |`), '')
  return lines.join('\n')
}

// `node bench/lib/cpuprofile.mjs file.cpuprofile [top]` prints the summary.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const file = process.argv[2]
  process.stdout.write(`${profileMarkdown(path.basename(file), summarizeProfile(file, Number(process.argv[3] ?? 25)))}\n`)
}
