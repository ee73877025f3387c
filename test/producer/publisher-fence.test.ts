import { afterAll, describe, expect, it } from 'vitest';
import { PersonEventPublisher, runEvent } from '../../src/producers/publisher.js';
import { Collector, decodeEvents, testEnv, type TestEnv } from '../support/env.js';

// The producer reads its cookie back after a failure only once its publisher is connected. That
// read is right only if connecting has already finished or aborted the predecessor's transaction
// (kafkajs alone would initialise the id at the first transaction, after the read).
describe('connecting a publisher', () => {
  let env: TestEnv;
  afterAll(async () => env?.close());

  it('fences the open transaction of a predecessor with the same id before it returns', async () => {
    env = await testEnv('fence');
    const id = `tilgang.producer.${env.id}`;
    const run = { runId: `run-${env.id}`, mode: 'SNAPSHOT' as const, logOnly: false, targets: null, source: 'test' };
    const old = new PersonEventPublisher(env.kafka, env.cfg, id);
    const next = new PersonEventPublisher(env.kafka, env.cfg, id);
    const events = await new Collector(env.kafka, env.cfg.kafka.topics.personChanged).start();
    try {
      await old.connect();
      const txn = await old.producer.transaction();
      await txn.send({ topic: old.topic, messages: old.encode([runEvent('left-open', run)]) });
      await next.connect();
      await expect(txn.commit()).rejects.toThrow();
      await next.send([runEvent('after-fence', run)]);
      await events.until((m) => m.some((x) => x.key?.toString() === 'after-fence'), 30_000, 'the successor\'s event');
      const keys = (await decodeEvents(env, events.messages)).map((e) => e.personId);
      expect(keys).toEqual(['after-fence']);
    } finally {
      await events.stop();
      await old.disconnect();
      await next.disconnect();
    }
  }, 120_000);
});
