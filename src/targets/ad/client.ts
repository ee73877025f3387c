/**
 * The wire side of the AD target: LDAPS connections bound as tilgang's service account, and the
 * mapping of AD's result codes to the runtime's two kinds of failure.
 */
import { readFileSync } from 'node:fs';
import {
  AlreadyExistsError, BusyError, Client, ConstraintViolationError, InsufficientAccessError, InvalidCredentialsError,
  NoSuchAttributeError, NoSuchObjectError, ObjectClassViolationError, ResultCodeError, UnavailableError, UndefinedTypeError,
  UnwillingToPerformError, type Entry,
} from 'ldapts';
import { readSecret, TerminalError, TransientError, isTransient } from '../../spi/index.js';
import { describeLdapError } from '../../lib/ldap/result-codes.js';
import type { AdConfig } from './config.js';

/** A few LDAPS connections used in turn; ldapts multiplexes requests on each. A dropped one binds again. */
export class AdConnection {
  private readonly clients: Client[];
  private readonly bound = new WeakMap<Client, { done: Promise<void>; settled: boolean }>();
  private next = 0;
  private readonly password: string;

  constructor(readonly cfg: AdConfig) {
    this.password = readSecret(cfg.password, 'targets.ad.password');
    const ca = cfg.tls.caFile ? readFileSync(cfg.tls.caFile) : undefined;
    this.clients = Array.from({ length: cfg.connections }, () => new Client({
      url: cfg.url, timeout: cfg.timeoutMs, connectTimeout: Math.min(cfg.timeoutMs, 10_000),
      tlsOptions: { ...(ca ? { ca } : {}), ...(cfg.tls.verifyHostname ? {} : { checkServerIdentity: () => undefined }) },
    }));
  }

  /** One of the connections, bound; requests of one person go through one of them in order. */
  async client(): Promise<Client> {
    const c = this.clients[this.next++ % this.clients.length]!;
    let b = this.bound.get(c);
    // A bind under way is waited for (its socket is not connected yet); a finished one on a dropped socket is redone.
    if (!b || (b.settled && !c.isConnected)) {
      const state = { done: c.bind(this.cfg.bindDn, this.password), settled: false };
      state.done.then(() => { state.settled = true; }, () => { this.bound.delete(c); });
      this.bound.set(c, (b = state));
    }
    await b.done;
    return c;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.unbind().catch(() => {})));
  }
}

/** Values of an entry's attribute as strings (ldapts gives a string, a list, or Buffers). */
export function strings(e: Entry, attr: string): string[] {
  const key = Object.keys(e).find((k) => k.toLowerCase() === attr.toLowerCase());
  const v = key === undefined ? undefined : e[key];
  const arr = v === undefined ? [] : Array.isArray(v) ? v : [v];
  return arr.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}

/** The result code by name, then AD's own words (`constraintViolation (19): 0000052D: Constraint violation - …`). */
function adMessage(e: unknown): string {
  return describeLdapError(e);
}

/**
 * A failure of `what` (e.g. "create CN=…") for the person as the runtime tells it apart: busy,
 * unavailable, a dropped connection, or an entry that moved or appeared meanwhile (re-read and
 * re-planned) are transient; the rest is terminal, naming the attribute where AD's answer allows.
 */
export function adError(e: unknown, person: string, what: string, attribute?: string): Error {
  if (e instanceof TransientError || e instanceof TerminalError) return e;
  const msg = `person ${person}, target ad: ${what}: ${adMessage(e)}`;
  if (e instanceof BusyError || e instanceof UnavailableError) return new TransientError(msg, e instanceof BusyError ? 'busy' : 'unavailable');
  // ldapts says "Operation timed out" when the DC did not answer in time: the write may have
  // happened or not, so it is retried after a fresh read, like a dropped connection.
  if (isTransient(e) || /socket|closed|ECONN|timeout|timed out/i.test(adMessage(e))) return new TransientError(msg, 'connection');
  if (e instanceof AlreadyExistsError) return new TransientError(`${msg} (the name was taken meanwhile; read again)`, 'already-exists');
  if (e instanceof NoSuchObjectError) return new TransientError(`${msg} (moved or removed meanwhile; read again)`, 'no-such-object');
  if (e instanceof ConstraintViolationError) {
    const pw = /password|unicodePwd|check_password/i.test(adMessage(e));
    return new TerminalError(pw ? `${msg} (the password policy refused the generated password)` : msg, pw ? 'password-too-weak' : 'constraint-violation', pw ? 'password' : attribute);
  }
  if (e instanceof InsufficientAccessError) return new TerminalError(`${msg} (tilgang's service account may not do this here)`, 'insufficient-access', attribute);
  if (e instanceof InvalidCredentialsError) return new TerminalError(`${msg} (the service account's password is refused)`, 'invalid-credentials');
  if (e instanceof UndefinedTypeError || e instanceof NoSuchAttributeError) return new TerminalError(`${msg} (an attribute the domain's schema does not have)`, 'undefined-attribute', attribute);
  if (e instanceof ObjectClassViolationError) return new TerminalError(msg, 'object-class-violation', attribute);
  if (e instanceof UnwillingToPerformError) return new TerminalError(msg, 'unwilling-to-perform', attribute);
  if (e instanceof ResultCodeError) return new TerminalError(msg, `ldap-${e.code}`, attribute);
  return new TerminalError(msg, 'error', attribute);
}
