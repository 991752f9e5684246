/**
 * Decryption of many fields at once on threads of their own: a list page of 50 full views decrypts ~500 fields,
 * ~3.5 ms of CPU that would otherwise hold the one event loop every other request waits on. The page's tokens go
 * to a thread in one message and come back as plaintexts in one message (~0.2 ms of the event loop's time).
 *
 * The pool only ever helps: whenever it cannot answer (no thread, a thread that failed or stopped answering, a
 * token that does not decrypt) it answers `undefined`, and the caller decrypts on its own thread exactly as without
 * a pool, with the errors that brings. Threads start on first use (a process that never lists cases starts none),
 * do not keep the process alive while idle, and are restarted after a failure, at most once per
 * {@link RESTART_AFTER_MS}.
 */
import { isMainThread, type MessagePort, parentPort, Worker, workerData } from 'node:worker_threads'
import { type DataKey, FieldCipher } from './field-cipher.js'

/** After a thread failed, its slot decrypts nothing (callers decrypt themselves) for this long before a new thread. */
const RESTART_AFTER_MS = 5_000
/** A thread that has not built its cipher within this (it loads its module first) is given up and replaced. */
const START_WITHIN_MS = 60_000
/** A request not answered within this once its thread is ready is given up (the caller decrypts itself) and its thread replaced. */
const ANSWER_WITHIN_MS = 5_000
/** What marks a thread started by the pool, in its `workerData`. */
const THREAD_ROLE = 'zdz-decrypt-pool'

interface Request {
  id: number
  tokens: string[]
  contexts: string[]
}

/** A thread's answer to a request (no `plain`: a field did not decrypt), or its word that it is ready. */
type Reply = { id: number; plain?: string[] } | { ready: true }

interface Pending {
  answer: (plain: string[] | undefined) => void
  timer?: NodeJS.Timeout
}

interface Slot {
  worker?: Worker
  /** The thread has built its cipher. Requests sent before wait in its port, and their time counts from then. */
  ready: boolean
  pending: Map<number, Pending>
  failedAt?: number
}

export class DecryptPool {
  readonly #keys: Array<{ id: string; key: Buffer }>
  readonly #slots: Slot[]
  readonly #onError: (err: Error) => void
  #next = 0
  #seq = 0
  #closed = false

  /**
   * @param keys the data keys of the process's {@link FieldCipher} (each thread builds its own from them).
   * @param threads how many threads; 0 makes a pool that always answers `undefined`.
   * @param onError told of a thread that failed, exited or stopped answering (the pool carries on without it).
   */
  constructor(keys: readonly DataKey[], threads: number, onError: (err: Error) => void) {
    this.#keys = keys.map((k) => ({ id: k.id, key: Buffer.from(k.key) }))
    this.#slots = Array.from({ length: threads }, () => ({ ready: false, pending: new Map() }))
    this.#onError = onError
  }

  /**
   * The plaintexts of `tokens`, each decrypted with the context at the same index of `contexts`, in order; or
   * `undefined` when the pool cannot answer (see the module's comment).
   */
  decrypt(tokens: string[], contexts: string[]): Promise<string[] | undefined> {
    if (this.#closed || !this.#slots.length || tokens.length !== contexts.length) return Promise.resolve(undefined)
    const slot = this.#slots[this.#next]!
    this.#next = (this.#next + 1) % this.#slots.length
    const worker = this.#workerOf(slot)
    if (!worker) return Promise.resolve(undefined)
    const id = ++this.#seq
    return new Promise((answer) => {
      if (!slot.pending.size) worker.ref()
      const pending: Pending = { answer }
      slot.pending.set(id, pending)
      if (slot.ready) this.#time(worker, pending)
      worker.postMessage({ id, tokens, contexts } satisfies Request)
    })
  }

  /** Stops every thread; requests in flight answer `undefined`. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(this.#slots.map((s) => s.worker?.terminate()))
  }

  /** Gives up on `worker` unless it answers `pending` in time. Its exit answers every request it holds. */
  #time(worker: Worker, pending: Pending): void {
    pending.timer = setTimeout(() => {
      this.#onError(new Error(`decryption thread did not answer within ${ANSWER_WITHIN_MS} ms; replacing it`))
      void worker.terminate()
    }, ANSWER_WITHIN_MS)
    pending.timer.unref()
  }

  #workerOf(slot: Slot): Worker | undefined {
    if (slot.worker) return slot.worker
    if (slot.failedAt !== undefined && Date.now() - slot.failedAt < RESTART_AFTER_MS) return undefined
    let worker: Worker
    try {
      // The thread runs this very module, which serves when it finds itself started so (the end of this file). A
      // file rather than `eval` code: Node runs its `--import` preloads (a loader of the sources, in tests) only there.
      worker = new Worker(new URL(import.meta.url), { workerData: { role: THREAD_ROLE, keys: this.#keys } })
    } catch (err) {
      slot.failedAt = Date.now()
      this.#onError(err as Error)
      return undefined
    }
    worker.unref()
    const starting = setTimeout(() => {
      this.#onError(new Error(`decryption thread did not start within ${START_WITHIN_MS} ms; replacing it`))
      void worker.terminate()
    }, START_WITHIN_MS)
    starting.unref()
    worker.on('message', (reply: Reply) => {
      if ('ready' in reply) {
        clearTimeout(starting)
        slot.ready = true
        for (const pending of slot.pending.values()) this.#time(worker, pending)
        return
      }
      const pending = slot.pending.get(reply.id)
      if (!pending) return
      slot.pending.delete(reply.id)
      clearTimeout(pending.timer)
      if (!slot.pending.size) worker.unref()
      pending.answer(reply.plain)
    })
    worker.on('error', (err) => this.#onError(err))
    worker.on('exit', (code) => {
      clearTimeout(starting)
      if (slot.worker === worker) {
        slot.worker = undefined
        slot.ready = false
      }
      if (!this.#closed) {
        slot.failedAt = Date.now()
        this.#onError(new Error(`decryption thread exited (code ${code})`))
      }
      const pending = [...slot.pending.values()]
      slot.pending.clear()
      for (const p of pending) {
        clearTimeout(p.timer)
        p.answer(undefined)
      }
    })
    slot.worker = worker
    slot.ready = false
    return worker
  }
}

/** The thread's side: decrypts what the pool sends with a {@link FieldCipher} of the same keys. */
function serveDecryptions(port: MessagePort, keys: Array<{ id: string; key: Uint8Array }>): void {
  const cipher = new FieldCipher(keys.map((k) => ({ id: k.id, key: Buffer.from(k.key) })))
  for (const k of keys) k.key.fill(0)
  port.postMessage({ ready: true } satisfies Reply)
  port.on('message', ({ id, tokens, contexts }: Request) => {
    let reply: Reply
    try {
      reply = { id, plain: tokens.map((t, i) => cipher.decrypt(t, contexts[i])) }
    } catch {
      // The caller decrypts on its own thread and meets the same failure there, with its code and message.
      reply = { id }
    }
    port.postMessage(reply)
  })
}

const started = workerData as { role?: unknown; keys?: Array<{ id: string; key: Uint8Array }> } | null
if (!isMainThread && parentPort && started?.role === THREAD_ROLE && started.keys) serveDecryptions(parentPort, started.keys)
