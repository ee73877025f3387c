import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { ensureTopics } from '../../src/lib/kafka.js';
import { Collector, decodeResults, testEnv, type TestEnv } from '../support/env.js';
import { publishThings, thingStream, thingTarget, type ThingChanged } from '../support/thing-stream.js';

/**
 * The runtime is generic over streams: a target that consumes another stream than the person
 * stream (its own topic, schema, key and loader) runs in an unchanged target group, with a result
 * per event keyed by its subject and its subjects loaded a wave at a time.
 */
describe('a second stream plugged into the runtime', () => {
  let env: TestEnv;
  let group: TargetGroup;
  let results: Collector;
  let topic: string;
  const catalogue = new Map<string, { name: string }>();
  const accounts = new Map<string, string>();
  const waves: string[][] = [];

  beforeAll(async () => {
    env = await testEnv('stream');
    topic = `test.${env.id}.thing.changed`;
    const admin = env.kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic, partitions: 1 }]);
    await admin.disconnect();
    group = new TargetGroup(env.cfg, env.kafka, thingTarget(accounts), {
      groupId: `tilgang.thingtest.${env.id}`, streams: [thingStream(topic, catalogue, waves)], topics: { dlq: `test.${env.id}.thingtest.dlq` },
    });
    await group.start();
    results = await new Collector(env.kafka, env.cfg.kafka.topics.provisioningResult).start();
  }, 120_000);

  afterAll(async () => {
    await results?.stop();
    await group?.stop();
    await env?.close();
  });

  const event = (thingId: string, runId: string | null = null): ThingChanged => ({ eventId: randomUUID(), thingId, runId, logOnly: false, targets: null });
  const decoded = () => decodeResults(env, results.messages);

  it('consumes the stream\'s topic, loads its subjects a wave at a time and publishes a result per event keyed by the subject', async () => {
    expect(group.stream.name).toBe('thing');
    catalogue.set('t1', { name: 'Alpha' }).set('t2', { name: 'Beta' }).set('t3', { name: 'Gamma' });
    await publishThings(env.kafka, env.cfg.registry.url, topic, ['t1', 't2', 't3', 'unknown'].map((id) => event(id)));
    await results.until((m) => m.length >= 4, 60_000, 'four results');
    // Results are keyed by subject, over the result topic's partitions: their order is per subject only.
    const rs = (await decoded()).sort((a, b) => a.personId.localeCompare(b.personId));
    expect(rs.map((r) => [r.personId, r.target, r.outcome, r.skipReason])).toEqual([
      ['t1', 'thingtest', 'APPLIED', null], ['t2', 'thingtest', 'APPLIED', null], ['t3', 'thingtest', 'APPLIED', null],
      ['unknown', 'thingtest', 'SKIPPED', 'thing not in the catalogue'],
    ]);
    expect(rs[0]!.operations).toEqual([expect.objectContaining({ kind: 'create', detail: 'thing named Alpha', outcome: 'APPLIED' })]);
    expect(Object.fromEntries(accounts)).toEqual({ t1: 'Alpha', t2: 'Beta', t3: 'Gamma' });
    // Four different things in one partition's batch: one wave, loaded with one call.
    expect(waves).toContainEqual(['t1', 't2', 't3', 'unknown']);
  });

  it('keeps a subject\'s events in order: its second event is a later wave and sees the change', async () => {
    waves.length = 0;
    catalogue.set('t2', { name: 'Beta II' });
    // Two runs, so neither event stands in for the other: each is reconciled.
    await publishThings(env.kafka, env.cfg.registry.url, topic, [event('t2', 'run-1'), event('t2', 'run-2')]);
    await results.until((m) => m.length >= 6, 60_000, 'six results');
    const rs = (await decoded()).filter((r) => r.personId === 't2').slice(1);
    expect(rs.map((r) => [r.personId, r.outcome, r.operations?.map((o) => o.kind)])).toEqual([['t2', 'APPLIED', ['update']], ['t2', 'UNCHANGED', []]]);
    expect(rs[0]!.operations![0]!.changes).toEqual([{ attribute: 'name', from: 'Beta', to: 'Beta II' }]);
    expect(accounts.get('t2')).toBe('Beta II');
    expect(waves.flat().filter((id) => id === 't2')).toHaveLength(2);
  });
});
