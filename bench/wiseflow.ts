/**
 * bench:wiseflow — a full reconciliation of N people (default 10,000) into the WISEflow simulator
 * with its latency model (a fixed worker pool) and the licence's rate limits (200/s, 5,000/min)
 * on, through the target's own steps (desired → actual → plan → apply) as the runtime calls them:
 *
 *   1. tilgang: many people at once (the runtime's waves), lookups coalesced into batched searches;
 *   2. tilgang again over the same people, now in sync (reads only);
 *   3. the seed's way: one person at a time, start to end (on a sample, extrapolated; --seed-sample);
 *   4. the limit: the calls the plans need at the licence's rate (200/s, and 5,000 in any minute):
 *      the plans' writes and other reads as made, and the lookups as full searches (50 keys each),
 *      the fewest a client could send; the limit for the calls tilgang made is printed beside it.
 *
 * The simulator runs in a child process of its own, so the times are the client's and the
 * simulator's work does not stall the client's event loop (nor the other way round).
 * --concurrency is the people in flight: the runtime's default is 64 (4 partitions × 16).
 *
 *   npm run bench:wiseflow -- --people 10000 --seed-sample 300 --concurrency 64
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { mapLimit } from '../src/lib/concurrency.js';
import type { OperationResult, PersonChanged, PersonContext, TargetContext } from '../src/spi/index.js';
import { WiseflowConfig } from '../src/targets/wiseflow/config.js';
import { searchKeys } from '../src/targets/wiseflow/desired.js';
import { target } from '../src/targets/wiseflow/index.js';
import { DEFAULT_LATENCY, startWiseflowSimulator } from '../src/targets/wiseflow/simulator/index.js';
import { figure } from './support.js';

/** What the simulator counted so far. */
interface Stats { requests: number; searches: number; writes: number; throttled: number; peak: number; tokens: number }

if (process.argv.includes('--serve')) {
  const sim = await startWiseflowSimulator({ clients: [{ id: 'bench', secret: process.env.TILGANG_BENCH_WISEFLOW_SECRET! }], latency: true, requireClientName: true });
  const stats = (): Stats => ({ requests: sim.requests(), searches: sim.searches(), writes: sim.writes(), throttled: sim.throttled(), peak: sim.peakPerSecond(), tokens: sim.tokensIssued() });
  process.on('message', (m: string) => {
    if (m === 'stats') process.send!({ stats: stats() });
    if (m === 'stop') void sim.close().then(() => process.exit(0));
  });
  process.send!({ url: sim.url });
}

/** The simulator in a child process: its URL, and its counters on asking. */
async function simulator(): Promise<{ url: string; stats(): Promise<Stats>; stop(): Promise<void> }> {
  const proc: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    proc.once('message', (m: { url?: string }) => (m.url ? resolve(m.url) : reject(new Error('no url'))));
    proc.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  return {
    url,
    stats: () => new Promise((resolve) => {
      const on = (m: { stats?: Stats }) => { if (m.stats) { proc.off('message', on); resolve(m.stats); } };
      proc.on('message', on);
      proc.send('stats');
    }),
    stop: () => new Promise((r) => { proc.once('exit', () => r()); proc.send('stop'); }),
  };
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] ?? fallback : fallback;
}
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const PER_SECOND = 200;
const PER_MINUTE = 5000;
/** As the target's read.ts searches. */
const KEYS_PER_SEARCH = 50;

/** The shortest time `calls` requests can take under both windows: bursts of 200/s, at most 5,000 in any minute. */
export function limitSeconds(calls: number): number {
  if (calls <= 0) return 0;
  const fullMinutes = Math.floor((calls - 1) / PER_MINUTE);
  return fullMinutes * 60 + ((calls - 1) % PER_MINUTE + 1) / PER_SECOND;
}

