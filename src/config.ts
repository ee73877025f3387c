import { readFileSync, existsSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError, secret } from './spi/config.js';
import { ReconcileSchedule } from './consumers/schedule-config.js';
import { certificateFiles, directoryTls, kafkaSecurity, pgTls, registryAuth } from './lib/tls.js';

// The secret fragment and its reader belong to the target contract; the core reads its own secrets the same way.
export { ConfigError, readSecret, resolvedSecrets, type Secret } from './spi/config.js';

export const ConfigSchema = z.object({
  kafka: z.object({
    brokers: z.array(z.string().regex(/^[^:]+:\d+$/, 'host:port')).min(1),
    clientId: z.string().default('tilgang'),
    /** TLS to the brokers (`true`: the system's authorities) and SASL (plain, scram-sha-256, scram-sha-512). */
    ...kafkaSecurity,
    partitions: z.number().int().min(1).default(12),
    prefix: z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-"').default('').describe('Put before every topic name (those under `topics` too, and the dead-letter topics) and every consumer group and transactional id, so several environments can share one cluster: e.g. `test.`.'),
    replicationFactor: z.number().int().min(1).optional().describe('Replicas of each topic tilgang creates (default: the broker\'s `default.replication.factor`); 3 on a production cluster. Topics that exist are left as they are.'),
    minInsyncReplicas: z.number().int().min(1).optional().describe('`min.insync.replicas` of each topic tilgang creates (default: the broker\'s); with replicationFactor 3, 2 keeps writes safe through the loss of one broker.'),
    retention: z.object({
      deadLettersMs: z.number().int().min(-1).default(-1).describe('`retention.ms` of the dead-letter topics: -1 keeps every dead letter until it is deleted on purpose (a redrive marks letters done, it does not delete them), not the broker\'s 7 days.'),
      resultsMs: z.number().int().min(-1).optional().describe('`retention.ms` of provisioning.result (default: the broker\'s); the results store keeps its own copy for `history.retentionDays`.'),
    }).strict().prefault({}),
    topics: z.object({
      personChanged: z.string().default('person.changed'),
      provisioningResult: z.string().default('provisioning.result'),
      courseChanged: z.string().default('course.changed'),
      producerState: z.string().default('tilgang.producer.state').describe('Where the producer keeps its change-log cookie, written in the same transaction as the events.'),
    }).prefault({}),
  }).strict().refine((k) => !(k.replicationFactor && k.minInsyncReplicas && k.minInsyncReplicas > k.replicationFactor), { message: 'minInsyncReplicas cannot exceed replicationFactor: every write would be refused', path: ['minInsyncReplicas'] }),
  registry: z.object({
    url: z.url(),
    /** Basic auth ({ username, password }) or a bearer token ({ token }). */
    ...registryAuth,
  }).strict(),
  directory: z.object({
    url: z.string().regex(/^ldaps?:\/\//, 'an ldap:// or ldaps:// URL'),
    /** The authorities (and client certificate) for ldaps:// or StartTLS. */
    ...directoryTls,
    suffix: z.string().default('dc=meta'),
    peopleDn: z.string().default('ou=Accounts,dc=meta'),
    accesslogDn: z.string().default('cn=accesslog'),
    bindDn: z.string().describe('tilgang\'s service account: reads people, writes only the provisioning-status attributes.'),
    password: secret,
    adminDn: z.string().optional().describe('The directory\'s administrator, used only by `stack`/`seed` to load sample data.'),
    adminPassword: secret.optional(),
    sensitive: z.array(z.string()).default(['idautoPersonNationalID', 'userPassword']).describe('Attributes never copied into events, logs or errors.'),
    timeoutMs: z.number().int().positive().default(15_000).describe('No directory call (connect, bind, one search page, one write) waits longer than this.'),
  }).strict().refine((d) => !(d.startTls && d.url.startsWith('ldaps://')), { message: 'startTls upgrades an ldap:// connection; an ldaps:// URL is TLS already', path: ['startTls'] }),
  mv: z.object({
    // sslmode in the URL would silently win over mv.sslmode in node-postgres: one place only.
    url: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL').refine((u) => !/[?&]ssl(mode)?=/.test(u), 'set TLS with mv.sslmode and mv.tls, not in the URL'),
    /** libpq's sslmode: disable, prefer, require, verify-ca, verify-full. */
    ...pgTls,
    schema: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('mv'),
    timeoutMs: z.number().int().positive().default(15_000).describe('No MV query (nor the wait for a connection) lasts longer than this.'),
  }).strict(),
  runtime: z.object({
    stateSchema: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('tilgang_runtime').describe('PostgreSQL schema (in the MV database server) for the runtime\'s own state: the mass-change guard.'),
    concurrency: z.number().int().min(1).default(16).describe('People processed at once within one partition\'s batch (one person is always in order).'),
    // kafkajs fetches again only when every batch of the last fetch is done: a worker that works on
    // fewer partitions at once than it holds makes the changes of the others wait behind them.
    partitionsConcurrently: z.number().int().min(1).default(12).describe('Partitions processed at once by one worker (a new fetch waits for all of them: as many as the topic has partitions keeps a change from waiting behind other partitions\' batches).'),
    maxRetries: z.number().int().min(0).default(5),
    retryBaseMs: z.number().int().min(1).default(200),
    retryMaxMs: z.number().int().min(1).default(10_000),
    metricsPort: z.number().int().min(0).max(65535).default(9464).describe('Port of /metrics, /healthz and /readyz; 0 picks a free one.'),
    dashboard: z.boolean().default(true).describe('`tilgang run` serves the web dashboard at / on the metrics address (metricsHost:metricsPort): charts, dead letters, guards, runs, a person search. Its redrive and release act on the system: keep the address private.'),
    metricsHost: z.string().min(1).default('127.0.0.1').describe('Address /metrics, /healthz and /readyz listen on: 0.0.0.0 (or ::) for a Prometheus or probe on another host.'),
    statusIntervalSeconds: z.number().int().min(0).default(30).describe('How often `tilgang run` sets the status gauges on /metrics (lag, dead letters, guard, outcomes, the producer behind the change log); 0: never.'),
    connectTimeoutMs: z.number().int().min(1).default(30_000).describe('How long a command waits at start for Kafka, the schema registry, PostgreSQL and the directory to answer; then it exits non-zero with one line naming the server and its address.'),
    sessionTimeoutMs: z.number().int().min(6000).default(30_000).describe('A worker that stops heartbeating loses its partitions after this long (a crashed worker\'s share moves on).'),
    instanceId: z.string().optional().describe('Distinguishes workers of one group (transactional ids); defaults to the host name.'),
    guard: z.object({
      maxOperations: z.number().int().min(0).default(200),
      maxShare: z.number().min(0).max(1).default(0.1),
      minAccounts: z.number().int().min(0).default(500),
      windowMinutes: z.number().int().min(1).default(60),
      /** Per-target overrides. */
      targets: z.record(z.string(), z.object({
        maxOperations: z.number().int().min(0).optional(),
        maxShare: z.number().min(0).max(1).optional(),
        minAccounts: z.number().int().min(0).optional(),
        windowMinutes: z.number().int().min(1).optional(),
      }).strict()).default({}),
    }).strict().prefault({}),
  }).strict().prefault({}),
  history: z.object({
    retentionDays: z.number().int().min(1).default(365).describe('How long the results store keeps each provisioning result (and each run), in days.'),
    groupId: z.string().min(1).default('tilgang.history').describe('The consumer group that writes provisioning.result into the results store.'),
  }).strict().prefault({}).describe('The results store: every provisioning.result as a row in PostgreSQL (the runtime\'s state schema), read by `tilgang history`, `report` and `status`.'),
  reconcile: ReconcileSchedule.optional().describe('A schedule on which `tilgang run` runs `sync --all` and the orphan check by itself, one worker at a time (a lease in PostgreSQL), e.g. { every: 24h, at: "02:00" }. Absent: no schedule.'),
  courses: z.object({
    nextSemesterFrom: z.object({
      spring: z.number().int().min(1).max(12).default(5).describe('During spring (VÅR), from this month (1–12) on the autumn semester\'s courses are in scope too.'),
      autumn: z.number().int().min(1).max(12).default(11).describe('During autumn (HØST), from this month on next spring\'s courses are in scope too.'),
    }).strict().prefault({}),
    pollMs: z.number().int().min(100).default(5_000).describe('How often the courses producer reads the catalogue (master_topics) for added and changed topics.'),
  }).strict().prefault({}).describe('The courses producer: which semesters of MV\'s course catalogue are published on course.changed.'),
  targets: z.record(z.string(), z.unknown()).default({}).describe('Per-target settings; each target validates its own block with its own schema.'),
}).strict();

export type Config = z.infer<typeof ConfigSchema>;

/** Formats zod issues as `path.to.field: what was expected`, one per line. */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues.map((i) => `  ${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${i.message}`).join('\n');
}

