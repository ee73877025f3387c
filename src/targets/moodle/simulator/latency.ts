/**
 * Latency and capacity model, for benchmarks and tests that should not flatter the client.
 *
 * Moodle under `php -S` with 4 workers on a 2-core machine (moodle-recorded/bench-2.txt):
 * - a fixed pool of workers: a request waits (FIFO) for a free worker and holds it until answered;
 * - the CPU is shared: a request needs `base + perItem × items + …` ms of work, and when more
 *   requests work at once than there are `cores`, each progresses at cores/n of full speed
 *   (4 simultaneous 50-user creates took 1.64× as long as one alone);
 * - calls that touch a user's access cache (enrolments, role changes) lock that user's
 *   cache_flags row until they commit: a second call touching the same user waits for the first,
 *   holding its worker (four 50-user enrolments of the same users finished one after another).
 *   A user without the row yet (never enrolled) is not locked: each call inserts its own.
 *
 * Per-call costs fitted to bench-2.txt at concurrency 1 (client-side ms per call, medians):
 *   create_users 1/10/50 users 29/59/192 ms     → 26 ms + 3.3 ms per user
 *   enrol_users 1/10/50 enrolments 34/95/366 ms → 27 ms + 6.8 ms per enrolment
 *   get_users_by_field 1/10/100 found 37/62/370 → 33 ms + 3.4 ms per user FOUND; values not
 *     found cost little (100 and 500 values with 3 found took 107 and 89 ms, cases-2 B35/B36)
 *   get_users_courses 32 ms; get_enrolled_users with 50 people 260 ms → 30 ms + 4.6 per person
 * and to the recorded single calls (cases*.jsonl time_s): adding a second role to an enrolled
 * user 333 ms (B27), a course lookup 40-60 ms, create course ~100 ms, import_course ~360 ms,
 * calls refused before the function runs ~15 ms. Passwords (internal auth) cost 5.1 ms each
 * to hash (bench.txt: create_50 with and without passwords).
 */

export interface LatencyCost {
  baseMs: number;
  /** Per item the call carries (or, for lookups, per user found). */
  perItemMs?: number;
  /** Per value sent to a lookup, found or not. */
  perValueMs?: number;
  /** Extra per password hashed (create/update with internal auth). */
  perPasswordMs?: number;
  /** Extra per enrolment that adds a second role to an enrolled user. */
  perAddedRoleMs?: number;
}

export interface LatencyModel {
  /** Worker pool size (php -S PHP_CLI_SERVER_WORKERS, PHP-FPM pm.max_children). Default 4. */
  workers: number;
  /** CPU capacity the busy workers share, in requests served at full speed at once. Default 2.5. */
  cores: number;
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
  cores: 2.5,
  defaultCost: { baseMs: 30, perItemMs: 3 },
  rejectCost: { baseMs: 15 },
  tokenCost: { baseMs: 45 },
  functions: {
    core_webservice_get_site_info: { baseMs: 28 },
    core_user_get_users_by_field: { baseMs: 33, perItemMs: 3.4, perValueMs: 0.1 },
    core_user_get_users: { baseMs: 30, perItemMs: 3.4 },
    core_user_create_users: { baseMs: 26, perItemMs: 3.3, perPasswordMs: 5.1 },
    core_user_update_users: { baseMs: 26, perItemMs: 3.3, perPasswordMs: 5.1 },
    core_enrol_get_users_courses: { baseMs: 28, perItemMs: 0.6 },
    core_enrol_get_enrolled_users: { baseMs: 30, perItemMs: 4.6 },
    enrol_manual_enrol_users: { baseMs: 27, perItemMs: 6.8, perAddedRoleMs: 300 },
    enrol_manual_unenrol_users: { baseMs: 27, perItemMs: 6.8 },
    core_role_unassign_roles: { baseMs: 27, perItemMs: 6.8 },
    core_course_get_courses_by_field: { baseMs: 40 },
    core_course_create_courses: { baseMs: 30, perItemMs: 70 },
    core_course_get_categories: { baseMs: 28 },
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

/** What one call makes the server do, as the model counts it. */
export interface Work {
  items: number;
  passwords: number;
  values?: number;
  addedRoles?: number;
}

/** CPU time (ms at full speed) a call needs. */
export function serviceTimeMs(model: LatencyModel, cost: LatencyCost, work: Work): number {
  const ms = cost.baseMs + (cost.perItemMs ?? 0) * work.items + (cost.perValueMs ?? 0) * (work.values ?? 0)
    + (cost.perPasswordMs ?? 0) * work.passwords + (cost.perAddedRoleMs ?? 0) * (work.addedRoles ?? 0);
  if (model.jitter <= 0) return ms;
  return Math.max(0, ms * (1 + (Math.random() * 2 - 1) * model.jitter));
}

/** A clock and a timer, so the CPU model can be driven by a test's own clock. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * Processor sharing: every job in progress advances at min(1, cores / jobs) ms of work per ms,
 * so a machine with fewer cores than busy workers slows every request down.
 */
export class SharedCpu {
  private readonly jobs = new Set<{ remaining: number; done: () => void }>();
  private last = 0;
  private timer: unknown = null;

  constructor(readonly cores: number, private readonly timers: Timers = REAL_TIMERS) {
    if (!(cores > 0)) throw new Error(`cores must be positive, not ${cores}`);
  }

  /** Resolves once `ms` of CPU work has been done for this job. */
  work(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.advance();
      this.jobs.add({ remaining: ms, done: resolve });
      this.schedule();
    });
  }

