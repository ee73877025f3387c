import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { Writeback } from '../../src/consumers/writeback.js';
import { eq } from '../../src/lib/ldap/filter.js';
import { serveHealth } from '../../src/lib/metrics.js';
import { newRunId, PersonEventPublisher, runEvent } from '../../src/producers/publisher.js';
import { groupHealth } from '../../src/run.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';
import { Collector, decodeResults, eventually, testEnv, type TestEnv } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { CuttableProxy } from '../support/proxy.js';

// A target group whose directory connection is cut (while idle, and with reads in flight) and
// restored: it does not hang, /readyz says "not ready: … directory" for the length of the cut,
// and every event gets exactly one result, applied, with nothing dead-lettered.
describe('a target group loses the directory and gets it back', () => {
  let env: TestEnv;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let proxy: CuttableProxy;
  let group: TargetGroup;
  let writeback: Writeback;
  let results: Collector;
  let dead: Collector;
  let health: Server;
  let pub: PersonEventPublisher;
  const runId = newRunId();

  beforeAll(async () => {
    env = await testEnv('dir-outage', (cfg) => {
      // The cut here is seconds: the retry budget outlasts it (a long outage is not this test's subject).
      cfg.runtime.maxRetries = 60;
      cfg.runtime.retryBaseMs = 100;
      cfg.runtime.retryMaxMs = 500;
      cfg.directory.timeoutMs = 2_000;
    });
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    proxy = new CuttableProxy(Number(new URL(env.cfg.directory.url).port));
    await proxy.open();
    const cfg = structuredClone(env.cfg);
    cfg.directory.url = proxy.via(cfg.directory.url);
    const dlq = `test.${env.id}.pgtest.dlq`;
    group = new TargetGroup(cfg, env.kafka, pgTarget, { groupId: `tilgang.pgtest.${env.id}`, chunkSize: 50, topics: { dlq } });
    await group.start();
    writeback = new Writeback(cfg, env.kafka, { groupId: `tilgang.writeback.${env.id}` });
    await writeback.start();
    health = await serveHealth(0, () => groupHealth('target:pgtest', group));
    results = await new Collector(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
    dead = await new Collector(env.kafka, dlq).start();
    pub = new PersonEventPublisher(env.kafka, env.cfg, `test.dir-outage.${env.id}`);
    await pub.connect();
  }, 120_000);

  afterAll(async () => {
    await pub?.disconnect();
    await results?.stop();
    await dead?.stop();
    await group?.stop();
    await writeback?.stop();
    await new Promise((r) => (health ? health.close(r) : r(undefined)));
    await proxy?.cut();
    await accounts?.drop();
    await env?.close();
  });

  const readyz = async () => {
    const res = await fetch(`http://127.0.0.1:${(health.address() as { port: number }).port}/readyz`);
    return { status: res.status, body: await res.text() };
  };
  const publishFor = async (n: number) => {
    const people = [];
    for (let k = 0; k < n; k++) people.push(await env.addPerson({ affiliation: 'student' }));
    const events = people.map((p) => runEvent(p.id, { runId, mode: 'REPROCESS', logOnly: false, targets: null, source: 'test' }));
    await pub.send(events);
    return events;
  };
  const resultsOf = async (eventIds: string[]): Promise<ProvisioningResult[]> =>
    (await decodeResults(env, results.messages)).filter((r) => eventIds.includes(r.sourceEventId));
  const allApplied = async (eventIds: string[]) => {
    const rs = await eventually(async () => { const r = await resultsOf(eventIds); return r.length >= eventIds.length && r; }, 90_000, `${eventIds.length} results`);
    expect(rs).toHaveLength(eventIds.length); // exactly one each
    expect(new Set(rs.map((r) => r.sourceEventId)).size).toBe(eventIds.length);
    for (const r of rs) expect(r).toMatchObject({ outcome: 'APPLIED', entitled: true });
    for (const r of rs) expect(r.operations!.map((o) => o.kind)).toEqual(['create']);
    // The writeback, cut off too, writes every status once the directory is back.
    const ids = rs.map((r) => r.personId);
    await eventually(async () => {
      const { searchEntries } = await env.admin.search(env.peopleDn, { scope: 'one', filter: eq('tilgangProvisionedTo', 'pgtest'), attributes: ['idautoID'] });
      const written = new Set(searchEntries.map((e) => String(e.idautoID)));
      return ids.every((id) => written.has(id));
    }, 60_000, 'statuses written back');
  };

  it('is ready and applies while the directory answers', async () => {
    const evs = await publishFor(5);
    await allApplied(evs.map((e) => e.eventId));
    expect(await readyz()).toEqual({ status: 200, body: 'ready\n' });
  });

  it('cut while idle: not ready during the cut, events that arrive meanwhile are applied after the restore', async () => {
    await proxy.cut();
    await eventually(async () => !group.isReady(), 20_000, 'not ready');
    expect(group.dependencies().map((d) => [d.name, d.ready])).toEqual([['directory', false], ['mv', true]]);
    const during = await readyz();
    expect(during.status).toBe(503);
    expect(during.body).toContain('target:pgtest directory');
    expect(during.body).not.toContain('target:pgtest mv');
    await eventually(async () => !writeback.isReady(), 20_000, 'writeback not ready');
    const retries = group.counts.retries;
    const evs = await publishFor(10);
    // The group is working on them: its directory reads fail and are retried, not dropped.
    await eventually(async () => group.counts.retries > retries, 20_000, 'reads retried during the cut');
    expect(group.isReady()).toBe(false);
    await proxy.open(proxy.port);
    await allApplied(evs.map((e) => e.eventId));
    await eventually(async () => (await readyz()).status === 200 && writeback.isReady(), 20_000, 'ready again');
  });

  it('cut with reads in flight: none hangs, none is lost, none is dead-lettered', async () => {
    proxy.stall();
    const retries = group.counts.retries;
    const evs = await publishFor(20);
    // Many searches (about 150 bytes each) sent and unanswered, not just the idle probe's one.
    await eventually(async () => proxy.heldBytes > 1_000, 20_000, 'directory reads in flight');
    await proxy.cut();
    await eventually(async () => (await readyz()).status === 503, 20_000, 'not ready');
    expect(group.counts.retries).toBeGreaterThan(retries);
    await proxy.open(proxy.port);
    await allApplied(evs.map((e) => e.eventId));
    await eventually(async () => (await readyz()).status === 200, 20_000, 'ready again');
    expect(dead.messages).toHaveLength(0);
  });
});
