/**
 * Coalesces single-key reads that arrive together into one call of up to `max` keys (the
 * DataLoader idea). The runtime asks for one person at a time, but many at once: their lookups
 * leave in one core_user_get_users_by_field call instead of one call each.
 */
export class Batcher<K, V> {
  private queue: { key: K; resolve: (v: V) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  /** `fetch` answers every key it is given (a key it has nothing for gets the caller's empty value). */
  constructor(private readonly fetch: (keys: K[]) => Promise<Map<K, V>>, private readonly max: number, private readonly empty: () => V) {}

  load(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      if (this.queue.length >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // After the callers of this turn have queued theirs (setImmediate runs after pending I/O callbacks).
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.max);
      const keys = [...new Set(batch.map((b) => b.key))];
      this.fetch(keys).then(
        (found) => { for (const b of batch) b.resolve(found.get(b.key) ?? this.empty()); },
        (e: unknown) => { for (const b of batch) b.reject(e); },
      );
    }
  }
}

/**
 * Sends items in one call; when the call is refused as a whole (Moodle rolls back the entire batch
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
