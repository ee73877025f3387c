/**
 * `npm run bench:term [-- --students 20000 --seconds 60 --minutes 10]` — the start of term: N new
 * students (default 20,000) appear in the directory within a minute, and the bench measures the
 * time until every one of them is in Moodle (with their enrolments), Active Directory and WISEflow,
 * through the real pipeline as separate processes, as a deployment runs it:
 *
 *   tilgang run --role producer | target:moodle | target:ad | target:wiseflow | writeback
 *
 * each on a configuration file of the bench's own (topics, groups and dead letters under a prefix
 * of its own, its own directory subtree below ou=Tests, MV schema, and AD OU). The students are the
 * sample university's (src/seed), with their MV rows (courses they take) loaded first; the
 * directory entries are then added at an even pace over --seconds. Moodle is the simulator with its
 * latency model and WISEflow the simulator with its latency model and the licence's rate limits,
 * each in a process of its own; AD is the stack's Samba DC.
 *
 * Printed: per target the time from the first student added to the last one applied (each
 * person's result on provisioning.result, then checked in the target itself), per process the
 * peak resident memory (the kernel's VmHWM; goal under 300 MB each), and the dead letters (goal:
 * none). A target not finished within --minutes is reported with its rate and the projected time.
 * Everything it made is removed at the end (BENCH_KEEP=1 keeps it).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Control } from 'ldapts';
import pg from 'pg';
import { loadConfig, readSecret } from '../src/config.js';
import { dlqTopic, readDeadLetters, WRITEBACK } from '../src/consumers/dlq.js';
import { chunks, mapLimit } from '../src/lib/concurrency.js';
import { migrate } from '../src/mv/migrate.js';
import { EventCodec } from '../src/schemas/codec.js';
import type { ProvisioningResult } from '../src/schemas/generated.js';
import { generateUniversity, loadMv, personEntry, type SamplePerson, type University } from '../src/seed/index.js';
import { SAMBA_PEOPLE_OU, SAMBA_SERVICE_UPN, SAMBA_URL, sambaClient, sambaSecrets } from '../src/stack/samba.js';
import { MoodleClient } from '../src/targets/moodle/client.js';
import { courseIdnumber } from '../src/targets/moodle/index.js';
import { startMoodleSimulator } from '../src/targets/moodle/simulator/index.js';
import { startWiseflowSimulator } from '../src/targets/wiseflow/simulator/index.js';
import { benchEnv, figure, TILGANG_BIN, tilgangNodeOptions } from './support.js';

const { values: o } = parseArgs({ options: {
  students: { type: 'string' }, seconds: { type: 'string' }, minutes: { type: 'string' }, serve: { type: 'string' },
} });

// ---- the simulators, each in a process of its own (--serve moodle|wiseflow) ---------------------

/** What the bench asks a simulator at the end: per person key, the accounts made and (Moodle) the active enrolments. */
interface SimReport { creates: Record<string, number>; enrolments?: Record<string, number> }

async function serve(which: string): Promise<void> {
  const secret = process.env.TILGANG_BENCH_TERM_SECRET!;
  let report: () => SimReport;
  let close: () => Promise<void>;
  let url: string;
  if (which === 'moodle') {
    const sim = await startMoodleSimulator({
      token: secret, port: 0, latency: true, seed: 'minimal',
      profileFields: [{ shortname: 'studentid', name: 'Student id', datatype: 'text', visible: true }],
    });
    url = sim.url;
    close = () => sim.close();
    report = () => {
      const s = sim.snapshot();
      const idnumber = new Map(s.users.map((u) => [u.id, (u as { idnumber?: string }).idnumber ?? '']));
      const enrolments: Record<string, number> = {};
      for (const e of s.enrolments) {
        if (e.status !== 0) continue;
        const k = idnumber.get(e.userid);
        if (k) enrolments[k] = (enrolments[k] ?? 0) + 1;
      }
      return { creates: Object.fromEntries(sim.creates()), enrolments };
    };
  } else {
    // The licence's limits (200/s, 5,000/min) are on by default, as WISEflow enforces them.
    const sim = await startWiseflowSimulator({ clients: [{ id: 'tilgang', secret }], latency: true });
    url = sim.url;
    close = () => sim.close();
    report = () => ({ creates: Object.fromEntries(sim.creates()) });
  }
  process.on('message', (m: string) => {
    if (m === 'report') process.send!({ report: report() });
    if (m === 'stop') void close().then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ url });
}

