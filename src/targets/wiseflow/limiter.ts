/**
 * The licence's rate limits held on the client's side: at most `perSecond` requests in any second
 * and `perMinute` in any minute (WISEflow counts both per credential, REFERENCE §3.4). FIFO, so a
 * burst of reads waits its turn instead of earning 429s; a 429 the server sends anyway pauses
 * every caller until its Retry-After has passed.
 *
 * A request is counted from when it leaves until a window's length after its answer came back:
 * WISEflow counted it at some moment in between, which the client cannot see (the request may wait
 * in the client's event loop, on the network, in the server's queue). Counted so, the next request
 * cannot reach the server inside the window of one it still counts, however the delays vary; a
 * window anchored at the send time instead is overtaken whenever one request is delayed more than
 * the next, and each 429 costs every caller a second's pause. The price is one response time per
 * window: a few percent of a second, nothing of a minute.
 *
 * Written here rather than taken from npm: the libraries at hand model one window (a token bucket
 * or a concurrency cap), and WISEflow's two windows interact (5,000/min is 83/s sustained, while
 * bursts of 200/s are allowed).
 */
export interface Limits { perSecond: number; perMinute: number }

/** Windows a hair longer than the server's, for clocks that tick a little differently. */
const SECOND_MS = 1_010;
const MINUTE_MS = 60_100;

export class RateLimiter {
  /** When the answers of counted requests came back, in order. */
  private readonly answered: number[] = [];
  private head = 0;
  /** Requests that left and have no answer yet: counted in every window until they do. */
  private inFlight = 0;
  private tail: Promise<void> = Promise.resolve();
  private pausedUntil = 0;
  /** Wakes the caller at the head of the line when an answer comes back. */
  private wake: (() => void) | undefined;

  constructor(readonly limits: Limits, private readonly now: () => number = Date.now) {}

  /**
   * Resolves when one more request may leave now, with the function to call when its answer (or
   * its failure) has come back. Call it exactly once.
   */
  acquire(): Promise<() => void> {
    const turn = this.tail.then(() => this.wait());
    this.tail = turn.then(() => {}, () => {});
    return turn;
  }

  /** The server said 429: nobody sends before `ms` have passed. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }

  private async wait(): Promise<() => void> {
    for (;;) {
      const now = this.now();
      while (this.head < this.answered.length && this.answered[this.head]! <= now - MINUTE_MS) this.head++;
      if (this.head > 4096) {
        this.answered.splice(0, this.head);
        this.head = 0;
      }
      let until = this.pausedUntil;
      let needAnswer = false;
      const windows = [
        { limit: this.limits.perMinute, ms: MINUTE_MS, from: this.head },
        { limit: this.limits.perSecond, ms: SECOND_MS, from: this.firstAfter(now - SECOND_MS) },
      ];
      for (const w of windows) {
        const counted = this.answered.length - w.from + this.inFlight;
        if (counted < w.limit) continue;
        // The oldest answers must leave the window until one place is free; requests still in flight cannot.
        const k = w.from + (counted - w.limit);
        if (k < this.answered.length) until = Math.max(until, this.answered[k]! + w.ms);
        else needAnswer = true;
      }
      if (until <= now && !needAnswer) {
        this.inFlight++;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          this.inFlight--;
          this.answered.push(this.now());
          const w = this.wake;
          this.wake = undefined;
          w?.();
        };
      }
      await new Promise<void>((r) => {
        const timer = until > now ? setTimeout(r, until - now) : undefined;
        if (needAnswer) this.wake = () => { if (timer) clearTimeout(timer); r(); };
      });
    }
  }

  /** Index of the first answer after `t` (the array is sorted). */
  private firstAfter(t: number): number {
    let lo = this.head, hi = this.answered.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.answered[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
