import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDeadLetters, redrive } from '../../src/consumers/dlq.js';
import { countResults } from '../../src/consumers/report.js';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { MoodleClient } from '../../src/lib/moodle/client.js';
import { migrate } from '../../src/mv/migrate.js';
import { CourseEventPublisher, courseEvent } from '../../src/producers/course-publisher.js';
import { newRunId } from '../../src/producers/publisher.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';
import { MoodleCoursesConfig } from '../../src/targets/moodle-courses/config.js';
import { target } from '../../src/targets/moodle-courses/index.js';
import { CourseSession } from '../../src/targets/moodle-courses/session.js';
import { startMoodleSimulator, type MoodleSimulator } from '../../src/targets/moodle/simulator/index.js';
import { Collector, decodeEvents, decodeResults, eventually, testEnv, type TestEnv } from '../support/env.js';

const TOKEN = 'c0ffee00c0ffee00c0ffee00c0ffee00';

/**
 * The courses target through the real runtime against the Moodle simulator: the category tree,
 * courses made once with the template's content once, a changed name updating the course, the
 * course's people reprocessed, log-only changing nothing, a replay making nothing more.
 */
describe('moodle-courses target', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let mvSchema: string;
  let sim: MoodleSimulator;
  let ws: MoodleClient;
  let group: TargetGroup;
  let pub: CourseEventPublisher;
  let results: Collector;
  let reprocessed: Collector;
  const people: Record<string, string[]> = {};

  const topic = (code: string, opts: { term?: string; year?: number; emnetype?: string; status?: string } = {}) =>
    pool.query(`INSERT INTO ${mvSchema}.master_topics VALUES ($1, '1120', $2, 1, $3, $4, $5, $6, $7, '121000', $8)`,
      [`1120:${code}:1`, code, `${code} på bokmål`, `${code} in English`, opts.emnetype ?? 'EMNE', opts.term ?? 'HØST', opts.year ?? 2026, opts.status ?? 'active']);
  const enrol = async (code: string, n: number, term = 'HØST', year = 2026) => {
    people[code] = [];
    for (let i = 0; i < n; i++) {
      const { rows } = await pool.query(`INSERT INTO ${mvSchema}.persons (idauto_id, username, primary_affiliation, stedkode) VALUES (gen_random_uuid(), $1, 'student', '121000') RETURNING idauto_id`, [`${code.toLowerCase()}-${i}`]);
      const id = String(rows[0].idauto_id);
      people[code].push(id);
      await pool.query(`INSERT INTO ${mvSchema}.master_persons VALUES ($1, $2, $3, $4, $5)`, [id, `1120:${code}:1`, term, year, i === 0 ? 'teacher' : 'student']);
    }
  };
  const publish = async (codes: string[], o: { logOnly?: boolean; skipUsers?: boolean; runId?: string } = {}) => {
    const runId = o.runId ?? newRunId();
    await pub.send(codes.map((c) => courseEvent(`1120:${c}:1`, 'REPROCESS', { runId, mode: 'REPROCESS', logOnly: !!o.logOnly, skipUsers: !!o.skipUsers, targets: null, source: 'test' })));
    return runId;
  };
  const decoded = () => decodeResults(env, results.messages);
  const runResults = async (runId: string, n: number): Promise<ProvisioningResult[]> =>
    eventually(async () => { const rs = (await decoded()).filter((r) => r.runId === runId); return rs.length >= n && rs; }, 60_000, `${n} results of ${runId}`);
  const state = () => sim.snapshot();
  const courseOf = (code: string, year = 2026, term = 'HØST') => state().courses.find((c) => c.idnumber === `1120:${code}:1:${year}:${term}`);
  const modulesOf = (id: number) => state().modules.filter((m) => m.courseid === id).map((m) => `${m.modname}:${m.name}`).sort();

  beforeAll(async () => {
    env = await testEnv('courses', (cfg) => {
      cfg.runtime.maxRetries = 2;
      cfg.runtime.retryBaseMs = 20;
    });
    mvSchema = `test_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
    await migrate(env.cfg.mv.url, mvSchema);
    env.cfg.mv.schema = mvSchema;
    pool = new pg.Pool({ connectionString: env.cfg.mv.url, max: 2 });
    await pool.query(`INSERT INTO ${mvSchema}.org_units VALUES
      ('120000', NULL, 'faculty', 'Det matematisk-naturvitenskapelige fakultet', 'Faculty of Science', 'MN', 'MN'),
      ('121000', '120000', 'department', 'Institutt for informatikk', 'Department of Informatics', 'II', 'Informatikk')`);
    for (const c of ['INF100', 'INF200']) await topic(c);
    await topic('PHD900', { emnetype: 'PHD' });
    await topic('INF300');
    await topic('OLD100', { status: 'inactive' });
    await enrol('INF100', 3);
    await enrol('INF200', 2);
    await enrol('PHD900', 1);
    await enrol('INF300', 2);
    sim = await startMoodleSimulator({ token: TOKEN, seed: 'recorded' });
    ws = new MoodleClient({ url: sim.url, token: TOKEN });
    const secrets = mkdtempSync(join(tmpdir(), 'tilgang-courses-'));
    writeFileSync(join(secrets, 'token'), TOKEN);
    env.cfg.targets['moodle-courses'] = { url: sim.url, token: { file: join(secrets, 'token') }, template: 'TEMPLATE-101' };
    group = new TargetGroup(env.cfg, env.kafka, target, { groupId: `tilgang.moodle-courses.${env.id}`, topics: { dlq: `test.${env.id}.moodle-courses.dlq` } });
    await group.start();
    pub = new CourseEventPublisher(env.kafka, env.cfg, `test.courses.${env.id}`);
    await pub.connect();
    results = await new Collector(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
    reprocessed = await new Collector(env.kafka, env.cfg.kafka.topics.personChanged).start();
  }, 120_000);

  afterAll(async () => {
    await results?.stop();
    await reprocessed?.stop();
    await pub?.disconnect();
    await group?.stop();
    await ws?.close();
    await sim?.close();
    await pool?.query(`DROP SCHEMA IF EXISTS ${mvSchema} CASCADE; DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema} CASCADE`);
    await pool?.end();
    await env?.close();
  });

  it('makes the category tree and each course once, with the template\'s content, then reprocesses exactly its people', async () => {
    const runId = await publish(['INF100', 'INF200', 'PHD900']);
    const rs = await runResults(runId, 3);
    expect(rs.map((r) => [r.personId, r.outcome, r.error?.message ?? null]).sort()).toEqual([
      ['1120:INF100:1', 'APPLIED', null], ['1120:INF200:1', 'APPLIED', null], ['1120:PHD900:1', 'APPLIED', null],
    ]);
    const cats = state().categories.filter((c) => c.idnumber?.startsWith('tilgang:'));
    const semester = cats.find((c) => c.idnumber === 'tilgang:2026:HØST')!;
    expect(semester).toMatchObject({ name: 'Høst 2026', parent: 0 });
    expect(cats.filter((c) => c.parent === semester.id).map((c) => [c.idnumber, c.name]).sort()).toEqual([['tilgang:2026:HØST:EMNE', 'EMNE'], ['tilgang:2026:HØST:PHD', 'PHD']]);
    expect(cats).toHaveLength(3);
    const inf100 = courseOf('INF100')!;
    const emne = cats.find((c) => c.idnumber === 'tilgang:2026:HØST:EMNE')!;
    expect(inf100).toMatchObject({
      shortname: 'INF100-2026-HØST', fullname: 'INF100 på bokmål', category: emne.id,
      startdate: Date.UTC(2026, 6, 1) / 1000, enddate: Date.UTC(2026, 11, 31, 23, 59, 59) / 1000,
    });
    // The template's content, once (a new course's own news forum replaced by the template's).
    const template = state().courses.find((c) => c.shortname === 'TEMPLATE-101')!;
    expect(modulesOf(inf100.id)).toEqual(modulesOf(template.id));
    expect(modulesOf(inf100.id).length).toBeGreaterThan(1);
    // Counters: three courses added, three categories, three imports.
    const c = countResults(rs).get('moodle-courses')!;
    expect([c.total, c.add, c.addFail, c.categoryAdd, c.templateImport]).toEqual([3, 3, 0, 3, 3]);
    // The people of each course, once each, for the users target only, in the course event's run.
    const evs = await eventually(async () => { const e = await decodeEvents(env, reprocessed.messages); return e.length >= 6 && e; }, 30_000, 'reprocess events');
    expect(evs.map((e) => e.personId).sort()).toEqual([...people.INF100!, ...people.INF200!, ...people.PHD900!].sort());
    expect(new Set(evs.map((e) => `${e.changeType}|${e.mode}|${e.runId}|${e.targets?.join(',')}|${e.logOnly}`))).toEqual(new Set([`REPROCESS|REPROCESS|${runId}|moodle|false`]));
  });

  it('a replay makes nothing more: no course, category, content or reprocess', async () => {
    const before = state();
    const events = reprocessed.messages.length;
    const runId = await publish(['INF100', 'INF200', 'PHD900']);
    const rs = await runResults(runId, 3);
    expect(rs.map((r) => r.outcome)).toEqual(['UNCHANGED', 'UNCHANGED', 'UNCHANGED']);
    expect(state().courses).toHaveLength(before.courses.length);
    expect(state().categories).toHaveLength(before.categories.length);
    expect(state().modules).toHaveLength(before.modules.length);
    await new Promise((r) => setTimeout(r, 500));
    expect(reprocessed.messages).toHaveLength(events);
  });

  it('a changed name in the catalogue updates the course, and nothing else', async () => {
    await pool.query(`UPDATE ${mvSchema}.master_topics SET name_nb = 'Grunnkurs i programmering' WHERE source_id = '1120:INF100:1'`);
    const events = reprocessed.messages.length;
    const runId = await publish(['INF100']);
    const r = (await runResults(runId, 1))[0]!;
    expect(r.outcome).toBe('APPLIED');
    expect(r.operations!.map((o) => [o.kind, o.changes])).toEqual([['update', [{ attribute: 'fullname', from: 'INF100 på bokmål', to: 'Grunnkurs i programmering' }]]]);
    expect(courseOf('INF100')!.fullname).toBe('Grunnkurs i programmering');
    expect(countResults([r]).get('moodle-courses')!.update).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(reprocessed.messages).toHaveLength(events);
  });

  it('log-only plans and changes nothing', async () => {
    const before = state();
    const runId = await publish(['INF300'], { logOnly: true });
    const r = (await runResults(runId, 1))[0]!;
    expect(r.outcome).toBe('PLANNED');
    expect(r.operations!.map((o) => [o.kind, o.outcome])).toEqual([['create', 'PLANNED'], ['import', 'PLANNED'], ['reprocess', 'PLANNED']]);
    expect(state().courses).toHaveLength(before.courses.length);
    expect(courseOf('INF300')).toBeUndefined();
  });

  it('skipUsers makes the course without reprocessing its people; an inactive or unknown topic makes nothing', async () => {
    const events = reprocessed.messages.length;
    const runId = await publish(['INF300', 'OLD100', 'NOPE999'], { skipUsers: true });
    const rs = (await runResults(runId, 3)).sort((a, b) => a.personId.localeCompare(b.personId));
    expect(rs.map((r) => [r.personId, r.outcome])).toEqual([['1120:INF300:1', 'APPLIED'], ['1120:NOPE999:1', 'SKIPPED'], ['1120:OLD100:1', 'SKIPPED']]);
    expect(rs[0]!.operations!.map((o) => o.kind)).toEqual(['create', 'import']);
    expect(courseOf('INF300')).toBeDefined();
    expect(courseOf('OLD100')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(reprocessed.messages).toHaveLength(events);
  });

  it('a course made but not finished (no idnumber yet) gets the template once and its idnumber, not a second course', async () => {
    await topic('INF400');
    await enrol('INF400', 1);
    const emne = state().categories.find((c) => c.idnumber === 'tilgang:2026:HØST:EMNE')!;
    // As a crash between the create and the import leaves it: a course in tilgang's category, no idnumber, Moodle's own news forum.
    const [made] = await ws.call<{ id: number }[]>('core_course_create_courses', { courses: [{ fullname: 'x', shortname: 'INF400-2026-HØST', categoryid: emne.id }] });
    const runId = await publish(['INF400']);
    const r = (await runResults(runId, 1))[0]!;
    expect(r.outcome).toBe('APPLIED');
    expect(r.operations!.map((o) => o.kind)).toEqual(['import', 'reprocess']);
    expect(courseOf('INF400')!.id).toBe(made!.id);
    const template = state().courses.find((c) => c.shortname === 'TEMPLATE-101')!;
    expect(modulesOf(made!.id)).toEqual(modulesOf(template.id));
  });

  it('a shortname taken by a course tilgang did not make is a terminal failure naming that course', async () => {
    await topic('INF500');
    const [other] = await ws.call<{ id: number }[]>('core_course_create_courses', { courses: [{ fullname: 'Hand made', shortname: 'INF500-2026-HØST', categoryid: 1, idnumber: 'HAND-1' }] });
    const runId = await publish(['INF500']);
    const r = (await runResults(runId, 1))[0]!;
    expect(r.outcome).toBe('FAILED');
    expect(r.error?.message).toContain(`course id ${other!.id} (Hand made, idnumber HAND-1)`);
    expect(courseOf('INF500')).toBeUndefined();

    // The clash resolved by hand, the dead letter redriven: the course comes back on course.changed and is made.
    await ws.call('core_course_update_courses', { courses: [{ id: other!.id, shortname: 'INF500-HAND' }] });
    const dlq = `test.${env.id}.moodle-courses.dlq`;
    await eventually(async () => (await readDeadLetters(env.kafka, 'moodle-courses', dlq)).letters.length > 0, 30_000, 'the dead letter');
    const re = await redrive(env.cfg, env.kafka, 'moodle-courses', { dlq, stream: 'course' });
    expect(re.people).toBe(1);
    const again = (await runResults(re.runId, 1))[0]!;
    expect(again).toMatchObject({ personId: '1120:INF500:1', outcome: 'APPLIED', mode: 'REPROCESS' });
    expect(courseOf('INF500')).toBeDefined();
  });

  it('two workers making the same category at once make it once: the later one finds the first one\'s by idnumber', async () => {
    const cfg = MoodleCoursesConfig.parse({ url: sim.url, token: { env: 'UNUSED' }, template: 'TEMPLATE-101' });
    const one = new CourseSession(new MoodleClient({ url: sim.url, token: TOKEN }), cfg);
    const two = new CourseSession(new MoodleClient({ url: sim.url, token: TOKEN }), cfg);
    try {
      const [a, b] = await Promise.all([one.ensureCategory('tilgang:2031:VÅR', 'Vår 2031', 0), two.ensureCategory('tilgang:2031:VÅR', 'Vår 2031', 0)]);
      expect(a!.id).toBe(b!.id);
      expect([a!.made, b!.made].sort()).toEqual([false, true]);
      expect(state().categories.filter((c) => c.idnumber === 'tilgang:2031:VÅR')).toHaveLength(1);
      // Made by hand (or by a worker whose answer was lost): found, not made again.
      await ws.call('core_course_create_categories', { categories: [{ name: 'Høst 2031', idnumber: 'tilgang:2031:HØST' }] });
      expect(await one.ensureCategory('tilgang:2031:HØST', 'Høst 2031', 0)).toMatchObject({ made: false });
      expect(state().categories.filter((c) => c.idnumber === 'tilgang:2031:HØST')).toHaveLength(1);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('does not start without its template course', async () => {
    const g = new TargetGroup({ ...env.cfg, targets: { 'moodle-courses': { ...(env.cfg.targets['moodle-courses'] as object), template: 'NO-SUCH-TEMPLATE' } } }, env.kafka, target, { groupId: `tilgang.moodle-courses.notemplate.${env.id}` });
    await expect(g.start()).rejects.toThrow(/template course "NO-SUCH-TEMPLATE"/);
    await g.stop().catch(() => {});
  });
});
