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

/** `pid` is alive and its command line holds `marker`: our server, not merely some process that got a stale pid. */
export function isOurs(pid: number | undefined, marker: string): pid is number {
  if (!alive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return true; // no /proc (not Linux): trust the pid file
  }
}

/** The pid in `name`'s pid file when that process is ours (see isOurs). */
export function ourPid(name: string, marker: string): number | undefined {
  const pid = readPid(name);
  return isOurs(pid, marker) ? pid : undefined;
}

/** Stops `name` when its pid file names our server; otherwise the pid file (gone, or the pid reused) is only stale. */
export async function stopIfOurs(name: string, marker: string, graceMs?: number): Promise<void> {
  if (ourPid(name, marker) !== undefined) await stopDaemon(name, graceMs);
  else rmSync(pidFile(name), { force: true });
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

/**
 * Waits for the process `pid` (not whatever the pid file says by then) to answer `healthy`; fails
 * at once, with the end of its log, when it exits first. On time-out: `${what} ${notReady} within N s`.
 */
export async function waitStarted(
  name: string, what: string, pid: number, healthy: () => Promise<boolean>, timeoutMs: number, notReady: string,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await healthy()) return;
    if (!alive(pid)) {
      throw new Error(`${what} exited during start-up (see ${logFile(name)}):\n${tail(readText(logFile(name)), 20)}`);
    }
    await sleep(250);
  }
  throw new Error(`${what} ${notReady} within ${timeoutMs / 1000} s (see ${logFile(name)})`);
}

/** A file's text, or '' when there is no such file. */
export const readText = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');

/** The last `lines` lines of `s`, for error messages. */
export const tail = (s: string, lines: number): string => s.trimEnd().split('\n').slice(-lines).join('\n');
