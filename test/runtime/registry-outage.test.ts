import { afterAll, describe, expect, it } from 'vitest';
import { readDeadLetters } from '../../src/consumers/dlq.js';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { Collector, decodeResults, eventually, sleep, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { CuttableProxy } from '../support/proxy.js';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { newRunId, runEvent } from '../../src/producers/publisher.js';
import { schemaText } from '../../src/schemas/codec.js';

describe('the schema registry cannot be reached while a target group runs', () => {
  let env: TestEnv;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let group: TargetGroup | undefined;
  let proxy: CuttableProxy | undefined;
  afterAll(async () => {
    await group?.stop();
    await proxy?.cut();
    await accounts?.drop();
    await env?.close();
  });

  it('waits for it instead of dead-lettering good events; bytes that are not an event are still dead-lettered', async () => {
    env = await testEnv('registry', (cfg) => {
      cfg.runtime.maxRetries = 2;
      cfg.runtime.retryBaseMs = 100;
    });
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    const people: TestPerson[] = [];
    for (let i = 0; i < 20; i++) people.push(await env.addPerson({}));
    // The group reaches the registry through a proxy the test can cut; everyone else directly.
    const registryPort = Number(new URL(env.cfg.registry.url).port);
    proxy = new CuttableProxy(registryPort);
    await proxy.open();
    const groupCfg = structuredClone(env.cfg);
    groupCfg.registry.url = proxy.via(env.cfg.registry.url);
    const dlq = `test.${env.id}.pgtest.dlq`;
    group = new TargetGroup(groupCfg, env.kafka, pgTarget, { groupId: `tilgang.pgtest.${env.id}`, topics: { dlq }, probeMaxMs: 3_000 });
    await group.start();
    const results = await new Collector(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
    try {
      // The group registered the topic's schema at start and decodes what it wrote from its cache:
      // the events come in a newer version of the schema, which it has to ask the registry for.
      const { runId, messages } = await newerVersionEvents(env, people.map((p) => p.id));
      // The registry goes away under the running group; then the events come.
      await proxy.cut();
      const sender = env.kafka.producer();
      await sender.connect();
      await sender.send({ topic: env.cfg.kafka.topics.personChanged, messages });
      await sender.disconnect();
      const garbageKey = `garbage-${env.id}`;
      const raw = env.kafka.producer();
      await raw.connect();
      await raw.send({ topic: env.cfg.kafka.topics.personChanged, messages: [{ key: garbageKey, value: Buffer.from('not avro at all') }] });
      await raw.disconnect();

      const g = group;
      await eventually(async () => g.outage?.dependency === 'registry', 60_000, 'the group to notice the registry is unreachable');
      expect(g.isReady()).toBe(false);
      expect(g.notReadyReason()).toMatch(/^registry unavailable since .*ECONNREFUSED/);
      await sleep(8_000);
      const mine = async () => (await decodeResults(env, results.messages)).filter((r) => r.runId === runId);
      expect(await mine()).toEqual([]);

      await proxy.open(proxy.port);
      await eventually(async () => (await mine()).length >= people.length, 60_000, 'a result for every event once the registry is back');
      await eventually(async () => !g.outage, 30_000, 'the group available again');
      const rs = await mine();
      expect(new Set(rs.map((r) => r.sourceEventId)).size).toBe(people.length);
      expect(rs.filter((r) => r.outcome !== 'APPLIED')).toEqual([]);
      // Only the bytes that are not an event were dead-lettered.
      const { letters } = await eventually(async () => {
        const l = await readDeadLetters(env.kafka, 'pgtest', dlq);
        return l.letters.length > 0 && l;
      }, 30_000, 'the garbage dead-lettered');
      expect(letters.map((l) => [l.personId, l.error?.code])).toEqual([[garbageKey, 'undecodable']]);
      console.log(`registry cut: ${rs.length} results after it came back, ${letters.length} dead letter (the garbage), good events dead-lettered: 0`);
    } finally {
      await results.stop();
    }
  }, 240_000);
});

/** Events of a run encoded with a second version of PersonChanged (one optional field more), registered for the test's topic. */
async function newerVersionEvents(env: TestEnv, ids: string[]): Promise<{ runId: string; messages: { key: string; value: Buffer }[] }> {
  const schema = JSON.parse(schemaText('PersonChanged')) as { fields: unknown[] };
  schema.fields.push({ name: 'testOnly', type: ['null', 'string'], default: null, doc: 'A field only this test writes.' });
  const registry = new SchemaRegistry({ host: env.cfg.registry.url });
  const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject: `${env.cfg.kafka.topics.personChanged}-value` });
  const runId = newRunId();
  const messages = await Promise.all(ids.map(async (pid) => ({
    key: pid,
    value: await registry.encode(id, { ...runEvent(pid, { runId, mode: 'REPROCESS', logOnly: false, targets: null, source: 'test' }), testOnly: null }),
  })));
  return { runId, messages };
}
