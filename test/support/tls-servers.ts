import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';

/**
 * Servers of a test's own, with TLS, beside the shared stack (which runs without TLS and is
 * never restarted): a certificate authority and a server certificate made with openssl, a slapd
 * listening on ldap:// (StartTLS) and ldaps://, a PostgreSQL with ssl on, a Kafka broker with a
 * SCRAM listener. Each in a temporary folder, on free ports, stopped by the test.
 */

const run = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Certificates {
  dir: string;
  /** The authority that signed the server's certificate. */
  caFile: string;
  /** Another authority, which signed nothing the servers present. */
  otherCaFile: string;
  certFile: string;
  keyFile: string;
}

/** A CA and a server certificate for localhost and 127.0.0.1, valid for two days. */
export async function makeCertificates(dir = mkdtempSync(join(tmpdir(), 'tilgang-tls-'))): Promise<Certificates> {
  const f = (n: string) => join(dir, n);
  const ca = async (name: string) => {
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`),
      '-days', '2', '-subj', `/CN=tilgang test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  };
  await ca('ca');
  await ca('other-ca');
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  await run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.pem'), '-days', '2', '-extfile', f('server.ext')]);
  return { dir, caFile: f('ca.pem'), otherCaFile: f('other-ca.pem'), certFile: f('server.pem'), keyFile: f('server.key') };
}

async function waitUntil(what: string, child: ChildProcess, log: () => string, ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${what} exited while starting (${child.exitCode}):\n${log()}`);
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${log()}`);
}

function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill('SIGTERM');
  });
}

export interface TlsSlapd {
  /** ldap://127.0.0.1:P, for StartTLS. */
  ldapUrl: string;
  /** ldaps://127.0.0.1:P. */
  ldapsUrl: string;
  certs: Certificates;
  stop(): Promise<void>;
}

/**
 * A slapd of the test's own, configured from the stack's template (schema, ACLs, accesslog) plus
 * TLS, requiring TLS for a simple bind (`security simple_bind=128`): a password never travels in clear.
 * `setup` gets an admin client (over ldaps) to add the tree the test needs.
 */
