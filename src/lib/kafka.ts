import { Kafka, logLevel, type Admin, type Consumer, type ConsumerConfig, type EachBatchPayload, type KafkaMessage, type Message, type Producer } from 'kafkajs';
import type { Config } from '../config.js';
import { Backoff, sleep } from './backoff.js';
import { log } from './log.js';
import { kafkaClientSecurity } from './tls.js';
// Loaded for its effect: kafkajs clients keep their coordinators for a second (see the module).
import './kafka-coordinators.js';

export type { EachBatchPayload, Kafka, KafkaMessage, Message };

/**
 * States a broker passes through while it starts, elects leaders or loads its coordinators, and
 * races between workers creating the same topic: expected, retried by kafkajs or by us. They are
 * logged at debug level while they are young, and as warnings once they have lasted.
 */
const SETTLING = [
  /GROUP_COORDINATOR_NOT_AVAILABLE|coordinator is not available/i,
  /NOT_COORDINATOR|not the correct coordinator/i,
  /Failed to find group coordinator/i,
  /LEADER_NOT_AVAILABLE|no leader for this topic-partition|leadership election/i,
  /UNKNOWN_TOPIC_OR_PARTITION|does not host this topic-partition/i,
  /TOPIC_ALREADY_EXISTS|Topic with this name already exists|Topic creation errors/i,
  // A reply to a request the client gave up on when the connection was replaced.
  /Response without match/i,
  /The group is rebalancing, re-joining/i,
];
/** How long a settling state may last before it is worth a warning. */
export const SETTLING_GRACE_MS = 30_000;

/** Remembers since when each settling state has been seen without a pause; exported for its table test. */
export class SettlingStates {
  private readonly since = new Map<number, { first: number; last: number }>();
  constructor(private readonly graceMs = SETTLING_GRACE_MS, private readonly now = () => Date.now()) {}

  /** 'expected' while young (or not a settling state: undefined), 'lasting' once past the grace. */
  classify(text: string): 'expected' | 'lasting' | undefined {
    const i = SETTLING.findIndex((re) => re.test(text));
    if (i < 0) return undefined;
    const t = this.now();
    const s = this.since.get(i);
    // A state not seen for a grace period has ended; the next sighting starts it afresh.
    if (!s || t - s.last > this.graceMs) {
      this.since.set(i, { first: t, last: t });
      return 'expected';
    }
    s.last = t;
    return t - s.first > this.graceMs ? 'lasting' : 'expected';
  }
}

/**
 * One Kafka client per process. The short initial retry matters: back-to-back transactions get
 * CONCURRENT_TRANSACTIONS while the previous commit's markers are written, and kafkajs's default
 * 300 ms first retry would stall every transaction by a third of a second.
 */
export function makeKafka(cfg: Config, clientId = cfg.kafka.clientId): Kafka {
  const settling = new SettlingStates();
  return new Kafka({
    clientId,
    brokers: cfg.kafka.brokers,
    ...kafkaClientSecurity(cfg.kafka),
    retry: { initialRetryTime: 10, retries: 30 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log: entry }) => {
      const { message, ...rest } = entry;
      const text = `${String(rest.error ?? '')} ${message}`;
      // kafkajs reports CONCURRENT_TRANSACTIONS retries as errors; they are expected and retried.
      if (/CONCURRENT_TRANSACTIONS|concurrent operation on the same transaction|The coordinator is loading/.test(text)) return;
      // Transactions, not unlimited retries, give us exactly-once: an aborted send is re-planned.
      if (/Limiting retries for the idempotent producer|switched default partitioner/.test(message)) return;
      let l: 'error' | 'warn' | 'debug' = level === logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : 'debug';
      // A crash is never an expected state, whatever caused it: the consumer it names has stopped.
      const state = l === 'debug' || /^Crash:/.test(message) ? undefined : settling.classify(text);
      if (state === 'expected') l = 'debug';
      if (state === 'lasting') l = 'warn';
      log[l]({ kafka: namespace, ...rest }, message);
    },
  });
}

/** A topic tilgang creates when it is missing. `retentionMs` -1: kept until deleted on purpose. */
export interface TopicSpec { topic: string; partitions: number; compact?: boolean; retentionMs?: number | undefined }

