/**
 * npm run bench:runtime — events/s through one target group with a no-op target, on the real
 * stack: each event still reads the person from OpenLDAP and MV from PostgreSQL, plans, and
 * commits its result and offset in a Kafka transaction. N events (default 100,000; BENCH_N) over
 * BENCH_PEOPLE people (default 10,000) already in the directory.
 */
import { z } from 'zod';
import { TargetGroup } from '../src/consumers/target-group.js';
import type { Target } from '../src/spi/index.js';
import { newRunId, PersonEventPublisher, runEvent } from '../src/producers/publisher.js';
import { benchEnv, mb, peakRss } from './support.js';

const N = Number(process.env.BENCH_N ?? 100_000);
const PEOPLE = Number(process.env.BENCH_PEOPLE ?? 10_000);

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
console.log(`adding ${PEOPLE} people (setup, not measured)...`);
const ids = await env.addPeople(PEOPLE);
const runId = newRunId();
const pub = new PersonEventPublisher(env.kafka, env.cfg, `bench.${env.id}.pub`);
await pub.connect();
for (let i = 0; i < N; i += 2000) {
  await pub.send(Array.from({ length: Math.min(2000, N - i) }, (_, k) => runEvent(ids[(i + k) % ids.length]!, { runId, mode: 'SNAPSHOT', logOnly: false, targets: null, source: 'bench' })));
}
await pub.disconnect();
console.log(`published ${N} events; starting the group`);

const group = new TargetGroup(env.cfg, env.kafka, noop as never, { groupId: `bench.${env.id}.noop` });
const rss0 = process.memoryUsage().rss;
const t = Date.now();
await group.start();
let heap = 0;
while (group.counts.results < N) {
  heap = Math.max(heap, process.memoryUsage().heapUsed);
  await new Promise((r) => setTimeout(r, 50));
}
const secs = (Date.now() - t) / 1000;
console.log(`runtime (no-op target): ${N} events in ${secs.toFixed(1)} s = ${Math.round(N / secs)} events/s; results ${group.counts.results}, dlq ${group.counts.dlq}`);
console.log(`memory: RSS before start ${mb(rss0)}, peak RSS ${mb(peakRss())}, peak heap ${mb(heap)}`);
await group.stop();
await env.close(ids);
process.exit(0);
