/**
 * bench:wiseflow — a full reconciliation of N people (default 10,000) into the WISEflow simulator
 * with its latency model (a fixed worker pool) and the licence's rate limits (200/s, 5,000/min)
 * on, through the target's own steps (desired → actual → plan → apply) as the runtime calls them:
 *
 *   1. tilgang: many people at once (the runtime's waves), lookups coalesced into batched searches;
 *   2. tilgang again over the same people, now in sync (reads only);
 *   3. the seed's way: one person at a time, start to end (on a sample, extrapolated; --seed-sample);
 *   4. the limit: the calls the plans needed at the licence's rate (200/s, and 5,000 in any minute).
 *
 *   npm run bench:wiseflow -- --people 10000 --seed-sample 300 --concurrency 64
 */
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { mapLimit } from '../src/lib/concurrency.js';
import type { OperationResult, PersonChanged, PersonContext, TargetContext } from '../src/spi/index.js';
import { WiseflowConfig } from '../src/targets/wiseflow/config.js';
import { target } from '../src/targets/wiseflow/index.js';
import { DEFAULT_LATENCY, startWiseflowSimulator } from '../src/targets/wiseflow/simulator/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] ?? fallback : fallback;
}
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const PER_SECOND = 200;
const PER_MINUTE = 5000;

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
  const secret = randomUUID();
  const sim = await startWiseflowSimulator({ clients: [{ id: 'bench', secret }], latency: true, requireClientName: true });
  process.env.TILGANG_BENCH_WISEFLOW_SECRET = secret;
  const config = WiseflowConfig.parse({
    url: sim.url, auth: { clientId: 'bench', clientSecret: { env: 'TILGANG_BENCH_WISEFLOW_SECRET' } },
    userDataTypes: { feideId: 529, nationalId: 530, studentId: 531, personId: 532 },
    policy: { managedRoles: ['Assessor', 'Reviewer'], rules: [{ affiliations: ['employee'], roles: ['Assessor'] }], sensor: { affiliations: ['sensor'], roles: ['Reviewer'] } },
  });
  const ctx: TargetContext<WiseflowConfig> = { config, global: {} as never, log: pino({ level: process.env.LOG_LEVEL ?? 'warn' }) };
  console.log(`bench:wiseflow — ${n} people into the WISEflow simulator (latency model: ${DEFAULT_LATENCY.workers} workers, reads ${DEFAULT_LATENCY.readMs} ms, writes ${DEFAULT_LATENCY.writeMs} ms; rate limits ${PER_SECOND}/s and ${PER_MINUTE}/min), ${concurrency} people at once`);
  const run = randomUUID().slice(0, 6);
  const people = Array.from({ length: n }, (_, i) => person(i, run));

  const session = await target.connect(ctx);
  await target.check!(session, ctx);
  let r0 = sim.requests();
  let t = performance.now();
  const first = await pass(people, concurrency, ctx, session);
  const firstMs = performance.now() - t;
  const firstCalls = sim.requests() - r0;
  console.log(`tilgang, initial load: ${secs(firstMs)} — ${JSON.stringify(first.kinds)}, ${first.failed} failed, ${firstCalls} calls (${(firstCalls / n).toFixed(2)}/person), ${sim.throttled()} answered 429, peak ${sim.peakPerSecond()}/s`);

  r0 = sim.requests();
  t = performance.now();
  const again = await pass(people, concurrency, ctx, session);
  const againMs = performance.now() - t;
  const againCalls = sim.requests() - r0;
  console.log(`tilgang, full reconciliation in sync: ${secs(againMs)} — ${again.unchanged} unchanged, ${again.applied} applied, ${again.failed} failed, ${againCalls} calls (${(againCalls / n).toFixed(3)}/person)`);
  await target.close!(session);

  // The seed's way: one person at a time (its own session: the same calls, none coalesced with another's).
  const seedPeople = Array.from({ length: sample }, (_, i) => person(n + i, `${run}s`));
  const seedSession = await target.connect(ctx);
  r0 = sim.requests();
  t = performance.now();
  const seed = await pass(seedPeople, 1, ctx, seedSession);
  const seedMs = performance.now() - t;
  const seedCalls = sim.requests() - r0;
  await target.close!(seedSession);
  const seedProjected = (seedMs / sample) * n;
  console.log(`seed's way (one at a time), initial load: ${sample} people in ${secs(seedMs)} (${seed.failed} failed, ${(seedCalls / sample).toFixed(2)} calls/person) → ${secs(seedProjected)} for ${n}, extrapolated`);

  const limitFirst = limitSeconds(firstCalls) * 1000;
  const limitAgain = limitSeconds(againCalls) * 1000;
  console.log(`limit (the calls the plans needed at the licence's rate): initial load ${secs(limitFirst)}, in sync ${secs(limitAgain)}`);
  console.log(`tilgang's share of the limit: initial load ${((limitFirst / firstMs) * 100).toFixed(0)} %, in sync ${((limitAgain / againMs) * 100).toFixed(0)} %`);
  console.log(`tokens issued ${sim.tokensIssued()}, requests answered 429 in all ${sim.throttled()}`);
  await sim.close();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