interface Sim { name: string; url: string; proc: ChildProcess; report(): Promise<SimReport>; stop(): Promise<void> }

async function simulator(name: 'moodle' | 'wiseflow', secret: string): Promise<Sim> {
  const proc = fork(fileURLToPath(import.meta.url), ['--serve', name], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, TILGANG_BENCH_TERM_SECRET: secret, TILGANG_LOG_LEVEL: 'warn' },
  });
  const url = await new Promise<string>((ok, fail) => {
    proc.once('message', (m: { url?: string }) => (m.url ? ok(m.url) : fail(new Error(`${name} simulator: no url`))));
    proc.once('exit', (code) => fail(new Error(`${name} simulator exited with ${code}`)));
  });
  return {
    name, url, proc,
    report: () => new Promise((ok) => {
      const on = (m: { report?: SimReport }) => { if (m.report) { proc.off('message', on); ok(m.report); } };
      proc.on('message', on);
      proc.send('report');
    }),
    stop: () => new Promise((ok) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return ok();
      proc.once('exit', () => ok());
      proc.send('stop');
    }),
  };
}

// ---- the students -------------------------------------------------------------------------------

/**
 * N students of a sample university large enough to hold them (about four in five people are
 * students): active, with a complete record (the planted bad records left out). Their usernames
 * get a tag of the run's own, as mail and Feide id do: AD's sAMAccountName is unique in the whole
 * domain, which other benches and tests share.
 */
function students(n: number, seed: number, tag: string, now: Date): { uni: University; chosen: SamplePerson[] } {
  const uni = generateUniversity({ persons: Math.ceil(n / 0.75) + 50, seed, now });
  const bad = new Set(uni.badRecords.map((b) => b.idautoId));
  const chosen = uni.persons.filter((p) => p.affiliation === 'student' && !p.disabled && !bad.has(p.idautoId)).slice(0, n);
  if (chosen.length < n) throw new Error(`the sample university has ${chosen.length} students, not ${n}`);
  chosen.forEach((p, i) => {
    const old = p.username!;
    const username = `${tag}${i.toString(36)}`;
    const rename = (s: string) => s.replace(old, username);
    p.username = username;
    p.feideId = p.feideId ? rename(p.feideId) : p.feideId;
    p.mail = p.mail ? rename(p.mail) : p.mail;
    p.emails = p.emails.map(rename);
  });
  return { uni, chosen };
}

// ---- processes and their memory -----------------------------------------------------------------

interface RoleProc { role: string; child: ChildProcess; log: string; exited: Promise<unknown>; hwm: number; rss: number; heap: number; metrics?: string }

/** The V8 heap in use, from the process's own /metrics (its address is in the dashboard's log line): RSS above it is the heap's slack and the code. */
async function heapOf(p: RoleProc): Promise<number | undefined> {
  p.metrics ??= /"url":"(http:\/\/[^"]+)\/"[^\n]*"msg":"dashboard served"/.exec(readFileSync(p.log, 'utf8'))?.[1];
  if (!p.metrics) return undefined;
  const text = await fetch(`${p.metrics}/metrics`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text()).catch(() => '');
  const m = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** A process's peak resident set (VmHWM) and current one (VmRSS), in bytes, from /proc. */
