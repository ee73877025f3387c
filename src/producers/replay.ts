import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Kafka } from 'kafkajs';
import cliProgress from 'cli-progress';
import type { Config } from '../config.js';
import { ResilientConsumer } from '../lib/kafka.js';
import { child } from '../lib/log.js';
import { EventCodec } from '../schemas/codec.js';
import type { PersonChanged } from '../schemas/generated.js';
import { newRunId, reprocessForTarget } from './publisher.js';

const log = child({ component: 'replay' });

/** Where a slice begins or ends: a time, one offset for every partition, or an offset per partition. */
export type Bound = { time: number } | { offset: number } | { offsets: Map<number, number> };

/** `--from`/`--to`: an ISO time (`2026-01-31T08:00:00Z`), an offset (`1200`, every partition) or offsets per partition (`0:1200,1:980`). */
export function parseBound(v: string): Bound {
  const s = v.trim();
  if (/^\d+$/.test(s)) return { offset: Number(s) };
  if (/^\d+:\d+(,\d+:\d+)*$/.test(s)) return { offsets: new Map(s.split(',').map((x) => x.split(':').map(Number) as [number, number])) };
  const t = Date.parse(s);
  if (Number.isNaN(t) || !/^\d{4}-\d\d-\d\d/.test(s)) throw new Error(`${JSON.stringify(v)} is neither an ISO time (2026-01-31T08:00:00Z), an offset (1200) nor offsets per partition (0:1200,1:980)`);
  return { time: t };
}

export interface SliceRange { partition: number; start: number; end: number }

/**
 * The offsets a slice covers per partition, [start, end): a time is the first event at or after it
 * (the topic's index by timestamp), an offset is taken as it is (within what the topic still
 * holds); without `to`, the slice ends where the topic ends now.
 */
export async function sliceRanges(kafka: Kafka, topic: string, from: Bound, to?: Bound): Promise<SliceRange[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return [];
    const ends = await admin.fetchTopicOffsets(topic);
    const at = async (b: Bound, dflt: 'low' | 'high'): Promise<Map<number, number>> => {
      if ('time' in b) {
        const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, b.time);
        // No event at or after the time: the partition's end.
        return new Map(byTime.map((p) => {
          const o = Number(p.offset);
          return [p.partition, o < 0 ? Number(ends.find((e) => e.partition === p.partition)?.high ?? 0) : o];
        }));
      }
      return new Map(ends.map((e) => [e.partition, 'offset' in b ? b.offset : b.offsets.get(e.partition) ?? Number(e[dflt])]));
    };
    const starts = await at(from, 'high');
    const stops = to ? await at(to, 'high') : new Map(ends.map((e) => [e.partition, Number(e.high)]));
    return ends.map((e) => ({
      partition: e.partition,
      start: Math.max(Number(e.low), starts.get(e.partition) ?? Number(e.high)),
      end: Math.min(Number(e.high), stops.get(e.partition) ?? Number(e.high)),
    })).filter((r) => r.start < r.end).sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Reads the messages of a slice with a consumer of its own (a throwaway group, deleted after), so
 * no other group's position moves. Committed messages only.
 */
export async function readSlice(kafka: Kafka, topic: string, ranges: SliceRange[], onMessage: (m: { partition: number; offset: string; timestamp: string; value: Buffer | null; key: Buffer | null }) => void, timeoutMs = 600_000): Promise<void> {
  const pending = new Map(ranges.map((r) => [r.partition, r]));
  if (!pending.size) return;
  const groupId = `tilgang.replay.${randomUUID()}`;
  const seen = new Set<string>();
  let consumer: ResilientConsumer | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), timeoutMs);
      const reached = (partition: number, offset: number) => {
        const r = pending.get(partition);
        if (r && offset >= r.end - 1) pending.delete(partition);
        if (!pending.size) { clearTimeout(timer); resolve(); }
      };
      consumer = new ResilientConsumer(kafka, { groupId, readUncommitted: false, maxWaitTimeInMs: 100, maxBytes: 50 * 1024 * 1024 }, async (c) => {
        c.on(c.events.END_BATCH_PROCESS, (e) => reached(e.payload.partition, Number(e.payload.lastOffset)));
        await c.subscribe({ topic, fromBeginning: true });
        await c.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const r = ranges.find((x) => x.partition === batch.partition);
            for (const m of batch.messages) {
              const o = Number(m.offset);
              if (!r || o < r.start || o >= r.end) continue;
              const k = `${batch.partition}:${m.offset}`;
              if (seen.has(k)) continue;
              seen.add(k);
              onMessage({ partition: batch.partition, offset: m.offset, timestamp: m.timestamp, value: m.value, key: m.key });
            }
          },
        });
        // Straight to the slice: the group is new, so without this it would read from the topic's start.
        for (const r of ranges) c.seek({ topic, partition: r.partition, offset: String(r.start) });
      }, `replay ${topic}`);
      consumer.start().catch((e) => { clearTimeout(timer); reject(e); });
    });
  } finally {
    await consumer?.stop();
    const a = kafka.admin();
    await a.connect().then(() => a.deleteGroups([groupId])).catch(() => {}).finally(() => a.disconnect().catch(() => {}));
  }
}

