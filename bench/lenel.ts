/**
 * `npm run bench:lenel`: a full reconciliation of the sample university (10,000 people by default)
 * into an empty OnGuard, the OpenAccess simulator with its latency model on (a FIFO pool of 4
 * workers; see src/targets/lenel/simulator/latency.ts), three ways in one run:
 *
 *   tilgang  the target's own steps per person (desired → actual → plan → apply) with the
 *            configured connections in flight, as the consumer group runs them;
 *   seed     the seed's PortalLdapToLenel way: one person after the other (on a sample, scaled);
 *   limit    a bare undici script making the same calls (find by key, create cardholder, badge,
 *            assignments) with the same concurrency, bodies computed before the clock starts.
 *
 * Each way gets a fresh simulator in a child process of its own, so the times are the client's.
 * tilgang and the limit take turns, --chunk people (500) at a time, so a change of the machine's
 * load during the run meets both alike.
 * People the runtime would skip (no cardholder key: neither employee nor student number) are
 * counted and left out of all three. tilgang and the limit run at full size (about 11 minutes
 * each at 2 connections under the latency model, less at the configuration's default 8); the seed's way is measured on the first
 * --seed-sample people and scaled, as its line says.
 *
 *   npx tsx bench/lenel.ts [--persons 10000] [--seed-sample 300] [--connections 8] [--chunk 500]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { loadConfig } from '../src/config.js';
import { isEntitled, missingEssential } from '../src/consumers/entitlement.js';
import { mapLimit } from '../src/lib/concurrency.js';
import { child as childLogger } from '../src/lib/log.js';
import type { MvPerson, OrgUnit } from '../src/mv/person.js';
import { generateUniversity, personEntry, type SamplePerson } from '../src/seed/index.js';
import type { PersonContext, TargetContext } from '../src/spi/index.js';
import { LenelConfig } from '../src/targets/lenel/config.js';
import { target } from '../src/targets/lenel/index.js';
import type { LenelSession } from '../src/targets/lenel/read.js';
import { BASE_PATH, DEFAULT_SEED, startLenelSimulator } from '../src/targets/lenel/simulator/index.js';
import { figure } from './support.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const PASSWORD = 'bench-operator-pw';
const APP = 'TILGANG_BENCH';

if (process.argv.includes('--serve')) {
  const sim = await startLenelSimulator({ latency: true, users: { op: PASSWORD }, applicationIds: [APP] });
  console.log(`listening ${sim.url}`);
  process.stdin.resume();
  process.stdin.on('end', () => void sim.close().then(() => process.exit(0)));
} else {
  await main();
}

async function simulator(): Promise<{ url: string; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (l) => { if (l.startsWith('listening ')) resolve(l.slice(10)); });
    proc.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  return { url: `${url}${BASE_PATH}`, stop: () => new Promise((r) => { proc.once('exit', () => r()); proc.stdin!.end(); }) };
}

/** The sample university's people as the runtime hands them over: those lacking an essential attribute (the key) are skipped, as the runtime and the seed skip them. */
function people(n: number, cfg: LenelConfig): { people: PersonContext[]; skipped: Map<string, number> } {
  const u = generateUniversity({ persons: n, seed: 1, now: new Date('2026-09-01T12:00:00Z') });
  const units = new Map(u.orgUnits.map((o) => [o.stedkode, o]));
  const chain = (stedkode: string): OrgUnit[] => {
    const out: OrgUnit[] = [];
    for (let o = units.get(stedkode); o; o = o.parentStedkode ? units.get(o.parentStedkode) : undefined) out.push(o as OrgUnit);
    return out;
  };
  const out: PersonContext[] = [];
  const skipped = new Map<string, number>();
  for (const p of u.persons as SamplePerson[]) {
    const record = { dn: `idautoID=${p.idautoId},ou=Accounts,dc=meta`, attrs: personEntry(p, 'ou=Accounts,dc=meta').attributes };
    const missing = missingEssential(record, target.essential(cfg));
    if (missing.length) {
      const why = `missing ${missing.join(', ')}`;
      skipped.set(why, (skipped.get(why) ?? 0) + 1);
      continue;
    }
    const mv: MvPerson = {
      id: p.idautoId, username: p.username, studentId: p.studentId, hrId: p.hrId, primaryAffiliation: p.affiliation,
      affiliations: [], roles: p.roles, orgUnits: chain(p.stedkode), enrolments: [],
    };
    out.push({ id: p.idautoId, record, mv, entitled: isEntitled(record, cfg.entitlement), provisioned: false, event: { eventId: `bench-${p.idautoId}`, personId: p.idautoId, changeType: 'SNAPSHOT', changeTime: 0 } });
  }
  return { people: out, skipped };
}

