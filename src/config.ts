import { readFileSync, existsSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError, secret } from './spi/config.js';

// The secret fragment and its reader belong to the target contract; the core reads its own secrets the same way.
export { ConfigError, readSecret, resolvedSecrets, type Secret } from './spi/config.js';

export const ConfigSchema = z.object({
  kafka: z.object({
    brokers: z.array(z.string().regex(/^[^:]+:\d+$/, 'host:port')).min(1),
    clientId: z.string().default('tilgang'),
    partitions: z.number().int().min(1).default(12),
    topics: z.object({
      personChanged: z.string().default('person.changed'),
      provisioningResult: z.string().default('provisioning.result'),
      courseChanged: z.string().default('course.changed'),
      /** Where the producer keeps its change-log cookie, written in the same transaction as the events. */
      producerState: z.string().default('tilgang.producer.state'),
    }).prefault({}),
  }).strict(),
  registry: z.object({ url: z.url() }).strict(),
  directory: z.object({
    url: z.string().regex(/^ldaps?:\/\//, 'an ldap:// or ldaps:// URL'),
    suffix: z.string().default('dc=meta'),
    peopleDn: z.string().default('ou=Accounts,dc=meta'),
    accesslogDn: z.string().default('cn=accesslog'),
    /** tilgang's service account: reads people, writes only the provisioning-status attributes. */
    bindDn: z.string(),
    password: secret,
    /** The directory's administrator, used only by `stack`/`seed` to load sample data. */
    adminDn: z.string().optional(),
    adminPassword: secret.optional(),
    /** Attributes never copied into events, logs or errors. */
    sensitive: z.array(z.string()).default(['idautoPersonNationalID', 'userPassword']),
    /** No directory call (connect, bind, one search page, one write) waits longer than this. */
    timeoutMs: z.number().int().positive().default(15_000),
  }).strict(),
  mv: z.object({
    url: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL'),
    schema: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('mv'),
    /** No MV query (nor the wait for a connection) lasts longer than this. */
    timeoutMs: z.number().int().positive().default(15_000),
  }).strict(),
  runtime: z.object({
    /** PostgreSQL schema (in the MV database server) for the runtime's own state: the mass-change guard. */
    stateSchema: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('tilgang_runtime'),
    /** People processed at once within one partition's batch (one person is always in order). */
    concurrency: z.number().int().min(1).default(16),
    /** Partitions processed at once by one worker. */
    partitionsConcurrently: z.number().int().min(1).default(4),
    maxRetries: z.number().int().min(0).default(5),
    retryBaseMs: z.number().int().min(1).default(200),
    retryMaxMs: z.number().int().min(1).default(10_000),
    /** Port of /metrics, /healthz and /readyz; 0 picks a free one. */
    metricsPort: z.number().int().min(0).max(65535).default(9464),
    /** A worker that stops heartbeating loses its partitions after this long (a crashed worker's share moves on). */
    sessionTimeoutMs: z.number().int().min(6000).default(30_000),
    /** Distinguishes workers of one group (transactional ids); defaults to the host name. */
    instanceId: z.string().optional(),
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
  /** Per-target settings; each target validates its own block with its own schema. */
  targets: z.record(z.string(), z.unknown()).default({}),
}).strict();

export type Config = z.infer<typeof ConfigSchema>;

/** Formats zod issues as `path.to.field: what was expected`, one per line. */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues.map((i) => `  ${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${i.message}`).join('\n');
}

export function parseConfig(raw: unknown, source: string): Config {
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(`invalid configuration in ${source}:\n${describeIssues(r.error)}`);
  return r.data;
}

/** Reads TILGANG_CONFIG, else ./tilgang.yaml, else the checked-in example (the local stack's settings). */
export function loadConfig(path?: string): Config {
  const candidates = [path, process.env.TILGANG_CONFIG, 'tilgang.yaml', 'tilgang.example.yaml'].filter((p): p is string => !!p);
  const file = candidates.find((p) => existsSync(p));
  if (!file) throw new ConfigError(`no configuration file found (tried ${candidates.join(', ')})`);
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file} is not valid YAML: ${(e as Error).message}`);
  }
  return parseConfig(raw, file);
}
