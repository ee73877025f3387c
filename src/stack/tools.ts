import { spawn } from 'node:child_process';
import { tail } from './process.js';

/** Runs a command to its end; output (stdout and stderr together) kept for error messages. */
export function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.stderr.on('data', (c: Buffer) => chunks.push(c));
    p.once('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code === 'ENOENT' ? 127 : 1, output: e.message }));
    p.once('close', (code) => resolve({ code: code ?? 1, output: Buffer.concat(chunks).toString('utf8') }));
  });
}

/** Fails, saying what `service` needs, unless `cmd args` runs and exits 0. */
export async function requireTool(service: string, cmd: string, args: string[], what: string): Promise<void> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${service} needs ${what}: \`${cmd}\` ${r.code === 127 ? 'was not found on PATH' : `failed:\n${tail(r.output, 10)}`}`);
}
