import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { AssignerProtocol } from 'kafkajs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../src/config.js';
import { chunks } from '../../src/lib/concurrency.js';
import { ensureTopicsOn } from '../../src/lib/kafka.js';
import { newRunId, PersonEventPublisher, runEvent } from '../../src/producers/publisher.js';
import { generateUniversity, runSeed } from '../../src/seed/index.js';
import { startMoodleSimulator } from '../../src/targets/moodle/simulator/index.js';
import { cliConfig } from '../support/cli.js';
import { Collector, decodeResults, eventually, testEnv, type TestEnv } from '../support/env.js';

// Two `tilgang run --role target:moodle` processes on one host, started from one configuration
// with no instanceId: they share the partitions of the moodle group, and every event gets exactly
// one result, every person at most one account (transactional ids are per partition, so the two
// workers never fence each other).
const PERSONS = 300;

describe('two workers of one target on one host', () => {
  let env: TestEnv;
  let sim: Awaited<ReturnType<typeof startMoodleSimulator>> | undefined;
  let results: Collector | undefined;
  let pool: pg.Pool | undefined;
  const workers: ChildProcess[] = [];
  const topics: string[] = [];

  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await results?.stop();
    await sim?.close();
    const admin = env?.kafka.admin();
    await admin?.connect().then(() => admin.deleteTopics({ topics })).catch(() => {}).finally(() => admin.disconnect());
    if (pool) {
      await pool.query(`DROP SCHEMA IF EXISTS ${env.cfg.mv.schema} CASCADE; DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema} CASCADE`).catch(() => {});
      await pool.end();
    }
    await env?.close();
  });

  it('share the partitions, and each event has exactly one result', async () => {
    env = await testEnv('two-workers', (cfg) => { cfg.kafka.partitions = 6; });
    env.cfg.mv.schema = `test_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
    pool = new pg.Pool({ connectionString: env.cfg.mv.url, max: 1 });
    const now = new Date();
    await runSeed(env.cfg, { persons: PERSONS, seed: 11, now });
    const uni = generateUniversity({ persons: PERSONS, seed: 11, now });
    const token = randomBytes(16).toString('hex');
    sim = await startMoodleSimulator({ token, profileFields: [{ shortname: 'studentid', name: 'Student id', datatype: 'text', visible: true }] });

    // The group, its topics and transactional ids apart from every other test's and the demo's, by kafka.prefix.
    const prefix = `test.${env.id}.`;
    const file = cliConfig(env.cfg, (c) => {
      c.targets = { moodle: { url: sim!.url, token: { env: 'TILGANG_TEST_MOODLE_TOKEN' }, heldBy: { institution: '1120', studentIdField: 'studentid' } } };
      (c.kafka as { prefix?: string }).prefix = prefix;
      delete c.runtime.instanceId;
    });
    const cfg: Config = parseConfig({ ...JSON.parse(JSON.stringify(env.cfg)), kafka: { ...env.cfg.kafka, prefix }, runtime: { ...env.cfg.runtime, instanceId: undefined } }, 'test');
    topics.push(cfg.kafka.topics.personChanged, cfg.kafka.topics.provisioningResult, `${prefix}tilgang.moodle.dlq`);
    await ensureTopicsOn(env.kafka, [{ topic: cfg.kafka.topics.personChanged, partitions: 6 }, { topic: cfg.kafka.topics.provisioningResult, partitions: 6 }]);
    results = await new Collector(env.kafka, cfg.kafka.topics.provisioningResult).start();

    for (let i = 0; i < 2; i++) {
      workers.push(spawn(process.execPath, [resolve('bin/tilgang.js'), '-c', file, 'run', '--role', 'target:moodle', '--metrics-port', '0'], {
        env: { ...process.env, TILGANG_TEST_MOODLE_TOKEN: token, TILGANG_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'],
      }));
    }
    // Both are members, each with a share of the six partitions, before anything is published.
    const admin = env.kafka.admin();
    await admin.connect();
    const group = `${prefix}tilgang.moodle`;
    const shares = await eventually(async () => {
      const [g] = (await admin.describeGroups([group])).groups;
      if (g?.state !== 'Stable' || g.members.length !== 2) return false;
      const partitions = g.members.map((m) => Object.values(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}).flat().length);
      return partitions.every((n) => n > 0) && partitions;
    }, 90_000, 'two members of the moodle group, each assigned partitions');
    expect(shares.reduce((a, b) => a + b, 0)).toBe(6);

    const runId = newRunId();
    const ids = uni.persons.map((p) => p.idautoId);
    const pub = new PersonEventPublisher(env.kafka, cfg, `test.${env.id}.pub`);
    await pub.connect();
    const eventIds: string[] = [];
    for (const batch of chunks(ids, 100)) {
      const events = batch.map((id) => runEvent(id, { runId, mode: 'SNAPSHOT', logOnly: false, targets: null, source: 'test' }));
      eventIds.push(...events.map((e) => e.eventId));
      await pub.send(events);
    }
    await pub.disconnect();

    const mine = await eventually(async () => {
      const rs = (await decodeResults(env, results!.messages)).filter((r) => r.runId === runId);
      return rs.length >= ids.length && rs;
    }, 300_000, `a result for each of the ${ids.length} events`);
    // A moment more: a second result for an event (two workers doing one partition) would come now.
    await new Promise((r) => setTimeout(r, 3_000));
    const all = (await decodeResults(env, results.messages)).filter((r) => r.runId === runId);
    expect(all).toHaveLength(ids.length);
    expect(new Set(all.map((r) => r.sourceEventId))).toEqual(new Set(eventIds));
    expect(mine.filter((r) => r.outcome === 'APPLIED').length).toBeGreaterThan(PERSONS * 0.8);
    // No person made twice in Moodle.
    expect([...sim.creates().values()].filter((n) => n > 1)).toEqual([]);
    // Still both members: neither fenced nor evicted the other.
    const [g] = (await admin.describeGroups([group])).groups;
    expect(g!.members).toHaveLength(2);
    await admin.disconnect();

    const exits = workers.map((w) => new Promise<number | null>((r) => w.once('exit', (code) => r(code))));
    for (const w of workers) w.kill('SIGTERM');
    expect(await Promise.all(exits)).toEqual([0, 0]);
    await admin.connect().then(() => admin.deleteGroups([group])).catch(() => {}).finally(() => admin.disconnect());
  }, 600_000);
});
