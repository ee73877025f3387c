import type { EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { ResultCodeError } from 'ldapts';
import { kafkaName, resolvedSecrets, type Config } from '../config.js';
import { A, STATUS_OBJECT_CLASS } from '../directory/attributes.js';
import { Directory, DirectoryError, DirectoryUnavailableError, values } from '../directory/client.js';
import { Backoff, sleep } from '../lib/backoff.js';
import { ensureTopics, ResilientConsumer, resultsTopicSpec, topicSettings } from '../lib/kafka.js';
import { child } from '../lib/log.js';
import { metrics } from '../lib/metrics.js';
import { scrubMessage } from '../lib/redact.js';
import { EventCodec, isRegistryUnreachable } from '../schemas/codec.js';
import type { ProvisioningResult } from '../schemas/generated.js';
import { deadLetterMessage, dlqTopic, dlqTopicSpec, WRITEBACK, type DeadLetter } from './dlq.js';

/**
 * One target's status value: `<target>|<ISO time>|<outcome>|<last error>`, then what the target
 * asked to record (the result's `writeback`) as `|<name>=<value>` fields, e.g.
 * `exams|2026-11-29T06:00:00.000Z|provisioned||userId=4711`.
 */
export interface StatusValue { target: string; at: string; outcome: string; error: string; recorded: Record<string, string> }

export function parseStatus(v: string): StatusValue | undefined {
  const [target, at, outcome, error = '', ...rest] = v.split('|');
  const recorded: Record<string, string> = {};
  for (const f of rest) {
    const i = f.indexOf('=');
    if (i > 0) recorded[f.slice(0, i)] = f.slice(i + 1);
  }
  return target && at && outcome ? { target, at, outcome, error, recorded } : undefined;
}

const cleanError = (e: string) => e.replace(/[\r\n|]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 500);
/** A recorded name keeps to letters, digits, '.', '_' and '-'; a value loses the separators. */
const cleanName = (n: string) => n.replace(/[^A-Za-z0-9._-]/g, '');
const cleanValue = (v: string) => v.replace(/[\r\n|]+/g, ' ').trim().slice(0, 256);
const formatStatus = (s: StatusValue) =>
  [`${s.target}|${s.at}|${s.outcome}|${s.error}`, ...Object.keys(s.recorded).sort().map((k) => `${k}=${s.recorded[k]}`)].join('|');
const sameRecorded = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/**
 * Pure: the status attributes after one result, or undefined when nothing changes (idempotent:
 * replaying results writes nothing). Provisioned = entitled and the account is in place; losing
 * entitlement (the account disabled) removes the target; a failure keeps what was there and
 * records the error. Log-only, held and skipped results change nothing. What the target asked to
 * record (its `writeback`, e.g. its user id) is kept with the status, and stays as it was when a
 * result carries none (a failure before the account was read).
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
  const asked = Object.entries(r.writeback ?? {}).map(([k, v]) => [cleanName(k), cleanValue(v)] as const).filter(([k, v]) => k && v);
  const recorded = asked.length ? Object.fromEntries(asked) : previous?.recorded ?? {};
  // The time says when the status last changed, so a replay of the same outcome is no write.
  const same = previous && previous.outcome === outcome && previous.error === error && sameRecorded(previous.recorded, recorded);
  const status = same ? previous : { target: t, at: new Date(r.processedAt).toISOString(), outcome, error, recorded };
  const next = { provisionedTo: [...provisioned].sort(), targetStatus: [...others, formatStatus(status)].sort() };
  const unchanged = next.provisionedTo.join() === [...current.provisionedTo].map((v) => v.toLowerCase()).sort().join()
    && next.targetStatus.join('\n') === [...current.targetStatus].sort().join('\n');
  return unchanged ? undefined : next;
}

/**
 * LDAP result codes that say this one entry or these values are wrong (the same write would fail
 * again): the result is dead-lettered. Everything else — a refused or cut connection, busy,
 * unavailable, a lost bind — is the directory not answering, and is tried again.
 */
const POISON_RESULT_CODES = new Set([
  16, // noSuchAttribute
  17, // undefinedAttributeType
  18, // inappropriateMatching
  19, // constraintViolation
  20, // attributeOrValueExists
  21, // invalidAttributeSyntax
  34, // invalidDNSyntax
  64, // namingViolation
  65, // objectClassViolation
  67, // notAllowedOnRDN
  69, // objectClassModsProhibited
]);

/** Whether a directory failure is about this result (poison) or about the directory (try again). */
export function directoryFailure(e: unknown): 'poison' | 'transient' {
  if (e instanceof DirectoryUnavailableError) return 'transient';
  if (e instanceof ResultCodeError) return POISON_RESULT_CODES.has(e.code) ? 'poison' : 'transient';
  // Two entries with one id, or a bug met by this one result.
  if (e instanceof DirectoryError || e instanceof TypeError || e instanceof RangeError) return 'poison';
  return 'transient';
}

/** The code a target group gives a result for an event it could not decode: its key names nobody for sure. */
const UNDECODABLE = 'undecodable';

type Handled = { kind: 'done' } | { kind: 'retry'; dependency: 'directory' | 'schema registry'; err: Error };

/** How often what the writeback handled is committed (while it runs; a stop commits the rest). */
const COMMIT_EVERY_MS = 5_000;

/**
 * The `tilgang.writeback` group: records in the portal directory, as tilgang's service account,
 * which targets each person is provisioned to, when, and the last error per target. The
 * producer recognises these writes as its own and does not publish them again.
 *
 * A message that cannot be recorded (bytes that are not a result, a write the directory refuses
 * for that entry) goes to the writeback's dead-letter topic and the partition moves on. When the
 * directory or the schema registry cannot be reached, the partition waits with backoff at that
 * message (heartbeating, so it keeps its partitions; the directory client binds again on its own)
 * and readiness says since when.
 */
export class Writeback {
  private consumer!: ResilientConsumer;
  private directory!: Directory;
  private dlqProducer!: Producer;
  private readonly codec: EventCodec;
  private readonly log = child({ component: 'writeback' });
  private readonly topics: { results: string; dlq: string };
  private started = false;
  /** Partitions waiting for a dependency, with when they began to and why. */
  private readonly failing = new Map<number, { since: Date; reason: string }>();
  /** The last offset resolved per partition of the results topic, and the offsets last committed. */
  private readonly resolved = new Map<number, string>();
  private readonly committed = new Map<number, string>();
  private commitTimer?: NodeJS.Timeout;
  readonly counts = { results: 0, writes: 0, failures: 0, deadLettered: 0, ignored: 0 };

  constructor(private readonly cfg: Config, private readonly kafka: Kafka, private readonly opts: { groupId?: string; topic?: string; dlq?: string; peopleDn?: string; backoff?: { baseMs: number; capMs: number }; commitEveryMs?: number } = {}) {
    this.codec = new EventCodec(cfg.registry);
    this.topics = { results: opts.topic ?? cfg.kafka.topics.provisioningResult, dlq: opts.dlq ?? dlqTopic(WRITEBACK, cfg.kafka.prefix) };
  }

  /**
   * Ready while it can write: started, the directory answering (its client probes it while idle),
   * and no partition waiting for the directory or the registry.
   */
  isReady(): boolean {
    return this.started && this.failing.size === 0 && (this.directory?.health.ready ?? true);
  }

  /** Since when and why it cannot write, or undefined while it can. */
  failingSince(): { since: Date; reason: string } | undefined {
    let first: { since: Date; reason: string } | undefined;
    for (const f of this.failing.values()) if (!first || f.since < first.since) first = f;
    const d = this.directory?.health;
    if (d && !d.ready && (!first || d.since < first.since.getTime())) first = { since: new Date(d.since), reason: `directory unreachable: ${d.lastError ?? 'no answer'}` };
    return first;
  }

  /** For /readyz: why it is not ready, and since when. */
  readiness(): string | undefined {
    const f = this.failingSince();
    return f ? `failing since ${f.since.toISOString()}: ${f.reason}` : undefined;
  }

  async start(): Promise<void> {
    this.directory = await Directory.connect(this.cfg, { peopleDn: this.opts.peopleDn });
    const admin = this.kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [resultsTopicSpec(this.cfg, this.topics.results), dlqTopicSpec(this.cfg, this.topics.dlq)], topicSettings(this.cfg));
    await admin.disconnect();
    this.dlqProducer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.dlqProducer.connect();
    this.consumer = new ResilientConsumer(this.kafka, { groupId: this.opts.groupId ?? kafkaName(this.cfg, 'tilgang.writeback'), readUncommitted: false, maxWaitTimeInMs: 100 }, async (c) => {
      await c.subscribe({ topic: this.topics.results, fromBeginning: true });
      await c.run({
        partitionsConsumedConcurrently: 4,
        // A message is resolved (and its offset committed) only once recorded, ignored or dead-lettered;
        // what is resolved is committed every few seconds, also while idle, and at a stop (commitResolved).
        // kafkajs's autoCommit would commit after every batch whatever autoCommitInterval says: at 200
        // results/s, a commit dozens of times a second. A status written again after a crash is the same status.
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (p) => this.onBatch(p),
      });
    }, 'writeback', (assigned) => {
      // Only partitions still this member's are committed at a stop.
      const mine = new Set(assigned.filter((a) => a.topic === this.topics.results).flatMap((a) => a.partitions));
      for (const p of this.resolved.keys()) if (!mine.has(p)) this.resolved.delete(p);
      for (const p of this.committed.keys()) if (!mine.has(p)) this.committed.delete(p);
    });
    await this.consumer.start();
    this.commitTimer = setInterval(() => void this.commitResolved(), this.opts.commitEveryMs ?? COMMIT_EVERY_MS);
    this.started = true;
  }

  /** Commits what was resolved since the last commit (a rebalance may refuse it: the next owner writes those statuses again). */
  private async commitResolved(): Promise<void> {
    const due = [...this.resolved].filter(([p, offset]) => this.committed.get(p) !== offset);
    if (!due.length || !this.consumer?.consumer) return;
    try {
      await this.consumer.consumer.commitOffsets(due.map(([partition, offset]) => ({ topic: this.topics.results, partition, offset: String(BigInt(offset) + 1n) })));
      for (const [p, offset] of due) this.committed.set(p, offset);
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'offset commit refused; retried at the next one');
    }
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const backoff = new Backoff({ baseMs: this.opts.backoff?.baseMs ?? 500, capMs: this.opts.backoff?.capMs ?? 30_000 });
    const going = () => isRunning() && !isStale();
    try {
      for (const m of batch.messages) {
        if (!going()) return;
        for (;;) {
          const h = await this.handle(m, batch.topic, batch.partition);
          if (h.kind === 'done') break;
          const wait = backoff.next();
          this.markFailing(batch.partition, h, wait, backoff.attempt);
          // Wait in short steps, heartbeating, so the group keeps this partition here and a stop is not held up.
          for (const until = Date.now() + wait; Date.now() < until && going();) {
            await sleep(Math.min(1000, until - Date.now()));
            await heartbeat();
          }
          if (!going()) return;
        }
        if (backoff.attempt) this.markRecovered(batch.partition);
        backoff.reset();
        resolveOffset(m.offset);
        this.resolved.set(batch.partition, m.offset);
        await heartbeat();
      }
    } finally {
      // Leaving the partition (a stop, a rebalance) while it waits: whoever gets it next will tell.
      if (this.failing.delete(batch.partition)) this.showFailing();
    }
  }

  /** Records one message, ignores it, or dead-letters it; or says which dependency to wait for. */
  private async handle(m: KafkaMessage, topic: string, partition: number): Promise<Handled> {
    let r: ProvisioningResult;
    try {
      r = await this.codec.decodeEvent<ProvisioningResult>(m.value ?? Buffer.alloc(0), 'ProvisioningResult');
      if (typeof r.personId !== 'string' || typeof r.target !== 'string') throw new Error('the result names no person or no target');
    } catch (e) {
      if (isRegistryUnreachable(e)) return { kind: 'retry', dependency: 'schema registry', err: e as Error };
      const key = m.key?.toString() ?? null;
      this.log.error({ topic, partition, offset: m.offset, err: (e as Error).message }, 'undecodable result: dead-lettered');
      await this.deadLetter(m, topic, partition, {
        personId: '', key, sourceEventId: `undecodable:${partition}:${m.offset}`, runId: null,
        error: { kind: 'TERMINAL', code: UNDECODABLE, message: scrubMessage(`result at partition ${partition} offset ${m.offset} cannot be decoded: ${(e as Error).message}`, resolvedSecrets()), field: null },
      });
      return { kind: 'done' };
    }
    try {
      await this.record(r);
      return { kind: 'done' };
    } catch (e) {
      if (directoryFailure(e) === 'transient') return { kind: 'retry', dependency: 'directory', err: e as Error };
      const err = e as Error & { code?: unknown };
      this.log.error({ person: r.personId, target: r.target, err: err.message }, 'the directory refused the status: dead-lettered');
      await this.deadLetter(m, topic, partition, {
        personId: r.personId, resultTarget: r.target, sourceEventId: r.eventId, runId: r.runId ?? null,
        error: { kind: 'TERMINAL', code: String(err.code ?? err.name), message: scrubMessage(`writing the status of person ${r.personId} for ${r.target}: ${err.message}`, resolvedSecrets()), field: null },
      });
      return { kind: 'done' };
    }
  }

  private async deadLetter(m: KafkaMessage, topic: string, partition: number, letter: Pick<DeadLetter, 'personId' | 'sourceEventId' | 'runId' | 'error'> & Partial<DeadLetter>): Promise<void> {
    const full: DeadLetter = {
      target: WRITEBACK, attempts: 1, failedAt: new Date().toISOString(),
      source: { topic, partition, offset: m.offset }, event: m.value ? m.value.toString('base64') : null, ...letter,
    };
    await this.dlqProducer.send({ topic: this.topics.dlq, messages: [deadLetterMessage(full)] });
    this.counts.deadLettered++;
    metrics.writebacks.inc({ outcome: 'dead-lettered' });
  }

  private markFailing(partition: number, h: Extract<Handled, { kind: 'retry' }>, waitMs: number, attempt: number): void {
    this.counts.failures++;
    metrics.writebacks.inc({ outcome: 'retried' });
    const reason = `${h.dependency} unreachable: ${h.err.message}`;
    const was = this.failing.get(partition);
    this.failing.set(partition, { since: was?.since ?? new Date(), reason });
    this.showFailing();
    // One warning when a partition starts waiting, then quiet retries: an outage is not a log flood.
    if (!was) this.log.warn({ partition, dependency: h.dependency, err: h.err.message, retryInMs: waitMs }, 'status writeback waiting: backing off');
    else this.log.debug({ partition, dependency: h.dependency, err: h.err.message, attempt, retryInMs: waitMs }, 'status writeback still waiting');
  }

  private showFailing(): void {
    const f = this.failingSince();
    metrics.writebackFailingSince.set(f ? f.since.getTime() / 1000 : 0);
  }

  private markRecovered(partition: number): void {
    const was = this.failing.get(partition);
    this.failing.delete(partition);
    this.showFailing();
    if (was) this.log.info({ partition, failedForMs: Date.now() - was.since.getTime() }, 'status writeback recovered');
  }

  /**
   * Writes the status a result implies. A result for an event that was never decoded names no one
   * for sure (its key is whatever the bytes carried) and records nothing. Throws what the
   * directory threw; `handle` tells poison from an outage.
   */
  async record(r: ProvisioningResult): Promise<void> {
    this.counts.results++;
    if (r.error?.code === UNDECODABLE) {
      this.counts.ignored++;
      metrics.writebacks.inc({ outcome: 'ignored' });
      return;
    }
    const person = await this.directory.person(r.personId, [A.provisionedTo, A.targetStatus, 'objectClass']);
    if (!person) return;
    const next = statusAfter({ provisionedTo: values(person, A.provisionedTo), targetStatus: values(person, A.targetStatus) }, r);
    if (!next) return;
    const classes = values(person, 'objectClass').map((c) => c.toLowerCase());
    // The service account may add only this one object class value, never replace the list.
    const addClass = classes.includes(STATUS_OBJECT_CLASS.toLowerCase()) ? [] : [STATUS_OBJECT_CLASS];
    try {
      await this.directory.writeStatus(person.dn, addClass, { [A.provisionedTo]: next.provisionedTo, [A.targetStatus]: next.targetStatus });
    } catch (e) {
      // Gone between the read and the write: nothing to record. Otherwise the caller decides.
      if (e instanceof ResultCodeError && e.code === 32 && !(await this.directory.person(r.personId, ['1.1']))) return;
      throw e;
    }
    this.counts.writes++;
    metrics.writebacks.inc({ outcome: 'written' });
  }

  async stop(): Promise<void> {
    this.started = false;
    clearInterval(this.commitTimer);
    // What was resolved since the last commit, so the next start does not write it again.
    await this.commitResolved();
    await this.consumer?.stop();
    await this.dlqProducer?.disconnect().catch(() => {});
    await this.directory?.close();
  }
}
