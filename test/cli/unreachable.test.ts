import { describe, expect, it } from 'vitest';
import { InsufficientAccessError, InvalidCredentialsError } from 'ldapts';
import { loadConfig, type Config } from '../../src/config.js';
import { describeLdapError } from '../../src/lib/ldap/result-codes.js';
import { cliConfig, tilgangCli } from '../support/cli.js';

// A server that is not there ends a command within runtime.connectTimeoutMs, with exit code 1 and
// one line naming the server and its address, not minutes of retries and stack traces. LDAP result
// codes are given by name.
const base = loadConfig('tilgang.example.yaml');
const file = (edit: (c: Config) => void) => cliConfig(base, (c) => { c.targets = { moodle: base.targets.moodle }; c.runtime.connectTimeoutMs = 2_000; edit(c); });
const DEAD = '127.0.0.1:1';

describe('a server that cannot be reached ends the command with one line naming it', () => {
  const cases: { server: string; args: string[]; edit: (c: Config) => void; line: RegExp }[] = [
    { server: 'Kafka', args: ['dlq', 'list', 'writeback'], edit: (c) => { c.kafka.brokers = [DEAD]; }, line: /^tilgang: Kafka at 127\.0\.0\.1:1 is not reachable \(ECONNREFUSED; gave up after 2 s, runtime\.connectTimeoutMs\)$/ },
    { server: 'the schema registry', args: ['report', 'no-such-run'], edit: (c) => { c.registry.url = `http://${DEAD}/apis/ccompat/v7`; }, line: /^tilgang: Schema registry at 127\.0\.0\.1:1 is not reachable \(ECONNREFUSED;/ },
    { server: 'PostgreSQL', args: ['guard', 'status', 'moodle'], edit: (c) => { c.mv.url = `postgres://postgres@${DEAD}/tilgang`; }, line: /^tilgang: PostgreSQL at 127\.0\.0\.1:1 is not reachable \(ECONNREFUSED;/ },
    { server: 'the directory', args: ['explain', 'nobody'], edit: (c) => { c.directory.url = `ldap://${DEAD}`; }, line: /^tilgang: LDAP directory at 127\.0\.0\.1:1 is not reachable \(ECONNREFUSED;/ },
  ];
  for (const c of cases) {
    it(`${c.server}: exit 1 within the connect time, one line on stderr, nothing on stdout`, async () => {
      const t0 = Date.now();
      const r = await tilgangCli(file(c.edit), c.args);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr.trimEnd()).toMatch(c.line);
      expect(r.stdout).toBe('');
      expect(r.code).toBe(1);
      expect(Date.now() - t0).toBeLessThan(20_000);
    }, 60_000);
  }

  it('by default the wait is bounded at about 30 s (runtime.connectTimeoutMs)', async () => {
    const t0 = Date.now();
    const r = await tilgangCli(cliConfig(base, (c) => { c.targets = {}; c.kafka.brokers = [DEAD]; }), ['sync', '--all', '--log-only']);
    const s = (Date.now() - t0) / 1000;
    expect(r.stderr.trimEnd()).toMatch(/^tilgang: Kafka at 127\.0\.0\.1:1 is not reachable \(ECONNREFUSED; gave up after 30 s, runtime\.connectTimeoutMs\)$/);
    expect(r.code).toBe(1);
    expect(s).toBeGreaterThan(25);
    expect(s).toBeLessThan(60);
  }, 90_000);

  it('a directory that refuses the password: invalidCredentials (49), by name', async () => {
    const r = await tilgangCli(file((c) => { c.directory.password = { env: 'TILGANG_WRONG_LDAP_PASSWORD' }; }), ['explain', 'nobody'], { TILGANG_WRONG_LDAP_PASSWORD: 'wrong' });
    expect(r.stderr).toMatch(/invalidCredentials \(49\)/);
    expect(r.stderr).not.toMatch(/Code: 0x/);
    expect(r.code).toBe(1);
  }, 60_000);

  it('LDAP errors carry the result code\'s name, not its hex number', () => {
    expect(describeLdapError(new InsufficientAccessError())).toBe('insufficientAccessRights (50): The caller does not have sufficient rights to perform the requested operation.');
    expect(describeLdapError(new InvalidCredentialsError('80090308: LdapErr: DSID-0C090439'))).toBe('invalidCredentials (49): 80090308: LdapErr: DSID-0C090439');
  });
});
