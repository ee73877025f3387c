import { afterAll, describe, expect, it } from 'vitest';
import { TargetGroup } from '../../src/consumers/target-group.js';
import type { AnyTarget } from '../../src/spi/index.js';
import { Collector, decodeResults, eventually, sleep, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { publishReprocess } from '../support/pipeline.js';

/** The test target, each read taking half a second and each apply seven: one call outlasts the session. */
const slow: AnyTarget = {
  ...pgTarget,
  async actual(...a: Parameters<typeof pgTarget.actual>) { await sleep(500); return pgTarget.actual(...a); },
  async apply(...a: Parameters<typeof pgTarget.apply>) { await sleep(7000); return pgTarget.apply(...a); },
} as AnyTarget;

describe('a target whose every call takes seconds, with a short session timeout', () => {
  let env: TestEnv;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let group: TargetGroup | undefined;
  afterAll(async () => {
    await group?.stop();
    await accounts?.drop();
    await env?.close();
  });

  it('keeps the member in the group while a chunk takes many sessions: results flow, no eviction loop', async () => {
    env = await testEnv('heartbeat', (cfg) => {
      cfg.runtime.sessionTimeoutMs = 6000;
      cfg.runtime.concurrency = 2;
      cfg.runtime.partitionsConcurrently = 1;
    });
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    const people: TestPerson[] = [];
    for (let i = 0; i < 12; i++) people.push(await env.addPerson({}));
    group = new TargetGroup(env.cfg, env.kafka, slow, { groupId: `tilgang.pgtest.${env.id}`, topics: { dlq: `test.${env.id}.pgtest.dlq` } });
    await group.start();
    const results = await new Collector(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
    try {
      const runId = await publishReprocess(env, people.map((p) => p.id));
      const started = Date.now();
      const mine = async () => (await decodeResults(env, results.messages)).filter((r) => r.runId === runId);
      // Each apply (7 s) outlasts the 6 s session; a partition's chunk (about 4 people, 2 at a time) twice over.
      await eventually(async () => (await mine()).length >= people.length, 180_000, 'a result for every event');
      const seconds = (Date.now() - started) / 1000;
      const rs = await mine();
      expect(new Set(rs.map((r) => r.sourceEventId)).size).toBe(people.length);
      expect(rs.filter((r) => r.outcome !== 'APPLIED')).toEqual([]);
      // One member, joined once: never evicted, nothing redone.
      expect(group.counts.assignments).toBe(1);
      const creates = (await accounts.pool.query(`SELECT count(*)::int AS n FROM ${accounts.schema}.effects WHERE kind = 'create'`)).rows[0].n;
      expect(creates).toBe(people.length);
      console.log(`heartbeat: ${people.length} results in ${seconds.toFixed(0)} s with a 6 s session, ${group.counts.assignments} assignment(s), ${creates} creates`);
    } finally {
      await results.stop();
    }
  }, 240_000);
});
