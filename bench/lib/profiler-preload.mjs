/**
 * Loaded into the service only in profile mode (`node --import bench/lib/profiler-preload.mjs dist/src/server.js`):
 * each SIGWINCH (a signal the service's graceful-shutdown handler leaves alone) starts or stops V8's CPU profiler in-process, and a stopped profile is written to
 * $BENCH_PROFILE_DIR/profile-<n>.cpuprofile (the same format as --cpu-prof), so that every bench phase gets its
 * own profile from one running service, with an allocation profile (.heapprofile) of the same window. It also samples process.memoryUsage() every second into
 * $BENCH_PROFILE_DIR/memory.json (rewritten with each profile), to tell JS heap growth from native memory.
 */
import { Session } from 'node:inspector/promises'
import { writeFileSync, renameSync } from 'node:fs'
import path from 'node:path'

const dir = process.env.BENCH_PROFILE_DIR
const session = new Session()
session.connect()
let running = false
let n = 0
let busy = Promise.resolve()
const memory = []
const started = Date.now()
setInterval(() => {
  const m = process.memoryUsage()
  const mb = (x) => Math.round(x / 104857.6) / 10
  memory.push({
    t: Math.round((Date.now() - started) / 1000),
    rss: mb(m.rss),
    heapUsed: mb(m.heapUsed),
    heapTotal: mb(m.heapTotal),
    external: mb(m.external),
    arrayBuffers: mb(m.arrayBuffers),
  })
}, 1000).unref()

process.on('SIGWINCH', () => {
  busy = busy.then(async () => {
    if (!running) {
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: 500 })
      await session.post('Profiler.start')
      // Allocation sampling over the same window, collected objects included: what churns the heap.
      await session.post('HeapProfiler.enable')
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 65536,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      })
      running = true
      return
    }
    const { profile } = await session.post('Profiler.stop')
    const heap = await session.post('HeapProfiler.stopSampling')
    running = false
    const file = path.join(dir, `profile-${++n}.cpuprofile`)
    writeFileSync(path.join(dir, `profile-${n}.heapprofile`), JSON.stringify(heap.profile))
    // Written under a temporary name and renamed, so the bench never reads half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(profile))
    renameSync(`${file}.tmp`, file)
    writeFileSync(path.join(dir, 'memory.json'), JSON.stringify(memory))
  })
})
