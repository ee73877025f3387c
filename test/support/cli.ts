import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Config } from '../../src/config.js';

const BIN = resolve('bin/tilgang.js');

export interface Ran { code: number | null; stdout: string; stderr: string }

/** Runs the CLI as a user would, with the configuration named by `file`. */
export function tilgangCli(file: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const e: NodeJS.ProcessEnv = { ...process.env, TILGANG_LOG_LEVEL: 'warn', ...env };
  delete e.TILGANG_CONFIG;
  const child = spawn(process.execPath, [BIN, '-c', file, ...args], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((res) => child.once('close', (code) => res({ code, stdout, stderr })));
}

/** A test's configuration as a file (JSON is YAML), with the targets the CLI knows (not test targets) left out. */
export function cliConfig(cfg: Config, edit: (c: Config) => void = (c) => { c.targets = {}; }): string {
  const c = structuredClone(cfg);
  edit(c);
  const file = join(mkdtempSync(join(tmpdir(), 'tilgang-')), 'tilgang.yaml');
  writeFileSync(file, JSON.stringify(c));
  return file;
}
