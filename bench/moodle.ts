/**
 * `npm run bench:moodle`: a full reconciliation of a sample university (10,000 people by default)
 * with their enrolments into the Moodle simulator with its latency model on (a FIFO pool of 4
 * PHP workers, service times fitted to a real Moodle 4.5), two ways in the same run:
 *
 *   tilgang  the target's own functions in waves of people: desired → actual (coalesced reads) →
 *            plan → applyBatch (writes in batches of 100 across people), over the configured 4
 *            connections, as the consumer group runs them for a wave;
 *   seed     the seed's way of working (PortalLdapToMoodle): one person at a time, one call per
 *            operation — look the user up, create or update, fetch their courses, and per course
 *            to add look its id up and enrol.
 *
 * People come from the sample-university generator, in memory, and are handed to the target
 * functions directly: no Kafka, directory or MV round trips (those cost the same both ways and
 * are measured by bench:runtime). Each way gets a simulator in a child process of its own, so
 * the times and the peak memory reported are tilgang's side alone. The seed's way is strictly
 * sequential, so it runs on a sample and its time is scaled to everyone (--seed-sample N, or
 * all); its course-id lookups are timed apart and the ratio is also given without them.
 *
 *   npx tsx bench/moodle.ts [--persons 10000] [--seed-sample 1000] [--wave 1000] [--waves 2]
 *                           [--connections 4] [--no-second-pass]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isEntitled, missingEssential } from '../src/consumers/entitlement.js';
import type { OperationResult, PersonContext, TargetContext } from '../src/spi/index.js';
import { loadConfig } from '../src/config.js';
import { chunks, mapLimit } from '../src/lib/concurrency.js';
import { child as childLogger } from '../src/lib/log.js';
import type { MvPerson, OrgUnit } from '../src/mv/person.js';
import { generateUniversity, personEntry, type SamplePerson, type University } from '../src/seed/index.js';
import { applyBatch } from '../src/targets/moodle/apply.js';
import { MoodleClient, type MoodleCoursesResult, type MoodleCreatedUser, type MoodleUser, type MoodleUserCourse } from '../src/targets/moodle/client.js';
import { MoodleConfig } from '../src/targets/moodle/config.js';
import { courseIdnumber, isManagedCourse } from '../src/targets/moodle/course-id.js';
import { desired as desiredOf, identity, type Desired } from '../src/targets/moodle/desired.js';
import { planMoodle } from '../src/targets/moodle/plan.js';
import { MoodleSession, readActual, toAccount } from '../src/targets/moodle/read.js';
import { startMoodleSimulator } from '../src/targets/moodle/simulator/index.js';
import type { Actual, Payload } from '../src/targets/moodle/types.js';

// ---- arguments -------------------------------------------------------------------------------

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

// ---- the simulator, in a child process of its own ---------------------------------------------

interface SimMetrics { cpuMs: number; served: number; logged: number; utilisation: number; maxQueued: number; calls: Record<string, number> }

async function startSimulator(token: string): Promise<{ url: string; proc: ChildProcess; stop(): Promise<SimMetrics | undefined> }> {
  const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--serve', '--token', token], {
    stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, TILGANG_LOG_LEVEL: 'warn' },
  });
  let metrics: SimMetrics | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (l) => {
      if (l.startsWith('listening ')) resolve(l.slice('listening '.length));
      if (l.startsWith('metrics ')) metrics = JSON.parse(l.slice('metrics '.length)) as SimMetrics;
    });
    proc.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  return {
    url, proc,
    stop: () => new Promise<SimMetrics | undefined>((resolve) => { proc.once('exit', () => resolve(metrics)); proc.stdin!.end(); }),
  };
}

// ---- the people --------------------------------------------------------------------------------

function people(u: University, cfg: MoodleConfig): { ready: PersonContext[]; skipped: number } {
  const units = new Map(u.orgUnits.map((o) => [o.stedkode, o]));
  const chain = (stedkode: string): OrgUnit[] => {
    const out: OrgUnit[] = [];
    for (let o = units.get(stedkode); o; o = o.parentStedkode ? units.get(o.parentStedkode) : undefined) out.push(o);
    return out;
  };
  const topics = new Map(u.topics.filter((t) => t.status === 'active').map((t) => [t.sourceId, t]));
  const courses = new Map<string, MvPerson['enrolments']>();
  for (const m of u.masterPersons) {
    const t = topics.get(m.sourceId);
    if (!t) continue;
    const list = courses.get(m.idautoId) ?? [];
    list.push({ sourceId: t.sourceId, institution: t.institution, code: t.code, version: t.version, term: m.term, year: m.year, role: m.role, emnetype: t.emnetype, nameNb: t.nameNb });
    courses.set(m.idautoId, list);
  }
  const essential = [cfg.attributes.username, cfg.attributes.firstname, cfg.attributes.lastname, cfg.attributes.email];
  const ready: PersonContext[] = [];
  let skipped = 0;
  for (const p of u.persons as SamplePerson[]) {
    const record = { dn: `idautoID=${p.idautoId},ou=Accounts,dc=meta`, attrs: personEntry(p, 'ou=Accounts,dc=meta').attributes };
    if (missingEssential(record, essential).length) { skipped++; continue; }
    const mv: MvPerson = {
      id: p.idautoId, username: p.username, studentId: p.studentId, hrId: p.hrId, primaryAffiliation: p.affiliation,
      affiliations: [], roles: p.roles, orgUnits: chain(p.stedkode), enrolments: courses.get(p.idautoId) ?? [],
    };
    ready.push({
      id: p.idautoId, record, mv, entitled: isEntitled(record, cfg.entitlement), provisioned: false,
      event: { eventId: `bench-${p.idautoId}`, personId: p.idautoId, changeType: 'SNAPSHOT', changeTime: 0 },
    });
  }
  return { ready, skipped };
}

// ---- counting, as the run report does -----------------------------------------------------------

type Counters = Record<string, number>;
const KIND: Record<string, string> = { create: 'add', update: 'update', enable: 'enable', disable: 'disable' };

function tally(c: Counters, ops: { kind: string; counter?: string }[], results: OperationResult[] | undefined, failed?: boolean): void {
  const inc = (k: string) => { c[k] = (c[k] ?? 0) + 1; };
  inc('total');
  if (failed) return inc('failed');
  if (!ops.length) return inc('unchanged');
  ops.forEach((o, i) => {
    const r = results?.[i];
    const name = o.counter ?? KIND[o.kind];
    if (name && r?.outcome !== 'SKIPPED') inc(r?.outcome === 'FAILED' ? `${name}Fail` : name);
  });
}

// ---- tilgang's way ---------------------------------------------------------------------------

async function tilgangWay(all: PersonContext[], s: MoodleSession, ctx: TargetContext<MoodleConfig>, wave: number, inFlight: number): Promise<Counters> {
  const c: Counters = {};
  await mapLimit(chunks(all, wave), inFlight, async (group) => {
    const desired = group.map((p) => desiredOf(p, ctx.config));
    const actual = await Promise.all(group.map((p, i) => readActual(p, identity(p, ctx.config), desired[i]!, s).catch((e: unknown) => e as Error)));
    const items: { person: PersonContext; desired: Desired | null; actual: Actual; plan: ReturnType<typeof planMoodle> }[] = [];
    group.forEach((p, i) => {
      const a = actual[i]!;
      if (a instanceof Error) return tally(c, [], undefined, true);
      const plan = planMoodle(desired[i]!, a, ctx.config, ctx.global.directory.sensitive);
      if (!plan.operations.length) return tally(c, [], undefined);
      items.push({ person: p, desired: desired[i]!, actual: a, plan });
    });
    const results = await applyBatch(items, s);
    items.forEach((it, i) => tally(c, it.plan.operations, results[i]));
  });
  return c;
}

// ---- the seed's way: one person at a time, one call per operation ---------------------------------

/**
 * As the seed's PortalLdapToMoodle works each record: look the user up, create or update them,
 * fetch their courses from Moodle (step 8 runs for every user, a new one too), and for each course
 * to add look its id up by the course's name and enrol, each one call. The time of the course-id
 * lookups is returned apart, to report the seed's way also as if it had cached them.
 */
