/**
 * Worker processes for the benchmarks that measure whole processes: `tilgang run --role …` on a
 * configuration file of the bench's own (its topics, groups and transactional ids under one Kafka
 * prefix), each with its stderr in a file and its /metrics on a port of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { loadConfig, type Config } from '../src/config.js';
import { TILGANG_BIN, tilgangNodeOptions } from './support.js';

export interface WorkerProcess {
  role: string;
  name: string;
  log: string;
  port: number;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** The bench's topics renamed under `prefix` (as `kafka.prefix` names them), and the file the workers read. */
export function writeWorkerConfig(cfg: Config, prefix: string, dir: string): string {
  const base = loadConfig('tilgang.example.yaml');
  const fileCfg = structuredClone(cfg);
  fileCfg.kafka.prefix = prefix;
  fileCfg.kafka.topics = base.kafka.topics;
  fileCfg.history = base.history;
  for (const [k, v] of Object.entries(base.kafka.topics)) (cfg.kafka.topics as Record<string, string>)[k] = `${prefix}${v}`;
  cfg.kafka.prefix = prefix;
  const file = join(dir, 'tilgang.json');
  writeFileSync(file, JSON.stringify(fileCfg, null, 2), { mode: 0o600 });
  return file;
}

/** The secrets of a private world's simulated targets: random, never the example's. */
export interface TargetSecrets { moodleToken: string; lenelPassword: string; wiseflowSecret: string }

export function randomTargetSecrets(): TargetSecrets {
  const random = () => Math.random().toString(36).slice(2);
  return {
    moodleToken: Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join(''),
    lenelPassword: `Lenel-${random()}-pw`,
    wiseflowSecret: `wf-${random()}-secret`,
  };
}

/**
 * The four targets' configuration blocks for a world of a bench's or test's own: the example's
 * Moodle and Lenel settings, WISEflow's sample policy, AD accounts under `adOu`; the secrets in
 * files in `dir` (as an operator gives them), the simulators' URLs left for their start to fill in.
 */
export function privateTargets(dir: string, adOu: string, secrets: TargetSecrets, extra: Record<string, unknown> = {}): Record<'moodle' | 'lenel' | 'wiseflow' | 'ad', Record<string, unknown>> {
  const secret = (file: string, value: string) => { writeFileSync(join(dir, file), value, { mode: 0o600 }); return { file: join(dir, file) }; };
  const example = loadConfig('tilgang.example.yaml').targets as Record<string, Record<string, unknown>>;
  const without = (o: Record<string, unknown>, ...keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
  return {
    moodle: { ...without(example.moodle!, 'simulator'), url: 'http://127.0.0.1:1', token: secret('moodle-token', secrets.moodleToken), ...extra },
    lenel: { ...without(example.lenel!, 'simulator'), url: 'http://127.0.0.1:1', password: secret('lenel-password', secrets.lenelPassword), ...extra },
    wiseflow: {
      url: 'http://127.0.0.1:1', auth: { clientId: 'tilgang', clientSecret: secret('wiseflow-secret', secrets.wiseflowSecret) }, ...extra,
      userDataTypes: { feideId: 529, nationalId: 530, studentId: 531, personId: 532 },
      policy: {
        managedRoles: ['Assessor', 'Author', 'Invigilator'],
        rules: [{ affiliations: ['employee'], roles: ['Invigilator'] }, { businessRoles: ['iam:teacher'], roles: ['Assessor', 'Author'] }],
        sensor: { affiliations: ['sensor'], roles: ['Assessor'] },
      },
      entitlement: { affiliations: ['employee', 'student', 'sensor'], request: 'wiseflow' },
    },
    ad: { ...example.ad!, ous: { employee: `OU=Employees,${adOu}`, student: `OU=Students,${adOu}`, disabled: `OU=Disabled,${adOu}` } },
  };
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export async function startWorker(configFile: string, role: string, dir: string, name = role.replace(':', '-')): Promise<WorkerProcess> {
  const port = await freePort();
  const log = join(dir, `${name}.stderr`);
  const fd = openSync(log, 'w');
  // BENCH_WORKER_NODE_ARGS: node's own arguments for the workers only (e.g. --cpu-prof --cpu-prof-dir=…), after tilgang's own.
  const nodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...tilgangNodeOptions(), ...nodeArgs, TILGANG_BIN, '-c', configFile, 'run', '--role', role, '--metrics-port', String(port)], {
    stdio: ['ignore', 'ignore', fd], env: { ...process.env, TILGANG_LOG_LEVEL: 'info' },
  });
  closeSync(fd);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { role, name, log, port, child, exited };
}

