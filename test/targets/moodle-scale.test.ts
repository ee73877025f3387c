/**
 * A full reconciliation of 2,000 people through the moodle consumer group with the runtime's
 * DEFAULT settings (30 s session, 12 partitions, chunks of 500), against the Moodle simulator with
 * the latency model fitted to a real Moodle 4.5 (4 workers sharing 2.5 cores). A real Moodle once
 * committed nothing this way: a chunk's calls outlasted the session, the member was evicted and
 * the batch came back, again and again. Here the member stays in the group and every event has
 * exactly one result.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { loadConfig } from '../../src/config.js';
import { chunks, mapLimit } from '../../src/lib/concurrency.js';
import { newRunId, PersonEventPublisher, runEvent } from '../../src/producers/publisher.js';
import { generateUniversity, runSeed } from '../../src/seed/index.js';
import { MoodleClient } from '../../src/targets/moodle/client.js';
import { courseIdnumber, target } from '../../src/targets/moodle/index.js';
import { startMoodleSimulator } from '../../src/targets/moodle/simulator/index.js';
import { Collector, decodeResults, eventually, testEnv, type TestEnv } from '../support/env.js';

const PERSONS = 2000;

describe('moodle: 2,000 people with default runtime settings against the latency model', () => {
  let env: TestEnv;
  let sim: Awaited<ReturnType<typeof startMoodleSimulator>> | undefined;
  let group: TargetGroup | undefined;
  let results: Collector | undefined;
  let pool: pg.Pool | undefined;

  afterAll(async () => {
    await group?.stop();
    await results?.stop();
    await sim?.close();
    if (pool) {
      await pool.query(`DROP SCHEMA IF EXISTS ${env.cfg.mv.schema} CASCADE; DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema} CASCADE`).catch(() => {});
      await pool.end();
    }
    await env?.close();
  });

  it('commits every event once: no eviction, no rebalance, one result each', async () => {
    const defaults = loadConfig('tilgang.example.yaml');
    env = await testEnv('moodle-scale', (cfg) => {
      // The runtime exactly as shipped (the test env shortens the session; undo that), and the default partitions.
      cfg.runtime = { ...defaults.runtime, stateSchema: cfg.runtime.stateSchema, metricsPort: 0, instanceId: cfg.runtime.instanceId };
      cfg.kafka.partitions = defaults.kafka.partitions;
    });
    expect(env.cfg.runtime.sessionTimeoutMs).toBe(30_000);
    env.cfg.mv.schema = `test_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
    pool = new pg.Pool({ connectionString: env.cfg.mv.url, max: 1 });
    const now = new Date();
    // The sample university in MV and below the test's own people base in the directory.
    await runSeed(env.cfg, { persons: PERSONS, seed: 7, now });
    const uni = generateUniversity({ persons: PERSONS, seed: 7, now });

    const token = randomBytes(16).toString('hex');
    sim = await startMoodleSimulator({ token, latency: true, profileFields: [{ shortname: 'studentid', name: 'Student id', datatype: 'text', visible: true }] });
    // The courses flow's part: every active course exists in Moodle.
    const ws = new MoodleClient({ url: sim.url, token, connections: 4 });
    await mapLimit(chunks(uni.topics.filter((t) => t.status === 'active'), 50), 4, (batch) => ws.call('core_course_create_courses', {
      courses: batch.map((t) => ({ fullname: t.nameNb, shortname: `${t.code}-${t.year}-${t.term}`, categoryid: 1, idnumber: courseIdnumber(t) })),
    }));
    await ws.close();
    process.env.TILGANG_TEST_MOODLE_TOKEN = token;
    env.cfg.targets.moodle = { url: sim.url, token: { env: 'TILGANG_TEST_MOODLE_TOKEN' }, heldBy: { institution: '1120', studentIdField: 'studentid' } };

    results = await new Collector(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
    const runId = newRunId();
    const ids = uni.persons.map((p) => p.idautoId);
    const pub = new PersonEventPublisher(env.kafka, env.cfg, `test.${env.id}.pub`);
    await pub.connect();
    const eventIds: string[] = [];
    for (const batch of chunks(ids, 1000)) {
      const events = batch.map((id) => runEvent(id, { runId, mode: 'SNAPSHOT', logOnly: false, targets: null, source: 'test' }));
      eventIds.push(...events.map((e) => e.eventId));
      await pub.send(events);
    }
    await pub.disconnect();

    group = new TargetGroup(env.cfg, env.kafka, target, { groupId: `tilgang.moodle.${env.id}`, topics: { dlq: `test.${env.id}.moodle.dlq` } });
    const started = Date.now();
    await group.start();
    const g = group;
    await eventually(async () => g.counts.results >= ids.length, 600_000, `a result for each of the ${ids.length} events`);
    const seconds = (Date.now() - started) / 1000;
    const mine = await eventually(async () => {
      const rs = (await decodeResults(env, results!.messages)).filter((r) => r.runId === runId);
      return rs.length >= ids.length && rs;
    }, 60_000, 'the results on the topic');

    // One member, assigned once: never evicted, no rebalance, no batch done twice.
    expect(g.counts.assignments).toBe(1);
    expect(g.counts.results).toBe(ids.length);
    expect(mine).toHaveLength(ids.length);
    expect(new Set(mine.map((r) => r.sourceEventId))).toEqual(new Set(eventIds));
    // Every person provisioned or deliberately left: the sample's bad records fail alone, nothing is waiting.
    const outcomes: Record<string, number> = {};
    for (const r of mine) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    expect(outcomes.APPLIED ?? 0).toBeGreaterThan(PERSONS * 0.9);
    expect(outcomes.FAILED ?? 0).toBe(g.counts.dlq);
    expect(g.counts.dlq).toBeLessThan(10);
    // The simulator did the work with its latency model on: it served calls through its worker pool.
    expect(sim.metrics()!.served).toBeGreaterThan(50);
    console.log(`moodle-scale: ${ids.length} people in ${seconds.toFixed(0)} s with a ${env.cfg.runtime.sessionTimeoutMs / 1000} s session, ${g.counts.assignments} assignment, outcomes ${JSON.stringify(outcomes)}, ${sim.metrics()!.served} Moodle calls`);
  }, 900_000);
});
