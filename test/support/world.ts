/**
 * Every target at once, in a test's own corner: the sample university (src/seed) in the test's
 * directory subtree and MV schema, the simulators in this process (fault injection at hand, creates
 * counted), AD on the stack's Samba under an OU of the test's own, and tilgang's roles as separate
 * `tilgang run --role …` processes on a configuration file of the test's own, so a test can SIGKILL
 * and restart each. Every process's stderr is kept in a file, for the tests that read what a run wrote.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Client } from 'ldapts';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config.js';
import type { FaultSettingsInput } from '../../src/lib/faults.js';
import { migrate } from '../../src/mv/migrate.js';
import { runSeed, type SeedSummary } from '../../src/seed/index.js';
import type { RunningSimulator } from '../../src/spi/index.js';
import { privateTargets, randomTargetSecrets, writeWorkerConfig } from '../../bench/fleet.js';
import { SAMBA_PEOPLE_OU, SAMBA_SERVICE_UPN, sambaClient, sambaSecrets } from '../../src/stack/samba.js';
import { loadSimulator } from '../../src/targets/index.js';
import { eventually, testEnv, type TestEnv } from './env.js';

export const WORLD_TARGETS = ['moodle', 'ad', 'lenel', 'wiseflow'] as const;
export type Role = 'producer' | 'writeback' | `target:${string}`;

export interface RoleProcess {
  role: Role;
  replica: number;
  log: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Restarts after a kill (or once it exited). */
  starts: number;
}

