import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, sleep, type BackoffPolicy } from '../../src/lib/backoff.js';

/** A random() that returns the given draws in turn. */
const draws = (...xs: number[]) => { let i = 0; return () => xs[i++ % xs.length]!; };
const policy = (jitter: BackoffPolicy['jitter'], baseMs = 100, capMs = 1_000): BackoffPolicy => ({ baseMs, capMs, jitter });

describe('backoff', () => {
  it.each([
    // jitter, attempt, draw, Retry-After, expected wait
    ['none', 1, 0.5, 0, 100],
    ['none', 2, 0.5, 0, 200],
    ['none', 4, 0.5, 0, 800],
    ['none', 5, 0.5, 0, 1_000],        // capped
    ['none', 2000, 0.5, 0, 1_000],     // 2^1999 is Infinity: still the cap
    ['full', 1, 0.5, 0, 50],
    ['full', 3, 0.25, 0, 100],         // a quarter of 400
    ['full', 3, 0, 0, 0],              // full jitter may retry at once
    ['full', 9, 0.999, 0, 999],        // never above the cap
    ['full', 3, 0.25, 350, 350],       // Retry-After is a floor over the draw
    ['full', 3, 0.9, 50, 360],         // a smaller Retry-After changes nothing
    ['full', 9, 0.5, 7_000, 7_000],    // the server's word wins over the cap
    ['none', 1, 0.5, Number.NaN, 100], // an unparsable Retry-After is ignored
  ] as const)('%s jitter, attempt %i, draw %f, Retry-After %f → %i ms', (jitter, attempt, draw, retryAfter, want) => {
    expect(backoffDelay(policy(jitter), attempt, retryAfter, () => draw)).toBe(want);
  });

  it('a Backoff walks the schedule and starts over after reset', () => {
    const b = new Backoff(policy('none'));
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(b.attempt).toBe(6);
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.next()).toBe(100);
  });

  it('decorrelated jitter draws between base and three times the previous wait, capped', () => {
    const b = new Backoff(policy('decorrelated', 100, 1_000), draws(1, 1, 0, 1, 1));
    // previous starts at base: [100, 300] → 300; [100, 900] → 900; [100, 2700] at 0 → 100; → 300; → 900
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([300, 900, 100, 300, 900]);
    const capped = new Backoff(policy('decorrelated', 100, 1_000), draws(1));
    expect([capped.next(), capped.next(), capped.next(), capped.next()]).toEqual([300, 900, 1_000, 1_000]);
    expect(new Backoff(policy('decorrelated'), draws(0)).next(450)).toBe(450);
  });

  it('every draw stays within [0, cap] (full) and [base, cap] (decorrelated)', () => {
    const full = new Backoff(policy('full'));
    const dec = new Backoff(policy('decorrelated'));
    for (let i = 0; i < 1_000; i++) {
      const f = full.next();
      const d = dec.next();
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThanOrEqual(1_000);
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(1_000);
    }
  });

  it('refuses a policy that cannot work', () => {
    expect(() => new Backoff({ baseMs: 0, capMs: 10 })).toThrow(/0 < baseMs <= capMs/);
    expect(() => backoffDelay({ baseMs: 100, capMs: 10 }, 1)).toThrow(/0 < baseMs <= capMs/);
    expect(() => backoffDelay(policy('decorrelated'), 2)).toThrow(/use a Backoff/);
  });

  it('sleep ends early when its signal aborts', async () => {
    const ac = new AbortController();
    const slept = sleep(3_600_000, ac.signal);
    ac.abort();
    await expect(slept).resolves.toBeUndefined();
    await expect(sleep(10_000, AbortSignal.abort())).resolves.toBeUndefined();
  });
});
