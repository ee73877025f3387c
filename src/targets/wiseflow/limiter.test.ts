import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RateLimiter } from './limiter.js';

/** A request's turn, watched: `sent` once the limiter let it leave. */
function ask(l: RateLimiter) {
  const w = { sent: false, done: undefined as (() => void) | undefined };
  void l.acquire().then((done) => { w.sent = true; w.done = done; });
  return w;
}

describe('WISEflow rate limiter', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('counts a request until a second after its answer: one answered late keeps the next one back', async () => {
    const l = new RateLimiter({ perSecond: 2, perMinute: 100 });
    const a = ask(l), b = ask(l), c = ask(l);
    await vi.advanceTimersByTimeAsync(0);
    expect([a.sent, b.sent, c.sent]).toEqual([true, true, false]);
    // Both in flight: no place, however long since they left.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(c.sent).toBe(false);
    a.done!();
    // Answered now: counted for a second from the answer, not from when it left.
    await vi.advanceTimersByTimeAsync(900);
    expect(c.sent).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(c.sent).toBe(true);
  });

  it('holds at most perMinute in any minute', async () => {
    const l = new RateLimiter({ perSecond: 1_000, perMinute: 3 });
    const first = [ask(l), ask(l), ask(l)];
    await vi.advanceTimersByTimeAsync(0);
    for (const w of first) w.done!();
    const fourth = ask(l);
    await vi.advanceTimersByTimeAsync(59_000);
    expect(fourth.sent).toBe(false);
    await vi.advanceTimersByTimeAsync(1_200);
    expect(fourth.sent).toBe(true);
  });

  it('a 429 pauses every caller for its Retry-After', async () => {
    const l = new RateLimiter({ perSecond: 100, perMinute: 100 });
    l.pause(1_000);
    const w = ask(l);
    await vi.advanceTimersByTimeAsync(900);
    expect(w.sent).toBe(false);
    await vi.advanceTimersByTimeAsync(150);
    expect(w.sent).toBe(true);
  });
});
