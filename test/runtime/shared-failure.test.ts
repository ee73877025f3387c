import { afterAll, describe, expect, it } from 'vitest';
import { readDeadLetters } from '../../src/consumers/dlq.js';
import { TransientError } from '../../src/spi/index.js';
import { testEnv, type TestEnv } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { publishReprocess, startPipeline, type Pipeline } from '../support/pipeline.js';

// A batched call fails for every person in it, as Moodle's create_users does for one lost answer or
// 503. A person planted with `shared` faults fails every call they are part of; the others of the
// wave share those failures through no fault of their own and must not be dead-lettered with them.
describe('a failure shared by a batched call', () => {
  let env: TestEnv;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let pipe: Pipeline | undefined;
  const calls: number[] = [];
  afterAll(async () => {
    await pipe?.stop();
    await accounts?.drop();
    await env?.close();
  });

  it('dead-letters only the person who fails alone too; the others are applied once', async () => {
    // One partition: the reprocess run below is one chunk, so its people are one wave and one call.
    env = await testEnv('shared-failure', (cfg) => {
      cfg.kafka.partitions = 1;
      cfg.runtime.maxRetries = 2;
      cfg.runtime.retryBaseMs = 50;
    });
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    const batched = {
      ...pgTarget,
      check: async () => ({}),
      async applyBatch(items: Parameters<NonNullable<typeof pgTarget.applyBatch>>[0], c: { pool: import('pg').Pool; s: string }, ctx: Parameters<typeof pgTarget.apply>[2]) {
        calls.push(items.length);
        const ids = items.map((it) => it.person.id);
        const poisoned = (await c.pool.query(`UPDATE ${c.s}.faults SET shared = shared - 1 WHERE person_id = ANY($1) AND shared > 0`, [ids])).rowCount;
        if (poisoned) throw new TransientError('other side closed (a lost answer for the whole call)', 'UND_ERR_SOCKET');
        const out = [];
        for (const it of items) out.push(await pgTarget.apply(it.plan, c, ctx, it.person));
        return out;
      },
    };
    pipe = await startPipeline(env, batched, { probeMaxMs: 1_000 });
    const people = [];
    for (let i = 0; i < 6; i++) people.push(await env.addPerson({}));
    for (const p of people) await pipe.waitResults(p.id, 1);
    // Every account stale, so the run below updates each; the first person fails every call.
    await accounts.pool.query(`UPDATE ${accounts.schema}.accounts SET sn = 'stale'`);
    const poison = people[0]!;
    await accounts.pool.query(`INSERT INTO ${accounts.schema}.faults (person_id, shared) VALUES ($1, 1000)`, [poison.id]);
    calls.length = 0;
    await publishReprocess(env, people.map((p) => p.id));
    const second = await Promise.all(people.map((p) => pipe!.waitResults(p.id, 2, 'the run\'s result')));
    // The run was tried together (the wave's first call held all six) before anyone was tried alone.
    expect(calls[0]).toBe(6);
    expect(second[0]![1]!.outcome).toBe('FAILED');
    for (const rs of second.slice(1)) expect(rs[1]!.outcome).toBe('APPLIED');
    const updates = await accounts.pool.query(`SELECT person_id, count(*)::int AS n FROM ${accounts.schema}.effects WHERE kind = 'update' GROUP BY person_id`);
    expect(Object.fromEntries(updates.rows.map((r) => [r.person_id, r.n]))).toEqual(Object.fromEntries(people.slice(1).map((p) => [p.id, 1])));
    const { letters } = await readDeadLetters(env.kafka, 'pgtest', `test.${env.id}.pgtest.dlq`);
    expect(letters.map((l) => l.personId)).toEqual([poison.id]);
  }, 120_000);
});
