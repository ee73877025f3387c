import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { ensureTopicsOn } from '../../src/lib/kafka.js';
import { Collector, decodeResults, eventually, sleep, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { publishReprocess } from '../support/pipeline.js';

describe('SIGTERM while a worker waits to retry', () => {
  let env: TestEnv;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  afterAll(async () => {
    await accounts?.drop();
    await env?.close();
  });

  it('ends the retry wait, commits what finished, exits 3 for the work left; the next worker does the rest once', async () => {
    env = await testEnv('stop', (cfg) => { cfg.runtime.maxRetries = 5; });
    // One partition, so the events are one ordered chunk: five finish before the one that keeps failing.
    env.cfg.kafka.partitions = 1;
    env.cfg.kafka.topics.personChanged = `${env.cfg.kafka.topics.personChanged}.1p`;
    await ensureTopicsOn(env.kafka, [{ topic: env.cfg.kafka.topics.personChanged, partitions: 1 }]);
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    const { pool, schema } = accounts;
    const people: TestPerson[] = [];
    for (let i = 0; i < 10; i++) people.push(await env.addPerson({}));
    const failing = people[5]!;
    await pool.query(`INSERT INTO ${schema}.faults VALUES ($1, 99, false)`, [failing.id]);
    const groupId = `tilgang.pgtest.${env.id}`;
    const results = await new Collector(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
    try {
      const runId = await publishReprocess(env, people.map((p) => p.id));

      const lines: string[] = [];
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/group-child.ts'], {
        env: { ...process.env, TILGANG_TEST_CONFIG: JSON.stringify(env.cfg), TILGANG_TEST_GROUP: groupId, TILGANG_TEST_MODE: 'slow-retry', TILGANG_LOG_LEVEL: process.env.CHILD_LOG ?? 'error' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      child.stdout.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
      const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      // Everyone but the failing person applied; the failing one waits a minute (Retry-After) to retry.
      await eventually(async () => (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.effects`)).rows[0].n === people.length - 1, 60_000, 'the others applied');
      const stoppedAt = Date.now();
      child.kill('SIGTERM');
      const code = await exited;
      const stopSeconds = (Date.now() - stoppedAt) / 1000;
      expect(code).toBe(3);
      expect(lines, lines.join(' / ')).toContain('stopped unfinished=5');
      expect(lines).toContain('committed 0');
      // What finished before the failing person is committed; nothing after it, nothing dead-lettered.
      const mine = async () => (await decodeResults(env, results.messages)).filter((r) => r.runId === runId);
      await eventually(async () => (await mine()).length >= 5, 30_000, 'the results committed before the stop');
      await sleep(1000); // and no more than those
      const first = await mine();
      expect(first.map((r) => r.personId).sort()).toEqual(people.slice(0, 5).map((p) => p.id).sort());
      expect(first.every((r) => r.outcome === 'APPLIED')).toBe(true);

      // The next worker, the fault gone, does the rest: each event one result, each person one create.
      await pool.query(`DELETE FROM ${schema}.faults WHERE person_id = $1`, [failing.id]);
      const g = new TargetGroup(env.cfg, env.kafka, pgTarget, { groupId, topics: { dlq: `${groupId}.dlq` } });
      await g.start();
      try {
        await eventually(async () => (await decodeResults(env, results.messages)).filter((r) => r.runId === runId).length >= people.length, 60_000, 'the rest');
      } finally {
        expect(await g.stop()).toEqual({ unfinished: 0, outage: false });
      }
      const rs = (await decodeResults(env, results.messages)).filter((r) => r.runId === runId);
      expect(rs.map((r) => r.personId).sort()).toEqual(people.map((p) => p.id).sort());
      // The failing person is done now; those applied but not committed before the stop are found in place.
      const outcome = (i: number) => rs.find((r) => r.personId === people[i]!.id)!.outcome;
      expect([5, 6, 7, 8, 9].map(outcome), JSON.stringify(rs.map((r) => r.error?.message).filter(Boolean))).toEqual(['APPLIED', 'UNCHANGED', 'UNCHANGED', 'UNCHANGED', 'UNCHANGED']);
      const creates = (await pool.query(`SELECT person_id, count(*)::int AS n FROM ${schema}.effects WHERE kind = 'create' GROUP BY person_id`)).rows;
      expect(creates).toHaveLength(people.length);
      expect(creates.filter((c) => c.n !== 1)).toEqual([]);
      console.log(`stop: exit ${code} after ${stopSeconds.toFixed(1)} s (the retry wait was 60 s), ${first.length} results committed before the stop, ${rs.length} in all`);
    } finally {
      await results.stop();
    }
  }, 240_000);
});
