/**
 * Baseline: BullMQ with a no-op worker at concurrency 50, in its own process. Adds `jobs` jobs with addBulk
 * (chunks of 1 000), then starts the worker and times how long it takes to complete them all.
 *
 * argv: redisUrl prefix jobs
 */
import { performance } from 'node:perf_hooks'
import { Queue, Worker } from 'bullmq'

const [redisUrl, prefix, jobsArg] = process.argv.slice(2)
const jobs = Number(jobsArg)
const u = new URL(redisUrl)
const connection = { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null }
const name = 'noop'
const queue = new Queue(name, { connection, prefix })
process.send({ ready: true })

const t0 = performance.now()
for (let i = 0; i < jobs; i += 1000) {
  await queue.addBulk(
    Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({ name, data: { i: i + k }, opts: { removeOnComplete: true, removeOnFail: true } })),
  )
}
const addSeconds = (performance.now() - t0) / 1000

let done = 0
let finished
const allDone = new Promise((resolve) => (finished = resolve))
const t1 = performance.now()
const worker = new Worker(name, async () => undefined, { connection, prefix, concurrency: 50 })
worker.on('completed', () => {
  if (++done === jobs) finished()
})
worker.on('error', () => undefined)
await allDone
const processSeconds = (performance.now() - t1) / 1000
await worker.close()
await queue.obliterate({ force: true })
await queue.close()
process.send({ addPerSecond: jobs / addSeconds, processPerSecond: jobs / processSeconds, jobs })
