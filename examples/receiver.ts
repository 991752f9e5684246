/**
 * A sample webhook receiver for the connector: verifies the Standard Webhooks signature, deduplicates on
 * `webhook-id` (deliveries are at least once), answers 204 at once and processes the event afterwards (the connector
 * waits at most 15 s for an answer; slow work belongs after the answer).
 *
 * Run it (after `npm run build:tools`): `WEBHOOK_SECRET=whsec_… PORT=8080 node dist/examples/receiver.js`
 * - `WEBHOOK_SECRET`: the subscription's secret (several comma-separated while rotating), or
 *   `WEBHOOK_SECRET_FILE`: a file holding one secret per line, read at each request (so it can be filled in after
 *   the subscription is created, as examples/walkthrough.sh does);
 * - `WEBHOOK_ALGORITHM`: `hmac-sha256` (default) or `hmac-sm3`, as the subscription's `signatureAlgorithm`;
 * - `PORT` (default 8080; 0 picks a free port), `HOST` (default 127.0.0.1).
 * It prints one JSON line per event processed, and first `{"listening":"http://…"}`.
 *
 * In your own code the import is `from 'zdz-connector/client'`.
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { verifyWebhook, WebhookVerificationError, type WebhookAlgorithm } from '../src/client/index.js'

/** The §4 envelope, as far as this receiver reads it. */
export interface WebhookEvent {
  id: string
  type: string
  sequence: number
  subject: { kind: string; id: string }
  data: Record<string, unknown>
}

export interface ReceiverOptions {
  /** Secrets to verify with; a function is called at each request (secrets that change while running). */
  secrets: readonly string[] | (() => readonly string[])
  algorithm?: WebhookAlgorithm
  /** What to do with each new event, after the answer was sent. */
  onEvent: (event: WebhookEvent) => void | Promise<void>
  /** Event ids remembered for deduplication. @defaultValue 10 000 */
  rememberIds?: number
  port?: number
  host?: string
}

export interface Receiver {
  url: string
  server: http.Server
  /** Deliveries refused (bad signature, stale timestamp, missing headers). */
  refused: number
  /** Deliveries answered 204 without processing because their webhook-id was seen before. */
  duplicates: number
  close(): Promise<void>
}

/** Starts the receiver; resolves once it listens. */
export async function startReceiver(opts: ReceiverOptions): Promise<Receiver> {
  const max = opts.rememberIds ?? 10_000
  // Insertion-ordered: the oldest id is forgotten first, so memory stays bounded.
  const seen = new Set<string>()
  const state = { refused: 0, duplicates: 0 }
  const secretsNow = () => (typeof opts.secrets === 'function' ? opts.secrets() : opts.secrets)

  const server = http.createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405).end()
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= 2 * 1024 * 1024) chunks.push(c)
    })
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      let event: WebhookEvent
      let id: string
      try {
        const verified = verifyWebhook<WebhookEvent>({ secrets: secretsNow(), headers: req.headers, body, algorithm: opts.algorithm })
        event = verified.payload
        id = verified.id
      } catch (err) {
        state.refused++
        // 401: not retried by the connector. Say why, briefly; never process an unverified body.
        res.writeHead(401, { 'content-type': 'text/plain' }).end(err instanceof WebhookVerificationError ? err.code : 'invalid')
        return
      }
      const duplicate = seen.has(id)
      if (!duplicate) {
        seen.add(id)
        if (seen.size > max) seen.delete(seen.values().next().value as string)
      } else {
        state.duplicates++
      }
      // Answer first: the connector only needs to know the event arrived.
      res.writeHead(204).end()
      if (!duplicate) {
        setImmediate(() => {
          Promise.resolve(opts.onEvent(event)).catch((err: unknown) => {
            // A failure here is ours to handle (the event was acknowledged): log it, fetch the case again later.
            process.stderr.write(`processing ${id} failed: ${String(err)}\n`)
          })
        })
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', resolve))
  const address = server.address() as AddressInfo
  return {
    url: `http://${address.address}:${address.port}/webhooks`,
    server,
    get refused() {
      return state.refused
    },
    get duplicates() {
      return state.duplicates
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** Secrets from WEBHOOK_SECRET (comma-separated) and/or WEBHOOK_SECRET_FILE (one per line, read each time). */
function secretsFromEnv(env: NodeJS.ProcessEnv): () => string[] {
  return () => {
    const list = (env.WEBHOOK_SECRET ?? '').split(',')
    if (env.WEBHOOK_SECRET_FILE) {
      try {
        list.push(...readFileSync(env.WEBHOOK_SECRET_FILE, 'utf8').split('\n'))
      } catch {
        // not written yet: nothing verifies until it is
      }
    }
    return list.map((s) => s.trim()).filter(Boolean)
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const algorithm = (process.env.WEBHOOK_ALGORITHM ?? 'hmac-sha256') as WebhookAlgorithm
  const receiver = await startReceiver({
    secrets: secretsFromEnv(process.env),
    algorithm,
    port: Number(process.env.PORT ?? 8080),
    host: process.env.HOST ?? '127.0.0.1',
    onEvent: (event) => {
      process.stdout.write(`${JSON.stringify({ webhookId: event.id, type: event.type, subject: event.subject, sequence: event.sequence })}\n`)
    },
  })
  process.stdout.write(`${JSON.stringify({ listening: receiver.url })}\n`)
  const stop = () => void receiver.close().then(() => process.exit(0))
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
