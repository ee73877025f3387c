/**
 * `npm run bench:moodle`: a full reconciliation of a sample university (10,000 people by default)
 * with their enrolments into Moodle, and the same again with nothing to do, two ways:
 *
 *   tilgang  through the runtime, as in production: the people in the directory and MV (the
 *            sample university, in a subtree and schema of the bench's own), a SNAPSHOT event for
 *            each on Kafka, and the moodle consumer group with default settings reading, planning
 *            and applying them against Moodle; timed from the group's start to its last result;
 *   seed     the seed's way of working (PortalLdapToMoodle): one person at a time, one call per
 *            operation — look the user up, create or update, fetch their courses, and per course
 *            to add look its id up and enrol — on a sample, its time scaled to everyone;
 *   limit    a bare undici script making the calls the reconciliation needs, each batched as far
 *            as the web services take it (lookups by idnumber and username, 100 values a call;
 *            every course in one call; creates and enrolments 100 a call, Moodle's max_input_vars
 *            bounds it; again: the lookups, and with --cold a roster per course), over the same 4 connections,
 *            bodies computed before the clock starts: the most a client can get from this Moodle.
 *
 * Moodle is the simulator with its latency model (4 workers sharing 2.5 cores, service times
 * fitted to a real Moodle 4.5, moodle-recorded/bench-2.txt), each way in a child process of its
 * own, or your own Moodle with --url and --token (it gets the sample's courses and people: use a
 * test site; the seed's way is then not run unless --seed-sample is given). Calls per person are
 * counted on tilgang's side, by web-service function.
 *
 * The second pass runs in the same worker, within courseCacheSeconds of the first: the courses'
 * rosters it reads are those the first pass read (while the courses were empty) and kept in step
 * with its own enrolments. --cold starts a new worker for it instead, which reads every roster again.
 *
 *   npx tsx bench/moodle.ts [--persons 10000] [--seed-sample 1000] [--no-second-pass] [--cold] [--no-limit]
 *                           [--url https://moodle.example.org --token TOKEN]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Agent, request } from 'undici';
import { isEntitled, missingEssential } from '../src/consumers/entitlement.js';
import { TargetGroup } from '../src/consumers/target-group.js';
import type { OperationResult, PersonContext, TargetContext } from '../src/spi/index.js';
import { loadConfig } from '../src/config.js';
import { chunks, mapLimit } from '../src/lib/concurrency.js';
import { child as childLogger } from '../src/lib/log.js';
import type { MvPerson, OrgUnit } from '../src/mv/person.js';
import { newRunId, PersonEventPublisher, runEvent } from '../src/producers/publisher.js';
import { generateUniversity, personEntry, runSeed, type SamplePerson, type University } from '../src/seed/index.js';
import { flattenParams, MoodleClient, type MoodleCoursesResult, type MoodleCreatedUser, type MoodleParams, type MoodleUser, type MoodleUserCourse } from '../src/targets/moodle/client.js';
import { MoodleConfig } from '../src/targets/moodle/config.js';
import { courseIdnumber, isManagedCourse, target as moodleTarget } from '../src/targets/moodle/index.js';
import { courseInScope } from '../src/targets/moodle/course-id.js';
import { desired as desiredOf, identity } from '../src/targets/moodle/desired.js';
import { planMoodle } from '../src/targets/moodle/plan.js';
import type { MoodleSession } from '../src/targets/moodle/read.js';
import { enrolmentsFrom, toAccount } from '../src/targets/moodle/read.js';
import { startMoodleSimulator } from '../src/targets/moodle/simulator/index.js';
import type { Payload } from '../src/targets/moodle/types.js';
import { benchEnv, figure, peakRss } from './support.js';

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

// ---- tilgang's way: through the runtime ----------------------------------------------------------

/** Calls by web-service function, counted on tilgang's side (the same against the simulator or a real Moodle). */
type CallCounts = Record<string, number>;

/** The moodle target, its sessions' calls counted. */
function countingTarget(counts: CallCounts): typeof moodleTarget {
  return {
    ...moodleTarget,
    async connect(ctx) {
      const s: MoodleSession = await moodleTarget.connect(ctx);
      const call = s.ws.call.bind(s.ws);
      s.ws.call = ((fn: string, ...rest: Parameters<typeof call> extends [string, ...infer R] ? R : never) => {
        counts[fn] = (counts[fn] ?? 0) + 1;
        return call(fn, ...rest);
      }) as typeof s.ws.call;
      return s;
    },
  };
}