export function parseConfig(raw: unknown, source: string): Config {
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(`invalid configuration in ${source}:\n${describeIssues(r.error)}`);
  return withPrefix(r.data);
}

/**
 * kafka.prefix put before the topic names and group ids the configuration holds, once, when it is
 * read: code that names a topic or group of its own (dead letters, target groups) uses kafkaName.
 */
function withPrefix(c: Config): Config {
  const p = c.kafka.prefix;
  if (!p) return c;
  const t = c.kafka.topics as Record<string, string>;
  for (const k of Object.keys(t)) t[k] = `${p}${t[k]}`;
  c.history.groupId = `${p}${c.history.groupId}`;
  return c;
}

/** A topic, group or transactional id of tilgang's own, with the environment's kafka.prefix. */
export function kafkaName(cfg: Pick<Config, 'kafka'>, name: string): string {
  return `${cfg.kafka.prefix}${name}`;
}

/** The checked-in example, used only when no configuration is named: it fits the local stack. */
export const EXAMPLE_CONFIG = 'tilgang.example.yaml';

/**
 * Which file to read: the one named (`-c`, else TILGANG_CONFIG), which must exist; else
 * ./tilgang.yaml; else the example, with a notice, so a typo in a name never runs against
 * the example's servers.
 */
export function configSource(path?: string, env: NodeJS.ProcessEnv = process.env): { file: string; fallback: boolean } {
  const named = path ? { file: path, by: '-c' } : env.TILGANG_CONFIG ? { file: env.TILGANG_CONFIG, by: 'TILGANG_CONFIG' } : undefined;
  if (named) {
    if (!existsSync(named.file)) throw new ConfigError(`configuration file ${named.file} (named by ${named.by}) does not exist`);
    return { file: named.file, fallback: false };
  }
  if (existsSync('tilgang.yaml')) return { file: 'tilgang.yaml', fallback: false };
  if (existsSync(EXAMPLE_CONFIG)) return { file: EXAMPLE_CONFIG, fallback: true };
  throw new ConfigError('no configuration: name a file with -c or TILGANG_CONFIG, or write ./tilgang.yaml');
}

