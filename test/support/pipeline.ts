import { TargetGroup, type TargetGroupOptions } from '../../src/consumers/target-group.js';
import type { AnyTarget } from '../../src/spi/index.js';
import { Writeback } from '../../src/consumers/writeback.js';
import { ChangelogProducer } from '../../src/producers/changelog-producer.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';
import { newRunId, PersonEventPublisher, runEvent } from '../../src/producers/publisher.js';
import { randomUUID } from 'node:crypto';
import { ResilientConsumer, type Kafka } from '../../src/lib/kafka.js';
import { Collector, decodeResults, eventually, type TestEnv } from './env.js';

/**
 * Reads a topic in the background (read_committed) for as long as the pipeline runs, and keeps
 * reading across a broker restart: a consumer that crashes for good (kafkajs's "Failed to find
 * group coordinator" while the broker is away) is replaced, and what the replacement reads again
 * is not counted twice.
 */
export class TopicReader extends Collector {
  private readonly seen = new Set<string>();
  private readonly reader: ResilientConsumer;
  constructor(kafka: Kafka, topic: string) {
    super(kafka, topic);
    this.reader = new ResilientConsumer(kafka, { groupId: `test-reader-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 50 }, async (c) => {
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        eachMessage: async ({ partition, message }) => {
          const at = `${partition}:${message.offset}`;
          if (this.seen.has(at)) return;
          this.seen.add(at);
          this.messages.push(message);
        },
      });
    }, `reader ${topic}`);
  }
  override async start(): Promise<this> {
    await this.reader.start();
    return this;
  }
  override async stop(): Promise<void> {
    await this.reader.stop();
  }
}

/** The whole path for one target in a test's own corner: producer → target group → results → writeback. */
export interface Pipeline {
  producer: ChangelogProducer;
  group: TargetGroup;
  writeback: Writeback;
  results: Collector;
  events: Collector;
  decoded(): Promise<ProvisioningResult[]>;
  resultsFor(personId: string): Promise<ProvisioningResult[]>;
  /** Waits for at least n results of a person and returns them all. */
  waitResults(personId: string, n: number, what?: string): Promise<ProvisioningResult[]>;
  stop(): Promise<void>;
}

export async function startPipeline(env: TestEnv, target: AnyTarget, group: TargetGroupOptions = {}): Promise<Pipeline> {
  const producer = new ChangelogProducer(env.cfg, env.kafka, { name: env.id, pollMs: 50 });
  await producer.start();
  // Following the change log (its first snapshot taken) before the test adds anyone: a person
  // added during the snapshot would get a SNAPSHOT event and an ADD.
  await eventually(async () => producer.stats.healthy, 60_000, 'producer following the change log');
  const g = new TargetGroup(env.cfg, env.kafka, target, { groupId: `tilgang.${target.name}.${env.id}`, chunkSize: 50, topics: { dlq: `test.${env.id}.${target.name}.dlq` }, ...group });
  await g.start();
  const writeback = new Writeback(env.cfg, env.kafka, { groupId: `tilgang.writeback.${env.id}`, dlq: `test.${env.id}.writeback.dlq` });
  await writeback.start();
  const results = await new TopicReader(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
  const events = await new TopicReader(env.kafka, env.cfg.kafka.topics.personChanged).start();
  const decoded = () => decodeResults(env, results.messages);
  const resultsFor = async (id: string) => (await decoded()).filter((r) => r.personId === id);
  return {
    producer, group: g, writeback, results, events, decoded, resultsFor,
    waitResults: (id, n, what = 'results') => eventually(async () => (await resultsFor(id)).length >= n && resultsFor(id), 30_000, `${n} ${what} for ${id}`),
    async stop() {
      await results.stop();
      await events.stop();
      await g.stop();
      await writeback.stop();
      await producer.stop();
    },
  };
}

/** Publishes a REPROCESS run of these people, as `tilgang sync` would, and returns its run id. */
export async function publishReprocess(env: TestEnv, ids: string[]): Promise<string> {
  const runId = newRunId();
  const pub = new PersonEventPublisher(env.kafka, env.cfg, `test.${env.id}`);
  await pub.connect();
  await pub.send(ids.map((id) => runEvent(id, { runId, mode: 'REPROCESS', logOnly: false, targets: null, source: 'test' })));
  await pub.disconnect();
  return runId;
}