function memoryOf(pid: number): { hwm: number; rss: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const MB = (b: number) => Math.round(b / 1024 / 1024);
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const N = Number(o.students ?? 20_000);
  const SPREAD_S = Number(o.seconds ?? 60);
  const BUDGET_MIN = Number(o.minutes ?? 8);
  const TARGETS = ['moodle', 'ad', 'wiseflow'] as const;
  type T = (typeof TARGETS)[number];
  const RSS_GOAL = 300;
  console.log(`bench:term — ${N} new students added to the directory over ${SPREAD_S} s; time until each is in Moodle (simulator with latency), AD (the stack's Samba) and WISEflow (simulator with latency and rate limits); load average ${load()}`);

  const env = await benchEnv('term');
  const { cfg, id } = env;
  const prefix = `bench.${id}.`;
  const now = new Date();
  const tag = `t${randomBytes(2).toString('hex')}`;
  const { uni, chosen } = students(N, Number.parseInt(id.slice(-6), 16) || 1, tag, now);
  const dir = mkdtempSync(join(tmpdir(), 'tilgang-bench-term-'));
  const procs: RoleProc[] = [];
  const sims: Sim[] = [];
  const mvSchema = `bench_mv_${id.replace(/[^a-z0-9]/g, '_')}`;
  const adOu = `OU=bench-${id},${SAMBA_PEOPLE_OU}`;
  const ad = sambaClient();
  const added: string[] = [];
  let resultsConsumer: { disconnect(): Promise<void> } | undefined;
  let cleaned = false;
  /** A run that did not finish keeps the processes' logs, to see why. */
  let keepLogs = true;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(15_000)]);
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await resultsConsumer?.disconnect().catch(() => {});
    for (const s of sims) await s.stop().catch(() => {});
    if (process.env.BENCH_KEEP) return;
    const t = performance.now();
    await ad.unbind().catch(() => {});
    const tAd = performance.now();
    await deleteAdOu(adOu).catch((e: Error) => console.error(`could not delete ${adOu}: ${e.message}`));
    console.error(`AD accounts deleted in ${secs(performance.now() - tAd)}`);
    const db = new pg.Pool({ connectionString: cfg.mv.url, max: 1 });
    await db.query(`DROP SCHEMA IF EXISTS ${mvSchema} CASCADE; DROP SCHEMA IF EXISTS ${cfg.runtime.stateSchema} CASCADE`).catch(() => {});
    await db.end();
    env.topics.push(...[...TARGETS, WRITEBACK].map((t) => dlqTopic(t, prefix)), cfg.kafka.topics.producerState);
    await deleteGroups(env.kafka, prefix);
    await env.close(added);
    if (keepLogs) {
      for (const f of ['moodle-token', 'wiseflow-secret']) rmSync(join(dir, f), { force: true });
      console.error(`the processes' logs are kept in ${dir}`);
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
    console.error(`cleaned up in ${secs(performance.now() - t)}`);
  };
  process.once('SIGINT', () => { void cleanup().finally(() => process.exit(130)); });

  try {
    // MV first: the courses each student takes are there before the student appears.
    let t = performance.now();
    await migrate(cfg.mv.url, mvSchema);
    await loadMv(cfg.mv.url, mvSchema, uni);
    const chosenIds = new Set(chosen.map((p) => p.idautoId));
    // What each student should be enrolled in: their MV rows in the courses Moodle has (the active ones).
    const inMoodle = new Set(uni.topics.filter((x) => x.status === 'active').map((x) => courseIdnumber(x)));
    const courses = new Map<string, Set<string>>();
    for (const m of uni.masterPersons) {
      const course = courseIdnumber(m);
      if (!chosenIds.has(m.idautoId) || !inMoodle.has(course)) continue;
      (courses.get(m.idautoId) ?? courses.set(m.idautoId, new Set()).get(m.idautoId)!).add(course);
    }
    const enrolments = [...courses.values()].reduce((n, s) => n + s.size, 0);
    console.log(`setup: ${chosen.length} students taking ${enrolments} courses, MV loaded (schema of the bench's own) in ${secs(performance.now() - t)}`);

    // The simulators, and the courses in Moodle (the courses flow's part, made before the term starts).
    t = performance.now();
    const moodleSecret = randomBytes(16).toString('hex');
    const wiseflowSecret = randomBytes(18).toString('base64url');
    sims.push(await simulator('moodle', moodleSecret), await simulator('wiseflow', wiseflowSecret));
    const [moodleSim, wiseflowSim] = sims as [Sim, Sim];
    const ws = new MoodleClient({ url: moodleSim.url, token: moodleSecret, connections: 4 });
    const topics = uni.topics.filter((x) => x.status === 'active');
    // Made while the processes start (a minute or more each, on a busy machine): neither waits for the other.
    const makingCourses = (async () => {
      const t1 = performance.now();
      await mapLimit(chunks(topics, 50), 4, (batch) => ws.call('core_course_create_courses', {
        courses: batch.map((x) => ({ fullname: x.nameNb, shortname: `${x.code}-${x.year}-${x.term}`, categoryid: 1, idnumber: courseIdnumber(x) })),
      }));
      await ws.close();
      return performance.now() - t1;
    })();

    // AD accounts under an OU of the bench's own.
    await ad.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
    await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: `bench-${id}` });

    // The processes' configuration: the example's (the local stack), in the bench's own corner.
    const secretFile = (name: string, value: string) => { writeFileSync(join(dir, name), value, { mode: 0o600 }); return { file: join(dir, name) }; };
    const example = loadConfig('tilgang.example.yaml');
    const targets = example.targets as Record<string, Record<string, unknown>>;
    const fileCfg = structuredClone(example);
    fileCfg.kafka.prefix = prefix;
    fileCfg.directory.peopleDn = cfg.directory.peopleDn;
    fileCfg.mv.schema = mvSchema;
    fileCfg.runtime = { ...fileCfg.runtime, stateSchema: cfg.runtime.stateSchema, metricsPort: 0, instanceId: id };
    const { simulator: _m, ...moodle } = targets.moodle!;
    fileCfg.targets = {
      moodle: { ...moodle, url: moodleSim.url, token: secretFile('moodle-token', moodleSecret) },
      ad: { ...targets.ad!, ous: { employee: `OU=Employees,${adOu}`, student: `OU=Students,${adOu}`, disabled: `OU=Disabled,${adOu}` } },
      wiseflow: {
        url: wiseflowSim.url, auth: { clientId: 'tilgang', clientSecret: secretFile('wiseflow-secret', wiseflowSecret) },
        userDataTypes: { feideId: 529, nationalId: 530, studentId: 531, personId: 532 },
        policy: {
          managedRoles: ['Assessor', 'Author', 'Invigilator'],
          rules: [{ affiliations: ['employee'], roles: ['Invigilator'] }, { businessRoles: ['iam:teacher'], roles: ['Assessor', 'Author'] }],
          sensor: { affiliations: ['sensor'], roles: ['Assessor'] },
        },
      },
    };
    const configFile = join(dir, 'tilgang.json');
    writeFileSync(configFile, JSON.stringify(fileCfg, null, 2));
    // The bench's own view of the same names (benchEnv made the topics; the producer's state topic is named as the processes name it).
    cfg.kafka.topics.producerState = `${prefix}${example.kafka.topics.producerState}`;

    // Results, as they come: per target, each student's latest outcome and when it came.
    const codec = new EventCodec(cfg.registry);
    const want = new Map<T, Set<string>>(TARGETS.map((x) => [x, new Set()]));
    const outcomes = new Map<T, Map<string, string>>(TARGETS.map((x) => [x, new Map()]));
    const done = new Map<T, number>(TARGETS.map((x) => [x, 0]));
    const finished = new Map<T, number>();
    const progress = new Map<T, { at: number; n: number }[]>(TARGETS.map((x) => [x, []]));
    let writebacks = 0;
    const consumer = env.kafka.consumer({ groupId: `${prefix}bench-results`, readUncommitted: false, maxWaitTimeInMs: 200 });
    resultsConsumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: cfg.kafka.topics.provisioningResult, fromBeginning: true });
    let t0 = 0;
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        const r = await codec.decodeEvent<ProvisioningResult>(message.value).catch(() => undefined);
        if (!r || !TARGETS.includes(r.target as T)) return;
        const target = r.target as T;
        const seen = outcomes.get(target)!;
        const before = seen.get(r.personId);
        const ok = (x?: string) => x === 'APPLIED' || x === 'UNCHANGED';
        seen.set(r.personId, r.outcome);
        if (ok(r.outcome) && !ok(before) && chosenIds.has(r.personId)) {
          const n = done.get(target)! + 1;
          done.set(target, n);
          if (n === chosen.length) finished.set(target, Date.now() - t0);
        }
      },
    });

    // The pipeline, one process per role.
    t = performance.now();
    for (const role of ['producer', ...TARGETS.map((x) => `target:${x}`), 'writeback']) {
      const log = join(dir, `${role.replace(':', '-')}.stderr`);
      const fd = openSync(log, 'w');
      // BENCH_WORKER_NODE_ARGS: node's own arguments for these processes only (e.g. --heapsnapshot-signal=SIGUSR2), after tilgang's own.
      const nodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
      const child = spawn(process.execPath, [...tilgangNodeOptions(), ...nodeArgs, TILGANG_BIN, '-c', configFile, 'run', '--role', role], {
        stdio: ['ignore', 'ignore', fd], env: { ...process.env, TILGANG_LOG_LEVEL: 'info' },
      });
      closeSync(fd);
      procs.push({ role, child, log, exited: new Promise((r) => child.once('exit', r)), hwm: 0, rss: 0, heap: 0 });
    }
    for (;;) {
      const dead = procs.find((p) => p.child.exitCode !== null);
      if (dead) throw new Error(`${dead.role} exited with ${dead.child.exitCode}: ${readFileSync(dead.log, 'utf8').slice(-2000)}`);
      if (procs.every((p) => /"msg":"running"/.test(readFileSync(p.log, 'utf8')))) break;
      if (performance.now() - t > 180_000) throw new Error('the roles did not all start within 3 minutes');
      await sleep(250);
    }
    console.log(`setup: ${procs.length} processes running in ${secs(performance.now() - t)} (${procs.map((p) => `${p.role} pid ${p.child.pid}`).join(', ')})`);
    console.log(`setup: ${topics.length} courses made in Moodle in ${secs(await makingCourses)}`);
    const sample = () => {
      for (const p of procs) {
        const m = p.child.pid ? memoryOf(p.child.pid) : undefined;
        if (m) { p.hwm = Math.max(p.hwm, m.hwm); p.rss = Math.max(p.rss, m.rss); }
      }
    };
    let maxLoad = 0;
    const watch = setInterval(() => { sample(); maxLoad = Math.max(maxLoad, loadavg()[0]!); }, 500);
    const heaps = setInterval(() => {
      for (const p of procs) void heapOf(p).then((h) => { if (h) p.heap = Math.max(p.heap, h); });
    }, 2000);

    // The term starts: every student added at an even pace over SPREAD_S seconds.
    for (const x of TARGETS) for (const p of chosen) want.get(x)!.add(p.idautoId);
    const entries = chosen.map((p) => personEntry(p, cfg.directory.peopleDn));
    t0 = Date.now();
    let addsEnded = 0;
    const adding = (async () => {
      const conns = await Promise.all(Array.from({ length: 16 }, async () => {
        const c = new Client({ url: cfg.directory.url, timeout: 60_000 });
        await c.bind(cfg.directory.adminDn!, readSecret(cfg.directory.adminPassword!, 'admin'));
        return c;
      }));
      let next = 0;
      await Promise.all(conns.map(async (c) => {
        while (next < entries.length) {
          const i = next++;
          const at = t0 + (i * SPREAD_S * 1000) / entries.length;
          if (at > Date.now()) await sleep(at - Date.now());
          await c.add(entries[i]!.dn, entries[i]!.attributes);
          added.push(chosen[i]!.idautoId);
        }
      }));
      await Promise.all(conns.map((c) => c.unbind()));
      addsEnded = Date.now() - t0;
    })();

    const budget = BUDGET_MIN * 60_000;
    let lastLine = 0;
    let adSeen = 0;
    for (;;) {
      await sleep(1000);
      const el = Date.now() - t0;
      // AD's results come a chunk at a time (500 people a partition, committed together), minutes
      // apart at the DC's pace: its progress is also counted in AD itself, every 30 s.
      for (const x of TARGETS) progress.get(x)!.push({ at: el, n: x === 'ad' ? Math.max(done.get(x)!, adSeen) : done.get(x)! });
      const dead = procs.find((p) => p.child.exitCode !== null);
      if (dead) throw new Error(`${dead.role} exited with ${dead.child.exitCode}: ${readFileSync(dead.log, 'utf8').slice(-2000)}`);
      if (el - lastLine >= 30_000) {
        lastLine = el;
        if (!finished.has('ad')) adSeen = await countAdAccounts(ad, adOu).catch(() => adSeen);
        console.error(`  ${secs(el)}: added ${added.length}; ${TARGETS.map((x) => `${x} ${done.get(x)}`).join(', ')} (accounts in AD ${adSeen}); RSS (heap used) ${procs.map((p) => `${p.role} ${MB(p.rss)} (${MB(p.heap)})`).join(', ')} MB; load ${load()}`);
      }
      if (finished.size === TARGETS.length || el > budget) break;
    }
    await adding;
    keepLogs = finished.size < TARGETS.length;
    clearInterval(watch);
    clearInterval(heaps);
    sample();

    // Checked in the targets themselves: the accounts (and Moodle's enrolments) the results claim.
    const reports = { moodle: await moodleSim.report(), wiseflow: await wiseflowSim.report() };
    const adAccounts = await countAdAccounts(ad, adOu);
    const enrolled = chosen.filter((p) => (reports.moodle.enrolments?.[p.idautoId] ?? 0) >= (courses.get(p.idautoId)?.size ?? 0)).length;
    const twice = (r: SimReport) => Object.values(r.creates).filter((n) => n > 1).length;
    const letters = Object.fromEntries(await Promise.all([...TARGETS, WRITEBACK].map(async (x) => [x, (await readDeadLetters(env.kafka, x, undefined, prefix)).letters.length] as const)));
    const dlq = Object.values(letters).reduce((a, b) => a + b, 0);

    console.log(`\nstart of term: ${chosen.length} students (${enrolments} enrolments) added over ${secs(addsEnded)}; load average ${load()} (1-min peak ${maxLoad.toFixed(2)}) on a machine others share`);
    for (const x of TARGETS) {
      const ms = finished.get(x);
      const n = done.get(x)!;
      const other = [...outcomes.get(x)!.values()].reduce<Record<string, number>>((a, v) => { if (v !== 'APPLIED' && v !== 'UNCHANGED') a[v] = (a[v] ?? 0) + 1; return a; }, {});
      const otherText = Object.keys(other).length ? `; not done: ${Object.entries(other).map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
      if (ms !== undefined) {
        console.log(`  ${x.padEnd(9)} every student in ${secs(ms)} after the first was added (${secs(ms - addsEnded)} after the last)${otherText}`);
        figure({ part: 'term', name: `time until all ${chosen.length} students are in ${x}`, value: Math.round(ms / 100) / 10, unit: 's', note: `${chosen.length} students added over ${(addsEnded / 1000).toFixed(0)} s; load ${load()}` });
      } else {
        // Not finished in the budget: the rate over the last minute and when, at that rate, the last would be in.
        const p = progress.get(x)!;
        const last = p[p.length - 1]!;
        const ref = p.find((q) => q.at >= last.at - 60_000) ?? p[0]!;
        const rate = (last.n - ref.n) / Math.max(1, (last.at - ref.at) / 1000);
        const projected = rate > 0 ? last.at + ((chosen.length - last.n) / rate) * 1000 : Infinity;
        console.log(`  ${x.padEnd(9)} NOT finished within ${BUDGET_MIN} min: ${Math.max(n, last.n)} of ${chosen.length} in ${secs(last.at)}${x === 'ad' ? ` (${n} results, ${last.n} accounts in AD)` : ''}, ${rate.toFixed(1)}/s over the last minute; at that rate all in ≈ ${Number.isFinite(projected) ? secs(projected) : 'never'}${otherText}`);
        figure({ part: 'term', name: `students in ${x} within ${BUDGET_MIN} min`, value: Math.max(n, last.n), unit: 'students', goal: `all ${chosen.length}`, met: false, note: `${rate.toFixed(1)}/s over the last minute; projected all in ${Number.isFinite(projected) ? `${(projected / 1000).toFixed(0)} s` : 'never'}` });
      }
    }
    console.log(`  in the targets: Moodle ${Object.keys(reports.moodle.creates).length} accounts, ${enrolled} of ${chosen.length} students with all their courses; AD ${adAccounts} accounts; WISEflow ${Object.keys(reports.wiseflow.creates).length} accounts; made twice: Moodle ${twice(reports.moodle)}, WISEflow ${twice(reports.wiseflow)}`);
    console.log(`  dead letters: ${Object.entries(letters).map(([k, v]) => `${k} ${v}`).join(', ')} (goal: none)`);
    figure({ part: 'term', name: 'dead letters', value: dlq, unit: 'letters', goal: '0', met: dlq === 0 });
    console.log('  peak memory per process (VmHWM):');
    for (const p of procs) {
      console.log(`    ${p.role.padEnd(16)} ${String(MB(p.hwm)).padStart(4)} MB (V8 heap used at most ${MB(p.heap)} MB)${MB(p.hwm) >= RSS_GOAL ? '  (over the goal)' : ''}`);
      figure({ part: 'term', name: `peak RSS, ${p.role}`, value: MB(p.hwm), unit: 'MB', goal: `< ${RSS_GOAL} MB`, met: MB(p.hwm) < RSS_GOAL, note: `${chosen.length} students` });
    }
    void writebacks;
  } finally {
    await cleanup();
  }
  process.exit(0);
}

/** Accounts under the bench's OU that carry an anchor (those tilgang made). */
async function countAdAccounts(ad: Client, ou: string): Promise<number> {
  let n = 0;
  for await (const page of ad.searchPaginated(ou, { scope: 'sub', filter: '(&(objectClass=user)(employeeNumber=*))', attributes: ['1.1'], paged: { pageSize: 1000 } })) n += page.searchEntries.length;
  return n;
}

/**
 * Deletes the bench's OU and everything in it: with the tree-delete control (one request, the DC
 * deletes the subtree), else entry by entry, deepest first, over a few connections.
 */
async function deleteAdOu(ou: string): Promise<void> {
  // The DC answers a tree delete when the whole subtree is gone: about as long as deleting each entry.
  const ad = sambaClient(SAMBA_URL, 3_600_000);
  await ad.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
  try {
    await ad.del(ou, new Control('1.2.840.113556.1.4.805', { critical: true }));
    return;
  } catch (e) {
    console.error(`tree delete of ${ou} refused (${(e as Error).message}); deleting entry by entry`);
  }
  await ad.unbind().catch(() => {});
  await ad.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
  const dns: string[] = [];
  for await (const page of ad.searchPaginated(ou, { scope: 'sub', attributes: ['1.1'], paged: { pageSize: 1000 } })) dns.push(...page.searchEntries.map((x) => x.dn));
  const byDepth = new Map<number, string[]>();
  for (const dn of dns) { const d = dn.split(',').length; byDepth.set(d, [...(byDepth.get(d) ?? []), dn]); }
  for (const d of [...byDepth.keys()].sort((a, b) => b - a)) await mapLimit(byDepth.get(d)!, 4, (dn) => ad.del(dn).catch(() => {}));
  await ad.unbind().catch(() => {});
}

/** The consumer groups of the bench's own (under its prefix), so none is left in the cluster. */
async function deleteGroups(kafka: Awaited<ReturnType<typeof benchEnv>>['kafka'], prefix: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const { groups } = await admin.listGroups();
    const ours = groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (ours.length) await admin.deleteGroups(ours);
  } catch (e) {
    const failed = (e as { groups?: { groupId: string; error?: { type?: string } }[] }).groups?.filter((g) => g.error).map((g) => `${g.groupId}: ${g.error?.type}`);
    console.error(`could not delete the bench's consumer groups: ${(e as Error).message}${failed?.length ? ` (${failed.join(', ')})` : ''}`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

// Last, after every declaration above is initialised.
if (o.serve) await serve(o.serve);
else await main();
