/**
 * The webhook receiver of the end-to-end and drain phases, run as a child process (fork) so that the load
 * generator's event loop does not delay receipts. It verifies nothing: it records, per webhook-id, when the
 * request was fully received (wall clock, sub-millisecond) and the referral id in the event data.
 *
 * Control over IPC: {cmd:'mode', mode:'ok'|'503'}, {cmd:'stats'}, {cmd:'receipts'}, {cmd:'reset'}.
 */
import http from 'node:http'
import { performance } from 'node:perf_hooks'

const now = () => performance.timeOrigin + performance.now()
let mode = 'ok'
/** webhook-id → [referralId, receivedAtMs] of the first accepted request */
let receipts = new Map()
let requests = 0
let refused = 0
let lastAt = 0

const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const at = now()
    requests++
    if (mode !== 'ok') {
      refused++
      res.writeHead(503)
      res.end()
      return
    }
    const webhookId = String(req.headers['webhook-id'] ?? '')
    if (!receipts.has(webhookId)) {
      let referralId
      try {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        referralId = event?.data?.referral?.id ?? event?.subject?.id ?? null
      } catch {
        referralId = null
      }
      receipts.set(webhookId, [referralId, at])
      lastAt = at
    }
    res.writeHead(204)
    res.end()
  })
})
server.keepAliveTimeout = 5_000

process.on('message', (m) => {
  switch (m.cmd) {
    case 'mode':
      mode = m.mode
      process.send({ ok: true })
      break
    case 'stats':
      process.send({ distinct: receipts.size, requests, refused, lastAt })
      break
    case 'receipts':
      process.send({ receipts: [...receipts.values()] })
      break
    case 'reset':
      receipts = new Map()
      requests = 0
      refused = 0
      lastAt = 0
      process.send({ ok: true })
      break
    case 'exit':
      server.closeAllConnections()
      server.close(() => process.exit(0))
      break
  }
})

server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