interface Pass { ms: number; results: number; dlq: number; calls: CallCounts }

/** Publishes a SNAPSHOT event for everyone and times the group until each has a result. */
async function runtimePass(env: Awaited<ReturnType<typeof benchEnv>>, group: TargetGroup, ids: string[], counts: CallCounts, start: boolean): Promise<Pass> {
  const before = { results: group.counts.results, dlq: group.counts.dlq, calls: { ...counts } };
  const pub = new PersonEventPublisher(env.kafka, env.cfg, `bench.${env.id}.pub.${randomBytes(3).toString('hex')}`);
  await pub.connect();
  const runId = newRunId();
  for (const batch of chunks(ids, 2000)) await pub.send(batch.map((id) => runEvent(id, { runId, mode: 'SNAPSHOT', logOnly: false, targets: null, source: 'bench' })));
  await pub.disconnect();
  const t = performance.now();
  if (start) await group.start();
  let last = -1;
  let lastChange = performance.now();
  while (group.counts.results - before.results < ids.length) {
    await new Promise((r) => setTimeout(r, 100));
    if (group.counts.results !== last) {
      last = group.counts.results;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > 600_000) {
      throw new Error(`no result for 10 minutes: ${group.counts.results - before.results} of ${ids.length}`);
    }
  }
  const calls: CallCounts = {};
  for (const [k, v] of Object.entries(counts)) if (v - (before.calls[k] ?? 0) > 0) calls[k] = v - (before.calls[k] ?? 0);
  return { ms: performance.now() - t, results: group.counts.results - before.results, dlq: group.counts.dlq - before.dlq, calls };
}

const perPerson = (p: Pass, people: number) => {
  const total = Object.values(p.calls).reduce((a, b) => a + b, 0);
  const by = Object.entries(p.calls).sort(([, a], [, b]) => b - a).map(([k, v]) => `${k} ${(v / people).toFixed(3)}`).join(', ');
  return `${total} calls, ${(total / people).toFixed(2)} per person (${by})`;
};

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

// ---- the limit: a bare client, every call batched as far as the API allows ---------------------

/**
 * The calls a full reconciliation into an empty Moodle needs, then the same again with nothing to
 * do, made by a bare undici client over `connections` sockets: no runtime, no plans, no retries.
 * The people's bodies and enrolments are worked out before the clock starts. Into an empty Moodle:
 * look everyone up by idnumber and by username (100 values a call), read every course in one call,
 * create the entitled in calls of 100, enrol them in calls of 100 (sorted by user, as Moodle makes
 * parallel calls touching one user wait). Again: the lookups by idnumber (each finds its account
 * with the right username, so none by username), every course, and with --cold one roster per
 * course the people are in (a warm worker keeps the rosters its own enrolments left).
 */
