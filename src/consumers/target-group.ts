import { hostname } from 'node:os';
import type { Admin, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Config } from '../config.js';
import { describeIssues, resolvedSecrets } from '../config.js';
import { A } from '../directory/attributes.js';
import { Directory } from '../directory/client.js';
import { mapLimit } from '../lib/concurrency.js';
import type { DependencyHealth } from '../lib/health.js';
import { eq } from '../lib/ldap/filter.js';
import { ensureTopics, ResilientConsumer } from '../lib/kafka.js';
import { child } from '../lib/log.js';
import { metrics } from '../lib/metrics.js';
import { MvReader } from '../mv/person.js';
import { EventCodec } from '../schemas/codec.js';
import type { PersonChanged, ProvisioningResult } from '../schemas/generated.js';
import { sleep } from '../stack/process.js';
import { checkTarget } from './check.js';
import { dlqMessage, dlqTopic } from './dlq.js';
import { isTransient, TransientError } from '../spi/index.js';
import { MassChangeGuard, type GuardSettings } from './guard.js';
import { addressed, appliedResult, failedResult, prepare, settleGuard, type Prepared, type ReconcileDeps } from './reconcile.js';
import type { AnyTarget, OperationResult, TargetContext } from '../spi/index.js';

export interface TargetGroupOptions {
  groupId?: string;
  instanceId?: string;
  /** Overrides for tests that isolate themselves. */
  topics?: { personChanged?: string; provisioningResult?: string; dlq?: string };
  peopleDn?: string;
  fromBeginning?: boolean;
  /** Offsets are committed after at most this many events of a partition's batch. */
  chunkSize?: number;
  /** Called after apply, before the results and offsets are committed (crash tests use it). */
  beforeCommit?: () => Promise<void>;
}

/** Serialises transactions: one transactional producer holds one open transaction at a time. */
class Mutex {
  private tail = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.then(() => undefined, () => undefined);
    return next;
  }
}

/** Splits a partition's events into waves: the n-th event of every person. Each wave may run in parallel; waves run in order. */
export function waves<T extends { key: string }>(items: T[]): T[][] {
  const seen = new Map<string, number>();
  const out: T[][] = [];
  for (const it of items) {
    const n = seen.get(it.key) ?? 0;
    seen.set(it.key, n + 1);
    (out[n] ??= []).push(it);
  }
  return out;
}

/**
 * One target's consumer group `tilgang.<target>`: reads person.changed, reconciles each person
 * (read → plan → apply), and commits the results and the consumed offsets in one Kafka
 * transaction, so every event has exactly one result. Order holds per person (key); different
 * people run in parallel; a partition's offset moves only past events that are finished.
 */
export class TargetGroup {
  readonly groupId: string;
  private readonly log;
  private readonly codec: EventCodec;
  private consumer!: ResilientConsumer;
  private producer!: Producer;
  private admin!: Admin;
  private directory!: Directory;
  private mv!: MvReader;
  private guard!: MassChangeGuard;
  private client: unknown;
  private deps!: ReconcileDeps;
  private readonly txn = new Mutex();
  private ready = false;
  private readonly topics: { personChanged: string; provisioningResult: string; dlq: string };
  private accountsCache = { at: 0, n: 0 };
  readonly counts = { events: 0, results: 0, dlq: 0, retries: 0 };

  constructor(private readonly cfg: Config, private readonly kafka: Kafka, readonly target: AnyTarget, private readonly opts: TargetGroupOptions = {}) {
    this.groupId = opts.groupId ?? `tilgang.${target.name}`;
    this.log = child({ component: 'target-group', target: target.name });
    this.codec = new EventCodec(cfg.registry.url);
    this.topics = {
      personChanged: opts.topics?.personChanged ?? cfg.kafka.topics.personChanged,
      provisioningResult: opts.topics?.provisioningResult ?? cfg.kafka.topics.provisioningResult,
      dlq: opts.topics?.dlq ?? dlqTopic(target.name),
    };
  }

  /** Ready while started and while the directory and MV answer (each is also on /readyz by name). */
  isReady(): boolean {
    return this.ready && this.dependencies().every((d) => d.ready);
  }

  dependencies(): DependencyHealth[] {
    return [this.directory?.health, this.mv?.health].filter((h): h is DependencyHealth => !!h);
  }

