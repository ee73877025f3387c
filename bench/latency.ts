/**
 * `npm run bench:latency`: change-to-applied latency, from a directory write to its effect in each
 * target, through the real pipeline: the changelog producer, one consumer group per target (the
 * runtime's TargetGroup, default runtime settings) and the writeback, in this process as
 * `tilgang run` runs them all; the simulators each in a child process of their own.
 *
 *   change   an LDAP modify of a person's `mail` (every target maps it: Moodle email, AD mail,
 *            Lenel email, WISEflow primaryEmail), timed when the directory answers it;
 *   effect   the target's APPLIED provisioning result for that change, readable on the results
 *            topic by a read_committed consumer (the target answered the update before the result
 *            was committed). Results are matched to changes per person and target in order; a
 *            change coalesced with the next one of the same person counts when its result comes.
 *
 * Targets: the Moodle simulator with its latency model (as bench:moodle), the stack's real Samba AD
 * DC (accounts under an OU of the bench's own), the Lenel and WISEflow simulators with theirs.
 * The sample university (--people, default 1,000) is seeded into the bench's own directory subtree
 * and MV schema and provisioned into every target first (not measured): the measured changes are
 * updates of people every target has (creates are not mixed in).
 *
 * Two parts: a steady 50 changes/s for --seconds (default 300), then a burst of 500 changes/s for
 * --burst-seconds (default 10, i.e. 5,000 changes); people are changed round-robin, so at 50/s a
 * person changes every people/50 seconds, in the burst every people/500 seconds.
 * Goals: p99 < 300 ms at 50/s, p99 < 1 s in the burst.
 *
 * Beside the percentiles, each target's time is split by the result's own stamps: until its
 * reconcile began (producer, Kafka, waiting for the group's fetch), the reconcile (read, plan,
 * apply), and after it (the transaction's commit, reading the result).
 *
 *   npx tsx bench/latency.ts [--seconds 300] [--burst-seconds 10] [--people 1000]
 *                            [--targets moodle,ad] [--partitions-concurrently N]
 * (--targets and --partitions-concurrently are for finding where the time goes, not for the report.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Attribute, Change, Client } from 'ldapts';
import pg from 'pg';
import { loadConfig, readSecret } from '../src/config.js';
import { dlqTopic, WRITEBACK } from '../src/consumers/dlq.js';
import { TargetGroup } from '../src/consumers/target-group.js';
import { Writeback } from '../src/consumers/writeback.js';
import { ChangelogProducer } from '../src/producers/changelog-producer.js';
import { EventCodec } from '../src/schemas/codec.js';
import { generateUniversity, runSeed } from '../src/seed/index.js';
import { chunks, mapLimit } from '../src/lib/concurrency.js';
import { MoodleClient } from '../src/targets/moodle/client.js';
import { courseIdnumber } from '../src/targets/moodle/index.js';
import { SAMBA_PEOPLE_OU, SAMBA_SERVICE_UPN, sambaClient, sambaSecrets } from '../src/stack/samba.js';
import { getTarget, loadSimulator } from '../src/targets/index.js';
import { privateTargets, randomTargetSecrets } from './fleet.js';
import { benchEnv, callsPerChange, figure, percentile, requestTotals } from './support.js';

const ALL = ['moodle', 'ad', 'lenel', 'wiseflow'] as const;
type TargetName = (typeof ALL)[number];

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string' }, 'burst-seconds': { type: 'string' }, people: { type: 'string' }, targets: { type: 'string' }, 'partitions-concurrently': { type: 'string' },
    serve: { type: 'string' }, config: { type: 'string' },
  },
});
/** --targets moodle,ad runs some of them only (while developing). */
const TARGETS: readonly TargetName[] = args.targets ? ALL.filter((t) => args.targets!.split(',').includes(t)) : ALL;
const SIMULATED = TARGETS.filter((t) => t !== 'ad');

// ---- a simulator in a child process: its latency model's workers do not share our event loop ---

