import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { PersonChanged, ProvisioningResult } from './generated.js';

/** The Avro schema behind each event type, and the file it lives in. */
const SCHEMA_FILES = { PersonChanged: 'PersonChanged.avsc', ProvisioningResult: 'ProvisioningResult.avsc' } as const;
export type EventName = keyof typeof SCHEMA_FILES;
interface EventTypes { PersonChanged: PersonChanged; ProvisioningResult: ProvisioningResult }

const avroDir = join(import.meta.dirname, '..', '..', 'avro');

export function schemaText(name: EventName): string {
  return readFileSync(join(avroDir, SCHEMA_FILES[name]), 'utf8');
}

/**
 * The only place that turns events into bytes and back (Confluent wire format: magic byte, schema
 * id, Avro body). Schemas are registered per topic (`<topic>-value`) with BACKWARD compatibility,
 * so a consumer on an older schema keeps reading what a newer producer writes.
 */
export class EventCodec {
  private readonly registry: SchemaRegistry;
  private readonly ids = new Map<string, number>();

  constructor(registryUrl: string) {
    this.registry = new SchemaRegistry({ host: registryUrl });
  }

  async register(name: EventName, topic: string): Promise<number> {
    const subject = `${topic}-value`;
    const key = `${name}@${topic}`;
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    const { id } = await this.registry.register(
      { type: SchemaType.AVRO, schema: schemaText(name) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    this.ids.set(key, id);
    return id;
  }

  async encode<N extends EventName>(name: N, topic: string, event: EventTypes[N]): Promise<Buffer> {
    const id = await this.register(name, topic);
    return this.registry.encode(id, event);
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
  const network = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up|timed? ?out/i;
  if (network.test(err?.code ?? '')) return true;
  if (err?.name !== 'ResponseError') return false;
  const status = err.status ?? 0;
  return status >= 500 || [401, 403, 408, 429].includes(status) || network.test(err.message ?? '');
}
