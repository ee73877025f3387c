import { afterAll, describe, expect, it } from 'vitest';
import { readDeadLetters } from '../../src/consumers/dlq.js';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { registry } from '../../src/lib/metrics.js';
import type { AnyTarget } from '../../src/spi/index.js';
import { Collector, decodeResults, eventually, sleep, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { publishReprocess } from '../support/pipeline.js';

// How long the target refuses every call. The normal suite uses 75 s; TILGANG_OUTAGE_MS=180000 runs the 3-minute version.
const OUTAGE_MS = Number(process.env.TILGANG_OUTAGE_MS ?? 75_000);

/** The test target behind a switch: while down, every call is refused as a closed port refuses it. */
function switchable(): { target: AnyTarget; down: boolean; refused: number } {
  const s = { down: false, refused: 0, target: undefined as unknown as AnyTarget };
  const refuse = () => {
    s.refused++;
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  };
  s.target = {
    ...pgTarget,
    async actual(...a: Parameters<typeof pgTarget.actual>) { if (s.down) refuse(); return pgTarget.actual(...a); },
    async apply(...a: Parameters<typeof pgTarget.apply>) { if (s.down) refuse(); return pgTarget.apply(...a); },
  } as AnyTarget;
  return s;
}

describe('a target that refuses every call for minutes in the middle of a reconciliation', () => {
  let env: TestEnv;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let group: TargetGroup | undefined;
  afterAll(async () => {
    await group?.stop();
    await accounts?.drop();
    await env?.close();
  });

  it('dead-letters nobody: the group pauses, says so, probes, and resumes where it stopped', async () => {
    env = await testEnv('outage', (cfg) => {
      cfg.runtime.maxRetries = 3;
      cfg.runtime.retryBaseMs = 100;
      cfg.runtime.retryMaxMs = 1000;
      cfg.runtime.concurrency = 2;
    });
    accounts = await pgAccounts(env, { affiliations: ['student'], applyDelayMs: 60 });
    const { pool, schema } = accounts;
    const people: TestPerson[] = [];
    for (let i = 0; i < 90; i++) people.push(await env.addPerson({}));
    const sw = switchable();
    const dlq = `test.${env.id}.pgtest.dlq`;
    group = new TargetGroup(env.cfg, env.kafka, sw.target, { groupId: `tilgang.pgtest.${env.id}`, chunkSize: 20, topics: { dlq }, probeMaxMs: 5_000 });
    await group.start();
    const results = await new Collector(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
    try {
      const runId = await publishReprocess(env, people.map((p) => p.id));
      const mine = async () => (await decodeResults(env, results.messages)).filter((r) => r.runId === runId);

      // In the middle of the run, the target goes away.
      await eventually(async () => (await mine()).length >= 15, 60_000, 'the run under way');
      sw.down = true;
      const downAt = Date.now();
      const g = group;
      await eventually(async () => !!g.outage, 30_000, 'the group to notice the outage');
      expect(g.isReady()).toBe(false);
      expect(g.outage).toMatchObject({ dependency: 'target' });
      expect(g.notReadyReason()).toMatch(/^target pgtest unavailable since \d{4}-\d\d-\d\dT.*ECONNREFUSED/);
      const since = Math.floor(g.outage!.since.getTime() / 1000);
      expect(await registry.getSingleMetricAsString('tilgang_unavailable_since_seconds')).toContain(`tilgang_unavailable_since_seconds{target="pgtest",dependency="target"} ${since}`);
      const duringOutage = (await mine()).length;
      expect(duringOutage).toBeLessThan(people.length);

      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
      // Still waiting, nothing dead-lettered, the probes kept coming with backoff but did not hammer.
      expect(g.outage).toBeDefined();
      expect(g.counts.dlq).toBe(0);
      const refusedDuring = sw.refused;
      sw.down = false;

      await eventually(async () => (await mine()).length >= people.length, 120_000, 'a result for every event after the outage');
      await eventually(async () => !g.outage, 30_000, 'the group available again');
      expect(g.isReady()).toBe(true);
      expect(await registry.getSingleMetricAsString('tilgang_unavailable_since_seconds')).toContain('tilgang_unavailable_since_seconds{target="pgtest",dependency="target"} 0');
      await sleep(1000);
      const rs = await mine();
      const perEvent = new Map<string, number>();
      for (const r of rs) perEvent.set(r.sourceEventId, (perEvent.get(r.sourceEventId) ?? 0) + 1);
      expect(perEvent.size).toBe(people.length);
      expect([...perEvent.values()].filter((n) => n !== 1)).toEqual([]);
      expect(rs.filter((r) => r.outcome === 'FAILED')).toEqual([]);
      const { letters } = await readDeadLetters(env.kafka, 'pgtest', dlq);
      expect(letters).toEqual([]);
      const inTarget = (await pool.query(`SELECT count(DISTINCT person_id)::int AS n FROM ${schema}.accounts WHERE person_id = ANY($1)`, [people.map((p) => p.id)])).rows[0].n;
      expect(inTarget).toBe(people.length);
      const creates = (await pool.query(`SELECT person_id, count(*)::int AS n FROM ${schema}.effects WHERE kind = 'create' GROUP BY person_id`)).rows;
      expect(creates.filter((c) => c.n !== 1)).toEqual([]);
      console.log(`outage: ${Math.round(OUTAGE_MS / 1000)} s down, ${duringOutage} of ${people.length} results before it, ${refusedDuring} calls refused during it, ` +
        `${letters.length} dead letters, ${inTarget} people in the target, ${rs.length} results`);
    } finally {
      await results.stop();
    }
  }, OUTAGE_MS + 300_000);
});
