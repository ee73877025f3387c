import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { testEnv, type TestEnv } from '../support/env.js';

const BIN = resolve('bin/tilgang.js');
const EXAMPLE = resolve('tilgang.example.yaml');

interface Ran { code: number | null; stdout: string; stderr: string }

/** Runs the CLI as a user would, in `cwd`, with no configuration named unless the test names one. */
function tilgang(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env, TILGANG_LOG_LEVEL: 'warn', ...opts.env };
  if (!opts.env?.TILGANG_CONFIG) delete env.TILGANG_CONFIG;
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((res) => child.once('close', (code) => res({ code, stdout, stderr })));
}

/** The example's target names, in its order: what "configured" lists. */
const exampleTargets = Object.keys(parse(readFileSync(EXAMPLE, 'utf8')).targets as object);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const tmp = () => mkdtempSync(join(tmpdir(), 'tilgang-cli-'));

/** The example configuration with `edit` applied, written to a file of its own. */
function configFile(edit: (c: any) => void = () => {}): string {
  const c = parse(readFileSync(EXAMPLE, 'utf8'));
  edit(c);
  const file = join(tmp(), 'tilgang.yaml');
  writeFileSync(file, stringify(c));
  return file;
}

describe('a named configuration file that does not exist', () => {
  it('is refused with one line and exit 1, named by -c', async () => {
    const r = await tilgang(['-c', 'no-such.yaml', 'guard', 'status', 'moodle']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('configuration file no-such.yaml (named by -c) does not exist');
    expect(r.stdout).toBe('');
  });

  it('is refused when named by TILGANG_CONFIG, not replaced by the example', async () => {
    const r = await tilgang(['guard', 'status', 'moodle'], { env: { TILGANG_CONFIG: 'missing.yaml' } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('configuration file missing.yaml (named by TILGANG_CONFIG) does not exist');
    expect(r.stdout).not.toMatch(/open/);
  });

  it('the example is used only when nothing is named, and the program says so on stderr', async () => {
    const dir = tmp();
    copyFileSync(EXAMPLE, join(dir, 'tilgang.example.yaml'));
    const r = await tilgang(['guard', 'status', 'nosuch'], { cwd: dir });
    expect(r.stderr).toContain('using tilgang.example.yaml');
    expect(r.code).toBe(1); // and the wrong name is still refused
    const none = await tilgang(['guard', 'status', 'moodle'], { cwd: tmp() });
    expect(none.code).toBe(1);
    expect(none.stderr.trim()).toBe('no configuration: name a file with -c or TILGANG_CONFIG, or write ./tilgang.yaml');
  });

  it('a ./tilgang.yaml is read without a notice', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'tilgang.yaml'), readFileSync(EXAMPLE, 'utf8'));
    const r = await tilgang(['dlq', 'list', 'nosuch'], { cwd: dir });
    expect(r.stderr).not.toContain('using tilgang.example.yaml');
    expect(r.stderr.trim()).toBe(`tilgang: unknown target: nosuch (configured: ${[...exampleTargets, 'writeback'].join(', ')})`);
  });
});

