/**
 * Coalesces the single-item requests that concurrent callers make within one event-loop turn into one batch call
 * (one SQL statement for many deliveries, rather than one per delivery).
 *
 * A request waits at most until the end of the current turn (`setImmediate`) while fewer than `maxInFlight` batches
 * are running; otherwise it joins the next batch, which goes as soon as one finishes, so batches grow with the load
 * and a lone request is not held back. Requests with the same key never share a batch, nor run beside one another
 * (a statement that names a row twice could apply either request, and so could two statements at once): a second
 * one waits for a batch after the first one's has finished, as if it had come later.
 *
 * A batch call that fails is retried item by item (`one`), so one item that cannot be written (a broken row, a
 * constraint) fails alone and the others go through; the batch call is one statement, so its failure applied
 * nothing. A batch of one is not retried: its failure is that item's.
 */
export interface CoalescerOptions<I, O> {
  /** Runs a batch; returns one result per item, in order. */
  many(items: I[]): Promise<O[]>
  /** Runs one item alone (after its batch failed). */
  one(item: I): Promise<O>
  /** Items with equal keys never share a batch. */
  key(item: I): string
  /** @defaultValue 500 */
  maxBatch?: number
  /** @defaultValue 2 */
  maxInFlight?: number
}

interface Waiting<I, O> {
  item: I
  resolve(o: O): void
  reject(err: unknown): void
}

export class Coalescer<I, O> {
  readonly #o: Required<CoalescerOptions<I, O>>
  #queue: Array<Waiting<I, O>> = []
  #scheduled = false
  #inFlight = 0
  /** Keys of the requests in the batches under way. */
  readonly #busy = new Set<string>()
  /** Batches sent and items in them, for tests and diagnostics. */
  readonly stats = { batches: 0, items: 0, fallbacks: 0 }

  constructor(opts: CoalescerOptions<I, O>) {
    this.#o = { maxBatch: 500, maxInFlight: 2, ...opts }
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject })
      this.#schedule()
    })
  }

  #schedule(): void {
    if (this.#scheduled || !this.#queue.length || this.#inFlight >= this.#o.maxInFlight) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#flush()
    })
  }

  #flush(): void {
    while (this.#queue.length && this.#inFlight < this.#o.maxInFlight) {
      const batch: Array<Waiting<I, O>> = []
      const keys: string[] = []
      const rest: Array<Waiting<I, O>> = []
      for (const w of this.#queue) {
        const k = this.#o.key(w.item)
        if (batch.length < this.#o.maxBatch && !this.#busy.has(k)) {
          this.#busy.add(k)
          keys.push(k)
          batch.push(w)
        } else {
          rest.push(w)
        }
      }
      this.#queue = rest
      // Everything left waits for a key under way: a batch that finishes will send it.
      if (!batch.length) return
      this.#inFlight++
      void this.#run(batch).finally(() => {
        for (const k of keys) this.#busy.delete(k)
        this.#inFlight--
        this.#schedule()
      })
    }
  }

  async #run(batch: Array<Waiting<I, O>>): Promise<void> {
    this.stats.batches++
    this.stats.items += batch.length
    let results: O[]
    try {
      results = await this.#o.many(batch.map((w) => w.item))
    } catch (err) {
      if (batch.length === 1) {
        batch[0].reject(err)
        return
      }
      this.stats.fallbacks++
      await Promise.all(
        batch.map(async (w) => {
          try {
            w.resolve(await this.#o.one(w.item))
          } catch (e) {
            w.reject(e)
          }
        }),
      )
      return
    }
    batch.forEach((w, k) => w.resolve(results[k]))
  }
}
