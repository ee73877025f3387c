/**
 * How long to wait before the next try: exponential growth from `baseMs`, capped at `capMs`, with
 * jitter so that many clients cut off by one outage do not come back in lockstep.
 *
 * - `full`: a uniform draw in [0, min(cap, base·2^(n-1))] (the AWS architecture blog's "full jitter").
 * - `decorrelated`: a uniform draw in [base, previous·3], capped; it grows without an attempt
 *   counter and spreads clients further apart ("decorrelated jitter").
 * - `none`: min(cap, base·2^(n-1)), for logs and tests that want the plain schedule.
 *
 * A server's Retry-After is a floor: the wait is never shorter than what the server asked for,
 * even above the cap, because retrying earlier only earns another refusal.
 */
export type Jitter = 'full' | 'decorrelated' | 'none';

export interface BackoffPolicy {
  /** The first wait's scale (ms). */
  baseMs: number;
  /** No computed wait is longer (a Retry-After may be). */
  capMs: number;
  jitter?: Jitter;
}

export class Backoff {
  private n = 0;
  private previous: number;

  constructor(readonly policy: BackoffPolicy, private readonly random: () => number = Math.random) {
    checkPolicy(policy);
    this.previous = policy.baseMs;
  }

  /** Tries that failed since the last reset. */
  get attempt(): number {
    return this.n;
  }

  /** The wait before the next try; `retryAfterMs` (the server's word) is its floor. */
  next(retryAfterMs = 0): number {
    this.n++;
    const { baseMs, capMs, jitter = 'full' } = this.policy;
    let wait: number;
    if (jitter === 'decorrelated') {
      wait = Math.min(capMs, baseMs + this.random() * (this.previous * 3 - baseMs));
      this.previous = wait;
    } else {
      const c = ceiling(this.policy, this.n);
      wait = jitter === 'full' ? this.random() * c : c;
    }
    return floored(wait, retryAfterMs);
  }

  /** After a success: the next failure starts from the beginning again. */
  reset(): void {
    this.n = 0;
    this.previous = this.policy.baseMs;
  }
}

/** The wait before try `attempt + 1` (attempt 1 = the first retry), without keeping state. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, retryAfterMs = 0, random: () => number = Math.random): number {
  checkPolicy(policy);
  if (policy.jitter === 'decorrelated') throw new RangeError('decorrelated jitter depends on the previous wait: use a Backoff');
  const c = ceiling(policy, Math.max(1, attempt));
  return floored(policy.jitter === 'none' ? c : random() * c, retryAfterMs);
}

function checkPolicy(p: BackoffPolicy): void {
  if (!(p.baseMs > 0) || !(p.capMs >= p.baseMs)) throw new RangeError(`backoff needs 0 < baseMs <= capMs (got baseMs ${p.baseMs}, capMs ${p.capMs})`);
}

/** The exponential schedule before jitter; 2^(n-1) reaches Infinity long after it passed any cap. */
function ceiling(p: BackoffPolicy, attempt: number): number {
  return Math.min(p.capMs, p.baseMs * 2 ** (attempt - 1));
}

function floored(wait: number, retryAfterMs: number): number {
  return Math.round(Math.max(wait, Number.isFinite(retryAfterMs) ? retryAfterMs : 0));
}

/** Waits `ms`, or less when `signal` aborts (a stopping process does not sit out a long backoff). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
