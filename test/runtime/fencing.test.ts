import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { Collector, decodeResults, eventually, sleep, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts } from '../support/pg-target.js';
import { publishReprocess } from '../support/pipeline.js';

/** A worker process of the group (test/support/group-child.ts), its stdout lines collected. */
function worker(env: TestEnv, groupId: string, mode: 'stall' | 'plain', tune: (cfg: TestEnv['cfg']) => void = () => {}) {
  const cfg = structuredClone(env.cfg);
  tune(cfg);
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/group-child.ts'], {
    env: { ...process.env, TILGANG_TEST_CONFIG: JSON.stringify(cfg), TILGANG_TEST_GROUP: groupId, TILGANG_TEST_MODE: mode, TILGANG_LOG_LEVEL: process.env.CHILD_LOG ?? 'error' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  child.stdout.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { child, lines, exited, saw: (what: string, ms = 60_000) => eventually(async () => lines.some((l) => l.startsWith(what)), ms, `'${what}' from the ${mode} worker (saw ${lines.join(' / ')})`) };
}

describe('a worker stalled past the session timeout while another takes its partitions', () => {
  let env: TestEnv;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  const children: ReturnType<typeof worker>[] = [];
  afterAll(async () => {
    for (const w of children) {
      w.child.kill('SIGCONT');
      w.child.kill('SIGKILL');
    }
    await accounts?.drop();
    await env?.close();
  });

  it('has its commit refused; every event has one result and every person one create', async () => {
    env = await testEnv('fence', (cfg) => { cfg.runtime.sessionTimeoutMs = 6000; });
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    const { pool, schema } = accounts;
    const people: TestPerson[] = [];
    for (let i = 0; i < 24; i++) people.push(await env.addPerson({}));
    const groupId = `tilgang.pgtest.${env.id}`;
    const results = await new Collector(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
    try {
      // One effect at a time in the stalled worker, so the stall finds it between effects, as a pause
      // between two calls would (an effect in flight at a stall cannot be fenced by Kafka).
      const stalled = worker(env, groupId, 'stall', (cfg) => { cfg.runtime.concurrency = 1; cfg.runtime.partitionsConcurrently = 1; });
      children.push(stalled);
      await stalled.saw('started');
      const runId = await publishReprocess(env, people.map((p) => p.id));

      // The stalled worker has applied effects and waits inside apply; stop it so it misses its heartbeats.
      await stalled.saw('applied');
      stalled.child.kill('SIGSTOP');
      const appliedByStalled = (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.effects`)).rows[0].n;
      expect(appliedByStalled).toBeGreaterThan(0);

      // The other worker is given every partition once the stalled one's session has expired, and finishes the work.
      const other = worker(env, groupId, 'plain');
      children.push(other);
      await other.saw('started');
      const mine = async () => (await decodeResults(env, results.messages)).filter((r) => r.runId === runId);
      await eventually(async () => (await mine()).length >= people.length, 90_000, 'a result for every event from the other worker');

      // The stalled worker wakes up, finishes its apply and tries to commit: refused.
      stalled.child.kill('SIGCONT');
      stalled.child.stdin.write('go\n');
      await stalled.saw('refused', 60_000);
      expect(stalled.lines.filter((l) => l.startsWith('committed'))).toEqual([]);
      expect(stalled.lines.find((l) => l.startsWith('refused'))).toMatch(/another worker has taken the partition/);

      // Let the group settle (the stalled worker rejoins and may get partitions back), then count.
      await sleep(8000);
      const rs = await mine();
      const perEvent = new Map<string, number>();
      for (const r of rs) perEvent.set(r.sourceEventId, (perEvent.get(r.sourceEventId) ?? 0) + 1);
      expect(perEvent.size).toBe(people.length);
      expect([...perEvent.values()].filter((n) => n !== 1)).toEqual([]);
      const creates = (await pool.query(`SELECT person_id, count(*)::int AS n FROM ${schema}.effects WHERE kind = 'create' GROUP BY person_id`)).rows;
      expect(creates).toHaveLength(people.length);
      expect(creates.filter((c) => c.n !== 1)).toEqual([]);
      // The stalled worker's effects were found in place by the other worker: nothing to do for those people.
      expect(rs.filter((r) => r.outcome === 'UNCHANGED')).toHaveLength(appliedByStalled);
      console.log(`fencing: ${people.length} events, ${rs.length} results, ${appliedByStalled} applied by the stalled worker, ` +
        `${creates.length} creates, refused: ${stalled.lines.filter((l) => l.startsWith('refused')).length} commit(s)`, stalled.lines);

      for (const w of children) w.child.kill('SIGTERM');
      expect(await other.exited).toBe(0);
      expect(await stalled.exited).toBe(0);
    } finally {
      await results.stop();
    }
  }, 240_000);
});
