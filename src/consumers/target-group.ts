import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { describeIssues, kafkaName, resolvedSecrets } from '../config.js';
import { A } from '../directory/attributes.js';
import { Directory } from '../directory/client.js';
import { mapLimit } from '../lib/concurrency.js';
import { withDeadline, type DependencyHealth } from '../lib/health.js';
import { eq } from '../lib/ldap/filter.js';
import { ensureTopicsOn, FencedError, resultsTopicSpec, topicSettings, PartitionTransactions, ResilientConsumer, type EachBatchPayload, type Kafka, type KafkaMessage } from '../lib/kafka.js';
import { child } from '../lib/log.js';
import { metrics } from '../lib/metrics.js';
import { MvReader, MvUnavailableError } from '../mv/person.js';
import { EventCodec, isRegistryUnreachable } from '../schemas/codec.js';
import type { PersonChanged, ProvisioningResult } from '../schemas/generated.js';
import { backoffDelay, sleep } from '../lib/backoff.js';
import { dlqMessage, dlqTopic, dlqTopicSpec } from './dlq.js';
import { isThrottled, isTransient, TransientError } from '../spi/index.js';
import { MassChangeGuard, type GuardSettings } from './guard.js';
import { Availability } from './availability.js';
import { checkTarget } from './check.js';
import { coalesce, finishedPrefix, waves, type ChunkEvent } from './coalesce.js';
import { addressed, appliedResult, failedResult, prepareWave, settleGuard, type Prepared, type ReconcileDeps } from './reconcile.js';
import type { AnyStream, AnyTarget, OperationResult, StreamEvent, TargetContext } from '../spi/index.js';
import { streamFor } from '../streams/index.js';

export interface TargetGroupOptions {
  groupId?: string;
  /** Streams beyond the shipped ones, for a target that names one (tests plug their own). */
  streams?: AnyStream[];
  /** Overrides for tests that isolate themselves (`personChanged`: the stream's topic). */
  topics?: { personChanged?: string; provisioningResult?: string; dlq?: string; reprocess?: string };
  peopleDn?: string;
  fromBeginning?: boolean;
  /** Offsets are committed after at most this many events of a partition's batch. */
  chunkSize?: number;
  /** Called after apply, before the results and offsets are committed (crash tests use it). */
  beforeCommit?: () => Promise<void>;
  /** Called after each commit of a partition's chunk, with the error when it was refused (fencing tests use it). */
  afterCommit?: (partition: number, err?: Error) => void;
  /** Cap of the backoff between probes of an unavailable target (default a minute). */
  probeMaxMs?: number;
}

