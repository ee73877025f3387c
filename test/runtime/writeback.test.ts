import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDeadLetters, redrive, WRITEBACK } from '../../src/consumers/dlq.js';
import { Writeback } from '../../src/consumers/writeback.js';
import { registry, serveHealth } from '../../src/lib/metrics.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';
import { eventually, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';
import { CuttableProxy } from '../support/proxy.js';

const result = (personId: string, patch: Partial<ProvisioningResult> = {}): ProvisioningResult => ({
  eventId: randomUUID(), sourceEventId: randomUUID(), personId, target: 'pgtest', runId: null, mode: 'LIVE', logOnly: false,
  outcome: 'APPLIED', skipReason: null, entitled: true, accountId: personId, operations: [], error: null, counters: {},
  durationMs: 1, processedAt: Date.now(), ...patch,
});

/** Bytes no event is made of: not the wire format, a schema id the registry does not know, nothing at all. */
const GARBAGE = [Buffer.from('not an event at all'), Buffer.from([0, 0, 0x0f, 0x42, 0x3f, 2, 4, 6]), null];

describe('writeback: dead letters, backoff and readiness', () => {
  let env: TestEnv;
  let pipe: Pipeline;
  let producer: Producer;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  const stops: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    env = await testEnv('writeback');
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    pipe = await startPipeline(env, pgTarget);
    producer = env.kafka.producer();
    await producer.connect();
  }, 120_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await producer?.disconnect();
    await pipe?.stop();
    await accounts?.drop();
    await env?.close();
  });

  const status = async (p: TestPerson): Promise<string[]> => {
    const { searchEntries } = await env.admin.search(env.dn(p.id), { scope: 'base', attributes: ['tilgangTargetStatus'] });
    const v = searchEntries[0]?.tilgangTargetStatus;
    return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String);
  };
  const provisionedStatus = (p: TestPerson) => eventually(async () => {
    const s = await status(p);
    return s.some((v) => /^pgtest\|[^|]+\|provisioned\|$/.test(v)) && s;
  }, 30_000, `status written for ${p.id}`);
  const ownWriteback = async (name: string, opts: { url?: string; registryUrl?: string; backoff?: { baseMs: number; capMs: number }; commitEveryMs?: number } = {}) => {
    const topic = `test.${env.id}.${name}.results`;
    const dlq = `test.${env.id}.${name}.dlq`;
    const cfg = structuredClone(env.cfg);
    if (opts.url) cfg.directory.url = opts.url;
    if (opts.registryUrl) cfg.registry.url = opts.registryUrl;
    const wb = new Writeback(cfg, env.kafka, { groupId: `test.${env.id}.${name}`, topic, dlq, backoff: opts.backoff, commitEveryMs: opts.commitEveryMs });
    await wb.start();
    stops.push(() => wb.stop());
    return { wb, topic, dlq };
  };
  const send = async (topic: string, partition: number, messages: { key: string; value: Buffer | null }[]) => {
    await producer.send({ topic, messages: messages.map((m) => ({ ...m, partition })) });
  };

  it('dead-letters a poison message, continues the partition, and writes the next person\'s status; the key names no one', async () => {
    const { wb, topic, dlq } = await ownWriteback('poison');
    const victim = await env.addPerson({ affiliation: 'alum' });
    const next = await env.addPerson({ affiliation: 'alum' });
    // All on one partition, in this order: garbage carrying the victim's key, then a real result for the next person.
    await send(topic, 1, [
      ...GARBAGE.map((value) => ({ key: victim.id, value })),
      { key: next.id, value: await env.codec.encode('ProvisioningResult', topic, result(next.id)) },
    ]);
    await provisionedStatus(next);
    // The garbage recorded nothing for the person its key names.
    expect(await status(victim)).toEqual([]);
    const { letters } = await readDeadLetters(env.kafka, WRITEBACK, dlq);
    expect(letters).toHaveLength(GARBAGE.length);
    expect(letters.map((l) => l.source)).toEqual(GARBAGE.map((_, i) => ({ topic, partition: 1, offset: String(i) })));
    for (const l of letters) {
      expect(l).toMatchObject({ target: WRITEBACK, personId: '', key: victim.id, error: expect.objectContaining({ kind: 'TERMINAL', code: 'undecodable' }) });
      expect(l.error!.message).toMatch(/^result at partition 1 offset \d cannot be decoded: /);
    }
    expect(letters[0]!.event).toBe(Buffer.from('not an event at all').toString('base64'));
    expect(wb.counts).toMatchObject({ deadLettered: GARBAGE.length, writes: 1, failures: 0 });
    expect(wb.isReady()).toBe(true);
  });

  it('commits what it handled on its interval, not per batch, also when no more comes; and all of it at a stop', async () => {
    // An interval longer than the test: every commit seen before the stop would be a commit per batch.
    const { wb, topic } = await ownWriteback('commits', { commitEveryMs: 600_000 });
    const group = `test.${env.id}.commits`;
    const people = [await env.addPerson({ affiliation: 'alum' }), await env.addPerson({ affiliation: 'alum' })];
    const admin = env.kafka.admin();
    await admin.connect();
    stops.push(() => admin.disconnect());
    const committed = async () => (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]!.partitions
      .filter((p) => p.partition === 2).map((p) => Number(p.offset))[0] ?? -1;
    const handled = async (w: Writeback, n: number) => {
      const p = people[n % 2]!;
      await send(topic, 2, [{ key: p.id, value: await env.codec.encode('ProvisioningResult', topic, result(p.id)) }]);
      await eventually(async () => w.counts.results === n, 15_000, `result ${n} handled`);
    };
    // Results in batches of their own, each handled before the next is sent: none committed yet.
    for (let i = 1; i <= 6; i++) await handled(wb, i);
    expect(await committed()).toBeLessThan(6);
    // At a stop: all that was handled.
    await wb.stop();
    expect(await committed()).toBe(6);
    // The group's next member, with a short interval: what it handled is committed while it is idle,
    // without another result or a stop (the group's lag reaches 0).
    const next = await ownWriteback('commits', { commitEveryMs: 500 });
    await handled(next.wb, 1);
    await eventually(async () => (await committed()) === 7, 15_000, 'the handled result committed while idle');
  });

  it('records nothing for the person whose key an undecodable person.changed event carried', async () => {
    const p = await env.addPerson({ affiliation: 'student' });
    await pipe.waitResults(p.id, 1, 'create');
    const before = await provisionedStatus(p);
    // Garbage on person.changed with the person's key: the target group reports it as undecodable.
    await producer.send({ topic: env.cfg.kafka.topics.personChanged, messages: [{ key: p.id, value: Buffer.from('garbage with a key') }] });
    const [, undecodable] = await pipe.waitResults(p.id, 2, 'undecodable result');
    expect(undecodable).toMatchObject({ outcome: 'FAILED', error: expect.objectContaining({ code: 'undecodable' }) });
    // A result for someone else, sent after it on the same partition: once written, the writeback has passed the undecodable one.
    const partition = await partitionOf(env.cfg.kafka.topics.provisioningResult, (r) => r.eventId === undecodable!.eventId);
    const sentinel = await env.addPerson({ affiliation: 'alum' });
    await send(env.cfg.kafka.topics.provisioningResult, partition, [{ key: sentinel.id, value: await env.codec.encode('ProvisioningResult', env.cfg.kafka.topics.provisioningResult, result(sentinel.id)) }]);
    await provisionedStatus(sentinel);
    expect(await status(p)).toEqual(before);
    expect(pipe.writeback.counts.ignored).toBe(1);
  });

  it('waits with backoff while the directory is cut, says so in readiness, and writes once it is back; nothing dead-lettered', async () => {
    const proxy = new CuttableProxy(Number(new URL(env.cfg.directory.url).port));
    const port = await proxy.open();
    stops.push(() => proxy.cut());
    const { wb, topic, dlq } = await ownWriteback('cut', { url: `ldap://127.0.0.1:${port}`, backoff: { baseMs: 100, capMs: 400 } });
    const health = await serveHealth(0, () => [{ name: 'writeback', ready: () => wb.isReady(), reason: () => wb.readiness() }]);
    stops.push(() => new Promise((r) => health.close(r)));
    const readyz = () => get(`http://127.0.0.1:${(health.address() as AddressInfo).port}/readyz`);
    expect(await readyz()).toEqual({ status: 200, body: 'ready\n' });

    const p = await env.addPerson({ affiliation: 'alum' });
    await proxy.cut();
    await send(topic, 0, [{ key: p.id, value: await env.codec.encode('ProvisioningResult', topic, result(p.id)) }]);
    await eventually(async () => !wb.isReady(), 20_000, 'writeback not ready while the directory is cut');
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body).toMatch(/^not ready: writeback \(failing since \d{4}-\d\d-\d\dT[^:]+:\d\d:\d\d\.\d+Z: directory unreachable: .+\)\n$/);
    expect(await failingSinceGauge()).toBeGreaterThan(Date.now() / 1000 - 60);
    // Several tries while cut, none of them a dead letter.
    await eventually(async () => wb.counts.failures >= 3, 20_000, 'retries while cut');
    expect(await status(p)).toEqual([]);

    await proxy.open(port);
    await provisionedStatus(p);
    await eventually(async () => wb.isReady(), 20_000, 'ready again');
    expect(await readyz()).toEqual({ status: 200, body: 'ready\n' });
    expect(await failingSinceGauge()).toBe(0);
    expect(wb.counts.deadLettered).toBe(0);
    expect((await readDeadLetters(env.kafka, WRITEBACK, dlq)).letters).toEqual([]);
  });

  it('waits while the schema registry is cut instead of dead-lettering good results, then writes them', async () => {
    const registry = new URL(env.cfg.registry.url);
    const proxy = new CuttableProxy(Number(registry.port));
    await proxy.open();
    stops.push(() => proxy.cut());
    const { wb, topic, dlq } = await ownWriteback('registry', { registryUrl: proxy.via(env.cfg.registry.url), backoff: { baseMs: 100, capMs: 400 } });
    const p = await env.addPerson({ affiliation: 'alum' });
    // Encoded through the registry directly; the writeback has never seen this schema id, so it must ask.
    const value = await env.codec.encode('ProvisioningResult', topic, result(p.id));
    await proxy.cut();
    await send(topic, 0, [{ key: p.id, value }]);
    await eventually(async () => !wb.isReady() && wb.counts.failures >= 3, 20_000, 'writeback waiting for the registry');
    expect(wb.readiness()).toMatch(/^failing since .*: schema registry unreachable: /);
    expect(wb.counts.deadLettered).toBe(0);
    await proxy.open(proxy.port);
    await provisionedStatus(p);
    await eventually(async () => wb.isReady(), 20_000, 'ready again');
    expect(wb.counts.deadLettered).toBe(0);
    expect((await readDeadLetters(env.kafka, WRITEBACK, dlq)).letters).toEqual([]);
  });

  it('dead-letters a status the directory refuses and goes on; redrive marks a letter that names no target done', async () => {
    const { wb, topic, dlq } = await ownWriteback('refused');
    const p = await env.addPerson({ affiliation: 'alum' });
    const next = await env.addPerson({ affiliation: 'alum' });
    // A target name the status attribute's syntax refuses (an empty value), then a good result on the same partition.
    await send(topic, 2, [
      { key: p.id, value: await env.codec.encode('ProvisioningResult', topic, result(p.id, { target: '' })) },
      { key: next.id, value: await env.codec.encode('ProvisioningResult', topic, result(next.id)) },
    ]);
    await provisionedStatus(next);
    const { letters } = await readDeadLetters(env.kafka, WRITEBACK, dlq);
    expect(letters).toEqual([expect.objectContaining({ target: WRITEBACK, personId: p.id, resultTarget: '', error: expect.objectContaining({ kind: 'TERMINAL' }) })]);
    expect(letters[0]!.error!.message).toContain(`writing the status of person ${p.id}`);
    expect(wb.counts.deadLettered).toBe(1);

    const redriveTopic = `test.${env.id}.redrive.person.changed`;
    const r = await redrive(env.cfg, env.kafka, WRITEBACK, { dlq, personChangedTopic: redriveTopic });
    // The letter names no target to send the person back to: marked done, nothing published.
    expect(r).toMatchObject({ people: 0, unaddressed: 1 });
    expect((await readDeadLetters(env.kafka, WRITEBACK, dlq)).letters).toEqual([]);
    expect(r.runId).toMatch(/\S/);
  });

  /** The partition a result landed on, read back from the topic. */
  async function partitionOf(topic: string, match: (r: ProvisioningResult) => boolean): Promise<number> {
    const consumer = env.kafka.consumer({ groupId: `test-partition-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    try {
      return await new Promise<number>((resolve) => {
        consumer.run({ eachMessage: async ({ partition, message }) => {
          if (message.value && match(await env.codec.decode('ProvisioningResult', message.value).catch(() => ({}) as ProvisioningResult))) resolve(partition);
        } });
      });
    } finally {
      await consumer.disconnect();
    }
  }
});

async function failingSinceGauge(): Promise<number> {
  return (await registry.getSingleMetric('tilgang_writeback_failing_since_seconds')!.get()).values[0]?.value ?? 0;
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}
