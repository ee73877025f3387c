import { describe, expect, it, vi } from 'vitest';
import { Batcher, bisect, sendInBatches } from '../../src/lib/batching.js';

class Refused extends Error {}

/** An all-or-nothing receiver, as Moodle's create_users: one bad item refuses the whole batch. */
function receiver(bad: Set<number>) {
  const calls: number[][] = [];
  const accepted: number[] = [];
  const send = async (batch: number[]) => {
    calls.push(batch);
    if (batch.some((x) => bad.has(x))) throw new Refused(`refused ${batch.join(',')}`);
    accepted.push(...batch);
  };
  return { calls, accepted, send };
}

describe('bisect', () => {
  it.each([
    [10, []],
    [10, [3]],
    [100, [0, 99]],
    [7, [0, 1, 2, 3, 4, 5, 6]],
    [1, [0]],
  ])('of %i items with bad %j: every good item goes through, each bad one fails alone', async (n, badList) => {
    const items = Array.from({ length: n }, (_, i) => i);
    const r = receiver(new Set(badList));
    const out = await bisect(items, r.send, (e) => e instanceof Refused);
    expect(r.accepted.sort((a, b) => a - b)).toEqual(items.filter((i) => !badList.includes(i)));
    expect(out.map((e, i) => (e === undefined ? null : i)).filter((i) => i !== null)).toEqual(badList);
    if (!badList.length) expect(r.calls).toHaveLength(1);
  });

  it('needs about log2(n) calls per bad item', async () => {
    const r = receiver(new Set([57]));
    await bisect(Array.from({ length: 100 }, (_, i) => i), r.send, (e) => e instanceof Refused);
    expect(r.calls.length).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(100)));
  });

  it('passes on an error that is not a refusal, without splitting', async () => {
    const calls: number[][] = [];
    const send = async (b: number[]) => { calls.push(b); throw new Error('ECONNRESET'); };
    await expect(bisect([1, 2, 3, 4], send, (e) => e instanceof Refused)).rejects.toThrow('ECONNRESET');
    expect(calls).toHaveLength(1);
  });
});

describe('Batcher', () => {
  it('with partialInFlight, keys arriving one by one while a partial call is out leave together when it returns; a full call leaves at once', async () => {
    const calls: number[][] = [];
    const pending: (() => void)[] = [];
    const b = new Batcher<number, number>((keys) => new Promise((r) => {
      calls.push(keys);
      pending.push(() => r(new Map(keys.map((k) => [k, k * 10]))));
    }), 3, () => -1, 0, 1);
    const tick = () => new Promise((r) => setImmediate(r));
    const first = b.load(1);
    await tick();
    expect(calls).toEqual([[1]]);
    // Arriving in separate turns while [1] is out: they wait, then go as one call.
    const later = [b.load(2)];
    await tick();
    later.push(b.load(3));
    await tick();
    expect(calls).toEqual([[1]]);
    // A full batch does not wait for the partial one.
    const full = [b.load(4), b.load(5), b.load(6)];
    expect(calls).toEqual([[1], [2, 3, 4]]);
    pending.shift()!();
    expect(await first).toBe(10);
    await tick();
    expect(calls).toEqual([[1], [2, 3, 4], [5, 6]]);
    for (const p of pending.splice(0)) p();
    expect(await Promise.all([...later, ...full])).toEqual([20, 30, 40, 50, 60]);
  });

  it('coalesces loads of one turn into calls of at most max keys, and answers each key', async () => {
    const calls: string[][] = [];
    const b = new Batcher<string, string[]>(async (keys) => {
      calls.push(keys);
      return new Map(keys.filter((k) => k !== 'none').map((k) => [k, [k.toUpperCase()]]));
    }, 3, () => []);
    const got = await Promise.all(['a', 'b', 'a', 'c', 'd', 'none'].map((k) => b.load(k)));
    expect(got).toEqual([['A'], ['B'], ['A'], ['C'], ['D'], []]);
    expect(calls).toEqual([['a', 'b'], ['c', 'd', 'none']]);
  });

  it('rejects every load of a failed call', async () => {
    const b = new Batcher<string, number>(async () => { throw new Error('down'); }, 10, () => 0);
    await expect(Promise.all([b.load('x'), b.load('y')])).rejects.toThrow('down');
  });
});

describe('sendInBatches', () => {
  it('sends in batches of size, bisects a refused one, and returns each refused item with its refusal', async () => {
    const r = receiver(new Set([4, 17]));
    const refusals = await sendInBatches(Array.from({ length: 25 }, (_, i) => i), { size: 10, concurrency: 2, send: r.send, refused: (e) => e instanceof Refused });
    expect(refusals.map((x) => x.item).sort((a, b) => a - b)).toEqual([4, 17]);
    expect(refusals.every((x) => x.error instanceof Refused)).toBe(true);
    expect(r.accepted.sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i).filter((i) => i !== 4 && i !== 17));
    expect(Math.max(...r.calls.map((c) => c.length))).toBe(10);
  });

  it('throws an error that is not a refusal once the batches in flight have settled, and starts no new batch', async () => {
    const started: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let settledAfterThrow = true;
    const send = async (batch: number[]) => {
      started.push(batch[0]!);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((res) => setImmediate(res));
      inFlight--;
      if (batch[0] === 0) throw new Error('ECONNRESET');
    };
    await expect(sendInBatches(Array.from({ length: 50 }, (_, i) => i), { size: 5, concurrency: 2, send, refused: (e) => e instanceof Refused })
      .finally(() => { settledAfterThrow = inFlight === 0; })).rejects.toThrow('ECONNRESET');
    expect(settledAfterThrow).toBe(true);
    expect(maxInFlight).toBe(2);
    // The first two batches ran together; after the failure at most the batch already started continues, nothing more.
    expect(started.length).toBeLessThanOrEqual(3);
  });

  it('sends nothing for no items', async () => {
    const r = receiver(new Set());
    expect(await sendInBatches([], { size: 10, concurrency: 2, send: r.send, refused: () => true })).toEqual([]);
    expect(r.calls).toEqual([]);
  });
});

describe('Batcher with a linger', () => {
  it('lets callers that come a few milliseconds apart meet in one call; without it each goes alone', async () => {
    vi.useFakeTimers();
    try {
      for (const [linger, want] of [[10, [['a', 'b', 'c']]], [0, [['a'], ['b'], ['c']]]] as const) {
        const calls: string[][] = [];
        const b = new Batcher<string, string>(async (keys) => { calls.push(keys); return new Map(keys.map((k) => [k, k.toUpperCase()])); }, 100, () => '', linger);
        const got: Promise<string>[] = [];
        for (const k of ['a', 'b', 'c']) {
          got.push(b.load(k));
          await vi.advanceTimersByTimeAsync(3);
        }
        await vi.advanceTimersByTimeAsync(20);
        expect(await Promise.all(got)).toEqual(['A', 'B', 'C']);
        expect(calls).toEqual(want);
      }
    } finally {
      vi.useRealTimers();
    }
  });
});
