import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { registryClientOptions, type RegistrySettings } from '../lib/tls.js';
import type { CourseChanged, PersonChanged, ProvisioningResult } from './generated.js';
import { isNetworkCode } from '../lib/network.js';

/** What encodeNow needs of an avsc type: write a value into a buffer at a position (avsc's Type.encode). */
interface AvroWriter { encode(value: unknown, buf: Buffer, pos: number): number }

/** The Avro schema behind each event type, and the file it lives in. */
const SCHEMA_FILES = { PersonChanged: 'PersonChanged.avsc', ProvisioningResult: 'ProvisioningResult.avsc', CourseChanged: 'CourseChanged.avsc' } as const;
export type EventName = keyof typeof SCHEMA_FILES;
interface EventTypes { PersonChanged: PersonChanged; ProvisioningResult: ProvisioningResult; CourseChanged: CourseChanged }

const avroDir = join(import.meta.dirname, '..', '..', 'avro');

export function schemaText(name: EventName): string {
  return readFileSync(join(avroDir, SCHEMA_FILES[name]), 'utf8');
}

/**
 * The only place that turns events into bytes and back (Confluent wire format: magic byte, schema
 * id, Avro body). Schemas are registered per topic (`<topic>-value`). BACKWARD compatibility (the
 * registry's default) lets a consumer on a new schema read what producers on the previous one
 * wrote, so tilgang's own consumers are upgraded before its producers. The public result events
 * are FULL compatible: BACKWARD and also FORWARD (a consumer on the previous schema reads what a
 * new producer writes), because their subscribers are other teams' systems, which upgrade on their
 * own schedule; see the doc of avro/ProvisioningResult.avsc.
 */
export const COMPATIBILITY_OF: Record<EventName, COMPATIBILITY> = {
  PersonChanged: COMPATIBILITY.BACKWARD,
  CourseChanged: COMPATIBILITY.BACKWARD,
  ProvisioningResult: COMPATIBILITY.FULL,
};

/** Stricter levels a subject may be moved to from the one an earlier version of tilgang set. */
const TIGHTENS: Partial<Record<COMPATIBILITY, COMPATIBILITY[]>> = { [COMPATIBILITY.FULL]: [COMPATIBILITY.BACKWARD, COMPATIBILITY.FORWARD] };

export class EventCodec {
  private readonly registry: SchemaRegistry;
  private readonly ids = new Map<string, number>();
  /** The registered schemas, ready to write with: encoding a registered event needs no await. */
  private readonly writers = new Map<string, { id: number; type: AvroWriter }>();
  /** Where encodeNow writes before copying out: one allocation per event instead of two. */
  private scratch = Buffer.allocUnsafe(64 * 1024);

  /** The registry's URL alone, or its settings (authentication, TLS) from the configuration. */
  constructor(registry: string | RegistrySettings) {
    this.registry = new SchemaRegistry(registryClientOptions(typeof registry === 'string' ? { url: registry } : registry));
  }

  async register(name: EventName, topic: string): Promise<number> {
    const subject = `${topic}-value`;
    const key = `${name}@${topic}`;
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    for (let attempt = 1; ; attempt++) {
      try {
        const { id } = await this.registry.register(
          { type: SchemaType.AVRO, schema: schemaText(name) },
          { subject, compatibility: COMPATIBILITY_OF[name] },
        );
        this.ids.set(key, id);
        return id;
      } catch (e) {
        // Processes starting together register the subject's first version at once: the registry
        // refuses all but one ("already exists"), and the client that checks the subject's
        // compatibility before the winner has set it sees none. Asked again, both answer.
        // A subject an earlier tilgang registered with a looser level (results were BACKWARD): tightened
        // to the level wanted, which the registry then enforces on this and every later version.
        const m = /Compatibility does not match the configuration \((\w+) != (\w+)\)/.exec((e as Error).message);
        if (m && attempt < 5 && TIGHTENS[m[1] as COMPATIBILITY]?.includes(m[2] as COMPATIBILITY)) {
          // The client's own API (private in its types): it carries the registry's auth and TLS settings.
          const api = (this.registry as unknown as { api: { Subject: { updateConfig(a: { subject: string; body: { compatibility: string } }): Promise<unknown> } } }).api;
          await api.Subject.updateConfig({ subject, body: { compatibility: m[1]! } });
          continue;
        }
        if (attempt >= 5 || !/already exists|Compatibility does not match/i.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  async encode<N extends EventName>(name: N, topic: string, event: EventTypes[N]): Promise<Buffer> {
    const id = await this.register(name, topic);
    return this.registry.encode(id, event);
  }

  /** Fetches the schema registered for `topic` so that encodeNow can write with it. */
  async prepare(name: EventName, topic: string): Promise<void> {
    const key = `${name}@${topic}`;
    if (this.writers.has(key)) return;
    const id = await this.register(name, topic);
    this.writers.set(key, { id, type: await this.registry.getSchema(id) as unknown as AvroWriter });
  }

  /**
   * Encodes without a round of promises per event (the producer encodes a thousand at a time), in
   * the same Confluent wire format as encode. Call prepare first.
   */
  encodeNow<N extends EventName>(name: N, topic: string, event: EventTypes[N]): Buffer {
    const w = this.writers.get(`${name}@${topic}`);
    if (!w) throw new Error(`${name} on ${topic}: call prepare() before encodeNow()`);
    let end = w.type.encode(event, this.scratch, 5);
    if (end < 0) {
      // Too small by -end bytes: grow and write again.
      this.scratch = Buffer.allocUnsafe(2 * (this.scratch.length - end));
      end = w.type.encode(event, this.scratch, 5);
    }
    this.scratch[0] = 0; // magic byte
    this.scratch.writeInt32BE(w.id, 1);
    return Buffer.from(this.scratch.subarray(0, end));
  }

  /**
   * Any stream's event, decoded with the writer's schema; the stream's descriptor says what it is.
   * With `record`, the writer's schema must be that Avro record (namespace aside): valid Avro of
   * another schema on the topic (a result written where an event belongs) is not taken for one.
   */
  async decodeEvent<T>(bytes: Buffer, record?: string): Promise<T> {
    if (record && bytes.length >= 5 && bytes[0] === 0) {
      const writer = (await this.registry.getSchema(bytes.readInt32BE(1))) as { name?: string };
      const name = writer.name?.split('.').pop();
      if (name !== record) throw new Error(`the message is written with the schema of ${name ?? 'an unnamed type'}, not of ${record}`);
    }
    return (await this.registry.decode(bytes)) as T;
  }

  /** Decodes with the writer's schema, fetched by the id in the message (cached). */
  async decode<N extends EventName>(_name: N, bytes: Buffer): Promise<EventTypes[N]> {
    return (await this.registry.decode(bytes)) as EventTypes[N];
  }
}

/**
 * Whether a decode failed because the schema registry could not be asked (try again later) rather
 * than because the bytes are not an event (poison). The registry client reports a refused
 * connection as a response error with status 400, so the network cause is read from its message.
 */
export function isRegistryUnreachable(e: unknown): boolean {
  const err = e as { name?: string; status?: number; code?: string; message?: string } | undefined;
  if (isNetworkCode(err?.code)) return true;
  if (err?.name !== 'ResponseError') return false;
  const status = err.status ?? 0;
  return status >= 500 || [401, 403, 408, 429].includes(status) || /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up|timed? ?out/i.test(err.message ?? '');
}
