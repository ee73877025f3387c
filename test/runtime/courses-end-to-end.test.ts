import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/mv/migrate.js';
import { CoursesProducer } from '../../src/producers/courses-producer.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';
import { runSeed } from '../../src/seed/index.js';
import { target as coursesTarget } from '../../src/targets/moodle-courses/index.js';
import { target as moodleTarget } from '../../src/targets/moodle/index.js';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { loadSimulator } from '../../src/targets/index.js';
import { ensureTopicsOn } from '../../src/lib/kafka.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';
import { decodeResults, eventually, testEnv, type Collector, type TestEnv } from '../support/env.js';

const TOKEN = 'feedbeeffeedbeeffeedbeeffeedbeef';
const WAITING = /not in Moodle yet/;

/**
 * What `npm start` does with the courses, in a test's own corner: a sample university, the
 * change-log producer and the courses producer, the Moodle users and courses targets against one
 * Moodle simulator. The courses are made from the catalogue, then their people enrolled: at rest
 * no result says a course is not in Moodle yet.
 */
describe('courses end to end: the sample university\'s courses, then their people', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let mvSchema: string;
  let sim: { url: string; close(): Promise<void> };
  let pipe: Pipeline;
  let courses: TargetGroup;
  let producer: CoursesProducer;
  let courseResults: Collector;

  beforeAll(async () => {
    env = await testEnv('courses-e2e', (cfg) => {
      cfg.runtime.guard = { maxOperations: 100_000, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
      // The sample university enrols people in this semester and the next: both are in scope from the start.
      cfg.courses.nextSemesterFrom = { spring: 1, autumn: 7 };
    });
    mvSchema = `test_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
    await migrate(env.cfg.mv.url, mvSchema);
    env.cfg.mv.schema = mvSchema;
    pool = new pg.Pool({ connectionString: env.cfg.mv.url, max: 2 });
    await runSeed(env.cfg, { persons: 120, seed: 7 });
    const secrets = mkdtempSync(join(tmpdir(), 'tilgang-courses-e2e-'));
    writeFileSync(join(secrets, 'token'), TOKEN);
    const token = { file: join(secrets, 'token') };
    env.cfg.targets.moodle = { url: 'http://127.0.0.1:1', token, heldBy: { institution: '1120', studentIdField: 'studentid' } };
    sim = await (await loadSimulator('moodle'))!.start({ port: 0, latency: false, token: TOKEN, global: env.cfg });
    env.cfg.targets.moodle = { ...(env.cfg.targets.moodle as object), url: sim.url };
    env.cfg.targets['moodle-courses'] = { url: sim.url, token, template: 'TEMPLATE-101' };
    await ensureTopicsOn(env.kafka, [{ topic: env.cfg.kafka.topics.courseChanged, partitions: 3 }]);
    pipe = await startPipeline(env, moodleTarget, { topics: { dlq: `test.${env.id}.moodle.dlq` } });
    courses = new TargetGroup(env.cfg, env.kafka, coursesTarget, { groupId: `tilgang.moodle-courses.${env.id}`, topics: { dlq: `test.${env.id}.moodle-courses.dlq` } });
    await courses.start();
    courseResults = pipe.results;
    producer = new CoursesProducer(env.cfg, env.kafka, { name: env.id, pollMs: 200 });
    await producer.start();
  }, 240_000);

  afterAll(async () => {
    await producer?.stop();
    await courses?.stop();
    await pipe?.stop();
    await sim?.close();
    await pool?.query(`DROP SCHEMA IF EXISTS ${mvSchema} CASCADE; DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema} CASCADE`);
    await pool?.end();
    await env?.close();
  });

  it('makes every active topic\'s course, then enrols its people: no "course not in Moodle yet" at rest', async () => {
    const { rows: active } = await pool.query(`SELECT source_id FROM ${mvSchema}.master_topics WHERE status = 'active'`);
    const { rows: enrolled } = await pool.query(`SELECT DISTINCT m.idauto_id::text AS id FROM ${mvSchema}.master_persons m`);
    expect(active.length).toBeGreaterThan(10);
    const latest = (rs: ProvisioningResult[]) => {
      const m = new Map<string, ProvisioningResult>();
      for (const r of rs) if ((m.get(r.personId)?.processedAt ?? -1) <= r.processedAt) m.set(r.personId, r);
      return m;
    };
    const waiting = (r: ProvisioningResult) => WAITING.test(r.skipReason ?? '') || (r.operations ?? []).some((o) => WAITING.test(o.detail ?? ''));
    const at = await eventually(async () => {
      const rs = await decodeResults(env, courseResults.messages);
      const made = rs.filter((r) => r.target === 'moodle-courses' && r.outcome === 'APPLIED');
      if (made.length < active.length) return false;
      const users = latest(rs.filter((r) => r.target === 'moodle'));
      // Everyone enrolled somewhere has a result, and no latest result waits for a course.
      if (enrolled.some((e) => !users.has(e.id))) return false;
      const still = [...users.values()].filter(waiting);
      return still.length === 0 && { rs, users, made };
    }, 240_000, 'every course made and no person waiting for one');
    expect(new Set(at.made.map((r) => r.personId))).toEqual(new Set(active.map((a) => a.source_id)));
    // Each course made once: one create and one template import per topic, however many events.
    const creates = at.rs.filter((r) => r.target === 'moodle-courses').flatMap((r) => (r.operations ?? []).filter((o) => o.kind === 'create' && o.outcome === 'APPLIED'));
    expect(creates).toHaveLength(active.length);
    // The people are in their courses now.
    const enrols = [...at.users.values()].flatMap((r) => (r.operations ?? []).filter((o) => o.kind === 'enrol' && o.outcome === 'APPLIED'));
    expect(enrols.length).toBeGreaterThan(0);
  });
});
