/**
 * The latency model's parts that make the simulator as slow as a real Moodle in the ways that
 * matter to a client: a CPU shared by busy workers, enrolments of the same users queueing behind
 * each other, and lookups that cost per user found. Time is a test clock where it can be; over
 * HTTP only the order of events is asserted, never a duration.
 */
import { describe, expect, it } from 'vitest';
import { MoodleClient, type MoodleCreatedUser } from '../client.js';
import { getUsersByField } from './functions/users.js';
import { startMoodleSimulator } from './index.js';
import { DEFAULT_LATENCY, serviceTimeMs, SharedCpu, UserLocks, type Timers } from './latency.js';
import { initialState } from './seed.js';
import type { CallContext } from './site.js';
import { Store } from './state.js';

const TOKEN = 'b1b2c3d4e5f60718293a4b5c6d7e8f90';

/** A clock that only moves when the test says so. */
function testClock(): Timers & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let ids = 0;
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++ids;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout(h) {
      timers = timers.filter((t) => t.id !== h);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = until;
    },
  };
}

describe('Moodle simulator latency model', () => {
  it('shares the CPU: four 100 ms jobs on 2 cores take 200 ms each, one alone 100 ms', async () => {
    const clock = testClock();
    const cpu = new SharedCpu(2, clock);
    const finished: number[] = [];
    const jobs = Array.from({ length: 4 }, () => cpu.work(100).then(() => finished.push(clock.now())));
    clock.advance(199);
    await Promise.resolve();
    expect(finished).toEqual([]);
    clock.advance(1);
    await Promise.all(jobs);
    expect(finished).toEqual([200, 200, 200, 200]);

    const alone = cpu.work(100).then(() => clock.now());
    clock.advance(100);
    expect(await alone).toBe(300);
  });

  it('speeds the others up when one job finishes', async () => {
    const clock = testClock();
    const cpu = new SharedCpu(1, clock);
    const short = cpu.work(50).then(() => clock.now());
    const long = cpu.work(150).then(() => clock.now());
    clock.advance(100); // both at half speed: the short one is done at 100
    expect(await short).toBe(100);
    clock.advance(100); // the long one had 100 left at full speed
    expect(await long).toBe(200);
  });

  it('lets a call touching a locked user wait for it, and calls on other users go ahead', async () => {
    const locks = new UserLocks();
    const events: string[] = [];
    const releaseA = await locks.acquire([1, 2]);
    const b = locks.acquire([2, 3]).then((l) => { events.push(`b waited ${l.waited}`); return l.release; });
    const c = locks.acquire([4]).then((l) => { events.push(`c waited ${l.waited}`); return l.release; });
    (await c)();
    expect(events).toEqual(['c waited false']);
    releaseA.release();
    (await b)();
    expect(events).toEqual(['c waited false', 'b waited true']);
  });

  it('costs core_user_get_users_by_field per user found, not per value sent', () => {
    const store = new Store(initialState('minimal', { token: TOKEN }));
    const ctx = { store } as unknown as CallContext;
    const hundredUnknown = Array.from({ length: 100 }, (_, i) => `nobody${i}`);
    const cost = getUsersByField.cost!({ field: 'username', values: ['admin', ...hundredUnknown, 'wsprovisioner'] } as never, ctx);
    expect(cost).toMatchObject({ items: 2, values: 102 });
    const model = DEFAULT_LATENCY;
    const lookup = model.functions.core_user_get_users_by_field!;
    // 100 values of which 3 exist cost about what 3 do (recorded B35: 107 ms; 100 existing users: 370 ms).
    expect(serviceTimeMs(model, lookup, { items: 3, values: 100, passwords: 0 }))
      .toBeLessThan(serviceTimeMs(model, lookup, { items: 100, values: 100, passwords: 0 }) / 4);
  });

  it('queues enrolments of the same already enrolled users behind each other, not those of new users', async () => {
    const sim = await startMoodleSimulator({ token: TOKEN, seed: 'minimal', latency: true });
    const moodle = new MoodleClient({ url: sim.url, token: TOKEN, connections: 8 });
    try {
      const users = await moodle.call<MoodleCreatedUser[]>('core_user_create_users', {
        users: Array.from({ length: 10 }, (_, i) => ({
          username: `p${i}`, auth: 'saml2', firstname: 'P', lastname: `${i}`, email: `p${i}@example.org`,
        })),
      });
      const courses = await moodle.call<{ id: number }[]>('core_course_create_courses', {
        courses: Array.from({ length: 8 }, (_, i) => ({ fullname: `C${i}`, shortname: `c${i}`, categoryid: 1 })),
      });
      const enrolAll = (courseid: number): Promise<unknown> => moodle.call('enrol_manual_enrol_users', {
        enrolments: users.map((u) => ({ roleid: 5, userid: u.id, courseid })),
      });
      const enrolCalls = (): { startedAt: number; lockedAt?: number; finishedAt: number }[] =>
        sim.metrics()!.log.filter((r) => r.label === 'enrol_manual_enrol_users').slice(-4)
          .sort((a, b) => a.startedAt - b.startedAt);

      // Never enrolled: four simultaneous calls for the same users all start working at once.
      await Promise.all(courses.slice(0, 4).map((c) => enrolAll(c.id)));
      for (const r of enrolCalls()) expect(r.lockedAt).toBe(r.startedAt);

      // Now each user's access-cache row exists: the next four wait for each other (a staircase).
      await Promise.all(courses.slice(4, 8).map((c) => enrolAll(c.id)));
      const staircase = enrolCalls().sort((a, b) => a.lockedAt! - b.lockedAt!);
      for (let i = 1; i < staircase.length; i++) {
        expect(staircase[i]!.lockedAt).toBeGreaterThanOrEqual(staircase[i - 1]!.finishedAt);
      }
    } finally {
      await moodle.close();
      await sim.close();
    }
  });
});
