import type { Kafka } from 'kafkajs';
import type { Config } from '../config.js';
import { readToEnd } from '../lib/read-to-end.js';
import { newRunId, reprocessForTarget } from '../producers/publisher.js';
import type { ProvisioningResult } from '../schemas/generated.js';

export const dlqTopic = (target: string) => `tilgang.${target}.dlq`;
const redriveGroup = (target: string) => `tilgang.${target}.dlq-redrive`;

/** A dead letter: the event as it came (bytes, for forensics), why it failed, and where from. JSON, for people to read. */
export interface DeadLetter {
  target: string;
  personId: string;
  sourceEventId: string;
  runId: string | null;
  error: ProvisioningResult['error'];
  attempts: number;
  failedAt: string;
  source: { topic: string; partition: number; offset: string };
  /** The original message value, base64 (Avro, Confluent wire format). */
  event: string | null;
}

export function dlqMessage(r: ProvisioningResult, src: { topic: string; partition: number; offset: string; key: Buffer | null; value: Buffer | null; attempts: number }) {
  const letter: DeadLetter = {
    target: r.target, personId: r.personId, sourceEventId: r.sourceEventId, runId: r.runId ?? null, error: r.error ?? null,
    attempts: src.attempts, failedAt: new Date(r.processedAt).toISOString(),
    source: { topic: src.topic, partition: src.partition, offset: src.offset }, event: src.value ? src.value.toString('base64') : null,
  };
  return { key: r.personId, value: JSON.stringify(letter), headers: { 'tilgang-event': 'DeadLetter' } };
}

/** Reads the dead letters not yet redriven (those after the redrive group's committed offset). */
export async function readDeadLetters(kafka: Kafka, target: string, topic = dlqTopic(target)): Promise<{ letters: (DeadLetter & { offset: string })[]; end: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return { letters: [], end: 0 };
    const [p] = await admin.fetchTopicOffsets(topic);
    const end = Number(p?.high ?? 0);
    const committed = await admin.fetchOffsets({ groupId: redriveGroup(target), topics: [topic] });
    const from = Math.max(0, Number(committed[0]?.partitions[0]?.offset ?? -1), Number(p?.low ?? 0));
    if (from >= end) return { letters: [], end };
    const letters: (DeadLetter & { offset: string })[] = [];
    await readToEnd(kafka, topic, (m) => {
      if (Number(m.offset) >= from && m.value) letters.push({ ...(JSON.parse(m.value.toString()) as DeadLetter), offset: m.offset });
    });
    return { letters, end };
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Redrive: the target looks at each dead-lettered person again (a REPROCESS event addressed to
 * that target only; level-triggered, so the current truth is used, not the stale event), and the
 * letters are marked done by moving the redrive group's offset past them.
 */
export async function redrive(cfg: Config, kafka: Kafka, target: string, opts: { personChangedTopic?: string; dlq?: string } = {}): Promise<{ runId: string; people: number }> {
  const topic = opts.dlq ?? dlqTopic(target);
  const { letters, end } = await readDeadLetters(kafka, target, topic);
  const runId = newRunId();
  const people = [...new Set(letters.map((l) => l.personId))];
  await reprocessForTarget(kafka, cfg, people, target, { runId, source: 'dlq-redrive', topic: opts.personChangedTopic });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.setOffsets({ groupId: redriveGroup(target), topic, partitions: [{ partition: 0, offset: String(end) }] });
  } finally {
    await admin.disconnect().catch(() => {});
  }
  return { runId, people: people.length };
}
