import { afterAll, describe, expect, it } from 'vitest';
import { ChangelogProducer } from '../../src/producers/changelog-producer.js';
import { Collector, decodeEvents, eventually, testEnv, type TestEnv } from '../support/env.js';
import { CuttableProxy } from '../support/proxy.js';

describe('the directory goes away and comes back', () => {
  let env: TestEnv;
  afterAll(async () => env?.close());

  it('retries with backoff, reports itself unhealthy, and resumes from its cookie', async () => {
    env = await testEnv('outage');
    const proxy = new CuttableProxy(Number(new URL(env.cfg.directory.url).port));
    const port = await proxy.open();
    const cfg = structuredClone(env.cfg);
    cfg.directory.url = `ldap://127.0.0.1:${port}`;
    const events = await new Collector(env.kafka, env.cfg.kafka.topics.personChanged).start();
    const producer = new ChangelogProducer(cfg, env.kafka, { name: env.id, pollMs: 50 });
    await producer.start();
    try {
      await eventually(async () => producer.stats.healthy, 20_000, 'first snapshot done');
      const before = await env.addPerson({});
      await events.until((m) => m.some((x) => x.key?.toString() === before.id), 20_000);
      await eventually(async () => producer.stats.healthy, 20_000, 'healthy');

      await proxy.cut();
      await eventually(async () => !producer.stats.healthy, 20_000, 'unhealthy');
      const errorsAtCut = producer.stats.errors;
      // Changes keep happening in the directory while tilgang cannot see it.
      const during = [await env.addPerson({}), await env.addPerson({})];
      await new Promise((r) => setTimeout(r, 1500));
      expect(producer.stats.errors).toBeGreaterThan(errorsAtCut); // it kept trying
      expect(producer.stats.lastError).toBeTruthy();

      await proxy.open(port);
      await events.until((m) => during.every((p) => m.some((x) => x.key?.toString() === p.id)), 60_000, 'changes made during the outage');
      await eventually(async () => producer.stats.healthy, 20_000, 'healthy again');
      const adds = (await decodeEvents(env, events.messages)).filter((e) => e.changeType === 'ADD');
      for (const p of [before, ...during]) expect(adds.filter((e) => e.personId === p.id)).toHaveLength(1);
      expect(adds.filter((e) => e.changeType === 'SNAPSHOT')).toHaveLength(0);
    } finally {
      await producer.stop();
      await events.stop();
      await proxy.cut();
    }
  }, 120_000);
  it('survives the connection dropping while it reads a page ahead and a commit is in flight', async () => {
    const local = await testEnv('outage-ahead');
    const proxy = new CuttableProxy(Number(new URL(local.cfg.directory.url).port));
    const port = await proxy.open();
    const cfg = structuredClone(local.cfg);
    cfg.directory.url = `ldap://127.0.0.1:${port}`;
    const events = await new Collector(local.kafka, local.cfg.kafka.topics.personChanged).start();
    // Slow commits of small pages: most of the time a commit is awaited while the next page is read.
    const producer = new ChangelogProducer(cfg, local.kafka, { name: local.id, pollMs: 50, pageSize: 5, inTransaction: () => new Promise((r) => setTimeout(r, 150)) });
    await producer.start();
    try {
      await eventually(async () => producer.stats.healthy, 20_000, 'first snapshot done');
      const people: { id: string }[] = [];
      for (let i = 0; i < 60; i++) people.push(await local.addPerson({}));
      await eventually(async () => producer.stats.published >= 10, 30_000, 'publishing the backlog');
      await proxy.cut();
      await eventually(async () => !producer.stats.healthy, 20_000, 'unhealthy');
      await proxy.open(port);
      await events.until((m) => people.every((p) => m.some((x) => x.key?.toString() === p.id)), 60_000, 'every change after the cut');
      const adds = (await decodeEvents(local, events.messages)).filter((e) => e.changeType === 'ADD');
      for (const p of people) expect(adds.filter((e) => e.personId === p.id)).toHaveLength(1);
    } finally {
      await producer.stop();
      await events.stop();
      await proxy.cut();
      await local.close();
    }
  }, 120_000);
});
