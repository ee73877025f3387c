import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { renderConfig, ADMIN_DN, PEOPLE_DN, SUFFIX, TILGANG_DN } from '../../src/stack/ldap.js';
import type { Config } from '../../src/config.js';
import { eventually } from '../support/env.js';

const freePort = () => new Promise<number>((resolve, reject) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as { port: number };
    s.close(() => resolve(port));
  }).on('error', reject);
});

/**
 * A slapd of the test's own, configured like the stack's but purging its change log after a few
 * seconds: a test can then see a real purge, which it must never cause on the shared directory.
 */
export async function privateDirectory(base: Config, purge: { ageSeconds: number; everySeconds: number }): Promise<{ cfg: Config; admin: Client; stop(): Promise<void> }> {
  const root = mkdtempSync(join(tmpdir(), 'tilgang-slapd-'));
  const paths = { RUN_DIR: root, DATA_DIR: join(root, 'data'), ACCESSLOG_DIR: join(root, 'accesslog') };
  mkdirSync(paths.DATA_DIR);
  mkdirSync(paths.ACCESSLOG_DIR);
  const adminPw = randomBytes(12).toString('hex');
  const tilgangPw = randomBytes(12).toString('hex');
  const two = (n: number) => String(n).padStart(2, '0');
  // slapd's time span: [ddd+]hh:mm[:ss].
  const span = (s: number) => `${Math.floor(s / 86_400)}+${two(Math.floor(s / 3600) % 24)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  const conf = renderConfig(adminPw, paths).replace(/^logpurge.*$/m, `logpurge\t${span(purge.ageSeconds)} ${span(purge.everySeconds)}`);
  writeFileSync(join(root, 'slapd.conf'), conf, { mode: 0o600 });
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const slapd: ChildProcess = spawn('/usr/sbin/slapd', ['-f', join(root, 'slapd.conf'), '-h', `${url}/`, '-d', '32768'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  slapd.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const admin = new Client({ url, timeout: 10_000 });
  await eventually(async () => {
    if (slapd.exitCode !== null) throw new Error(`slapd exited with ${slapd.exitCode}: ${output.trim().slice(-500)}`);
    await admin.bind(ADMIN_DN, adminPw);
    return true;
  }, 60_000, 'the private slapd to answer');
  await admin.add(SUFFIX, { objectClass: ['top', 'dcObject', 'organization'], dc: 'meta', o: 'meta' });
  await admin.add(PEOPLE_DN, { objectClass: ['top', 'organizationalUnit'], ou: 'Accounts' });
  await admin.add('ou=Services,dc=meta', { objectClass: ['top', 'organizationalUnit'], ou: 'Services' });
  await admin.add(TILGANG_DN, { objectClass: ['top', 'applicationProcess', 'simpleSecurityObject'], cn: 'tilgang', userPassword: tilgangPw });
  const secret = join(root, 'tilgang-password');
  writeFileSync(secret, tilgangPw, { mode: 0o600 });
  const cfg: Config = structuredClone(base);
  cfg.directory = { ...cfg.directory, url, peopleDn: PEOPLE_DN, bindDn: TILGANG_DN, password: { file: secret } };
  return {
    cfg, admin,
    async stop() {
      await admin.unbind().catch(() => {});
      slapd.kill('SIGTERM');
      await new Promise((r) => (slapd.exitCode !== null ? r(null) : slapd.once('exit', r)));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
