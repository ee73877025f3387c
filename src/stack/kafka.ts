import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { child } from '../lib/log.js';
import { dir, isOurs, ourPid, portOpen, readPid, spawnDaemon, stopIfOurs, tail, waitStarted } from './process.js';
import type { Service } from './service.js';
import { requireTool, run } from './tools.js';

/**
 * Apache Kafka as one local KRaft process (broker and controller in one), its jars fetched from
 * Maven Central by `stack/kafka/pom.xml`: there is no Docker and no Kafka tarball on these machines.
 *
 * Topics are not created on first use (`auto.create.topics.enable=false`): whoever needs a topic
 * creates it with the admin client, so a misspelt topic name fails instead of quietly making a new
 * topic with default settings.
 */

const NAME = 'kafka';
const HOST = '127.0.0.1';
export const KAFKA_PORT = 19092;
export const KAFKA_CONTROLLER_PORT = 19093;

const log = child({ service: NAME });
const pom = fileURLToPath(new URL('../../stack/kafka/pom.xml', import.meta.url));
const home = () => dir(NAME);
const libDir = () => join(home(), 'lib');
const dataDir = () => join(home(), 'data');
const propsFile = () => join(home(), 'server.properties');
const log4jFile = () => join(home(), 'log4j2.properties');
/** Written last by install: the pom it was made from and the jars it holds. */
const MANIFEST = 'tilgang-manifest.json';
/** In the command line of our broker, not of some process that got a stale pid. */
const MARKER = 'kafka.Kafka';

export const kafkaService: Service = {
  name: NAME,
  ports: [KAFKA_PORT, KAFKA_CONTROLLER_PORT],

  async install() {
    const stamp = sha256(readFileSync(pom));
    if (libComplete(stamp)) return;
    await requireTool('Kafka', 'java', ['-version'], 'a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)');
    await requireTool('Kafka', 'mvn', ['-v'], 'Apache Maven (e.g. apt-get install maven)');
    log.info('downloading the Kafka jars from Maven Central');
    // Into a side folder first, so an interrupted download never looks like a complete one.
    const partial = `${libDir()}.partial`;
    rmSync(partial, { recursive: true, force: true });
    const r = await run('mvn', ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${partial}`]);
    if (r.code !== 0) {
      rmSync(partial, { recursive: true, force: true });
      throw new Error(`Kafka install: downloading the jars with Maven failed (exit ${r.code}):\n${tail(r.output, 30)}`);
    }
    const jars = readdirSync(partial).filter((f) => f.endsWith('.jar')).sort();
    if (!jars.some((j) => j.startsWith('kafka_2.13-'))) {
      throw new Error(`Kafka install: Maven finished but ${partial} holds no kafka_2.13 jar`);
    }
    writeFileSync(join(partial, MANIFEST), JSON.stringify({ pom: stamp, jars }, null, 2));
    // New jars must not be swapped in under a running broker.
    if (ours(readPid(NAME))) await this.stop();
    rmSync(libDir(), { recursive: true, force: true });
    renameSync(partial, libDir());
    log.info({ jars: jars.length }, 'Kafka jars installed');
  },

  async start() {
    const running = readPid(NAME);
    if (ours(running)) {
      await waitHealthy(running, 60_000);
      return;
    }
    await refuseStrangers(this.ports);
    if (!libComplete()) throw new Error('Kafka is not installed: run install first (`tilgang stack up` does)');

    writeFileSync(propsFile(), serverProperties());
    writeFileSync(log4jFile(), LOG4J2);
    const cp = `${libDir()}/*`; // expanded by the java launcher itself
    const jvm = ['-Xmx1g', `-Dlog4j2.configurationFile=${log4jFile()}`, '-cp', cp];

    if (!existsSync(join(dataDir(), 'meta.properties'))) {
      const r = await run('java', [...jvm, 'kafka.tools.StorageTool', 'format', '--standalone',
        '-t', clusterId(), '-c', propsFile()]);
      if (r.code !== 0) {
        rmSync(dataDir(), { recursive: true, force: true });
        throw new Error(`Kafka: formatting the storage in ${dataDir()} failed (exit ${r.code}):\n${tail(r.output, 30)}`);
      }
    }

    const pid = spawnDaemon(NAME, 'java', [...jvm, 'kafka.Kafka', propsFile()], { cwd: home() });
    log.info({ pid }, 'Kafka starting');
    try {
      await waitHealthy(pid, 60_000);
    } catch (e) {
      await this.stop();
      throw e;
    }
  },

  healthy,

  async stop() {
    await stopIfOurs(NAME, MARKER, 30_000);
  },

  async reset() {
    await this.stop();
    rmSync(dataDir(), { recursive: true, force: true });
  },

  pid() {
    return ourPid(NAME, MARKER);
  },
};

/** Answers the Kafka protocol: an admin client gets the cluster's metadata within a few seconds. */
async function healthy(): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'tilgang-stack-health',
    brokers: [`${HOST}:${KAFKA_PORT}`],
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    const cluster = await withTimeout(admin.connect().then(() => admin.describeCluster()), 5_000);
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function serverProperties(): string {
  return `# Written by tilgang's local stack on every start (src/stack/kafka.ts); edits are lost.
# One KRaft node that is broker and controller at once, reachable from this machine only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=${HOST}:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://${HOST}:${KAFKA_PORT},CONTROLLER://${HOST}:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${HOST}:${KAFKA_PORT}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=${dataDir()}

num.partitions=12
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false

# With one broker the internal topics must have one replica, or transactions and consumer groups
# wait forever for replicas that never come.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests' consumer groups start at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
`;
}

// To stdout, which spawnDaemon sends to the log file. Kafka's INFO is hundreds of lines per topic.
const LOG4J2 = `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
logger.storage.name = kafka.tools.StorageTool
logger.storage.level = INFO
`;

/** A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function libComplete(pomHash?: string): boolean {
  const f = join(libDir(), MANIFEST);
  if (!existsSync(f)) return false;
  try {
    const m = JSON.parse(readFileSync(f, 'utf8')) as { pom?: string; jars?: string[] };
    if (pomHash !== undefined && m.pom !== pomHash) return false;
    return Array.isArray(m.jars) && m.jars.length > 0 && m.jars.every((j) => existsSync(join(libDir(), j)));
  } catch {
    return false;
  }
}

const ours = (pid: number | undefined): pid is number => isOurs(pid, MARKER);

async function refuseStrangers(ports: number[]): Promise<void> {
  for (const port of ports) {
    if (await portOpen(port, HOST)) {
      throw new Error(`Kafka: port ${port} on ${HOST} is already in use by another process (not the Kafka this stack started); stop it or free the port`);
    }
  }
}

/** Waits for the process `pid` (not whatever the pid file says by then) to answer. */
function waitHealthy(pid: number, timeoutMs: number): Promise<void> {
  return waitStarted(NAME, 'Kafka', pid, healthy, timeoutMs, `did not answer on ${HOST}:${KAFKA_PORT}`);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
