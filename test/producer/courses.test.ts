import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopicsOn } from '../../src/lib/kafka.js';
import { migrate } from '../../src/mv/migrate.js';
import { CoursesProducer } from '../../src/producers/courses-producer.js';
import { coursesSync } from '../../src/producers/courses-sync.js';
import { scheduledReconciliation } from '../../src/consumers/scheduled.js';
import type { AnyTarget } from '../../src/spi/index.js';
import type { CourseChanged } from '../../src/schemas/generated.js';
import { Collector, eventually, testEnv, type TestEnv } from '../support/env.js';

/**
 * The courses producer follows MV's catalogue for the semesters in scope (the clock is the
 * test's), publishes a topic once when added and again when changed, and remembers what it
 * published in the events' transaction: a restart or a failed transaction neither loses nor repeats.
 */
describe('courses producer', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let mvSchema: string;
  let events: Collector;
  let today = new Date('2026-03-10T12:00:00Z');
  const producers: CoursesProducer[] = [];

  const topic = (code: string, term: string, year: number) =>
    pool.query(`INSERT INTO ${mvSchema}.master_topics VALUES ($1, '1120', $2, 1, $2, $2, 'EMNE', $3, $4, '121000', 'active')`, [`1120:${code}:1`, code, term, year]);
  const decoded = async (): Promise<CourseChanged[]> => Promise.all(events.messages.map((m) => env.codec.decodeEvent<CourseChanged>(m.value!)));
  const seen = async () => (await decoded()).map((e) => `${e.sourceId.split(':')[1]} ${e.changeType}`);
  const start = async (opts: { inTransaction?: () => Promise<void> } = {}) => {
    const p = new CoursesProducer(env.cfg, env.kafka, { name: env.id, now: () => today, pollMs: 100, ...opts });
    producers.push(p);
    await p.start();
    await eventually(async () => p.stats.cycles > 0, 30_000, 'a first cycle');
    return p;
  };
  const settle = async (p: CoursesProducer) => {
    const c = p.stats.cycles;
    await eventually(async () => p.stats.cycles >= c + 2, 30_000, 'two more cycles');
  };

  beforeAll(async () => {
    // The defaults: autumn in scope from May, next spring from November (the example configuration differs).
    env = await testEnv('courses-producer', (cfg) => { cfg.courses.nextSemesterFrom = { spring: 5, autumn: 11 }; });
    mvSchema = `test_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
    await migrate(env.cfg.mv.url, mvSchema);
    env.cfg.mv.schema = mvSchema;
    pool = new pg.Pool({ connectionString: env.cfg.mv.url, max: 2 });
    await pool.query(`INSERT INTO ${mvSchema}.org_units VALUES ('120000', NULL, 'faculty', 'F', 'F', 'F', 'F'), ('121000', '120000', 'department', 'D', 'D', 'D', 'D')`);
    await topic('V26A', 'VÅR', 2026);
    await topic('V26B', 'VÅR', 2026);
    await topic('H26A', 'HØST', 2026);
    await topic('V27A', 'VÅR', 2027);
    await topic('H25A', 'HØST', 2025);
    await ensureTopicsOn(env.kafka, [{ topic: env.cfg.kafka.topics.courseChanged, partitions: 3 }]);
    events = await new Collector(env.kafka, env.cfg.kafka.topics.courseChanged).start();
  }, 120_000);

  afterAll(async () => {
    for (const p of producers) await p.stop().catch(() => {});
    await events?.stop();
    await pool?.query(`DROP SCHEMA IF EXISTS ${mvSchema} CASCADE`);
    await pool?.end();
    await env?.close();
  });

  it('publishes the current semester\'s topics once, a changed topic again, and the next semester\'s from the switch month on', async () => {
    const p = await start();
    await events.until((m) => m.length >= 2, 30_000, 'spring topics');
    await settle(p);
    expect((await seen()).sort()).toEqual(['V26A ADDED', 'V26B ADDED']);
    const e = (await decoded())[0]!;
    expect(e).toMatchObject({ mode: 'LIVE', runId: null, logOnly: false, skipUsers: false, source: 'catalogue' });

    await pool.query(`UPDATE ${mvSchema}.master_topics SET name_nb = 'Nytt navn' WHERE source_id = '1120:V26B:1'`);
    await events.until((m) => m.length >= 3, 30_000, 'the changed topic');
    // The switch month: autumn is in scope too.
    today = new Date('2026-05-02T12:00:00Z');
    await events.until((m) => m.length >= 4, 30_000, 'autumn topics');
    today = new Date('2026-07-01T12:00:00Z');
    await settle(p);
    today = new Date('2026-11-01T12:00:00Z');
    await events.until((m) => m.length >= 5, 30_000, 'next spring\'s topics');
    await settle(p);
    expect((await seen()).slice(2)).toEqual(['V26B CHANGED', 'H26A ADDED', 'V27A ADDED']);
    expect(p.stats.scope).toEqual(['2026:HØST', '2027:VÅR']);
    await p.stop();
  });

  it('after a restart publishes only what changed meanwhile; a failed transaction is published once, when it commits', async () => {
    await pool.query(`UPDATE ${mvSchema}.master_topics SET name_nb = 'Endret mens nede' WHERE source_id = '1120:H26A:1'`);
    let fail = 1;
    const p = await start({ inTransaction: async () => { if (fail-- > 0) throw new Error('crash before the commit'); } });
    await events.until((m) => m.length >= 6, 30_000, 'the change made while down');
    await settle(p);
    expect((await seen()).slice(5)).toEqual(['H26A CHANGED']);
    expect(p.stats.errors).toBe(1);
    await p.stop();
  });

  it('courses sync: one course by source id, or every course of the semesters in scope', async () => {
    const before = events.messages.length;
    const one = await coursesSync(env.cfg, env.kafka, { sourceId: '1120:H25A:1', skipUsers: true, logOnly: true });
    const all = await coursesSync(env.cfg, env.kafka, { all: true, now: new Date('2026-05-20T12:00:00Z') });
    expect([one.published, all.published]).toEqual([1, 3]);
    await events.until((m) => m.length >= before + 4, 30_000, 'sync events');
    // Keyed by topic over several partitions: the two runs' events in order of run, not of topic.
    const evs = (await decoded()).slice(before).sort((a, b) => (a.runId === b.runId ? 0 : a.runId === one.runId ? -1 : 1));
    expect(evs[0]).toMatchObject({ sourceId: '1120:H25A:1', changeType: 'REPROCESS', mode: 'REPROCESS', runId: one.runId, logOnly: true, skipUsers: true, source: 'cli' });
    expect(evs.slice(1).map((e) => [e.sourceId, e.changeType, e.runId]).sort()).toEqual([
      ['1120:H26A:1', 'SNAPSHOT', all.runId], ['1120:V26A:1', 'SNAPSHOT', all.runId], ['1120:V26B:1', 'SNAPSHOT', all.runId],
    ]);
    await expect(coursesSync(env.cfg, env.kafka, { sourceId: '1120:NOPE:1' })).rejects.toThrow(/no topic 1120:NOPE:1/);
  });

  it('the scheduled reconciliation publishes every course in scope too, when a target consumes the course stream', async () => {
    const before = events.messages.length;
    const none = await scheduledReconciliation(env.cfg, env.kafka, [{ name: 'people-only' } as AnyTarget], { peopleDn: env.peopleDn });
    expect(none.courses).toBeUndefined();
    const run = await scheduledReconciliation(env.cfg, env.kafka, [{ name: 'courses', stream: 'course' } as AnyTarget], { peopleDn: env.peopleDn });
    expect(run.courses?.published).toBeGreaterThan(0);
    await events.until((m) => m.length >= before + run.courses!.published, 30_000, 'scheduled course events');
    const evs = (await decoded()).slice(before);
    expect(evs).toHaveLength(run.courses!.published);
    expect(new Set(evs.map((e) => `${e.changeType}|${e.runId}|${e.source}`))).toEqual(new Set([`SNAPSHOT|${run.courses!.runId}|schedule`]));
    await expect(coursesSync(env.cfg, env.kafka, {})).rejects.toThrow(/--source-id .* or --all/);
  });
});
