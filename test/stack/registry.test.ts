import { randomUUID } from 'node:crypto';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, describe, expect, it } from 'vitest';
import { registryUrl } from '../../src/stack/registry.js';

// Against the local stack's registry (`tilgang stack up`); the subject is unique to this run, so it
// can run beside a demo using the same registry.
const subject = `tilgang-test-${randomUUID().slice(0, 8)}-value`;
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

const record = (fields: object[]) => ({
  type: 'record', name: 'PersonChanged', namespace: 'no.tilgang.test',
  fields: [{ name: 'idautoID', type: 'string' }, { name: 'changeNumber', type: 'long' }, ...fields],
});
const v1 = record([]);

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${registryUrl}${path}`, {
    method,
    headers: { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

afterAll(async () => {
  await api('DELETE', `/subjects/${subject}`).catch(() => undefined);
  await api('DELETE', `/subjects/${subject}?permanent=true`).catch(() => undefined);
});

describe('local schema registry (Confluent API)', () => {
  const registry = new SchemaRegistry({ host: registryUrl });
  let id1 = 0;

  it('registers an Avro schema and round-trips a record in the Confluent wire format', async () => {
    ({ id: id1 } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject }));
    expect(id1).toBeGreaterThan(0);

    const person = { idautoID: randomUUID(), changeNumber: 42 };
    const bytes = await registry.encode(id1, person);
    expect(bytes[0]).toBe(0); // magic byte
    expect(bytes.readInt32BE(1)).toBe(id1);
    expect(await registry.decode(bytes)).toEqual(person);

    // A client that has never seen the schema finds it by the id in the message.
    const fresh = new SchemaRegistry({ host: registryUrl });
    expect(await fresh.decode(bytes)).toEqual(person);
    const byId = await api('GET', `/schemas/ids/${id1}`);
    expect(byId.status).toBe(200);
    expect(JSON.parse((byId.json as { schema: string }).schema)).toMatchObject({ name: 'PersonChanged' });
  });

  it('keeps the subject BACKWARD compatible: refuses a new required field, accepts an optional one', async () => {
    let config = await api('GET', `/config/${subject}`);
    if (config.status !== 200 || (config.json as { compatibilityLevel?: string }).compatibilityLevel !== 'BACKWARD') {
      expect((await api('PUT', `/config/${subject}`, { compatibility: 'BACKWARD' })).status).toBe(200);
      config = await api('GET', `/config/${subject}`);
    }
    expect(config.json).toMatchObject({ compatibilityLevel: 'BACKWARD' });

    // Old records have no value for it: a reader with this schema could not read them.
    const required = record([{ name: 'mail', type: 'string' }]);
    const refused = await api('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(required) });
    expect(refused.status).toBe(409);

    const optional = record([{ name: 'mail', type: ['null', 'string'], default: null }]);
    const { id: id2 } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(optional) }, { subject });
    expect(id2).not.toBe(id1);
    const versions = await api('GET', `/subjects/${subject}/versions`);
    expect(versions.json).toEqual([1, 2]);
  });
});
