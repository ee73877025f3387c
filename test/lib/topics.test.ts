import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { kafkaName, loadConfig, parseConfig, type Config } from '../../src/config.js';
import { dlqTopic, dlqTopicSpec, WRITEBACK } from '../../src/consumers/dlq.js';
import { Writeback } from '../../src/consumers/writeback.js';
import { ensureTopics, resultsTopicSpec, topicSettings } from '../../src/lib/kafka.js';
import { cliConfig, tilgangCli } from '../support/cli.js';
import { eventually, testEnv, type TestEnv } from '../support/env.js';

// Topics as a production cluster wants them: replication and min.insync.replicas from the
// configuration, dead letters kept until deleted on purpose, results with their own retention, and
// an environment prefix on every topic and group so two environments can share one cluster.
describe('topics: replication, retention and an environment prefix', () => {
  let env: TestEnv;
  let admin: Admin;
  const made: string[] = [];

  beforeAll(async () => {
    env = await testEnv('topics');
    admin = env.kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.deleteTopics({ topics: made }).catch(() => {});
    await admin?.disconnect();
    await env?.close();
  });

  const settingsOf = async (topic: string): Promise<Record<string, string>> => {
    const r = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'min.insync.replicas', 'cleanup.policy'] }] });
    return Object.fromEntries(r.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
  };

  const withKafka = (k: Omit<Partial<Config['kafka']>, 'retention'> & { retention?: Partial<Config['kafka']['retention']> }): Config => {
    const raw = structuredClone(env.cfg) as any;
    raw.kafka = { ...raw.kafka, ...k, retention: { ...raw.kafka.retention, ...k.retention } };
    return parseConfig(raw, 'test');
  };

  it('dead letters are kept until deleted on purpose, results for kafka.retention.resultsMs, with min.insync.replicas from the configuration', async () => {
    const cfg = withKafka({ minInsyncReplicas: 1, replicationFactor: 1, retention: { resultsMs: 3 * 86_400_000 } });
    expect(cfg.kafka.retention.deadLettersMs).toBe(-1);
    const dlq = `test.${env.id}.dlq`;
    const results = `test.${env.id}.results`;
    made.push(dlq, results);
    await ensureTopics(admin, [dlqTopicSpec(cfg, dlq), resultsTopicSpec(cfg, results)], topicSettings(cfg));
    expect(await settingsOf(dlq)).toMatchObject({ 'retention.ms': '-1', 'min.insync.replicas': '1' });
    expect(await settingsOf(results)).toMatchObject({ 'retention.ms': String(3 * 86_400_000), 'min.insync.replicas': '1' });
    const [meta] = (await admin.fetchTopicMetadata({ topics: [dlq] })).topics;
    expect(meta!.partitions[0]!.replicas).toHaveLength(1);
  });

  it('a replication factor the cluster cannot meet is refused at once, naming it', async () => {
    const cfg = withKafka({ replicationFactor: 3 });
    const topic = `test.${env.id}.rf3`;
    const t0 = Date.now();
    await expect(ensureTopics(admin, [{ topic, partitions: 1 }], topicSettings(cfg))).rejects.toThrow(/INVALID_REPLICATION_FACTOR: Replication-factor is invalid/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('minInsyncReplicas above replicationFactor is a configuration error', () => {
    expect(() => withKafka({ replicationFactor: 2, minInsyncReplicas: 3 })).toThrow(/kafka\.minInsyncReplicas: minInsyncReplicas cannot exceed replicationFactor/);
  });

  it('kafka.prefix goes before every topic and group id the configuration names, and before those tilgang names itself', () => {
    const cfg = parseConfig({ ...structuredClone(loadConfig('tilgang.example.yaml')), kafka: { brokers: ['127.0.0.1:19092'], prefix: 'staging.' } }, 'test');
    expect(cfg.kafka.topics).toEqual({
      personChanged: 'staging.person.changed', provisioningResult: 'staging.provisioning.result',
      courseChanged: 'staging.course.changed', producerState: 'staging.tilgang.producer.state',
    });
    expect(cfg.history.groupId).toBe('staging.tilgang.history');
    expect(kafkaName(cfg, 'tilgang.moodle')).toBe('staging.tilgang.moodle');
    expect(dlqTopic('moodle', cfg.kafka.prefix)).toBe('staging.tilgang.moodle.dlq');
    expect(() => parseConfig({ ...structuredClone(loadConfig('tilgang.example.yaml')), kafka: { brokers: ['127.0.0.1:19092'], prefix: 'a b' } }, 'test')).toThrow(/kafka\.prefix/);
  });

  it('with a prefix, the writeback creates its prefixed dead-letter topic and joins its prefixed group; the command line reads that topic', async () => {
    const prefix = `test.${randomUUID().slice(0, 8)}.`;
    const cfg = withKafka({ prefix });
    cfg.kafka.topics.provisioningResult = env.cfg.kafka.topics.provisioningResult;
    const dlq = `${prefix}tilgang.${WRITEBACK}.dlq`;
    made.push(dlq);
    const wb = new Writeback(cfg, env.kafka, { peopleDn: env.peopleDn });
    await wb.start();
    try {
      expect((await admin.listTopics())).toContain(dlq);
      expect(await settingsOf(dlq)).toMatchObject({ 'retention.ms': '-1' });
      await eventually(async () => (await admin.listGroups()).groups.some((g) => g.groupId === `${prefix}tilgang.writeback`), 30_000, 'the prefixed writeback group');
    } finally {
      await wb.stop();
      await admin.deleteGroups([`${prefix}tilgang.writeback`]).catch(() => {});
    }
    const r = await tilgangCli(cliConfig(env.cfg, (c) => { c.targets = {}; (c.kafka as any).prefix = prefix; }), ['dlq', 'list', WRITEBACK]);
    expect(r.stdout).toBe(`${dlq}: empty\n`);
    expect(r.code).toBe(0);
  });
});
