import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { MoodleConfig } from './config.js';
import { isTransient, TerminalError } from '../../spi/index.js';
import { target } from './index.js';
import { simulatorToken } from './simulator.js';
import { startMoodleSimulator } from './simulator/index.js';
import { moodleConfig, targetContext } from './test-fixtures.js';

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

describe('the Moodle target\'s start check', () => {
  const TOKEN = 'c0ffee00c0ffee00c0ffee00c0ffee00';
  const sims: { close(): Promise<void> }[] = [];
  afterAll(async () => { for (const s of sims) await s.close(); });

  async function checkAgainst(opts: { serviceFunctions?: string[]; token?: string; url?: string; capabilities?: string[]; authPlugins?: string[] }) {
    let url = opts.url;
    if (!url) {
      const sim = await startMoodleSimulator({
        token: TOKEN, seed: 'minimal', serviceFunctions: opts.serviceFunctions, capabilities: opts.capabilities, authPlugins: opts.authPlugins,
      });
      sims.push(sim);
      url = sim.url;
    }
    process.env.TILGANG_TEST_CHECK_TOKEN = opts.token ?? TOKEN;
    const ctx = targetContext(moodleConfig({ url, token: { env: 'TILGANG_TEST_CHECK_TOKEN' } }), loadConfig('tilgang.example.yaml'));
    const s = await target.connect(ctx);
    try {
      return await target.check!(s, ctx);
    } finally {
      await target.close!(s);
    }
  }

  it('passes with the token\'s site, release and user, and warns of nothing when every function is allowed', async () => {
    const r = await checkAgainst({});
    expect(r.warnings).toEqual([]);
    expect(r.facts).toMatchObject({ user: expect.any(String), site: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    expect(JSON.stringify(r)).not.toContain(TOKEN);
  });

  it('warns naming the functions the token\'s service does not allow', async () => {
    const r = await checkAgainst({ serviceFunctions: ['core_webservice_get_site_info', 'core_user_get_users_by_field', 'core_user_create_users',
      'core_user_update_users', 'core_enrol_get_users_courses', 'enrol_manual_enrol_users', 'core_course_get_courses_by_field'] });
    expect(r.warnings).toEqual(['the Moodle token\'s service lacks functions the target calls: '
      + 'core_enrol_get_enrolled_users, enrol_manual_unenrol_users, core_role_unassign_roles']);
  });

  it('refuses to start when the token user cannot see course idnumbers, naming the capability', async () => {
    const e = await checkAgainst({ capabilities: ['moodle/course:view', 'moodle/user:create'] }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TerminalError);
    expect((e as Error).message).toBe('targets.moodle: the token user wsprovisioner does not see course idnumbers, '
      + 'so no managed course would be found: give its role moodle/course:update');
  });

  it('refuses to start when the auth plugin of new accounts is not installed, and creates nothing finding out', async () => {
    const plugins = ['email', 'ldap', 'manual', 'nologin', 'webservice'];
    const e = await checkAgainst({ authPlugins: plugins }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TerminalError);
    expect((e as TerminalError).field).toBe('auth');
    expect((e as Error).message).toBe('targets.moodle: auth plugin "saml2" (targets.moodle.auth) is not installed on the Moodle site: '
      + 'Moodle refuses every account with it');
  });

  it('asked again (whether Moodle answers after an outage), only reads the site info', async () => {
    const sim = await startMoodleSimulator({ token: TOKEN, seed: 'minimal', latency: { workers: 4, cores: 4 } });
    sims.push(sim);
    process.env.TILGANG_TEST_CHECK_TOKEN = TOKEN;
    const ctx = targetContext(moodleConfig({ url: sim.url, token: { env: 'TILGANG_TEST_CHECK_TOKEN' } }), loadConfig('tilgang.example.yaml'));
    const s = await target.connect(ctx);
    try {
      await target.check!(s, ctx);
      const first = sim.metrics()!.log.map((c) => c.label);
      expect(first).toEqual(['core_webservice_get_site_info', 'core_course_get_courses_by_field', 'core_user_create_users']);
      await target.check!(s, ctx);
      expect(sim.metrics()!.log.map((c) => c.label).slice(first.length)).toEqual(['core_webservice_get_site_info']);
    } finally {
      await target.close!(s);
    }
  });

  it('passes with the auth plugin installed (enabled or not) and leaves no account behind', async () => {
    const sim = await startMoodleSimulator({ token: TOKEN, seed: 'minimal' });
    sims.push(sim);
    const r = await checkAgainst({ url: sim.url });
    expect(r.warnings).toEqual([]);
    // The probe create was refused at the INSERT and rolled back: only the seed's three accounts, and no id used.
    expect(sim.snapshot().users.map((u) => u.username)).toEqual(['guest', 'admin', 'wsprovisioner']);
    expect(sim.snapshot().seq.user).toBe(4);
  });

  it('refuses to start with a token Moodle refuses, naming the field and not the token', async () => {
    const e = await checkAgainst({ token: 'feedbeeffeedbeeffeedbeeffeedbeef' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TerminalError);
    expect((e as TerminalError).message).toMatch(/^targets\.moodle: Moodle at .* refused the token: invalidtoken/);
    expect((e as TerminalError).field).toBe('token');
    expect((e as Error).message).not.toContain('feedbeef');
  });

  it('a Moodle that does not answer is not a refusal: the error is transient', async () => {
    const e = await checkAgainst({ url: 'http://127.0.0.1:1' }).catch((x: unknown) => x);
    expect(isTransient(e)).toBe(true);
  });
});
