/**
 * Latency and capacity model, for benchmarks that should not flatter the client.
 *
 * A fixed pool of workers stands in for PHP-FPM children: a request waits (FIFO) for a free
 * worker, then holds it for `base + perItem × items + perPassword × hashed passwords` ms.
 *
 * Defaults are fitted to moodle-recorded/bench.txt (sequential requests, medians, php -S):
 *   create_1 25.2 ms, create_50 337 ms       → 18 ms + 1.3 ms/user + 5.1 ms/hashed password
 *   create_1_nopw 19.4 ms, create_50_nopw 84 ms → (same line without the password term)
 *   enrol_1 25.2 ms, enrol_50 194 ms          → 21.8 ms + 3.45 ms/enrolment
 * and to the recorded single calls (cases.jsonl time_s): reads 17-40 ms, errors rejected before
 * the function runs ~15 ms, create course ~50 ms, import_course ~360 ms.
 */

export interface LatencyCost {
  baseMs: number;
  perItemMs?: number;
  /** Extra per password hashed (create/update with internal auth). */
  perPasswordMs?: number;
}

export interface LatencyModel {
  /** Worker pool size (PHP-FPM pm.max_children). Default 4. */
  workers: number;
  /** Any function not listed in `functions`. */
  defaultCost: LatencyCost;
  /** Requests refused before a function runs (bad token, unknown function, parameter errors). */
  rejectCost: LatencyCost;
  /** /login/token.php. */
  tokenCost: LatencyCost;
  functions: Record<string, LatencyCost>;
  /** ± fraction of random noise per request (0 = deterministic). */
  jitter: number;
}

export const DEFAULT_LATENCY: LatencyModel = {
  workers: 4,
  defaultCost: { baseMs: 20, perItemMs: 0.5 },
  rejectCost: { baseMs: 15 },
  tokenCost: { baseMs: 45 },
  functions: {
    core_webservice_get_site_info: { baseMs: 25 },
    core_user_get_users_by_field: { baseMs: 20, perItemMs: 0.6 },
    core_user_get_users: { baseMs: 25 },
    core_user_create_users: { baseMs: 18, perItemMs: 1.3, perPasswordMs: 5.1 },
    core_user_update_users: { baseMs: 18, perItemMs: 1.5, perPasswordMs: 5.1 },
    core_enrol_get_users_courses: { baseMs: 25 },
    enrol_manual_enrol_users: { baseMs: 21.8, perItemMs: 3.45 },
    enrol_manual_unenrol_users: { baseMs: 20, perItemMs: 3 },
    core_course_get_courses_by_field: { baseMs: 25 },
    core_course_create_courses: { baseMs: 20, perItemMs: 30 },
    core_course_get_categories: { baseMs: 25 },
    core_course_create_categories: { baseMs: 20, perItemMs: 8 },
    core_course_import_course: { baseMs: 360 },
  },
  jitter: 0,
};

export function resolveLatency(opt: boolean | Partial<LatencyModel> | undefined, workers?: number): LatencyModel | null {
  if (!opt) return null;
  const given = opt === true ? {} : opt;
  return {
    ...DEFAULT_LATENCY,
    ...given,
    functions: { ...DEFAULT_LATENCY.functions, ...(given.functions ?? {}) },
    workers: workers ?? given.workers ?? DEFAULT_LATENCY.workers,
  };
}

export function serviceTimeMs(model: LatencyModel, cost: LatencyCost, items: number, passwords: number): number {
  const ms = cost.baseMs + (cost.perItemMs ?? 0) * items + (cost.perPasswordMs ?? 0) * passwords;
  if (model.jitter <= 0) return ms;
  return Math.max(0, ms * (1 + (Math.random() * 2 - 1) * model.jitter));
}

/** One served request, for inspection by tests and benchmarks (times from performance.now()). */
export interface ServedRequest {
  seq: number;
  label: string;
  enqueuedAt: number;
  startedAt: number;
  finishedAt: number;
}

export interface PoolMetrics {
  workers: number;
  inFlight: number;
  queued: number;
  maxInFlight: number;
  maxQueued: number;
  served: number;
  /** The most recent requests (bounded). */
  log: ServedRequest[];
}

const LOG_LIMIT = 10_000;

/** A FIFO pool of N workers: `run` waits for a free worker and holds it while `job` runs. */
export class WorkerPool {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private seq = 0;
  readonly metrics: PoolMetrics;

  constructor(readonly workers: number) {
    if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers must be a positive integer, not ${workers}`);
    this.metrics = { workers, inFlight: 0, queued: 0, maxInFlight: 0, maxQueued: 0, served: 0, log: [] };
  }

  async run<T>(label: string, job: () => Promise<T>): Promise<T> {
    const seq = ++this.seq;
    const enqueuedAt = performance.now();
    if (this.inFlight >= this.workers) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        this.metrics.queued = this.waiting.length;
        this.metrics.maxQueued = Math.max(this.metrics.maxQueued, this.waiting.length);
      });
    } else {
      this.inFlight++;
    }
    // A worker slot is now ours (either taken above or handed over by release()).
    this.metrics.inFlight = this.inFlight;
    this.metrics.maxInFlight = Math.max(this.metrics.maxInFlight, this.inFlight);
    const startedAt = performance.now();
    try {
      return await job();
    } finally {
      const finishedAt = performance.now();
      this.metrics.served++;
      this.metrics.log.push({ seq, label, enqueuedAt, startedAt, finishedAt });
      if (this.metrics.log.length > LOG_LIMIT) this.metrics.log.splice(0, this.metrics.log.length - LOG_LIMIT);
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    this.metrics.queued = this.waiting.length;
    if (next) {
      // Hand the slot straight to the next waiter: inFlight stays the same.
      next();
    } else {
      this.inFlight--;
      this.metrics.inFlight = this.inFlight;
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
