import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { MoodleConfig } from './config.js';
import { target } from './index.js';
import { simulatorToken } from './simulator.js';

describe('the Moodle target plug-in', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tilgang-moodle-token-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the simulator the token tilgang is configured with, creating a missing token file once', () => {
    const file = join(dir, 'secrets', 'moodle-token');
    const token = simulatorToken({ file });
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(simulatorToken({ file })).toBe(token);
    expect(readFileSync(file, 'utf8')).toBe(token);
    process.env.TILGANG_TEST_TOKEN_X = 'from-the-environment';
    expect(simulatorToken({ env: 'TILGANG_TEST_TOKEN_X' })).toBe('from-the-environment');
  });

  it('reads the example configuration: entitlement employee, student, affiliate or the moodle request', () => {
    const cfg = MoodleConfig.parse(loadConfig('tilgang.example.yaml').targets.moodle);
    expect(cfg.entitlement).toEqual({ affiliations: ['employee', 'student', 'affiliate'], roles: [], request: 'moodle' });
    expect(cfg.simulator).toEqual({ port: 18080, latency: false });
    expect(target.essential(cfg)).toEqual(['idautoPersonUserNameMV', 'givenName', 'sn', 'mail']);
  });

  it('names the wrong field of a bad configuration', () => {
    const r = MoodleConfig.safeParse({ url: 'not a url', token: { file: 'x' }, match: ['phone'] });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['match.0', 'url']);
  });
});
