import type { Kafka } from 'kafkajs';
import type { Config } from '../config.js';
import { A, STATUS_OBJECT_CLASS } from '../directory/attributes.js';
import { Directory, values } from '../directory/client.js';
import { ensureTopics, ResilientConsumer } from '../lib/kafka.js';
import { child } from '../lib/log.js';
import { metrics } from '../lib/metrics.js';
import { EventCodec } from '../schemas/codec.js';
import type { ProvisioningResult } from '../schemas/generated.js';

export interface StatusValue { target: string; at: string; outcome: string; error: string }

export function parseStatus(v: string): StatusValue | undefined {
  const [target, at, outcome, ...error] = v.split('|');
  return target && at && outcome ? { target, at, outcome, error: error.join('|') } : undefined;
}

const cleanError = (e: string) => e.replace(/[\r\n|]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 500);
const formatStatus = (s: StatusValue) => `${s.target}|${s.at}|${s.outcome}|${s.error}`;

/**
 * Pure: the status attributes after one result, or undefined when nothing changes (idempotent:
 * replaying results writes nothing). Provisioned = entitled and the account is in place; losing
 * entitlement (the account disabled) removes the target; a failure keeps what was there and
 * records the error. Log-only, held and skipped results change nothing.
 */
export function statusAfter(current: { provisionedTo: string[]; targetStatus: string[] }, r: ProvisioningResult): { provisionedTo: string[]; targetStatus: string[] } | undefined {
  if (r.logOnly || r.outcome === 'PLANNED' || r.outcome === 'HELD' || r.outcome === 'SKIPPED') return undefined;
  const t = r.target.toLowerCase();
  const provisioned = new Set(current.provisionedTo.map((v) => v.toLowerCase()));
  const ok = r.outcome === 'APPLIED' || r.outcome === 'UNCHANGED';
  if (ok && r.entitled === true) provisioned.add(t);
  if (ok && r.entitled === false) provisioned.delete(t);
  const others = current.targetStatus.filter((v) => parseStatus(v)?.target.toLowerCase() !== t);
  const previous = current.targetStatus.map(parseStatus).find((s) => s?.target.toLowerCase() === t);
  const outcome = r.outcome === 'FAILED' ? 'failed' : r.entitled === false ? 'disabled' : 'provisioned';
  const error = r.error ? cleanError(`${r.error.code}: ${r.error.message}`) : '';
  // The time says when the status last changed, so a replay of the same outcome is no write.
  const same = previous && previous.outcome === outcome && previous.error === error;
  const status = same ? previous : { target: t, at: new Date(r.processedAt).toISOString(), outcome, error };
  const next = { provisionedTo: [...provisioned].sort(), targetStatus: [...others, formatStatus(status)].sort() };
  const unchanged = next.provisionedTo.join() === [...current.provisionedTo].map((v) => v.toLowerCase()).sort().join()
    && next.targetStatus.join('\n') === [...current.targetStatus].sort().join('\n');
  return unchanged ? undefined : next;
}

/**
 * The `tilgang.writeback` group: records in the portal directory, as tilgang's service account,
 * which targets each person is provisioned to, when, and the last error per target. The
 * producer recognises these writes as its own and does not publish them again.
 */
export class Writeback {
  private consumer!: ResilientConsumer;
  private directory!: Directory;
  private readonly codec: EventCodec;
  private readonly log = child({ component: 'writeback' });
  private ready = false;
  readonly counts = { results: 0, writes: 0, failures: 0 };

  constructor(private readonly cfg: Config, private readonly kafka: Kafka, private readonly opts: { groupId?: string; topic?: string; peopleDn?: string } = {}) {
    this.codec = new EventCodec(cfg.registry.url);
  }

  /** Ready while started and while the directory it writes to answers. */
  isReady(): boolean {
    return this.ready && (this.directory?.health.ready ?? true);
  }

  async start(): Promise<void> {
    const topic = this.opts.topic ?? this.cfg.kafka.topics.provisioningResult;
    this.directory = await Directory.connect(this.cfg, { peopleDn: this.opts.peopleDn });
    const admin = this.kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic, partitions: this.cfg.kafka.partitions }]);
    await admin.disconnect();
    this.consumer = new ResilientConsumer(this.kafka, { groupId: this.opts.groupId ?? 'tilgang.writeback', readUncommitted: false, maxWaitTimeInMs: 100 }, async (c) => {
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        partitionsConsumedConcurrently: 4,
        eachMessage: async ({ message }) => {
          const r = await this.codec.decode('ProvisioningResult', message.value!);
          await this.record(r);
        },
      });
    }, 'writeback');
    await this.consumer.start();
    this.ready = true;
  }

  async record(r: ProvisioningResult): Promise<void> {
    this.counts.results++;
    const person = await this.directory.person(r.personId, [A.provisionedTo, A.targetStatus, 'objectClass']);
    if (!person) return;
    const next = statusAfter({ provisionedTo: values(person, A.provisionedTo), targetStatus: values(person, A.targetStatus) }, r);
    if (!next) return;
    const classes = values(person, 'objectClass').map((c) => c.toLowerCase());
    // The service account may add only this one object class value, never replace the list.
    const addClass = classes.includes(STATUS_OBJECT_CLASS.toLowerCase()) ? [] : [STATUS_OBJECT_CLASS];
    try {
      await this.directory.writeStatus(person.dn, addClass, { [A.provisionedTo]: next.provisionedTo, [A.targetStatus]: next.targetStatus });
      this.counts.writes++;
      metrics.writebacks.inc({ outcome: 'written' });
    } catch (e) {
      this.counts.failures++;
      metrics.writebacks.inc({ outcome: 'failed' });
      this.log.error({ person: r.personId, target: r.target, err: (e as Error).message }, 'status writeback failed');
      throw e; // kafkajs retries the message; the write is idempotent
    }
  }

  async stop(): Promise<void> {
    this.ready = false;
    await this.consumer?.stop();
    await this.directory?.close();
  }
}
