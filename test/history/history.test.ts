import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResultsRecorder } from '../../src/history/recorder.js';
import { HistoryStore } from '../../src/history/store.js';
import { parseSince, personHistory } from '../../src/history/query.js';
import { sync } from '../../src/producers/sync.js';
import { eventually, testEnv, type TestEnv } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';
import { cliConfig, tilgangCli } from '../support/cli.js';

describe('the results store and a person\'s history', () => {
  let env: TestEnv;
  let pipe: Pipeline;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let recorder: ResultsRecorder;
  let store: HistoryStore;

  beforeAll(async () => {
    env = await testEnv('history');
    accounts = await pgAccounts(env, { affiliations: ['student', 'employee'] });
    pipe = await startPipeline(env, pgTarget);
    recorder = new ResultsRecorder(env.cfg, env.kafka, { groupId: `tilgang.history.${env.id}` });
    await recorder.start();
    store = new HistoryStore(env.cfg);
  }, 120_000);

  afterAll(async () => {
    await recorder?.stop();
    await pipe?.stop();
    await store?.close();
    await accounts?.drop();
    await env?.close();
  });

  it('keeps what happened to one person across a live change and two runs, newest first, and the CLI shows it', async () => {
    const p = await env.addPerson({ affiliation: 'student' });
    await pipe.waitResults(p.id, 1);
    const run1 = await sync(env.cfg, env.kafka, { keyField: 'idautoID', keyValue: p.id });
    await pipe.waitResults(p.id, 2);
    await env.modify(env.dn(p.id), 'sn', ['Endret']);
    await pipe.waitResults(p.id, 3);
    const run2 = await sync(env.cfg, env.kafka, { keyField: 'username', keyValue: p.username, logOnly: true });
    const published = await pipe.waitResults(p.id, 4);

    const h = await eventually(async () => {
      const x = await personHistory(env.cfg, store, 'username', p.username);
      return x.results.length >= 4 && x;
    }, 30_000, 'four results in the store');
    expect(h.personId).toBe(p.id);
    expect(h.results).toHaveLength(4);
    // The store holds exactly the published results, newest first.
    expect(new Set(h.results.map((r) => r.eventId))).toEqual(new Set(published.map((r) => r.eventId)));
    const times = h.results.map((r) => r.processedAt);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const [last, update, first, live] = h.results;
    expect(live).toMatchObject({ runId: null, mode: 'LIVE', outcome: 'APPLIED' });
    expect(live!.operations!.map((o) => o.kind)).toEqual(['create']);
    expect(first).toMatchObject({ runId: run1.runId, mode: 'REPROCESS', outcome: 'UNCHANGED' });
    expect(update!.operations).toEqual([expect.objectContaining({ kind: 'update', outcome: 'APPLIED', changes: [{ attribute: 'sn', from: p.sn, to: 'Endret' }] })]);
    expect(last).toMatchObject({ runId: run2.runId, logOnly: true, outcome: 'UNCHANGED' });

    // Filters: a target, a time.
    expect((await store.history({ personId: p.id, target: 'pgtest' })).length).toBe(4);
    expect((await store.history({ personId: p.id, target: 'moodle' })).length).toBe(0);
    expect((await store.history({ personId: p.id, since: new Date(update!.processedAt) })).map((r) => r.eventId)).toEqual([last!.eventId, update!.eventId]);

    const file = cliConfig(env.cfg);
    const text = await tilgangCli(file, ['history', p.username]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`person ${p.id} (${p.username}): 4 result(s)`);
    expect(text.stdout).toContain(`run ${run1.runId}`);
    expect(text.stdout).toContain(`run ${run2.runId} (reprocess, log only)`);
    expect(text.stdout).toMatch(/update applied .*sn: .* → Endret/);
    const json = await tilgangCli(file, ['history', p.id, '--key-field', 'idautoID', '--json', '--since', new Date(update!.processedAt).toISOString()]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).results.map((r: { eventId: string }) => r.eventId)).toEqual([last!.eventId, update!.eventId]);
    const bad = await tilgangCli(file, ['history', p.username, '--since', 'yesterday']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--since: "yesterday" is neither an ISO time/);
  }, 120_000);

  it('a person gone from the directory keeps their history under their idautoID', async () => {
    const p = await env.addPerson({});
    await pipe.waitResults(p.id, 1);
    await env.admin.del(env.dn(p.id));
    await pipe.waitResults(p.id, 2);
    const h = await eventually(async () => {
      const x = await personHistory(env.cfg, store, 'idautoID', p.id);
      return x.results.length >= 2 && x;
    }, 30_000, 'history of a deleted person');
    expect(h.inDirectory).toBe(false);
    expect(h.results[0]!.skipReason).toMatch(/directory delete/);
    await expect(personHistory(env.cfg, store, 'username', p.username)).rejects.toThrow(/no person in the directory/);
  }, 60_000);

  it('holds exactly one row per result when the results topic is read again from its start', async () => {
    const topicResults = async () => (await pipe.decoded()).length;
    const rows = async () => Number((await store.pool.query(`SELECT count(*) AS n FROM "${env.cfg.runtime.stateSchema}".results`)).rows[0].n);
    await eventually(async () => (await rows()) === (await topicResults()), 30_000, 'store caught up');
    await recorder.stop();
    const before = await rows();
    // Another member reading the whole topic again (a reset group, a replay of the topic).
    const again = new ResultsRecorder(env.cfg, env.kafka, { groupId: `tilgang.history.${env.id}.again` });
    await again.start();
    try {
      const n = await topicResults();
      await eventually(async () => again.counts.results >= n, 30_000, 'the topic read again');
      await eventually(async () => (await rows()) === (await topicResults()), 30_000, 'store caught up again');
      // Only results published since the first member stopped are new; nothing is there twice.
      expect(again.counts.inserted).toBe((await rows()) - before);
      expect(new Set((await pipe.decoded()).map((r) => r.eventId)).size).toBe(await rows());
    } finally {
      await again.stop();
    }
    recorder = new ResultsRecorder(env.cfg, env.kafka, { groupId: `tilgang.history.${env.id}` });
    await recorder.start();
  }, 90_000);

  it('forgets results older than the retention', async () => {
    const old = { eventId: randomUUID(), sourceEventId: 'x', personId: randomUUID(), target: 'pgtest', outcome: 'APPLIED' as const, processedAt: Date.now() - 400 * 86_400_000 };
    const recent = { ...old, eventId: randomUUID(), processedAt: Date.now() - 300 * 86_400_000 };
    expect(await store.insert([old, recent])).toBe(2);
    expect(await store.insert([old])).toBe(0);
    expect(await store.prune(365)).toBe(1);
    expect((await store.history({ personId: old.personId })).map((r) => r.eventId)).toEqual([recent.eventId]);
  });

  it('--since takes an ISO time or a duration', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    expect(parseSince('2026-02-01T00:00:00Z', now).toISOString()).toBe('2026-02-01T00:00:00.000Z');
    expect(parseSince('12h', now).toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(parseSince('7d', now).toISOString()).toBe('2026-02-22T12:00:00.000Z');
    expect(() => parseSince('soon', now)).toThrow(/neither an ISO time/);
  });
});
