import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AlreadyExistsError, Attribute, Change, Client, InvalidCredentialsError } from 'ldapts';
import type { Service } from './service.js';
import { alive, dir, logFile, portOpen, readPid, sleep, spawnDaemon, stopDaemon, tail } from './process.js';
import { log } from '../lib/log.js';

const run = promisify(execFile);

/** The portal directory of the local stack, as tilgang.example.yaml describes it. */
export const LDAP_PORT = 3389;
export const LDAP_URL = `ldap://127.0.0.1:${LDAP_PORT}`;
export const SUFFIX = 'dc=meta';
export const PEOPLE_DN = 'ou=Accounts,dc=meta';
/** Beside the people base: where tests and benchmarks keep their people, unseen by a demo watching PEOPLE_DN. */
export const TESTS_DN = 'ou=Tests,dc=meta';
export const ADMIN_DN = 'cn=admin,dc=meta';
export const TILGANG_DN = 'cn=tilgang,ou=Services,dc=meta';

const NAME = 'ldap';
const SLAPD = '/usr/sbin/slapd';
const MODULE_DIR = '/usr/lib/ldap';
const SYSTEM_SCHEMA = '/etc/ldap/schema';
/** The port Debian's own slapd would take; Samba's DC needs it later. */
const SYSTEM_LDAP_PORT = 389;

/** stack/ldap/ in the repository, found from this file so it does not depend on the working directory. */
const templateDir = fileURLToPath(new URL('../../stack/ldap/', import.meta.url));

const secretsDir = () => {
  const d = dir('secrets');
  chmodSync(d, 0o700);
  return d;
};
const ldapDir = () => dir('ldap');
const dataDir = () => join(ldapDir(), 'data');
const accesslogDir = () => join(ldapDir(), 'accesslog');
const confFile = () => join(ldapDir(), 'slapd.conf');

function readOrCreateSecret(file: string): string {
  if (!existsSync(file)) {
    const fresh = randomBytes(24).toString('base64url');
    try {
      // 'wx': if another process wrote it first, keep theirs.
      writeFileSync(file, fresh, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const value = readFileSync(file, 'utf8').trim();
  if (!value) throw new Error(`secret file ${file} is empty; delete it and run \`tilgang stack up\` again`);
  return value;
}

/**
 * The directory's passwords: random, written once to .tilgang/secrets/ldap-admin and ldap-tilgang
 * (mode 600) and read back from there afterwards.
 */
export async function ensureSecrets(): Promise<{ admin: string; tilgang: string }> {
  const d = secretsDir();
  return {
    admin: readOrCreateSecret(join(d, 'ldap-admin')),
    tilgang: readOrCreateSecret(join(d, 'ldap-tilgang')),
  };
}

/** `{SSHA}` as slappasswd makes it: base64(sha1(password + salt) + salt). */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password, 'utf8').update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** slapd.conf from the template; `paths` lets a container use its own folders. */
export function renderConfig(adminPassword: string, paths: Partial<Record<'SYSTEM_SCHEMA' | 'IDAUTO_SCHEMA' | 'MODULE_DIR' | 'RUN_DIR' | 'ACCESSLOG_DIR' | 'DATA_DIR', string>> = {}): string {
  const values: Record<string, string> = {
    SYSTEM_SCHEMA,
    IDAUTO_SCHEMA: join(templateDir, 'idauto.schema'),
    MODULE_DIR,
    RUN_DIR: ldapDir(),
    ACCESSLOG_DIR: accesslogDir(),
    DATA_DIR: dataDir(),
    SUFFIX,
    PEOPLE_DN,
    TESTS_DN,
    ADMIN_DN,
    TILGANG_DN,
    ADMIN_PW_HASH: ssha(adminPassword),
    ...paths,
  };
  const template = readFileSync(join(templateDir, 'slapd.conf.in'), 'utf8');
  return template.replace(/@([A-Z_]+)@/g, (m, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`slapd.conf.in: unknown placeholder ${m}`);
    return v;
  });
}

async function withClient<T>(dn: string, password: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ url: LDAP_URL, timeout: 5000, connectTimeout: 2000 });
  try {
    await c.bind(dn, password);
    return await fn(c);
  } finally {
    await c.unbind().catch(() => {});
  }
}

