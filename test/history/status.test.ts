import { randomUUID } from 'node:crypto';
import { Attribute, Change } from 'ldapts';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setStatusGauges, startStatusMetrics, statusSnapshot, type StatusOptions } from '../../src/consumers/status.js';
import { ResultsRecorder } from '../../src/history/recorder.js';
import { HistoryStore } from '../../src/history/store.js';
import { registry } from '../../src/lib/metrics.js';
import { sync } from '../../src/producers/sync.js';
import { eventually, sleep, testEnv, type TestEnv } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';
import { cliConfig, tilgangCli } from '../support/cli.js';

describe('tilgang status: figures that match what happened', () => {
  let env: TestEnv;
  let pipe: Pipeline;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let recorder: ResultsRecorder;
  let store: HistoryStore;
  let opts: StatusOptions;

  beforeAll(async () => {
    env = await testEnv('status', (cfg) => {
      cfg.runtime.guard = { maxOperations: 1, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
    });
    accounts = await pgAccounts(env, { affiliations: ['student', 'employee'] });
    const dlq = (owner: string) => `test.${env.id}.${owner}.dlq`;
    pipe = await startPipeline(env, pgTarget, { topics: { dlq: dlq('pgtest') } });
    recorder = new ResultsRecorder(env.cfg, env.kafka, { groupId: `tilgang.history.${env.id}` });
    await recorder.start();
    store = new HistoryStore(env.cfg);
    opts = {
      targets: [pgTarget], store, producerName: env.id, groupOf: (t) => `tilgang.${t}.${env.id}`, dlqOf: dlq,
      writebackGroup: `tilgang.writeback.${env.id}`, historyGroup: `tilgang.history.${env.id}`,
    };
  }, 120_000);

  afterAll(async () => {
    await recorder?.stop();
    await pipe?.stop();
    await store?.close();
    await accounts?.drop();
    await env?.close();
  });

  it('outcomes of the last hour, events/s, dead letters, the guard and every lag are what the pipeline did', async () => {
    const a = await env.addPerson({ affiliation: 'student' });
    const b = await env.addPerson({ affiliation: 'employee' });
    await env.addPerson({ givenName: '' }); // incomplete: skipped
    const refused = randomUUID();
    await accounts.pool.query(`INSERT INTO ${accounts.schema}.faults (person_id, terminal) VALUES ($1, true)`, [refused]);
    await env.addPerson({ id: refused }); // the system refuses: failed, dead-lettered
    await eventually(async () => (await pipe.decoded()).length >= 4, 30_000, 'four results');
    // Both lose their entitlement: the first disable is applied, the second trips the guard (limit 1).
    const alum = (id: string) => env.admin.modify(env.dn(id), ['idautoPersonAffiliation', 'idautoPersonAffiliations'].map((type) =>
      new Change({ operation: 'replace', modification: new Attribute({ type, values: ['alum'] }) })));
    await alum(a.id);
    await pipe.waitResults(a.id, 2);
    await alum(b.id);
    await pipe.waitResults(b.id, 2);

    const results = await pipe.decoded();
    await eventually(async () => (await store.history({ target: 'pgtest' })).length === results.length, 30_000, 'the store holds every result');
    const now = new Date();
    const s = await eventually(async () => {
      const x = await statusSnapshot(env.cfg, env.kafka, { ...opts, now });
      // The groups commit their offsets a little after the results are visible.
      return x.targets[0]!.lag.lag === 0 && x.writeback.lag.lag === 0 && x.history.lag.lag === 0 && x;
    }, 30_000, 'every group caught up');

    const byOutcome: Record<string, number> = {};
    for (const r of results) byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + 1;
    expect(byOutcome).toEqual({ APPLIED: 3, SKIPPED: 1, FAILED: 1, HELD: 1 });
    const t = s.targets[0]!;
    expect(t.name).toBe('pgtest');
    expect(t.lastHour).toEqual(byOutcome);
    const lastMinute = results.filter((r) => r.processedAt >= now.getTime() - 60_000).length;
    expect(t.eventsPerSecond).toBe(Math.round((lastMinute / 60) * 100) / 100);
    expect(t.dlq).toBe(1);
    expect(t.guard).toMatchObject({ tripped: true, held: 1, counted: 1 });
    expect(t.guard.reason).toMatch(/exceed the limit of 1/);
    expect(s.writeback.dlq).toBe(0);
    expect('error' in s.producer).toBe(false);

    // As Prometheus gauges.
    setStatusGauges(s);
    const text = await registry.metrics();
    expect(text).toContain('tilgang_dlq_size{owner="pgtest"} 1');
    expect(text).toContain('tilgang_guard_tripped{target="pgtest"} 1');
    expect(text).toContain('tilgang_target_results_last_hour{target="pgtest",outcome="APPLIED"} 3');
    expect(text).toContain(`tilgang_group_lag{group="tilgang.pgtest.${env.id}",role="target:pgtest"} 0`);
  }, 120_000);

  it('a stopped group\'s lag and a stopped producer\'s distance grow with what was published and written meanwhile', async () => {
    await pipe.group.stop();
    const people = [];
    for (let i = 0; i < 4; i++) people.push(await env.addPerson({}));
    // The producer publishes the four adds; the stopped group does not take them.
    await eventually(async () => (await statusSnapshot(env.cfg, env.kafka, opts)).targets[0]!.lag.lag >= 4, 30_000, 'lag of four');
    const run = await sync(env.cfg, env.kafka, { all: true, logOnly: true });
    const s = await statusSnapshot(env.cfg, env.kafka, opts);
    // Each partition's last commit marker may count; the events are at least there.
    expect(s.targets[0]!.lag.lag).toBeGreaterThanOrEqual(4 + run.published);
    expect(s.targets[0]!.lag.lag).toBeLessThanOrEqual(4 + run.published + 3 * 5);

    await pipe.producer.stop();
    for (let i = 0; i < 3; i++) await env.addPerson({});
    const p = (await statusSnapshot(env.cfg, env.kafka, opts)).producer;
    expect('error' in p).toBe(false);
    if (!('error' in p)) expect(p.behind).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('the gauges are set over and over while the runtime runs, not only when a batch arrives', async () => {
    const m = startStatusMetrics(env.cfg, env.kafka, opts, 300);
    try {
      const first = await eventually(async () => m.latest(), 30_000, 'a first snapshot');
      await sleep(50);
      const second = await eventually(async () => m.latest() !== first && m.latest(), 30_000, 'a second snapshot');
      expect(Date.parse(second.at)).toBeGreaterThan(Date.parse(first.at));
      expect(await registry.metrics()).toMatch(/tilgang_status_updated_seconds \d/);
    } finally {
      await m.stop();
    }
  }, 60_000);

  it('tilgang run --role history records results and keeps the status gauges on /metrics moving', async () => {
    // A group of its own: members of another group id would hold up its join.
    const file = cliConfig(env.cfg, (c) => { c.targets = {}; c.runtime.statusIntervalSeconds = 1; c.history.groupId = `tilgang.history.${env.id}.run`; });
    const port = 21000 + Math.floor(Math.random() * 500);
    const child = spawn(process.execPath, ['bin/tilgang.js', '-c', file, 'run', '--role', 'history', '--metrics-port', String(port)], {
      env: { ...process.env, TILGANG_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    try {
      const get = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).text();
      await eventually(async () => (await get('/readyz').catch(() => '')) === 'ready\n', 60_000, 'ready');
      const updated = async () => Number(/^tilgang_status_updated_seconds (\S+)$/m.exec(await get('/metrics'))?.[1] ?? 0);
      const first = await eventually(updated, 30_000, 'status gauges set');
      await eventually(async () => (await updated()) > first, 30_000, 'status gauges set again');
      expect(await get('/metrics')).toContain(`tilgang_group_lag{group="tilgang.history.${env.id}.run",role="history"}`);
      const [r] = await pipe.decoded();
      // The run's own group reads the results topic too, and the store still holds each result once.
      await eventually(async () => /^tilgang_history_recorded_total \d/m.test(await get('/metrics')), 30_000, 'history counter');
      expect((await store.history({ personId: r!.personId })).filter((x) => x.eventId === r!.eventId)).toHaveLength(1);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 120_000);

  it('the CLI prints the status as JSON', async () => {
    const r = await tilgangCli(cliConfig(env.cfg), ['status', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toHaveProperty('writeback.lag.lag');
    expect(s).toHaveProperty('history.lag.group', 'tilgang.history');
  }, 60_000);
});
