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
    let restartSeconds = 0;
    try {
      await eventually(async () => pipe!.group.counts.results >= 10, 30_000, 'results before the restart');
      const t0 = Date.now();
      await kafkaService.stop();
      await sleep(1000);
      await kafkaService.start();
      restartSeconds = (Date.now() - t0) / 1000;
    } finally {
      // Changes kept coming while the broker was away; the backlog stays bounded by the outage.
      await adding.stop();
    }
    const atRestart = pipe.group.counts.results;
    await eventually(async () => pipe!.group.counts.results > atRestart + 10, 180_000, 'results after the restart');
    // Stuck, not slow, fails: the wait ends in failure only when no account is added for 90 s.
    const withAccount = async () => (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.accounts WHERE person_id = ANY($1)`, [people])).rows[0].n as number;
    await progressing(withAccount, people.length, 90_000, async () => {
      const published = new Set(pipe!.events.messages.map((m) => m.key?.toString()));
      const rs = new Set((await pipe!.decoded()).map((r) => r.personId));
      return `${people.length} people, ${await withAccount()} with an account, ${people.filter((p) => published.has(p)).length} published, ${people.filter((p) => rs.has(p)).length} with a result; group results ${pipe!.group.counts.results}`;
    });
    console.log(`broker restart: ${restartSeconds.toFixed(0)} s away, ${people.length} people added meanwhile and before, all provisioned once`);
    const creates = (await pool.query(`SELECT person_id, count(*)::int AS n FROM ${schema}.effects WHERE kind = 'create' GROUP BY person_id`)).rows;
    expect(creates).toHaveLength(people.length);
    expect(creates.filter((c) => c.n !== 1)).toEqual([]);
    await eventually(async () => {
      const rs = await pipe!.decoded();
      return people.every((p) => rs.some((r) => r.personId === p));
    }, 120_000, 'a result for every person');
  }, 900_000);
});

/** Waits until `count()` reaches `target`; fails when it has not grown for `stallMs`, saying where things stand. */
async function progressing(count: () => Promise<number>, target: number, stallMs: number, state: () => Promise<string>): Promise<void> {
  let last = -1;
  let since = Date.now();
  for (;;) {
    const n = await count().catch(() => last);
    if (n >= target) return;
    if (n > last) { last = n; since = Date.now(); }
    if (Date.now() - since > stallMs) throw new Error(`no progress for ${stallMs / 1000} s: ${await state()}`);
    await sleep(1000);
  }
}