/** How every topic tilgang creates is replicated (unset: the broker's defaults). */
export interface TopicSettings { replicationFactor?: number | undefined; minInsyncReplicas?: number | undefined }

export function topicSettings(cfg: Pick<Config, 'kafka'>): TopicSettings {
  return { replicationFactor: cfg.kafka.replicationFactor, minInsyncReplicas: cfg.kafka.minInsyncReplicas };
}

/** provisioning.result as it is created: kept for kafka.retention.resultsMs (default: the broker's retention). */
export function resultsTopicSpec(cfg: Pick<Config, 'kafka'>, topic = cfg.kafka.topics.provisioningResult): TopicSpec {
  return { topic, partitions: cfg.kafka.partitions, retentionMs: cfg.kafka.retention.resultsMs };
}

/** The topic-level settings a new topic is created with. */
export function topicConfigEntries(t: TopicSpec, s: TopicSettings = {}): { name: string; value: string }[] {
  return [
    ...(t.compact ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
    ...(t.retentionMs !== undefined ? [{ name: 'retention.ms', value: String(t.retentionMs) }] : []),
    ...(s.minInsyncReplicas !== undefined ? [{ name: 'min.insync.replicas', value: String(s.minInsyncReplicas) }] : []),
  ];
}

/**
 * Creates the topics that are missing, with the replication and retention asked for; existing ones
 * are left as they are. Several workers may create the same topic at once: whoever loses that race
 * waits until the topic is there.
 */
export async function ensureTopics(admin: Admin, topics: TopicSpec[], settings: TopicSettings = {}): Promise<void> {
  const backoff = new Backoff({ baseMs: 200, capMs: 2_000, jitter: 'full' });
  for (let attempt = 0; ; attempt++) {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (!missing.length) return;
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          ...(settings.replicationFactor ? { replicationFactor: settings.replicationFactor } : {}),
          configEntries: topicConfigEntries(t, settings),
        })),
      });
      return;
    } catch (e) {
      // A setting the cluster cannot meet (more replicas than brokers, an unknown config) does not heal.
      const refused = ((e as { errors?: { type?: string; message?: string; topic?: string }[] }).errors ?? [])
        .filter((x) => x.type === 'INVALID_REPLICATION_FACTOR' || x.type === 'INVALID_CONFIG' || x.type === 'POLICY_VIOLATION');
      if (refused.length) throw new Error(`Kafka refused to create ${refused.map((x) => `${x.topic ?? 'a topic'} (${x.type}: ${x.message})`).join('; ')}`);
      // "already exists", or the leader wait of a topic another worker was creating: look again.
      if (attempt >= 10) throw e;
      await sleep(backoff.next());
    }
  }
}

/** ensureTopics with a short-lived admin client of its own. */
export async function ensureTopicsOn(kafka: Kafka, topics: TopicSpec[], settings: TopicSettings = {}): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, topics, settings);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export interface TopicPartitions { topic: string; partitions: number[] }

/**
 * Keeps a consumer group member alive. kafkajs restarts a consumer after retriable errors only;
 * after a broker restart it can crash with a non-retriable one ("Failed to find group
 * coordinator") and stay down. This starts a fresh consumer then, with backoff, until stopped.
 * `onAssignment` hears every assignment the member is given (kafkajs's GROUP_JOIN), before the
 * first batch of it is handed out.
 */
export class ResilientConsumer {
  consumer: Consumer | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private assigned: TopicPartitions[] = [];
  /** Waits between restarts, growing until the member joins again; decorrelated, so members do not rejoin in lockstep. */
  private readonly backoff = new Backoff({ baseMs: 500, capMs: 30_000, jitter: 'decorrelated' });

  constructor(private readonly kafka: Kafka, private readonly config: ConsumerConfig, private readonly begin: (c: Consumer) => Promise<void>, private readonly name: string,
    private readonly onAssignment?: (assigned: TopicPartitions[]) => void) {}