/** Healthy = tilgang's account binds and can read the people container (a real LDAP exchange). */
async function answers(): Promise<boolean> {
  const secret = join(dir('secrets'), 'ldap-tilgang');
  if (!existsSync(secret)) return false;
  try {
    const tilgang = readFileSync(secret, 'utf8').trim();
    return await withClient(TILGANG_DN, tilgang, async (c) => {
      await c.search(PEOPLE_DN, { scope: 'base', filter: '(objectClass=*)', attributes: ['ou'] });
      return true;
    });
  } catch {
    return false;
  }
}

/** The skeleton of the tree: the suffix, the people and services containers, tilgang's own account. */
export function baseEntries(tilgangPassword: string): { dn: string; attrs: Record<string, string | string[]> }[] {
  return [
    { dn: SUFFIX, attrs: { objectClass: ['top', 'dcObject', 'organization'], dc: 'meta', o: 'meta' } },
    { dn: PEOPLE_DN, attrs: { objectClass: ['top', 'organizationalUnit'], ou: 'Accounts' } },
    { dn: TESTS_DN, attrs: { objectClass: ['top', 'organizationalUnit'], ou: 'Tests' } },
    { dn: 'ou=Services,dc=meta', attrs: { objectClass: ['top', 'organizationalUnit'], ou: 'Services' } },
    { dn: 'ou=Groups,dc=meta', attrs: { objectClass: ['top', 'organizationalUnit'], ou: 'Groups' } },
    {
      dn: TILGANG_DN,
      attrs: {
        objectClass: ['top', 'applicationProcess', 'simpleSecurityObject'],
        cn: 'tilgang',
        description: 'tilgang service account: reads people and the change log, writes the provisioning status',
        userPassword: ssha(tilgangPassword),
      },
    },
  ];
}

/** Adds whatever base entry is missing; keeps tilgang's password in step with its secret file. */
export async function ensureBaseEntries(secrets: { admin: string; tilgang: string }): Promise<void> {
  await withClient(ADMIN_DN, secrets.admin, async (c) => {
    for (const { dn, attrs } of baseEntries(secrets.tilgang)) {
      try {
        await c.add(dn, attrs);
      } catch (e) {
        if (!(e instanceof AlreadyExistsError)) throw e;
      }
    }
  });
  try {
    await withClient(TILGANG_DN, secrets.tilgang, async () => undefined);
  } catch (e) {
    if (!(e instanceof InvalidCredentialsError)) throw e;
    // The secret file was replaced while the data stayed: the file wins.
    await withClient(ADMIN_DN, secrets.admin, (c) =>
      c.modify(TILGANG_DN, new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'userPassword', values: [ssha(secrets.tilgang)] }),
      })));
  }
}

function logTail(lines = 20): string {
  try {
    return tail(readFileSync(logFile(NAME), 'utf8'), lines);
  } catch {
    return '';
  }
}

/** Debian's slapd started by the package (when debconf configured one) would hold port 389. */
async function stopSystemSlapd(): Promise<void> {
  const pidFile = '/var/run/slapd/slapd.pid';
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!alive(pid)) return;
  log.warn({ pid }, 'the slapd package started a system slapd; stopping it so port 389 stays free');
  await run('/etc/init.d/slapd', ['stop']).catch(() => { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } });
  for (let i = 0; i < 40 && alive(pid); i++) await sleep(250);
  await run('update-rc.d', ['slapd', 'disable']).catch(() => {});
}

