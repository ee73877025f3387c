import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import type { SchemaRegistryAPIClientArgs } from '@kafkajs/confluent-schema-registry/dist/api/index.js';
import type { KafkaConfig } from 'kafkajs';
import { z } from 'zod';
import { ConfigError, readSecret, secret } from '../spi/config.js';

/**
 * TLS and authentication settings for the servers tilgang talks to (Kafka, the schema registry,
 * the directory, MV), and the client options each library wants built from them. Certificates
 * are files; passwords and tokens are secrets ({ env } or { file }), never written in the file.
 */

export const tlsSettings = z.object({
  caFile: z.string().min(1).optional().describe('PEM file of the certificate authorities to trust (default: the system\'s).'),
  certFile: z.string().min(1).optional().describe('PEM client certificate and key, for servers that ask for one (mutual TLS).'),
  keyFile: z.string().min(1).optional(),
  keyPassword: secret.optional(),
  verifyHostname: z.boolean().default(true).describe('Whether the server\'s certificate must match its host name; off only for a certificate that names another host.'),
}).strict().refine((t) => !t.certFile === !t.keyFile, { message: 'certFile and keyFile go together' });

export type TlsSettings = z.infer<typeof tlsSettings>;

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ConfigError(`${what}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Node's TLS options from the settings: certificates read now, so a wrong path stops the start. */
export function tlsOptions(t: TlsSettings, what: string): ConnectionOptions {
  return {
    ...(t.caFile ? { ca: readPem(t.caFile, `${what} caFile`) } : {}),
    ...(t.certFile ? { cert: readPem(t.certFile, `${what} certFile`) } : {}),
    ...(t.keyFile ? { key: readPem(t.keyFile, `${what} keyFile`) } : {}),
    ...(t.keyPassword ? { passphrase: readSecret(t.keyPassword, `${what} keyPassword`) } : {}),
    rejectUnauthorized: true,
    ...(t.verifyHostname ? {} : { checkServerIdentity: () => undefined }),
  };
}

/** Kafka SASL, as kafkajs supports it. */
export const kafkaSasl = z.object({
  mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
  username: z.string().min(1),
  password: secret,
}).strict();

export const kafkaSecurity = {
  ssl: z.union([z.boolean(), tlsSettings]).default(false).describe('TLS to the brokers: `true` for the system\'s authorities, or the settings.'),
  sasl: kafkaSasl.optional(),
};

/** kafkajs's `ssl` and `sasl` options. */
export function kafkaClientSecurity(k: { ssl: boolean | TlsSettings; sasl?: z.infer<typeof kafkaSasl> | undefined }): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (k.ssl !== false) out.ssl = k.ssl === true ? true : tlsOptions(k.ssl, 'kafka.ssl');
  if (k.sasl) {
    const password = readSecret(k.sasl.password, 'kafka.sasl.password');
    const { username } = k.sasl;
    out.sasl = k.sasl.mechanism === 'plain' ? { mechanism: 'plain', username, password }
      : k.sasl.mechanism === 'scram-sha-256' ? { mechanism: 'scram-sha-256', username, password }
        : { mechanism: 'scram-sha-512', username, password };
  }
  return out;
}

/** The schema registry: basic auth or a bearer token, and the authorities for an https URL. */
export const registryAuth = {
  auth: z.union([
    z.object({ username: z.string().min(1), password: secret }).strict(),
    z.object({ token: secret }).strict(),
  ]).optional(),
  tls: tlsSettings.optional(),
};

type Middleware = NonNullable<SchemaRegistryAPIClientArgs['middlewares']>[number];

export interface RegistrySettings {
  url: string;
  auth?: { username: string; password: z.infer<typeof secret> } | { token: z.infer<typeof secret> } | undefined;
  tls?: TlsSettings | undefined;
}

/** The options of @kafkajs/confluent-schema-registry's client. */
export function registryClientOptions(r: RegistrySettings): SchemaRegistryAPIClientArgs {
  const auth = r.auth && 'username' in r.auth ? { username: r.auth.username, password: readSecret(r.auth.password, 'registry.auth.password') } : undefined;
  const token = r.auth && 'token' in r.auth ? readSecret(r.auth.token, 'registry.auth.token') : undefined;
  const agent = r.tls ? new Agent({ ...tlsOptions(r.tls, 'registry.tls'), keepAlive: true }) : undefined;
  // The client knows basic auth only; a bearer token is a header added to every request.
  const bearer: Middleware | undefined = token ? () => ({ request: (req) => req.enhance({ headers: { Authorization: `Bearer ${token}` } }) }) : undefined;
  return { host: r.url, ...(auth ? { auth } : {}), ...(agent ? { agent } : {}), ...(bearer ? { middlewares: [bearer] } : {}) };
}

/** The directory: `ldaps://` URLs use `tls` as they are; `startTls` upgrades an `ldap://` connection. */
export const directoryTls = {
  tls: tlsSettings.optional(),
  startTls: z.boolean().default(false),
};

/**
 * ldapts's options: `ldaps` for an ldaps:// URL, `startTls` to upgrade an ldap:// connection
 * (with the server's name, which a socket being upgraded does not carry, for the certificate check).
 */
export function directoryTlsOptions(d: { url: string; tls?: TlsSettings | undefined; startTls: boolean }): { ldaps?: ConnectionOptions; startTls?: ConnectionOptions } {
  const opts: ConnectionOptions = d.tls ? tlsOptions(d.tls, 'directory.tls') : { rejectUnauthorized: true };
  if (d.url.startsWith('ldaps://')) return { ldaps: opts };
  if (!d.startTls) return {};
  const host = new URL(d.url).hostname;
  // SNI takes names only; for an address, the certificate is checked against `host`.
  return { startTls: { ...opts, host, ...(isIP(host) ? {} : { servername: host }) } };
}

/** MV: libpq's sslmode, and the authorities to verify the server with. */
export const pgTls = {
  sslmode: z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']).default('disable'),
  tls: tlsSettings.optional(),
};

/**
 * node-postgres's `ssl` option from libpq's sslmode: `require` encrypts without checking the
 * certificate (as libpq does), `verify-ca` checks the authority, `verify-full` the host name too.
 * `prefer` is taken as `require`: node-postgres cannot fall back to plain text.
 */
export function pgSsl(m: { sslmode: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'; tls?: TlsSettings | undefined }): false | ConnectionOptions {
  if (m.sslmode === 'disable') return false;
  const base = m.tls ? tlsOptions(m.tls, 'mv.tls') : {};
  if (m.sslmode === 'require' || m.sslmode === 'prefer') return { ...base, rejectUnauthorized: false };
  if (m.sslmode === 'verify-ca') return { ...base, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ...base, rejectUnauthorized: true, checkServerIdentity };
}

/** Every certificate file the configuration names, with its path in the configuration. */
export function certificateFiles(sections: Record<string, { ssl?: unknown; tls?: unknown } | undefined>): { path: string; file: string }[] {
  const out: { path: string; file: string }[] = [];
  for (const [name, s] of Object.entries(sections)) {
    for (const key of ['ssl', 'tls'] as const) {
      const t = s?.[key];
      if (!t || typeof t !== 'object') continue;
      for (const f of ['caFile', 'certFile', 'keyFile'] as const) {
        const file = (t as Partial<Record<typeof f, string>>)[f];
        if (file) out.push({ path: `${name}.${key}.${f}`, file });
      }
    }
  }
  return out;
}
