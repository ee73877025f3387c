/**
 * What reading costs in Moodle calls: a person already in Moodle is looked up once (by idnumber),
 * and a full reconciliation reads each course's roster once, kept in step with tilgang's writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { MoodleClient } from './client.js';
import { courseIdnumber, target } from './index.js';
import { MoodleSession } from './read.js';
import { startMoodleSimulator } from './simulator/index.js';
import { enrolment, moodleConfig, person, targetContext } from './test-fixtures.js';

const TOKEN = 'feedface00feedface00feedface0000';
const course = courseIdnumber({ sourceId: '1120:INF100:1', year: 2026, term: 'HØST' });

describe('the Moodle target\'s reads, in calls', () => {
  let sim: Awaited<ReturnType<typeof startMoodleSimulator>>;
  let calls: string[];
  let session: MoodleSession;
  const cfg = () => moodleConfig({ url: sim.url, enrolmentsFrom: '2026:HØST' });
  const ctx = () => targetContext(cfg(), loadConfig('tilgang.example.yaml'));

  beforeAll(async () => {
    sim = await startMoodleSimulator({ token: TOKEN, latency: false, profileFields: [{ shortname: 'studentid', name: 'Student id', datatype: 'text', visible: true }] });
    const ws = new MoodleClient({ url: sim.url, token: TOKEN });
    await ws.call('core_course_create_courses', { courses: [{ fullname: 'INF100', shortname: 'INF100-read', categoryid: 1, idnumber: course }] });
    await ws.close();
  });
  afterAll(async () => {
    await session?.close();
    await sim?.close();
  });

  /** A session whose calls are written down by function. */
  function counting(): MoodleSession {
    const s = new MoodleSession(new MoodleClient({ url: sim.url, token: TOKEN }), cfg());
    const call = s.ws.call.bind(s.ws);
    s.ws.call = ((fn: string, args: unknown) => {
      calls.push(fn);
      return call(fn, args as never);
    }) as typeof s.ws.call;
    return s;
  }
  const snapshot = (id: string, username: string) => {
    const p = person({ id, attrs: { idautoPersonUserNameMV: [username], mail: [`${username}@uni.example.no`] }, mv: { enrolments: [enrolment('INF100', 'student')] } });
    return { ...p, event: { ...p.event, changeType: 'SNAPSHOT' as const } };
  };
  const reconcile = async (p: ReturnType<typeof snapshot>) => {
    const d = target.desired(p, ctx());
    const a = await target.actual(p, d, session, ctx());
    const plan = target.plan(d, a, p, ctx());
    if (plan.operations.length) await target.applyBatch!([{ person: p, desired: d, actual: a, plan }], session, ctx());
    return plan;
  };

  it('a full reconciliation reads each roster once; a person already there costs one lookup and no roster', async () => {
    calls = [];
    session = counting();
    const a = snapshot('0a1b2c3d-0000-4000-8000-000000000001', 'reada');
    const b = snapshot('0a1b2c3d-0000-4000-8000-000000000002', 'readb');
    // New to Moodle: looked up by idnumber, then by username; the course's roster read once for both.
    expect((await reconcile(a)).operations.map((o) => o.kind)).toEqual(['create', 'enrol']);
    expect((await reconcile(b)).operations.map((o) => o.kind)).toEqual(['create', 'enrol']);
    expect(calls.filter((c) => c === 'core_enrol_get_enrolled_users')).toHaveLength(1);

    // Again, nothing to do: one lookup each (by idnumber: it found the account with the person's
    // username), the roster as tilgang's own enrolments left it.
    calls = [];
    expect((await reconcile(a)).operations).toEqual([]);
    expect((await reconcile(b)).operations).toEqual([]);
    expect(calls).toEqual(['core_user_get_users_by_field', 'core_user_get_users_by_field']);
  });

  it('a person\'s enrolments from the rosters are the same from the walk of every course and from the per-user index after it', async () => {
    const s = counting();
    const scope = await s.coursesInScope({ year: 2026, term: 'HØST' });
    const ids = await s.ws.call<{ id: number; username: string }[]>('core_user_get_users_by_field', { field: 'username', values: ['reada', 'readb'] });
    for (const u of ids) {
      const walked = await s.enrolmentsFromRosters(u.id, scope);
      expect(walked).toEqual([{ id: expect.any(Number), idnumber: course, roles: [5] }]);
      expect(await s.enrolmentsFromRosters(u.id, scope)).toEqual(walked);
    }
    expect(await s.enrolmentsFromRosters(-1, scope)).toEqual([]);
    // People read together in a session whose rosters are not read yet: one roster call, the same answers.
    const t = counting();
    const scope2 = await t.coursesInScope({ year: 2026, term: 'HØST' });
    calls = [];
    const together = await Promise.all([...ids, ...ids].map((u) => t.enrolmentsFromRosters(u.id, scope2)));
    expect(calls).toEqual(['core_enrol_get_enrolled_users']);
    expect(together.map((e) => e.map((x) => x.roles))).toEqual([[[5]], [[5]], [[5]], [[5]]]);
    await t.close();
    // tilgang's own unenrolment is seen by the index too.
    s.noteRoles(scope[0]!.id, ids[0]!.id, () => null);
    expect(await s.enrolmentsFromRosters(ids[0]!.id, scope)).toEqual([]);
    await s.close();
  });

  it('a LIVE change reads the person\'s own courses; in a stream faster than rostersAbovePerSecond, the rosters instead', async () => {
    const live = (p: ReturnType<typeof snapshot>) => ({ ...p, event: { ...p.event, changeType: 'MODIFY' as const } });
    const a = live(snapshot('0a1b2c3d-0000-4000-8000-000000000001', 'reada'));
    const b = live(snapshot('0a1b2c3d-0000-4000-8000-000000000002', 'readb'));
    const readWith = async (perSecond: number, people: (typeof a)[]) => {
      const s = counting();
      (s.cfg as { rostersAbovePerSecond: number }).rostersAbovePerSecond = perSecond;
      calls = [];
      for (const p of people) await target.actual(p, target.desired(p, ctx()), s, ctx());
      await s.close();
      return calls.filter((c) => c.startsWith('core_enrol_'));
    };
    // A trickle: a call per person for their courses, and the roster of the course they are in.
    expect(await readWith(20, [a, b])).toEqual(['core_enrol_get_users_courses', 'core_enrol_get_enrolled_users', 'core_enrol_get_users_courses']);
    // Above the rate (0: any rate): the roster once for both, no call per person.
    expect(await readWith(0, [a, b])).toEqual(['core_enrol_get_enrolled_users']);
    // The rate counts the last 10 s: the 3rd person within them is above 0.2/s, and is read from
    // the roster the first one's read left (no call of its own).
    expect(await readWith(0.2, [a, b, a])).toEqual(['core_enrol_get_users_courses', 'core_enrol_get_enrolled_users', 'core_enrol_get_users_courses']);
  });

  it('a slow stream after a full reconciliation reads enrolments from the rosters it left while they are fresh, and asks Moodle once they are old', async () => {
    const live = (p: ReturnType<typeof snapshot>) => ({ ...p, event: { ...p.event, changeType: 'MODIFY' as const } });
    const a = snapshot('0a1b2c3d-0000-4000-8000-000000000001', 'reada');
    const b = snapshot('0a1b2c3d-0000-4000-8000-000000000002', 'readb');
    const s = counting();
    (s.cfg as { rostersAbovePerSecond: number }).rostersAbovePerSecond = 1000;
    calls = [];
    // The full reconciliation reads the index and the roster.
    for (const p of [a, b]) await target.actual(p, target.desired(p, ctx()), s, ctx());
    expect(calls.filter((c) => c.startsWith('core_enrol_') || c.startsWith('core_course_'))).toEqual(['core_course_get_courses_by_field', 'core_enrol_get_enrolled_users']);
    // A trickle of changes right after: no call for enrolments, and the roles come from the roster.
    calls = [];
    const ra = await target.actual(live(a), target.desired(live(a), ctx()), s, ctx());
    const rb = await target.actual(live(b), target.desired(live(b), ctx()), s, ctx());
    expect(calls.filter((c) => c.startsWith('core_enrol_') || c.startsWith('core_course_'))).toEqual([]);
    expect([ra, rb].map((r) => r.enrolled.map((e) => [e.idnumber, e.roles]))).toEqual([[[course, [5]]], [[course, [5]]]]);
    // Rosters older than courseCacheSeconds: each person's own courses again.
    (s.cfg as { courseCacheSeconds: number }).courseCacheSeconds = 0;
    calls = [];
    await target.actual(live(a), target.desired(live(a), ctx()), s, ctx());
    expect(calls.filter((c) => c === 'core_enrol_get_users_courses')).toHaveLength(1);
    await s.close();
  });

  it('a person whose username changed is also looked up by the new username (someone else may hold it)', async () => {
    calls = [];
    const renamed = snapshot('0a1b2c3d-0000-4000-8000-000000000001', 'readc');
    const plan = await reconcile(renamed);
    expect(plan.operations.map((o) => o.kind)).toEqual(['update']);
    expect(calls.filter((c) => c === 'core_user_get_users_by_field')).toHaveLength(2);
    // Held by another account: a duplicate is seen, not overwritten.
    calls = [];
    const clash = snapshot('0a1b2c3d-0000-4000-8000-000000000001', 'readb');
    await expect(target.actual(clash, target.desired(clash, ctx()), session, ctx())).rejects.toThrow(/2 Moodle accounts match by/);
  });
});