  /** Validates the target's configuration block; a wrong value names its path. */
  static targetConfig(cfg: Config, target: AnyTarget): any {
    const r = target.config.safeParse(cfg.targets[target.name] ?? {});
    if (!r.success) throw new Error(`invalid configuration for target ${target.name}:\n${describeIssues(r.error, `targets.${target.name}`)}`);
    return r.data;
  }

  guardSettings(): GuardSettings {
    const g = this.cfg.runtime.guard;
    const o = g.targets[this.target.name] ?? {};
    return { maxOperations: o.maxOperations ?? g.maxOperations, maxShare: o.maxShare ?? g.maxShare, minAccounts: o.minAccounts ?? g.minAccounts, windowMinutes: o.windowMinutes ?? g.windowMinutes };
  }

  async start(): Promise<void> {
    const config = TargetGroup.targetConfig(this.cfg, this.target);
    const ctx: TargetContext<any> = { config, global: this.cfg, log: this.log };
    const client = await this.target.connect(ctx);
    await checkTarget(this.target, client, ctx);
    this.client = client;
    this.directory = await Directory.connect(this.cfg, { peopleDn: this.opts.peopleDn });
    this.mv = MvReader.fromConfig(this.cfg.mv);
    this.guard = new MassChangeGuard(this.mv.pool, this.cfg.runtime.stateSchema);
    await this.guard.ensure();
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await ensureTopics(this.admin, [
      { topic: this.topics.personChanged, partitions: this.cfg.kafka.partitions },
      { topic: this.topics.provisioningResult, partitions: this.cfg.kafka.partitions },
      { topic: this.topics.dlq, partitions: 1 },
    ]);
    await this.codec.register('ProvisioningResult', this.topics.provisioningResult);
    this.producer = this.newProducer();
    await this.producer.connect();
    this.deps = {
      target: this.target, ctx, client: this.client, directory: this.directory, mv: this.mv, guard: this.guard,
      guardSettings: this.guardSettings(), totalAccounts: () => this.totalAccounts(),
      sensitive: this.cfg.directory.sensitive, secrets: resolvedSecrets(),
    };
    this.consumer = new ResilientConsumer(this.kafka,
      { groupId: this.groupId, readUncommitted: false, sessionTimeout: this.cfg.runtime.sessionTimeoutMs, heartbeatInterval: 1_000, maxWaitTimeInMs: 100 },
      async (c) => {
        await c.subscribe({ topic: this.topics.personChanged, fromBeginning: this.opts.fromBeginning ?? true });
        await c.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: this.cfg.runtime.partitionsConcurrently,
          eachBatch: (p) => this.onBatch(p),
        });
      }, this.target.name);
    await this.consumer.start();
    this.ready = true;
  }

  /** SIGTERM: let the batches in flight finish and commit, then leave the group. */
  async stop(): Promise<void> {
    this.ready = false;
    await this.consumer?.stop();
    await this.producer?.disconnect().catch(() => {});
    await this.admin?.disconnect().catch(() => {});
    await this.directory?.close();
    await this.mv?.close().catch(() => {});
    if (this.client && this.target.close) await this.target.close(this.client).catch(() => {});
  }

  private newProducer(): Producer {
    const instance = this.opts.instanceId ?? this.cfg.runtime.instanceId ?? hostname();
    return this.kafka.producer({ transactionalId: `${this.groupId}.${instance}`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 });
  }

  /** The target's provisioned accounts as the directory records them (for the guard's share). */
  private async totalAccounts(): Promise<number> {
    if (Date.now() - this.accountsCache.at < 300_000) return this.accountsCache.n;
    let n = 0;
    for await (const page of this.directory.client.searchPaginated(this.directory.peopleDn, {
      scope: 'sub', filter: eq(A.provisionedTo, this.target.name), attributes: ['1.1'], paged: { pageSize: 1000 },
    })) n += page.searchEntries.length;
    this.accountsCache = { at: Date.now(), n };
    return n;
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    metrics.lag.set({ group: this.groupId, partition: String(batch.partition) }, Number(batch.offsetLag()));
    const chunk = this.opts.chunkSize ?? 500;
    for (let i = 0; i < batch.messages.length; i += chunk) {
      if (!isRunning() || isStale()) return;
      const messages = batch.messages.slice(i, i + chunk);
      const outputs = await this.process(messages, heartbeat);
      await this.opts.beforeCommit?.();
      const last = messages[messages.length - 1]!.offset;
      await this.commit(outputs, batch.topic, batch.partition, last);
      // The transaction committed the group's offset; this moves the consumer's own fetch position.
      resolveOffset(last);
      await heartbeat();
    }
  }

  /** Results and dead letters for a run of consecutive messages of one partition. */
  async process(messages: KafkaMessage[], heartbeat: () => Promise<void> = async () => {}): Promise<{ results: ProvisioningResult[]; dead: { result: ProvisioningResult; message: KafkaMessage; attempts: number }[] }> {
    const results: ProvisioningResult[] = [];
    const dead: { result: ProvisioningResult; message: KafkaMessage; attempts: number }[] = [];
    const decoded: { key: string; event: PersonChanged; message: KafkaMessage }[] = [];
    for (const m of messages) {
      try {
        const event = await this.codec.decode('PersonChanged', m.value!);
        if (addressed(event, this.target.name)) decoded.push({ key: event.personId, event, message: m });
      } catch (e) {
        const key = m.key?.toString() ?? 'unknown';
        const event = { eventId: `undecodable:${m.offset}`, personId: key, changeType: 'REPROCESS', changeTime: Date.now() } as PersonChanged;
        const result = failedResult(event, this.target.name, Date.now(), Object.assign(new Error(`event at offset ${m.offset} cannot be decoded: ${(e as Error).message}`), { code: 'undecodable' }), []);
        this.log.error({ offset: m.offset, key }, 'undecodable event: dead-lettered');
        results.push(result);
        dead.push({ result, message: m, attempts: 1 });
      }
    }
    this.counts.events += decoded.length;
    metrics.events.inc({ target: this.target.name }, decoded.length);
    for (const wave of waves(decoded)) {
      const out = await this.reconcileWave(wave.map((w) => w.event));
      await heartbeat();
      out.forEach((r, i) => {
        results.push(r.result);
        if (r.result.outcome === 'FAILED') dead.push({ result: r.result, message: wave[i]!.message, attempts: r.attempts });
      });
    }
    return { results, dead };
  }

  /**
   * One wave: different people, so all at once. Reads and plans in parallel, applies in one batch
   * where the target can, and retries people whose failure was transient (re-reading and
   * re-planning them, so a retry never repeats an effect that already happened).
   */
  private async reconcileWave(events: PersonChanged[]): Promise<{ result: ProvisioningResult; attempts: number }[]> {
    const out = new Array<{ result: ProvisioningResult; attempts: number }>(events.length);
    let pending = events.map((e, i) => ({ e, i }));
    const rt = this.cfg.runtime;
    for (let attempt = 1; pending.length; attempt++) {
      const retry: { e: PersonChanged; i: number; err: unknown }[] = [];
      const prepared = await mapLimit(pending, rt.concurrency, async ({ e, i }) => {
        try {
          return { i, p: await prepare(e, this.deps) };
        } catch (err) {
          if (!isTransient(err)) return { i, p: { kind: 'done', event: e, result: failedResult(e, this.target.name, Date.now(), err, this.deps.secrets) } as Prepared };
          retry.push({ e, i, err });
          return undefined;
        }
      });
      const toApply: { i: number; p: Extract<Prepared, { kind: 'apply' }> }[] = [];
      for (const x of prepared) {
        if (!x) continue;
        if (x.p.kind === 'done') out[x.i] = { result: x.p.result, attempts: attempt };
        else toApply.push({ i: x.i, p: x.p });
      }
      if (toApply.length) {
        const t0 = Date.now();
        const applied = await this.applyAll(toApply.map((x) => x.p));
        await settleGuard(toApply.map((x) => x.p), applied, this.deps);
        const secs = (Date.now() - t0) / 1000 / toApply.length;
        toApply.forEach((x, k) => {
          const a = applied[k]!;
          if ('ok' in a) {
            metrics.applySeconds.observe({ target: this.target.name }, secs);
            out[x.i] = { result: appliedResult(x.p, a.ok, this.deps), attempts: attempt };
          } else if (isTransient(a.err)) {
            retry.push({ e: x.p.event, i: x.i, err: a.err });
          } else {
            out[x.i] = { result: { ...failedResult(x.p.event, this.target.name, x.p.started, a.err, this.deps.secrets), entitled: x.p.person.entitled }, attempts: attempt };
          }
        });
      }
      if (!retry.length) break;
      if (attempt > rt.maxRetries) {
        for (const r of retry) {
          out[r.i] = { result: failedResult(r.e, this.target.name, Date.now(), r.err, this.deps.secrets), attempts: attempt };
          this.log.error({ person: r.e.personId, err: (r.err as Error).message, attempts: attempt }, 'retries exhausted: dead-lettered');
        }
        break;
      }
      this.counts.retries += retry.length;
      metrics.retries.inc({ target: this.target.name }, retry.length);
      // Exponential backoff with full jitter; a server's Retry-After is a floor.
      const retryAfter = Math.max(0, ...retry.map((r) => (r.err instanceof TransientError ? r.err.retryAfterMs ?? 0 : 0)));
      const backoff = Math.min(rt.retryMaxMs, rt.retryBaseMs * 2 ** (attempt - 1));
      const wait = Math.max(retryAfter, Math.random() * backoff);
      this.log.warn({ people: retry.length, attempt, waitMs: Math.round(wait), err: (retry[0]!.err as Error).message }, 'transient failure: retrying');
      await sleep(wait);
      pending = retry.map(({ e, i }) => ({ e, i }));
    }
    return out;
  }

  /**
   * Each person's operation results, or what went wrong for that person: one person's failure
   * never fails the others of the wave. A batch that throws as a whole fails (or retries) all of
   * its people; a target that can tell them apart reports per item instead.
   */
  private async applyAll(items: Extract<Prepared, { kind: 'apply' }>[]): Promise<({ ok: OperationResult[] } | { err: unknown })[]> {
    const t = this.target;
    if (t.applyBatch) {
      try {
        const results = await t.applyBatch(items.map((p) => ({ person: p.person, desired: p.desired, actual: p.actual, plan: p.plan })), this.client, this.deps.ctx);
        return results.map((ok) => ({ ok }));
      } catch (err) {
        return items.map(() => ({ err }));
      }
    }
    return mapLimit(items, this.cfg.runtime.concurrency, async (p) => {
      try {
        return { ok: await t.apply(p.plan, this.client, this.deps.ctx, p.person) };
      } catch (err) {
        return { err };
      }
    });
  }

  private async commit(out: { results: ProvisioningResult[]; dead: { result: ProvisioningResult; message: KafkaMessage; attempts: number }[] }, topic: string, partition: number, lastOffset: string): Promise<void> {
    const results = await Promise.all(out.results.map(async (r) => ({
      key: r.personId, value: await this.codec.encode('ProvisioningResult', this.topics.provisioningResult, r),
      headers: { 'tilgang-event': 'ProvisioningResult', 'tilgang-target': r.target },
    })));
    const dead = out.dead.map((d) => dlqMessage(d.result, { topic, partition, offset: d.message.offset, key: d.message.key, value: d.message.value, attempts: d.attempts }));
    await this.txn.run(async () => {
      const txn = await this.producer.transaction();
      try {
        if (results.length) await txn.send({ topic: this.topics.provisioningResult, messages: results });
        if (dead.length) await txn.send({ topic: this.topics.dlq, messages: dead });
        await txn.sendOffsets({ consumerGroupId: this.groupId, topics: [{ topic, partitions: [{ partition, offset: String(Number(lastOffset) + 1) }] }] });
        await txn.commit();
      } catch (e) {
        await txn.abort().catch(() => {});
        // The batch will be redelivered and re-planned; a fresh producer (same transactional id)
        // fences whatever the old one left open, e.g. after a broker restart.
        await this.producer.disconnect().catch(() => {});
        this.producer = this.newProducer();
        await this.producer.connect().catch(() => {});
        throw e;
      }
    });
    this.counts.results += out.results.length;
    this.counts.dlq += dead.length;
    for (const r of out.results) metrics.results.inc({ target: r.target, outcome: r.outcome });
    if (dead.length) metrics.dlq.inc({ target: this.target.name }, dead.length);
  }
}

