import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { child } from '../lib/log.js';
import { dir, isOurs, logFile, ourPid, portOpen, readPid, readText, spawnDaemon, stopIfOurs, tail, waitStarted } from './process.js';
import type { Service } from './service.js';
import { requireTool } from './tools.js';

/**
 * A Confluent-compatible schema registry: Apicurio Registry 2.4.2.Final, built from Maven Central by
 * the wrapper project in `stack/registry/` (Confluent's registry is not on Maven Central and there is
 * no Docker), storing its schemas in the local PostgreSQL. Clients use its Confluent API at
 * http://127.0.0.1:18081/apis/ccompat/v7.
 */

const NAME = 'registry';
const HOST = '127.0.0.1';
export const REGISTRY_PORT = 18081;
export const REGISTRY_DATABASE = 'tilgang_registry';
export const registryUrl = `http://${HOST}:${REGISTRY_PORT}/apis/ccompat/v7`;

const log = child({ service: NAME });
const project = fileURLToPath(new URL('../../stack/registry/', import.meta.url));
/** What the build is made from: a change to any of them means a new build. */
const buildInputs = ['pom.xml', 'settings.xml', 'src/main/resources/application.properties'];
const home = () => dir(NAME);
const buildDir = () => join(home(), 'build');
const runJar = () => join(buildDir(), 'quarkus-app', 'quarkus-run.jar');
const hashFile = () => join(home(), 'build.sha256');
/** In the command line of our registry, not of some process that got a stale pid. */
const MARKER = 'quarkus-run.jar';

/** The local PostgreSQL; the usual PG* variables override it. Trust auth needs no password. */
const pgServer = () => ({
  host: process.env.PGHOST ?? HOST,
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  password: process.env.PGPASSWORD,
});

