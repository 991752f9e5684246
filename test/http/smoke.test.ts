import t from 'tap'
import { startHarness } from '../helpers/harness.js'

const h = await startHarness()
t.teardown(() => h.close())

t.test('health', async (t) => {
  const live = await h.call(null, { method: 'GET', url: '/health/live' })
  t.equal(live.statusCode, 200)
  const ready = await h.call(null, { method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200, ready.body)
})

t.test('client', async (t) => {
  const c = await h.client('court', { courtCodes: ['京0105'] })
  t.match(c.key, /^zdz_/)
})
