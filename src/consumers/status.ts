import type { Admin, Kafka } from 'kafkajs';
import client from 'prom-client';
import { kafkaName, type Config } from '../config.js';
import { Directory } from '../directory/client.js';
import { child } from '../lib/log.js';
import { registry } from '../lib/metrics.js';
import { AccesslogReader } from '../producers/changelog.js';
import { CookieStore } from '../producers/cookie-store.js';
import { HistoryStore } from '../history/store.js';
import type { AnyTarget } from '../spi/index.js';
import { streamFor } from '../streams/index.js';
import { dlqTopic, readDeadLetters, redriveGroup, WRITEBACK } from './dlq.js';
import { MassChangeGuard } from './guard.js';

/** A consumer group's distance behind the end of its topic. */
export interface GroupLag {
  group: string;
  topic: string;
  /** Events not yet consumed, over all partitions. */
  lag: number;
  partitions: { partition: number; lag: number }[];
}

export interface TargetStatus {
  name: string;
  lag: GroupLag;
  /** Results per second over the last minute (from the results store). */
  eventsPerSecond: number;
  /** Results of the last hour by outcome (APPLIED, UNCHANGED, SKIPPED, FAILED, PLANNED, HELD). */
  lastHour: Record<string, number>;
  /** Dead letters not yet redriven. */
  dlq: number;
  guard: { tripped: boolean; reason: string | null; held: number; counted: number; windowMinutes: number };
}

export interface StatusSnapshot {
  at: string;
  targets: TargetStatus[];
  /** Change-log entries after the producer's committed cookie (not yet published or passed over); `capped` when there are at least that many. */
  producer: { cookie: string | null; behind: number; capped: boolean } | { error: string };
  writeback: { lag: GroupLag; dlq: number };
  history: { lag: GroupLag };
}

/** Where the status reads from; tests name their own groups and topics, the runtime uses the defaults. */
export interface StatusOptions {
  /** The enabled targets (default: those the configuration enables). */
  targets: AnyTarget[];
  groupOf?: (target: string) => string;
  dlqOf?: (owner: string) => string;
  writebackGroup?: string;
  historyGroup?: string;
  /** The producer's name (its cookie's key); default `default`. */
  producerName?: string;
  /** The producer's lag is counted up to this many entries (default 10,000). */
  producerCap?: number;
  store?: HistoryStore;
  now?: Date;
}

/**
 * Every topic tilgang writes is written in Kafka transactions, and the offset a kafkajs group
 * commits is the one after its last event: the transaction's commit marker. So one marker is left
 * after the committed offset at rest and is not an event; under load a few more markers may count.
 */
export async function groupLag(admin: Admin, group: string, topic: string, existing?: ReadonlySet<string>): Promise<GroupLag> {
  // kafkajs asks again and again for a topic that does not exist: look first.
  if (!(existing ?? new Set(await admin.listTopics())).has(topic)) return { group, topic, lag: 0, partitions: [] };
  const [ends, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic).catch(() => []),
    admin.fetchOffsets({ groupId: group, topics: [topic] }).catch(() => []),
  ]);
  const at = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  const partitions = ends.map((e) => {
    const high = Number(e.high);
    const low = Number(e.low);
    const c = at.get(e.partition) ?? -1;
    const from = c >= 0 ? Math.max(c, low) : low;
    return { partition: e.partition, lag: Math.max(0, high - from - 1) };
  }).sort((a, b) => a.partition - b.partition);
  return { group, topic, lag: partitions.reduce((n, p) => n + p.lag, 0), partitions };
}

/** Dead letters not yet redriven: read only when the topic has something after the redrive group's offset. */
export async function dlqSize(kafka: Kafka, admin: Admin, owner: string, topic = dlqTopic(owner), existing?: ReadonlySet<string>, prefix = ''): Promise<number> {
  if (!(existing ?? new Set(await admin.listTopics())).has(topic)) return 0;
  const [p] = await admin.fetchTopicOffsets(topic);
  const committed = await admin.fetchOffsets({ groupId: redriveGroup(owner, prefix), topics: [topic] });
  const from = Math.max(0, Number(committed[0]?.partitions[0]?.offset ?? -1), Number(p?.low ?? 0));
  if (from >= Number(p?.high ?? 0)) return 0;
  return (await readDeadLetters(kafka, owner, topic, prefix)).letters.length;
}

