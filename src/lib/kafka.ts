import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { Config } from '../config.js';
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

/** Creates the topics that are missing; existing ones are left as they are. */
export async function ensureTopics(admin: Admin, topics: { topic: string; partitions: number; compact?: boolean }[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (!missing.length) return;
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((t) => ({
      topic: t.topic,
      numPartitions: t.partitions,
      replicationFactor: 1,
      configEntries: t.compact ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
    })),
  }).catch((e: Error) => {
    if (!/already exists/i.test(e.message)) throw e;
  });
}
