/**
 * npm run bench:runtime [-- --events N --people N] — events/s through one target group with a
 * no-op target, on the real stack: each event still reads the person from OpenLDAP and MV from
 * PostgreSQL, plans, and commits its result and offset in a Kafka transaction. Beside it, on the
 * same events, a bare consumer that does only that: the same reads batched per 100 people (one
 * directory search, one MV query), a result per event and the offsets in one transaction per
 * chunk of 500 events, as the runtime commits. The runtime's share of the bare consumer's rate is what the machinery costs.
 * N events (default 100,000) over P people (default 10,000) already in the directory.
 */
import { parseArgs } from 'node:util';
import type { Producer } from 'kafkajs';
import { z } from 'zod';
import { TargetGroup } from '../src/consumers/target-group.js';
import { Directory } from '../src/directory/client.js';
import { MvReader } from '../src/mv/person.js';
import { newRunId, PersonEventPublisher, runEvent } from '../src/producers/publisher.js';
import { EventCodec } from '../src/schemas/codec.js';
import type { PersonChanged, ProvisioningResult } from '../src/schemas/generated.js';
import type { Target } from '../src/spi/index.js';
import { benchEnv, figure, mb, peakRss } from './support.js';

const { values: args } = parseArgs({ options: { events: { type: 'string' }, people: { type: 'string' } } });
const N = Number(args.events ?? process.env.BENCH_N ?? 100_000);
const PEOPLE = Math.min(N, Number(args.people ?? process.env.BENCH_PEOPLE ?? 10_000));
const BARE_BATCH = 100;
/** Events per transaction: the runtime's default chunk of a partition's batch. */
const CHUNK = 500;

const noop: Target<{ entitlement: { affiliations: string[]; roles: string[] } }, null, null> = {
  name: 'noop',
  config: z.object({ entitlement: z.object({ affiliations: z.array(z.string()).default([]), roles: z.array(z.string()).default([]) }).prefault({}) }),
  essential: () => [],
  connect: async () => undefined,
  desired: () => null,
  actual: async () => null,
  plan: () => ({ operations: [] }),
  apply: async () => [],
};

const env = await benchEnv('runtime');
const { cfg } = env;
console.log(`adding ${PEOPLE} people (setup, not measured)...`);
const ids = await env.addPeople(PEOPLE);
const runId = newRunId();
const pub = new PersonEventPublisher(env.kafka, cfg, `bench.${env.id}.pub`);
await pub.connect();
for (let i = 0; i < N; i += 2000) {
  await pub.send(Array.from({ length: Math.min(2000, N - i) }, (_, k) => runEvent(ids[(i + k) % ids.length]!, { runId, mode: 'SNAPSHOT', logOnly: false, targets: null, source: 'bench' })));
}
await pub.disconnect();
console.log(`published ${N} events`);

/** Events/s from the first event handled to the last (a group's join is not counted). */
const rate = (first: number, last: number) => Math.round(N / ((last - first) / 1000));

async function runtime(): Promise<number> {
  const group = new TargetGroup(cfg, env.kafka, noop as never, { groupId: `bench.${env.id}.noop` });
  const rss0 = process.memoryUsage().rss;
  await group.start();
  let first = 0;
  let heap = 0;
  while (group.counts.results < N) {
    if (!first && group.counts.events > 0) first = Date.now();
    heap = Math.max(heap, process.memoryUsage().heapUsed);
    await new Promise((r) => setTimeout(r, 20));
  }
  const r = rate(first, Date.now());
  console.log(`runtime (no-op target): ${N} events at ${r} events/s; results ${group.counts.results}, dlq ${group.counts.dlq}`);
  console.log(`  memory: RSS before start ${mb(rss0)}, peak RSS ${mb(peakRss())}, peak heap ${mb(heap)}`);
  await group.stop();
  return r;
}

