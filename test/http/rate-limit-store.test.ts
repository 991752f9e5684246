import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { BatchedRedisStore } from '../../src/http/rate-limit-store.js'
import { REDIS_URL } from '../helpers/harness.js'

/**
 * The batched rate-limit store against a real Redis: far from the limit it counts locally and flushes in batches;
 * near it every request is decided on the shared count, so one instance admits exactly `max` and several share it.
 */

const redis = new Redis(REDIS_URL, { lazyConnect: false })
t.teardown(() => redis.quit())

const nameSpace = `t_${randomBytes(5).toString('hex')}:ratelimit:`
t.teardown(async () => {
  const keys = await redis.keys(`${nameSpace}*`)
  if (keys.length) await redis.del(...keys)
})

const WINDOW = 60_000

function incr(store: BatchedRedisStore, key: string, max: number): Promise<{ current: number; ttl: number }> {
  return new Promise((resolve, reject) => store.incr(key, (err, res) => (err || !res ? reject(err) : resolve(res)), WINDOW, max))
}

const stored = async (key: string) => Number((await redis.get(nameSpace + key)) ?? 0)

t.test('far from the limit a request costs no Redis round trip; the flush sends the count', async (t) => {
  const store = new BatchedRedisStore({ redis, nameSpace, flushMs: 60_000 })
  const key = 'client:far'
  const first = await incr(store, key, 1000)
  t.equal(first.current, 1)
  t.ok(first.ttl > 0 && first.ttl <= WINDOW, 'the window’s TTL comes from Redis')
  for (let i = 2; i <= 500; i++) t.equal((await incr(store, key, 1000)).current, i, `request ${i} counted`)
  t.equal(await stored(key), 1, 'only the first request of the window went to Redis')
  await store.flush()
  t.equal(await stored(key), 500, 'the flush sent the 499 admitted locally')
  await store.flush()
  t.equal(await stored(key), 500, 'nothing is sent twice')
})

t.test('one instance admits exactly max: near the limit every request is decided in Redis', async (t) => {
  const store = new BatchedRedisStore({ redis, nameSpace, flushMs: 60_000 })
  const key = 'client:near'
  const answers: number[] = []
  for (let i = 0; i < 105; i++) answers.push((await incr(store, key, 100)).current)
  t.same(
    answers,
    Array.from({ length: 105 }, (_, i) => i + 1),
    'every answer is the exact count',
  )
  t.equal(answers.filter((c) => c <= 100).length, 100, 'exactly 100 admitted')
  t.equal(await stored(key), 105, 'the slack zone (the last 20) carried the pending increments to Redis')
})

t.test('a small limit is always decided in Redis', async (t) => {
  const store = new BatchedRedisStore({ redis, nameSpace, flushMs: 60_000 })
  for (let i = 1; i <= 6; i++) {
    t.equal((await incr(store, 'client:small', 5)).current, i)
    t.equal(await stored('client:small'), i, `request ${i} is in Redis at once`)
  }
})

t.test('instances share the limit through Redis', async (t) => {
  const a = new BatchedRedisStore({ redis, nameSpace, flushMs: 60_000 })
  const b = new BatchedRedisStore({ redis, nameSpace, flushMs: 60_000 })
  const key = 'client:shared'
  let admitted = 0
  // Each instance serves half the traffic and flushes between rounds, as its timer would.
  for (let round = 0; round < 30; round++) {
    for (const s of [a, b]) for (let i = 0; i < 5; i++) if ((await incr(s, key, 200)).current <= 200) admitted++
    await Promise.all([a.flush(), b.flush()])
  }
  t.equal(await stored(key), 300, 'every request is counted once in Redis')
  t.equal(admitted, 200, 'flushed between rounds, together they admit exactly the limit')

  // Without flushes, an instance does not see the other's local increments: the documented bound.
  const c = new BatchedRedisStore({ redis, nameSpace, flushMs: 60_000 })
  const d = new BatchedRedisStore({ redis, nameSpace, flushMs: 60_000 })
  let together = 0
  for (let i = 0; i < 150; i++) for (const s of [c, d]) if ((await incr(s, 'client:unflushed', 200)).current <= 200) together++
  t.ok(together <= 200 + 180, `over-admission bounded by the other instance’s unflushed requests (${together})`)
  t.ok(together >= 200, 'no request is refused under the limit')
})

t.test('a new window starts from Redis; windows that ended are forgotten', async (t) => {
  let clock = 1_000_000
  const store = new BatchedRedisStore({ redis, nameSpace, flushMs: 60_000, now: () => clock })
  const key = 'client:window'
  for (let i = 0; i < 10; i++) await incr(store, key, 1000)
  await store.flush()
  t.equal(await stored(key), 10)
  // The window ends (in Redis and in this process).
  await redis.del(nameSpace + key)
  clock += WINDOW + 1
  const next = await incr(store, key, 1000)
  t.equal(next.current, 1, 'the next request opens a new window')
  t.equal(await stored(key), 1)
  clock += WINDOW + 1
  await incr(store, 'client:other', 1000)
  await store.flush()
  t.equal(await stored(key), 1, 'an ended window sends nothing')
})

t.test('Redis away: the store answers an error, which the limiter treats as “step aside”', async (t) => {
  const gone = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  t.teardown(() => gone.disconnect())
  const store = new BatchedRedisStore({ redis: gone, nameSpace, flushMs: 60_000 })
  await t.rejects(incr(store, 'client:away', 10))
})