export interface ReplayOptions {
  from: string;
  to?: string;
  /** Only these people (idautoIDs, one a line) among those in the slice. */
  personsFile?: string;
  logOnly?: boolean;
  /** The person.changed topic (default the configuration's). */
  topic?: string;
  progress?: boolean;
}

export interface ReplaySummary {
  runId: string;
  target: string;
  ranges: SliceRange[];
  /** Events read in the slice. */
  read: number;
  undecodable: number;
  /** The people reprocessed (each once, whatever the number of their events in the slice). */
  people: string[];
}

/**
 * `tilgang replay`: the people whose person.changed events fall in a slice of the topic, looked at
 * again by one target: one REPROCESS event each, addressed to that target only, under a run id
 * of its own. The slice is read by a reader of its own; the live groups' positions are not
 * touched. Level-triggered: each person is reconciled to the directory as it is now, so a replay
 * converges and never applies an old state.
 */
export async function replay(cfg: Config, kafka: Kafka, target: string, o: ReplayOptions): Promise<ReplaySummary> {
  const topic = o.topic ?? cfg.kafka.topics.personChanged;
  const from = parseBound(o.from);
  const to = o.to ? parseBound(o.to) : undefined;
  const only = o.personsFile ? new Set(readFileSync(o.personsFile, 'utf8').split(/\r?\n/).map((l) => l.trim().toLowerCase()).filter((l) => l && !l.startsWith('#'))) : undefined;
  const ranges = await sliceRanges(kafka, topic, from, to);
  const total = ranges.reduce((n, r) => n + r.end - r.start, 0);
  const codec = new EventCodec(cfg.registry);
  const raw: { value: Buffer; timestamp: number }[] = [];
  const bar = o.progress ? new cliProgress.SingleBar({ format: `reading ${topic} [{bar}] {value}/{total} offsets` }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(total, 0);
  let read = 0;
  await readSlice(kafka, topic, ranges, (m) => {
    read++;
    if (read % 500 === 0) bar?.update(read);
    if (m.value) raw.push({ value: m.value, timestamp: Number(m.timestamp) });
  });
  bar?.update(total);
  bar?.stop();
  const people: string[] = [];
  const seen = new Set<string>();
  let undecodable = 0;
  for (const m of raw) {
    // A time bound holds for each event, not only for where the reading starts.
    if ('time' in from && m.timestamp < from.time) continue;
    if (to && 'time' in to && m.timestamp >= to.time) continue;
    let e: PersonChanged;
    try {
      e = await codec.decode('PersonChanged', m.value);
    } catch (err) {
      undecodable++;
      log.warn({ err: (err as Error).message }, 'an event in the slice cannot be decoded: passed over');
      continue;
    }
    const id = e.personId.toLowerCase();
    if (seen.has(id) || (only && !only.has(id))) continue;
    seen.add(id);
    people.push(e.personId);
  }
  const runId = newRunId();
  const pub = o.progress ? new cliProgress.SingleBar({ format: `${runId} [{bar}] {value}/{total} people` }, cliProgress.Presets.shades_classic) : undefined;
  pub?.start(people.length, 0);
  await reprocessForTarget(kafka, cfg, people, target, { runId, source: 'replay', logOnly: o.logOnly, topic, onProgress: (n) => pub?.update(n) });
  pub?.stop();
  return { runId, target, ranges, read, undecodable, people };
}