/** Waits until every worker logged that it runs (its group joined and took its partitions). */
export async function whenRunning(workers: WorkerProcess[], ms = 180_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = workers.every((w) => {
      if (w.child.exitCode !== null) throw new Error(`${w.name} exited with ${w.child.exitCode}: ${readFileSync(w.log, 'utf8').slice(-2000)}`);
      return /"msg":"running"/.test(readFileSync(w.log, 'utf8'));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`workers not running after ${ms / 1000} s: ${workers.map((w) => w.name).join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A worker's results so far by `target|outcome`, from its /metrics. */
export async function resultsOf(w: WorkerProcess): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const text = await (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text();
    for (const m of text.matchAll(/^tilgang_results_total\{([^}]*)\} (\d+)/gm)) {
      const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      out.set(`${labels.target}|${labels.outcome}`, Number(m[2]));
    }
  } catch {
    // Not serving yet, or gone: no results to count.
  }
  return out;
}

export const sum = (m: Map<string, number>, target?: string) => [...m].filter(([k]) => !target || k.startsWith(`${target}|`)).reduce((n, [, v]) => n + v, 0);

/** The process's peak resident memory (VmHWM), in bytes; 0 when it is gone. */
export function peakRssOf(pid: number | undefined): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** SIGTERM, and SIGKILL what has not exited 20 s later. */
export async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  await Promise.all(workers.map(async (w) => {
    if (w.child.exitCode !== null || w.child.signalCode !== null) return;
    w.child.kill('SIGTERM');
    const t = setTimeout(() => w.child.kill('SIGKILL'), 20_000);
    await w.exited;
    clearTimeout(t);
  }));
}

/** Every topic under the bench's prefix (dead letters and the group's own too), deleted. */
export async function deletePrefixedTopics(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ours = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (ours.length) await admin.deleteTopics({ topics: ours, timeout: 20_000 });
  } catch (e) {
    console.error(`could not delete the bench topics under ${prefix}: ${(e as Error).message}`);
  } finally {
    await admin.disconnect();
  }
}

/** CPU time the process has used so far (user + system), in seconds; 0 when it is gone. */
export function cpuSecondsOf(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) in clock ticks of 1/100 s; f[0] is field 3.
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

export interface RawResult { target: string; timestamp: number; value: Buffer }

/**
 * The result topic's messages so far (at least `n`), read_committed from the beginning, undecoded:
 * the target from the header the runtime sets, and the time the worker sent it. The clock of a
 * run is read from these afterwards, so the workers need not be asked for their counts often
 * (each /metrics answer costs the worker CPU).
 */
export async function readResultTopic(kafka: Kafka, topic: string, n: number, groupPrefix: string): Promise<RawResult[]> {
  const consumer = kafka.consumer({ groupId: `${groupPrefix}reader.${Math.random().toString(36).slice(2)}`, readUncommitted: false });
  const out: RawResult[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) if (m.value) out.push({ target: m.headers?.['tilgang-target']?.toString() ?? '', timestamp: Number(m.timestamp), value: m.value });
    },
  });
  const end = Date.now() + 120_000;
  while (out.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  // A result committed late (a duplicate) would come right after: wait a little longer for it.
  await new Promise((r) => setTimeout(r, 1_500));
  await consumer.disconnect();
  return out;
}
