/**
 * `npm run bench:nochange`: a reconciliation across every target (Moodle, AD, Lenel, WISEflow) when
 * nothing is to change: every person is already in sync in every target, then one SNAPSHOT event
 * per person (as `tilgang sync --all` publishes them) and a worker process per target (`tilgang
 * run --role target:<name>`) reads, plans and finds nothing to do. Timed from the first event
 * published to each target's last result: persons/s per target and overall (goal ≥ 2,000 on 2
 * cores), each worker's CPU time (persons per CPU-second: what a busy machine does not change) and
 * peak memory.
 *
 * Setup, not timed: the sample university (src/seed) in the bench's own directory subtree and MV
 * schema; Moodle, Lenel and WISEflow are the simulators (in this process, no latency model, WISEflow
 * with its licence's rate limits in the measured run), AD the stack's Samba DC under an OU of the
 * bench's own. Each target is brought in sync by the target's own read, plan and apply, run here
 * without Kafka (bench/insync.ts): correct by construction, but a person's writes each. That is what
 * bounds the size of a run in a few minutes: 20,000 people by default, AD the first 2,000 of them
 * (seen on a busy machine: 200 people in sync in AD took 94 s, two passes of reads and adds; the
 * others' events are addressed to the other targets). The DC is the setup's longest part: with
 * 20,000 people the simulators' targets were in sync in 35-100 s, the DC's 2,000 in 145-165 s.
 * The simulators share this process's event loop with the setup and the measured run: a profile of
 * this process (node --cpu-prof) shows what they cost, BENCH_WORKER_NODE_ARGS the workers'.
 * The issue's size is `--persons 100000`: expect the setup to take several times the run.
 *
 *   npx tsx bench/nochange.ts [--persons 20000] [--ad 2000]
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg as osLoadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Config } from '../src/config.js';
import { chunks, mapLimit } from '../src/lib/concurrency.js';
import { newRunId, PersonEventPublisher, runEvent } from '../src/producers/publisher.js';
import { EventCodec } from '../src/schemas/codec.js';
import { generateUniversity, runSeed } from '../src/seed/index.js';
import type { RunningSimulator } from '../src/spi/index.js';
import { SAMBA_PEOPLE_OU, SAMBA_SERVICE_UPN, sambaClient, sambaSecrets } from '../src/stack/samba.js';
import { getTarget, loadSimulator } from '../src/targets/index.js';
import { MoodleClient } from '../src/targets/moodle/client.js';
import { courseIdnumber } from '../src/targets/moodle/index.js';
import { startWiseflowSimulator, type WiseflowSimulator } from '../src/targets/wiseflow/simulator/index.js';
import { bringInSync, show } from './insync.js';
import { cpuSecondsOf, deletePrefixedTopics, peakRssOf, privateTargets, randomTargetSecrets, readResultTopic, resultsOf, startWorker, stopWorkers, sum, whenRunning, writeWorkerConfig, type WorkerProcess } from './fleet.js';
import { benchEnv, figure, mb } from './support.js';

const { values: args } = parseArgs({ options: { persons: { type: 'string' }, ad: { type: 'string' } } });
const N = Number(args.persons ?? process.env.BENCH_N ?? 20_000);
const N_AD = Math.min(N, Number(args.ad ?? 2_000));
const TARGETS = ['moodle', 'ad', 'lenel', 'wiseflow'] as const;
const NOW = new Date('2026-09-15T12:00:00Z');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const t00 = performance.now();
const env = await benchEnv('nochange');
const cfg = env.cfg;
const dir = mkdtempSync(join(tmpdir(), 'tilgang-bench-nochange-'));
cfg.mv.schema = `bench_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
cfg.runtime.guard = { ...cfg.runtime.guard, maxOperations: 1_000_000, maxShare: 1, minAccounts: 1_000_000, targets: {} };
const prefix = `bench.${env.id}.`;
const adOu = `OU=bench-${env.id},${SAMBA_PEOPLE_OU}`;
const targetSecrets = randomTargetSecrets();
cfg.targets = privateTargets(dir, adOu, targetSecrets);

const sims = new Map<string, RunningSimulator>();
let wiseflowSim: WiseflowSimulator | undefined;
let workers: WorkerProcess[] = [];
let ids: string[] = [];
const ad = sambaClient();
await ad.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: `bench-${env.id}` });

try {
  console.log(`bench:nochange — ${N} people, every one already in sync in Moodle, Lenel and WISEflow (simulators) and the first ${N_AD} in AD (Samba DC); a SNAPSHOT event each, a worker process per target`);
  // ---- setup: the people ----------------------------------------------------------------------
  let t = performance.now();
  const uni = generateUniversity({ persons: N, seed: 1, now: NOW });
  const seeded = await runSeed(cfg, { persons: N, seed: 1, now: NOW, connections: 8 });
  ids = uni.persons.map((p) => p.idautoId);
  console.log(`setup: ${N} people into the directory (${secs(seeded.timings.ldapAddMs)}) and MV (${secs(seeded.timings.mvMs)}), ${secs(performance.now() - t)} in all`);

  // ---- setup: the simulators ------------------------------------------------------------------
  for (const name of ['moodle', 'lenel'] as const) {
    const s = await (await loadSimulator(name))!.start({ port: 0, latency: false, global: cfg });
    sims.set(name, s);
    (cfg.targets[name] as { url: string }).url = s.url;
  }
  // WISEflow without its rate limits while it is filled; the measured run meets them.
  const wfClients = [{ id: 'tilgang', secret: targetSecrets.wiseflowSecret }];
  wiseflowSim = await startWiseflowSimulator({ port: 0, clients: wfClients, rateLimits: false });
  (cfg.targets.wiseflow as { url: string }).url = wiseflowSim.url;
  // Moodle's courses, as the courses flow makes them.
  const moodleWs = new MoodleClient({ url: sims.get('moodle')!.url, token: targetSecrets.moodleToken, connections: 4 });
  const topics = uni.topics.filter((x) => x.status === 'active');
  await mapLimit(chunks(topics, 50), 4, (batch) => moodleWs.call('core_course_create_courses', {
    courses: batch.map((x) => ({ fullname: x.nameNb, shortname: `${x.code}-${x.year}-${x.term}`, categoryid: 1, idnumber: courseIdnumber(x) })),
  }));
  await moodleWs.close();

  // ---- setup: every target in sync, by the target's own read, plan and apply ---------------------
  const fillTimes: Record<string, number> = {};
  await Promise.all(TARGETS.map(async (name) => {
    const t1 = performance.now();
    const tcfg: Config = structuredClone(cfg);
    // WISEflow's simulator is filled without its rate limits, and tilgang's client told so.
    if (name === 'wiseflow') (tcfg.targets.wiseflow as Record<string, unknown>).rateLimit = { perSecond: 1_000_000, perMinute: 1_000_000_000 };
    const people = name === 'ad' ? ids.slice(0, N_AD) : ids;
    let o = await bringInSync(tcfg, await getTarget(name), people);
    // In AD a person's account may change another's plan (a new manager's reports): again until nothing is applied.
    for (let pass = 2; name === 'ad' && o.APPLIED && pass <= 3; pass++) o = await bringInSync(tcfg, await getTarget(name), people);
    fillTimes[name] = performance.now() - t1;
    console.log(`setup: ${name} brought in sync in ${secs(fillTimes[name]!)} (last pass: ${show(o)})`);
  }));
  // The measured run meets the licence's rate limits: a simulator with them, on the same users.
  const licence = wiseflowSim.licence.data;
  await wiseflowSim.close();
  wiseflowSim = await startWiseflowSimulator({ port: 0, clients: wfClients, license: licence.license });
  wiseflowSim.licence.data.users = licence.users;
  wiseflowSim.licence.data.seq = licence.seq;
  (cfg.targets.wiseflow as { url: string }).url = wiseflowSim.url;

  // ---- the run --------------------------------------------------------------------------------
  const configFile = writeWorkerConfig(cfg, prefix, dir);
  workers = await Promise.all(TARGETS.map((name) => startWorker(configFile, `target:${name}`, dir)));
  await whenRunning(workers);
  const cpu0 = Object.fromEntries(workers.map((w) => [w.role.slice('target:'.length), cpuSecondsOf(w.child.pid)]));
  const expected: Record<string, number> = { moodle: N, lenel: N, wiseflow: N, ad: N_AD };
  const pub = new PersonEventPublisher(env.kafka, cfg, `${prefix}pub`);
  await pub.connect();
  const run = newRunId();
  const t0 = performance.now();
  const wall0 = Date.now();
  const sending = (async () => {
    for (let i = 0; i < ids.length; i += 2000) {
      await pub.send(ids.slice(i, i + 2000).map((id, k) => runEvent(id, { runId: run, mode: 'SNAPSHOT', logOnly: false, targets: i + k < N_AD ? null : ['moodle', 'lenel', 'wiseflow'], source: 'bench' })));
    }
    return performance.now() - t0;
  })();
  const done: Record<string, number> = {};
  const last = new Map<string, Map<string, number>>();
  let stalledSince = performance.now();
  let lastTotal = -1;
  while (Object.keys(done).length < TARGETS.length) {
    await new Promise((r) => setTimeout(r, 1_000));
    for (const w of workers) {
      const name = w.role.slice('target:'.length);
      if (done[name]) continue;
      const m = await resultsOf(w);
      last.set(name, m);
      if (sum(m, name) >= expected[name]!) done[name] = performance.now() - t0;
    }
    const total = [...last.values()].reduce((n, m) => n + sum(m), 0);
    if (total !== lastTotal) { lastTotal = total; stalledSince = performance.now(); }
    if (performance.now() - stalledSince > 120_000) throw new Error(`no result for 2 minutes: ${TARGETS.map((x) => `${x} ${sum(last.get(x) ?? new Map(), x)}/${expected[x]}`).join(', ')}`);
  }
  const publishMs = await sending;
  await pub.disconnect();
  const rss = Object.fromEntries(workers.map((w) => [w.role.slice('target:'.length), peakRssOf(w.child.pid)]));
  const cpu = Object.fromEntries(workers.map((w) => [w.role.slice('target:'.length), cpuSecondsOf(w.child.pid) - cpu0[w.role.slice('target:'.length)]!]));
  // Each target's clock stops at its last result as sent (read from the result topic), not at the poll that saw it.
  const lastAt: Record<string, number> = {};
  // What the results that are not UNCHANGED or SKIPPED did, by target, outcome and operation: a person not in sync after the setup.
  const codec = new EventCodec(cfg.registry);
  const changed = new Map<string, number>();
  for (const m of await readResultTopic(env.kafka, cfg.kafka.topics.provisioningResult, N * 3 + N_AD, prefix)) {
    lastAt[m.target] = Math.max(lastAt[m.target] ?? 0, m.timestamp);
    const r = await codec.decode('ProvisioningResult', m.value);
    if (r.outcome === 'UNCHANGED' || r.outcome === 'SKIPPED') continue;
    const what = `${r.target} ${r.outcome}: ${(r.operations ?? []).map((o) => `${o.kind}(${(o.changes ?? []).map((c) => c.attribute).join(' ')})`).join(', ') || r.error?.code || ''}`;
    changed.set(what, (changed.get(what) ?? 0) + 1);
  }
  for (const name of TARGETS) if (lastAt[name]) done[name] = lastAt[name]! - wall0;

  // ---- report ---------------------------------------------------------------------------------
  const overall = Math.max(...Object.values(done));
  const loadavg = osLoadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`\nno-change reconciliation: ${N} events published in ${secs(publishMs)}; load average ${loadavg}`);
  // CPU per person is what a busy machine does not change: the rate a worker would reach with a core of its own.
  console.log('target     people   time       persons/s   worker CPU   persons per CPU-s   peak RSS   outcomes');
  for (const name of TARGETS) {
    const m = last.get(name)!;
    const rate = Math.round(expected[name]! / (done[name]! / 1000));
    const outcomes = [...m].map(([k, v]) => `${k.split('|')[1]} ${v}`).join(', ');
    const perCpu = Math.round(expected[name]! / Math.max(0.01, cpu[name]!));
    console.log(`${name.padEnd(10)} ${String(expected[name]).padStart(6)}   ${secs(done[name]!).padStart(7)}   ${String(rate).padStart(9)}   ${secs(cpu[name]! * 1000).padStart(10)}   ${String(perCpu).padStart(17)}   ${mb(rss[name]!).padStart(8)}   ${outcomes}`);
    const changed = sum(m, name) - (m.get(`${name}|UNCHANGED`) ?? 0) - (m.get(`${name}|SKIPPED`) ?? 0);
    figure({ part: 'nochange', name: `persons/s, ${name}`, value: rate, unit: 'persons/s', goal: '≥ 2,000', met: rate >= 2000, note: `${expected[name]} people${name === 'ad' ? ` (AD at ${N_AD} of ${N}: bringing the DC in sync is an add per account)` : ''}, a worker process per target on 2 cores, load ${loadavg}${changed ? `; ${changed} results not UNCHANGED/SKIPPED` : ''}` });
    figure({ part: 'nochange', name: `persons per CPU-second, ${name} worker`, value: perCpu, unit: 'persons/CPU-s', note: 'the worker process\'s own CPU time (user + system) over the run' });
    figure({ part: 'nochange', name: `peak RSS, ${name} worker`, value: Math.round(rss[name]! / 2 ** 20), unit: 'MB' });
  }
  if (changed.size) console.log(`not in sync after the setup: ${[...changed].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} ×${v}`).join('; ')}`);
  const all = Math.round(N / (overall / 1000));
  console.log(`overall: ${N} people through every target in ${secs(overall)}: ${all} persons/s (goal ≥ 2,000: ${all >= 2000 ? 'met' : 'NOT met'})`);
  figure({ part: 'nochange', name: 'persons/s, all targets', value: all, unit: 'persons/s', goal: '≥ 2,000', met: all >= 2000, note: `${N} people (AD ${N_AD}), first event to the last result of every target, load ${loadavg}` });
  console.log(`setup ${secs(t0 - t00)} (sync: ${TARGETS.map((x) => `${x} ${secs(fillTimes[x]!)}`).join(', ')})`);
} finally {
  await stopWorkers(workers);
  for (const s of sims.values()) await s.close().catch(() => {});
  await wiseflowSim?.close().catch(() => {});
  const t = performance.now();
  // Each step on its own: one that fails (the DC busy) leaves the others to do theirs.
  const step = (what: string, p: Promise<unknown>) => p.catch((e: Error) => console.error(`clean-up: ${what} failed: ${e.message}`));
  await ad.unbind().catch(() => {});
  await step('AD', cleanAd(adOu));
  const pool = new pg.Pool({ connectionString: cfg.mv.url, max: 1 });
  await step('MV', pool.query(`DROP SCHEMA IF EXISTS ${cfg.mv.schema} CASCADE; DROP SCHEMA IF EXISTS ${cfg.runtime.stateSchema} CASCADE`));
  await pool.end();
  await step('topics', deletePrefixedTopics(env.kafka, prefix));
  await step('directory', env.close(ids));
  // BENCH_LOGS=<dir> keeps the workers' logs there.
  if (process.env.BENCH_LOGS) for (const w of workers) cpSync(w.log, join(process.env.BENCH_LOGS, `${w.name}.stderr`));
  rmSync(dir, { recursive: true, force: true });
  console.log(`clean-up ${secs(performance.now() - t)}`);
}
process.exit(0);

/** The bench's AD OU and everything below it, leaves first, over fresh connections (the DC drops one idle for the length of a run). */
async function cleanAd(base: string): Promise<void> {
  if (process.env.BENCH_KEEP) return;
  const cleaners = await Promise.all(Array.from({ length: 4 }, async () => {
    const x = sambaClient();
    await x.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
    return x;
  }));
  try {
    const dns: string[] = [];
    for await (const page of cleaners[0]!.searchPaginated(base, { scope: 'sub', attributes: ['1.1'], paged: { pageSize: 1000 } })) dns.push(...page.searchEntries.map((e) => e.dn));
    dns.sort((a, b) => b.split(',').length - a.split(',').length);
    const leaves = dns.filter((d) => d.startsWith('CN='));
    await mapLimit(leaves, 16, (dn, i) => cleaners[i % 4]!.del(dn).catch(() => {}));
    for (const dn of dns.filter((d) => !d.startsWith('CN='))) await cleaners[0]!.del(dn).catch(() => {});
  } finally {
    await Promise.all(cleaners.map((x) => x.unbind().catch(() => {})));
  }
}
