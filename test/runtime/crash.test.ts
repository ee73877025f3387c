import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { Collector, decodeResults, testEnv, type TestEnv } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { publishReprocess } from '../support/pipeline.js';

describe('a target worker killed between apply and commit', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let schema: string;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  afterAll(async () => {
    await accounts?.drop();
    await env?.close();
  });

  it('re-plans on restart, converges, and causes no second effect; one result per event', async () => {
    env = await testEnv('rtcrash');
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    ({ pool, schema } = accounts);
    const people = [];
    for (let i = 0; i < 10; i++) people.push(await env.addPerson({}));
    const runId = await publishReprocess(env, people.map((p) => p.id));
    const groupId = `tilgang.pgtest.${env.id}`;

    const lines: string[] = [];
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/group-child.ts'], {
      env: { ...process.env, TILGANG_TEST_CONFIG: JSON.stringify(env.cfg), TILGANG_TEST_GROUP: groupId, TILGANG_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    const exit = await new Promise<string | null>((r) => child.once('exit', (_c, sig) => r(sig)));
    expect(exit).toBe('SIGKILL');
    expect(lines).toContain('applied');
    // A COMMIT the killed process had already sent still finishes at the server: let it settle.
    await new Promise((r) => setTimeout(r, 1000));
    const appliedBeforeCrash = (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.effects`)).rows[0].n;
    expect(appliedBeforeCrash).toBeGreaterThan(0); // the crash came after real effects

    const results = await new Collector(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
    const g = new TargetGroup(env.cfg, env.kafka, pgTarget, { groupId, topics: { dlq: `test.${env.id}.dlq` } });
    await g.start();
    try {
      await results.until((m) => m.length >= people.length, 60_000, 'a result per event');
      await new Promise((r) => setTimeout(r, 1000));
      const rs = (await decodeResults(env, results.messages)).filter((r) => r.runId === runId);
      expect(rs).toHaveLength(people.length); // the killed worker's results were never committed
      // Each person was created exactly once: the replay found the accounts and planned nothing more.
      const creates = (await pool.query(`SELECT person_id, count(*)::int AS n FROM ${schema}.effects WHERE kind = 'create' GROUP BY person_id`)).rows;
      expect(creates).toHaveLength(people.length);
      expect(creates.every((c) => c.n === 1)).toBe(true);
      const replayed = rs.filter((r) => r.outcome === 'UNCHANGED').length;
      expect(replayed).toBe(appliedBeforeCrash);
      expect(rs.filter((r) => r.outcome === 'APPLIED')).toHaveLength(people.length - appliedBeforeCrash);
    } finally {
      await results.stop();
      await g.stop();
    }
  }, 180_000);
});
