import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorToken } from '../../src/targets/moodle/simulator.js';
import { cliConfig } from '../support/cli.js';
import { testEnv, type TestEnv, type TestPerson } from '../support/env.js';

// Logs go to standard error; standard output carries only what the command prints for its user:
// `tilgang explain … > file` holds the explanation alone, even with every log level on.
describe('standard output holds only what the command prints', () => {
  let env: TestEnv;
  let person: TestPerson;
  let file: string;

  beforeAll(async () => {
    env = await testEnv('stdout');
    person = await env.addPerson({ affiliation: 'student' });
    file = cliConfig(env.cfg, (c) => { c.targets = { moodle: env.cfg.targets.moodle }; });
    // The token file the configuration names, as the stack's Moodle simulator makes it (this file may run first).
    simulatorToken((env.cfg.targets.moodle as { token: Parameters<typeof simulatorToken>[0] }).token);
  });

  afterAll(async () => {
    await env?.close();
  });

  /** `tilgang -c FILE ARGS > out` at log level trace, the way a shell redirects. */
  const redirected = async (args: string[]): Promise<{ out: string; err: string; code: number | null }> => {
    const out = join(mkdtempSync(join(tmpdir(), 'tilgang-out-')), 'out');
    const fd = openSync(out, 'w');
    const child = spawn(process.execPath, [resolve('bin/tilgang.js'), '-c', file, ...args], {
      env: { ...process.env, TILGANG_LOG_LEVEL: 'trace', TILGANG_LOG_FORMAT: 'json' }, stdio: ['ignore', fd, 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => child.once('close', r));
    closeSync(fd);
    return { out: readFileSync(out, 'utf8'), err, code };
  };

  it('explain --json > file: the file is one JSON document, the explanation; the logs went to stderr', async () => {
    const r = await redirected(['explain', person.username, '--json']);
    expect(r.code).toBe(0);
    const x = JSON.parse(r.out) as Record<string, unknown>;
    expect(JSON.stringify(x)).toContain(person.id);
    expect(r.out).not.toMatch(/"level":/);
    // The logs were written, to stderr: JSON lines with a level.
    expect(r.err.split('\n').filter((l) => l.startsWith('{"level":')).length).toBeGreaterThan(0);
  }, 60_000);

  it('explain > file: the file holds the explanation\'s text and no log line', async () => {
    const r = await redirected(['explain', person.username]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(person.username);
    expect(r.out).toContain('moodle');
    expect(r.out).not.toMatch(/"level":|"msg":/);
    expect(r.err).toMatch(/"level":/);
  }, 60_000);
});
