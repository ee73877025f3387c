/**
 * npm run bench:producer — the changelog producer against the real OpenLDAP accesslog and Kafka.
 * 1. Throughput: N changes (default 100,000; BENCH_N) already in the change log → events on the
 *    topic; changes/s and peak RSS of this process (which runs the producer). Beside it, on the
 *    same entries, the bare pipeline: read the next accesslog page while the current one is sent
 *    with a bare transactional kafkajs producer (no interpretation, no Avro, no cookie). What the
 *    producer reaches of that is its share: the rest is its own cost.
 * 2. Latency: a steady 50 changes/s for 20 s; change (LDAP modify answered) → event readable by a
 *    read_committed consumer; p50/p99.
 */
import { Attribute, Change, Client, type Entry } from 'ldapts';
import { readSecret } from '../src/config.js';
import { ensureTopics } from '../src/lib/kafka.js';
import { AccesslogReader, entryCsn } from '../src/producers/changelog.js';
import { ChangelogProducer } from '../src/producers/changelog-producer.js';
import { CookieStore } from '../src/producers/cookie-store.js';
import { benchEnv, figure, mb, peakRss, percentile } from './support.js';

const N = Number(process.env.BENCH_N ?? 100_000);
const PAGE = 1000;
const env = await benchEnv('producer');
const tilgang = new Client({ url: env.cfg.directory.url, timeout: 120_000 });
await tilgang.bind(env.cfg.directory.bindDn, readSecret(env.cfg.directory.password, 'directory.password'));
const reader = new AccesslogReader(tilgang, env.cfg.directory.accesslogDn);
const start = await reader.latest();
console.log(`adding ${N} people to the directory (setup, not measured)...`);
let t = Date.now();
const ids = await env.addPeople(N);
const end = await reader.latest();
console.log(`  setup: ${N} adds in ${((Date.now() - t) / 1000).toFixed(1)} s`);

const admin = env.kafka.admin();
await admin.connect();
const bareTopic = `${env.cfg.kafka.topics.personChanged}.bare`;
env.topics.push(bareTopic);
await ensureTopics(admin, [{ topic: bareTopic, partitions: env.cfg.kafka.partitions }]);

/**
 * The bare pipeline over the entries from `start` to `end`. Rates are taken from the first
 * transaction's commit to the last, here as for the producer, so neither counts its connecting.
 */
