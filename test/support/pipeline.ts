import { TargetGroup, type TargetGroupOptions } from '../../src/consumers/target-group.js';
import type { AnyTarget } from '../../src/spi/index.js';
import { Writeback } from '../../src/consumers/writeback.js';
import { ChangelogProducer } from '../../src/producers/changelog-producer.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';
import { Collector, decodeResults, eventually, type TestEnv } from './env.js';

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
  const results = await new Collector(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
  const events = await new Collector(env.kafka, env.cfg.kafka.topics.personChanged).start();
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
