/**
 * Deadline timers of concurrent intakes (src/cases/referrals/referral-timers.ts, TimerScheduler): the timers of the
 * writes committed in one turn of the event loop go to Redis in one addBulk, and each intake's answer still waits
 * for its own timer, which is in the queue when the answer arrives.
 */
import t from 'tap'
import { TimerScheduler } from '../../src/cases/referrals/referral-timers.js'
import { endOfShanghaiDay } from '../../src/domain/calendar.js'
import { post, referralBody, standardWorld } from '../helpers/fixtures.js'
import { startHarness } from '../helpers/harness.js'

const h = await startHarness()
t.teardown(() => h.close())
const w = await standardWorld(h)
const timers = h.deps.queues.timers

const jobIdOf = (r: { id: string; deadlines: { acceptanceDueOn: string } }) => `${r.id}_${endOfShanghaiDay(r.deadlines.acceptanceDueOn).getTime()}`

t.test('concurrent intakes: each acceptance timer is in the queue when its answer arrives', async (t) => {
  const started = Date.now()
  // The first intake loads the legal calendar; then four at once, below the harness's pool of five.
  const first = await post(h, w.court.key, '/v1/referrals', referralBody())
  const res = [first, ...(await Promise.all(Array.from({ length: 4 }, () => post(h, w.court.key, '/v1/referrals', referralBody()))))]
  t.same(
    res.map((r) => r.statusCode),
    Array(5).fill(201),
  )
  for (const r of res) {
    const job = await timers.getJob(jobIdOf(r.json()))
    t.equal(job?.data.referralId, r.json().id, 'its timer job')
    // Fires a second after the end of the due day, counted from when it was scheduled (during this test).
    const due = endOfShanghaiDay(r.json().deadlines.acceptanceDueOn).getTime() + 1_000
    t.ok(job!.opts.delay! >= due - Date.now() && job!.opts.delay! <= due - started, 'its delay')
  }
})

t.test('one addBulk per turn, however many callers; a failure reaches every caller of that turn', async (t) => {
  const calls: number[] = []
  const fake = {
    addBulk: async (jobs: unknown[]) => {
      calls.push(jobs.length)
      if (calls.length === 2) throw new Error('redis down')
      return []
    },
  }
  const s = new TimerScheduler(fake as unknown as typeof timers)
  const at = new Date(Date.now() + 86_400_000)
  await Promise.all([
    s.schedule([{ referralId: 'a', dueAt: at }]),
    s.schedule([
      { referralId: 'b', dueAt: at },
      { referralId: 'c', dueAt: at },
    ]),
    s.schedule([]),
  ])
  t.same(calls, [3], 'three timers of one turn, one addBulk')
  const failing = [s.schedule([{ referralId: 'd', dueAt: at }]), s.schedule([{ referralId: 'e', dueAt: at }])]
  for (const p of failing) await t.rejects(p, /redis down/, 'each caller learns of the failure')
  await s.schedule([{ referralId: 'f', dueAt: at }])
  t.same(calls, [3, 2, 1], 'the next turn is a batch of its own')
})

t.test('a calendar recomputation of thousands: addBulk in chunks of 500, all of them scheduled', async (t) => {
  const at = new Date(Date.now() + 86_400_000)
  const s = new TimerScheduler(timers)
  const ids = Array.from({ length: 1_203 }, (_, i) => `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`)
  await s.schedule(ids.map((referralId) => ({ referralId, dueAt: at })))
  const found = await Promise.all([ids[0]!, ids[600]!, ids[1_202]!].map((id) => timers.getJob(`${id}_${at.getTime()}`)))
  t.same(
    found.map((j) => j?.data.referralId),
    [ids[0], ids[600], ids[1_202]],
  )
  t.ok((await timers.getDelayedCount()) >= 1_203)
})