async function startSimulator(name: string, configFile: string): Promise<{ url: string; proc: ChildProcess; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--serve', name, '--config', configFile], {
    stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, TILGANG_LOG_LEVEL: 'warn' },
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (l) => { if (l.startsWith('listening ')) resolve(l.slice('listening '.length)); });
    proc.once('exit', (code) => reject(new Error(`${name} simulator exited with ${code}`)));
  });
  return {
    url, proc,
    stop: () => new Promise<void>((resolve) => {
      if (proc.exitCode !== null) return resolve();
      const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      proc.once('exit', () => { clearTimeout(t); resolve(); });
      proc.stdin!.end();
    }),
  };
}

// ---- matching results to changes ------------------------------------------------------------------

/** Where a change's time went: until its reconcile began (producer, Kafka, fetch, waiting), the reconcile (read, plan, apply), after it (commit, reading the result). */
interface Split { pickup: number[]; work: number[]; publish: number[] }
interface Phase { name: string; /** How the report's figures name the phase. */ tag: string; rate: number; seconds: number; goalMs: number; producer: number[]; lat: Record<TargetName, number[]>; /** When each measured change was made (parallel to lat). */ at: Record<TargetName, number[]>; split: Record<TargetName, Split>; other: Record<TargetName, Record<string, number>>; changes: number; /** Per system, the HTTP calls a change cost (the groups' clients), described. */ calls?: Map<string, string> }

/** Per target and person, the answer times of changes still waiting for their result, oldest first. */
class Pending {
  private readonly q = new Map<string, { at: number; phase: Phase }[]>();
  size = 0;
  add(person: string, at: number, phase: Phase): void {
    for (const t of TARGETS) {
      const k = `${t}|${person}`;
      const list = this.q.get(k) ?? [];
      list.push({ at, phase });
      this.q.set(k, list);
      this.size++;
    }
  }
  take(target: string, person: string): { at: number; phase: Phase } | undefined {
    const list = this.q.get(`${target}|${person}`);
    const x = list?.shift();
    if (x) this.size--;
    return x;
  }
}

