import { randomBytes } from 'node:crypto'
import t from 'tap'
import { ChannelSubscriber } from '../../src/delivery/pubsub.js'
import { createRedis } from '../../src/delivery/queues.js'
import { REDIS_URL } from '../helpers/harness.js'

const ignore = () => undefined
const publisher = createRedis(REDIS_URL, 'producer', ignore)
t.teardown(() => publisher.disconnect())
// A producer connection fails fast instead of queueing: publish only once it is ready.
const publisherReady = new Promise<void>((resolve) => (publisher.status === 'ready' ? resolve() : publisher.once('ready', () => resolve())))
t.before(() => publisherReady)

const channel = (name: string) => `t_${randomBytes(5).toString('hex')}:${name}`

async function untilAsync(check: () => Promise<boolean>, ms = 3_000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return check()
}
const until = (check: () => boolean, ms?: number) => untilAsync(async () => check(), ms)

/** How many connections subscribe to the channel. */
const numsub = async (c: string) => Number(((await publisher.pubsub('NUMSUB', c)) as Array<string | number>)[1])

t.test('one connection, opened on the first listener, serves every channel and listener', async (t) => {
  let opened = 0
  const sub = new ChannelSubscriber(() => {
    opened++
    return createRedis(REDIS_URL, 'worker', ignore)
  })
  t.teardown(() => sub.close())
  t.equal(opened, 0, 'nothing opened before a listener')

  const [a, b] = [channel('a'), channel('b')]
  const got: string[] = []
  const first = sub.listen(a, { message: (m) => got.push(`1:${m}`) })
  const second = sub.listen(a, { message: (m) => got.push(`2:${m}`) })
  const other = sub.listen(b, { message: (m) => got.push(`b:${m}`) })
  await Promise.all([first.subscribed, second.subscribed, other.subscribed])
  t.equal(opened, 1, 'one connection for all of them')

  await publisher.publish(a, 'x')
  await publisher.publish(b, 'y')
  t.ok(await until(() => got.length === 3), 'three messages arrived')
  t.strictSame(got.sort(), ['1:x', '2:x', 'b:y'], 'each message reaches the listeners of its channel only')

  // One listener leaving keeps the channel for the other (two apps built on one deps share it).
  first.close()
  got.length = 0
  await publisher.publish(a, 'z')
  t.ok(await until(() => got.length === 1), 'one message arrived')
  t.strictSame(got, ['2:z'])

  // The last listener leaving unsubscribes the channel.
  second.close()
  t.ok(await untilAsync(async () => (await numsub(a)) === 0), 'a unsubscribed')
  t.equal(await numsub(b), 1, 'b still subscribed')
  other.close()
})

t.test('listeners hear of the connection being ready; close() ends it', async (t) => {
  const sub = new ChannelSubscriber(() => createRedis(REDIS_URL, 'worker', ignore))
  const c = channel('ready')
  let readies = 0
  const l = sub.listen(c, { message: ignore, ready: () => readies++ })
  await l.subscribed
  t.equal(readies, 1, 'the first connection counts as ready')
  sub.close()
  t.throws(() => sub.listen(c, { message: ignore }), /closed/)
  t.ok(await untilAsync(async () => (await numsub(c)) === 0), 'disconnected')
})