async function seedWay(all: PersonContext[], ws: MoodleClient, ctx: TargetContext<MoodleConfig>): Promise<{ counters: Counters; courseLookupMs: number }> {
  const cfg = ctx.config;
  const c: Counters = {};
  let courseLookupMs = 0;
  const courseId = async (idnumber: string): Promise<number | null> => {
    const t = performance.now();
    const r = await ws.call<MoodleCoursesResult>('core_course_get_courses_by_field', { field: 'idnumber', value: idnumber });
    courseLookupMs += performance.now() - t;
    return r.courses[0]?.id ?? null;
  };
  for (const p of all) {
    let plan: ReturnType<typeof planMoodle>;
    const d = desiredOf(p, cfg);
    let userid: number | undefined;
    try {
      const id = identity(p, cfg);
      const found = await ws.call<MoodleUser[]>('core_user_get_users_by_field', { field: 'username', values: [id.username] });
      const account = found[0] ? toAccount(found[0]) : null;
      plan = planMoodle(d, { account, enrolled: [], courses: {} }, cfg, ctx.global.directory.sensitive);
      userid = account?.id;
    } catch {
      tally(c, [], undefined, true);
      continue;
    }
    const ops = plan.operations.filter((o) => o.kind !== 'enrol' && o.kind !== 'unenrol');
    const results: OperationResult[] = [];
    const run = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
        results.push({ outcome: 'APPLIED' });
      } catch (e) {
        results.push({ outcome: 'FAILED', error: (e as Error).message });
      }
    };
    for (const op of ops) {
      const x = op.payload as Payload;
      if (x.action === 'create') {
        const u = x.user;
        await run(async () => {
          const [r] = await ws.call<MoodleCreatedUser[]>('core_user_create_users', { users: [{
            username: u.username, auth: u.auth, firstname: u.firstname, lastname: u.lastname, email: u.email, idnumber: u.idnumber,
            department: u.department || undefined, institution: u.institution || undefined,
            customfields: u.studentId ? [{ type: 'studentid', value: u.studentId }] : undefined,
          }] });
          userid = r!.id;
        });
      } else if (x.action === 'update') {
        await run(() => ws.call('core_user_update_users', { users: [{ id: x.userid, ...x.fields }] }));
      }
    }
    if (userid !== undefined && d?.enrolments) {
      const enrolled = (await ws.call<MoodleUserCourse[]>('core_enrol_get_users_courses', { userid, returnusercount: false }))
        .filter((x) => isManagedCourse(x.idnumber)).map((x) => ({ id: x.id, idnumber: x.idnumber.normalize('NFC') }));
      const have = new Set(enrolled.map((e) => e.idnumber));
      const courses: Record<string, number | null> = {};
      for (const e of d.enrolments) if (!have.has(e.course) && !(e.course in courses)) courses[e.course] = await courseId(e.course);
      const courseOps = planMoodle(d, { account: null, enrolled, courses }, cfg, []).operations.filter((o) => o.kind === 'enrol' || o.kind === 'unenrol');
      for (const op of courseOps) {
        const x = op.payload as Payload;
        if (x.action === 'enrol') await run(() => ws.call('enrol_manual_enrol_users', { enrolments: [{ roleid: x.roleid, userid, courseid: x.courseid }] }));
        else if (x.action === 'unenrol') await run(() => ws.call('enrol_manual_unenrol_users', { enrolments: [{ userid, courseid: x.courseid }] }));
        else results.push({ outcome: 'SKIPPED' });
      }
      ops.push(...courseOps);
    }
    tally(c, ops, results);
  }
  return { counters: c, courseLookupMs };
}

