/**
 * Batching for targets whose systems take many items per call: coalescing single reads into one
 * call, and sending writes in batches where a refused batch is bisected to find the bad item.
 */
import { chunks, mapLimit } from './concurrency.js';

/**
 * Coalesces single-key reads that arrive together into one call of up to `max` keys (the
 * DataLoader idea). The runtime asks for one person at a time, but many at once: their lookups
 * leave in one call instead of one call each.
 */
export class Batcher<K, V> {
  private queue: { key: K; resolve: (v: V) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  /** Calls in flight that left with fewer than `max` keys. */
  private partial = 0;

  /**
   * `fetch` answers every key it is given (a key it has nothing for gets the caller's empty value).
   * `lingerMs`: how long the first key of a call waits for others; 0 (default) only for the callers
   * of the same turn. Callers that arrive a few milliseconds apart (each after its own reads) meet
   * only when it is more.
   * `partialInFlight`: at most this many calls with fewer than `max` keys in flight; keys that
   * arrive meanwhile wait for one to come back and then leave together (a full call always leaves
   * at once). Where every call counts against a quota (a rate limit), callers that arrive one by
   * one then share calls without a fixed wait when they do not.
   */
  constructor(private readonly fetch: (keys: K[]) => Promise<Map<K, V>>, private readonly max: number, private readonly empty: () => V,
    private readonly lingerMs = 0, private readonly partialInFlight = Infinity) {}

  private timer: NodeJS.Timeout | undefined;

  load(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      if (this.queue.length >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // After the callers of this turn have queued theirs (setImmediate runs after pending I/O callbacks).
        if (this.lingerMs > 0) this.timer = setTimeout(() => this.flush(), this.lingerMs);
        else setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.scheduled = false;
    while (this.queue.length >= this.max) this.send(this.queue.splice(0, this.max), false);
    if (this.queue.length && this.partial < this.partialInFlight) this.send(this.queue.splice(0), true);
  }

  private send(batch: typeof this.queue, partial: boolean): void {
    if (partial) this.partial++;
    const keys = [...new Set(batch.map((b) => b.key))];
    this.fetch(keys).then(
      (found) => { for (const b of batch) b.resolve(found.get(b.key) ?? this.empty()); },
      (e: unknown) => { for (const b of batch) b.reject(e); },
    ).finally(() => {
      if (!partial) return;
      this.partial--;
      // What queued while it was out leaves now, unless a flush is already on its way.
      if (this.queue.length && !this.scheduled) this.flush();
    });
  }
}

/**
 * Sends items in one call; when the call is refused as a whole (a system that rolls back the entire batch
 * on one bad item), splits it in halves and tries again, down to single items, so one bad item
 * fails alone. `refused(e)` says which errors mean "this batch was refused" (others propagate:
 * a transient error retries the whole wave). Returns, per item, undefined (sent) or its refusal.
 */
export async function bisect<T>(items: T[], send: (batch: T[]) => Promise<void>, refused: (e: unknown) => boolean): Promise<(unknown | undefined)[]> {
  const out = new Array<unknown | undefined>(items.length).fill(undefined);
  const run = async (lo: number, hi: number): Promise<void> => {
    try {
      await send(items.slice(lo, hi));
    } catch (e) {
      if (!refused(e)) throw e;
      if (hi - lo === 1) {
        out[lo] = e;
        return;
      }
      const mid = lo + Math.ceil((hi - lo) / 2);
      // In order, not in parallel: two halves can clash with each other (the same new username twice).
      await run(lo, mid);
      await run(mid, hi);
    }
  };
  if (items.length) await run(0, items.length);
  return out;
}

export interface BatchSending<T> {
  /** Items per call. */
  size: number;
  /** Calls in flight at once. */
  concurrency: number;
  send: (batch: T[]) => Promise<void>;
  /** Which errors mean "this batch was refused"; any other error is thrown once every batch has settled. */
  refused: (e: unknown) => boolean;
}

/**
 * Sends `items` in batches of `size`, `concurrency` at once, each bisected on refusal. Returns the
 * refused items with their refusal; the others were sent. A non-refusal error (transient, or
 * about the system rather than an item) is thrown after the batches in flight have settled, so a
 * retry never overlaps calls still running.
 */
export async function sendInBatches<T>(items: T[], o: BatchSending<T>): Promise<{ item: T; error: unknown }[]> {
  const refusals: { item: T; error: unknown }[] = [];
  let failure: { e: unknown } | undefined;
  await mapLimit(chunks(items, o.size), o.concurrency, async (batch) => {
    if (failure) return;
    try {
      const out = await bisect(batch, o.send, o.refused);
      out.forEach((error, k) => { if (error !== undefined) refusals.push({ item: batch[k]!, error }); });
    } catch (e) {
      failure ??= { e };
    }
  });
  if (failure) throw failure.e;
  return refusals;
}