async function aptInstall(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(`${SLAPD} is missing: install the Debian packages slapd and ldap-utils (as root: apt-get install slapd ldap-utils)`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // No system directory: slapd/no_configuration makes the package create neither config nor database,
  // so it has nothing to start and never asks for an admin password.
  const preseed = [
    'slapd slapd/no_configuration boolean true',
    'slapd shared/organization string meta',
    'slapd slapd/domain string meta',
  ].join('\n');
  await new Promise<void>((resolve, reject) => {
    const p = execFile('debconf-set-selections', { env }, (e) => (e ? reject(e) : resolve()));
    p.stdin?.end(`${preseed}\n`);
  });
  // Another service may be running apt at the same time: wait for its lock rather than fail.
  const install = () => run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-q', 'slapd', 'ldap-utils'],
    { env, maxBuffer: 64 * 1024 * 1024 });
  try {
    await install();
  } catch {
    // Usually stale or missing package lists on a fresh machine.
    await run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'update', '-q'], { env, maxBuffer: 64 * 1024 * 1024 });
    await install();
  }
  await stopSystemSlapd();
  if (await portOpen(SYSTEM_LDAP_PORT)) {
    log.warn(`port ${SYSTEM_LDAP_PORT} is in use after installing slapd; Samba's domain controller will need it`);
  }
}

/**
 * OpenLDAP slapd as the portal directory: its own config and data under .tilgang/ldap, listening on
 * 127.0.0.1:3389 only, run as a foreground child (`-d`) so the recorded pid is slapd's.
 */
export const ldapService: Service = {
  name: NAME,
  ports: [LDAP_PORT],

  async install() {
    if (!existsSync(SLAPD)) await aptInstall();
  },

  async start() {
    const running = readPid(NAME);
    if (alive(running)) {
      if (await answers()) return;
    } else if (await portOpen(LDAP_PORT)) {
      throw new Error(`port ${LDAP_PORT} is already taken by another program; the portal directory (slapd) needs it`);
    }
    const secrets = await ensureSecrets();
    mkdirSync(dataDir(), { recursive: true });
    mkdirSync(accesslogDir(), { recursive: true });
    writeFileSync(confFile(), renderConfig(secrets.admin), { mode: 0o600 });

    const pid = alive(running)
      ? running!
      // -d keeps slapd in the foreground (the pid is slapd's). Level 32768 ("none") prints only the
      // messages logged at any level (config errors, start, stop): `-d 0` and `-d none` print nothing.
      : spawnDaemon(NAME, SLAPD, ['-f', confFile(), '-h', `${LDAP_URL}/`, '-d', '32768']);

    // Up as soon as the admin can bind (tilgang's account may not exist yet on a fresh tree).
    const until = Date.now() + 30_000;
    for (;;) {
      if (!alive(pid)) throw new Error(`slapd exited while starting (see ${logFile(NAME)}):\n${logTail()}`);
      try {
        await withClient(ADMIN_DN, secrets.admin, async () => undefined);
        break;
      } catch (e) {
        if (e instanceof InvalidCredentialsError) {
          throw new Error(`slapd on port ${LDAP_PORT} refuses the admin password in ${join(dir('secrets'), 'ldap-admin')}`);
        }
        if (Date.now() > until) throw new Error(`slapd did not answer on port ${LDAP_PORT} within 30 s (see ${logFile(NAME)})`);
        await sleep(100);
      }
    }
    await ensureBaseEntries(secrets);
    if (!(await answers())) throw new Error(`slapd is up but tilgang cannot bind as ${TILGANG_DN} and read ${PEOPLE_DN}`);
  },

  healthy: answers,

  async stop() {
    await stopDaemon(NAME);
  },

  async reset() {
    await stopDaemon(NAME);
    rmSync(dataDir(), { recursive: true, force: true });
    rmSync(accesslogDir(), { recursive: true, force: true });
  },

  pid() {
    const pid = readPid(NAME);
    return alive(pid) ? pid : undefined;
  },
};

