import type { Admin, Kafka, TopicMessages, Transaction } from 'kafkajs';
import { ensureTopics, type TopicSettings } from '../lib/kafka.js';
import { readToEnd } from '../lib/read-to-end.js';

/** What the producer remembers between runs; written in the same transaction as the events it covers. */
export interface ProducerState {
  /** The entryCSN of the last change log entry published or passed over (see AccesslogReader). */
  cookie: string | undefined;
  /** Set when the last run finished a snapshot: a gap found later starts a new one. */
  snapshotRunId?: string;
  updatedAt: number;
}

/**
 * The change-log cookie lives in a one-partition compacted topic, keyed by producer name. Because
 * it is sent inside the events' transaction, a crash leaves either both (events and cookie) or
 * neither, and a restart resumes exactly after the last committed change.
 */
export class CookieStore {
  constructor(private readonly kafka: Kafka, private readonly topic: string, private readonly key: string, private readonly settings: TopicSettings = {}) {}

  async ensure(admin: Admin): Promise<void> {
    await ensureTopics(admin, [{ topic: this.topic, partitions: 1, compact: true }], this.settings);
  }

  /**
   * Reads the last committed state. Call it after the transactional producer has connected:
   * initialising the transactional id aborts a dead predecessor's open transaction, so the
   * partition's end is stable when we read to it.
   */
  async load(): Promise<ProducerState | undefined> {
    let state: ProducerState | undefined;
    await readToEnd(this.kafka, this.topic, (m) => {
      if (m.key?.toString() === this.key && m.value) state = JSON.parse(m.value.toString()) as ProducerState;
    });
    return state;
  }

  async save(txn: Transaction, state: ProducerState): Promise<void> {
    await txn.send(this.message(state));
  }

  /** The state as the message to send in the events' transaction. */
  message(state: ProducerState): TopicMessages {
    return { topic: this.topic, messages: [{ key: this.key, value: JSON.stringify(state) }] };
  }
}