  async start(attempt = 0): Promise<void> {
    if (this.stopped) return;
    const c = this.kafka.consumer(this.config);
    this.consumer = c;
    c.on(c.events.GROUP_JOIN, (e) => {
      // A member that joined is healthy: the next crash waits from the start of the backoff again.
      this.backoff.reset();
      this.assigned = Object.entries(e.payload.memberAssignment).map(([topic, partitions]) => ({ topic, partitions: partitions as number[] }));
      this.onAssignment?.(this.assigned);
    });
    c.on(c.events.CRASH, (e) => {
      if (e.payload.restart || this.stopped || this.consumer !== c) return;
      // The member is gone: nothing is assigned until the new consumer joins.
      this.assigned = [];
      this.onAssignment?.([]);
      this.retry(attempt, e.payload.error.message);
    });
    try {
      await c.connect();
      await this.begin(c);
    } catch (e) {
      if (this.stopped) return;
      await c.disconnect().catch(() => {});
      if (attempt === 0) throw e; // the first start reports its failure to the caller
      this.retry(attempt, (e as Error).message);
    }
  }

  private retry(attempt: number, err: string): void {
    const wait = this.backoff.next();
    log.warn({ group: this.config.groupId, consumer: this.name, err, retryInMs: wait }, 'consumer crashed; starting a new one');
    clearTimeout(this.timer);
    const old = this.consumer;
    this.timer = setTimeout(() => {
      // The crashed consumer disconnected itself; make sure, so its connections do not linger.
      void old?.disconnect().catch(() => {});
      this.start(attempt + 1).catch(() => {});
    }, wait);
  }

  /** Stops fetching these partitions (kafkajs keeps heartbeating), or all assigned ones. */
  pause(partitions: TopicPartitions[] = this.assigned): void {
    if (partitions.length) this.consumer?.pause(partitions);
  }

  resume(partitions: TopicPartitions[] = this.assigned): void {
    if (partitions.length) this.consumer?.resume(partitions);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.consumer?.stop().catch(() => {});
    await this.consumer?.disconnect().catch(() => {});
  }
}

/** A commit the group coordinator or the transaction coordinator refused because another owner took over. */
export class FencedError extends Error {
  override name = 'FencedError';
}

/** INVALID_PRODUCER_EPOCH (47), PRODUCER_FENCED (90; kafkajs does not know the name), or the texts they come with. */
export function isFenced(e: unknown): boolean {
  const x = e as { type?: string; code?: number; message?: string; cause?: unknown; originalError?: unknown } | undefined;
  if (!x) return false;
  if (x instanceof FencedError) return true;
  if (x.type === 'INVALID_PRODUCER_EPOCH' || x.type === 'PRODUCER_FENCED' || x.code === 47 || x.code === 90) return true;
  if (/old epoch|fenced|newer producer with the same transactionalId/i.test(x.message ?? '')) return true;
  return isFenced(x.cause) || isFenced(x.originalError);
}

interface Slot { producer: Producer; open: Promise<number | undefined>; busy: Promise<unknown> }

/**
 * Exactly-once for a consume → produce group the way Kafka had it before KIP-447: one
 * transactional producer per input partition, with the transactional id
 * `<group>.<topic>.<partition>`. Whoever is given the partition opens its producer before
 * reading anything from it, which bumps the id's epoch: a worker that lost the partition while
 * it was stalled (and still believes it owns it) has its transaction refused. kafkajs's
 * `sendOffsets` (TxnOffsetCommit v0) carries no group generation, so this fence is what stops
 * such a worker from committing results and offsets for events another worker has processed.
 */
export class PartitionTransactions {
  private readonly slots = new Map<string, Slot>();
  private admin: Admin | undefined;
  private assigned = new Set<string>();
  /** Partitions whose commit was refused: not claimed again before the next assignment, so the new owner is left alone. */
  private readonly lost = new Set<string>();
  readonly counts = { opened: 0, fenced: 0 };

  constructor(private readonly kafka: Kafka, readonly groupId: string, private readonly opts: { transactionTimeout?: number } = {}) {}

  static transactionalId(groupId: string, topic: string, partition: number): string {
    return `${groupId}.${topic}.${partition}`;
  }

  private key(topic: string, partition: number): string {
    return `${topic}|${partition}`;
  }