/** The same work with nothing but the client libraries: decode, read per 100 people, publish results and offsets in a transaction. */
async function bare(): Promise<number> {
  const groupId = `bench.${env.id}.bare`;
  const topic = cfg.kafka.topics.personChanged;
  const resultTopic = cfg.kafka.topics.provisioningResult;
  const dir = await Directory.connect(cfg);
  const mv = new MvReader(cfg.mv.url, cfg.mv.schema);
  const codec = new EventCodec(cfg.registry);
  const producers = new Map<number, Promise<Producer>>();
  const producerFor = (partition: number) => {
    let p = producers.get(partition);
    if (!p) {
      const created = env.kafka.producer({ transactionalId: `${groupId}.${partition}`, idempotent: true, maxInFlightRequests: 1 });
      p = created.connect().then(() => created);
      producers.set(partition, p);
    }
    return p;
  };
  const consumer = env.kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100, sessionTimeout: cfg.runtime.sessionTimeoutMs, heartbeatInterval: 1_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done = 0;
  let first = 0;
  const ms = { directory: 0, mv: 0, commit: 0, chunks: 0 };
  const since = (t: number) => performance.now() - t;
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: cfg.runtime.partitionsConcurrently,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      const producer = await producerFor(batch.partition);
      // Commits per chunk of a partition's batch, as the runtime does (its default chunk).
      for (let i = 0; i < batch.messages.length; i += CHUNK) {
        if (!isRunning() || isStale()) return;
        first ||= Date.now();
        const messages = batch.messages.slice(i, i + CHUNK);
        const events = await Promise.all(messages.map((m) => codec.decodeEvent<PersonChanged>(m.value!)));
        for (let j = 0; j < events.length; j += BARE_BATCH) {
          const people = [...new Set(events.slice(j, j + BARE_BATCH).map((e) => e.personId))];
          let t = performance.now();
          const records = await dir.readMany(people);
          ms.directory += since(t);
          const found = people.filter((id) => { const r = records.get(id); return r && !(r instanceof Error); });
          t = performance.now();
          if (found.length) await mv.readMany(found, []);
          ms.mv += since(t);
        }
        const results = await Promise.all(events.map(async (e) => {
          const r: ProvisioningResult = {
            eventId: crypto.randomUUID(), sourceEventId: e.eventId, personId: e.personId, target: 'bare', runId: e.runId ?? null, mode: e.mode ?? 'LIVE',
            logOnly: !!e.logOnly, outcome: 'UNCHANGED', skipReason: null, entitled: false, accountId: null, operations: [], error: null, counters: {},
            durationMs: 0, processedAt: Date.now(),
          };
          return { key: e.personId, value: await codec.encode('ProvisioningResult', resultTopic, r) };
        }));
        const last = messages[messages.length - 1]!.offset;
        const t = performance.now();
        const txn = await producer.transaction();
        try {
          await txn.send({ topic: resultTopic, messages: results });
          await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: batch.partition, offset: String(Number(last) + 1) }] }] });
          await txn.commit();
        } catch (e) {
          await txn.abort().catch(() => {});
          throw e;
        }
        ms.commit += since(t);
        ms.chunks++;
        resolveOffset(last);
        await heartbeat();
        done += messages.length;
      }
    },
  });
  while (done < N) await new Promise((r) => setTimeout(r, 20));
  const r = rate(first, Date.now());
  console.log(`bare consumer (reads per ${BARE_BATCH} people, a transaction per ${CHUNK} events): ${N} events at ${r} events/s`);
  const reads = Math.ceil(N / BARE_BATCH);
  console.log(`  per read of ${BARE_BATCH} people: directory ${(ms.directory / reads).toFixed(1)} ms, MV ${(ms.mv / reads).toFixed(1)} ms; per transaction ${(ms.commit / ms.chunks).toFixed(1)} ms`);
  await consumer.disconnect();
  for (const p of producers.values()) await (await p).disconnect();
  await dir.close();
  await mv.close();
  return r;
}

const rt = await runtime();
const b = await bare();
const share = (100 * rt) / b;
console.log(`runtime's share of the bare consumer: ${Math.round(share)} % (goal: at least 80 %)`);
const note = `${N.toLocaleString('en')} events over ${PEOPLE.toLocaleString('en')} people, no-op target`;
figure({ part: 'runtime', name: 'runtime throughput, one target group', value: rt, unit: 'events/s', note });
figure({ part: 'runtime', name: `limit: bare consumer (reads per ${BARE_BATCH} people, a transaction per ${CHUNK} events)`, value: b, unit: 'events/s', note });
figure({ part: 'runtime', name: "runtime's share of the limit", value: share, unit: '%', goal: '≥ 80 %', met: share >= 80, note });
await env.close(ids);
process.exit(0);