export interface World {
  env: TestEnv;
  cfg: Config;
  configFile: string;
  dir: string;
  sims: Map<string, RunningSimulator>;
  seed?: SeedSummary;
  mv: pg.Pool;
  ad: Client;
  adOu: string;
  /** Secrets the run was given (tokens, passwords), to look for in what it wrote. */
  secrets: string[];
  /** By `role#replica`. */
  roles: Map<string, RoleProcess>;
  /** stderr files of every process started, in order. */
  logs: string[];
  /** Set when a run failed: close() keeps the folder with the processes' logs and says where. */
  keep?: boolean;
  /** Starts (or restarts) a role's process; `replica` runs more than one of a role (a second worker of a group). */
  start(role: Role, replica?: number): Promise<RoleProcess>;
  kill(role: Role, replica?: number): Promise<void>;
  /** Waits until every role process says it is running. */
  ready(): Promise<void>;
  seedPeople(persons: number, seed: number): Promise<SeedSummary>;
  setFaults(faults: FaultSettingsInput | null): void;
  /** Accounts per AD anchor (the person's idautoID) under the test's OU. */
  adAccounts(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export async function startWorld(name: string, opts: { faults?: FaultSettingsInput | null } = {}): Promise<World> {
  const env = await testEnv(name, (cfg) => {
    // The production retry budget: the faults injected (10 % of requests fail) are harsher than a
    // real server's, and a person unlucky in every attempt is dead-lettered by design (seen once
    // in the short suite: a Lenel badge create dead-lettered after its retries, the last one dropped).
    cfg.runtime.maxRetries = 5;
    cfg.runtime.retryBaseMs = 100;
    cfg.runtime.retryMaxMs = 2_000;
    cfg.runtime.guard = { ...cfg.runtime.guard, maxOperations: 1_000_000, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
  });
  const cfg = env.cfg;
  const dir = mkdtempSync(join(tmpdir(), `tilgang-${name}-`));
  const mvSchema = `test_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
  await migrate(cfg.mv.url, mvSchema);
  cfg.mv.schema = mvSchema;
  const mv = new pg.Pool({ connectionString: cfg.mv.url, max: 2 });
  // Secrets of the test's own, in files, as an operator would give them.
  const { moodleToken, lenelPassword, wiseflowSecret } = randomTargetSecrets();
  // AD accounts under an OU of the test's own.
  const ad = sambaClient();
  await ad.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
  const adOu = `OU=test-${env.id},${SAMBA_PEOPLE_OU}`;
  // The DC drops a connection idle through a long run; a search on it then comes back
  // "Operation unavailable without authentication" (seen after a 15-minute fault run).
  const rebindAd = async () => {
    await ad.unbind().catch(() => {});
    await ad.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
  };
  await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: `test-${env.id}` });
  cfg.targets = privateTargets(dir, adOu, { moodleToken, lenelPassword, wiseflowSecret }, { timeoutMs: 10_000 });
  const sims = new Map<string, RunningSimulator>();
  for (const t of WORLD_TARGETS) {
    const sim = await loadSimulator(t);
    if (!sim) continue;
    const running = await sim.start({ port: 0, latency: false, global: cfg, faults: opts.faults ?? undefined });
    sims.set(t, running);
    (cfg.targets[t] as { url: string }).url = running.url;
  }
  // The processes' configuration: the test's topics, groups, transactional ids and dead letters under one prefix.
  const configFile = writeWorkerConfig(cfg, `test.${env.id}.`, dir);
  const roles = new Map<string, RoleProcess>();
  const logs: string[] = [];
  const bin = resolve(import.meta.dirname, '..', '..', 'bin', 'tilgang.js');

  const world: World = {
    env, cfg, configFile, dir, sims, mv, ad, adOu, roles, logs,
    secrets: [moodleToken, lenelPassword, wiseflowSecret, sambaSecrets().tilgang, readFileSync(resolve('.tilgang/secrets/ldap-tilgang'), 'utf8').trim()],
    async start(role, replica = 0) {
      const key = `${role}#${replica}`;
      const prev = roles.get(key);
      const log = join(dir, `${role.replace(':', '-')}.${replica}.${(prev?.starts ?? 0) + 1}.stderr`);
      logs.push(log);
      const fd = openSync(log, 'w');
      const child = spawn(process.execPath, [bin, '-c', configFile, 'run', '--role', role, '--metrics-port', '0'], {
        stdio: ['ignore', 'ignore', fd], env: { ...process.env, TILGANG_LOG_LEVEL: 'info' },
      });
      closeSync(fd);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      const p: RoleProcess = { role, replica, log, child, exited, starts: (prev?.starts ?? 0) + 1 };
      roles.set(key, p);
      return p;
    },
    async kill(role, replica = 0) {
      const p = roles.get(`${role}#${replica}`);
      if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGKILL');
      await p.exited;
    },
    async ready() {
      await eventually(async () => [...roles.values()].every((p) => {
        if (p.child.exitCode !== null) throw new Error(`${p.role} exited with ${p.child.exitCode}: ${readFileSync(p.log, 'utf8').slice(-2000)}`);
        return /"msg":"running"/.test(readFileSync(p.log, 'utf8'));
      }), 180_000, 'every role running');
    },
    async seedPeople(persons, seed) {
      const s = await runSeed(cfg, { persons, seed, now: new Date('2026-09-15T12:00:00Z'), connections: 4 });
      world.seed = s;
      return s;
    },
    setFaults(faults) {
      for (const s of sims.values()) s.faults?.set(faults);
    },
    async adAccounts() {
      await rebindAd();
      const out = new Map<string, number>();
      for await (const page of ad.searchPaginated(adOu, { scope: 'sub', filter: '(&(objectClass=user)(employeeNumber=*))', attributes: ['employeeNumber'], paged: { pageSize: 500 } })) {
        for (const e of page.searchEntries) out.set(String(e.employeeNumber), (out.get(String(e.employeeNumber)) ?? 0) + 1);
      }
      return out;
    },
    async close() {
      for (const p of roles.values()) {
        if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
      }
      for (const s of sims.values()) await s.close().catch(() => {});
      await rebindAd().catch(() => {});
      const { searchEntries } = await ad.search(adOu, { scope: 'sub', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] as { dn: string }[] }));
      for (const e of searchEntries.sort((a, b) => b.dn.length - a.dn.length)) await ad.del(e.dn).catch(() => {});
      await ad.unbind().catch(() => {});
      await mv.query(`DROP SCHEMA IF EXISTS ${mvSchema} CASCADE; DROP SCHEMA IF EXISTS ${cfg.runtime.stateSchema} CASCADE`).catch(() => {});
      await mv.end();
      await env.close();
      if (world.keep) process.stderr.write(`kept the processes' logs in ${dir}\n`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}