async function limitWay(url: string, token: string, all: PersonContext[], cfg: MoodleConfig, readRosters: boolean): Promise<{ firstMs: number; againMs: number; calls: CallCounts; againCalls: CallCounts; refusedCreates: number }> {
  const connections = cfg.connections;
  const size = cfg.batchSize;
  const from = enrolmentsFrom(cfg);
  const agent = new Agent({ connections });
  let calls: CallCounts = {};
  const call = async <T>(wsfunction: string, params: MoodleParams): Promise<T> => {
    calls[wsfunction] = (calls[wsfunction] ?? 0) + 1;
    const form = new URLSearchParams({ wstoken: token, wsfunction, moodlewsrestformat: 'json' });
    for (const [k, v] of flattenParams(params)) form.append(k, v);
    const r = await request(`${url}/webservice/rest/server.php`, { method: 'POST', dispatcher: agent, body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const body = (await r.body.json()) as T & { exception?: string; message?: string; debuginfo?: string };
    if (r.statusCode !== 200 || (body && typeof body === 'object' && 'exception' in body)) throw new Error(`limit: ${wsfunction}: ${r.statusCode} ${body?.message ?? ''} ${body?.debuginfo ?? ''}`);
    return body;
  };
  const ids = all.flatMap((p) => {
    try {
      return [identity(p, cfg)];
    } catch {
      return [];
    }
  });
  const wanted = all.flatMap((p) => {
    try {
      const d = desiredOf(p, cfg);
      return d ? [d] : [];
    } catch {
      return [];
    }
  });
  const bodies = wanted.map(({ user: u }) => ({
    username: u.username, auth: u.auth, firstname: u.firstname, lastname: u.lastname, email: u.email,
    ...(u.idnumber ? { idnumber: u.idnumber } : {}), ...(u.department ? { department: u.department } : {}), ...(u.institution ? { institution: u.institution } : {}),
    ...(cfg.heldBy.studentIdField && u.studentId ? { customfields: [{ type: cfg.heldBy.studentIdField, value: u.studentId }] } : {}),
  }));
  const lookup = (field: string, values: string[]) => mapLimit(chunks(values, size), connections, (batch) => call<MoodleUser[]>('core_user_get_users_by_field', { field, values: batch }));
  const courseIds = async () => {
    const r = await call<MoodleCoursesResult>('core_course_get_courses_by_field', { field: '', value: '' });
    return new Map(r.courses.map((c) => [(c.idnumber ?? '').normalize('NFC'), c.id]));
  };

  let t = performance.now();
  await lookup('idnumber', ids.flatMap((i) => (i.idnumber ? [i.idnumber] : [])));
  await lookup('username', ids.map((i) => i.username));
  const courses = await courseIds();
  // Moodle creates a batch in one transaction: a batch with an account it refuses (the sample has
  // a few) is split in halves until that one stands alone, as any client must.
  const made = new Map<string, number>();
  let refusedCreates = 0;
  const create = async (batch: typeof bodies): Promise<void> => {
    try {
      for (const u of await call<MoodleCreatedUser[]>('core_user_create_users', { users: batch })) made.set(u.username, u.id);
    } catch {
      if (batch.length === 1) refusedCreates++;
      else await Promise.all([create(batch.slice(0, batch.length >> 1)), create(batch.slice(batch.length >> 1))]);
    }
  };
  await mapLimit(chunks(bodies, size), connections, create);
  const enrolments = wanted.flatMap((d) => (d.enrolments ?? []).filter((e) => made.has(d.user.username) && courseInScope(e.course, from) && courses.has(e.course))
    .map((e) => ({ roleid: e.roleid, userid: made.get(d.user.username)!, courseid: courses.get(e.course)! })))
    .sort((a, b) => a.userid - b.userid);
  await mapLimit(chunks(enrolments, size), connections, (batch) => call('enrol_manual_enrol_users', { enrolments: batch }));
  const firstMs = performance.now() - t;
  const firstCalls = calls;

  calls = {};
  t = performance.now();
  await lookup('idnumber', ids.flatMap((i) => (i.idnumber ? [i.idnumber] : [])));
  const known = new Set((await courseIds()).values());
  // As tilgang's worker, a client that remembers the rosters as its own enrolments left them reads none; a cold one reads each.
  const rostered = readRosters ? [...new Set(enrolments.map((e) => e.courseid))].filter((id) => known.has(id)) : [];
  await mapLimit(rostered, connections, (courseid) => call('core_enrol_get_enrolled_users', { courseid, options: [{ name: 'onlyactive', value: '1' }, { name: 'userfields', value: 'id,roles' }] }));
  const againMs = performance.now() - t;
  await agent.close();
  return { firstMs, againMs, calls: firstCalls, againCalls: calls, refusedCreates };
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
  const url = arg('url', '');
  const own = url === '';
  const sampleArg = arg('seed-sample', own ? '1000' : '0');
  const secondPass = !flag('no-second-pass');
  const cold = flag('cold');
  const token = own ? randomBytes(16).toString('hex') : arg('token', '');
  if (!own && !token) throw new Error('--url needs --token (the web-service token of your Moodle)');
  process.env.TILGANG_BENCH_MOODLE_TOKEN = token;
  const now = new Date();
  const block = { token: { env: 'TILGANG_BENCH_MOODLE_TOKEN' }, heldBy: { institution: '1120', studentIdField: 'studentid' } };
  const config = MoodleConfig.parse({ url: url || 'http://127.0.0.1:1', ...block });
  const ctx: TargetContext<MoodleConfig> = { config, global: loadConfig('tilgang.example.yaml'), log: childLogger({ component: 'bench' }) };

  console.log(`bench:moodle — ${persons} people through the runtime (directory, MV, Kafka, the moodle consumer group, default settings) into ${own ? 'the Moodle simulator with its latency model (4 workers, 2.5 cores)' : url}`);
  const t0 = performance.now();
  const uni = generateUniversity({ persons, seed: 1, now });
  const { ready, skipped } = people(uni, config);
  const enrolments = ready.reduce((n, p) => n + (p.entitled ? (p.mv!.enrolments?.length ?? 0) : 0), 0);
  console.log(`generated in ${secs(performance.now() - t0)}: ${ready.length} complete records (${skipped} incomplete), ${ready.filter((p) => p.entitled).length} entitled, ${enrolments} enrolment rows, ${uni.topics.filter((t) => t.status === 'active').length} active courses`);

  // tilgang, through the runtime
  const env = await benchEnv('moodle');
  env.cfg.mv.schema = `bench_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
  let t = performance.now();
  await runSeed(env.cfg, { persons, seed: 1, now });
  console.log(`loaded into the directory and MV in ${secs(performance.now() - t)} (setup, not measured)`);
  const simA = own ? await startSimulator(token) : undefined;
  const moodleUrl = simA?.url ?? url;
  const setupA = new MoodleClient({ url: moodleUrl, token, connections: 4 });
  await makeCourses(setupA, uni);
  await setupA.close();
  env.cfg.targets.moodle = { url: moodleUrl, ...block };
  const counts: CallCounts = {};
  const newGroup = () => new TargetGroup(env.cfg, env.kafka, countingTarget(counts) as never, { groupId: `bench.${env.id}.moodle` });
  let group = newGroup();
  const ids = uni.persons.map((p) => p.idautoId);
  const mem = memoryWatch();
  let first: Pass;
  let again: Pass | undefined;
  try {
    first = await runtimePass(env, group, ids, counts, true);
    console.log(`
tilgang, full reconciliation into an empty Moodle: ${secs(first.ms)}  (${first.results} results, ${first.dlq} dead-lettered)`);
    console.log(`  ${perPerson(first, ids.length)}`);
    if (secondPass) {
      // --cold: a worker started afresh for the second pass, with nothing remembered (every roster read again).
      if (cold) {
        await group.stop();
        group = newGroup();
      }
      again = await runtimePass(env, group, ids, counts, cold);
      console.log(`tilgang, the same again (nothing to do${cold ? ', a worker started afresh' : ', courses and rosters as the first pass left them in the cache'}): ${secs(again.ms)}  (${again.results} results, ${again.dlq} dead-lettered)`);
      console.log(`  ${perPerson(again, ids.length)}`);
    }
  } finally {
    await group.stop();
    const pool = new pg.Pool({ connectionString: env.cfg.mv.url, max: 1 });
    await pool.query(`DROP SCHEMA IF EXISTS ${env.cfg.mv.schema} CASCADE; DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema} CASCADE`).catch(() => {});
    await pool.end();
    await env.close(ids);
  }
  const peak = mem.stop();
  const simMetrics = await simA?.stop();
  if (simMetrics) console.log(`  simulator: ${simMetrics.served} calls, the last ${simMetrics.logged} with its 4 workers busy ${(simMetrics.utilisation * 100).toFixed(0)}% of the time, its own CPU ${secs(simMetrics.cpuMs)}`);

  // the seed's way
  const sample = sampleArg === 'all' ? ready.length : Math.min(ready.length, Number(sampleArg));
  const scale = ready.length / Math.max(1, sample);
  const subset = ready.slice(0, sample);
  let seedMs = 0;
  let seedCachedMs = 0;
  let seedSecondMs: number | undefined;
  if (sample > 0) {
    const simB = own ? await startSimulator(token) : undefined;
    const wsB = new MoodleClient({ url: simB?.url ?? url, token, connections: 1 });
    if (simB) await makeCourses(wsB, uni);
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
      const seedAgain = await seedWay(subset, wsB, ctx);
      seedSecondMs = (performance.now() - t) * scale;
      console.log(`seed's way, the same again (nothing to do): ${secs(seedSecondMs)}  (${show(seedAgain.counters)})`);
    }
    await wsB.close();
    await simB?.stop();
  }

  // the limit
  let limit: Awaited<ReturnType<typeof limitWay>> | undefined;
  if (own && !flag('no-limit')) {
    const simC = await startSimulator(token);
    const setupC = new MoodleClient({ url: simC.url, token, connections: 4 });
    await makeCourses(setupC, uni);
    await setupC.close();
    limit = await limitWay(simC.url, token, ready, MoodleConfig.parse({ url: simC.url, ...block }), cold);
    await simC.stop();
    const n = (c: CallCounts) => Object.values(c).reduce((a, b) => a + b, 0);
    console.log(`\nlimit, a bare undici client with every call batched as far as the API allows: ${secs(limit.firstMs)} (${n(limit.calls)} calls: ${show(limit.calls)}; ${limit.refusedCreates} accounts refused)`);
    if (secondPass) console.log(`limit, the same again (nothing to do): ${secs(limit.againMs)} (${n(limit.againCalls)} calls: ${show(limit.againCalls)})`);
  }

  console.log('\nresult');
  const note = `${ready.length.toLocaleString('en')} people of ${persons.toLocaleString('en')} (${enrolments.toLocaleString('en')} enrolments) through the runtime into an empty Moodle simulator (latency model)${sample > 0 && sample < ready.length ? `; the seed's way on ${sample}, scaled` : ''}`;
  figure({ part: 'moodle', name: 'full reconciliation, tilgang', value: first.ms / 1000, unit: 's', note });
  if (sample > 0) figure({ part: 'moodle', name: "full reconciliation: ratio to the seed's one-at-a-time way", value: seedMs / first.ms, unit: '×', goal: '≥ 30×', met: seedMs / first.ms >= 30, note });
  if (limit) figure({ part: 'moodle', name: 'full reconciliation: share of the limit (bare undici, calls batched)', value: (100 * limit.firstMs) / first.ms, unit: '%', note });
  if (again && seedSecondMs !== undefined) figure({ part: 'moodle', name: "the same again, nothing to do: ratio to the seed's way", value: seedSecondMs / again.ms, unit: '×', goal: '≥ 10×', met: seedSecondMs / again.ms >= 10, note });
  if (again && limit && secondPass) figure({ part: 'moodle', name: 'the same again, nothing to do: share of the limit', value: (100 * limit.againMs) / again.ms, unit: '%', note });
  const calls = (p: Pass) => (Object.values(p.calls).reduce((a, b) => a + b, 0) / ids.length).toFixed(2);
  if (sample > 0) {
    const ratio = seedMs / first.ms;
    console.log(`  full reconciliation of ${ready.length} people with ${enrolments} enrolments into an empty Moodle:`);
    console.log(`    tilgang ${secs(first.ms)} (${calls(first)} calls per person), seed's way ${secs(seedMs)}${sample < ready.length ? ' (scaled)' : ''}: ${ratio.toFixed(1)}× (goal ≥ 30×: ${ratio >= 30 ? 'met' : 'NOT met'})`);
    console.log(`    against the seed's way with course ids cached (${secs(seedCachedMs)}): ${(seedCachedMs / first.ms).toFixed(1)}×`);
    if (again && seedSecondMs !== undefined) {
      const r2 = seedSecondMs / again.ms;
      console.log(`  the same again, nothing to do: tilgang ${secs(again.ms)} (${calls(again)} calls per person), seed's way ${secs(seedSecondMs)}: ${r2.toFixed(1)}× (goal ≥ 10×: ${r2 >= 10 ? 'met' : 'NOT met'})`);
    }
  } else {
    console.log(`  tilgang ${secs(first.ms)} (${calls(first)} calls per person)${again ? `, nothing to do ${secs(again.ms)} (${calls(again)} calls per person)` : ''} (the seed's way not run: --seed-sample 0)`);
  }
  if (limit) {
    console.log(`  against the limit (a bare client, calls batched as far as the API allows): ${secs(limit.firstMs)}, tilgang reaches ${((100 * limit.firstMs) / first.ms).toFixed(0)} %`
      + (again && secondPass ? `; nothing to do ${secs(limit.againMs)}, tilgang reaches ${((100 * limit.againMs) / again.ms).toFixed(0)} %` : ''));
  }
  console.log(`  peak memory of tilgang's side (runtime and target; the simulators run in processes of their own): rss ${mb(Math.max(peak.rss, peakRss()))}, heap used ${mb(peak.heap)}`);
  process.exit(0);
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