export async function startTlsSlapd(renderConfig: (adminPassword: string, paths: Record<string, string>) => string, adminPassword: string,
  setup: (admin: Client) => Promise<void>): Promise<TlsSlapd> {
  const certs = await makeCertificates();
  const dir = join(certs.dir, 'slapd');
  for (const d of ['data', 'accesslog']) mkdirSync(join(dir, d), { recursive: true });
  const tlsConf = [
    `TLSCACertificateFile ${certs.caFile}`,
    `TLSCertificateFile ${certs.certFile}`,
    `TLSCertificateKeyFile ${certs.keyFile}`,
    // A simple bind without TLS is refused (confidentialityRequired).
    'security simple_bind=128',
  ].join('\n');
  const conf = renderConfig(adminPassword, { RUN_DIR: dir, DATA_DIR: join(dir, 'data'), ACCESSLOG_DIR: join(dir, 'accesslog') })
    // Global directives: before the first database.
    .replace(/^loglevel.*$/m, (l) => `${l}\n${tlsConf}`);
  writeFileSync(join(dir, 'slapd.conf'), conf, { mode: 0o600 });
  const [ldapPort, ldapsPort] = [await freePort(), await freePort()];
  const ldapUrl = `ldap://127.0.0.1:${ldapPort}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  let out = '';
  const child = spawn('/usr/sbin/slapd', ['-f', join(dir, 'slapd.conf'), '-h', `${ldapUrl}/ ${ldapsUrl}/`, '-d', '32768'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  const admin = () => new Client({ url: ldapsUrl, tlsOptions: { ca: readFileSync(certs.caFile) }, timeout: 5_000, connectTimeout: 2_000 });
  try {
    await waitUntil('slapd', child, () => out, async () => {
      const c = admin();
      try { await c.bind('cn=admin,dc=meta', adminPassword); return true; } finally { await c.unbind().catch(() => {}); }
    });
    const c = admin();
    try {
      await c.bind('cn=admin,dc=meta', adminPassword);
      await setup(c);
    } finally {
      await c.unbind().catch(() => {});
    }
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return {
    ldapUrl, ldapsUrl, certs,
    async stop() {
      await stopChild(child);
      rmSync(certs.dir, { recursive: true, force: true });
    },
  };
}

export interface TlsPostgres {
  /** postgres://postgres@127.0.0.1:P/postgres */
  url: string;
  certs: Certificates;
  stop(): Promise<void>;
}

const PG_BIN = () => {
  for (const v of ['17', '16', '15', '14', '13']) {
    try {
      readFileSync(`/usr/lib/postgresql/${v}/bin/postgres`);
      return `/usr/lib/postgresql/${v}/bin`;
    } catch { /* next */ }
  }
  return ''; // on PATH
};

/**
 * A PostgreSQL server of the test's own (initdb into a temporary folder, its own port) with
 * `ssl = on` and a pg_hba that accepts TLS connections only. PostgreSQL refuses to run as root:
 * as root, its programs run as the `postgres` user.
 */
export async function startTlsPostgres(): Promise<TlsPostgres> {
  const certs = await makeCertificates();
  const bin = PG_BIN();
  const exe = (n: string) => (bin ? join(bin, n) : n);
  const asRoot = process.getuid?.() === 0;
  const data = join(certs.dir, 'pgdata');
  const owner = asRoot ? await run('id', ['-u', 'postgres']).then((r) => ({ uid: Number(r.stdout), gid: Number(readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'))!.split(':')[3]) })) : undefined;
  if (owner) {
    chownSync(certs.dir, owner.uid, owner.gid);
    for (const f of [certs.certFile, certs.keyFile]) chownSync(f, owner.uid, owner.gid);
  }
  chmodSync(certs.keyFile, 0o600);
  chmodSync(certs.dir, 0o755);
  const as = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  await run(...as(exe('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']));
  const port = await freePort();
  writeFileSync(join(data, 'postgresql.conf'), [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${data}'`,
    'ssl = on',
    `ssl_cert_file = '${certs.certFile}'`,
    `ssl_key_file = '${certs.keyFile}'`,
    'shared_buffers = 16MB',
    'max_connections = 20',
    'fsync = off',
    '',
  ].join('\n'), { flag: 'a' });
  // TLS only: a plain connection finds no pg_hba line and is refused.
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n');
  if (owner) for (const f of ['postgresql.conf', 'pg_hba.conf']) chownSync(join(data, f), owner.uid, owner.gid);
  let out = '';
  const [cmd, args] = as(exe('postgres'), ['-D', data]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  try {
    await waitUntil('PostgreSQL', child, () => out, async () => /ready to accept connections/.test(out));
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`, certs,
    async stop() {
      // SIGINT to the postmaster itself (not to runuser): PostgreSQL's fast shutdown.
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const gone = new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => { clearTimeout(kill); resolve(); });
      });
      try { process.kill(pid, 'SIGINT'); } catch { /* gone already */ }
      await gone;
      rmSync(certs.dir, { recursive: true, force: true });
    },
  };
}

export interface ScramKafka {
  /** 127.0.0.1:P, a SASL_SSL listener taking SCRAM-SHA-512 and SCRAM-SHA-256. */
  broker: string;
  certs: Certificates;
  /** Users made at format time: one per mechanism. */
  users: { 'scram-sha-512': { username: string; password: string }; 'scram-sha-256': { username: string; password: string } };
  stop(): Promise<void>;
}

/**
 * A Kafka broker of the test's own, from the jars the local stack installed (src/stack/kafka.ts),
 * in a temporary folder on free ports: one KRaft node whose only client listener is SASL_SSL with
 * SCRAM (the broker's certificate from the test authority, in PEM). The SCRAM users are written
 * into the storage when it is formatted (`--add-scram`), as a new cluster's first users are.
 */
export async function startScramKafka(libDir: string): Promise<ScramKafka> {
  const certs = await makeCertificates();
  const dir = join(certs.dir, 'kafka');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const pw = () => randomBytes(12).toString('base64url');
  const brokerUser = { username: 'broker', password: pw() };
  const users = {
    'scram-sha-512': { username: 'tilgang', password: pw() },
    'scram-sha-256': { username: 'tilgang256', password: pw() },
  };
  // The broker's key and certificate in one PEM file: Kafka's PEM keystore.
  const keystore = join(dir, 'keystore.pem');
  writeFileSync(keystore, readFileSync(certs.keyFile, 'utf8') + readFileSync(certs.certFile, 'utf8'));
  const [port, controller] = [await freePort(), await freePort()];
  const props = join(dir, 'server.properties');
  writeFileSync(props, `process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:${controller}
listeners=SASL_SSL://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}
advertised.listeners=SASL_SSL://127.0.0.1:${port}
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${brokerUser.username}" password="${brokerUser.password}";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=${keystore}
ssl.truststore.type=PEM
ssl.truststore.location=${certs.caFile}
log.dirs=${join(dir, 'data')}
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
`);
  const log4j = join(dir, 'log4j2.properties');
  writeFileSync(log4j, 'status = warn\nappender.out.type = Console\nappender.out.name = OUT\nappender.out.layout.type = PatternLayout\nappender.out.layout.pattern = [%d] %p %m (%c)%n\nrootLogger.level = WARN\nrootLogger.appenderRef.out.ref = OUT\n');
  const jvm = ['-Xmx384m', '-XX:+UseSerialGC', `-Dlog4j2.configurationFile=${log4j}`, '-cp', `${libDir}/*`];
  const clusterId = randomBytes(16).toString('base64url').replace(/^-/, 'A');
  const scram = (mech: string, u: { username: string; password: string }) => ['--add-scram', `${mech}=[name=${u.username},password=${u.password}]`];
  await run('java', [...jvm, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', clusterId, '-c', props,
    ...scram('SCRAM-SHA-512', brokerUser), ...scram('SCRAM-SHA-512', users['scram-sha-512']), ...scram('SCRAM-SHA-256', users['scram-sha-256'])]);
  let out = '';
  const child = spawn('java', [...jvm, 'kafka.Kafka', props], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  try {
    // The broker listens once it has started; clients then wait for its metadata themselves.
    await waitUntil('Kafka', child, () => out, async () => {
      const { createConnection } = await import('node:net');
      return new Promise<boolean>((resolve) => {
        const s = createConnection({ port, host: '127.0.0.1' });
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
      });
    }, 120_000);
  } catch (e) {
    await stopChild(child, 20_000);
    throw e;
  }
  return {
    broker: `127.0.0.1:${port}`, certs, users,
    async stop() {
      await stopChild(child, 20_000);
      rmSync(certs.dir, { recursive: true, force: true });
    },
  };
}