/** Change-log entries after the producer's committed cookie: what it has not yet published (or passed over). */
export async function producerBehind(cfg: Config, kafka: Kafka, name = 'default', cap = 10_000): Promise<{ cookie: string | null; behind: number; capped: boolean }> {
  const state = await new CookieStore(kafka, cfg.kafka.topics.producerState, name).load();
  const dir = await Directory.connect(cfg);
  try {
    const reader = new AccesslogReader(dir.client, cfg.directory.accesslogDn);
    let behind = 0;
    for await (const page of reader.pages(state?.cookie, 1000)) {
      behind += page.length;
      if (behind >= cap) return { cookie: state?.cookie ?? null, behind: cap, capped: true };
    }
    return { cookie: state?.cookie ?? null, behind, capped: false };
  } finally {
    await dir.close();
  }
}

/**
 * What `tilgang status` prints and the dashboard shows: per target the group's lag, results per
 * second, outcomes of the last hour, dead letters and the guard; the producer's distance behind
 * the change log; the writeback's and the results store's lag. Reads only; changes nothing.
 */
export async function statusSnapshot(cfg: Config, kafka: Kafka, o: StatusOptions): Promise<StatusSnapshot> {
  const now = o.now ?? new Date();
  const store = o.store ?? new HistoryStore(cfg, { max: 2 });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await store.ensure();
    const topics = new Set(await admin.listTopics());
    const guard = new MassChangeGuard(store.pool, cfg.runtime.stateSchema);
    await guard.ensure();
    const groupOf = o.groupOf ?? ((t: string) => kafkaName(cfg, `tilgang.${t}`));
    const dlqOf = o.dlqOf ?? ((owner: string) => dlqTopic(owner, cfg.kafka.prefix));
    const [lastHour, lastMinute] = await Promise.all([
      store.outcomesSince(new Date(now.getTime() - 3_600_000)),
      store.outcomesSince(new Date(now.getTime() - 60_000)),
    ]);
    const targets = await Promise.all(o.targets.map(async (t): Promise<TargetStatus> => {
      const g = cfg.runtime.guard;
      const windowMinutes = g.targets[t.name]?.windowMinutes ?? g.windowMinutes;
      const [lag, dlq, st] = await Promise.all([
        groupLag(admin, groupOf(t.name), streamFor(t).topic(cfg), topics),
        dlqSize(kafka, admin, t.name, dlqOf(t.name), topics, cfg.kafka.prefix),
        guard.state(t.name, windowMinutes),
      ]);
      const minute = Object.values(lastMinute.get(t.name) ?? {}).reduce((a, b) => a + b, 0);
      return {
        name: t.name, lag, eventsPerSecond: Math.round((minute / 60) * 100) / 100, lastHour: lastHour.get(t.name) ?? {}, dlq,
        guard: { tripped: st.tripped, reason: st.reason, held: st.held, counted: st.counted ?? 0, windowMinutes },
      };
    }));
    const results = cfg.kafka.topics.provisioningResult;
    const [producer, wbLag, wbDlq, histLag] = await Promise.all([
      producerBehind(cfg, kafka, o.producerName, o.producerCap).catch((e: Error) => ({ error: e.message })),
      groupLag(admin, o.writebackGroup ?? kafkaName(cfg, 'tilgang.writeback'), results, topics),
      dlqSize(kafka, admin, WRITEBACK, dlqOf(WRITEBACK), topics, cfg.kafka.prefix),
      groupLag(admin, o.historyGroup ?? cfg.history.groupId, results, topics),
    ]);
    return { at: now.toISOString(), targets, producer, writeback: { lag: wbLag, dlq: wbDlq }, history: { lag: histLag } };
  } finally {
    await admin.disconnect().catch(() => {});
    if (!o.store) await store.close();
  }
}

const OUTCOMES = ['APPLIED', 'UNCHANGED', 'SKIPPED', 'FAILED', 'PLANNED', 'HELD'];