function person(i: number, run: string): PersonContext {
  const id = randomUUID();
  const event: PersonChanged = { eventId: randomUUID(), personId: id, changeType: 'MODIFY', changeTime: 0 };
  const affiliation = i % 10 === 0 ? 'employee' : i % 97 === 0 ? 'sensor' : 'student';
  const attrs: Record<string, string[]> = {
    idautoID: [id], givenName: ['Bench'], sn: [`Person${i}`], mail: [`b${i}.${run}@uni.example.no`], idautoPersonFeideID: [`b${i}.${run}@uni.example.no`],
    idautoPersonNationalID: [String(10_000_000_000 + i)], idautoPersonStuID: [String(100_000 + i)], idautoPersonAffiliations: [affiliation], idautoPersonPreferredLanguage: [i % 3 ? 'nb' : 'en'],
  };
  return { id, event, record: { dn: `idautoID=${id},ou=bench`, attrs }, mv: undefined, entitled: true, provisioned: false };
}

interface Tally { applied: number; failed: number; unchanged: number; kinds: Record<string, number> }

async function pass(people: PersonContext[], concurrency: number, ctx: TargetContext<WiseflowConfig>, session: Awaited<ReturnType<typeof target.connect>>): Promise<Tally> {
  const t: Tally = { applied: 0, failed: 0, unchanged: 0, kinds: {} };
  let done = 0;
  const started = performance.now();
  await mapLimit(people, concurrency, async (p) => {
    if (++done % 2000 === 0) process.stderr.write(`  ${done} people started after ${secs(performance.now() - started)}\n`);
    try {
      const d = target.desired(p, ctx);
      const a = await target.actual(p, d, session, ctx);
      const plan = target.plan(d, a, p, ctx);
      if (!plan.operations.length) { t.unchanged++; return; }
      const rs: OperationResult[] = await target.apply(plan, session, ctx, p);
      for (const [k, op] of plan.operations.entries()) {
        t.kinds[op.kind] = (t.kinds[op.kind] ?? 0) + 1;
        if (rs[k]?.outcome === 'APPLIED') t.applied++;
        else t.failed++;
      }
    } catch {
      t.failed++;
    }
  });
  return t;
}

