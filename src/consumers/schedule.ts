import { hostname } from 'node:os';
import type pg from 'pg';
import { log as rootLog } from '../lib/log.js';
import { parseDuration } from './schedule-config.js';

export { parseDuration, ReconcileSchedule, type ReconcileScheduleConfig } from './schedule-config.js';

/**
 * The scheduled instant at or before `now`: `at` (a local time of day) plus whole multiples of
 * `every`, or multiples of `every` from the epoch without `at`. Pure.
 */
export function slotAt(now: number, everyMs: number, at?: string): number {
  let anchor = 0;
  if (at) {
    const [h, m] = at.split(':').map(Number) as [number, number];
    const d = new Date(now);
    d.setHours(h, m, 0, 0);
    anchor = d.getTime();
  }
  return anchor + Math.floor((now - anchor) / everyMs) * everyMs;
}

export type TickOutcome = 'ran' | 'not-due' | 'taken' | 'first-seen';

export interface ScheduleOptions {
  /** The clock (ms since the epoch); injectable for tests. */
  now?: () => number;
  /** Who holds the lease, in the table and logs (default: host and pid). */
  holder?: string;
  /** How often a worker looks whether a run is due. */
  tickMs?: number;
  leaseMs?: number;
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * A job on a schedule, run by one worker at a time however many run it: the workers share a row
 * in PostgreSQL (the runtime's state schema). A due run is claimed by one atomic UPDATE that moves
 * the row's slot forward and takes the lease, so of several workers exactly one runs each slot; a
 * running job renews its lease, and no next slot starts while a lease is live. The first worker
 * ever to see the schedule records the current slot without running it: the first run is the next
 * scheduled time, not the moment of deployment.
 */
export class Scheduler {
  private readonly s: string;
  private readonly now: () => number;
  private readonly holder: string;
  private readonly everyMs: number;
  private readonly leaseMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private readonly log;
  /** Runs this worker did (for status and tests). */
  readonly runs: { slot: number; startedAt: number; finishedAt?: number; error?: string }[] = [];

  constructor(
    private readonly pool: pg.Pool, schema: string, private readonly name: string,
    private readonly settings: { every: string; at?: string | undefined; leaseSeconds?: number },
    private readonly job: (slot: Date) => Promise<void>, private readonly opts: ScheduleOptions = {},
  ) {
    this.s = ident(schema);
    this.now = opts.now ?? Date.now;
    this.holder = opts.holder ?? `${hostname()}:${process.pid}`;
    this.everyMs = parseDuration(settings.every);
    this.leaseMs = opts.leaseMs ?? (settings.leaseSeconds ?? 300) * 1000;
    this.log = rootLog.child({ component: 'schedule', schedule: name });
  }

  async ensure(): Promise<void> {
    await this.pool.query(`CREATE SCHEMA IF NOT EXISTS ${this.s};
      CREATE TABLE IF NOT EXISTS ${this.s}.schedule (name text PRIMARY KEY, last_slot timestamptz NOT NULL, holder text,
        lease_until timestamptz, started_at timestamptz, finished_at timestamptz, last_error text)`).catch((e: Error) => {
      if (!/already exists|duplicate key|concurrently/.test(e.message)) throw e;
    });
  }

  /** The next scheduled instant after now. */
  next(): Date {
    return new Date(slotAt(this.now(), this.everyMs, this.settings.at) + this.everyMs);
  }

  /** What the table says: the last slot claimed, by whom, and the lease. */
  async state(): Promise<{ lastSlot: Date; holder: string | null; leaseUntil: Date | null; startedAt: Date | null; finishedAt: Date | null; lastError: string | null } | undefined> {
    const { rows } = await this.pool.query(`SELECT * FROM ${this.s}.schedule WHERE name = $1`, [this.name]);
    const r = rows[0];
    return r && { lastSlot: r.last_slot, holder: r.holder, leaseUntil: r.lease_until, startedAt: r.started_at, finishedAt: r.finished_at, lastError: r.last_error };
  }

  /** Looks once: runs the job (to its end) when a slot is due and this worker wins it. */
  async tick(): Promise<TickOutcome> {
    const now = this.now();
    const slot = new Date(slotAt(now, this.everyMs, this.settings.at));
    const first = await this.pool.query(`INSERT INTO ${this.s}.schedule (name, last_slot) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [this.name, slot]);
    if (first.rowCount) {
      this.log.info({ next: this.next().toISOString() }, 'schedule noted; the first run is the next scheduled time');
      return 'first-seen';
    }
    const claimed = await this.pool.query(`UPDATE ${this.s}.schedule SET last_slot = $2, holder = $3, lease_until = $4, started_at = $5, finished_at = NULL, last_error = NULL
      WHERE name = $1 AND last_slot < $2 AND (lease_until IS NULL OR lease_until < $5) RETURNING name`,
    [this.name, slot, this.holder, new Date(now + this.leaseMs), new Date(now)]);
    if (!claimed.rowCount) {
      const st = await this.state();
      return st && st.lastSlot.getTime() >= slot.getTime() ? 'not-due' : 'taken';
    }
    this.log.info({ slot: slot.toISOString(), holder: this.holder }, 'scheduled run starting');
    const run: Scheduler['runs'][number] = { slot: slot.getTime(), startedAt: now };
    this.runs.push(run);
    const renew = setInterval(() => {
      this.pool.query(`UPDATE ${this.s}.schedule SET lease_until = $3 WHERE name = $1 AND holder = $2`, [this.name, this.holder, new Date(this.now() + this.leaseMs)])
        .catch((e: Error) => this.log.warn({ err: e.message }, 'could not renew the schedule lease'));
    }, Math.max(1_000, Math.floor(this.leaseMs / 3)));
    renew.unref();
    let error: string | null = null;
    try {
      await this.job(slot);
    } catch (e) {
      error = (e as Error).message;
      run.error = error;
      this.log.error({ slot: slot.toISOString(), err: error }, 'scheduled run failed; the next slot tries again');
    } finally {
      clearInterval(renew);
      run.finishedAt = this.now();
      await this.pool.query(`UPDATE ${this.s}.schedule SET lease_until = NULL, finished_at = $3, last_error = $4 WHERE name = $1 AND holder = $2`,
        [this.name, this.holder, new Date(this.now()), error]).catch((e: Error) => this.log.warn({ err: e.message }, 'could not give the schedule lease back'));
    }
    if (!error) this.log.info({ slot: slot.toISOString(), next: this.next().toISOString() }, 'scheduled run finished');
    return 'ran';
  }

  /** Looks every tickMs until stopped. */
  async start(): Promise<void> {
    await this.ensure();
    const loop = async () => {
      if (this.stopped) return;
      this.running = this.tick().catch((e: Error) => this.log.warn({ err: e.message }, 'schedule check failed'));
      await this.running;
      this.running = undefined;
      if (!this.stopped) {
        this.timer = setTimeout(loop, this.opts.tickMs ?? 30_000);
        this.timer.unref();
      }
    };
    this.timer = setTimeout(loop, 0);
    this.timer.unref();
  }

  /** Stops looking; a run in progress finishes first. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