export function formatStatus(s: StatusSnapshot): string {
  const lines = [`status at ${s.at}`, `${'target'.padEnd(10)} ${'lag'.padStart(8)} ${'events/s'.padStart(9)} ${'dlq'.padStart(6)}  guard      last hour`];
  for (const t of s.targets) {
    const hour = OUTCOMES.filter((k) => t.lastHour[k]).map((k) => `${k.toLowerCase()} ${t.lastHour[k]}`).join(', ') || 'nothing';
    const guard = t.guard.tripped ? `HOLDING (${t.guard.held} held): ${t.guard.reason}` : `open (${t.guard.counted} in ${t.guard.windowMinutes} min)`;
    lines.push(`${t.name.padEnd(10)} ${String(t.lag.lag).padStart(8)} ${t.eventsPerSecond.toFixed(2).padStart(9)} ${String(t.dlq).padStart(6)}  ${guard.padEnd(10)} ${hour}`);
  }
  const p = s.producer;
  const entries = (n: number, capped: boolean) => `${capped ? 'at least ' : ''}${n} change-log entr${n === 1 ? 'y' : 'ies'}`;
  lines.push('error' in p ? `producer: cannot tell (${p.error})`
    : p.cookie ? `producer: ${entries(p.behind, p.capped)} not yet published` : `producer: no cookie yet (it has not run); ${entries(p.behind, p.capped)} in the log`);
  lines.push(`writeback: lag ${s.writeback.lag.lag}, ${s.writeback.dlq} dead letter(s)`);
  lines.push(`results store: lag ${s.history.lag.lag}`);
  return lines.join('\n');
}

const gauge = (name: string, help: string, labelNames: string[]) => new client.Gauge({ name, help, labelNames, registers: [registry] });

/** The status as Prometheus gauges, set by `startStatusMetrics`. */
export const statusGauges = {
  lag: gauge('tilgang_group_lag', 'events a consumer group has not yet consumed (all partitions)', ['group', 'role']),
  eventsPerSecond: gauge('tilgang_target_events_per_second', 'results per second over the last minute, from the results store', ['target']),
  lastHour: gauge('tilgang_target_results_last_hour', 'results of the last hour by outcome, from the results store', ['target', 'outcome']),
  dlq: gauge('tilgang_dlq_size', 'dead letters not yet redriven', ['owner']),
  guardTripped: gauge('tilgang_guard_tripped', '1 while the mass-change guard holds a target\'s destructive operations', ['target']),
  guardHeld: gauge('tilgang_guard_held', 'people held by the mass-change guard', ['target']),
  producerBehind: gauge('tilgang_producer_behind_entries', 'change-log entries after the producer\'s committed cookie', []),
  updatedAt: gauge('tilgang_status_updated_seconds', 'when the status gauges were last set (unix time)', []),
};

export function setStatusGauges(s: StatusSnapshot): void {
  const g = statusGauges;
  for (const t of s.targets) {
    g.lag.set({ group: t.lag.group, role: `target:${t.name}` }, t.lag.lag);
    g.eventsPerSecond.set({ target: t.name }, t.eventsPerSecond);
    for (const k of OUTCOMES) g.lastHour.set({ target: t.name, outcome: k }, t.lastHour[k] ?? 0);
    g.dlq.set({ owner: t.name }, t.dlq);
    g.guardTripped.set({ target: t.name }, t.guard.tripped ? 1 : 0);
    g.guardHeld.set({ target: t.name }, t.guard.held);
  }
  g.lag.set({ group: s.writeback.lag.group, role: 'writeback' }, s.writeback.lag.lag);
  g.lag.set({ group: s.history.lag.group, role: 'history' }, s.history.lag.lag);
  g.dlq.set({ owner: WRITEBACK }, s.writeback.dlq);
  if (!('error' in s.producer)) g.producerBehind.set(s.producer.behind);
  g.updatedAt.set(Date.parse(s.at) / 1000);
}

/**
 * Keeps the status gauges current, every `everyMs`, whether or not events arrive: a stalled
 * group shows its lag growing. One snapshot at a time; a failed one is logged and tried again.
 */
export function startStatusMetrics(cfg: Config, kafka: Kafka, o: StatusOptions, everyMs: number): { stop(): Promise<void>; latest(): StatusSnapshot | undefined } {
  const log = child({ component: 'status' });
  const store = o.store ?? new HistoryStore(cfg, { max: 2 });
  let latest: StatusSnapshot | undefined;
  let stopped = false;
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return; // the last one is still reading
    running = statusSnapshot(cfg, kafka, { ...o, store }).then((s) => {
      latest = s;
      setStatusGauges(s);
    }, (e: Error) => log.warn({ err: e.message }, 'status metrics not updated; trying again')).finally(() => { running = undefined; });
  };
  tick();
  const timer = setInterval(() => { if (!stopped) tick(); }, everyMs);
  timer.unref();
  return {
    latest: () => latest,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      if (!o.store) await store.close();
    },
  };
}
