import { afterAll, describe, expect, it } from 'vitest';
import { readDeadLetters } from '../../src/consumers/dlq.js';
import { testEnv, type TestEnv } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

// A target that keeps refusing one person with 429 while it answers (its check passes) has not
// refused the person: the event waits, as in an outage, and is applied once the target lets it.
describe('a target that keeps asking to slow down for one person', () => {
  let env: TestEnv;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let pipe: Pipeline | undefined;
  afterAll(async () => {
    await pipe?.stop();
    await accounts?.drop();
    await env?.close();
  });

  it('does not dead-letter them after the retries: the event waits and is applied', async () => {
    env = await testEnv('throttled', (cfg) => {
      cfg.runtime.maxRetries = 2;
      cfg.runtime.retryBaseMs = 50;
    });
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    // With a check that passes, the runtime knows the target answers while this person's calls fail.
    const answering = { ...pgTarget, check: async () => ({}) };
    pipe = await startPipeline(env, answering, { probeMaxMs: 1_000 });
    const p = await env.addPerson({});
    await pipe.waitResults(p.id, 1);
    // Six refusals: more than the three attempts of a wave.
    await accounts.pool.query(`INSERT INTO ${accounts.schema}.faults (person_id, throttled) VALUES ($1, 6)`, [p.id]);
    await env.modify(env.dn(p.id), 'sn', ['Etter-Kø']);
    const rs = await pipe.waitResults(p.id, 2, 'the changed person applied once the target lets it');
    expect(rs.map((r) => r.outcome)).toEqual(['APPLIED', 'APPLIED']);
    const left = (await accounts.pool.query(`SELECT throttled FROM ${accounts.schema}.faults WHERE person_id = $1`, [p.id])).rows[0].throttled;
    expect(left).toBe(0);
    const { letters } = await readDeadLetters(env.kafka, 'pgtest', `test.${env.id}.pgtest.dlq`);
    expect(letters.filter((l) => l.personId === p.id)).toEqual([]);
  }, 120_000);
});