// ---- setup: the courses flow's part (not timed) ------------------------------------------------

async function makeCourses(ws: MoodleClient, u: University): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  const topics = u.topics.filter((t) => t.status === 'active');
  await mapLimit(chunks(topics, 50), 4, async (batch) => {
    const made = await ws.call<{ id: number; shortname: string }[]>('core_course_create_courses', {
      courses: batch.map((t) => ({ fullname: t.nameNb, shortname: `${t.code}-${t.year}-${t.term}`, categoryid: 1, idnumber: courseIdnumber(t) })),
    });
    made.forEach((m, i) => ids.set(courseIdnumber(batch[i]!), m.id));
  });
  return ids;
}

// ---- memory -----------------------------------------------------------------------------------

function memoryWatch(): { stop(): { rss: number; heap: number } } {
  let rss = 0;
  let heap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  sample();
  const t = setInterval(sample, 50);
  return { stop: () => { clearInterval(t); sample(); return { rss, heap }; } };
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const show = (c: Counters) => Object.entries(c).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`).join(', ');

async function main(): Promise<void> {
  const persons = Number(arg('persons', '10000'));
  const sampleArg = arg('seed-sample', '1000');
  const wave = Number(arg('wave', '1000'));
  const inFlight = Number(arg('waves', '2'));
  const secondPass = !flag('no-second-pass');
  const token = randomBytes(16).toString('hex');
  process.env.TILGANG_BENCH_MOODLE_TOKEN = token;
  const config = MoodleConfig.parse({
    url: 'http://127.0.0.1:1', token: { env: 'TILGANG_BENCH_MOODLE_TOKEN' }, heldBy: { institution: '1120', studentIdField: 'studentid' },
  });
  const ctx: TargetContext<MoodleConfig> = { config, global: loadConfig('tilgang.example.yaml'), log: childLogger({ component: 'bench' }) };

  console.log(`bench:moodle — ${persons} people, Moodle simulator with the latency model on (4 workers), target functions driven directly (no Kafka)`);
  const t0 = performance.now();
  const uni = generateUniversity({ persons, seed: 1, now: new Date('2026-09-01T12:00:00Z') });
  const { ready, skipped } = people(uni, config);
  const enrolments = ready.reduce((n, p) => n + (p.entitled ? p.mv!.enrolments.length : 0), 0);
  console.log(`generated in ${secs(performance.now() - t0)}: ${ready.length} complete records (${skipped} skipped as incomplete), ${ready.filter((p) => p.entitled).length} entitled, ${enrolments} enrolment rows, ${uni.topics.filter((t) => t.status === 'active').length} active courses`);

  // tilgang
  const simA = await startSimulator(token);
  const setupA = new MoodleClient({ url: simA.url, token, connections: 4 });
  await makeCourses(setupA, uni);
  await setupA.close();
  const conns = Number(arg('connections', String(config.connections)));
  const s = new MoodleSession(new MoodleClient({ url: simA.url, token, connections: conns }), { ...config, url: simA.url, connections: conns });
  const mem = memoryWatch();
  let t = performance.now();
  const first = await tilgangWay(ready, s, ctx, wave, inFlight);
  const tilgangMs = performance.now() - t;
  console.log(`\ntilgang, full reconciliation into an empty Moodle: ${secs(tilgangMs)}  (${show(first)})`);
  let tilgangSecondMs: number | undefined;
  if (secondPass) {
    t = performance.now();
    const again = await tilgangWay(ready, s, ctx, wave, inFlight);
    tilgangSecondMs = performance.now() - t;
    console.log(`tilgang, the same again (nothing to do): ${secs(tilgangSecondMs)}  (${show(again)})`);
  }
  const peak = mem.stop();
  await s.close();
  const simMetrics = await simA.stop();
  if (simMetrics) console.log(`  simulator: ${simMetrics.served} calls, the last ${simMetrics.logged} with its 4 workers busy ${(simMetrics.utilisation * 100).toFixed(0)}% of the time, its own CPU ${secs(simMetrics.cpuMs)} (${Object.entries(simMetrics.calls).map(([k, v]) => `${k} ${v}`).join(', ')})`);

  // the seed's way
  const sample = sampleArg === 'all' ? ready.length : Math.min(ready.length, Number(sampleArg));
  const scale = ready.length / Math.max(1, sample);
  const subset = ready.slice(0, sample);
  let seedMs = 0;
  let seedCachedMs = 0;
  let seedSecondMs: number | undefined;
  if (sample > 0) {
    const simB = await startSimulator(token);
    const wsB = new MoodleClient({ url: simB.url, token, connections: 1 });
    await makeCourses(wsB, uni);
    t = performance.now();
    const seedFirst = await seedWay(subset, wsB, ctx);
    const measured = performance.now() - t;
    seedMs = measured * scale;
    seedCachedMs = (measured - seedFirst.courseLookupMs) * scale;
    const scaled = sample < ready.length ? ` (measured on ${sample} people, scaled ×${scale.toFixed(1)})` : '';
    console.log(`\nseed's way, one person at a time, one call per operation: ${secs(seedMs)}${scaled}  (${show(seedFirst.counters)})`);
    console.log(`  of which course-id lookups ${secs(seedFirst.courseLookupMs * scale)}; with course ids cached the seed's way would take ${secs(seedCachedMs)}`);
    if (secondPass) {
      t = performance.now();
      const again = await seedWay(subset, wsB, ctx);
      seedSecondMs = (performance.now() - t) * scale;
      console.log(`seed's way, the same again (nothing to do): ${secs(seedSecondMs)}  (${show(again.counters)})`);
    }
    await wsB.close();
    await simB.stop();
  }

  console.log('\nresult');
  if (sample > 0) {
    const ratio = seedMs / tilgangMs;
    console.log(`  full reconciliation of ${ready.length} people with ${enrolments} enrolments into an empty Moodle:`);
    console.log(`    tilgang ${secs(tilgangMs)}, seed's way ${secs(seedMs)}${sample < ready.length ? ' (scaled)' : ''}: ${ratio.toFixed(1)}× (goal ≥ 30×: ${ratio >= 30 ? 'met' : 'NOT met'})`);
    console.log(`    against the seed's way with course ids cached (${secs(seedCachedMs)}): ${(seedCachedMs / tilgangMs).toFixed(1)}×`);
    if (tilgangSecondMs !== undefined && seedSecondMs !== undefined) {
      console.log(`  the same again, nothing to do: tilgang ${secs(tilgangSecondMs)}, seed's way ${secs(seedSecondMs)}: ${(seedSecondMs / tilgangSecondMs).toFixed(1)}×`);
    }
  } else {
    console.log(`  tilgang ${secs(tilgangMs)} (the seed's way not run: --seed-sample 0)`);
  }
  console.log(`  peak memory of tilgang's side (the simulators run in processes of their own): rss ${mb(peak.rss)}, heap used ${mb(peak.heap)}`);
}

// Last, after every declaration above is initialised.
if (flag('serve')) {
  const sim = await startMoodleSimulator({
    token: arg('token', ''), port: 0, latency: true, seed: 'minimal',
    profileFields: [{ shortname: 'studentid', name: 'Student id', datatype: 'text', visible: true }],
  });
  process.stdout.write(`listening ${sim.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    // How busy the workers were: the share of worker time spent serving, over the calls logged.
    const m = sim.metrics()!;
    const busy = m.log.reduce((n, r) => n + (r.finishedAt - r.startedAt), 0);
    const span = m.log.length ? Math.max(...m.log.map((r) => r.finishedAt)) - Math.min(...m.log.map((r) => r.startedAt)) : 0;
    const calls: Record<string, number> = {};
    for (const r of m.log) calls[r.label] = (calls[r.label] ?? 0) + 1;
    const cpu = process.cpuUsage();
    process.stdout.write(`metrics ${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, served: m.served, logged: m.log.length, utilisation: span ? busy / (m.workers * span) : 0, maxQueued: m.maxQueued, calls })}\n`);
    void sim.close().then(() => process.exit(0));
  });
} else {
  await main();
}