export const registryService: Service = {
  name: NAME,
  ports: [REGISTRY_PORT],

  async install() {
    const stamp = inputsHash();
    if (installed(stamp)) return;
    await requireTool('schema registry', 'java', ['-version'], 'a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)');
    await requireTool('schema registry', 'mvn', ['-v'], 'Apache Maven (e.g. apt-get install maven)');
    // New jars must not be swapped in under a running registry.
    if (ours(readPid(NAME))) await this.stop();
    const out = logFile(`${NAME}-build`);
    log.info({ log: out }, 'building Apicurio Registry with Maven (the first time takes minutes)');
    rmSync(hashFile(), { force: true });
    rmSync(join(buildDir(), 'quarkus-app'), { recursive: true, force: true });
    const code = await runToFile('mvn', ['-B', '-s', join(project, 'settings.xml'), '-f', join(project, 'pom.xml'),
      'package', `-Dtilgang.build.dir=${buildDir()}`], out);
    if (code !== 0 || !existsSync(runJar())) {
      throw new Error(`schema registry: the Maven build failed (exit ${code}); see ${out}:\n${tail(readText(out), 30)}`);
    }
    writeFileSync(hashFile(), stamp);
    log.info('Apicurio Registry built');
  },

  async start() {
    const running = readPid(NAME);
    if (ours(running)) {
      await waitHealthy(running, 90_000);
      return;
    }
    if (await portOpen(REGISTRY_PORT, HOST)) {
      throw new Error(`schema registry: port ${REGISTRY_PORT} on ${HOST} is already in use by another process (not the registry this stack started); stop it or free the port`);
    }
    if (!existsSync(runJar())) throw new Error('schema registry is not installed: run install first (`tilgang stack up` does)');
    await ensureDatabase();

    const db = pgServer();
    const env: NodeJS.ProcessEnv = {
      HTTP_PORT: String(REGISTRY_PORT),
      QUARKUS_HTTP_HOST: HOST,
      REGISTRY_DATASOURCE_URL: `jdbc:postgresql://${db.host}:${db.port}/${REGISTRY_DATABASE}`,
      REGISTRY_DATASOURCE_USERNAME: db.user,
      // Apicurio's production profile opens 20 connections at start and grows to 100, PostgreSQL's
      // whole default limit: a registry that serves a few schemas needs a handful.
      _PROD_QUARKUS_DATASOURCE_JDBC_INITIAL_SIZE: '2',
      _PROD_QUARKUS_DATASOURCE_JDBC_MIN_SIZE: '2',
      _PROD_QUARKUS_DATASOURCE_JDBC_MAX_SIZE: '10',
    };
    // Unset, Apicurio sends its own default, which trust auth ignores.
    if (db.password) env.REGISTRY_DATASOURCE_PASSWORD = db.password;
    const pid = spawnDaemon(NAME, 'java', ['-Xmx512m', '-jar', runJar()], { env, cwd: home() });
    log.info({ pid }, 'schema registry starting');
    try {
      await waitHealthy(pid, 90_000);
    } catch (e) {
      await this.stop();
      throw e;
    }
  },

  healthy,

  async stop() {
    await stopIfOurs(NAME, MARKER);
  },

  async reset() {
    await this.stop();
    await withAdmin(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${REGISTRY_DATABASE} WITH (FORCE)`);
    });
  },

  pid() {
    return ourPid(NAME, MARKER);
  },
};

/** Ready (its database reachable) and answering the Confluent API with JSON. */
async function healthy(): Promise<boolean> {
  try {
    const ready = await fetch(`http://${HOST}:${REGISTRY_PORT}/health/ready`, { signal: AbortSignal.timeout(3_000) });
    await ready.body?.cancel();
    if (ready.status !== 200) return false;
    const subjects = await fetch(`${registryUrl}/subjects`, { signal: AbortSignal.timeout(3_000) });
    return subjects.status === 200 && Array.isArray(await subjects.json());
  } catch {
    return false;
  }
}

async function ensureDatabase(): Promise<void> {
  await withAdmin(async (c) => {
    const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [REGISTRY_DATABASE]);
    if (found.rowCount) return;
    try {
      await c.query(`CREATE DATABASE ${REGISTRY_DATABASE}`);
      log.info({ database: REGISTRY_DATABASE }, 'created the registry database');
    } catch (e) {
      // Another `stack up` created it between the check and here.
      if ((e as { code?: string }).code !== '42P04') throw e;
    }
  });
}

async function withAdmin(work: (c: pg.Client) => Promise<void>): Promise<void> {
  const db = pgServer();
  const c = new pg.Client({ ...db, database: 'postgres', connectionTimeoutMillis: 5_000 });
  try {
    await c.connect();
  } catch (e) {
    throw new Error(`schema registry needs PostgreSQL at ${db.host}:${db.port} (user ${db.user}): ${(e as Error).message}`);
  }
  try {
    await work(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

function inputsHash(): string {
  const h = createHash('sha256');
  for (const f of buildInputs) h.update(f).update('\0').update(readFileSync(join(project, f))).update('\0');
  return h.digest('hex');
}

function installed(stamp: string): boolean {
  return existsSync(runJar()) && existsSync(hashFile()) && readFileSync(hashFile(), 'utf8').trim() === stamp;
}

const ours = (pid: number | undefined): pid is number => isOurs(pid, MARKER);

/** Waits for the process `pid` (not whatever the pid file says by then) to answer. */
function waitHealthy(pid: number, timeoutMs: number): Promise<void> {
  return waitStarted(NAME, 'schema registry', pid, healthy, timeoutMs, `did not become ready on ${HOST}:${REGISTRY_PORT}`);
}

/** Runs a command to its end with its output in a file: a Maven build writes megabytes. */
function runToFile(cmd: string, args: string[], file: string): Promise<number> {
  const fd = openSync(file, 'w');
  return new Promise<number>((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    p.once('error', (e: NodeJS.ErrnoException) => {
      writeFileSync(file, e.message);
      resolve(e.code === 'ENOENT' ? 127 : 1);
    });
    p.once('close', (code) => resolve(code ?? 1));
  }).finally(() => closeSync(fd));
}
