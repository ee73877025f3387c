import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { AlreadyExistsError, Client } from 'ldapts';
import { loadConfig, readSecret, type Config } from '../src/config.js';
import { ensureTopics, makeKafka } from '../src/lib/kafka.js';
import { registry } from '../src/lib/metrics.js';
import { migrate } from '../src/mv/migrate.js';
import { up } from '../src/stack/index.js';

/** A benchmark's own topics and directory subtree on the local stack, like a test's. */
export async function benchEnv(name: string) {
  await up();
  const id = `${name}-${randomUUID().slice(0, 8)}`;
  const cfg: Config = structuredClone(loadConfig());
  // Beside the people base a running demo watches, never below it: the demo would act on the bench's people.
  const tests = `ou=Tests,${cfg.directory.suffix}`;
  cfg.directory.peopleDn = `ou=bench-${id},${tests}`;
  cfg.kafka.topics = { personChanged: `bench.${id}.person.changed`, provisioningResult: `bench.${id}.provisioning.result`, courseChanged: `bench.${id}.course.changed`, producerState: `bench.${id}.producer.state` };
  cfg.runtime.stateSchema = `bench_rt_${id.replace(/[^a-z0-9]/g, '_')}`;
  cfg.runtime.metricsPort = 0;
  cfg.runtime.instanceId = id;
  // On a machine where neither the demo nor the tests ran yet, MV's database and schema do not exist.
  await migrate(cfg.mv.url, cfg.mv.schema);
  const kafka = makeKafka(cfg, `bench-${id}`);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: cfg.kafka.topics.personChanged, partitions: cfg.kafka.partitions }, { topic: cfg.kafka.topics.provisioningResult, partitions: cfg.kafka.partitions }]);
  const ldap = new Client({ url: cfg.directory.url, timeout: 120_000 });
  await ldap.bind(cfg.directory.adminDn!, readSecret(cfg.directory.adminPassword!, 'admin'));
  await ldap.add(tests, { objectClass: 'organizationalUnit', ou: 'Tests' }).catch((e: Error) => {
    if (!(e instanceof AlreadyExistsError)) throw e;
  });
  await ldap.add(cfg.directory.peopleDn, { objectClass: 'organizationalUnit', ou: `bench-${id}` });
  /** Runs fn(client, i) for i in 0..n-1 over several admin connections (people are independent). */
  const overConnections = async (n: number, fn: (c: Client, i: number) => Promise<unknown>, connections = 6) => {
    const clients = await Promise.all(Array.from({ length: connections }, async () => {
      const c = new Client({ url: cfg.directory.url, timeout: 120_000 });
      await c.bind(cfg.directory.adminDn!, readSecret(cfg.directory.adminPassword!, 'admin'));
      return c;
    }));
    let next = 0;
    await Promise.all(clients.map(async (c) => { while (next < n) await fn(c, next++); }));
    await Promise.all(clients.map((c) => c.unbind()));
  };
  const topics: string[] = Object.values(cfg.kafka.topics);
  return {
    id, cfg, kafka, ldap,
    /** The bench's topics, deleted by close(); a bench adds the ones it makes itself. */
    topics,
    /** Adds n people over several connections; returns their ids. */
    async addPeople(n: number): Promise<string[]> {
      const ids = Array.from({ length: n }, () => randomUUID());
      await overConnections(ids.length, async (c, i) => {
          await c.add(`idautoID=${ids[i]},${cfg.directory.peopleDn}`, {
            objectClass: ['idautoPerson', 'tilgangStatusHolder'], idautoID: ids[i]!, cn: `Bench Person ${i}`, sn: `Person${i}`, givenName: 'Bench',
            idautoPersonUserNameMV: `b${id.slice(-8)}${i}`, mail: `bench${i}@uni.example.no`, idautoPersonAffiliation: 'student',
          });
      });
      return ids;
    },
    /** Removes the bench's people, subtree and topics (BENCH_KEEP=1 keeps them). */
    async close(ids: string[]) {
      if (process.env.BENCH_KEEP) return;
      await overConnections(ids.length, (c, i) => c.del(`idautoID=${ids[i]},${cfg.directory.peopleDn}`).catch(() => {}));
      await ldap.del(cfg.directory.peopleDn).catch(() => {});
      await admin.disconnect();
      await ldap.unbind();
      await deleteTopics(cfg, topics);
    },
  };
}