/** The mass-change guard's settings for a target: the defaults and the target's overrides. */
export function guardSettingsFor(cfg: Config, target: string): GuardSettings {
  const g = cfg.runtime.guard;
  const o = g.targets[target] ?? {};
  return { maxOperations: o.maxOperations ?? g.maxOperations, maxShare: o.maxShare ?? g.maxShare, minAccounts: o.minAccounts ?? g.minAccounts, windowMinutes: o.windowMinutes ?? g.windowMinutes };
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
  /** What the events are about and how a wave of their subjects is loaded. */
  readonly stream: AnyStream;
  private consumer!: ResilientConsumer;
  private txns!: PartitionTransactions;
  private directory!: Directory;
  private mv!: MvReader;
  private guard!: MassChangeGuard;
  private client: unknown;
  private deps!: ReconcileDeps;
  private ready = false;
  private readonly topics: { personChanged: string; provisioningResult: string; dlq: string; reprocess: string };
  private accountsCache = { at: 0, n: 0 };
  private stopping = false;
  /** Events in flight that a stop left uncommitted. */
  private unfinished = 0;
  private availability!: Availability;
  /** When the target last answered a read or an apply. */
  private lastAnswerAt = 0;
  readonly counts = { events: 0, results: 0, dlq: 0, retries: 0, coalesced: 0, assignments: 0 };

  constructor(private readonly cfg: Config, private readonly kafka: Kafka, readonly target: AnyTarget, private readonly opts: TargetGroupOptions = {}) {
    this.groupId = opts.groupId ?? kafkaName(cfg, `tilgang.${target.name}`);
    this.log = child({ component: 'target-group', target: target.name });
    this.codec = new EventCodec(cfg.registry);
    this.stream = streamFor(target, opts.streams);
    this.topics = {
      personChanged: opts.topics?.personChanged ?? this.stream.topic(cfg),
      provisioningResult: opts.topics?.provisioningResult ?? cfg.kafka.topics.provisioningResult,
      dlq: opts.topics?.dlq ?? dlqTopic(target.name, cfg.kafka.prefix),
      // Where the people an operation asks to reprocess go: the person stream's topic.
      reprocess: opts.topics?.reprocess ?? cfg.kafka.topics.personChanged,
    };
  }

  /**
   * Ready while started, while the target (and what the group waits for) answers, and while the
   * directory and MV answer (each is also on /readyz by name).
   */
  isReady(): boolean {
    return this.ready && !this.availability?.outage && this.dependencies().every((d) => d.ready);
  }

  dependencies(): DependencyHealth[] {
    return [this.directory?.health, this.mv?.health].filter((h): h is DependencyHealth => !!h);
  }

  /** Why the group is not ready, for /readyz. */
  notReadyReason(): string | undefined {
    if (!this.ready) return this.stopping ? 'stopping' : 'starting';
    return this.availability?.reason();
  }

  /** The outage the group is waiting out, if any. */
  get outage() {
    return this.availability?.outage;
  }

  /** Validates the target's configuration block; a wrong value names its path. */
  static targetConfig(cfg: Config, target: AnyTarget): any {
    const r = target.config.safeParse(cfg.targets[target.name] ?? {});
    if (!r.success) throw new Error(`invalid configuration for target ${target.name}:\n${describeIssues(r.error, `targets.${target.name}`)}`);
    return r.data;
  }

  guardSettings(): GuardSettings {
    return guardSettingsFor(this.cfg, this.target.name);
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
    await ensureTopicsOn(this.kafka, [
      { topic: this.topics.personChanged, partitions: this.cfg.kafka.partitions },
      resultsTopicSpec(this.cfg, this.topics.provisioningResult),
      dlqTopicSpec(this.cfg, this.topics.dlq),
      ...(this.topics.reprocess !== this.topics.personChanged ? [{ topic: this.topics.reprocess, partitions: this.cfg.kafka.partitions }] : []),
    ], topicSettings(this.cfg));
    await this.codec.register('ProvisioningResult', this.topics.provisioningResult);
    // Registered before the first commit: registering concurrently from many encodes races in the registry.
    await this.codec.register('PersonChanged', this.topics.reprocess);
    this.txns = new PartitionTransactions(this.kafka, this.groupId);
    this.availability = new Availability(this.target.name, this.log, { pause: () => this.consumer.pause(), resume: () => this.consumer.resume() },
      { baseMs: this.cfg.runtime.retryBaseMs, maxMs: this.opts.probeMaxMs ?? 60_000 },
      this.target.check ? () => this.targetAnswers() : undefined);
    this.deps = {
      target: this.target, ctx, client: this.client, stream: this.stream, directory: this.directory, mv: this.mv, guard: this.guard,
      guardSettings: this.guardSettings(), totalAccounts: () => this.totalAccounts(),
      sensitive: this.cfg.directory.sensitive, secrets: resolvedSecrets(),
    };
    const session = this.cfg.runtime.sessionTimeoutMs;
    this.consumer = new ResilientConsumer(this.kafka,
      {
        groupId: this.groupId, readUncommitted: false, sessionTimeout: session, heartbeatInterval: this.heartbeatMs(),
        // A rebalance waits this long for a member busy with a chunk; a chunk is bounded well under it.
        rebalanceTimeout: Math.max(60_000, 2 * session), maxWaitTimeInMs: 100,
      },
      async (c) => {
        await c.subscribe({ topic: this.topics.personChanged, fromBeginning: this.opts.fromBeginning ?? true });
        await c.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: this.cfg.runtime.partitionsConcurrently,
          eachBatch: (p) => this.onBatch(p),
        });
      }, this.target.name, (assigned) => {
        if (assigned.length) this.counts.assignments++;
        this.txns.assign(assigned);
        this.availability.reassert();
      });
    await this.consumer.start();
    this.ready = true;
  }

  /**
   * SIGTERM: retries and waits end, the batches in flight commit what they finished, then the
   * member leaves the group. Says how many events in flight were left for the next owner, and
   * whether the group was waiting out an outage (its events wait in Kafka).
   */
  async stop(): Promise<{ unfinished: number; outage: boolean }> {
    this.ready = false;
    this.stopping = true;
    const outage = !!this.availability?.outage;
    this.availability?.stop();
    await this.consumer?.stop();
    await this.txns?.close();
    await this.directory?.close();
    await this.mv?.close().catch(() => {});
    if (this.client && this.target.close) await this.target.close(this.client).catch(() => {});
    return { unfinished: this.unfinished, outage };
  }

  /** kafkajs heartbeats only when asked; a third of the session, at most every second. */
  private heartbeatMs(): number {
    return Math.min(1_000, Math.floor(this.cfg.runtime.sessionTimeoutMs / 3));
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
    const { topic, partition } = batch;
    // kafkajs heartbeats only between batches and when asked: while this batch reads, applies,
    // waits and retries, a timer keeps the member in the group. A failed heartbeat means the
    // group is rebalancing or has dropped this member: finish what is done and let go.
    let rebalancing = false;
    const beat = setInterval(() => {
      heartbeat().catch(() => { rebalancing = true; });
    }, this.heartbeatMs());
    const ctl: BatchControl = {
      halted: () => this.stopping || !isRunning() || isStale() || rebalancing,
      // Before an effect: the broker confirms the membership (a heartbeat goes out whenever the
      // last one is older than the interval, e.g. after this process was stalled).
      mayApply: async () => {
        if (ctl.halted()) return false;
        try {
          await heartbeat();
          return true;
        } catch {
          rebalancing = true;
          return false;
        }
      },
    };
    try {
      let from: number | undefined;
      try {
        // Opening the partition's producer fences its previous owner; what that owner committed is done.
        from = await this.txns.claim(topic, partition);
      } catch (e) {
        if (e instanceof FencedError) this.log.debug({ partition }, 'partition lost to another worker: waiting for the rebalance');
        else this.log.warn({ partition, err: (e as Error).message }, 'cannot open the partition\'s transactional producer; the batch comes again');
        await this.pause(500, ctl);
        return;
      }
      const todo = from === undefined ? batch.messages : batch.messages.filter((m) => Number(m.offset) >= from);
      if (todo.length < batch.messages.length) {
        const done = batch.messages.filter((m) => Number(m.offset) < from!);
        resolveOffset(done[done.length - 1]!.offset);
      }
      const chunk = this.opts.chunkSize ?? 500;
      for (let i = 0; i < todo.length; i += chunk) {
        if (ctl.halted()) {
          this.left(todo.length - i);
          return;
        }
        const messages = todo.slice(i, i + chunk);
        const out = await this.process(messages, ctl);
        if (out.finished) {
          await this.opts.beforeCommit?.();
          const last = messages[out.finished - 1]!.offset;
          try {
            await this.commit(out, topic, partition, last);
          } catch (e) {
            this.opts.afterCommit?.(partition, e as Error);
            if (e instanceof FencedError) {
              // Another worker owns the partition now and redoes this chunk; its results count, ours are void.
              this.log.warn({ partition, err: e.message }, 'commit refused: the partition has another owner');
              return;
            }
            throw e;
          }
          this.opts.afterCommit?.(partition);
          // The transaction committed the group's offset; this moves the consumer's own fetch position.
          resolveOffset(last);
        }
        if (out.finished < messages.length) {
          // The rest comes again: after the outage, the rebalance, or to the next owner.
          this.left(todo.length - i - out.finished);
          return;
        }
      }
    } finally {
      clearInterval(beat);
    }
  }

  /** Events a stopping or interrupted batch left uncommitted (the next owner or start does them). */
  private left(n: number): void {
    if (this.stopping) this.unfinished += n;
  }

  /** Sleeps, waking early when the batch is to stop. */
  private async pause(ms: number, ctl: BatchControl): Promise<void> {
    const until = Date.now() + ms;
    while (!ctl.halted() && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
  }

  private retryWait(attempt: number, errs: unknown[]): number {
    const rt = this.cfg.runtime;
    // Exponential backoff with full jitter; a server's Retry-After is a floor.
    const retryAfter = Math.max(0, ...errs.map((e) => (e instanceof TransientError ? e.retryAfterMs ?? 0 : 0)));
    return backoffDelay({ baseMs: rt.retryBaseMs, capMs: Math.max(rt.retryBaseMs, rt.retryMaxMs), jitter: 'full' }, attempt, retryAfter);
  }

  /**
   * Whether the target answers at all, by its check when it has one: tells a person whose calls
   * keep failing from a target that is down.
   */
  private async targetAnswers(): Promise<boolean> {
    if (!this.target.check) return false;
    try {
      await withDeadline(this.target.check(this.client, this.deps.ctx), 10_000, () => new Error('check timed out'));
      return true;
    } catch {
      return false;
    }
  }

  /** While the group probes an outage, one retry is enough to tell whether it is over. */
  private maxRetries(): number {
    return this.availability.outage ? Math.min(1, this.cfg.runtime.maxRetries) : this.cfg.runtime.maxRetries;
  }

  /**
   * Decodes an event. Bytes that cannot be decoded are poison; a registry that cannot be reached
   * is retried, and past the retries the event stays unfinished while the group waits for it.
   */
  private async decode(m: KafkaMessage, ctl: BatchControl): Promise<{ event: StreamEvent } | { poison: Error } | { pending: true }> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (!m.value) throw new Error('the message has no value');
        const event = await this.codec.decodeEvent<StreamEvent>(m.value, this.stream.schema);
        // A later or foreign version of the schema may lack what the runtime keys and answers by.
        const key = this.stream.key(event);
        if (typeof key !== 'string' || key === '' || typeof event.eventId !== 'string') {
          return { poison: new Error(`the ${this.stream.schema} names no ${typeof key !== 'string' || key === '' ? 'subject (its key field is missing or empty)' : 'eventId'}`) };
        }
        return { event };
      } catch (e) {
        // A registry that cannot be reached is an outage; bytes that are not an event are poison.
        if (!isTransient(e) && !isRegistryUnreachable(e)) return { poison: e as Error };
        if (attempt > this.maxRetries() || ctl.halted()) {
          if (!ctl.halted()) this.availability.unavailable('registry', (e as Error).message);
          return { pending: true };
        }
        this.log.warn({ attempt, err: (e as Error).message }, 'schema registry unreachable: retrying');
        await this.pause(this.retryWait(attempt, [e]), ctl);
      }
    }
  }

  /**
   * Results and dead letters for a run of consecutive messages of one partition, and how many of
   * them, from the start, are finished (the offset moves past those only). A person's events are
   * coalesced into one reconcile; different people run in parallel.
   */
  async process(messages: KafkaMessage[], ctl: BatchControl = { halted: () => false, mayApply: async () => true }): Promise<ChunkOutput> {
    const n = messages.length;
    const results = new Array<ProvisioningResult[]>(n);
    const dead = new Array<DeadLetterEntry | undefined>(n);
    const finished = new Array<boolean>(n).fill(false);
    const reprocess = new Array<PersonChanged[] | undefined>(n);
    const events: ChunkEvent<StreamEvent>[] = [];
    for (let i = 0; i < n; i++) {
      const m = messages[i]!;
      const d = await this.decode(m, ctl);
      if ('pending' in d) break; // everything from here on comes again
      finished[i] = true;
      if ('poison' in d) {
        const key = m.key?.toString() ?? 'unknown';
        const event = this.stream.undecodable(key, m.offset);
        const result = failedResult(event, key, this.target.name, Date.now(), Object.assign(new Error(`event at offset ${m.offset} cannot be decoded: ${d.poison.message}`), { code: 'undecodable' }), this.deps.secrets);
        this.log.error({ offset: m.offset, key }, 'undecodable event: dead-lettered');
        results[i] = [result];
        dead[i] = { result, message: m, attempts: 1 };
        continue;
      }
      if (!addressed(d.event, this.target.name)) continue;
      finished[i] = false;
      events.push({ index: i, key: this.stream.key(d.event), work: `${d.event.runId ?? ''}|${d.event.logOnly ? 1 : 0}`, event: d.event });
    }
    this.counts.events += events.length;
    metrics.events.inc({ target: this.target.name }, events.length);
    const works = coalesce(events);
    this.counts.coalesced += events.length - works.length;
    const blocked = new Set<string>(); // people with unfinished work: their later work waits too
    const planned = waves(works);
    // While an outage lasts, one person probes before the rest of the chunk is tried.
    if (this.availability.outage && (planned[0]?.length ?? 0) > 1) planned.splice(0, 1, planned[0]!.slice(0, 1), planned[0]!.slice(1));
    for (const wave of planned) {
      if (ctl.halted()) break;
      const todo = wave.filter((w) => !blocked.has(w.key));
      const out = await this.reconcileWave(todo.map((w) => w.carrier.event), ctl);
      todo.forEach((w, k) => {
        const r = out[k];
        if (!r) {
          blocked.add(w.key);
          return;
        }
        results[w.carrier.index] = [r.result];
        finished[w.carrier.index] = true;
        if (r.reprocess?.length) reprocess[w.carrier.index] = reprocessEvents(w.carrier.event, r.reprocess, this.stream.name);
        if (r.result.outcome === 'FAILED') dead[w.carrier.index] = { result: r.result, message: messages[w.carrier.index]!, attempts: r.attempts };
        for (const c of w.coalesced) {
          results[c.index] = [coalescedResult(r.result, c.event, w.carrier.event)];
          finished[c.index] = true;
        }
      });
      if (this.availability.outage) break; // the rest waits for the outage to end
    }
    const k = finishedPrefix(finished);
    return {
      results: results.slice(0, k).flatMap((r) => r ?? []),
      dead: dead.slice(0, k).filter((d): d is DeadLetterEntry => !!d),
      reprocess: onePerPerson(reprocess.slice(0, k).flatMap((r) => r ?? [])),
      finished: k,
    };
  }

  /**
   * One wave: different people, so all at once. Reads and plans in parallel, applies in one batch
   * where the target can, and retries people whose failure was transient (re-reading and
   * re-planning them, so a retry never repeats an effect that already happened). A person whose
   * failure stays transient past the retries is left unfinished (undefined), not dead-lettered:
   * the group pauses and probes until the dependency answers again.
   *
   * `alone`: the wave is one person retried by itself (see below), so its failures are its own.
   */
  private async reconcileWave(events: StreamEvent[], ctl: BatchControl, alone = false): Promise<(WaveResult | undefined)[]> {
    const out = new Array<WaveResult | undefined>(events.length);
    let pending = events.map((e, i) => ({ e, i }));
    const rt = this.cfg.runtime;
    const maxRetries = this.maxRetries();
    let gotThrough = false;
    for (let attempt = 1; pending.length; attempt++) {
      const began = Date.now();
      const retry: { e: StreamEvent; i: number; err: unknown }[] = [];
      // The wave's subjects are loaded at once (for people: one directory search, one MV query).
      const prepared = (await prepareWave(pending.map((x) => x.e), this.deps)).map((r, k) => {
        const { e, i } = pending[k]!;
        if ('p' in r) return { i, p: r.p };
        const key = this.stream.key(e);
        if (!isTransient(r.err)) return { i, p: { kind: 'done', event: e, key, result: failedResult(e, key, this.target.name, Date.now(), r.err, this.deps.secrets) } as Prepared };
        retry.push({ e, i, err: r.err });
        return undefined;
      });
      const toApply: { i: number; p: Extract<Prepared, { kind: 'apply' }> }[] = [];
      for (const x of prepared) {
        if (!x) continue;
        gotThrough = true;
        if (x.p.kind === 'apply' || ['UNCHANGED', 'PLANNED', 'HELD'].includes(x.p.result.outcome)) this.lastAnswerAt = Date.now();
        if (x.p.kind === 'done') out[x.i] = { result: x.p.result, attempts: attempt };
        else toApply.push({ i: x.i, p: x.p });
      }
      if (toApply.length) {
        const t0 = Date.now();
        const applied = await this.applyAll(toApply.map((x) => x.p), ctl);
        // What was held back was not applied: its guard ticket counts nothing.
        await settleGuard(toApply.map((x) => x.p), applied.map((a) => ('held' in a ? { err: a } : a)), this.deps);
        const secs = (Date.now() - t0) / 1000 / toApply.length;
        toApply.forEach((x, k) => {
          const a = applied[k]!;
          if ('held' in a) return; // not applied: this worker may no longer own the partition
          if ('ok' in a) {
            this.lastAnswerAt = Date.now();
            metrics.applySeconds.observe({ target: this.target.name }, secs);
            const follow = a.ok.flatMap((r) => (r.outcome === 'APPLIED' && r.reprocess ? [r.reprocess] : []));
            out[x.i] = { result: appliedResult(x.p, a.ok, this.deps), attempts: attempt, ...(follow.length ? { reprocess: follow } : {}) };
          } else if (isTransient(a.err)) {
            retry.push({ e: x.p.event, i: x.i, err: a.err });
          } else {
            out[x.i] = { result: { ...failedResult(x.p.event, x.p.key, this.target.name, x.p.started, a.err, this.deps.secrets), entitled: x.p.person.entitled }, attempts: attempt };
          }
        });
      }
      if (!retry.length) break;
      if (attempt > maxRetries || ctl.halted()) {
        if (ctl.halted()) return out;
        const dependency = dependencyOf(retry[0]!.err);
        // The target answered during this last attempt (another call, or its check): these people's
        // failure is their own, and waiting for the target would hold everyone behind them.
        // Dead-letter them. A target that went down answers nothing after it did.
        // A target asking to slow down (429, Retry-After) says nothing about the people it refused:
        // they wait with the rest, as in an outage (seen: course lookups of a wave rate-limited).
        const own = retry.filter((r) => !isThrottled(r.err));
        if (dependency === 'target' && own.length && (this.lastAnswerAt >= began || await this.targetAnswers())) {
          // A failure shared by a batched call is no evidence against any one of its people: one lost
          // answer or 503 fails every person of a create_users call, and a batch unlucky in each of its
          // attempts would be dead-lettered whole (seen: 43 people for one injected lost answer). Each
          // is retried by itself first; what still fails alone, while the target answers, is its own.
          if (!alone && pending.length > 1) {
            this.log.warn({ people: own.length, attempts: attempt, err: (own[0]!.err as Error).message }, 'retries exhausted in a shared call: retrying each person alone');
            const single = await mapLimit(own, this.cfg.runtime.concurrency, (r) => this.reconcileWave([r.e], ctl, true));
            own.forEach((r, k) => { const w = single[k]![0]; if (w) out[r.i] = { ...w, attempts: w.attempts + attempt }; });
          } else {
            for (const r of own) {
              out[r.i] = { result: failedResult(r.e, this.stream.key(r.e), this.target.name, Date.now(), r.err, this.deps.secrets), attempts: attempt };
              this.log.error({ person: this.stream.key(r.e), err: (r.err as Error).message, attempts: attempt }, 'retries exhausted while the target answers: dead-lettered');
            }
          }
        }
        // Those not finished above wait: the dependency is down, or the target asks to slow down.
        const waiting = retry.filter((r) => !out[r.i]);
        if (!waiting.length) {
          this.availability.available();
          return out;
        }
        const err = waiting[0]!.err as Error;
        const waitingOn = dependencyOf(err);
        this.log.warn({ people: waiting.length, attempts: attempt, dependency: waitingOn, err: err.message }, 'transient failure outlasted the retries: the events wait, nothing is dead-lettered');
        this.availability.unavailable(waitingOn, err.message);
        return out;
      }
      this.counts.retries += retry.length;
      metrics.retries.inc({ target: this.target.name }, retry.length);
      const wait = this.retryWait(attempt, retry.map((r) => r.err));
      this.log.warn({ people: retry.length, attempt, waitMs: Math.round(wait), err: (retry[0]!.err as Error).message }, 'transient failure: retrying');
      await this.pause(wait, ctl);
      if (ctl.halted()) return out;
      pending = retry.map(({ e, i }) => ({ e, i }));
    }
    if (gotThrough) this.availability.available();
    return out;
  }

  /**
   * Each person's operation results, or what went wrong for that person: one person's failure
   * never fails the others of the wave. A batch that throws as a whole fails (or retries) all of
   * its people; a target that can tell them apart reports per item instead. Before each effect the
   * membership is confirmed; `held` marks people not applied because it was not.
   */
  private async applyAll(items: Extract<Prepared, { kind: 'apply' }>[], ctl: BatchControl): Promise<({ ok: OperationResult[] } | { err: unknown } | { held: true })[]> {
    const t = this.target;
    if (t.applyBatch) {
      if (!(await ctl.mayApply())) return items.map(() => ({ held: true as const }));
      try {
        const results = await t.applyBatch(items.map((p) => ({ person: p.person, desired: p.desired, actual: p.actual, plan: p.plan })), this.client, this.deps.ctx);
        return results.map((ok) => ({ ok }));
      } catch (err) {
        return items.map(() => ({ err }));
      }
    }
    return mapLimit(items, this.cfg.runtime.concurrency, async (p) => {
      if (!(await ctl.mayApply())) return { held: true as const };
      try {
        return { ok: await t.apply(p.plan, this.client, this.deps.ctx, p.person) };
      } catch (err) {
        return { err };
      }
    });
  }

  private async commit(out: ChunkOutput, topic: string, partition: number, lastOffset: string): Promise<void> {
    const results = await Promise.all(out.results.map(async (r) => ({
      key: r.personId, value: await this.codec.encode('ProvisioningResult', this.topics.provisioningResult, r),
      headers: { 'tilgang-event': 'ProvisioningResult', 'tilgang-target': r.target },
    })));
    const dead = out.dead.map((d) => dlqMessage(d.result, { topic, partition, offset: d.message.offset, key: d.message.key, value: d.message.value, attempts: d.attempts }));
    const follow = await Promise.all((out.reprocess ?? []).map(async (e) => ({
      key: e.personId, value: await this.codec.encode('PersonChanged', this.topics.reprocess, e),
      headers: { 'tilgang-event': 'PersonChanged', 'tilgang-change': e.changeType },
    })));
    await this.txns.commit(topic, partition, [
      { topic: this.topics.provisioningResult, messages: results },
      { topic: this.topics.dlq, messages: dead },
      ...(follow.length ? [{ topic: this.topics.reprocess, messages: follow }] : []),
    ], Number(lastOffset) + 1);
    this.counts.results += out.results.length;
    this.counts.dlq += dead.length;
    for (const r of out.results) metrics.results.inc({ target: r.target, outcome: r.outcome });
    if (dead.length) metrics.dlq.inc({ target: this.target.name }, dead.length);
  }
}

