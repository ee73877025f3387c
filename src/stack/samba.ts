import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AlreadyExistsError, Attribute, Change, Client, type Entry } from 'ldapts';
import type { Service } from './service.js';
import { alive, dir, logFile, readPid, spawnDaemon, stateDir, stopDaemon, tail, waitStarted } from './process.js';
import { run } from './tools.js';
import { log } from '../lib/log.js';

/**
 * A Samba 4 Active Directory domain controller for the sample domain uni.example.no, from
 * Debian's packages: provisioned once into .tilgang/samba, then run as a local process serving
 * only LDAP (389) and LDAPS (636) on loopback. After start the stack makes sure the domain has
 * what a real site's has and tilgang needs: Exchange's extensionAttribute1 in the schema, the
 * org-unit skeleton of tilgang.example.yaml, and a service account of tilgang's own with full
 * control of the people subtree only.
 */
export const SAMBA_REALM = 'UNI.EXAMPLE.NO';
export const SAMBA_DOMAIN = 'uni.example.no';
export const SAMBA_BASE_DN = 'DC=uni,DC=example,DC=no';
export const SAMBA_LDAPS_PORT = 636;
export const SAMBA_LDAP_PORT = 389;
export const SAMBA_URL = `ldaps://127.0.0.1:${SAMBA_LDAPS_PORT}`;
/** Where tilgang's accounts live: employees and students under their own roots, disabled ones apart. */
export const SAMBA_PEOPLE_OU = `OU=People,${SAMBA_BASE_DN}`;
export const SAMBA_EMPLOYEES_OU = `OU=Employees,${SAMBA_PEOPLE_OU}`;
export const SAMBA_STUDENTS_OU = `OU=Students,${SAMBA_PEOPLE_OU}`;
export const SAMBA_DISABLED_OU = `OU=Disabled,${SAMBA_PEOPLE_OU}`;
export const SAMBA_SERVICES_OU = `OU=Service Accounts,${SAMBA_BASE_DN}`;
export const SAMBA_SERVICE_ACCOUNT = 'svc-tilgang';
export const SAMBA_SERVICE_UPN = `${SAMBA_SERVICE_ACCOUNT}@${SAMBA_DOMAIN}`;
export const SAMBA_SERVICE_DN = `CN=${SAMBA_SERVICE_ACCOUNT},${SAMBA_SERVICES_OU}`;
const ADMIN_UPN = `Administrator@${SAMBA_REALM}`;

const NAME = 'samba';
const SAMBA = '/usr/sbin/samba';
/** samba-ad-dc: the DC's modules; samba-ad-provision: the schema files provisioning reads (only recommended by samba). */
const PACKAGES = ['samba-ad-dc', 'samba-ad-provision'];

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const scriptDir = join(repoRoot, 'stack', 'samba');
/** The provisioned domain: etc/smb.conf, private/ (databases, TLS), state/, log/. */
export const sambaDir = (): string => join(stateDir(), 'samba');
const confFile = () => join(sambaDir(), 'etc', 'smb.conf');
/** Samba generates a self-signed CA and server certificate here on first start. */
export const sambaCaFile = (): string => join(sambaDir(), 'private', 'tls', 'ca.pem');
const secretFile = (name: 'samba-admin' | 'samba-tilgang') => {
  const d = dir('secrets');
  chmodSync(d, 0o700);
  return join(d, name);
};