/**
 * Deletes the bench's topics, and gives up after a bounded time: a topic whose deletion the broker
 * keeps answering with "This server does not host this topic-partition" would otherwise be retried
 * for minutes by the client's retry policy.
 */
async function deleteTopics(cfg: Config, topics: string[]): Promise<void> {
  const kafka = new Kafka({ clientId: 'bench-cleanup', brokers: cfg.kafka.brokers, retry: { retries: 2, initialRetryTime: 100 }, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timed out after 30 s')), 30_000); });
  try {
    await Promise.race([(async () => {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const ours = topics.filter((t) => existing.has(t));
      if (ours.length) await admin.deleteTopics({ topics: ours, timeout: 10_000 });
    })(), deadline]);
  } catch (e) {
    console.error(`could not delete the bench topics (${(e as Error).message}); left: ${topics.join(', ')}`);
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => {});
  }
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
export const peakRss = () => process.resourceUsage().maxRSS * 1024;

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/**
 * One figure of a benchmark, printed on stdout as `BENCH-FIGURE {json}`: `npm run bench` gathers
 * these into its report's summary table, so each benchmark states its own numbers and goals.
 */
export interface Figure {
  /** The benchmark part (e.g. "latency"). */
  part: string;
  /** What was measured (e.g. "p99 at 50 changes/s, moodle"). */
  name: string;
  value: number;
  /** "ms", "changes/s", "%", "MB", "×", "s"… */
  unit: string;
  /** The goal, in words (e.g. "< 300 ms"), when the issue sets one. */
  goal?: string;
  /** Whether the goal was met, when there is one. */
  met?: boolean;
  /** The conditions (people, rate, processes…) that make the figure comparable. */
  note?: string;
}
export function figure(f: Figure): void {
  console.log(`BENCH-FIGURE ${JSON.stringify(f)}`);
}

/** tilgang's executable. */
export const TILGANG_BIN = resolve(import.meta.dirname, '..', 'bin', 'tilgang.js');

/**
 * The node options tilgang's executable runs with (after `node` on its first line; the Dockerfile
 * passes the same): a bench that starts it as `node bin/tilgang.js` passes them too, so its
 * processes run, and their memory is measured, as a deployment's do.
 */
export function tilgangNodeOptions(): string[] {
  const first = readFileSync(TILGANG_BIN, 'utf8').split('\n', 1)[0]!;
  const words = first.split(/\s+/);
  return words.slice(words.indexOf('node') + 1);
}

/** Per system and call (tilgang_target_request_seconds): requests made by this process so far and their total seconds. */
export async function requestTotals(): Promise<Map<string, { system: string; call: string; n: number; s: number }>> {
  const out = new Map<string, { system: string; call: string; n: number; s: number }>();
  for (const v of (await registry.getSingleMetric('tilgang_target_request_seconds')!.get()).values) {
    const name = (v as { metricName?: string }).metricName ?? '';
    const kind = name.endsWith('_count') ? 'n' : name.endsWith('_sum') ? 's' : null;
    if (!kind) continue;
    const system = String(v.labels.system).toLowerCase();
    const call = String(v.labels.call);
    const k = `${system}\u0000${call}`;
    const e = out.get(k) ?? { system, call, n: 0, s: 0 };
    e[kind] += v.value;
    out.set(k, e);
  }
  return out;
}

/** What each system was asked between two requestTotals: per change, the calls by kind with their mean time. */
export function callsPerChange(before: Awaited<ReturnType<typeof requestTotals>>, after: Awaited<ReturnType<typeof requestTotals>>, changes: number): Map<string, string> {
  const bySystem = new Map<string, { call: string; n: number; s: number }[]>();
  for (const [k, a] of after) {
    const b = before.get(k);
    const n = a.n - (b?.n ?? 0);
    if (n <= 0) continue;
    (bySystem.get(a.system) ?? bySystem.set(a.system, []).get(a.system)!).push({ call: a.call, n, s: a.s - (b?.s ?? 0) });
  }
  const out = new Map<string, string>();
  for (const [system, calls] of bySystem) {
    const total = calls.reduce((x, c) => x + c.n, 0);
    calls.sort((x, y) => y.n - x.n);
    out.set(system, `${(total / changes).toFixed(2)} calls per change (${calls.map((c) => `${c.call} ${(c.n / changes).toFixed(2)} × ${Math.round((c.s / c.n) * 1000)} ms`).join(', ')})`);
  }
  return out;
}
