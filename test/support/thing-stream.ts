import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import { z } from 'zod';
import { entitlementRules, type StreamDescriptor, type SubjectContext, type Target } from '../../src/spi/index.js';

/**
 * A second stream, as small as a stream gets, to show the runtime needs no change for one: events
 * about "things" on their own topic with their own Avro schema, things loaded from a catalogue in
 * memory, and a target that keeps each thing's name in a map.
 */
export interface ThingChanged {
  eventId: string;
  thingId: string;
  runId: string | null;
  logOnly: boolean;
  targets: string[] | null;
}

export const THING_CHANGED_SCHEMA = JSON.stringify({
  type: 'record', name: 'ThingChanged', namespace: 'no.tilgang.test',
  fields: [
    { name: 'eventId', type: 'string' },
    { name: 'thingId', type: 'string' },
    { name: 'runId', type: ['null', 'string'], default: null },
    { name: 'logOnly', type: 'boolean', default: false },
    { name: 'targets', type: ['null', { type: 'array', items: 'string' }], default: null },
  ],
});

export interface ThingContext extends SubjectContext<ThingChanged> {
  name: string;
}

/** The thing stream on `topic`, loading things from `catalogue`; `waves` records the ids of every wave it loads. */
export function thingStream(topic: string, catalogue: Map<string, { name: string }>, waves: string[][] = []): StreamDescriptor<ThingChanged, ThingContext> {
  return {
    name: 'thing',
    topic: () => topic,
    schema: 'ThingChanged',
    key: (e) => e.thingId,
    undecodable: (key, offset) => ({ eventId: `undecodable:${offset}`, thingId: key, runId: null, logOnly: false, targets: null }),
    async loadWave(events) {
      waves.push(events.map((e) => e.thingId));
      return events.map((event) => {
        const thing = catalogue.get(event.thingId);
        return thing ? { subject: { id: event.thingId, event, entitled: true, name: thing.name } } : { skip: 'thing not in the catalogue' };
      });
    },
  };
}

/** A target of the thing stream: an "account" per thing holding its name. */
export function thingTarget(accounts: Map<string, string>): Target<{ entitlement: { affiliations: string[]; roles: string[] } }, { name: string }, string | null, { name: string }, undefined, string, ThingContext> {
  return {
    name: 'thingtest',
    stream: 'thing',
    config: z.object({ entitlement: entitlementRules() }),
    essential: () => [],
    connect: async () => undefined,
    desired: (t) => ({ name: t.name }),
    actual: async (t) => accounts.get(t.id) ?? null,
    plan: (d, a) => {
      if (!d) return { operations: [] };
      if (a === null) return { operations: [{ kind: 'create', detail: `thing named ${d.name}`, payload: d }] };
      if (a !== d.name) return { operations: [{ kind: 'update', changes: [{ attribute: 'name', from: a, to: d.name }], payload: d }] };
      return { operations: [] };
    },
    apply: async (plan, _c, _ctx, t) => {
      accounts.set(t.id, plan.operations[0]!.payload!.name);
      return plan.operations.map(() => ({ outcome: 'APPLIED' as const }));
    },
  };
}

/** Publishes thing events the way a producer of that stream would: its schema registered for its topic. */
export async function publishThings(kafka: Kafka, registryUrl: string, topic: string, events: ThingChanged[]): Promise<void> {
  const registry = new SchemaRegistry({ host: registryUrl });
  const { id } = await registry.register({ type: SchemaType.AVRO, schema: THING_CHANGED_SCHEMA }, { subject: `${topic}-value`, compatibility: COMPATIBILITY.BACKWARD });
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: await Promise.all(events.map(async (e) => ({ key: e.thingId, value: await registry.encode(id, e) }))) });
  } finally {
    await producer.disconnect();
  }
}
