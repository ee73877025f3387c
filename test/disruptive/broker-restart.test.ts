import { afterAll, describe, expect, it } from 'vitest';
import { ChangelogProducer } from '../../src/producers/changelog-producer.js';
import { kafkaService } from '../../src/stack/kafka.js';
import { Collector, decodeEvents, eventually, sleep, testEnv, type TestEnv } from '../support/env.js';

// Restarts the shared broker: run alone (vitest.disruptive.config.ts), after the main suite.
describe('the Kafka broker restarts while the producer works', () => {
  let env: TestEnv;
  afterAll(async () => env?.close());

  it('loses no change and publishes none twice', async () => {
    env = await testEnv('broker');
    const producer = new ChangelogProducer(env.cfg, env.kafka, { name: env.id, pageSize: 5, pollMs: 20 });
    await producer.start();
    await eventually(async () => producer.stats.healthy, 60_000, 'producer following the change log');
    const adding = env.keepAdding(10);
    const people = adding.people;
    try {
      await eventually(async () => producer.stats.published >= 20, 30_000, 'events before the restart');
      await kafkaService.stop();
      const atStop = producer.stats.published;
      await sleep(1000);
      await kafkaService.start();
      await eventually(async () => producer.stats.healthy && producer.stats.published > atStop + 20, 180_000, 'publishing again after the restart');
      await sleep(1000);
    } finally {
      await adding.stop();
    }
    const events = await new Collector(env.kafka, env.cfg.kafka.topics.personChanged).start();
    try {
      await events.until((m) => new Set(m.map((x) => x.key?.toString())).size >= people.length, 120_000, 'an event for every person');
      await sleep(1000);
      const adds = (await decodeEvents(env, events.messages)).filter((e) => e.changeType === 'ADD');
      const count = new Map<string, number>();
      for (const e of adds) count.set(e.personId, (count.get(e.personId) ?? 0) + 1);
      expect(people.filter((p) => !count.has(p))).toEqual([]);
      expect([...count].filter(([, n]) => n > 1)).toEqual([]);
    } finally {
      await events.stop();
      await producer.stop();
    }
  }, 300_000);
});
