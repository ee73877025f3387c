import { randomUUID } from 'node:crypto';
import type { Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import type { Config } from '../config.js';
import { EventCodec } from '../schemas/codec.js';
import type { CourseChanged, CourseChangeType, RunMode } from '../schemas/generated.js';

export interface CourseRun { runId: string | null; mode: RunMode; logOnly: boolean; skipUsers: boolean; targets: string[] | null; source: string }

export function courseEvent(sourceId: string, changeType: CourseChangeType, run: CourseRun, now = Date.now()): CourseChanged {
  return {
    eventId: randomUUID(), sourceId, changeType, changeTime: now, runId: run.runId, mode: run.mode, logOnly: run.logOnly,
    skipUsers: run.skipUsers, targets: run.targets, source: run.source,
  };
}

/**
 * Publishes CourseChanged events in Kafka transactions, keyed by the topic's source id; `also`
 * (the producer's state) rides in the same transaction.
 */
export class CourseEventPublisher {
  readonly producer: Producer;
  readonly codec: EventCodec;
  private initialised = false;

  constructor(kafka: Kafka, cfg: Config, transactionalId: string, readonly topic = cfg.kafka.topics.courseChanged) {
    this.producer = kafka.producer({ transactionalId: `${cfg.kafka.prefix}${transactionalId}`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 });
    this.codec = new EventCodec(cfg.registry);
  }

  /**
   * Connects and initialises the transactional id with an empty transaction (kafkajs does it only
   * at the first transaction): a predecessor's open transaction is aborted or finished before
   * anything, the producer's state included, is read back.
   */
  async connect(): Promise<void> {
    if (this.initialised) return;
    await this.producer.connect();
    const t = await this.producer.transaction();
    await t.abort();
    await this.codec.prepare('CourseChanged', this.topic);
    this.initialised = true;
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect().catch(() => {});
  }

  encode(events: CourseChanged[]): Message[] {
    return events.map((e) => ({
      key: e.sourceId, value: this.codec.encodeNow('CourseChanged', this.topic, e),
      headers: { 'tilgang-event': 'CourseChanged', 'tilgang-change': e.changeType },
    }));
  }

  /** One transaction: the events and `also`, all visible to read_committed consumers or none. */
  async send(events: CourseChanged[], also: TopicMessages[] = [], before?: () => Promise<void>): Promise<void> {
    const txn = await this.producer.transaction();
    try {
      const topicMessages = [...(events.length ? [{ topic: this.topic, messages: this.encode(events) }] : []), ...also.filter((t) => t.messages.length)];
      if (topicMessages.length) await txn.sendBatch({ topicMessages });
      await before?.();
      await txn.commit();
    } catch (e) {
      await txn.abort().catch(() => {});
      throw e;
    }
  }
}