describe('a target name the configuration does not have', () => {
  const file = configFile((c) => { c.targets.ad.enabled = false; });
  const enabled = esc(exampleTargets.filter((t) => t !== 'ad').join(', '));
  const configured = esc(exampleTargets.join(', '));
  const cases: [string, string[], RegExp][] = [
    ['sync --target', ['sync', '--all', '--target', 'moodel'], new RegExp(`^tilgang: unknown target: moodel \\(enabled: ${enabled}\\)$`)],
    ['sync --target of a disabled target', ['sync', '--all', '--target', 'moodle', 'ad'], new RegExp(`^tilgang: target not enabled: ad \\(enabled: ${enabled}\\)$`)],
    ['guard status', ['guard', 'status', 'nosuch'], new RegExp(`^tilgang: unknown target: nosuch \\(configured: ${configured}\\)$`)],
    ['guard release', ['guard', 'release', 'nosuch'], /^tilgang: unknown target: nosuch/],
    ['dlq list', ['dlq', 'list', 'nosuch'], new RegExp(`^tilgang: unknown target: nosuch \\(configured: ${configured}, writeback\\)$`)],
    ['dlq redrive', ['dlq', 'redrive', 'nosuch'], /^tilgang: unknown target: nosuch/],
    ['explain --target', ['explain', '--key-value', 'someone', '--target', 'nosuch'], new RegExp(`^tilgang: unknown target: nosuch \\(enabled: ${enabled}\\)$`)],
    ['run --role target:', ['run', '--role', 'target:nosuch'], /^tilgang: unknown target: nosuch/],
    ['run --role', ['run', '--role', 'consumer'], /^tilgang: unknown role consumer/],
  ];
  for (const [what, args, message] of cases) {
    it(`is refused by ${what} with one line and exit 1, before any work`, async () => {
      const r = await tilgang(['-c', file, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    });
  }

  it('writeback is a dead-letter name that dlq accepts', async () => {
    const r = await tilgang(['-c', file, 'dlq', 'list', 'writeback']);
    expect(r.stderr).not.toMatch(/unknown target/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/writeback/);
  });
});

describe('the whole configuration is checked at start', () => {
  it('a plain string where a secret belongs says how to write a secret, and never echoes the value', async () => {
    const file = configFile((c) => { c.directory.password = 'hunter2-plain'; c.targets.moodle.token = 'tok-9f8e7d'; });
    const r = await tilgang(['-c', file, 'guard', 'status', 'moodle']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/directory\.password: a secret is not written in the configuration itself: write \{ env: VARIABLE \} or \{ file: path \}/);
    expect(r.stderr).toMatch(/targets\.moodle\.token: a secret is not written in the configuration itself/);
    expect(r.stderr + r.stdout).not.toMatch(/hunter2-plain|tok-9f8e7d/);
  });

  it('every enabled target block is checked, by every command, and a misspelt target block is named', async () => {
    const file = configFile((c) => {
      c.targets.moodle.batchSize = 0;
      c.targets.moodle.colour = 'red';
      c.targets.moodel = { url: 'http://x' };
    });
    for (const args of [['guard', 'status', 'moodle'], ['dlq', 'list', 'writeback'], ['report', 'run-x'], ['produce']]) {
      const r = await tilgang(['-c', file, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`invalid configuration in ${file}`);
      expect(r.stderr).toMatch(/targets\.moodle\.batchSize: /);
      expect(r.stderr).toMatch(/targets\.moodle: Unrecognized key: "colour"/);
      expect(r.stderr).toMatch(/targets\.moodel: no such target \(known: .*moodle/);
    }
  });

  it('a disabled target\'s block is not held to its schema', async () => {
    const file = configFile((c) => { c.targets.ad = { enabled: false, connections: 'many' }; });
    const r = await tilgang(['-c', file, 'dlq', 'list', 'ad']);
    expect(r.stderr).not.toMatch(/invalid configuration/);
    expect(r.code).toBe(0);
  });
});

describe('report of a run', () => {
  let env: TestEnv;
  afterAll(async () => env?.close());

  it('an unknown run is refused with one line and exit 1; a published run without results is not', async () => {
    env = await testEnv('clireport');
    const file = join(tmp(), 'tilgang.yaml');
    writeFileSync(file, JSON.stringify(env.cfg)); // JSON is YAML
    const unknown = await tilgang(['-c', file, 'report', 'run-20260101T000000Z-deadbeef']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe('tilgang: no run run-20260101T000000Z-deadbeef: no event or result carries this run id');

    await env.addPerson({});
    const synced = await tilgang(['-c', file, 'sync', '--all', '--log-only']);
    expect(synced.code).toBe(0);
    const runId = /run (run-\S+):/.exec(synced.stdout)?.[1];
    expect(runId).toBeTruthy();
    const known = await tilgang(['-c', file, 'report', runId!]);
    expect(known.code).toBe(0);
    expect(known.stdout).toContain(`run ${runId}`);
  }, 120_000);
});
