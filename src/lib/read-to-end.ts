import { randomUUID } from 'node:crypto';
import { ResilientConsumer, type Kafka, type KafkaMessage } from './kafka.js';

/**
 * Reads a topic from its start to the end it has now (committed messages only), then returns.
 * Commit/abort markers are not messages, so "the end" is recognised from the batch events,
 * which report offsets including those markers.
 */
export async function readToEnd(kafka: Kafka, topic: string, onMessage: (m: KafkaMessage, partition: number) => void, timeoutMs = 120_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, number>;
  try {
    if (!(await admin.listTopics()).includes(topic)) return;
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect().catch(() => {});
  }
  if (!ends.size) return;
  const groupId = `tilgang.reader.${randomUUID()}`;
  // A plain kafkajs consumer that crashes for good while the broker restarts ("Failed to find
  // group coordinator") would leave this waiting until the timeout: a replacement takes over, and
  // what it reads again is not handed on twice.
  const seen = new Set<string>();
  let consumer: ResilientConsumer | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} to its end timed out`)), timeoutMs);
      const reached = (partition: number, offset: number) => {
        const end = ends.get(partition);
        if (end !== undefined && offset >= end - 1) ends.delete(partition);
        if (!ends.size) { clearTimeout(timer); resolve(); }
      };
      consumer = new ResilientConsumer(kafka, { groupId, readUncommitted: false, maxWaitTimeInMs: 100, maxBytes: 50 * 1024 * 1024 }, async (c) => {
        c.on(c.events.END_BATCH_PROCESS, (e) => reached(e.payload.partition, Number(e.payload.lastOffset)));
        await c.subscribe({ topic, fromBeginning: true });
        await c.run({
          autoCommit: false,
          eachBatchAutoResolve: true,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              const at = `${batch.partition}:${m.offset}`;
              if (seen.has(at)) continue;
              seen.add(at);
              const end = ends.get(batch.partition);
              if (end === undefined || Number(m.offset) < end) onMessage(m, batch.partition);
            }
          },
        });
      }, `reader ${topic}`);
      consumer.start().catch((e) => { clearTimeout(timer); reject(e); });
    });
  } finally {
    await consumer?.stop();
    const a = kafka.admin();
    await a.connect().then(() => a.deleteGroups([groupId])).catch(() => {}).finally(() => a.disconnect().catch(() => {}));
  }
}