  get running(): number {
    return this.jobs.size;
  }

  private rate(): number {
    return Math.min(1, this.cores / Math.max(1, this.jobs.size));
  }

  /** Account for the work done since the last change. */
  private advance(): void {
    const now = this.timers.now();
    const done = (now - this.last) * this.rate();
    this.last = now;
    if (done <= 0) return;
    for (const j of this.jobs) j.remaining -= done;
  }

  private schedule(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (this.jobs.size === 0) return;
    const next = Math.min(...[...this.jobs].map((j) => j.remaining));
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.advance();
      // Finish every job whose work is done (allow for float rounding and timer granularity).
      for (const j of [...this.jobs]) {
        if (j.remaining <= 0.01) {
          this.jobs.delete(j);
          j.done();
        }
      }
      this.schedule();
    }, Math.max(0, next / this.rate()));
  }
}

/**
 * Row locks on users: `acquire` waits until none of the given users is held by another call, then
 * holds them all (all at once, so two calls never wait on each other).
 */
export class UserLocks {
  private readonly held = new Set<number>();
  private waiting: { users: number[]; go: () => void }[] = [];

  /** Resolves with the release function and whether the caller had to wait. */
  async acquire(users: readonly number[]): Promise<{ release: () => void; waited: boolean }> {
    const mine = [...new Set(users)];
    const waited = !this.free(mine) || this.waiting.some((w) => w.users.some((u) => mine.includes(u)));
    if (waited) {
      await new Promise<void>((go) => this.waiting.push({ users: mine, go }));
    } else {
      this.take(mine);
    }
    return { release: () => this.release(mine), waited };
  }

  private free(users: number[]): boolean {
    return users.every((u) => !this.held.has(u));
  }

  private take(users: number[]): void {
    for (const u of users) this.held.add(u);
  }

  private release(users: number[]): void {
    for (const u of users) this.held.delete(u);
    // First come, first served: a waiter goes when its users are free and no earlier waiter wants them.
    const still: typeof this.waiting = [];
    const claimed = new Set<number>();
    for (const w of this.waiting) {
      if (this.free(w.users) && w.users.every((u) => !claimed.has(u))) {
        this.take(w.users);
        w.go();
      } else {
        still.push(w);
        for (const u of w.users) claimed.add(u);
      }
    }
    this.waiting = still;
  }
}

/** One served request, for inspection by tests and benchmarks (times from performance.now()). */
export interface ServedRequest {
  seq: number;
  label: string;
  enqueuedAt: number;
  /** When a worker took it. */
  startedAt: number;
  /** When it held its users' locks and started working (= startedAt when it locks nobody). */
  lockedAt?: number;
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

  /** `job` may note when it got its locks (`note.lockedAt`), for the log. */
  async run<T>(label: string, job: (note: { lockedAt?: number }) => Promise<T>): Promise<T> {
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
    const note: { lockedAt?: number } = {};
    try {
      return await job(note);
    } finally {
      const finishedAt = performance.now();
      this.metrics.served++;
      this.metrics.log.push({ seq, label, enqueuedAt, startedAt, lockedAt: note.lockedAt ?? startedAt, finishedAt });
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
