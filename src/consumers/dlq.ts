import type { Kafka } from 'kafkajs';
import type { Config } from '../config.js';
import type { TopicSpec } from '../lib/kafka.js';
import { readToEnd } from '../lib/read-to-end.js';
import { courseEvent, CourseEventPublisher } from '../producers/course-publisher.js';
import { newRunId, reprocessForTarget } from '../producers/publisher.js';
import { COURSE_STREAM, PERSON_STREAM } from '../spi/index.js';
import type { ProvisioningResult } from '../schemas/generated.js';

/** The dead-letter topic of a target or of the writeback, after the environment's kafka.prefix. */
export const dlqTopic = (owner: string, prefix = '') => `${prefix}tilgang.${owner}.dlq`;
export const redriveGroup = (owner: string, prefix = '') => `${prefix}tilgang.${owner}.dlq-redrive`;

/** A dead-letter topic as it is created: one partition, kept for kafka.retention.deadLettersMs (default: until deleted on purpose). */
export function dlqTopicSpec(cfg: Pick<Config, 'kafka'>, topic: string): TopicSpec {
  return { topic, partitions: 1, retentionMs: cfg.kafka.retention.deadLettersMs };
}

/** The writeback's dead letters are listed and redriven like a target's: `tilgang dlq list writeback`. */
export const WRITEBACK = 'writeback';

/** A dead letter: the event as it came (bytes, for forensics), why it failed, and where from. JSON, for people to read. */
export interface DeadLetter {
  /** Whose dead letter it is: a target, or the writeback. */
  target: string;
  /** The person the event is about; empty when the event could not be decoded (its key is not trusted to name anyone). */
  personId: string;
  sourceEventId: string;
  runId: string | null;
  error: ProvisioningResult['error'];
  attempts: number;
  failedAt: string;
  source: { topic: string; partition: number; offset: string };
  /** The original message value, base64 (Avro, Confluent wire format). */
  event: string | null;
  /** The message key as it came, when it is not known to name the person (undecodable events). */
  key?: string | null;
  /** Writeback letters: the target whose result could not be recorded (redrive sends the person back to it). */
  resultTarget?: string;
}

export function deadLetterMessage(letter: DeadLetter) {
  return { key: letter.personId || letter.key || null, value: JSON.stringify(letter), headers: { 'tilgang-event': 'DeadLetter' } };
}

export function dlqMessage(r: ProvisioningResult, src: { topic: string; partition: number; offset: string; key: Buffer | null; value: Buffer | null; attempts: number }) {
  return deadLetterMessage({
    target: r.target, personId: r.personId, sourceEventId: r.sourceEventId, runId: r.runId ?? null, error: r.error ?? null,
    attempts: src.attempts, failedAt: new Date(r.processedAt).toISOString(),
    source: { topic: src.topic, partition: src.partition, offset: src.offset }, event: src.value ? src.value.toString('base64') : null,
  });
}

/** Reads the dead letters not yet redriven (those after the redrive group's committed offset). */
export async function readDeadLetters(kafka: Kafka, target: string, topicName?: string, prefix = ''): Promise<{ letters: (DeadLetter & { offset: string })[]; end: number }> {
  const topic = topicName ?? dlqTopic(target, prefix);
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return { letters: [], end: 0 };
    const [p] = await admin.fetchTopicOffsets(topic);
    const end = Number(p?.high ?? 0);
    const committed = await admin.fetchOffsets({ groupId: redriveGroup(target, prefix), topics: [topic] });
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
 * letters are marked done by moving the redrive group's offset past them. The writeback's letters
 * send each person back to the target whose result was not recorded: its new result is written
 * back. Letters naming no person (bytes that were not an event) or no target have nothing to redo.
 */
export async function redrive(cfg: Config, kafka: Kafka, target: string, opts: { personChangedTopic?: string; dlq?: string; stream?: string } = {}): Promise<{ runId: string; people: number; unaddressed: number }> {
  const topic = opts.dlq ?? dlqTopic(target, cfg.kafka.prefix);
  const { letters, end } = await readDeadLetters(kafka, target, topic, cfg.kafka.prefix);
  const runId = newRunId();
  const { byTarget, unaddressed } = redriveTargets(target, letters);
  let people = 0;
  for (const [to, ids] of byTarget) {
    // A target of the course stream gets its courses back on course.changed; every other, its people on person.changed.
    if ((opts.stream ?? PERSON_STREAM) === COURSE_STREAM && to === target) await redriveCourses(kafka, cfg, ids, to, runId);
    else await reprocessForTarget(kafka, cfg, ids, to, { runId, source: 'dlq-redrive', topic: opts.personChangedTopic });
    people += ids.length;
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.setOffsets({ groupId: redriveGroup(target, cfg.kafka.prefix), topic, partitions: [{ partition: 0, offset: String(end) }] });
  } finally {
    await admin.disconnect().catch(() => {});
  }
  return { runId, people, unaddressed };
}

/**
 * Who goes back to which target: a target's letters to that target; the writeback's to the target
 * whose result was not recorded. Letters naming no person or no target are counted, not sent.
 */
export function redriveTargets(owner: string, letters: Pick<DeadLetter, 'personId' | 'resultTarget'>[]): { byTarget: Map<string, string[]>; unaddressed: number } {
  const sets = new Map<string, Set<string>>();
  let unaddressed = 0;
  for (const l of letters) {
    const to = owner === WRITEBACK ? l.resultTarget : owner;
    if (!l.personId || !to) { unaddressed++; continue; }
    sets.set(to, (sets.get(to) ?? new Set()).add(l.personId));
  }
  return { byTarget: new Map([...sets].map(([t, ids]) => [t, [...ids]])), unaddressed };
}

/** REPROCESS course events for these topics (source ids), addressed to one target only. */
async function redriveCourses(kafka: Kafka, cfg: Config, sourceIds: string[], target: string, runId: string): Promise<void> {
  const pub = new CourseEventPublisher(kafka, cfg, `tilgang.dlq-redrive.${runId}`);
  await pub.connect();
  try {
    const run = { runId, mode: 'REPROCESS' as const, logOnly: false, skipUsers: false, targets: [target], source: 'dlq-redrive' };
    for (let i = 0; i < sourceIds.length; i += 500) await pub.send(sourceIds.slice(i, i + 500).map((id) => courseEvent(id, 'REPROCESS', run)));
  } finally {
    await pub.disconnect();
  }
}
