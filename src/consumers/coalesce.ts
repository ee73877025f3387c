/**
 * Coalescing a chunk's events: reconciliation is level-based (it reads the person's current
 * record, not the event), so a person's events that ask for the same kind of work are done by
 * one reconcile, carried by the last of them. Events of different kinds (another run, log-only
 * against live) are not merged: each kind keeps its own reconcile and its own result.
 */
export interface ChunkEvent<E> {
  /** Position in the chunk (offset order). */
  index: number;
  /** The person. */
  key: string;
  /** Events with equal `work` of one person may share a reconcile (e.g. `${runId}|${logOnly}`). */
  work: string;
  event: E;
}

/** One reconcile: done for `carrier`, standing for `coalesced` too. */
export interface Work<E> {
  key: string;
  carrier: ChunkEvent<E>;
  coalesced: ChunkEvent<E>[];
}

/**
 * A person's events become one Work per run of consecutive events (consecutive among that
 * person's events) with the same `work`; the last event of the run carries it. The Works of one
 * person come out in their order.
 */
export function coalesce<E>(events: ChunkEvent<E>[]): Work<E>[] {
  const open = new Map<string, Work<E>>();
  const out: Work<E>[] = [];
  for (const e of events) {
    const w = open.get(e.key);
    if (w && w.carrier.work === e.work) {
      w.coalesced.push(w.carrier);
      w.carrier = e;
      continue;
    }
    const next: Work<E> = { key: e.key, carrier: e, coalesced: [] };
    open.set(e.key, next);
    out.push(next);
  }
  return out;
}

/** Splits items into waves: the n-th item of every key. Each wave may run in parallel; waves run in order. */
export function waves<T extends { key: string }>(items: T[]): T[][] {
  const seen = new Map<string, number>();
  const out: T[][] = [];
  for (const it of items) {
    const n = seen.get(it.key) ?? 0;
    seen.set(it.key, n + 1);
    (out[n] ??= []).push(it);
  }
  return out;
}

/** How many of the chunk's events, from its start, are finished: the offset may move past those only. */
export function finishedPrefix(finished: boolean[]): number {
  const i = finished.indexOf(false);
  return i < 0 ? finished.length : i;
}