/** A random password AD's default policy accepts (length ≥ 7, three character classes), written once (mode 600). */
function readOrCreatePassword(file: string): string {
  if (!existsSync(file)) {
    try {
      writeFileSync(file, `Tg7-${randomBytes(24).toString('base64url')}`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const v = readFileSync(file, 'utf8').trim();
  if (!v) throw new Error(`secret file ${file} is empty; delete it and run \`tilgang stack up samba\` again`);
  return v;
}

export const sambaSecrets = (): { admin: string; tilgang: string } => ({
  admin: readOrCreatePassword(secretFile('samba-admin')),
  tilgang: readOrCreatePassword(secretFile('samba-tilgang')),
});

/** An LDAPS client trusting the domain's own CA; Samba's certificate names the host, not 127.0.0.1. */
export function sambaClient(url = SAMBA_URL, timeoutMs = 10_000): Client {
  const ca = existsSync(sambaCaFile()) ? readFileSync(sambaCaFile()) : undefined;
  return new Client({
    url, timeout: timeoutMs, connectTimeout: 3000,
    tlsOptions: ca ? { ca, checkServerIdentity: () => undefined } : { rejectUnauthorized: false },
  });
}

async function withBind<T>(user: string, password: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = sambaClient();
  try {
    await c.bind(user, password);
    return await fn(c);
  } finally {
    await c.unbind().catch(() => {});
  }
}

/** Healthy = tilgang's service account binds over LDAPS and sees the people subtree. */
async function answers(): Promise<boolean> {
  if (!existsSync(secretFile('samba-tilgang'))) return false;
  try {
    return await withBind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang, async (c) => {
      const { searchEntries } = await c.search(SAMBA_PEOPLE_OU, { scope: 'base', filter: '(objectClass=organizationalUnit)', attributes: ['ou'] });
      return searchEntries.length === 1;
    });
  } catch {
    return false;
  }
}

async function packagesMissing(): Promise<string[]> {
  const r = await run('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...PACKAGES]);
  const ok = new Set(r.output.split('\n').filter((l) => l.endsWith(' install ok installed')).map((l) => l.split(' ')[0]));
  return PACKAGES.filter((p) => !ok.has(p));
}

async function aptInstall(missing: string[]): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(`the Samba domain controller needs the Debian packages ${missing.join(', ')} (as root: apt-get install --no-install-recommends ${PACKAGES.join(' ')})`);
  }
  const t0 = Date.now();
  // --no-install-recommends: no winbind/CUPS extras; installing starts no daemon on Debian without systemd.
  const install = () => run('env', ['DEBIAN_FRONTEND=noninteractive', 'apt-get', '-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-q', '--no-install-recommends', ...PACKAGES]);
  let r = await install();
  if (r.code !== 0) {
    // Usually stale or missing package lists on a fresh machine.
    await run('env', ['DEBIAN_FRONTEND=noninteractive', 'apt-get', '-o', 'DPkg::Lock::Timeout=600', 'update', '-q']);
    r = await install();
  }
  if (r.code !== 0) throw new Error(`apt-get install ${PACKAGES.join(' ')} failed:\n${tail(r.output, 15)}`);
  log.info({ service: NAME, ms: Date.now() - t0 }, 'installed Samba from Debian\'s packages');
}

async function provision(): Promise<void> {
  if (existsSync(confFile()) && existsSync(join(sambaDir(), 'private', 'sam.ldb'))) return ensureNoSync();
  const t0 = Date.now();
  sambaSecrets();
  const r = await run('sh', [join(scriptDir, 'provision.sh'), sambaDir(), secretFile('samba-admin')]);
  if (r.code !== 0) throw new Error(`provisioning the Samba domain failed:\n${tail(r.output, 20)}`);
  log.info({ service: NAME, ms: Date.now() - t0 }, 'provisioned the domain');
}

/**
 * A domain provisioned before provision.sh set `ldb:nosync` gets it too (read at the DC's start).
 * Without it every write waits on the disk: a modify took 8 ms instead of 2 on these machines.
 */
function ensureNoSync(): void {
  const conf = readFileSync(confFile(), 'utf8');
  if (/^\s*ldb:nosync\s*=/m.test(conf)) return;
  writeFileSync(confFile(), conf.replace(/^\[global\]$/m, '[global]\n\tldb:nosync = true'));
}

const one = (v: Entry[string] | undefined): string => {
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined ? '' : Buffer.isBuffer(x) ? x.toString('utf8') : String(x);
};
const replace = (type: string, values: (string | Buffer)[]) => new Change({ operation: 'replace', modification: new Attribute({ type, values: values as string[] }) });
const addValues = (type: string, values: string[]) => new Change({ operation: 'add', modification: new Attribute({ type, values }) });

async function addIfMissing(c: Client, dn: string, attrs: Record<string, string | string[]>): Promise<boolean> {
  try {
    await c.add(dn, attrs);
    return true;
  } catch (e) {
    if (e instanceof AlreadyExistsError) return false;
    throw e;
  }
}

const SCHEMA_DN = `CN=Schema,CN=Configuration,${SAMBA_BASE_DN}`;

/**
 * Exchange's extensionAttribute1 (what real sites have, what the seed writes): an attributeSchema
 * with Exchange's OID, then allowed on `user`. Each step refreshes the schema (schemaUpdateNow).
 */
async function ensureExtensionAttribute(c: Client): Promise<void> {
  const refresh = () => c.modify('', replace('schemaUpdateNow', ['1']));
  const { searchEntries: found } = await c.search(SCHEMA_DN, { scope: 'one', filter: '(lDAPDisplayName=extensionAttribute1)', attributes: ['cn'] });
  if (!found.length) {
    await c.add(`CN=ms-Exch-Extension-Attribute-1,${SCHEMA_DN}`, {
      objectClass: ['top', 'attributeSchema'],
      cn: 'ms-Exch-Extension-Attribute-1',
      lDAPDisplayName: 'extensionAttribute1',
      adminDisplayName: 'ms-Exch-Extension-Attribute-1',
      attributeID: '1.2.840.113556.1.2.423',
      attributeSyntax: '2.5.5.12',
      oMSyntax: '64',
      isSingleValued: 'TRUE',
      rangeLower: '1',
      rangeUpper: '1024',
      searchFlags: '1',
    });
    await refresh();
  }
  const { searchEntries: [user] } = await c.search(`CN=User,${SCHEMA_DN}`, { scope: 'base', attributes: ['mayContain'] });
  const may = (Array.isArray(user?.mayContain) ? user.mayContain : [user?.mayContain]).map(String);
  if (!may.some((m) => m.toLowerCase() === 'extensionattribute1')) {
    await c.modify(`CN=User,${SCHEMA_DN}`, addValues('mayContain', ['extensionAttribute1']));
    await refresh();
  }
}

/**
 * The AD target's anchor (employeeNumber, as tilgang.example.yaml names it) indexed, as a site
 * that matches accounts by it indexes it: AD's schema leaves it unindexed, and every lookup by it
 * would scan the whole domain (searchFlags bit 0 = fATTINDEX; Samba rebuilds its index list).
 */
async function ensureAnchorIndexed(c: Client): Promise<void> {
  const dn = `CN=Employee-Number,${SCHEMA_DN}`;
  const { searchEntries: [attr] } = await c.search(dn, { scope: 'base', attributes: ['searchFlags'] });
  const flags = Number(one(attr?.searchFlags) || 0);
  if (flags & 1) return;
  await c.modify(dn, replace('searchFlags', [String(flags | 1)]));
  await c.modify('', replace('schemaUpdateNow', ['1']));
}

/** objectSid's binary form → S-1-5-21-…: revision, sub-authority count, 48-bit authority, little-endian sub-authorities. */
export function sidToString(b: Buffer): string {
  const subs = Array.from({ length: b[1]! }, (_, i) => b.readUInt32LE(8 + 4 * i));
  return `S-${b[0]}-${b.readUIntBE(2, 6)}-${subs.join('-')}`;
}

/** The org units tilgang.example.yaml names, and tilgang's own account (password from its secret file). */
async function ensureSkeletonAndAccount(c: Client, tilgangPassword: string): Promise<string> {
  for (const [dn, ou] of [[SAMBA_PEOPLE_OU, 'People'], [SAMBA_EMPLOYEES_OU, 'Employees'], [SAMBA_STUDENTS_OU, 'Students'],
    [SAMBA_DISABLED_OU, 'Disabled'], [SAMBA_SERVICES_OU, 'Service Accounts']] as const) {
    await addIfMissing(c, dn, { objectClass: ['top', 'organizationalUnit'], ou });
  }
  const created = await addIfMissing(c, SAMBA_SERVICE_DN, {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    cn: SAMBA_SERVICE_ACCOUNT,
    sAMAccountName: SAMBA_SERVICE_ACCOUNT,
    userPrincipalName: SAMBA_SERVICE_UPN,
    description: 'tilgang service account: creates and maintains the accounts under OU=People',
  });
  // The secret file wins: set it on every start (cheap), so a replaced file takes effect.
  await c.modify(SAMBA_SERVICE_DN, replace('unicodePwd', [Buffer.from(`"${tilgangPassword}"`, 'utf16le')]));
  if (created) await c.modify(SAMBA_SERVICE_DN, replace('userAccountControl', ['66048'])); // normal account, password never expires
  const { searchEntries: [svc] } = await c.search(SAMBA_SERVICE_DN, { scope: 'base', attributes: ['objectSid'], explicitBufferAttributes: ['objectSid'] });
  return sidToString(svc!.objectSid as Buffer);
}

/** How samba-tool reaches the domain's database: on this machine, or inside the Docker service. */
export type SambaToolHost = 'native' | 'containers';
const CONTAINER_DIR = '/var/lib/tilgang/samba';

function sambaTool(host: SambaToolHost, args: string[]): Promise<{ code: number; output: string }> {
  const d = host === 'native' ? sambaDir() : CONTAINER_DIR;
  const local = ['-s', join(d, 'etc', 'smb.conf'), '-H', join(d, 'private', 'sam.ldb')];
  if (host === 'native') return run('samba-tool', [...args, ...local]);
  return run('docker', ['compose', '-f', join(repoRoot, 'docker-compose.yml'), 'exec', '-T', NAME, 'samba-tool', ...args, ...local]);
}

/**
 * Full control of OU=People and everything under it (inherited) for the service account, and
 * nothing elsewhere. Set with samba-tool on the domain's database: Samba takes a security
 * descriptor over LDAP only in its binary form.
 */
async function ensureDelegation(sid: string, host: SambaToolHost): Promise<void> {
  const got = await sambaTool(host, ['dsacl', 'get', `--objectdn=${SAMBA_PEOPLE_OU}`]);
  if (got.code !== 0) throw new Error(`samba-tool dsacl get failed:\n${tail(got.output, 10)}`);
  if (got.output.includes(`(A;CIIO;GA;;;${sid})`)) return;
  const set = await sambaTool(host, ['dsacl', 'set', `--objectdn=${SAMBA_PEOPLE_OU}`, '--action=allow', `--sddl=(A;CI;GA;;;${sid})`]);
  if (set.code !== 0) throw new Error(`samba-tool dsacl set failed:\n${tail(set.output, 10)}`);
}

/** Everything after the DC answers; each step idempotent, so it runs on every start. */
export async function ensureDomain(host: SambaToolHost = 'native'): Promise<void> {
  const secrets = sambaSecrets();
  const sid = await withBind(ADMIN_UPN, secrets.admin, async (c) => {
    await ensureExtensionAttribute(c);
    await ensureAnchorIndexed(c);
    return ensureSkeletonAndAccount(c, secrets.tilgang);
  });
  await ensureDelegation(sid, host);
}

/** The Administrator binds over LDAPS and the rootDSE names the sample domain. */
export async function adminAnswers(): Promise<boolean> {
  try {
    return await withBind(ADMIN_UPN, sambaSecrets().admin, async (c) => {
      const { searchEntries } = await c.search('', { scope: 'base', attributes: ['defaultNamingContext'] });
      return one(searchEntries[0]?.defaultNamingContext).toUpperCase() === SAMBA_BASE_DN.toUpperCase();
    });
  } catch {
    return false;
  }
}

export const sambaService: Service = {
  name: NAME,
  ports: [SAMBA_LDAP_PORT, SAMBA_LDAPS_PORT],

  async install() {
    const missing = await packagesMissing();
    if (missing.length || !existsSync(SAMBA)) await aptInstall(missing.length ? missing : PACKAGES);
    await provision();
  },

  async start() {
    const running = readPid(NAME);
    const t0 = Date.now();
    const pid = alive(running)
      ? running!
      // -F: foreground, so the recorded pid is samba's; its prefork workers share its process group.
      : spawnDaemon(NAME, SAMBA, ['-F', '--no-process-group', '--debug-stdout', '-s', confFile()]);
    await waitStarted(NAME, 'the Samba domain controller', pid, adminAnswers, 60_000, 'did not accept an LDAPS bind');
    log.info({ service: NAME, ms: Date.now() - t0 }, 'domain controller answers');
    await ensureDomain();
    if (!(await answers())) throw new Error(`Samba is up but ${SAMBA_SERVICE_UPN} cannot bind and read ${SAMBA_PEOPLE_OU} (see ${logFile(NAME)})`);
  },

  healthy: answers,

  async stop() {
    await stopDaemon(NAME);
  },

  async reset() {
    await stopDaemon(NAME);
    rmSync(sambaDir(), { recursive: true, force: true });
  },

  pid() {
    const pid = readPid(NAME);
    return alive(pid) ? pid : undefined;
  },
};
