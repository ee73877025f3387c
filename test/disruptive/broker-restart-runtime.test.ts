import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaService } from '../../src/stack/kafka.js';
import { eventually, sleep, testEnv, type TestEnv } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

// Restarts the shared broker: run alone (vitest.disruptive.config.ts), after the main suite.
describe('the Kafka broker restarts while a target group works', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let schema: string;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let pipe: Pipeline | undefined;
  afterAll(async () => {
    await pipe?.stop();
    await accounts?.drop();
    await env?.close();
  });

  it('every person is provisioned once, results resume, nothing is applied twice', async () => {
    env = await testEnv('brokerrt');
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    ({ pool, schema } = accounts);
    pipe = await startPipeline(env, pgTarget);
    const adding = env.keepAdding(20);
    const people = adding.people;
    try {
      await eventually(async () => pipe!.group.counts.results >= 10, 30_000, 'results before the restart');
      await kafkaService.stop();
      await sleep(1000);
      await kafkaService.start();
      const atRestart = pipe.group.counts.results;
      await eventually(async () => pipe!.group.counts.results > atRestart + 10, 180_000, 'results after the restart');
    } finally {
      await adding.stop();
    }
    await eventually(async () => {
      const n = (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.accounts WHERE person_id = ANY($1)`, [people])).rows[0].n;
      return n === people.length;
    }, 120_000, 'an account for every person');
    const creates = (await pool.query(`SELECT person_id, count(*)::int AS n FROM ${schema}.effects WHERE kind = 'create' GROUP BY person_id`)).rows;
    expect(creates).toHaveLength(people.length);
    expect(creates.filter((c) => c.n !== 1)).toEqual([]);
    await eventually(async () => {
      const rs = await pipe!.decoded();
      return people.every((p) => rs.some((r) => r.personId === p));
    }, 120_000, 'a result for every person');
  }, 400_000);
});
