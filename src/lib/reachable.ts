import { connect as tcpConnect } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import type { Config } from '../config.js';
import { sleep } from './backoff.js';
import { isNetworkCode } from './network.js';
import { kafkaClientSecurity, pgSsl } from './tls.js';

/**
 * Whether the servers a command needs answer, within runtime.connectTimeoutMs: a server that is not
 * there ends the command with one line naming it and its address ("Kafka at 127.0.0.1:1 is not
 * reachable"), instead of clients retrying for minutes and printing their stack traces. A server
 * that answers but refuses (credentials, a certificate) is reported at once, as it will not heal.
 */

export type Dependency = 'kafka' | 'registry' | 'mv' | 'directory';

export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

const NAMES: Record<Dependency, string> = { kafka: 'Kafka', registry: 'Schema registry', mv: 'PostgreSQL', directory: 'LDAP directory' };

/** host:port of a URL, with the scheme's port when none is written. */
function address(url: string): { host: string; port: number; text: string } {
  const u = new URL(url);
  const defaults: Record<string, number> = { 'http:': 80, 'https:': 443, 'ldap:': 389, 'ldaps:': 636, 'postgres:': 5432, 'postgresql:': 5432 };
  const port = u.port ? Number(u.port) : defaults[u.protocol] ?? 0;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { host, port, text: `${u.hostname}:${port}` };
}

/** A TCP connection to host:port, closed at once. */
function tcp(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host, port });
    const done = (e?: Error) => { s.destroy(); if (e) reject(e); else resolve(); };
    s.setTimeout(timeoutMs, () => done(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    s.once('connect', () => done());
    s.once('error', (e) => done(e));
  });
}

/** Why an attempt failed: a network error worth another try, or a refusal that is final. */
type Attempt = { ok: true } | { ok: false; final: boolean; why: string };

const codeOf = (e: unknown): string | undefined => {
  const x = e as { code?: unknown; cause?: unknown; originalError?: unknown };
  if (typeof x?.code === 'string') return x.code;
  return x?.cause ? codeOf(x.cause) : x?.originalError ? codeOf(x.originalError) : undefined;
};

function failed(e: unknown): Attempt {
  const code = codeOf(e);
  const msg = (e as Error)?.message ?? String(e);
  // A certificate or credentials the server refuses: trying again changes nothing.
  if (/certificate|self[- ]signed|SASL|authentication|password/i.test(msg)) return { ok: false, final: true, why: msg.split('\n')[0]! };
  if (isNetworkCode(code) || /ECONNREFUSED|ETIMEDOUT|timed? ?out|Connection (error|timeout)|closed|ENOTFOUND|EHOSTUNREACH/i.test(msg)) {
    return { ok: false, final: false, why: code ?? msg.split('\n')[0]! };
  }
  return { ok: false, final: true, why: msg.split('\n')[0]! };
}

async function attempt(cfg: Config, server: Dependency, timeoutMs: number): Promise<Attempt> {
  try {
    if (server === 'kafka') {
      const admin = new Kafka({
        clientId: `${cfg.kafka.clientId}-reach`, brokers: cfg.kafka.brokers, ...kafkaClientSecurity(cfg.kafka),
        connectionTimeout: timeoutMs, requestTimeout: timeoutMs, retry: { retries: 0 }, logLevel: logLevel.NOTHING,
      }).admin();
      try {
        await admin.connect();
        await admin.describeCluster();
      } finally {
        await admin.disconnect().catch(() => {});
      }
    } else if (server === 'mv') {
      const c = new pg.Client({ connectionString: cfg.mv.url, ssl: pgSsl(cfg.mv), connectionTimeoutMillis: timeoutMs });
      c.on('error', () => {});
      try {
        await c.connect();
      } finally {
        await c.end().catch(() => {});
      }
    } else {
      const a = address(server === 'registry' ? cfg.registry.url : cfg.directory.url);
      await tcp(a.host, a.port, timeoutMs);
    }
    return { ok: true };
  } catch (e) {
    return failed(e);
  }
}

export function serverAddress(cfg: Config, server: Dependency): string {
  if (server === 'kafka') return cfg.kafka.brokers.join(', ');
  return address(server === 'registry' ? cfg.registry.url : server === 'mv' ? cfg.mv.url : cfg.directory.url).text;
}

/** Tries one server until it answers or the time is up. */
export async function reach(cfg: Config, server: Dependency, timeoutMs = cfg.runtime.connectTimeoutMs): Promise<void> {
  const until = Date.now() + timeoutMs;
  const where = `${NAMES[server]} at ${serverAddress(cfg, server)}`;
  let wait = 250;
  for (;;) {
    const left = until - Date.now();
    const r = await attempt(cfg, server, Math.max(500, Math.min(5_000, left)));
    if (r.ok) return;
    if (r.final) throw new UnreachableError(`${where} refused the connection: ${r.why}`);
    if (Date.now() + wait >= until) throw new UnreachableError(`${where} is not reachable (${r.why}; gave up after ${Math.round(timeoutMs / 1000)} s, runtime.connectTimeoutMs)`);
    await sleep(wait);
    wait = Math.min(wait * 2, 2_000);
  }
}

/** Every server in `servers`, at once; the first that cannot be reached ends the wait. */
export async function requireReachable(cfg: Config, servers: readonly Dependency[], timeoutMs = cfg.runtime.connectTimeoutMs): Promise<void> {
  await Promise.all([...new Set(servers)].map((s) => reach(cfg, s, timeoutMs)));
}
