import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { COORDINATOR_LOOKUP_TTL_MS } from '../../src/lib/kafka-coordinators.js';
import { testEnv, type TestEnv } from '../support/env.js';

// A consume-process-produce transaction in kafkajs asks for its coordinators before each of its
// steps; tilgang's clients keep them for a second (src/lib/kafka-coordinators.ts).
describe('kafkajs clients keep their coordinators for a second', () => {
  let env: TestEnv;
  let admin: Admin;
  const topic = () => `test.${env.id}.coordinators`;
  const group = () => `test.${env.id}.coordinators.group`;

  beforeAll(async () => {
    env = await testEnv('coordinators');
    admin = env.kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: topic(), numPartitions: 1 }] });
  });
  afterAll(async () => {
    await admin?.disconnect();
    await env?.close();
  });

  it('ten transactions with offsets in quick succession look their coordinators up a few times, not four times each, and all commit', async () => {
    const producer = env.kafka.producer({ transactionalId: `test.${env.id}.coordinators.txn`, idempotent: true, maxInFlightRequests: 1 });
    const requests: string[] = [];
    producer.on(producer.events.REQUEST, (e) => requests.push(e.payload.apiName));
    await producer.connect();
    try {
      const began = Date.now();
      for (let i = 0; i < 10; i++) {
        const txn = await producer.transaction();
        await txn.send({ topic: topic(), messages: [{ key: String(i), value: String(i) }] });
        await txn.sendOffsets({ consumerGroupId: group(), topics: [{ topic: topic(), partitions: [{ partition: 0, offset: String(i + 1) }] }] });
        await txn.commit();
      }
      const took = Date.now() - began;
      const lookups = requests.filter((r) => r === 'GroupCoordinator').length;
      expect(requests.filter((r) => r === 'EndTxn')).toHaveLength(10);
      // One per coordinator (the transaction's, the group's) and TTL window; kafkajs alone made 41.
      expect(lookups).toBeLessThanOrEqual(2 * (Math.ceil(took / COORDINATOR_LOOKUP_TTL_MS) + 1));
      expect(lookups).toBeLessThan(20);
      const offsets = await admin.fetchOffsets({ groupId: group(), topics: [topic()] });
      expect(offsets[0]!.partitions[0]!.offset).toBe('10');
    } finally {
      await producer.disconnect();
    }
  });
});