async function main(): Promise<void> {
  const n = Number(arg('people', '10000'));
  const sample = Number(arg('seed-sample', '300'));
  const concurrency = Number(arg('concurrency', '64'));
  process.env.TILGANG_BENCH_WISEFLOW_SECRET = randomUUID();
  const sim = await simulator();
  const config = WiseflowConfig.parse({
    url: sim.url, auth: { clientId: 'bench', clientSecret: { env: 'TILGANG_BENCH_WISEFLOW_SECRET' } },
    userDataTypes: { feideId: 529, nationalId: 530, studentId: 531, personId: 532 },
    policy: { managedRoles: ['Assessor', 'Reviewer'], rules: [{ affiliations: ['employee'], roles: ['Assessor'] }], sensor: { affiliations: ['sensor'], roles: ['Reviewer'] } },
  });
  const ctx: TargetContext<WiseflowConfig> = { config, global: {} as never, log: pino({ level: process.env.LOG_LEVEL ?? 'warn' }) };
  console.log(`bench:wiseflow — ${n} people into the WISEflow simulator (latency model: ${DEFAULT_LATENCY.workers} workers, reads ${DEFAULT_LATENCY.readMs} ms, writes ${DEFAULT_LATENCY.writeMs} ms; rate limits ${PER_SECOND}/s and ${PER_MINUTE}/min), ${concurrency} people at once`);
  const run = randomUUID().slice(0, 6);
  const people = Array.from({ length: n }, (_, i) => person(i, run));
  // The lookups as full searches: the fewest searches the plans need.
  const fullSearches = Math.ceil(people.reduce((k, p) => k + searchKeys(p, config).length, 0) / KEYS_PER_SEARCH);
  /** The calls of a pass as made, and the fewest it needed (its other calls but those answered 429, and its lookups as full searches). */
  const calls = (a: Stats, b: Stats) => ({ made: b.requests - a.requests, needed: b.requests - a.requests - (b.throttled - a.throttled) - (b.searches - a.searches) + fullSearches });

  const session = await target.connect(ctx);
  await target.check!(session, ctx);
  let s0 = await sim.stats();
  let t = performance.now();
  const first = await pass(people, concurrency, ctx, session);
  const firstMs = performance.now() - t;
  let s1 = await sim.stats();
  const firstCalls = calls(s0, s1);
  console.log(`tilgang, initial load: ${secs(firstMs)} — ${JSON.stringify(first.kinds)}, ${first.failed} failed, ${firstCalls.made} calls (${(firstCalls.made / n).toFixed(2)}/person, ${s1.searches - s0.searches} searches), ${s1.throttled - s0.throttled} answered 429, peak ${s1.peak}/s`);

  s0 = s1;
  t = performance.now();
  const again = await pass(people, concurrency, ctx, session);
  const againMs = performance.now() - t;
  s1 = await sim.stats();
  const againCalls = calls(s0, s1);
  console.log(`tilgang, full reconciliation in sync: ${secs(againMs)} — ${again.unchanged} unchanged, ${again.applied} applied, ${again.failed} failed, ${againCalls.made} calls (${(againCalls.made / n).toFixed(3)}/person), ${s1.throttled - s0.throttled} answered 429`);
  await target.close!(session);

  // The seed's way: one person at a time (its own session: the same calls, none coalesced with another's).
  const seedPeople = Array.from({ length: sample }, (_, i) => person(n + i, `${run}s`));
  const seedSession = await target.connect(ctx);
  s0 = await sim.stats();
  t = performance.now();
  const seed = await pass(seedPeople, 1, ctx, seedSession);
  const seedMs = performance.now() - t;
  s1 = await sim.stats();
  await target.close!(seedSession);
  const seedProjected = (seedMs / sample) * n;
  console.log(`seed's way (one at a time), initial load: ${sample} people in ${secs(seedMs)} (${seed.failed} failed, ${((s1.requests - s0.requests) / sample).toFixed(2)} calls/person) → ${secs(seedProjected)} for ${n}, extrapolated`);

  const limit = (c: { made: number; needed: number }) => ({ needed: limitSeconds(c.needed) * 1000, made: limitSeconds(c.made) * 1000 });
  const limitFirst = limit(firstCalls), limitAgain = limit(againCalls);
  console.log(`limit (the calls the plans need, lookups as full searches, at the licence's rate): initial load ${secs(limitFirst.needed)} (${firstCalls.needed} calls), in sync ${secs(limitAgain.needed)} (${againCalls.needed} calls)`);
  console.log(`  (for the calls tilgang made: initial load ${secs(limitFirst.made)}, in sync ${secs(limitAgain.made)})`);
  console.log(`tilgang's share of the limit: initial load ${((limitFirst.needed / firstMs) * 100).toFixed(0)} %, in sync ${((limitAgain.needed / againMs) * 100).toFixed(0)} %; the seed's way ${((limitFirst.needed / seedProjected) * 100).toFixed(1)} %`);
  const note = `${n.toLocaleString('en')} people into an empty WISEflow simulator (latency model, licence rate limits), ${concurrency} at once; the seed's way on ${sample} people, scaled`;
  figure({ part: 'wiseflow', name: 'full reconciliation, tilgang', value: firstMs / 1000, unit: 's', note });
  figure({ part: 'wiseflow', name: "full reconciliation: ratio to the seed's one-at-a-time way", value: seedProjected / firstMs, unit: '×', note });
  figure({ part: 'wiseflow', name: "full reconciliation: share of the limit (the calls needed at the licence's rate)", value: (limitFirst.needed / firstMs) * 100, unit: '%', note });
  figure({ part: 'wiseflow', name: 'the same again, in sync: share of the limit', value: (limitAgain.needed / againMs) * 100, unit: '%', note: `${n.toLocaleString('en')} people, nothing to do` });
  s1 = await sim.stats();
  console.log(`tokens issued ${s1.tokens}, requests answered 429 in all ${s1.throttled}`);
  await sim.stop();
}

if (!process.argv.includes('--serve')) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
