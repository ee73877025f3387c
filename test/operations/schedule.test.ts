import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ReconcileSchedule, Scheduler, slotAt } from '../../src/consumers/schedule.js';
import { eventually, sleep } from '../support/env.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The reconcile schedule: each slot runs once however many workers look, with an injected clock. */
describe('reconcile schedule', () => {
  const cfg = loadConfig('tilgang.example.yaml');
  const schema = `test_sched_${Math.random().toString(36).slice(2, 10)}`;
  let pool: pg.Pool;

  beforeAll(() => {
    pool = new pg.Pool({ connectionString: cfg.mv.url, max: 6 });
  });
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  });

  it('counts slots from the time of day, or from the epoch without one', () => {
    const at = (iso: string) => new Date(iso).getTime();
    const local = (y: number, mo: number, d: number, h: number, mi = 0) => new Date(y, mo - 1, d, h, mi).getTime();
    expect(slotAt(local(2026, 3, 10, 1, 59), DAY, '02:00')).toBe(local(2026, 3, 9, 2));
    expect(slotAt(local(2026, 3, 10, 2, 0), DAY, '02:00')).toBe(local(2026, 3, 10, 2));
    expect(slotAt(local(2026, 3, 10, 23, 0), 6 * HOUR, '02:00')).toBe(local(2026, 3, 10, 20));
    expect(slotAt(at('2026-03-10T13:30:00Z'), 6 * HOUR)).toBe(at('2026-03-10T12:00:00Z'));
    expect(ReconcileSchedule.parse({ every: '24h', at: '02:00' })).toMatchObject({ every: '24h', at: '02:00', orphans: 'list', logOnly: false });
    expect(ReconcileSchedule.safeParse({ every: 'daily' }).success).toBe(false);
    expect(ReconcileSchedule.safeParse({ every: '24h', at: '2:00' }).success).toBe(false);
    expect(ReconcileSchedule.safeParse({ every: '10s' }).success).toBe(false);
  });

  it('two workers: each slot runs once, on one of them, and never before it is due', async () => {
    let clock = new Date(2026, 2, 10, 12, 0).getTime();
    const ran: { worker: string; slot: Date }[] = [];
    const job = (worker: string) => async (slot: Date) => {
      ran.push({ worker, slot });
      await sleep(150); // long enough for the other worker to look meanwhile
    };
    const make = (worker: string) => new Scheduler(pool, schema, 'reconcile', { every: '24h', at: '02:00' }, job(worker), { now: () => clock, holder: worker, tickMs: 20 });
    const a = make('a');
    const b = make('b');
    await Promise.all([a.ensure(), b.ensure()]);
    // First sight: the schedule is noted, nothing runs at deployment time.
    const first = await Promise.all([a.tick(), b.tick()]);
    expect(first.sort()).toEqual(['first-seen', 'not-due']);
    expect(ran).toEqual([]);
    // Still the same day: not due.
    clock += 10 * HOUR;
    expect(await Promise.all([a.tick(), b.tick()])).toEqual(['not-due', 'not-due']);
    // 02:00 the next day has passed: exactly one of them runs it, at once.
    clock = new Date(2026, 2, 11, 2, 1).getTime();
    const second = await Promise.all([a.tick(), b.tick()]);
    expect(second.filter((x) => x === 'ran')).toHaveLength(1);
    expect(ran).toHaveLength(1);
    expect(ran[0]!.slot.getTime()).toBe(new Date(2026, 2, 11, 2).getTime());
    expect(await Promise.all([a.tick(), b.tick()])).toEqual(['not-due', 'not-due']);
    const st = await a.state();
    expect(st).toMatchObject({ holder: ran[0]!.worker, leaseUntil: null, lastError: null });

    // Both looking on their own, repeatedly, across the next two days: one run per day.
    await Promise.all([a.start(), b.start()]);
    clock = new Date(2026, 2, 12, 2, 0).getTime();
    await eventually(async () => ran.length === 2, 10_000, 'the run of the 12th');
    await sleep(300);
    clock = new Date(2026, 2, 13, 3, 0).getTime();
    await eventually(async () => ran.length === 3, 10_000, 'the run of the 13th');
    await sleep(300);
    await Promise.all([a.stop(), b.stop()]);
    expect(ran.map((r) => r.slot.getDate())).toEqual([11, 12, 13]);
    expect(a.runs.length + b.runs.length).toBe(3);
  });

  it('a failed run is recorded, the lease given back, and the next slot tries again', async () => {
    let clock = Date.UTC(2026, 5, 1, 0, 30);
    let calls = 0;
    const s = new Scheduler(pool, schema, 'failing', { every: '1h' }, async () => { calls++; throw new Error('the directory did not answer'); }, { now: () => clock, holder: 'x' });
    await s.ensure();
    expect(await s.tick()).toBe('first-seen');
    clock += HOUR;
    expect(await s.tick()).toBe('ran');
    expect(await s.state()).toMatchObject({ lastError: 'the directory did not answer', leaseUntil: null });
    expect(await s.tick()).toBe('not-due');
    clock += HOUR;
    expect(await s.tick()).toBe('ran');
    expect(calls).toBe(2);
  });
});