  /**
   * A new assignment: producers of revoked partitions are closed; those of partitions kept are
   * re-opened too, since another worker may have held them in between (this worker stalled, lost
   * them, and got them back).
   */
  assign(assigned: TopicPartitions[]): void {
    this.assigned = new Set(assigned.flatMap((a) => a.partitions.map((p) => this.key(a.topic, p))));
    this.lost.clear();
    for (const [k, slot] of this.slots) {
      this.slots.delete(k);
      void slot.busy.then(() => slot.producer.disconnect()).catch(() => {});
    }
    // Open (and fence) at once, not at the partition's next event: a worker that lost the
    // partition is refused even while no new event arrives. The first batch awaits the same claim.
    for (const a of assigned) for (const p of a.partitions) void this.claim(a.topic, p).catch(() => {});
  }

  /**
   * Opens the partition's producer if this assignment has not yet (fencing its previous owner,
   * waiting for that owner's open transaction to be committed or aborted), and returns the
   * group's committed offset as it stands after the fence: events below it are another owner's
   * finished work.
   */
  async claim(topic: string, partition: number): Promise<number | undefined> {
    const k = this.key(topic, partition);
    if (this.lost.has(k)) throw new FencedError(`partition ${topic}/${partition} has another owner; waiting for the next assignment`);
    let slot = this.slots.get(k);
    if (!slot) {
      const producer = this.kafka.producer({
        transactionalId: PartitionTransactions.transactionalId(this.groupId, topic, partition),
        idempotent: true, maxInFlightRequests: 1, transactionTimeout: this.opts.transactionTimeout ?? 60_000,
      });
      const open = (async () => {
        await producer.connect();
        // kafkajs sends InitProducerId (the fence) with the first transaction; an empty one sends nothing else.
        const t = await producer.transaction();
        await t.abort();
        this.counts.opened++;
        return this.committed(topic, partition);
      })();
      slot = { producer, open, busy: open.catch(() => {}) };
      this.slots.set(k, slot);
      open.catch(() => {
        // Forget a producer that could not open: the next batch tries again.
        if (this.slots.get(k) === slot) this.slots.delete(k);
        void producer.disconnect().catch(() => {});
      });
    }
    return slot.open;
  }

  private async committed(topic: string, partition: number): Promise<number | undefined> {
    if (!this.admin) {
      const a = this.kafka.admin();
      this.admin = a;
      await a.connect().catch((e) => { this.admin = undefined; throw e; });
    }
    const [t] = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [topic] });
    const o = Number(t?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
    return o >= 0 ? o : undefined;
  }

  /** Whether the partition is in this worker's current assignment (as far as it knows). */
  owns(topic: string, partition: number): boolean {
    return this.assigned.has(this.key(topic, partition));
  }

  /**
   * Sends the messages and moves the group's offset of the partition to `nextOffset`, in one
   * transaction of the partition's producer. Throws FencedError when another owner has taken
   * the partition; any failure closes the producer, so the next claim opens (and fences) anew.
   */
  async commit(topic: string, partition: number, sends: { topic: string; messages: Message[] }[], nextOffset: number): Promise<void> {
    const k = this.key(topic, partition);
    const slot = this.slots.get(k);
    if (!slot) throw new FencedError(`partition ${topic}/${partition} is no longer assigned to this worker`);
    await slot.open;
    const run = (async () => {
      const txn = await slot.producer.transaction();
      try {
        for (const s of sends) if (s.messages.length) await txn.send(s);
        await txn.sendOffsets({ consumerGroupId: this.groupId, topics: [{ topic, partitions: [{ partition, offset: String(nextOffset) }] }] });
        await txn.commit();
      } catch (e) {
        await txn.abort().catch(() => {});
        if (this.slots.get(k) === slot) this.slots.delete(k);
        await slot.producer.disconnect().catch(() => {});
        if (isFenced(e)) {
          this.counts.fenced++;
          this.lost.add(k);
          throw new FencedError(`commit of ${topic}/${partition} refused: another worker has taken the partition (${(e as Error).message})`);
        }
        throw e;
      }
    })();
    slot.busy = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    const slots = [...this.slots.values()];
    this.slots.clear();
    await Promise.all(slots.map((s) => s.busy.then(() => s.producer.disconnect()).catch(() => {})));
    await this.admin?.disconnect().catch(() => {});
    this.admin = undefined;
  }
}
