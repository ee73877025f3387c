import { randomUUID } from 'node:crypto';
import type { Kafka, Message, Producer, TopicMessages, Transaction } from 'kafkajs';
import type { Config } from '../config.js';
import { EventCodec } from '../schemas/codec.js';
import type { PersonChanged, RunMode } from '../schemas/generated.js';
import type { Change } from './changelog.js';
import { RunLedger } from '../history/runs.js';

export function changeEvent(c: Change): PersonChanged {
  return {
    eventId: `accesslog:${c.position}:${c.personId}`,
    personId: c.personId,
    changeType: c.type,
    changedAttributes: c.changedAttributes,
    oldDn: c.oldDn,
    newDn: c.newDn,
    changeTime: c.time,
    changelogPosition: c.position,
    runId: null,
    mode: 'LIVE',
    logOnly: false,
    targets: null,
    source: 'accesslog',
  };
}

export interface RunInfo { runId: string; mode: Exclude<RunMode, 'LIVE'>; logOnly: boolean; targets: string[] | null; source: string }

export function runEvent(personId: string, run: RunInfo, now = Date.now()): PersonChanged {
  return {
    eventId: randomUUID(),
    personId,
    changeType: run.mode,
    changedAttributes: [],
    oldDn: null,
    newDn: null,
    changeTime: now,
    changelogPosition: null,
    runId: run.runId,
    mode: run.mode,
    logOnly: run.logOnly,
    targets: run.targets,
    source: run.source,
  };
}

export function newRunId(now = new Date()): string {
  return `run-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomUUID().slice(0, 8)}`;
}

/**
 * Publishes PersonChanged events in Kafka transactions: read_committed consumers see all of a
 * transaction or none of it, and `extra` (the cookie) rides in the same transaction.
 */
export class PersonEventPublisher {
  readonly producer: Producer;
  readonly codec: EventCodec;
  readonly topic: string;

  constructor(kafka: Kafka, cfg: Config, transactionalId: string, topic = cfg.kafka.topics.personChanged) {
    // The environment's kafka.prefix, as on every id tilgang gives Kafka.
    this.producer = kafka.producer({ transactionalId: `${cfg.kafka.prefix}${transactionalId}`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 });
    this.codec = new EventCodec(cfg.registry);
    this.topic = topic;
  }

  private initialised = false;

  /**
   * Connects and initialises the transactional id. kafkajs sends InitProducerId only with the
   * first transaction, not on connect; an empty transaction sends it now, which aborts a
   * predecessor's open transaction or waits until its commit is complete. Until then the
   * predecessor's last events and cookie may be committed but not yet readable.
   */
  async connect(): Promise<void> {
    if (this.initialised) return;
    await this.producer.connect();
    const t = await this.producer.transaction();
    await t.abort();
    await this.codec.prepare('PersonChanged', this.topic);
    this.initialised = true;
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect().catch(() => {});
  }

  /** The events as Kafka messages: keyed by person, Avro in the registry's wire format. */
  encode(events: PersonChanged[]): Message[] {
    return events.map((e) => ({
      key: e.personId,
      value: this.codec.encodeNow('PersonChanged', this.topic, e),
      headers: { 'tilgang-event': 'PersonChanged', 'tilgang-change': e.changeType },
    }));
  }

  async send(events: PersonChanged[], extra?: (txn: Transaction) => Promise<void>): Promise<void> {
    await this.commit(this.encode(events), extra);
  }

  /**
   * One transaction: the messages, `also` (the cookie) in the same request, and whatever `extra`
   * sends, all visible to read_committed consumers or none.
   */
  async commit(messages: Message[], extra?: (txn: Transaction) => Promise<void>, also: TopicMessages[] = []): Promise<void> {
    const txn = await this.producer.transaction();
    try {
      const topicMessages = [...(messages.length ? [{ topic: this.topic, messages }] : []), ...also];
      if (topicMessages.length) await txn.sendBatch({ topicMessages });
      if (extra) await extra(txn);
      await txn.commit();
    } catch (e) {
      await txn.abort().catch(() => {});
      throw e;
    }
  }
}

/**
 * REPROCESS events addressed to one target only (a redrive, a guard release), in transactions
 * of 1,000: the target looks at each person again, level-triggered, and no other target does.
 */
export async function reprocessForTarget(kafka: Kafka, cfg: Config, ids: string[], target: string,
  run: { runId: string; source: string; topic?: string; logOnly?: boolean; onProgress?: (published: number) => void }): Promise<void> {
  if (!ids.length) return;
  const pub = new PersonEventPublisher(kafka, cfg, `tilgang.${run.source}.${run.runId}`, run.topic ?? cfg.kafka.topics.personChanged);
  // The run's report knows how many results to wait for (see RunLedger).
  const ledger = new RunLedger(cfg);
  const info: RunInfo = { runId: run.runId, mode: 'REPROCESS', logOnly: !!run.logOnly, targets: [target], source: run.source };
  await pub.connect();
  try {
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      await pub.send(chunk.map((id) => runEvent(id, info)));
      await ledger.add(info, chunk.length, [target], false);
      run.onProgress?.(i + chunk.length);
    }
    await ledger.add(info, 0, [target], true);
  } finally {
    await pub.disconnect();
    await ledger.close();
  }
}