type DeadLetterEntry = { result: ProvisioningResult; message: KafkaMessage; attempts: number };

/** A chunk's results and dead letters, for its first `finished` events, and the people its operations asked to reprocess. */
export interface ChunkOutput { results: ProvisioningResult[]; dead: DeadLetterEntry[]; reprocess?: PersonChanged[]; finished: number }

/**
 * A person several courses of a chunk ask for is reprocessed once per run and target set: the
 * event says "look at this person again", and one look sees every course.
 */
export function onePerPerson(events: PersonChanged[]): PersonChanged[] {
  const out = new Map<string, PersonChanged>();
  for (const e of events) {
    const key = `${e.personId}\u0000${e.runId ?? ''}\u0000${e.targets?.join(',') ?? '*'}`;
    if (!out.has(key)) out.set(key, e);
  }
  return [...out.values()];
}

/** One event's outcome in a wave: its result, and the people its applied operations asked to reprocess. */
type WaveResult = { result: ProvisioningResult; attempts: number; reprocess?: NonNullable<OperationResult['reprocess']>[] };

/**
 * REPROCESS events for the people operations asked to reprocess (a course made: its people),
 * under the run of the event that caused them; a person asked for twice is one event per target set.
 */
export function reprocessEvents(cause: StreamEvent, asks: NonNullable<OperationResult['reprocess']>[], source: string, now = Date.now()): PersonChanged[] {
  const out = new Map<string, PersonChanged>();
  for (const ask of asks) {
    for (const personId of ask.people) {
      const key = `${personId}\u0000${ask.targets?.join(',') ?? '*'}`;
      if (out.has(key)) continue;
      out.set(key, {
        eventId: randomUUID(), personId, changeType: 'REPROCESS', changedAttributes: [], oldDn: null, newDn: null, changeTime: now,
        changelogPosition: null, runId: cause.runId ?? null, mode: 'REPROCESS', logOnly: false, targets: ask.targets, source,
      });
    }
  }
  return [...out.values()];
}

/** What a batch may still do. */
export interface BatchControl {
  /** The batch is to finish what it has and start nothing new (stopping, rebalancing, partition lost). */
  halted(): boolean;
  /** Asked before each effect: false when this worker may no longer own the partition. */
  mayApply(): Promise<boolean>;
}

/** The result of an event whose work a later event of the same person did. */
export function coalescedResult(carried: ProvisioningResult, own: StreamEvent, carrier: StreamEvent): ProvisioningResult {
  return {
    ...carried, eventId: randomUUID(), sourceEventId: own.eventId, runId: own.runId ?? null, mode: own.mode ?? 'LIVE', logOnly: !!own.logOnly,
    operations: [], counters: {}, coalescedInto: carrier.eventId,
  };
}

/** Which dependency a transient failure is about, for the outage's name. */
function dependencyOf(e: unknown): string {
  if (e instanceof MvUnavailableError) return 'mv';
  return e instanceof TransientError && e.code === 'directory' ? 'directory' : 'target';
}
