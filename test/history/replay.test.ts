import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResultsRecorder } from '../../src/history/recorder.js';
import { followRun } from '../../src/history/runs.js';
import { HistoryStore } from '../../src/history/store.js';
import { parseBound, replay, sliceRanges } from '../../src/producers/replay.js';
import { eventually, sleep, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';
import { PassThrough } from 'node:stream';
import { cliConfig, tilgangCli } from '../support/cli.js';

describe('tilgang replay: a slice of person.changed through one target', () => {
  let env: TestEnv;
  let pipe: Pipeline;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let recorder: ResultsRecorder;
  let store: HistoryStore;
  const people: TestPerson[] = [];
  let t1: Date;
  let t2: Date;
  const groupId = () => `tilgang.pgtest.${env.id}`;

  const offsets = async () => {
    const admin = env.kafka.admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId: groupId(), topics: [env.cfg.kafka.topics.personChanged] });
      return new Map(t!.partitions.map((p) => [p.partition, Number(p.offset)]));
    } finally {
      await admin.disconnect();
    }
  };

  beforeAll(async () => {
    env = await testEnv('replay');
    accounts = await pgAccounts(env, { affiliations: ['student', 'employee'] });
    pipe = await startPipeline(env, pgTarget);
    recorder = new ResultsRecorder(env.cfg, env.kafka, { groupId: `tilgang.history.${env.id}` });
    await recorder.start();
    store = new HistoryStore(env.cfg);
    // Two people before the slice, two in it, one after.
    const add = async () => {
      const p = await env.addPerson({});
      await pipe.waitResults(p.id, 1);
      people.push(p);
    };
    await add();
    await add();
    await sleep(1100);
    t1 = new Date();
    await add();
    await add();
    await sleep(1100);
    t2 = new Date();
    await add();
  }, 180_000);

  afterAll(async () => {
    await recorder?.stop();
    await pipe?.stop();
    await store?.close();
    await accounts?.drop();
    await env?.close();
  });

  it('from a time to a time: exactly the people of the slice, reprocessed by that target, and the live group only moves forward over the new events', async () => {
    const before = await offsets();
    const resultsBefore = (await pipe.decoded()).length;
    const r = await replay(env.cfg, env.kafka, 'pgtest', { from: t1.toISOString(), to: t2.toISOString() });
    expect(r.read).toBe(2);
    expect(new Set(r.people)).toEqual(new Set([people[2]!.id, people[3]!.id]));

    const report = await followRun(store, r.runId, { pollMs: 200, out: new PassThrough() });
    expect(report!.state).toBe('done');
    expect(report!.targets).toEqual([{ target: 'pgtest', expected: 2, results: 2, deadLettered: 0, inFlight: 0, state: 'done' }]);
    const replayed = (await pipe.decoded()).filter((x) => x.runId === r.runId);
    expect(new Set(replayed.map((x) => x.personId))).toEqual(new Set(r.people));
    expect(replayed.every((x) => x.mode === 'REPROCESS' && x.outcome === 'UNCHANGED')).toBe(true);

    // The live group was not moved back: it read only the two new events, one result each, and no partition's offset went down.
    await eventually(async () => (await pipe.decoded()).length === resultsBefore + 2, 30_000, 'two new results');
    await sleep(500);
    expect((await pipe.decoded()).length).toBe(resultsBefore + 2);
    const after = await offsets();
    for (const [p, o] of before) expect(after.get(p)!).toBeGreaterThanOrEqual(o);
    expect([...after.values()].reduce((a, b) => a + b, 0) - [...before.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  }, 120_000);

  it('a persons file narrows the slice; log-only changes nothing; the end of the topic is the default end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tilgang-replay-'));
    const file = join(dir, 'people.txt');
    writeFileSync(file, `# only these\n${people[4]!.id.toUpperCase()}\n${people[0]!.id}\n`);
    const effects = async () => Number((await accounts.pool.query(`SELECT count(*) AS n FROM ${accounts.schema}.effects`)).rows[0].n);
    const was = await effects();
    await accounts.pool.query(`UPDATE ${accounts.schema}.accounts SET sn = 'Drift' WHERE person_id = $1`, [people[4]!.id]);
    const r = await replay(env.cfg, env.kafka, 'pgtest', { from: t2.toISOString(), personsFile: file, logOnly: true });
    // From t2 to the end: the fifth person's add, the first replay's two REPROCESS events; the file keeps the fifth.
    expect(r.people).toEqual([people[4]!.id]);
    const report = await followRun(store, r.runId, { pollMs: 200, out: new PassThrough() });
    expect(report!.counters.get('pgtest')).toMatchObject({ total: 1, planned: 1 });
    expect(await effects()).toBe(was);
  }, 120_000);

  it('offsets as bounds: per partition, or one for all', async () => {
    const topic = env.cfg.kafka.topics.personChanged;
    const all = await sliceRanges(env.kafka, topic, parseBound('0'));
    expect(all.reduce((n, x) => n + x.end - x.start, 0)).toBeGreaterThanOrEqual(people.length);
    const one = all[0]!;
    const only = await sliceRanges(env.kafka, topic, parseBound(`${one.partition}:${one.start}`), parseBound(`${one.partition}:${one.end}`));
    expect(only).toEqual([one]);
    expect(() => parseBound('yesterday')).toThrow(/neither an ISO time/);
    const bad = await tilgangCli(cliConfig(env.cfg, (c) => { delete c.targets.pgtest; }), ['replay', 'moodle', '--from', 'yesterday']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('tilgang: --from/--to: "yesterday" is neither an ISO time (2026-01-31T08:00:00Z), an offset (1200) nor offsets per partition (0:1200,1:980)');
    const unknown = await tilgangCli(cliConfig(env.cfg, (c) => { delete c.targets.pgtest; }), ['replay', 'moodel', '--from', '0']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown target: moodel/);
  }, 60_000);
});