/** A line on stderr every 2,000 people, so a long run shows it is moving. */
function progress(what: string, total: number): () => void {
  let done = 0;
  const t0 = performance.now();
  return () => {
    if (++done % 2000 === 0 || done === total) process.stderr.write(`  ${what}: ${done}/${total} after ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  };
}

function config(url: string, connections: number): LenelConfig {
  process.env.TILGANG_BENCH_LENEL_PASSWORD = PASSWORD;
  return LenelConfig.parse({
    url, applicationId: APP, username: 'op', password: { env: 'TILGANG_BENCH_LENEL_PASSWORD' }, connections,
    badge: { type: 1, inactiveStatus: 5 },
    // Lookups by name cost a round trip the limit does not make: the bench leaves title and department out.
    attributes: { title: null }, department: null,
    accessLevels: [{ affiliation: 'employee', levels: ['Main entrance', 'Staff only'] }, { affiliation: 'student', levels: ['Main entrance', 'Library'] }],
  });
}

type Counters = Record<string, number>;

/** A way of reconciling that runs chunk after chunk of people against its own simulator; `run` returns the chunk's time. */
interface Way { run(people: PersonContext[]): Promise<number>; counters: Counters; close(): Promise<void> }

/** tilgang: the target's own steps per person, `inFlight` people at once; connected before any clock starts. */
async function tilgangWay(url: string, connections: number, inFlight: number): Promise<Way> {
  const cfg = config(url, connections);
  const ctx: TargetContext<LenelConfig> = { config: cfg, global: loadConfig('tilgang.example.yaml'), log: childLogger({ component: 'bench' }) };
  const s: LenelSession = await target.connect(ctx);
  const counters: Counters = {};
  const inc = (k: string) => { counters[k] = (counters[k] ?? 0) + 1; };
  return {
    counters,
    async run(people) {
      const t0 = performance.now();
      await mapLimit(people, inFlight, async (p) => {
        inc('total');
        try {
          const d = target.desired(p, ctx);
          const a = await target.actual(p, d, s, ctx);
          const plan = target.plan(d, a, p, ctx);
          if (!plan.operations.length) return inc(plan.skipReason ? 'skipped' : 'unchanged');
          const r = await target.apply(plan, s, ctx, p);
          plan.operations.forEach((o, i) => {
            const name = o.counter ?? ({ create: 'add' } as Record<string, string>)[o.kind] ?? o.kind;
            inc(r[i]?.outcome === 'FAILED' ? `${name}Fail` : name);
          });
        } catch {
          inc('failed');
        }
      });
      return performance.now() - t0;
    },
    close: () => target.close!(s),
  };
}

/** The same calls, bare: bodies computed and the session opened before any clock starts, then only HTTP. */
async function limitWay(url: string, connections: number): Promise<Way> {
  const cfg = config(url, connections);
  const ctx: TargetContext<LenelConfig> = { config: cfg, global: loadConfig('tilgang.example.yaml'), log: childLogger({ component: 'bench' }) };
  const levelId = new Map(DEFAULT_SEED.accessLevels.map((l) => [l.Name, l.ID]));
  const agent = new Agent({ connections });
  const headers: Record<string, string> = { 'application-id': APP, 'content-type': 'application/json', accept: 'application/json' };
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const r = await request(`${url}${path}`, { method, headers, dispatcher: agent, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await r.body.json()) as Record<string, any>;
    if (r.statusCode !== 200) throw new Error(`${r.statusCode} ${JSON.stringify(json)}`);
    return json;
  };
  headers['session-token'] = (await call('POST', '/authentication?version=1.0', { user_name: 'op', password: PASSWORD })).session_token;
  const counters: Counters = {};
  return {
    counters,
    async run(people) {
      const work = people.flatMap((p) => {
        try {
          const d = target.desired(p, ctx);
          return d ? [d] : [];
        } catch {
          return [];
        }
      });
      const t0 = performance.now();
      await mapLimit(work, connections, async (d) => {
        counters.total = (counters.total ?? 0) + 1;
        await call('GET', `/instances?version=1.0&type_name=Lnl_Cardholder&page_size=100&page_number=1&filter=${encodeURIComponent(`SSNO = "${d.key}"`)}`);
        const ch = await call('POST', '/instances?version=1.0', { type_name: 'Lnl_Cardholder', property_value_map: { SSNO: d.key, FIRSTNAME: d.cardholder.FIRSTNAME, LASTNAME: d.cardholder.LASTNAME, EMAIL: d.cardholder.EMAIL, EXT: d.cardholder.EXT, ...d.cardholder.udfs } });
        const b = await call('POST', '/instances?version=1.0', { type_name: 'Lnl_Badge', property_value_map: { PERSONID: ch.property_value_map.ID, TYPE: 1, STATUS: 1, ACTIVATE: '2026-01-01T00:00:00+00:00', DEACTIVATE: '2036-01-01T00:00:00+00:00' } });
        for (const l of d.levels) await call('POST', '/instances?version=1.0', { type_name: 'Lnl_AccessLevelAssignment', property_value_map: { AccessLevelID: levelId.get(l), BadgeKey: b.property_value_map.BADGEKEY } });
      });
      return performance.now() - t0;
    },
    close: () => agent.close(),
  };
}

async function main(): Promise<void> {
  const persons = Number(arg('persons', '10000'));
  const sample = Number(arg('seed-sample', '300'));
  // The configuration's default unless asked otherwise.
  const connections = Number(arg('connections', String(LenelConfig.shape.connections.parse(undefined))));
  const { people: all, skipped } = people(persons, config('http://127.0.0.1:1', connections));
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`${persons} people of the sample university: ${all.length} reconciled (${all.filter((p) => p.entitled).length} entitled), ${[...skipped].map(([why, k]) => `${k} skipped (${why})`).join(', ') || 'none skipped'}; ${connections} connections, simulator latency model on`);

  // tilgang and the limit take turns chunk by chunk (the first of each pair alternating), each
  // against its own simulator: a machine whose load changes during the run slows both alike, and
  // each meets an OnGuard of the same size.
  const chunk = Number(arg('chunk', '500'));
  const [simT, simL] = [await simulator(), await simulator()];
  const [tWay, lWay] = [await tilgangWay(simT.url, connections, connections), await limitWay(simL.url, connections)];
  let tMs = 0, limit = 0;
  const tick = progress('tilgang and limit', all.length);
  for (let i = 0, k = 0; i < all.length; i += chunk, k++) {
    const part = all.slice(i, i + chunk);
    if (k % 2 === 0) { tMs += await tWay.run(part); limit += await lWay.run(part); }
    else { limit += await lWay.run(part); tMs += await tWay.run(part); }
    for (let j = 0; j < part.length; j++) tick();
  }
  await tWay.close();
  await lWay.close();
  await simT.stop();
  await simL.stop();
  const t = { ms: tMs, counters: tWay.counters };
  console.log(`tilgang  ${s(t.ms)}  ${JSON.stringify(t.counters)}`);

  const sim = await simulator();
  const seedPeople = all.slice(0, Math.min(sample, all.length));
  const seedWay = await tilgangWay(sim.url, 1, 1);
  const seed = { ms: await seedWay.run(seedPeople), counters: seedWay.counters };
  await seedWay.close();
  await sim.stop();
  const seedScaled = (seed.ms * all.length) / seedPeople.length;
  console.log(`seed     ${s(seedScaled)}  (one person at a time, measured on the first ${seedPeople.length} people, who took ${s(seed.ms)}, and scaled to ${all.length}: ${JSON.stringify(seed.counters)})`);

  console.log(`limit    ${s(limit)}  (bare undici, the same calls, ${connections} in flight, ${lWay.counters.total ?? 0} people)`);
  console.log(`tilgang reaches ${((100 * limit) / t.ms).toFixed(0)} % of the limit; ${(seedScaled / t.ms).toFixed(1)}× the seed's way`);
  const note = `${all.length.toLocaleString('en')} people of ${persons.toLocaleString('en')} into an empty OnGuard simulator (latency model), ${connections} connections; the seed's way on ${seedPeople.length}, scaled`;
  figure({ part: 'lenel', name: 'full reconciliation, tilgang', value: t.ms / 1000, unit: 's', note });
  figure({ part: 'lenel', name: "full reconciliation: ratio to the seed's one-at-a-time way", value: seedScaled / t.ms, unit: '×', note });
  figure({ part: 'lenel', name: 'full reconciliation: share of the limit (bare undici, the same calls)', value: (100 * limit) / t.ms, unit: '%', note });
}
