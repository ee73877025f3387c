/**
 * The Moodle target end to end: directory changes → producer → person.changed → the moodle
 * consumer group → the Moodle simulator over HTTP → results and writeback, on the real local
 * stack, with MV data in a schema of this test's own.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDeadLetters } from '../../src/consumers/dlq.js';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { countResults, formatReport, readRunResults } from '../../src/consumers/report.js';
import type { TargetContext } from '../../src/spi/index.js';
import { migrate } from '../../src/mv/migrate.js';
import { sync } from '../../src/producers/sync.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';
import { MoodleClient, type MoodleCoursesResult, type MoodleUser, type MoodleUserCourse } from '../../src/targets/moodle/client.js';
import type { MoodleConfig } from '../../src/targets/moodle/config.js';
import { courseIdnumber, target } from '../../src/targets/moodle/index.js';
import { startMoodleSimulator } from '../../src/targets/moodle/simulator/index.js';
import { moodleConfig, person, targetContext } from '../../src/targets/moodle/test-fixtures.js';
import { loadConfig } from '../../src/config.js';
import { loadSimulator } from '../../src/targets/index.js';
import { Collector, decodeResults, eventually, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

const TOKEN = randomUUID().replace(/-/g, '');
const TERM = { year: 2026, term: 'HØST' as const };
const course = (code: string) => courseIdnumber({ sourceId: `1120:${code}:1`, ...TERM });
const INF = ['INF100', 'INF200', 'INF300', 'INF900'];

describe('Moodle target through the runtime, against the Moodle simulator', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let mvSchema: string;
  let secrets: string;
  let sim: { url: string; close(): Promise<void> };
  let ws: MoodleClient;
  let pipe: Pipeline;
  let results: Collector;
  let events: Collector;
  const courseIds = new Map<string, number>();
  const dlq = () => `test.${env.id}.moodle.dlq`;

  beforeAll(async () => {
    env = await testEnv('moodle', (cfg) => {
      cfg.runtime.maxRetries = 1;
      cfg.runtime.retryBaseMs = 20;
      cfg.runtime.guard = { maxOperations: 100_000, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
    });
    mvSchema = `test_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
    await migrate(env.cfg.mv.url, mvSchema);
    env.cfg.mv.schema = mvSchema;
    pool = new pg.Pool({ connectionString: env.cfg.mv.url, max: 2 });
    await pool.query(`INSERT INTO ${mvSchema}.org_units VALUES
      ('120000', NULL, 'faculty', 'Det matematisk-naturvitenskapelige fakultet', 'Faculty of Science', 'MN', 'MN'),
      ('121000', '120000', 'department', 'Institutt for informatikk', 'Department of Informatics', 'II', 'Informatikk'),
      ('122000', '120000', 'department', 'Matematisk institutt', 'Department of Mathematics', 'MI', 'Matematikk')`);
    for (const code of INF) {
      await pool.query(`INSERT INTO ${mvSchema}.master_topics VALUES ($1, '1120', $2, 1, $2, $2, 'EMNE', $3, $4, '121000', 'active')`,
        [`1120:${code}:1`, code, TERM.term, TERM.year]);
    }
    secrets = mkdtempSync(join(tmpdir(), 'tilgang-moodle-'));
    writeFileSync(join(secrets, 'moodle-token'), TOKEN);
    // The target's own simulator entry point, found by path as `npm start` finds it.
    sim = await (await loadSimulator('moodle'))!.start({ port: 0, latency: false, token: TOKEN, global: env.cfg });
    ws = new MoodleClient({ url: sim.url, token: TOKEN });
    // Managed courses (all but INF900, which the courses flow has not made yet) and one tilgang does not manage.
    for (const code of [...INF.filter((c) => c !== 'INF900'), 'FOREIGN']) {
      const idnumber = code === 'FOREIGN' ? 'FOREIGN-101' : course(code);
      const [c] = await ws.call<{ id: number }[]>('core_course_create_courses', { courses: [{ fullname: code, shortname: `${code}-${env.id}`, categoryid: 1, idnumber }] });
      courseIds.set(code, c!.id);
    }
    env.cfg.targets.moodle = {
      url: sim.url, token: { file: join(secrets, 'moodle-token') }, heldBy: { institution: '1120', studentIdField: 'studentid' },
      // The test's courses are of this semester whatever day the test runs.
      enrolmentsFrom: `${TERM.year}:${TERM.term}`,
    };
    pipe = await startPipeline(env, target, { topics: { dlq: dlq() } });
    ({ results, events } = pipe);
  }, 180_000);

  afterAll(async () => {
    await pipe?.stop();
    await ws?.close();
    await sim?.close();
    await pool?.query(`DROP SCHEMA IF EXISTS ${mvSchema} CASCADE; DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema} CASCADE`);
    await pool?.end();
    await env?.close();
    if (secrets) rmSync(secrets, { recursive: true, force: true });
  });

  // ---- helpers --------------------------------------------------------------------------------

  const resultsFor = (id: string) => pipe.resultsFor(id);
  const waitResults = (id: string, n: number, what?: string) => pipe.waitResults(id, n, what);
  const nth = async (id: string, n: number) => (await waitResults(id, n))[n - 1]!;
  const ops = (r: ProvisioningResult) => (r.operations ?? []).map((o) => o.kind);

  /** A person in MV (persons + their courses) and then in the directory, so the first event sees both. */
  async function addPerson(o: { courses?: [string, 'student' | 'teacher'][]; stedkode?: string; person?: Partial<TestPerson> } = {}): Promise<TestPerson> {
    const id = randomUUID();
    await pool.query(`INSERT INTO ${mvSchema}.persons (idauto_id, username, student_id, primary_affiliation, stedkode) VALUES ($1, NULL, '512345', 'student', $2)`, [id, o.stedkode ?? '121000']);
    for (const [code, role] of o.courses ?? []) await setCourse(id, code, role);
    return env.addPerson({ id, extra: { idautoPersonStuID: ['512345'] }, ...o.person });
  }
  async function setCourse(id: string, code: string, role: 'student' | 'teacher', on = true): Promise<void> {
    if (on) await pool.query(`INSERT INTO ${mvSchema}.master_persons VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [id, `1120:${code}:1`, TERM.term, TERM.year, role]);
    else await pool.query(`DELETE FROM ${mvSchema}.master_persons WHERE idauto_id = $1 AND source_id = $2 AND role = $3`, [id, `1120:${code}:1`, role]);
  }
  /** MV changes reach no change log: a REPROCESS of the person, as the courses flow or an operator sends. */
  const reprocess = (id: string, logOnly = false) => sync(env.cfg, env.kafka, { keyField: 'idautoID', keyValue: id, logOnly });

  const moodleUser = async (field: 'username' | 'idnumber', value: string) => ws.call<MoodleUser[]>('core_user_get_users_by_field', { field, values: [value] });
  const courses = async (userid: number) =>
    (await ws.call<MoodleUserCourse[]>('core_enrol_get_users_courses', { userid, returnusercount: false })).map((c) => c.idnumber).sort();
  const setAffiliation = async (p: TestPerson, a: string) => {
    await env.modify(env.dn(p.id), 'idautoPersonAffiliations', [a]);
    await env.modify(env.dn(p.id), 'idautoPersonAffiliation', [a]);
  };

  // ---- tests ----------------------------------------------------------------------------------

  it('creates an entitled person\'s account with the seed\'s fields and enrols them in their MV courses with their roles', async () => {
    const p = await addPerson({ courses: [['INF100', 'student'], ['INF200', 'teacher']] });
    const r = await nth(p.id, 1);
    expect(r).toMatchObject({ outcome: 'APPLIED', entitled: true, target: 'moodle', counters: { coursesAdded: 2 } });
    expect(ops(r)).toEqual(['create', 'enrol', 'enrol']);
    const [u] = await moodleUser('username', p.username);
    expect(u).toMatchObject({
      username: p.username, email: p.mail, fullname: `${p.givenName} ${p.sn}`, idnumber: p.id, auth: 'saml2', suspended: false,
      department: 'Institutt for informatikk', institution: '1120', customfields: [expect.objectContaining({ shortname: 'studentid', value: '512345' })],
    });
    expect(r.accountId).toBe(String(u!.id));
    expect(await courses(u!.id)).toEqual([course('INF100'), course('INF200')]);
    // The teacher role: editingteacher is a course contact.
    const inf200 = await ws.call<MoodleCoursesResult>('core_course_get_courses_by_field', { field: 'idnumber', value: course('INF200') });
    expect((inf200.courses[0] as unknown as { contacts: { id: number }[] }).contacts.map((c) => c.id)).toEqual([u!.id]);
    // Nothing sensitive left the process.
    expect(JSON.stringify(r)).not.toContain('01810012345');
    await eventually(async () => {
      const { searchEntries } = await env.admin.search(env.dn(p.id), { scope: 'base', attributes: ['tilgangProvisionedTo'] });
      return searchEntries[0]?.tilgangProvisionedTo === 'moodle';
    }, 20_000, 'writeback');
  });

  it('updates only the field that changed: e-mail, names, student id, department, and the username (found again by idnumber)', async () => {
    const p = await addPerson();
    await nth(p.id, 1);
    const [before] = await moodleUser('idnumber', p.id);
    const changed = async (n: number) => {
      const r = await nth(p.id, n);
      expect(r.outcome).toBe('APPLIED');
      expect(ops(r)).toEqual(['update']);
      return r.operations![0]!.changes!.map((c) => c.attribute);
    };
    await env.modify(env.dn(p.id), 'mail', ['ny.adresse@uni.example.no']);
    expect(await changed(2)).toEqual(['email']);
    await env.modify(env.dn(p.id), 'sn', ['Nyquist-Ås']);
    expect(await changed(3)).toEqual(['firstname', 'lastname']);
    await env.modify(env.dn(p.id), 'givenName', ['Kari']);
    expect(await changed(4)).toEqual(['firstname', 'lastname']);
    await env.modify(env.dn(p.id), 'idautoPersonStuID', ['599999']);
    expect(await changed(5)).toEqual(['profile_field_studentid']);
    await pool.query(`UPDATE ${mvSchema}.persons SET stedkode = '122000' WHERE idauto_id = $1`, [p.id]);
    await reprocess(p.id);
    expect(await changed(6)).toEqual(['department']);
    await env.modify(env.dn(p.id), 'idautoPersonUserNameMV', [`${p.username}x`]);
    expect(await changed(7)).toEqual(['username']);
    const [after] = await moodleUser('idnumber', p.id);
    expect(after).toMatchObject({
      id: before!.id, username: `${p.username}x`, email: 'ny.adresse@uni.example.no', fullname: 'Kari Nyquist-Ås', department: 'Matematisk institutt',
      customfields: [expect.objectContaining({ value: '599999' })],
    });
  });

  it('suspends a person who is no longer entitled (keeping their courses), unsuspends them when entitled again, never deletes', async () => {
    const p = await addPerson({ courses: [['INF100', 'student']] });
    await nth(p.id, 1);
    await setAffiliation(p, 'alum');
    // Two modifies, two events; level-triggered, the first may already see both.
    const rs = await waitResults(p.id, 3);
    const disable = rs.slice(1).find((r) => ops(r).includes('disable'))!;
    expect(ops(disable)).toEqual(['disable']);
    expect(disable).toMatchObject({ outcome: 'APPLIED', entitled: false });
    let [u] = await moodleUser('idnumber', p.id);
    expect(u!.suspended).toBe(true);
    expect(await courses(u!.id)).toEqual([course('INF100')]);
    await setAffiliation(p, 'student');
    const back = await eventually(async () => (await resultsFor(p.id)).find((r) => ops(r).includes('enable')), 30_000, 'enable');
    expect(ops(back)).toEqual(['enable']);
    [u] = await moodleUser('idnumber', p.id);
    expect(u!.suspended).toBe(false);
    expect(await moodleUser('idnumber', p.id)).toHaveLength(1);
  });

  it('reports two Moodle accounts for one person as a duplicate naming both, and dead-letters it', async () => {
    const id = randomUUID();
    const username = `dup${id.slice(0, 6)}`;
    await ws.call('core_user_create_users', { users: [
      { username, auth: 'saml2', firstname: 'Stray', lastname: 'One', email: `${username}@elsewhere.example.org` },
      { username: `${username}old`, auth: 'saml2', firstname: 'Stray', lastname: 'Two', email: `${username}.old@elsewhere.example.org`, idnumber: id },
    ] });
    await pool.query(`INSERT INTO ${mvSchema}.persons (idauto_id, primary_affiliation, stedkode) VALUES ($1, 'student', '121000')`, [id]);
    const p = await env.addPerson({ id, username });
    const r = await nth(p.id, 1);
    expect(r).toMatchObject({ outcome: 'FAILED', error: { kind: 'TERMINAL', code: 'duplicate' } });
    expect(r.error!.message).toContain(p.id);
    expect(r.error!.message).toMatch(new RegExp(`${username} \\(id \\d+\\) by username and ${username}old \\(id \\d+\\) by idnumber`));
    await eventually(async () => (await readDeadLetters(env.kafka, 'moodle', dlq())).letters.some((l) => l.personId === p.id), 20_000, 'dead letter');
    expect(await moodleUser('username', username)).toHaveLength(1);
  });

  it('skips a record that lacks an essential attribute, creating nothing', async () => {
    const p = await addPerson({ person: { givenName: '' } });
    const r = await nth(p.id, 1);
    expect(r).toMatchObject({ outcome: 'SKIPPED', skipReason: 'missing essential attribute: givenName' });
    expect(await moodleUser('idnumber', p.id)).toEqual([]);
  });

  it('enrols and unenrols the difference in managed courses and leaves every other enrolment alone', async () => {
    const p = await addPerson({ courses: [['INF100', 'student']] });
    await nth(p.id, 1);
    const [u] = await moodleUser('idnumber', p.id);
    // By hand in Moodle: a course tilgang does not manage, and a managed one MV does not list for the person.
    await ws.call('enrol_manual_enrol_users', { enrolments: [
      { roleid: 5, userid: u!.id, courseid: courseIds.get('FOREIGN')! },
      { roleid: 5, userid: u!.id, courseid: courseIds.get('INF300')! },
    ] });
    await setCourse(p.id, 'INF200', 'teacher');
    await reprocess(p.id);
    const r = await nth(p.id, 2);
    expect(r.operations!.map((o) => [o.kind, o.detail, o.outcome])).toEqual([
      ['enrol', `enrol in ${course('INF200')} as teacher`, 'APPLIED'],
      ['unenrol', `unenrol from ${course('INF300')}`, 'APPLIED'],
    ]);
    expect(r.counters).toEqual({ coursesAdded: 1, coursesRemoved: 1 });
    expect(await courses(u!.id)).toEqual(['FOREIGN-101', course('INF100'), course('INF200')].sort());
    await setCourse(p.id, 'INF100', 'student', false);
    await reprocess(p.id);
    expect(ops(await nth(p.id, 3))).toEqual(['unenrol']);
    expect(await courses(u!.id)).toEqual(['FOREIGN-101', course('INF200')].sort());
  });

  it('reports a course that is not in Moodle yet without failing the person, and enrols once it exists', async () => {
    const p = await addPerson({ courses: [['INF100', 'student'], ['INF900', 'student']] });
    const first = await nth(p.id, 1);
    expect(first.outcome).toBe('APPLIED');
    expect(first.operations!.map((o) => [o.kind, o.outcome])).toEqual([['create', 'APPLIED'], ['enrol', 'APPLIED'], ['enrol', 'SKIPPED']]);
    expect(first.operations![2]!.detail).toBe(`not enrolled in ${course('INF900')} as student: the course is not in Moodle yet`);
    await reprocess(p.id);
    expect(await nth(p.id, 2)).toMatchObject({ outcome: 'SKIPPED', skipReason: `course not in Moodle yet: ${course('INF900')} as student` });
    const [c] = await ws.call<{ id: number }[]>('core_course_create_courses', { courses: [{ fullname: 'INF900', shortname: `INF900-${env.id}`, categoryid: 1, idnumber: course('INF900') }] });
    courseIds.set('INF900', c!.id);
    await reprocess(p.id);
    const third = await nth(p.id, 3);
    expect(third.operations!.map((o) => [o.kind, o.detail, o.outcome])).toEqual([['enrol', `enrol in ${course('INF900')} as student`, 'APPLIED']]);
  });

  it('fails only the bad person of a batch: the others are created (through the runtime)', async () => {
    // Only Moodle knows what is wrong with the second person: another account holds the e-mail address.
    const [holder] = await ws.call<{ id: number }[]>('core_user_create_users', {
      users: [{ username: `holder-${env.id}`, auth: 'saml2', firstname: 'H', lastname: 'H', email: `held-${env.id}@uni.example.no` }],
    });
    const people = [await addPerson(), await addPerson({ person: { mail: `held-${env.id}@uni.example.no` } }), await addPerson(), await addPerson()];
    const rs = await Promise.all(people.map((p) => nth(p.id, 1)));
    expect(rs.map((r) => r.outcome)).toEqual(['APPLIED', 'FAILED', 'APPLIED', 'APPLIED']);
    expect(rs[1]!.error!.message).toMatch(new RegExp(`create failed: person .* core_user_create_users refused: the e-mail address is already held by the Moodle account holder-${env.id} \\(id ${holder!.id}\\)`));
    expect(rs[1]!.counters).toEqual({});
    for (const [i, p] of people.entries()) expect(await moodleUser('idnumber', p.id)).toHaveLength(i === 1 ? 0 : 1);
  });

  it('log-only plans and publishes but changes nothing; the same run without it converges', async () => {
    const p = await addPerson();
    await nth(p.id, 1);
    const [u] = await moodleUser('idnumber', p.id);
    // Someone changed the address by hand in Moodle.
    await ws.call('core_user_update_users', { users: [{ id: u!.id, email: 'for.haand@elsewhere.example.org' }] });
    await reprocess(p.id, true);
    const planned = await nth(p.id, 2);
    expect(planned).toMatchObject({ outcome: 'PLANNED', logOnly: true });
    expect(planned.operations).toEqual([expect.objectContaining({ kind: 'update', outcome: 'PLANNED', changes: [{ attribute: 'email', from: 'for.haand@elsewhere.example.org', to: p.mail }] })]);
    expect((await moodleUser('idnumber', p.id))[0]!.email).toBe('for.haand@elsewhere.example.org');
    await reprocess(p.id);
    expect((await nth(p.id, 3)).outcome).toBe('APPLIED');
    expect((await moodleUser('idnumber', p.id))[0]!.email).toBe(p.mail);
  });

  it('counts the seed\'s counters for a run: total, skipped, unchanged, add, update, disable, courses, and failures', async () => {
    const all = await decodeResults(env, results.messages);
    const live = countResults(all).get('moodle')!;
    expect(live).toMatchObject({ add: expect.any(Number), addFail: 1, disable: 1, enable: 1 });
    expect(live.add).toBeGreaterThanOrEqual(8);
    expect(live.update).toBeGreaterThanOrEqual(7);
    expect(live.coursesAdded).toBeGreaterThanOrEqual(6);
    expect(live.coursesRemoved).toBe(2);
    expect(live.skipped).toBeGreaterThanOrEqual(2);
    // A full reconciliation run now: everyone is as they should be, apart from the two who cannot be.
    const s = await sync(env.cfg, env.kafka, { all: true });
    const rs = await eventually(async () => {
      const r = await readRunResults(env.kafka, env.cfg.registry.url, env.cfg.kafka.topics.provisioningResult, s.runId);
      return r.length >= s.published && r;
    }, 60_000, 'run results');
    const c = countResults(rs).get('moodle')!;
    expect(c).toMatchObject({ total: s.published, add: 0, update: 0, disable: 0, addFail: 1, skipped: 1 });
    expect(c.unchanged).toBe(s.published - 3); // the incomplete record (skipped), the duplicate (failed), the bad address (addFail)
    expect(formatReport(s.runId, countResults(rs))).toMatch(/addFail +1/);
  });

  it('replaying the whole topic changes nothing more', async () => {
    const people = (await decodeResults(env, results.messages)).map((r) => r.personId);
    const state = async () => Promise.all([...new Set(people)].sort().map(async (id) => {
      const us = await moodleUser('idnumber', id);
      return { id, users: us.map((u) => ({ ...u, lastaccess: 0 })), courses: us[0] ? await courses(us[0].id) : [] };
    }));
    const before = await state();
    const replayResults = `test.${env.id}.replay.results`;
    const replay = new TargetGroup(env.cfg, env.kafka, target, {
      groupId: `tilgang.moodle.replay.${env.id}`, topics: { provisioningResult: replayResults, dlq: `${dlq()}.replay` }, fromBeginning: true,
    });
    await replay.start();
    const collected = await new Collector(env.kafka, replayResults).start();
    try {
      const n = events.messages.length;
      await collected.until((m) => m.length >= n, 60_000, 'replayed results');
      const rs = await decodeResults(env, collected.messages);
      const applied = rs.filter((r) => (r.operations ?? []).some((o) => o.outcome === 'APPLIED'));
      expect(applied.map((r) => [r.personId, r.operations!.map((o) => o.detail)])).toEqual([]);
      expect(new Set(rs.map((r) => r.outcome))).toEqual(new Set(['UNCHANGED', 'SKIPPED', 'FAILED']));
      expect(await state()).toEqual(before);
    } finally {
      await collected.stop();
      await replay.stop();
    }
  }, 120_000);
});

describe('Moodle target applyBatch against the simulator', () => {
  let sim: Awaited<ReturnType<typeof startMoodleSimulator>>;
  let ctx: TargetContext<MoodleConfig>;
  const token = randomUUID().replace(/-/g, '');

  beforeAll(async () => {
    // With the latency model on, the simulator logs every call it served.
    sim = await startMoodleSimulator({ token, latency: { workers: 4 }, profileFields: [{ shortname: 'studentid', name: 'Student id', datatype: 'text', visible: true }] });
    process.env.TILGANG_TEST_MOODLE_TOKEN = token;
    ctx = targetContext(moodleConfig({ url: sim.url, token: { env: 'TILGANG_TEST_MOODLE_TOKEN' } }), loadConfig('tilgang.example.yaml'));
  });
  afterAll(async () => sim?.close());

  it('splits a refused batch to find the bad item: one bad person does not fail the others', async () => {
    const people = Array.from({ length: 10 }, (_, i) => person({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      attrs: { idautoPersonUserNameMV: [`batch${i}`], mail: [`batch${i}@uni.example.no`] },
    }));
    // Only Moodle knows what is wrong with person 6: another account holds the e-mail address.
    const holder = new MoodleClient({ url: sim.url, token });
    await holder.call('core_user_create_users', { users: [{ username: 'someone.else', auth: 'saml2', firstname: 'S', lastname: 'E', email: 'batch6@uni.example.no' }] });
    await holder.close();
    const s = await target.connect(ctx);
    try {
      const desired = people.map((p) => target.desired(p, ctx));
      const actual = await Promise.all(people.map((p, i) => target.actual(p, desired[i]!, s, ctx)));
      const items = people.map((p, i) => ({ person: p, desired: desired[i]!, actual: actual[i] as never, plan: target.plan(desired[i]!, actual[i] as never, p, ctx) }));
      const served = sim.metrics()!.served;
      const out = await target.applyBatch!(items, s, ctx);
      expect(out.map((r) => r[0]!.outcome)).toEqual(people.map((_, i) => (i === 6 ? 'FAILED' : 'APPLIED')));
      expect(out[6]![0]!.error).toMatch(/person 00000000-0000-4000-8000-000000000006 \(username batch6\): core_user_create_users refused: the e-mail address is already held by the Moodle account someone\.else \(id \d+\)/);
      const calls = sim.metrics()!.log.filter((c) => c.seq > served && c.label === 'core_user_create_users').length;
      // One refused call of 10, then halves down to the bad one: far fewer than one call per person.
      expect(calls).toBeGreaterThan(1);
      expect(calls).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(10)));
      const ws = new MoodleClient({ url: sim.url, token });
      const found = await ws.call<MoodleUser[]>('core_user_get_users_by_field', { field: 'username', values: people.map((_, i) => `batch${i}`) });
      await ws.close();
      expect(found.map((u) => u.username).sort()).toEqual(people.map((_, i) => `batch${i}`).filter((u) => u !== 'batch6'));
    } finally {
      await target.close!(s);
    }
  });
});
