/**
 * A latency and capacity model: OnGuard has one application server, and OpenAccess answers from a
 * fixed pool of workers. A request waits (FIFO) for a free worker and holds it for its service
 * time, so more concurrency than workers only queues. Costs are assumptions (no measurements of a
 * real server are at hand): a login is dear, a write costs about twice a read, and a listing
 * costs a little per item returned.
 */
export interface LatencyModel {
  workers: number;
  authMs: number;
  readMs: number;
  perItemMs: number;
  writeMs: number;
}

export const DEFAULT_LATENCY: LatencyModel = { workers: 4, authMs: 80, readMs: 12, perItemMs: 0.2, writeMs: 30 };

export class WorkerPool {
  private busy = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy >= this.size) await new Promise<void>((r) => this.waiting.push(r));
    else this.busy++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.busy--;
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
