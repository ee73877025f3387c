/**
 * Hostile messages on person.changed: no value, a schema id the registry does not know, the wrong
 * magic byte, an Avro body cut short, an event of another schema (a provisioning.result written
 * where a person.changed belongs), a newer PersonChanged schema version. Each is a FAILED result
 * and a dead letter holding the bytes, counted; the partition goes on and the next person is applied.
 *
 * Covered elsewhere: bytes that are not Avro at all (test/runtime/runtime.test.ts, "dead-letters an
 * event that cannot be decoded"), the same while the registry is away (test/runtime/registry-outage.test.ts),
 * an undecodable result at the writeback (test/runtime/writeback.test.ts).
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDeadLetters } from '../../src/consumers/dlq.js';
import { countResults } from '../../src/consumers/report.js';
import { schemaText } from '../../src/schemas/codec.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';
import { eventually, testEnv, type TestEnv } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

describe('hostile person.changed messages', () => {
  let env: TestEnv;
  let pipe: Pipeline;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  const dlq = () => `test.${env.id}.pgtest.dlq`;

  beforeAll(async () => {
    env = await testEnv('hostile-ev', (cfg) => {
      cfg.runtime.maxRetries = 1;
      cfg.runtime.retryBaseMs = 20;
    });
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    pipe = await startPipeline(env, pgTarget, { topics: { dlq: dlq() } });
  }, 180_000);

  afterAll(async () => {
    await pipe?.stop();
    await accounts?.drop();
    await env?.close();
  });

  async function send(key: string, value: Buffer | null): Promise<void> {
    const p = env.kafka.producer();
    await p.connect();
    // One partition for the bad message and the good person after it: the partition must go on.
    await p.send({ topic: env.cfg.kafka.topics.personChanged, messages: [{ key, value, partition: 0 }] });
    await p.disconnect();
  }
  const wire = (id: number, body: Buffer) => Buffer.concat([Buffer.from([0, (id >>> 24) & 255, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]), body]);

  it('dead-letters each kind of bad message with its bytes and a clear error, counts it, and goes on', async () => {
    const registry = new SchemaRegistry({ host: env.cfg.registry.url });
    const tag = env.id.slice(-8);
    // A real PersonChanged, to cut short and to re-label.
    const good = await env.codec.encode('PersonChanged', env.cfg.kafka.topics.personChanged,
      { eventId: `e-${tag}`, personId: `p-${tag}`, changeType: 'MODIFY', changeTime: Date.now() } as never);
    // A provisioning.result written on the person topic: valid Avro under a registered id, not an event about a person.
    const result: ProvisioningResult = {
      eventId: `r-${tag}`, sourceEventId: 'x', personId: 'someone', target: 'pgtest', outcome: 'APPLIED', processedAt: Date.now(),
    } as never;
    const otherSchema = await env.codec.encode('ProvisioningResult', `test.${env.id}.other`, result);
    // A later version of the event's schema with a field this runtime does not know and without personId.
    const v2 = JSON.parse(schemaText('PersonChanged'));
    v2.fields = v2.fields.filter((f: { name: string }) => f.name !== 'personId').concat([{ name: 'subjectRef', type: 'string' }]);
    const { id: v2Id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject: `test.${env.id}.v2-value` });
    const newer = await registry.encode(v2Id, { ...(await env.codec.decode('PersonChanged', good)), subjectRef: 'p' });
    const bad: [string, Buffer | null, RegExp][] = [
      [`nullvalue-${tag}`, null, /no value/],
      [`unknownschema-${tag}`, wire(2_000_000_000, Buffer.from([2, 65])), /2000000000|schema|not found/i],
      [`magic-${tag}`, Buffer.concat([Buffer.from([1]), good.subarray(1)]), /magic|decode/i],
      [`truncated-${tag}`, good.subarray(0, good.length - 6), /./],
      [`otherschema-${tag}`, otherSchema, /schema of ProvisioningResult, not of PersonChanged/],
      [`newer-${tag}`, newer, /names no subject/],
    ];
    for (const [key, value] of bad) await send(key, value);
    const after = await env.addPerson({});
    await pipe.waitResults(after.id, 1, 'the person\'s own event');
    // The same person again, on the partition of the bad messages, behind them.
    await send(after.id, await env.codec.encode('PersonChanged', env.cfg.kafka.topics.personChanged,
      { eventId: `again-${tag}`, personId: after.id, changeType: 'REPROCESS', changeTime: Date.now(), changedAttributes: [], oldDn: null, newDn: null, changelogPosition: null, runId: null, mode: 'REPROCESS', logOnly: false, targets: null, source: 'test' }));
    const rOk = await pipe.waitResults(after.id, 2, 'the person after the bad messages');
    expect(rOk.map((r) => r.outcome)).toEqual(['APPLIED', 'UNCHANGED']);
    const letters = await eventually(async () => {
      const l = (await readDeadLetters(env.kafka, 'pgtest', dlq())).letters;
      return l.length >= bad.length && l;
    }, 30_000, 'a dead letter per bad message');
    expect(letters).toHaveLength(bad.length);
    const results = await pipe.decoded();
    for (const [key, value, why] of bad) {
      const letter = letters.find((l) => l.key === key || l.personId === key);
      expect(letter, key).toBeDefined();
      expect(letter!.event, key).toBe(value ? value.toString('base64') : null);
      expect(letter!.error?.kind, key).toBe('TERMINAL');
      expect(letter!.error?.message, key).toMatch(why);
      expect(results.filter((r) => r.personId === key), key).toHaveLength(1);
    }
    expect(countResults(results.filter((r) => r.outcome === 'FAILED')).get('pgtest')!.failed).toBe(bad.length);
    expect(pipe.group.counts.dlq).toBe(bad.length);
  });

  it('the writeback dead-letters an event written on the results topic and records nothing for it', async () => {
    const tag = env.id.slice(-8);
    const ev = await env.codec.encode('PersonChanged', env.cfg.kafka.topics.personChanged,
      { eventId: `wrongtopic-${tag}`, personId: `wrongtopic-${tag}`, changeType: 'MODIFY', changeTime: Date.now(), changedAttributes: [], oldDn: null, newDn: null, changelogPosition: null, runId: null, mode: 'LIVE', logOnly: false, targets: null, source: 'test' });
    const p = env.kafka.producer();
    await p.connect();
    await p.send({ topic: env.cfg.kafka.topics.provisioningResult, messages: [{ key: `wrongtopic-${tag}`, value: ev }] });
    await p.disconnect();
    const letter = await eventually(async () => (await readDeadLetters(env.kafka, 'writeback', `test.${env.id}.writeback.dlq`)).letters.find((l) => l.key === `wrongtopic-${tag}`), 30_000, 'writeback dead letter');
    expect(letter.personId).toBe('');
    expect(letter.error?.message).toMatch(/schema of PersonChanged, not of ProvisioningResult/);
  });
});
