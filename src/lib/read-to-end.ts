import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

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
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100, maxBytes: 50 * 1024 * 1024 });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} to its end timed out`)), timeoutMs);
      const reached = (partition: number, offset: number) => {
        const end = ends.get(partition);
        if (end !== undefined && offset >= end - 1) ends.delete(partition);
        if (!ends.size) { clearTimeout(timer); resolve(); }
      };
      consumer.on(consumer.events.END_BATCH_PROCESS, (e) => reached(e.payload.partition, Number(e.payload.lastOffset)));
      consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const end = ends.get(batch.partition);
            if (end === undefined || Number(m.offset) < end) onMessage(m, batch.partition);
          }
        },
      }).catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => {});
    const a = kafka.admin();
    await a.connect().then(() => a.deleteGroups([groupId])).catch(() => {}).finally(() => a.disconnect().catch(() => {}));
  }
}