let noticed = false;

/** The configuration file `configSource` chooses, parsed as YAML but not yet checked. */
export function readConfigFile(path?: string): { raw: unknown; file: string } {
  const { file, fallback } = configSource(path);
  if (fallback && !noticed) {
    noticed = true;
    process.stderr.write(`tilgang: no configuration named (-c, TILGANG_CONFIG) and no ./tilgang.yaml: using ${EXAMPLE_CONFIG}, the local stack's settings\n`);
  }
  try {
    return { raw: parse(readFileSync(file, 'utf8')), file };
  } catch (e) {
    throw new ConfigError(`${file} is not valid YAML: ${(e as Error).message}`);
  }
}

/** Reads the configuration `configSource` chooses and checks it against the core schema. */
export function loadConfig(path?: string): Config {
  const { raw, file } = readConfigFile(path);
  return parseConfig(raw, file);
}

/** What the whole-configuration check needs of a target: its name and the schema of its block. */
export interface TargetBlockSchema {
  config: { safeParse(v: unknown): { success: true } | { success: false; error: z.ZodError } };
}

/** Whether a `targets:` block is enabled (present without `enabled: false`). */
export function isEnabled(block: unknown): boolean {
  return (block as { enabled?: boolean } | null)?.enabled !== false;
}

/**
 * Checks every `targets:` block at start, not when its group first connects: each name must be
 * a known target (a typo is not a target nobody serves), and each enabled block must satisfy its
 * target's schema. Returns the problems, one per line.
 */
export function checkTargetBlocks(targets: Record<string, unknown>, known: ReadonlyMap<string, TargetBlockSchema>): string[] {
  const problems: string[] = [];
  for (const [name, block] of Object.entries(targets)) {
    const t = known.get(name);
    if (!t) {
      problems.push(`  targets.${name}: no such target (known: ${[...known.keys()].join(', ') || 'none'})`);
      continue;
    }
    if (!isEnabled(block)) continue;
    const r = t.config.safeParse(block ?? {});
    if (!r.success) problems.push(describeIssues(r.error, `targets.${name}`));
  }
  return problems;
}

/**
 * The whole configuration, checked at once: the core schema and every target block, all
 * problems reported together, each with its path.
 */
export function parseWholeConfig(raw: unknown, source: string, known: ReadonlyMap<string, TargetBlockSchema>): Config {
  const r = ConfigSchema.safeParse(raw);
  const problems = r.success ? [] : [describeIssues(r.error)];
  const targets = (raw as { targets?: unknown } | null)?.targets;
  if (targets && typeof targets === 'object' && !Array.isArray(targets)) problems.push(...checkTargetBlocks(targets as Record<string, unknown>, known));
  // A certificate that is not there stops the start, not the first connection an hour later.
  if (r.success) {
    for (const c of certificateFiles({ kafka: r.data.kafka, registry: r.data.registry, directory: r.data.directory, mv: r.data.mv })) {
      if (!existsSync(c.file)) problems.push(`  ${c.path}: ${c.file} does not exist`);
    }
  }
  if (problems.length || !r.success) throw new ConfigError(`invalid configuration in ${source}:\n${problems.join('\n')}`);
  return withPrefix(r.data);
}
