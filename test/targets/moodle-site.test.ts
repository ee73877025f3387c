/**
 * The Moodle target against what a real Moodle 4.5 does and a kind simulator would not (the
 * recorded cases of test/data/moodle-recorded/cases-2.jsonl, and what a run against a real site
 * showed): roles inside a course, past semesters, a saved enrolment answered with an error, a
 * username or e-mail held by another account, a course not in Moodle yet, fields too long. The
 * target's own read → plan → apply, over HTTP against the simulator; no Kafka needed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { TerminalError, type PersonContext, type TargetContext } from '../../src/spi/index.js';
import { MoodleClient } from '../../src/targets/moodle/client.js';
import type { MoodleConfig } from '../../src/targets/moodle/config.js';
import { courseIdnumber, target } from '../../src/targets/moodle/index.js';
import type { MoodleSession } from '../../src/targets/moodle/read.js';
import { startMoodleSimulator, type MoodleSimulator } from '../../src/targets/moodle/simulator/index.js';
import { enrolment, moodleConfig, person, targetContext } from '../../src/targets/moodle/test-fixtures.js';

const TOKEN = randomUUID().replace(/-/g, '');
type Sem = { year: number; term: 'VÅR' | 'HØST' };
const NOW: Sem = { year: 2026, term: 'HØST' };
const PAST: Sem = { year: 2026, term: 'VÅR' };
const idn = (code: string, sem: Sem = NOW) => courseIdnumber({ sourceId: `1120:${code}:1`, ...sem });
const STUDENT = 5;
const TEACHER = 3;

describe('Moodle target against what a real Moodle does', () => {
  let sim: MoodleSimulator;
  let ws: MoodleClient;
  let ctx: TargetContext<MoodleConfig>;
  let s: MoodleSession;
  const courseIds = new Map<string, number>();
  let n = 0;

  beforeAll(async () => {
    // The latency model on: the simulator logs every call it served (its costs do not matter here).
    sim = await startMoodleSimulator({
      token: TOKEN, seed: 'minimal', latency: { workers: 8, cores: 8 },
      profileFields: [{ shortname: 'studentid', name: 'Student id', datatype: 'text', visible: true }],
    });
    ws = new MoodleClient({ url: sim.url, token: TOKEN });
    process.env.TILGANG_TEST_MOODLE_SITE_TOKEN = TOKEN;
    // The semester in scope is fixed, so the test does not depend on the day it runs.
    ctx = targetContext(moodleConfig({ url: sim.url, token: { env: 'TILGANG_TEST_MOODLE_SITE_TOKEN' }, enrolmentsFrom: '2026:HØST' }),
      loadConfig('tilgang.example.yaml'));
  });
  afterAll(async () => {
    await ws?.close();
    await sim?.close();
  });
  beforeEach(async () => {
    sim.reset();
    courseIds.clear();
    if (s) await target.close!(s);
    s = await target.connect(ctx);
    for (const [code, sem] of [['INF100', NOW], ['INF200', NOW], ['INF050', PAST]] as [string, Sem][]) {
      const [c] = await ws.call<{ id: number }[]>('core_course_create_courses', { courses: [{ fullname: code, shortname: `${code}-${sem.term}`, categoryid: 1, idnumber: idn(code, sem) }] });
      courseIds.set(idn(code, sem), c!.id);
    }
  });

  /** A person of this test (unique id and username) with MV courses. */
  function someone(courses: [string, 'student' | 'teacher', Sem?][], attrs: Record<string, string[]> = {}): PersonContext {
    const i = ++n;
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    return person({
      id, attrs: { idautoPersonUserNameMV: [`site${i}`], mail: [`site${i}@uni.example.no`], ...attrs },
      mv: { enrolments: courses.map(([code, role, sem = NOW]) => enrolment(code, role, sem.year, sem.term)) },
    });
  }

  /** One wave through the target: desired → actual → plan → applyBatch. */
  async function run(people: PersonContext[], changeType: 'MODIFY' | 'REPROCESS' | 'SNAPSHOT' = 'MODIFY') {
    const wave = people.map((p) => ({ ...p, event: { ...p.event, changeType } }));
    const desired = wave.map((p) => target.desired(p, ctx));
    const actual = await Promise.all(wave.map((p, i) => target.actual(p, desired[i]!, s, ctx)));
    const items = wave.map((p, i) => ({ person: p, desired: desired[i]!, actual: actual[i]!, plan: target.plan(desired[i]!, actual[i]!, p, ctx) }));
    const results = await target.applyBatch!(items, s, ctx);
    return items.map((it, i) => ({ plan: it.plan, ops: it.plan.operations.map((o) => o.detail), results: results[i]! }));
  }

  const rolesIn = async (course: string): Promise<Record<string, number[]>> => {
    const users = await ws.call<{ username: string; roles: { roleid: number }[] }[]>('core_enrol_get_enrolled_users', { courseid: courseIds.get(course)! });
    return Object.fromEntries(users.map((u) => [u.username, u.roles.map((r) => r.roleid)]));
  };
  const calls = (fn: string, after: number) => sim.metrics()!.log.filter((c) => c.seq > after && c.label === fn).length;
  const lastSeq = () => sim.metrics()!.log.at(-1)?.seq ?? 0;

  it('sees a role change inside a course and applies it: the new role given, the old one taken away', async () => {
    const p = someone([['INF100', 'student']]);
    await run([p]);
    const username = `site${n}`;
    expect((await rolesIn(idn('INF100')))[username]).toEqual([STUDENT]);

    const teacher = { ...p, mv: { ...p.mv!, enrolments: [enrolment('INF100', 'teacher')] } };
    const [r] = await run([teacher]);
    expect(r!.ops).toEqual([`give the teacher role in ${idn('INF100')}`, `take the student role in ${idn('INF100')} away`]);
    expect(r!.results.map((x) => x.outcome)).toEqual(['APPLIED', 'APPLIED']);
    expect((await rolesIn(idn('INF100')))[username]).toEqual([TEACHER]);

    // Converged: nothing more to do, and the role it does not manage (a hand-given non-editing teacher) stays.
    await ws.call('enrol_manual_enrol_users', { enrolments: [{ roleid: 4, userid: (await s.findUsers('username', username))[0]!.id, courseid: courseIds.get(idn('INF100'))! }] });
    const again = await run([teacher]);
    expect(again[0]!.ops).toEqual([]);
    expect((await rolesIn(idn('INF100')))[username]).toEqual([TEACHER, 4]);
  });

  it('leaves the courses of past semesters alone: no unenrolment when MV moves on, no enrolment into them', async () => {
    const p = someone([['INF050', 'student', PAST], ['INF100', 'student']]);
    const [first] = await run([p]);
    // The past semester's course is not enrolled into.
    expect(first!.ops).toEqual(['create Moodle user site' + n, `enrol in ${idn('INF100')} as student`]);
    const username = `site${n}`;
    const userid = (await s.findUsers('username', username))[0]!.id;
    // Someone enrolled them in the past semester's course when it was current.
    await ws.call('enrol_manual_enrol_users', { enrolments: [{ roleid: STUDENT, userid, courseid: courseIds.get(idn('INF050', PAST))! }] });

    // The semester moved on: MV lists only this semester's course; last semester's people stay.
    const moved = { ...p, mv: { ...p.mv!, enrolments: [enrolment('INF100', 'student')] } };
    const [r] = await run([moved]);
    expect(r!.ops).toEqual([]);
    expect((await rolesIn(idn('INF050', PAST)))[username]).toEqual([STUDENT]);

    // A course of this semester MV no longer lists is still unenrolled.
    const dropped = { ...p, mv: { ...p.mv!, enrolments: [] } };
    const [d] = await run([dropped]);
    expect(d!.ops).toEqual([`unenrol from ${idn('INF100')}`]);
    expect((await rolesIn(idn('INF050', PAST)))[username]).toEqual([STUDENT]);
  });

  it('re-reads after an error whose effect is uncertain: an enrolment saved and answered "Message was not sent." is applied', async () => {
    const p = someone([]);
    await run([p]);
    sim.setOutgoingMailFails(true);
    const [r] = await run([{ ...p, mv: { ...p.mv!, enrolments: [enrolment('INF200', 'student')] } }]);
    expect(r!.ops).toEqual([`enrol in ${idn('INF200')} as student`]);
    expect(r!.results).toEqual([{ outcome: 'APPLIED' }]);
    expect((await rolesIn(idn('INF200')))[`site${n}`]).toEqual([STUDENT]);
  });

  it('names the account that holds a username or e-mail Moodle refuses as taken', async () => {
    const [holder] = await ws.call<{ id: number }[]>('core_user_create_users', {
      users: [{ username: 'hand.made', auth: 'manual', createpassword: 1, firstname: 'Hand', lastname: 'Made', email: 'taken@uni.example.no' }],
    });
    const mailTaken = someone([], { mail: ['taken@uni.example.no'] });
    const twinA = someone([], { idautoPersonUserNameMV: ['twin'] });
    const twinB = someone([], { idautoPersonUserNameMV: ['twin'] });
    const [m, a, b] = await run([mailTaken, twinA, twinB]);
    expect(m!.results[0]).toEqual({ outcome: 'FAILED', error: expect.stringContaining(
      `core_user_create_users refused: the e-mail address is already held by the Moodle account hand.made (id ${holder!.id})`) as string });
    expect(m!.results[0]!.error).not.toContain('taken@');
    expect(a!.results[0]!.outcome).toBe('APPLIED');
    const twinId = a!.results[0]!.accountId;
    expect(b!.results[0]!.error).toContain(`the username twin is already held by the Moodle account twin (id ${twinId})`);
  });

  it('looks a missing course up once for a wave, not once per person, and a REPROCESS sees it as soon as it is made', async () => {
    const missing = idn('INF900');
    const people = Array.from({ length: 12 }, () => someone([['INF900', 'student']]));
    await run(people);
    const before = lastSeq();
    const wave = await run(people);
    expect(wave.every((w) => w.plan.skipReason === `course not in Moodle yet: ${missing} as student`)).toBe(true);
    expect(calls('core_course_get_courses_by_field', before)).toBe(0);

    const [c] = await ws.call<{ id: number }[]>('core_course_create_courses', { courses: [{ fullname: 'INF900', shortname: 'INF900', categoryid: 1, idnumber: missing }] });
    // The courses flow reprocesses the course's people right after making it: they must see it.
    const [r] = await run([people[0]!], 'REPROCESS');
    expect(r!.ops).toEqual([`enrol in ${missing} as student`]);
    expect(r!.results[0]!.outcome).toBe('APPLIED');
    expect(Object.keys(await ws.call<unknown[]>('core_enrol_get_enrolled_users', { courseid: c!.id }))).toHaveLength(1);
  });

  it('in a full reconciliation reads each course\'s roster once for everyone, not each person\'s courses', async () => {
    const people = Array.from({ length: 10 }, () => someone([['INF100', 'student'], ['INF200', 'student']]));
    await run(people);
    // A new connection (cold caches), as a reconciliation the next night finds it.
    await target.close!(s);
    s = await target.connect(ctx);
    const before = lastSeq();
    const dropped = { ...people[3]!, mv: { ...people[3]!.mv!, enrolments: [enrolment('INF100', 'student')] } };
    const wave = await run([...people.slice(0, 3), dropped, ...people.slice(4)], 'SNAPSHOT');
    expect(wave.map((w) => w.ops)).toEqual(people.map((_, i) => (i === 3 ? [`unenrol from ${idn('INF200')}`] : [])));
    expect(calls('core_enrol_get_users_courses', before)).toBe(0);
    // One roster per course of this semester (INF100, INF200), whatever the number of people.
    expect(calls('core_enrol_get_enrolled_users', before)).toBe(2);
  });

  it('fails a person whose name Moodle would refuse before sending anything, naming the field and the limit', async () => {
    const long = someone([], { givenName: ['N'.repeat(120)] });
    const before = lastSeq();
    const e = (() => { try { target.desired(long, ctx); } catch (x) { return x; } return null; })();
    expect(e).toBeInstanceOf(TerminalError);
    expect((e as TerminalError).message).toBe(`person ${long.id}, target moodle: firstname is 120 characters long; Moodle allows at most 100`);
    expect((e as TerminalError).field).toBe('firstname');
    expect(lastSeq()).toBe(before);
  });
});