/** Deletes entries deepest first, the entries of one depth several at a time (a parent goes after its children). */
async function deleteTree(client: Client, dns: string[]): Promise<void> {
  const depth = (dn: string) => dn.split(/(?<!\\),/).length;
  const levels = [...new Set(dns.map(depth))].sort((a, b) => b - a);
  for (const d of levels) await mapLimit(dns.filter((dn) => depth(dn) === d), 8, (dn) => client.del(dn).catch(() => {}));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
/** The machine's CPU time so far, busy and total, over all cores (a phase's difference is its busy share). */
const machineCpu = () => cpus().reduce((a, c) => {
  const t = c.times;
  const all = t.user + t.nice + t.sys + t.idle + t.irq;
  return { busy: a.busy + all - t.idle, all: a.all + all };
}, { busy: 0, all: 0 });

async function main(): Promise<void> {
  const SECONDS = Number(args.seconds ?? 300);
  const BURST_SECONDS = Number(args['burst-seconds'] ?? 10);
  const PEOPLE = Number(args.people ?? 1000);
  const began = Date.now();
  console.log(`bench:latency — a change (LDAP modify of mail, answered) to its APPLIED result readable (read_committed), per target; `
    + `producer, the ${TARGETS.join(', ')} groups and the writeback in this process with default runtime settings; load average ${load()}`);

  const env = await benchEnv('latency');
  const { cfg, id } = env;
  // Groups, transactional ids and dead-letter topics of the bench's own.
  cfg.kafka.prefix = `bench.${id}.`;
  env.topics.push(...[...ALL, WRITEBACK].map((t) => dlqTopic(t, cfg.kafka.prefix)));
  cfg.mv.schema = `bench_mv_${id.replace(/[^a-z0-9]/g, '_')}`;
  const dir = mkdtempSync(join(tmpdir(), 'tilgang-bench-latency-'));
  const ad = sambaClient();
  await ad.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
  const adOu = `OU=bench-${id},${SAMBA_PEOPLE_OU}`;
  await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: `bench-${id}` });
  const secrets = randomTargetSecrets();
  const blocks = privateTargets(dir, adOu, secrets);
  cfg.targets = Object.fromEntries(TARGETS.map((t) => [t, blocks[t]]));
  if (args['partitions-concurrently']) cfg.runtime.partitionsConcurrently = Number(args['partitions-concurrently']);
  const configFile = join(dir, 'tilgang.json');
  writeFileSync(configFile, JSON.stringify(cfg));
  const sims = new Map<string, Awaited<ReturnType<typeof startSimulator>>>();
  const mvPool = new pg.Pool({ connectionString: cfg.mv.url, max: 1 });
  let producer: ChangelogProducer | undefined;
  const groups = new Map<TargetName, TargetGroup>();
  let writeback: Writeback | undefined;
  let consumer: ReturnType<typeof env.kafka.consumer> | undefined;
  let events: ReturnType<typeof env.kafka.consumer> | undefined;
  const writers: Client[] = [];
  try {
    for (const t of SIMULATED) {
      const s = await startSimulator(t, configFile);
      sims.set(t, s);
      (cfg.targets[t] as { url: string }).url = s.url;
    }

    // The people, in the directory and MV (setup, not measured).
    let t0 = Date.now();
    const now = new Date();
    const seed = await runSeed(cfg, { persons: PEOPLE, seed: 1, now, connections: 4 });
    if (TARGETS.includes('moodle')) {
      // The sample's courses, as the courses flow would have made them: people's enrolments are then in Moodle too.
      const topics = generateUniversity({ persons: PEOPLE, seed: 1, now }).topics.filter((t) => t.status === 'active');
      const ws = new MoodleClient({ url: sims.get('moodle')!.url, token: secrets.moodleToken, connections: 4 });
      for (const batch of chunks(topics, 50)) {
        await ws.call('core_course_create_courses', { courses: batch.map((t) => ({ fullname: t.nameNb, shortname: `${t.code}-${t.year}-${t.term}`, categoryid: 1, idnumber: courseIdnumber(t) })) });
      }
      await ws.close();
    }
    const ids = (await env.ldap.search(cfg.directory.peopleDn, { scope: 'one', filter: '(idautoID=*)', attributes: ['idautoID'] })).searchEntries.map((e) => String(e.idautoID));
    console.log(`setup: ${seed.persons} people seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // What the bench reads: every result, read_committed, as soon as it is committed.
    const codec = new EventCodec(cfg.registry);
    const pending = new Pending();
    const setupApplied = new Map<TargetName, Set<string>>(TARGETS.map((t) => [t, new Set()]));
    const setupResults = new Map<TargetName, number>(TARGETS.map((t) => [t, 0]));
    let measuring = false;
    // The producer's part: the change's event readable on person.changed (read_committed), matched per person in order.
    const unpublished = new Map<string, { at: number; phase: Phase }[]>();
    events = env.kafka.consumer({ groupId: `bench.${id}.events`, readUncommitted: false, maxWaitTimeInMs: 20 });
    await events.connect();
    await events.subscribe({ topic: cfg.kafka.topics.personChanged, fromBeginning: false });
    // No offsets committed (a group of this run only): a commit per batch would cost this process a
    // coordinator lookup and a commit per partition per fetch, beside the pipeline it measures.
    await events.run({
      autoCommit: false,
      partitionsConsumedConcurrently: cfg.kafka.partitions,
      eachMessage: async ({ message }) => {
        if (message.headers?.['tilgang-change']?.toString() !== 'MODIFY') return;
        const change = unpublished.get(message.key!.toString())?.shift();
        if (change) change.phase.producer.push(Date.now() - change.at);
      },
    });
    consumer = env.kafka.consumer({ groupId: `bench.${id}.reader`, readUncommitted: false, maxWaitTimeInMs: 20 });
    await consumer.connect();
    await consumer.subscribe({ topic: cfg.kafka.topics.provisioningResult, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: cfg.kafka.partitions,
      eachMessage: async ({ message }) => {
        const seen = Date.now();
        const r = await codec.decode('ProvisioningResult', message.value!);
        const t = r.target as TargetName;
        if (!measuring || r.mode !== 'LIVE') {
          setupResults.set(t, (setupResults.get(t) ?? 0) + 1);
          if (r.outcome === 'APPLIED') setupApplied.get(t)?.add(r.personId);
          return;
        }
        const change = pending.take(t, r.personId);
        if (!change) return;
        if (r.outcome === 'APPLIED') {
          change.phase.lat[t].push(seen - change.at);
          change.phase.at[t].push(change.at);
          const sp = change.phase.split[t];
          sp.pickup.push(r.processedAt - (r.durationMs ?? 0) - change.at);
          sp.work.push(r.durationMs ?? 0);
          sp.publish.push(seen - r.processedAt);
        } else {
          const why = `${r.outcome}${r.skipReason ? ` ${r.skipReason.split(':')[0]}` : ''}${r.coalescedInto ? ' (coalesced)' : ''}`;
          change.phase.other[t][why] = (change.phase.other[t][why] ?? 0) + 1;
        }
      },
    });

    // The pipeline: the producer first takes a snapshot of everyone (no cookie yet), which provisions them.
    t0 = Date.now();
    producer = new ChangelogProducer(cfg, env.kafka, { name: id });
    await producer.start();
    for (const t of TARGETS) {
      const g = new TargetGroup(cfg, env.kafka, await getTarget(t));
      await g.start();
      groups.set(t, g);
    }
    writeback = new Writeback(cfg, env.kafka);
    await writeback.start();
    const deadline = Date.now() + 360_000;
    while (TARGETS.some((t) => (setupResults.get(t) ?? 0) < ids.length)) {
      if (Date.now() > deadline) throw new Error(`setup: not every person provisioned in 6 minutes (${TARGETS.map((t) => `${t} ${setupResults.get(t)}`).join(', ')} of ${ids.length})`);
      await sleep(200);
    }
    // The writeback's status writes are directory writes too: let them settle before measuring.
    let last = -1;
    while (writeback.counts.results !== last) {
      last = writeback.counts.results;
      await sleep(1_000);
    }
    const everywhere = ids.filter((p) => TARGETS.every((t) => setupApplied.get(t)!.has(p)));
    console.log(`setup: provisioned in ${((Date.now() - t0) / 1000).toFixed(1)} s (${TARGETS.map((t) => `${t} ${setupApplied.get(t)!.size}`).join(', ')} created); `
      + `${everywhere.length} people are in every target and are the ones changed; load average ${load()}`);
    if (everywhere.length < 50) throw new Error(`only ${everywhere.length} people are in every target`);
    measuring = true;

    // The writers: enough admin connections for 500 modifies/s, each paced to its change's due time.
    for (let i = 0; i < 8; i++) {
      const c = new Client({ url: cfg.directory.url, timeout: 30_000 });
      await c.bind(cfg.directory.adminDn!, readSecret(cfg.directory.adminPassword!, 'admin'));
      writers.push(c);
    }
    let serial = 0;
    const run = async (phase: Phase): Promise<void> => {
      const n = Math.round(phase.rate * phase.seconds);
      const cpu0 = process.cpuUsage();
      const machine0 = machineCpu();
      // Everything here shares one event loop: how late its callbacks ran says whether it was saturated.
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const calls0 = await requestTotals();
      const start = performance.now() + 50;
      let next = 0;
      let late = 0;
      await Promise.all(writers.map(async (c) => {
        while (next < n) {
          const i = next++;
          const wait = start + (i * 1000) / phase.rate - performance.now();
          if (wait > 0) await sleep(wait);
          else if (wait < -50) late++;
          const person = everywhere[(serial++) % everywhere.length]!;
          await c.modify(`idautoID=${person},${cfg.directory.peopleDn}`, new Change({
            operation: 'replace', modification: new Attribute({ type: 'mail', values: [`lat${serial}.${person.slice(0, 8)}@uni.example.no`] }),
          }));
          const at = Date.now();
          pending.add(person, at, phase);
          unpublished.set(person, [...(unpublished.get(person) ?? []), { at, phase }]);
          phase.changes++;
        }
      }));
      const took = (performance.now() - start) / 1000;
      // While the changes came: the share of one core this process used, and the machine's.
      const writing = { cpu: process.cpuUsage(cpu0), machine: machineCpu(), ms: performance.now() - start + 50 };
      loop.disable();
      // Results of the last changes: wait until every one is in, or 30 s.
      const until = Date.now() + 30_000;
      while (pending.size > 0 && Date.now() < until) await sleep(100);
      const cpu = process.cpuUsage(cpu0);
      phase.calls = callsPerChange(calls0, await requestTotals(), phase.changes);
      console.log(`\n${phase.name}: ${phase.changes} changes in ${took.toFixed(1)} s (${(phase.changes / took).toFixed(0)} changes/s${late ? `, ${late} written more than 50 ms late` : ''}); `
        + `${((cpu.user + cpu.system) / 1000 / phase.changes).toFixed(1)} ms of this process's CPU per change (producer, groups, writeback, the bench's writers and reader); load average ${load()}`);
      const ownShare = (writing.cpu.user + writing.cpu.system) / 10 / writing.ms;
      const machineShare = (100 * (writing.machine.busy - machine0.busy)) / (writing.machine.all - machine0.all);
      const loopP99 = loop.percentile(99) / 1e6;
      console.log(`  CPU while the changes came: this process ${Math.round(ownShare)} % of one core `
        + `(its one event loop: callbacks late by p50 ${(loop.percentile(50) / 1e6).toFixed(0)} ms, p99 ${loopP99.toFixed(0)} ms); `
        + `the machine ${Math.round(machineShare)} % busy over its ${cpus().length} cores`);
      const note = `while the changes came; load average ${load()}`;
      figure({ part: 'latency', name: `CPU of the one process (producer, groups, writeback) ${phase.tag}`, value: ownShare, unit: '% of one core', note });
      figure({ part: 'latency', name: `event-loop delay p99 ${phase.tag}`, value: loopP99, unit: 'ms', note });
      figure({ part: 'latency', name: `machine CPU busy ${phase.tag}`, value: machineShare, unit: `% of ${cpus().length} cores`, note });
    };
    const empty = <T>(v: () => T) => Object.fromEntries(TARGETS.map((t) => [t, v()])) as Record<TargetName, T>;
    const steady: Phase = { name: `steady 50 changes/s for ${SECONDS} s`, tag: 'at 50 changes/s', rate: 50, seconds: SECONDS, goalMs: 300, producer: [], lat: empty(() => []), at: empty(() => []), split: empty(() => ({ pickup: [], work: [], publish: [] })), other: empty(() => ({})), changes: 0 };
    const burst: Phase = { name: `burst of 500 changes/s for ${BURST_SECONDS} s`, tag: 'in a 500 changes/s burst', rate: 500, seconds: BURST_SECONDS, goalMs: 1000, producer: [], lat: empty(() => []), at: empty(() => []), split: empty(() => ({ pickup: [], work: [], publish: [] })), other: empty(() => ({})), changes: 0 };
    for (const phase of [steady, burst]) {
      await run(phase);
      console.log(`  producer: change answered → its event readable on person.changed p50 ${percentile(phase.producer, 50)} ms, p99 ${percentile(phase.producer, 99)} ms (${phase.producer.length} events)`);
      for (const t of TARGETS) {
        const xs = phase.lat[t];
        const p50 = percentile(xs, 50);
        const p99 = percentile(xs, 99);
        const max = xs.length ? Math.max(...xs) : NaN;
        const missing = phase.changes - xs.length - Object.values(phase.other[t]).reduce((a, b) => a + b, 0);
        const others = Object.entries(phase.other[t]).map(([k, v]) => `${v} ${k}`).join(', ');
        const met = p99 < phase.goalMs;
        console.log(`  ${t.padEnd(8)} p50 ${p50} ms, p99 ${p99} ms, max ${max} ms over ${xs.length} applied${others ? ` (not applied: ${others})` : ''}${missing ? `, ${missing} without a result` : ''}; goal p99 < ${phase.goalMs} ms: ${met ? 'met' : 'NOT met'}`);
        // Where in the phase the slow ones were: p99 per 10 s by when the change was made.
        if (xs.length) {
          const first = Math.min(...phase.at[t]);
          const windows = new Map<number, number[]>();
          phase.at[t].forEach((at, i) => {
            const w = Math.floor((at - first) / 10_000);
            (windows.get(w) ?? windows.set(w, []).get(w)!).push(xs[i]!);
          });
          console.log(`           p99 per 10 s of the phase (ms): ${[...windows].sort((a, b) => a[0] - b[0]).map(([, ys]) => percentile(ys, 99)).join(' ')}`);
        }
        const sp = phase.split[t];
        const pp = (ys: number[]) => `${percentile(ys, 50)}/${percentile(ys, 99)}`;
        console.log(`           p50/p99 ms: until the reconcile began (the producer's part above, then Kafka and the group's fetch) ${pp(sp.pickup)}, reconcile (read, plan, apply) ${pp(sp.work)}, commit and read ${pp(sp.publish)}`);
        const calls = phase.calls?.get(t);
        if (calls) console.log(`           ${calls}`);
        const note = `${phase.rate} changes/s for ${phase.seconds} s, ${everywhere.length} people, change answered → APPLIED result readable; load average ${load()}`;
        figure({ part: 'latency', name: `p50 ${phase.tag}, ${t}`, value: p50, unit: 'ms', note });
        figure({ part: 'latency', name: `p99 ${phase.tag}, ${t}`, value: p99, unit: 'ms', goal: `< ${phase.goalMs} ms`, met, note });
        figure({ part: 'latency', name: `max ${phase.tag}, ${t}`, value: max, unit: 'ms', note });
      }
    }
    console.log(`\ndead-lettered: ${TARGETS.map((t) => `${t} ${groups.get(t)!.counts.dlq}`).join(', ')}; coalesced events: ${TARGETS.map((t) => `${t} ${groups.get(t)!.counts.coalesced}`).join(', ')}`);
  } finally {
    console.log(`cleaning up (people, subtree, AD OU, topics, simulators)... total ${((Date.now() - began) / 1000).toFixed(0)} s so far`);
    await consumer?.disconnect().catch(() => {});
    await events?.disconnect().catch(() => {});
    await producer?.stop().catch(() => {});
    for (const g of groups.values()) await g.stop().catch(() => {});
    await writeback?.stop().catch(() => {});
    for (const c of writers) await c.unbind().catch(() => {});
    for (const s of sims.values()) await s.stop();
    if (!process.env.BENCH_KEEP) {
      const { searchEntries } = await ad.search(adOu, { scope: 'sub', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] as { dn: string }[] }));
      await deleteTree(ad, searchEntries.map((e) => e.dn));
      await mvPool.query(`DROP SCHEMA IF EXISTS ${cfg.mv.schema} CASCADE; DROP SCHEMA IF EXISTS ${cfg.runtime.stateSchema} CASCADE`).catch(() => {});
    }
    await ad.unbind().catch(() => {});
    await mvPool.end();
    // Everything below the bench's people base (the seed's planted bad records too), deepest first.
    if (!process.env.BENCH_KEEP) {
      const { searchEntries } = await env.ldap.search(cfg.directory.peopleDn, { scope: 'sub', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] as { dn: string }[] }));
      await deleteTree(env.ldap, searchEntries.map((e) => e.dn).filter((dn) => dn.toLowerCase() !== cfg.directory.peopleDn.toLowerCase()));
    }
    await env.close([]);
    rmSync(dir, { recursive: true, force: true });
    console.log(`done in ${((Date.now() - began) / 1000).toFixed(0)} s`);
  }
  process.exit(0);
}

// Last, after every declaration above is initialised.
if (args.serve) {
  const sim = await loadSimulator(args.serve);
  if (!sim) throw new Error(`no simulator for ${args.serve}`);
  const running = await sim.start({ port: 0, latency: true, global: loadConfig(args.config!) });
  process.stdout.write(`listening ${running.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => { void running.close().then(() => process.exit(0)); });
} else {
  await main();
}
