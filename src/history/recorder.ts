import type { EachBatchPayload, Kafka } from 'kafkajs';
import type { Config } from '../config.js';
import { Backoff, sleep } from '../lib/backoff.js';
import { ensureTopicsOn, ResilientConsumer, resultsTopicSpec, topicSettings } from '../lib/kafka.js';
import { child } from '../lib/log.js';
import { metrics } from '../lib/metrics.js';
import { EventCodec, isRegistryUnreachable } from '../schemas/codec.js';
import type { ProvisioningResult } from '../schemas/generated.js';
import { HistoryStore } from './store.js';

export interface RecorderOptions {
  groupId?: string;
  /** The results topic (tests use their own). */
  topic?: string;
  /** How often results older than the retention are deleted (default hourly). */
  pruneEveryMs?: number;
  backoff?: { baseMs: number; capMs: number };
}

/**
 * The `tilgang.history` group: writes every provisioning.result into the results store. A batch
 * is inserted in one statement and its offsets committed after; a restart that reads some
 * results again inserts nothing twice (the row's key is the result's event id). When PostgreSQL
 * or the schema registry does not answer, the partition waits at that batch with backoff.
 * Bytes that are not a result are counted and passed over (the writeback dead-letters them).
 */
export class ResultsRecorder {
  readonly store: HistoryStore;
  private consumer!: ResilientConsumer;
  private readonly codec: EventCodec;
  private readonly log = child({ component: 'history' });
  private readonly topic: string;
  private pruner: NodeJS.Timeout | undefined;
  private started = false;
  private failingSince: Date | undefined;
  readonly counts = { results: 0, inserted: 0, undecodable: 0, retries: 0, pruned: 0 };

  constructor(private readonly cfg: Config, private readonly kafka: Kafka, private readonly opts: RecorderOptions = {}) {
    this.store = new HistoryStore(cfg);
    this.codec = new EventCodec(cfg.registry);
    this.topic = opts.topic ?? cfg.kafka.topics.provisioningResult;
  }

  isReady(): boolean {
    return this.started && !this.failingSince;
  }

  readiness(): string | undefined {
    return this.failingSince ? `cannot record results since ${this.failingSince.toISOString()}` : this.started ? undefined : 'starting';
  }

  async start(): Promise<void> {
    await this.store.ensure();
    await this.prune();
    await ensureTopicsOn(this.kafka, [resultsTopicSpec(this.cfg, this.topic)], topicSettings(this.cfg));
    this.consumer = new ResilientConsumer(this.kafka, { groupId: this.opts.groupId ?? this.cfg.history.groupId, readUncommitted: false, maxWaitTimeInMs: 200 }, async (c) => {
      await c.subscribe({ topic: this.topic, fromBeginning: true });
      await c.run({ partitionsConsumedConcurrently: 4, eachBatchAutoResolve: false, autoCommitInterval: 2_000, eachBatch: (p) => this.onBatch(p) });
    }, 'history');
    await this.consumer.start();
    const every = this.opts.pruneEveryMs ?? 3_600_000;
    this.pruner = setInterval(() => void this.prune(), every);
    this.pruner.unref();
    this.started = true;
  }

  async stop(): Promise<void> {
    this.started = false;
    clearInterval(this.pruner);
    await this.consumer?.stop();
    await this.store.close();
  }

  /** Deletes what is older than the retention; a failure waits for the next round. */
  async prune(): Promise<number> {
    try {
      const n = await this.store.prune(this.cfg.history.retentionDays);
      this.counts.pruned += n;
      if (n) this.log.info({ results: n, retentionDays: this.cfg.history.retentionDays }, 'results older than the retention deleted');
      return n;
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'pruning the results store failed; trying again later');
      return 0;
    }
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> {
    if (!batch.messages.length) return;
    const backoff = new Backoff({ baseMs: this.opts.backoff?.baseMs ?? 500, capMs: this.opts.backoff?.capMs ?? 30_000 });
    for (;;) {
      if (!isRunning() || isStale()) return;
      try {
        const results: ProvisioningResult[] = [];
        for (const m of batch.messages) {
          try {
            results.push(await this.codec.decode('ProvisioningResult', m.value ?? Buffer.alloc(0)));
          } catch (e) {
            if (isRegistryUnreachable(e)) throw e;
            this.counts.undecodable++;
            this.log.error({ partition: batch.partition, offset: m.offset, err: (e as Error).message }, 'a message on the results topic is not a result: not recorded');
          }
        }
        const inserted = await this.store.insert(results);
        this.counts.results += results.length;
        this.counts.inserted += inserted;
        metrics.historyRecorded.inc(inserted);
        if (this.failingSince) this.log.info({ failedForMs: Date.now() - this.failingSince.getTime() }, 'results store recovered');
        this.failingSince = undefined;
        resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
        await commitOffsetsIfNecessary();
        await heartbeat();
        return;
      } catch (e) {
        const wait = backoff.next();
        this.counts.retries++;
        if (!this.failingSince) {
          this.failingSince = new Date();
          this.log.warn({ partition: batch.partition, err: (e as Error).message, retryInMs: wait }, 'cannot record results: backing off');
        }
        for (const until = Date.now() + wait; Date.now() < until && isRunning() && !isStale();) {
          await sleep(Math.min(1000, until - Date.now()));
          await heartbeat().catch(() => {});
        }
      }
    }
  }
}
