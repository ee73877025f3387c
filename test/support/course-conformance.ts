/**
 * The behaviours every target of the course stream must have, run through the real runtime (the
 * courses producer following a catalogue of the test's own → target group → results) against the
 * target's system. A target passes when `courseConformance(subject)` passes in a test file of its own:
 *
 *   create the course of an active topic with the mapped values (nothing for an inactive one);
 *   update each mapped value; never delete (a topic no longer active keeps its course); a
 *   duplicate is a terminal error naming what is in the way, and nothing is written; a transient
 *   failure is retried and applied once; log-only changes nothing; a replay of the same events
 *   changes nothing more; no secret in any result, event, dead letter or log line.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvedSecrets } from '../../src/config.js';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { ensureTopicsOn } from '../../src/lib/kafka.js';
import { migrate } from '../../src/mv/migrate.js';
import { CourseEventPublisher, courseEvent } from '../../src/producers/course-publisher.js';
import { CoursesProducer } from '../../src/producers/courses-producer.js';
import { newRunId } from '../../src/producers/publisher.js';
import type { CourseChanged, ProvisioningResult } from '../../src/schemas/generated.js';
import type { AnyTarget } from '../../src/spi/index.js';
import { captureLogs } from './conformance.js';
import { collect, decodeResults, eventually, testEnv, type TestEnv } from './env.js';
import { TopicReader } from './pipeline.js';

/** A topic of the test's catalogue: code, in the semester the kit uses. */
export interface TopicSpec { sourceId: string; code: string; year: number; term: 'VÅR' | 'HØST' }

export interface CourseView {
  /** The mapped values by the MV column they come from (name_nb, ...). */
  attributes: Record<string, string | null | undefined>;
  /** How much content the course holds (a template imported twice shows). */
  content: number;
}

export interface CourseSystem {
  /** The target's configuration block. */
  config: Record<string, unknown>;
  /** The topic's course, or null. */
  course(t: TopicSpec): Promise<CourseView | null>;
  /** Courses in the system that are the topic's by any key the target matches on. */
  count(t: TopicSpec): Promise<number>;
  /** Writes the system has accepted so far. */
  writes(): Promise<number>;
  /** Makes, outside tilgang, what stands in the way of the topic's course; returns what the error must name. */
  plantDuplicate(t: TopicSpec): Promise<string[]>;
  /** The system's next `times` writes for the topic fail transiently. */
  failTransiently(t: TopicSpec, times: number): Promise<void>;
  /** MV columns of master_topics the target maps, each with a new value to give it. */
  mapped: { column: 'name_nb' | 'name_en'; value(t: TopicSpec): string }[];
  secrets: string[];
  stop(): Promise<void>;
}

export interface CourseConformanceSubject {
  target: AnyTarget;
  start(env: TestEnv): Promise<CourseSystem>;
}