async function bare(run: number): Promise<number> {
  const p = env.kafka.producer({ transactionalId: `bench.${env.id}.bare.${run}`, idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const began = Date.now();
  const cpu0 = process.cpuUsage();
  let first: { at: number; sent: number } | undefined;
  let sent = 0;
  const pages = reader.pages(start, PAGE);
  let next = pages.next();
  for (;;) {
    const r = await next;
    if (r.done) break;
    const page = r.value.filter((e: Entry) => entryCsn(e)! <= end!);
    const last = page.length < r.value.length;
    next = last ? Promise.resolve({ done: true, value: undefined }) : pages.next();
    const txn = await p.transaction();
    await txn.send({ topic: bareTopic, messages: page.map((e) => ({ key: String(e.reqDN), value: JSON.stringify({ reqStart: e.reqStart, reqType: e.reqType }) })) });
    await txn.commit();
    sent += page.length;
    first ??= { at: Date.now(), sent };
    if (last) {
      await pages.return(undefined);
      break;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const rate = (sent - first!.sent) / ((Date.now() - first!.at) / 1000);
  console.log(`  bare run ${run}: ${sent} entries in ${((Date.now() - began) / 1000).toFixed(2)} s, ${Math.round(rate)} changes/s after the first transaction; ${((cpu.user + cpu.system) / N).toFixed(0)} µs of this process's CPU per change`);
  await p.disconnect();
  return rate;
}

// Read once, unmeasured: every run below finds the entries in the directory's cache alike.
for await (const page of reader.pages(start, PAGE)) if (page.some((e) => entryCsn(e)! > end!)) break;
const bareBefore = await bare(1);

// Start the producer at the cookie from before the adds, so all N are in its backlog.
const store = new CookieStore(env.kafka, env.cfg.kafka.topics.producerState, env.id);
await store.ensure(admin);
const p0 = env.kafka.producer({ transactionalId: `bench.${env.id}.seed`, maxInFlightRequests: 1, idempotent: true });
await p0.connect();
const txn = await p0.transaction();
await store.save(txn, { cookie: start, updatedAt: Date.now() });
await txn.commit();
await p0.disconnect();

const producer = new ChangelogProducer(env.cfg, env.kafka, { name: env.id, pageSize: PAGE });
t = Date.now();
const cpu0 = process.cpuUsage();
await producer.start();
let first: { at: number; published: number } | undefined;
while (producer.stats.published < N) {
  if (!first && producer.stats.transactions > 0) first = { at: Date.now(), published: producer.stats.published };
  await new Promise((r) => setTimeout(r, 2));
}
const secs = (Date.now() - t) / 1000;
const cpu = process.cpuUsage(cpu0);
const rate = (N - first!.published) / ((Date.now() - first!.at) / 1000);
console.log(`throughput: ${N} changes → events in ${secs.toFixed(2)} s from start = ${Math.round(N / secs)} changes/s (${producer.stats.transactions} transactions); `
  + `first transaction after ${((first!.at - t) / 1000).toFixed(2)} s (connect, cookie, first page); ${Math.round(rate)} changes/s after it; `
  + `${((cpu.user + cpu.system) / N).toFixed(0)} µs of this process's CPU per change; peak RSS ${mb(peakRss())}`);
const bareAfter = await bare(2);
const bareRate = (bareBefore + bareAfter) / 2;
console.log(`bare pipeline: mean ${Math.round(bareRate)} changes/s`);
const share = (100 * rate) / bareRate;
console.log(`producer's share of the bare pipeline: ${Math.round(share)} % (goal at least 80 %)`);
const backlog = `a backlog of ${N.toLocaleString('en')} change-log entries`;
figure({ part: 'producer', name: 'producer throughput', value: rate, unit: 'changes/s', note: backlog });
figure({ part: 'producer', name: 'limit: bare accesslog reader + transactional kafkajs producer', value: bareRate, unit: 'changes/s', note: `${backlog}; mean of a run before and after` });
figure({ part: 'producer', name: "producer's share of the limit", value: share, unit: '%', goal: '≥ 80 %', met: share >= 80, note: backlog });

// Latency at a steady 50 changes/s.
const sentAt = new Map<string, number>();
const lat: number[] = [];
const consumer = env.kafka.consumer({ groupId: `bench.${env.id}.latency`, readUncommitted: false, maxWaitTimeInMs: 20 });
await consumer.connect();
const joined = new Promise((r) => consumer.on(consumer.events.GROUP_JOIN, r));
await consumer.subscribe({ topic: env.cfg.kafka.topics.personChanged, fromBeginning: false });
await consumer.run({ eachMessage: async ({ message }) => {
  const at = sentAt.get(message.key!.toString());
  if (at !== undefined && message.headers?.['tilgang-change']?.toString() === 'MODIFY') { lat.push(Date.now() - at); sentAt.delete(message.key!.toString()); }
} });
await joined;
await new Promise((r) => setTimeout(r, 1000));
const seconds = Number(process.env.BENCH_LATENCY_SECONDS ?? 20);
for (let i = 0; i < seconds * 50; i++) {
  const id = ids[i % ids.length]!;
  const due = Date.now() + 20;
  await env.ldap.modify(`idautoID=${id},${env.cfg.directory.peopleDn}`, new Change({ operation: 'replace', modification: new Attribute({ type: 'sn', values: [`Latency${i}`] }) }));
  sentAt.set(id, Date.now());
  await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
}
await new Promise((r) => setTimeout(r, 2000));
console.log(`latency at 50 changes/s over ${seconds} s: ${lat.length} events, p50 ${percentile(lat, 50)} ms, p99 ${percentile(lat, 99)} ms, max ${Math.max(...lat)} ms (${sentAt.size} not seen)`);
const latNote = `50 changes/s for ${seconds} s, LDAP modify answered → event readable (read_committed); ${lat.length} events, ${sentAt.size} not seen`;
figure({ part: 'producer', name: 'change → event latency p50', value: percentile(lat, 50), unit: 'ms', note: latNote });
figure({ part: 'producer', name: 'change → event latency p99', value: percentile(lat, 99), unit: 'ms', goal: '< 100 ms', met: percentile(lat, 99) < 100 && sentAt.size === 0, note: latNote });
await consumer.disconnect();
await producer.stop();
await admin.disconnect();
await tilgang.unbind();
console.log('cleaning up the bench subtree and topics...');
await env.close(ids);
process.exit(0);
