import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KAFKA_PORT } from '../../src/stack/kafka.js';

// Against the local stack's Kafka (`tilgang stack up`); every name here is unique to this run, so
// it can run beside a demo using the same broker.
const run = randomUUID().slice(0, 8);
const topic = `tilgang-test-kafka-${run}`;
const partitions = 12;

// The broker answers back-to-back transactions with CONCURRENT_TRANSACTIONS while it writes the
// previous commit's markers; kafkajs' default 300 ms first retry stalls every transaction.
const kafka = new Kafka({
  clientId: `tilgang-test-${run}`,
  brokers: [`127.0.0.1:${KAFKA_PORT}`],
  retry: { initialRetryTime: 10, retries: 30 },
  // Quiet: kafkajs logs every retried CONCURRENT_TRANSACTIONS as an error; real failures throw.
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();
let producer: Producer | undefined;
const consumers: Consumer[] = [];

beforeAll(async () => {
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
});

afterAll(async () => {
  await producer?.disconnect();
  for (const c of consumers) await c.disconnect();
  await admin.deleteGroups(['committed', 'uncommitted'].map((g) => `tilgang-test-${run}-${g}`)).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

/** Two records on every partition, so a transaction's markers land on all of them. */
const batch = (label: string) => Array.from({ length: partitions * 2 }, (_, i) => ({
  partition: i % partitions, key: `person-${i}`, value: `${label}-${i}`,
}));

describe('local Kafka', () => {
  it('answers describeCluster with one broker that is also the controller', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);
    expect(cluster.controller).toBe(cluster.brokers[0]!.nodeId);
  });

  it('gives a read_committed consumer the committed transactions and none of the aborted one', async () => {
    producer = kafka.producer({ transactionalId: `tilgang-test-${run}`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();

    const first = await producer.transaction();
    await first.send({ topic, messages: batch('committed-1') });
    await first.commit();

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: batch('aborted') });
    await aborted.abort();

    // Committed after the aborted records on every partition: seeing all of these means the
    // consumer has read past the aborted ones everywhere.
    const last = await producer.transaction();
    await last.send({ topic, messages: batch('committed-2') });
    await last.commit();

    const expected = [...batch('committed-1'), ...batch('committed-2')].map((m) => m.value).sort();
    const seen = await readAll('committed', false);
    expect(seen.filter((v) => v.startsWith('aborted'))).toEqual([]);
    expect([...seen].sort()).toEqual(expected);

    // The aborted records did reach the log: a read_uncommitted consumer gets them too.
    const everything = await readAll('uncommitted', true);
    expect(everything.filter((v) => v.startsWith('aborted'))).toHaveLength(partitions * 2);
  });
});

/** Reads the topic from the start until every record of the last transaction has arrived. */
async function readAll(group: string, readUncommitted: boolean): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `tilgang-test-${run}-${group}`, readUncommitted });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: string[] = [];
  await new Promise<void>((resolve, reject) => {
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value!.toString());
        if (seen.filter((v) => v.startsWith('committed-2')).length === partitions * 2) resolve();
      },
    }).catch(reject);
  });
  await consumer.stop();
  return seen;
}