export function courseConformance(subject: CourseConformanceSubject): void {
  const name = subject.target.name;
  describe(`course target ${name} conforms to the contract`, () => {
    let env: TestEnv;
    let sys: CourseSystem;
    let pool: pg.Pool;
    let mvSchema: string;
    let logs: ReturnType<typeof captureLogs>;
    let group: TargetGroup;
    let producer: CoursesProducer;
    let results: TopicReader;
    let events: TopicReader;
    let first: TopicSpec;
    let duplicate: TopicSpec;
    let n = 0;
    const sem = { year: new Date().getUTCFullYear(), term: (new Date().getUTCMonth() < 6 ? 'VÅR' : 'HØST') as TopicSpec['term'] };
    const dlq = () => `test.${env.id}.${name}.dlq`;

    beforeAll(async () => {
      env = await testEnv(`cconf-${name}`, (cfg) => {
        cfg.runtime.maxRetries = 3;
        cfg.runtime.retryBaseMs = 20;
      });
      mvSchema = `test_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
      await migrate(env.cfg.mv.url, mvSchema);
      env.cfg.mv.schema = mvSchema;
      pool = new pg.Pool({ connectionString: env.cfg.mv.url, max: 2 });
      await pool.query(`INSERT INTO ${mvSchema}.org_units VALUES ('120000', NULL, 'faculty', 'F', 'F', 'F', 'F'), ('121000', '120000', 'department', 'D', 'D', 'D', 'D')`);
      await ensureTopicsOn(env.kafka, [{ topic: env.cfg.kafka.topics.courseChanged, partitions: 3 }]);
      logs = captureLogs();
      sys = await subject.start(env);
      env.cfg.targets = { [name]: sys.config };
      group = new TargetGroup(env.cfg, env.kafka, subject.target, { groupId: `tilgang.${name}.${env.id}`, chunkSize: 50, topics: { dlq: dlq() } });
      await group.start();
      producer = new CoursesProducer(env.cfg, env.kafka, { name: env.id, pollMs: 100 });
      await producer.start();
      results = await new TopicReader(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
      events = await new TopicReader(env.kafka, env.cfg.kafka.topics.courseChanged).start();
    }, 180_000);

    afterAll(async () => {
      logs?.stop();
      await producer?.stop().catch(() => {});
      await results?.stop();
      await events?.stop();
      await group?.stop().catch(() => {});
      await sys?.stop();
      await pool?.query(`DROP SCHEMA IF EXISTS ${mvSchema} CASCADE; DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema} CASCADE`);
      await pool?.end();
      await env?.close();
    });

    const spec = (): TopicSpec => {
      n++;
      const code = `KIT${String(n).padStart(3, '0')}${env.id.slice(-4).replace(/[^A-Za-z0-9]/g, '')}`.toUpperCase();
      return { sourceId: `1120:${code}:1`, code, ...sem };
    };
    const add = async (t: TopicSpec, status = 'active') => {
      await pool.query(`INSERT INTO ${mvSchema}.master_topics VALUES ($1, '1120', $2, 1, $3, $4, 'EMNE', $5, $6, '121000', $7)`,
        [t.sourceId, t.code, `${t.code} bokmål`, `${t.code} English`, t.term, t.year, status]);
      return t;
    };
    const resultsFor = async (t: TopicSpec) => (await decodeResults(env, results.messages)).filter((r) => r.personId === t.sourceId);
    const nextResult = async (t: TopicSpec, before: number) =>
      (await eventually(async () => { const rs = await resultsFor(t); return rs.length > before && rs; }, 30_000, `result ${before + 1} of ${t.sourceId}`)).at(-1)!;
    const kinds = (r: ProvisioningResult) => (r.operations ?? []).map((o) => o.kind);

    it('creates the course of an active topic with the mapped values, and none for a topic that is not active', async () => {
      const w0 = await sys.writes();
      first = await add(spec());
      const r = await nextResult(first, 0);
      expect(r).toMatchObject({ outcome: 'APPLIED', target: name, personId: first.sourceId });
      expect(kinds(r)).toContain('create');
      const c = await sys.course(first);
      expect(c).not.toBeNull();
      expect(c!.attributes.name_nb ?? c!.attributes.name_en).toBeTruthy();
      expect(await sys.count(first)).toBe(1);
      expect(await sys.writes()).toBeGreaterThan(w0);

      const inactive = await add(spec(), 'cancelled');
      const o = await nextResult(inactive, 0);
      expect(['SKIPPED', 'UNCHANGED']).toContain(o.outcome);
      expect(o.operations).toEqual([]);
      expect(await sys.count(inactive)).toBe(0);
    });

    it('updates each mapped value, one change at a time', async () => {
      expect(sys.mapped.length).toBeGreaterThan(0);
      for (const m of sys.mapped) {
        const value = m.value(first);
        const before = (await resultsFor(first)).length;
        await pool.query(`UPDATE ${mvSchema}.master_topics SET ${m.column} = $1 WHERE source_id = $2`, [value, first.sourceId]);
        const r = await nextResult(first, before);
        expect(r.outcome, m.column).toBe('APPLIED');
        expect(kinds(r), m.column).toEqual(['update']);
        expect((await sys.course(first))!.attributes[m.column], m.column).toBe(value);
      }
      expect(await sys.count(first)).toBe(1);
    });

    it('never deletes: a topic no longer active keeps its course', async () => {
      const before = (await resultsFor(first)).length;
      const c0 = await sys.course(first);
      await pool.query(`UPDATE ${mvSchema}.master_topics SET status = 'cancelled' WHERE source_id = $1`, [first.sourceId]);
      const r = await nextResult(first, before);
      expect(r.operations).toEqual([]);
      expect(await sys.count(first)).toBe(1);
      expect(await sys.course(first)).toEqual(c0);
      await pool.query(`UPDATE ${mvSchema}.master_topics SET status = 'active' WHERE source_id = $1`, [first.sourceId]);
      await nextResult(first, before + 1);
    });

    it('a duplicate is a terminal error naming what is in the way, and nothing is written', async () => {
      const t = spec();
      const names = await sys.plantDuplicate(t);
      expect(names.length).toBeGreaterThanOrEqual(1);
      const w0 = await sys.writes();
      duplicate = await add(t);
      const r = await nextResult(duplicate, 0);
      expect(r.outcome).toBe('FAILED');
      expect(r.error?.kind).toBe('TERMINAL');
      for (const nm of names) expect(r.error?.message).toContain(nm);
      expect(await sys.writes()).toBe(w0);
    });

    it('a transient failure is retried and applied once', async () => {
      const t = spec();
      await sys.failTransiently(t, 1);
      const l0 = logs.lines.length;
      await add(t);
      const r = await nextResult(t, 0);
      expect(r.outcome).toBe('APPLIED');
      expect(await resultsFor(t)).toHaveLength(1);
      expect(await sys.count(t)).toBe(1);
      // The content once, as the first course got it.
      expect((await sys.course(t))!.content).toBe((await sys.course(first))!.content);
      expect(logs.lines.slice(l0).some((l) => l.includes('"msg":"transient failure: retrying"'))).toBe(true);
    });

    it('log-only plans and publishes but changes nothing; the same event live applies the plan', async () => {
      // No producer from here on: only the events this test sends arrive.
      await producer.stop();
      const t = await add(spec());
      const pub = new CourseEventPublisher(env.kafka, env.cfg, `test.cconf.${env.id}`);
      await pub.connect();
      try {
        const w0 = await sys.writes();
        const run = { mode: 'REPROCESS' as const, skipUsers: false, targets: null, source: 'test' };
        await pub.send([courseEvent(t.sourceId, 'REPROCESS', { ...run, runId: newRunId(), logOnly: true })]);
        const planned = await nextResult(t, 0);
        expect(planned).toMatchObject({ outcome: 'PLANNED', logOnly: true });
        expect(planned.operations!.every((o) => o.outcome === 'PLANNED')).toBe(true);
        expect(await sys.writes()).toBe(w0);
        expect(await sys.count(t)).toBe(0);

        await pub.send([courseEvent(t.sourceId, 'REPROCESS', { ...run, runId: newRunId(), logOnly: false })]);
        const applied = await nextResult(t, 1);
        expect(applied.outcome).toBe('APPLIED');
        expect(await sys.count(t)).toBe(1);
      } finally {
        await pub.disconnect();
      }
    });

    it('a replay of the same events changes nothing more', async () => {
      const seen = await Promise.all(events.messages.map((m) => env.codec.decodeEvent<CourseChanged>(m.value!)));
      const all: CourseChanged[] = [...new Map(seen.map((e) => [e.eventId, e])).values()].filter((e) => !e.logOnly);
      expect(all.length).toBeGreaterThanOrEqual(6);
      const topics = [...new Set(all.map((e) => e.sourceId))];
      const before = new Map(await Promise.all(topics.map(async (id) => [id, (await resultsFor({ sourceId: id } as TopicSpec)).length] as const)));
      const w0 = await sys.writes();
      const courses0 = await Promise.all(topics.map((id) => sys.course({ ...sem, sourceId: id, code: id.split(':')[1]! })));
      const pub = new CourseEventPublisher(env.kafka, env.cfg, `test.cconf.replay.${env.id}`);
      await pub.connect();
      try {
        await pub.send(all);
      } finally {
        await pub.disconnect();
      }
      const replayed: ProvisioningResult[] = [];
      for (const id of topics) {
        const k = all.filter((e) => e.sourceId === id).length;
        const b = before.get(id)!;
        replayed.push(...(await eventually(async () => { const rs = await resultsFor({ sourceId: id } as TopicSpec); return rs.length >= b + k && rs; }, 30_000, `replayed results of ${id}`)).slice(b));
      }
      expect(replayed).toHaveLength(all.length);
      for (const r of replayed) {
        expect(['UNCHANGED', 'SKIPPED', 'FAILED'], `${r.personId}: ${r.outcome}`).toContain(r.outcome);
        if (r.outcome === 'FAILED') expect(r.personId).toBe(duplicate.sourceId);
      }
      expect(await sys.writes()).toBe(w0);
      expect(await Promise.all(topics.map((id) => sys.course({ ...sem, sourceId: id, code: id.split(':')[1]! })))).toEqual(courses0);
    });

    it('no secret in any result, event, dead letter or log line', async () => {
      const dead = await collect(env.kafka, dlq(), (m) => m.length > 0, 10_000);
      expect(dead.length).toBeGreaterThan(0);
      const all = [
        JSON.stringify(await decodeResults(env, results.messages)),
        JSON.stringify(await Promise.all(events.messages.map((m) => env.codec.decodeEvent<CourseChanged>(m.value!)))),
        ...dead.map((m) => m.value?.toString('utf8') ?? ''), ...logs.lines,
      ].join('\n');
      expect(logs.lines.some((l) => l.includes(`"target":"${name}"`))).toBe(true);
      expect(all).toContain(first.sourceId);
      const forbidden = [...sys.secrets, ...resolvedSecrets()].filter((s) => s.length >= 4);
      expect(forbidden.length).toBeGreaterThan(0);
      for (const s of forbidden) expect(all.includes(s), 'a secret was published or logged').toBe(false);
    });
  });
}
