/**
 * Worker thread of the scale seeder: generates referrals with their history (bench/lib/history.mjs) in batches and
 * posts them to the main thread as JSON text ready for json_populate_recordset. At most `inFlight` batches wait for the
 * main thread's acknowledgement, so memory stays flat however many rows are seeded.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { LegalCalendar } from '../../dist/src/domain/calendar.js'
import { loadShippedCalendarData } from '../../dist/src/db/calendar-repository.js'
import { referralFactory, rng } from './bodies.mjs'
import { historyGenerator, referralRow } from './history.mjs'
import { benchCipher } from './shape.mjs'

const { count, batch, from, to, seed, inFlight = 2 } = workerData
const next = historyGenerator({
  r: rng(seed),
  factory: referralFactory({ seed: seed + 1 }),
  cal: new LegalCalendar(loadShippedCalendarData()),
  cipher: benchCipher(),
  from,
  to,
  count,
})

let unacked = 0
let wake
parentPort.on('message', () => {
  unacked--
  wake?.()
})

for (let done = 0; done < count;) {
  const n = Math.min(batch, count - done)
  const referrals = []
  const events = []
  const parties = []
  for (let i = 0; i < n; i++) {
    const { ref, events: evs, hashes } = next()
    referrals.push(referralRow(ref))
    for (const e of evs) events.push(e)
    for (const h of new Set(hashes)) parties.push({ subject_id: ref.id, id_hash: h })
  }
  done += n
  while (unacked >= inFlight) await new Promise((resolve) => (wake = resolve))
  unacked++
  parentPort.postMessage({
    n,
    e: events.length,
    p: parties.length,
    referrals: JSON.stringify(referrals),
    events: JSON.stringify(events),
    parties: JSON.stringify(parties),
  })
}
parentPort.postMessage({ done: true })
