/**
 * The licence's rate limits held on the client's side: at most `perSecond` requests in any second
 * and `perMinute` in any minute (WISEflow counts both per credential, REFERENCE §3.4). Sliding
 * windows of the send times, FIFO, so a burst of reads waits its turn instead of earning 429s;
 * a 429 the server sends anyway pauses every caller until its Retry-After has passed.
 *
 * Written here rather than taken from npm: the libraries at hand model one window (a token bucket
 * or a concurrency cap), and WISEflow's two windows interact (5,000/min is 83/s sustained, while
 * bursts of 200/s are allowed).
 */
export interface Limits { perSecond: number; perMinute: number }

/** Windows a little longer than the server's: clocks and network delay shift its count against ours. */
const SECOND_MS = 1_050;
const MINUTE_MS = 60_500;

export class RateLimiter {
  private readonly sent: number[] = [];
  private tail: Promise<void> = Promise.resolve();
  private pausedUntil = 0;

  constructor(readonly limits: Limits, private readonly now: () => number = Date.now) {}

  /** Resolves when one more request may leave now; the request is counted from then. */
  acquire(): Promise<void> {
    const turn = this.tail.then(() => this.wait());
    this.tail = turn.catch(() => {});
    return turn;
  }

  /** The server said 429: nobody sends before `ms` have passed. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }

  private async wait(): Promise<void> {
    for (;;) {
      const now = this.now();
      while (this.sent.length && this.sent[0]! <= now - MINUTE_MS) this.sent.shift();
      let until = this.pausedUntil;
      if (this.sent.length >= this.limits.perMinute) until = Math.max(until, this.sent[this.sent.length - this.limits.perMinute]! + MINUTE_MS);
      const inSecond = this.sent.length - this.firstAfter(now - SECOND_MS);
      if (inSecond >= this.limits.perSecond) until = Math.max(until, this.sent[this.sent.length - this.limits.perSecond]! + SECOND_MS);
      if (until <= now) {
        this.sent.push(now);
        return;
      }
      await new Promise((r) => setTimeout(r, until - now));
    }
  }

  /** Index of the first send after `t` (the array is sorted). */
  private firstAfter(t: number): number {
    let lo = 0, hi = this.sent.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sent[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
