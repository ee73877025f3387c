import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

/** Where the local stack keeps binaries, data, logs and pid files (ignored by git). */
export const stateDir = (): string => process.env.TILGANG_STATE_DIR ?? join(process.cwd(), '.tilgang');

export function dir(...parts: string[]): string {
  const d = join(stateDir(), ...parts);
  mkdirSync(d, { recursive: true });
  return d;
}

const pidFile = (name: string) => join(dir('run'), `${name}.pid`);
export const logFile = (name: string) => join(dir('logs'), `${name}.log`);

export function readPid(name: string): number | undefined {
  const f = pidFile(name);
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Starts a server detached from this process (it outlives `stack up`), output to its log file. */
export function spawnDaemon(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): number {
  const out = openSync(logFile(name), 'a');
  const child = spawn(cmd, args, {
    cwd: opts.cwd, env: { ...process.env, ...opts.env }, detached: true, stdio: ['ignore', out, out],
  });
  if (!child.pid) throw new Error(`could not start ${name} (${cmd})`);
  child.unref();
  writeFileSync(pidFile(name), String(child.pid));
  return child.pid;
}

export async function stopDaemon(name: string, graceMs = 15_000): Promise<void> {
  const pid = readPid(name);
  if (alive(pid)) {
    // Negative pid: the whole process group, so wrapper scripts take their children with them.
    try { process.kill(-pid!, 'SIGTERM'); } catch { try { process.kill(pid!, 'SIGTERM'); } catch { /* gone */ } }
    const until = Date.now() + graceMs;
    while (alive(pid) && Date.now() < until) await sleep(200);
    if (alive(pid)) { try { process.kill(-pid!, 'SIGKILL'); } catch { try { process.kill(pid!, 'SIGKILL'); } catch { /* gone */ } } }
  }
  // Another `stack up` may have started a new one meanwhile: only forget the pid we stopped.
  if (readPid(name) === pid) rmSync(pidFile(name), { force: true });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, logName?: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  const hint = logName ? ` (see ${logFile(logName)})` : '';
  throw new Error(`${what} did not become ready within ${Math.round(timeoutMs / 1000)} s${hint}`);
}
