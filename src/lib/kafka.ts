import { Kafka, logLevel, type Admin, type Consumer, type ConsumerConfig } from 'kafkajs';
import type { Config } from '../config.js';
import { Backoff, sleep } from './backoff.js';
import { log } from './log.js';

/**
 * One Kafka client per process. The short initial retry matters: back-to-back transactions get
 * CONCURRENT_TRANSACTIONS while the previous commit's markers are written, and kafkajs's default
 * 300 ms first retry would stall every transaction by a third of a second.
 */
export function makeKafka(cfg: Config, clientId = cfg.kafka.clientId): Kafka {
  return new Kafka({
    clientId,
    brokers: cfg.kafka.brokers,
    retry: { initialRetryTime: 10, retries: 30 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log: entry }) => {
      const { message, ...rest } = entry;
      // kafkajs reports CONCURRENT_TRANSACTIONS retries as errors; they are expected and retried.
      if (/CONCURRENT_TRANSACTIONS|concurrent operation on the same transaction|The coordinator is loading/.test(String(rest.error ?? '') + message)) return;
      // Transactions, not unlimited retries, give us exactly-once: an aborted send is re-planned.
      if (/Limiting retries for the idempotent producer|switched default partitioner/.test(message)) return;
      const l = level === logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : 'debug';
      log[l]({ kafka: namespace, ...rest }, message);
    },
  });
}

/**
 * Creates the topics that are missing; existing ones are left as they are. Several workers may
 * create the same topic at once: whoever loses that race waits until the topic is there.
 */
export async function ensureTopics(admin: Admin, topics: { topic: string; partitions: number; compact?: boolean }[]): Promise<void> {
  const backoff = new Backoff({ baseMs: 200, capMs: 2_000, jitter: 'full' });
  for (let attempt = 0; ; attempt++) {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (!missing.length) return;
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          configEntries: t.compact ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
        })),
      });
      return;
    } catch (e) {
      // "already exists", or the leader wait of a topic another worker was creating: look again.
      if (attempt >= 10) throw e;
      await sleep(backoff.next());
    }
  }
}

/**
 * Keeps a consumer group member alive. kafkajs restarts a consumer after retriable errors only;
 * after a broker restart it can crash with a non-retriable one ("Failed to find group
 * coordinator") and stay down. This starts a fresh consumer then, with backoff, until stopped.
 */
export class ResilientConsumer {
  consumer: Consumer | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** Waits between restarts, growing for the member's life; decorrelated, so members do not rejoin in lockstep. */
  private readonly backoff = new Backoff({ baseMs: 500, capMs: 30_000, jitter: 'decorrelated' });

  constructor(private readonly kafka: Kafka, private readonly config: ConsumerConfig, private readonly begin: (c: Consumer) => Promise<void>, private readonly name: string) {}

  async start(attempt = 0): Promise<void> {
    const c = this.kafka.consumer(this.config);
    this.consumer = c;
    c.on(c.events.CRASH, (e) => {
      if (e.payload.restart || this.stopped) return;
      const wait = this.backoff.next();
      log.warn({ group: this.config.groupId, consumer: this.name, err: e.payload.error.message, retryInMs: wait }, 'consumer crashed; starting a new one');
      this.timer = setTimeout(() => { this.start(attempt + 1).catch(() => {}); }, wait);
    });
    try {
      await c.connect();
      await this.begin(c);
    } catch (e) {
      if (this.stopped) return;
      await c.disconnect().catch(() => {});
      if (attempt === 0) throw e; // the first start reports its failure to the caller
      const wait = this.backoff.next();
      this.timer = setTimeout(() => { this.start(attempt + 1).catch(() => {}); }, wait);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.consumer?.stop().catch(() => {});
    await this.consumer?.disconnect().catch(() => {});
  }
}
