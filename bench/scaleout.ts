/**
 * `npm run bench:scaleout`: throughput of one target's consumer group with 1, 2 and 4 worker
 * processes (`tilgang run --role target:moodle`, each a process of its own) on the same work: N
 * people (3,000 by default) already in sync in Moodle, an event each, the same in every round.
 * Each round starts its workers, waits until the group has them all as members, publishes the
 * round's N events and times the first event published to the last result. Afterwards the result
 * topic is read (read_committed): every event of the round must have exactly one result.
 *
 * The target is the Moodle simulator with its latency model (4 PHP workers sharing 2.5 cores,
 * fitted to a real Moodle), in this process: a real target whose calls wait on a server, as in
 * production, while a no-change event's work on tilgang's side (decode, the wave's directory and
 * MV reads, plan, a result in a transaction) is CPU — what more processes share out over the cores.
 * On 2 cores the processes, Kafka, slapd, PostgreSQL and the simulator all share them.
 * Each process also starts cold: before its first result it reads every course roster in scope once
 * (one call per course, the site charging ~4.6 ms of a PHP worker per enrolment listed), a cost
 * the site's workers pay again for every process (seen: 4 processes reading 3,000 people's rosters
 * gave no result for two minutes).
 *
 *   npx tsx bench/scaleout.ts [--persons 3000] [--processes 1,2,4]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { kafkaName, loadConfig } from '../src/config.js';
import { chunks, mapLimit } from '../src/lib/concurrency.js';
import { newRunId, PersonEventPublisher, runEvent } from '../src/producers/publisher.js';
import { EventCodec } from '../src/schemas/codec.js';
import { generateUniversity, runSeed } from '../src/seed/index.js';
import { getTarget, loadSimulator } from '../src/targets/index.js';
import { MoodleClient } from '../src/targets/moodle/client.js';
import { courseIdnumber } from '../src/targets/moodle/index.js';
import { cpuSecondsOf, deletePrefixedTopics, peakRssOf, readResultTopic, resultsOf, startWorker, stopWorkers, sum, whenRunning, writeWorkerConfig, type WorkerProcess } from './fleet.js';
import { bringInSync, show } from './insync.js';
import { benchEnv, figure, mb } from './support.js';

const { values: args } = parseArgs({ options: { persons: { type: 'string' }, processes: { type: 'string' } } });
const N = Number(args.persons ?? process.env.BENCH_N ?? 3_000);
const COUNTS = (args.processes ?? '1,2,4').split(',').map(Number);
const NOW = new Date('2026-09-15T12:00:00Z');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const env = await benchEnv('scaleout');
const cfg = env.cfg;
const dir = mkdtempSync(join(tmpdir(), 'tilgang-bench-scaleout-'));
cfg.mv.schema = `bench_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
const prefix = `bench.${env.id}.`;
const token = Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
writeFileSync(join(dir, 'moodle-token'), token, { mode: 0o600 });
const example = loadConfig('tilgang.example.yaml').targets as Record<string, Record<string, unknown>>;
cfg.targets = { moodle: { ...Object.fromEntries(Object.entries(example.moodle!).filter(([k]) => k !== 'simulator')), token: { file: join(dir, 'moodle-token') } } };
let workers: WorkerProcess[] = [];
let ids: string[] = [];
const sim = await (await loadSimulator('moodle'))!.start({ port: 0, latency: true, global: cfg });
(cfg.targets.moodle as { url: string }).url = sim.url;

interface Round { processes: number; ms: number; results: number; duplicates: number; missing: number; cpu: number; rss: number; outcomes: string }
const rounds: Round[] = [];
try {
  console.log(`bench:scaleout — ${N} people in sync in Moodle (simulator with its latency model), an event each, through ${COUNTS.join(', ')} worker processes of the moodle group`);
  let t = performance.now();
  const uni = generateUniversity({ persons: N, seed: 1, now: NOW });
  await runSeed(cfg, { persons: N, seed: 1, now: NOW, connections: 8 });
  ids = uni.persons.map((p) => p.idautoId);
  const ws = new MoodleClient({ url: sim.url, token, connections: 4 });
  await mapLimit(chunks(uni.topics.filter((x) => x.status === 'active'), 50), 4, (batch) => ws.call('core_course_create_courses', {
    courses: batch.map((x) => ({ fullname: x.nameNb, shortname: `${x.code}-${x.year}-${x.term}`, categoryid: 1, idnumber: courseIdnumber(x) })),
  }));
  await ws.close();
  const synced = await bringInSync(cfg, await getTarget('moodle'), ids);
  console.log(`setup: ${N} people into the directory, MV and Moodle in ${secs(performance.now() - t)} (${show(synced)})`);

  const configFile = writeWorkerConfig(cfg, prefix, dir);
  const codec = new EventCodec(cfg.registry);
  const admin = env.kafka.admin();
  await admin.connect();
  const groupId = kafkaName(cfg, 'tilgang.moodle');
  for (const k of COUNTS) {
    workers = await Promise.all(Array.from({ length: k }, (_, i) => startWorker(configFile, 'target:moodle', dir, `moodle-${k}.${i}`)));
    await whenRunning(workers);
    // Every worker a member with its partitions before the clock starts.
    for (const end = Date.now() + 120_000; ;) {
      const { groups: [g] } = await admin.describeGroups([groupId]);
      if (g?.state === 'Stable' && g.members.length === k) break;
      if (Date.now() > end) throw new Error(`the group did not settle with ${k} members`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const cpu0 = workers.map((w) => cpuSecondsOf(w.child.pid));
    const runId = newRunId();
    const pub = new PersonEventPublisher(env.kafka, cfg, `${prefix}pub`);
    await pub.connect();
    const t0 = performance.now();
    const wall0 = Date.now();
    for (const batch of chunks(ids, 2000)) await pub.send(batch.map((id) => runEvent(id, { runId, mode: 'SNAPSHOT', logOnly: false, targets: null, source: 'bench' })));
    await pub.disconnect();
    const before = rounds.reduce((n, r) => n + r.results, 0);
    let ms = 0;
    let totals = new Map<string, number>();
    for (let stalled = performance.now(), seen = -1; ;) {
      await new Promise((r) => setTimeout(r, 1_000));
      const per = await Promise.all(workers.map(resultsOf));
      totals = new Map();
      for (const m of per) for (const [key, v] of m) totals.set(key, (totals.get(key) ?? 0) + v);
      const n = sum(totals);
      if (n >= N) { ms = performance.now() - t0; break; }
      if (n !== seen) { seen = n; stalled = performance.now(); }
      if (performance.now() - stalled > 300_000) throw new Error(`${k} processes: no result for 5 minutes (${n} of ${N})`);
    }
    const cpu = workers.reduce((s, w, i) => s + cpuSecondsOf(w.child.pid) - cpu0[i]!, 0);
    const rss = Math.max(...workers.map((w) => peakRssOf(w.child.pid)));
    await stopWorkers(workers);
    workers = [];
    // Exactly one result per event: the result topic read as a consumer reads it (read_committed).
    const raw = await readResultTopic(env.kafka, cfg.kafka.topics.provisioningResult, before + N, prefix);
    const perEvent = new Map<string, number>();
    let lastAt = 0;
    for (const m of raw) {
      const r = await codec.decode('ProvisioningResult', m.value);
      if (r.runId !== runId) continue;
      perEvent.set(r.sourceEventId, (perEvent.get(r.sourceEventId) ?? 0) + 1);
      lastAt = Math.max(lastAt, m.timestamp);
    }
    // The clock stops at the round's last result as sent, not at the poll that saw it.
    if (lastAt) ms = lastAt - wall0;
    const duplicates = [...perEvent.values()].filter((c) => c > 1).length;
    const round: Round = { processes: k, ms, results: [...perEvent.values()].reduce((a, b) => a + b, 0), duplicates, missing: N - perEvent.size, cpu, rss, outcomes: [...totals].map(([key, v]) => `${key.split('|')[1]} ${v}`).join(', ') };
    rounds.push(round);
    console.log(`${k} process${k > 1 ? 'es' : ''}: ${N} events in ${secs(ms)}, ${Math.round(N / (ms / 1000))} events/s; results ${round.results} for ${perEvent.size} events (${duplicates} with more than one, ${round.missing} without); workers' CPU ${secs(cpu * 1000)}, peak RSS ${mb(rss)} (${round.outcomes})`);
  }
  await admin.disconnect();

  const la = loadavg().map((x) => x.toFixed(2)).join(' ');
  const base = rounds[0]!;
  console.log(`\nscale-out of the moodle group, ${N} no-change events a round; load average ${la}`);
  console.log('processes   time      events/s   speed-up   workers\' CPU   events per CPU-s   exactly one result per event');
  for (const r of rounds) {
    const rate = Math.round(N / (r.ms / 1000));
    const speedup = base.ms / r.ms;
    const exact = r.duplicates === 0 && r.missing === 0;
    console.log(`${String(r.processes).padStart(9)}   ${secs(r.ms).padStart(7)}   ${String(rate).padStart(8)}   ${speedup.toFixed(2).padStart(7)}×   ${secs(r.cpu * 1000).padStart(12)}   ${String(Math.round(N / r.cpu)).padStart(16)}   ${exact ? 'yes' : `NO (${r.duplicates} duplicated, ${r.missing} missing)`}`);
    const note = `${N} no-change events, Moodle simulator with latency, 2 cores shared with Kafka, slapd, PostgreSQL and the simulator; load ${la}`;
    figure({ part: 'scaleout', name: `events/s, ${r.processes} process${r.processes > 1 ? 'es' : ''}`, value: rate, unit: 'events/s', note });
    if (r !== base) figure({ part: 'scaleout', name: `speed-up, ${r.processes} processes`, value: Math.round(speedup * 100) / 100, unit: '×', note: `against 1 process; ${note}` });
    figure({ part: 'scaleout', name: `exactly one result per event, ${r.processes} process${r.processes > 1 ? 'es' : ''}`, value: exact ? 1 : 0, unit: 'yes=1', goal: 'every event exactly one result', met: exact, note: `${r.results} results for ${N} events` });
  }
  const best = rounds.reduce((a, b) => (b.ms < a.ms ? b : a));
  console.log(`2 cores carry the group to ${best.processes} process${best.processes > 1 ? 'es' : ''} (${(base.ms / best.ms).toFixed(2)}× one process)${rounds.some((r) => r.processes > best.processes) ? `; more processes than that only share the same cores` : ''}`);
} catch (e) {
  // What the workers said is what explains a stalled round.
  for (const w of workers) console.error(`--- ${w.name}, last lines ---\n${readFileSync(w.log, 'utf8').split('\n').slice(-15).join('\n')}`);
  throw e;
} finally {
  await stopWorkers(workers);
  await sim.close().catch(() => {});
  const pool = new pg.Pool({ connectionString: cfg.mv.url, max: 1 });
  await pool.query(`DROP SCHEMA IF EXISTS ${cfg.mv.schema} CASCADE; DROP SCHEMA IF EXISTS ${cfg.runtime.stateSchema} CASCADE`).catch(() => {});
  await pool.end();
  await deletePrefixedTopics(env.kafka, prefix);
  await env.close(ids);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
