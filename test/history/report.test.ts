import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { ResultsRecorder } from '../../src/history/recorder.js';
import { followRun, runReport } from '../../src/history/runs.js';
import { HistoryStore } from '../../src/history/store.js';
import { sync } from '../../src/producers/sync.js';
import { eventually, testEnv, type TestEnv } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';
import { cliConfig, tilgangCli } from '../support/cli.js';

describe('tilgang report from the results store: published, done, in flight, dead-lettered', () => {
  let env: TestEnv;
  let pipe: Pipeline;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let recorder: ResultsRecorder;
  let store: HistoryStore;
  let group: TargetGroup | undefined;

  beforeAll(async () => {
    env = await testEnv('report', (cfg) => { cfg.history.groupId = `tilgang.history.${cfg.runtime.instanceId}`; });
    accounts = await pgAccounts(env, { affiliations: ['student', 'employee'] });
    pipe = await startPipeline(env, pgTarget, { topics: { dlq: `test.${env.id}.pgtest.dlq` } });
    recorder = new ResultsRecorder(env.cfg, env.kafka);
    await recorder.start();
    store = new HistoryStore(env.cfg);
  }, 120_000);

  afterAll(async () => {
    await group?.stop();
    await recorder?.stop();
    await pipe?.stop();
    await store?.close();
    await accounts?.drop();
    await env?.close();
  });

  it('a finished run: every event answered, the refused one dead-lettered, the seed\'s counters; sync --wait follows it to the end', async () => {
    const refused = randomUUID();
    await accounts.pool.query(`INSERT INTO ${accounts.schema}.faults (person_id, terminal) VALUES ($1, true)`, [refused]);
    for (const id of [undefined, undefined, refused]) await env.addPerson({ id });
    await eventually(async () => (await pipe.decoded()).length >= 3, 30_000, 'the adds');
    const run = await sync(env.cfg, env.kafka, { all: true, targets: ['pgtest'] });
    expect(run.published).toBe(3);

    const out = new PassThrough();
    let printed = '';
    out.on('data', (b: Buffer) => (printed += b.toString()));
    const r = await followRun(store, run.runId, { pollMs: 200, out });
    expect(r).toBeDefined();
    expect(r!.state).toBe('done');
    expect(r!.run).toMatchObject({ published: 3, mode: 'SNAPSHOT', source: 'cli', targets: ['pgtest'], expected: { pgtest: 3 } });
    expect(r!.targets).toEqual([{ target: 'pgtest', expected: 3, results: 3, deadLettered: 1, inFlight: 0, state: 'done' }]);
    expect(r!.counters.get('pgtest')).toMatchObject({ total: 3, unchanged: 2, failed: 1 });
    expect(printed).toMatch(/pgtest \d\/3 \(\d+\.\d\/s/);

    const cli = await tilgangCli(cliConfig(env.cfg), ['report', run.runId]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`run ${run.runId} (snapshot, cli): 3 event(s) published`);
    expect(cli.stdout).toMatch(/; DONE\n/);
    expect(cli.stdout).toMatch(/pgtest +3\/3 result\(s\); done; 1 dead-lettered/);
    expect(cli.stdout).toMatch(/failed +1/);
  }, 120_000);

  it('a run whose target group is stopped is in flight, with how many are missing, until the group answers', async () => {
    await pipe.group.stop();
    const run = await sync(env.cfg, env.kafka, { all: true, targets: ['pgtest'], logOnly: true });
    const r = await runReport(store, run.runId);
    expect(r!.state).toBe('in flight');
    expect(r!.targets).toEqual([{ target: 'pgtest', expected: 3, results: 0, deadLettered: 0, inFlight: 3, state: 'in flight' }]);
    const cli = await tilgangCli(cliConfig(env.cfg), ['report', run.runId]);
    expect(cli.stdout).toMatch(/IN FLIGHT/);
    expect(cli.stdout).toMatch(/pgtest +0\/3 result\(s\); in flight \(3 in flight\)/);
    // The store has recorded every result there is: the targets, not the store, are behind.
    expect(cli.stdout).not.toMatch(/results store is/);

    group = new TargetGroup(env.cfg, env.kafka, pgTarget, { groupId: `tilgang.pgtest.${env.id}`, topics: { dlq: `test.${env.id}.pgtest.dlq` } });
    await group.start();
    const done = await followRun(store, run.runId, { pollMs: 200, out: new PassThrough() });
    expect(done!.state).toBe('done');
    expect(done!.counters.get('pgtest')).toMatchObject({ total: 3, planned: 1 });
  }, 120_000);

  it('an unknown run is none', async () => {
    expect(await runReport(store, 'run-20260101T000000Z-deadbeef')).toBeUndefined();
  });
});
