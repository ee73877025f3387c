import type { ConnectionOptions } from 'node:tls';
import { Attribute, BusyError, Change, Client, ResultCodeError, UnavailableError, type Entry } from 'ldapts';
import { readSecret, type Config } from '../config.js';
import { DependencyHealth, every, withDeadline } from '../lib/health.js';
import { directoryTlsOptions } from '../lib/tls.js';
import { describeLdapError, nameResultCode } from '../lib/ldap/result-codes.js';
import { and, anyOf, eq, escapeFilterValue, present, type Filter } from '../lib/ldap/filter.js';
import { first, values, type PersonRecord } from '../spi/person.js';
import { A, PERSON_OBJECT_CLASS } from './attributes.js';
import { isNetworkCode } from '../lib/network.js';

// The record's shape and readers are part of the target contract; the directory produces them.
export { first, values, type PersonRecord };

export function toRecord(e: Entry): PersonRecord {
  const attrs: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'dn') continue;
    const arr = Array.isArray(v) ? v : [v];
    attrs[k] = arr.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
  }
  return { dn: e.dn, attrs };
}

/** @deprecated Build filters with src/lib/ldap/filter.ts; kept until its last caller moves. */
export const escapeFilter = escapeFilterValue;

export class DirectoryError extends Error {
  override name = 'DirectoryError';
}

/**
 * The directory did not answer: refused, lost the connection, or was slower than the timeout.
 * Worth another try later (the code is the network's, which the runtime retries); never a
 * verdict about the person.
 */
export class DirectoryUnavailableError extends DirectoryError {
  override name = 'DirectoryUnavailableError';
  constructor(message: string, readonly code: 'ECONNRESET' | 'ETIMEDOUT' = 'ECONNRESET') {
    super(message);
  }
}

/** ldapts reports a lost or refused connection as a plain Error; an answer from the server is a ResultCodeError. */
function unavailable(e: unknown, what: string): DirectoryUnavailableError | undefined {
  if (e instanceof DirectoryUnavailableError) return e;
  if (e instanceof BusyError || e instanceof UnavailableError) return new DirectoryUnavailableError(`${what}: the directory is busy or unavailable (${e.message})`);
  if (e instanceof ResultCodeError || !(e instanceof Error)) return undefined;
  const code = (e as { code?: unknown }).code;
  if (isNetworkCode(code)) return new DirectoryUnavailableError(`${what}: cannot reach the directory (${code})`, code === 'ETIMEDOUT' ? 'ETIMEDOUT' : 'ECONNRESET');
  if (/timed? ?out/i.test(e.message)) return new DirectoryUnavailableError(`${what}: the directory did not answer in time`, 'ETIMEDOUT');
  if (/connection|socket/i.test(e.message)) return new DirectoryUnavailableError(`${what}: the directory connection was lost (${e.message.split('\n')[0]})`);
  return undefined;
}

export interface DirectoryOptions {
  peopleDn?: string;
  asAdmin?: boolean;
  /** How often the connection is checked while idle, so readiness follows a cut (ms; false: never). */
  probeMs?: number | false;
}

/** idautoIDs per search in readMany: short filters, and still a handful of round trips for a wave. */
const READ_MANY_CHUNK = 200;

/**
 * The portal directory as tilgang's service account sees it. Reads people; the only writes are
 * the provisioning-status attributes (the writeback), which the directory's ACL enforces too.
 *
 * The connection is bound again after every reconnect (ldapts reconnects on its own, but
 * anonymously, and an anonymous search fails with noSuchObject), no call waits longer than
 * `directory.timeoutMs`, and `health` says whether the directory answers: calls report to it and
 * a probe keeps it current while nothing else is asked.
 */
export class Directory {
  readonly health = new DependencyHealth('directory');
  private binding: Promise<void> | undefined;
  private probe: { stop(): void } | undefined;

  private constructor(readonly client: Client, readonly peopleDn: string, readonly accesslogDn: string, readonly bindDn: string,
    private readonly password: string, readonly timeoutMs: number, private readonly startTls?: ConnectionOptions) {}

  static async connect(cfg: Config, opts: DirectoryOptions = {}): Promise<Directory> {
    const d = cfg.directory;
    const timeoutMs = d.timeoutMs;
    // autoRebind covers a reconnect that happens inside ldapts between our bind check and the call.
    const tls = directoryTlsOptions(d);
    const client = new Client({ url: d.url, timeout: timeoutMs, connectTimeout: Math.min(5_000, timeoutMs), autoRebind: true, ...(tls.ldaps ? { tlsOptions: tls.ldaps } : {}) });
    const bindDn = opts.asAdmin ? d.adminDn : d.bindDn;
    const secret = opts.asAdmin ? d.adminPassword : d.password;
    if (!bindDn || !secret) throw new DirectoryError('directory.adminDn and directory.adminPassword are needed for this command');
    const password = readSecret(secret, 'directory password');
    try {
      // StartTLS before the bind: the password never crosses the wire in clear.
      await withDeadline((async () => { if (tls.startTls) await client.startTLS({ ...tls.startTls }); await client.bind(bindDn, password); })(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
    } catch (e) {
      await client.unbind().catch(() => {});
      throw new DirectoryError(`cannot bind to the directory at ${d.url} as ${bindDn}: ${describeLdapError(e)}`);
    }
    const dir = new Directory(client, opts.peopleDn ?? d.peopleDn, d.accesslogDn, bindDn, password, timeoutMs, tls.startTls);
    if (opts.probeMs !== false) dir.probe = every(opts.probeMs ?? 2_000, () => dir.ping());
    return dir;
  }

  async close(): Promise<void> {
    this.probe?.stop();
    await this.client.unbind().catch(() => {});
  }

  /** One cheap read of the people container: does the directory answer, with us bound? */
  async ping(): Promise<void> {
    await this.call('checking the directory', (c) => c.search(this.peopleDn, { scope: 'base', filter: present('objectClass'), attributes: ['1.1'] }));
  }

  /** Binds when the connection is new (one bind, however many calls are waiting for it). */
  private ensureBound(): Promise<void> {
    if (this.client.isBound) return Promise.resolve();
    // A reconnected StartTLS session is plain text until upgraded again (ldapts does not replay StartTLS).
    const upgrade = this.startTls && !this.client.isConnected ? this.client.startTLS({ ...this.startTls }) : Promise.resolve();
    return (this.binding ??= upgrade.then(() => this.client.bind(this.bindDn, this.password)).finally(() => { this.binding = undefined; }));
  }

  /** One directory call: bound first, under a deadline, its outcome reported to `health`. */
  private async call<T>(what: string, fn: (c: Client) => Promise<T>): Promise<T> {
    try {
      const result = await withDeadline((async () => { await this.ensureBound(); return fn(this.client); })(), this.timeoutMs,
        () => new DirectoryUnavailableError(`${what}: the directory did not answer within ${this.timeoutMs} ms`, 'ETIMEDOUT'));
      this.health.markUp();
      return result;
    } catch (e) {
      throw this.reported(e, what);
    }
  }

  /** The error to throw for a failed call: a lost directory as DirectoryUnavailableError, reported to `health`. */
  private reported(e: unknown, what: string): unknown {
    const u = unavailable(e, what);
    // An answer from the directory: its result code by name (`insufficientAccessRights (50)`), not `Code: 0x32`.
    if (!u) return nameResultCode(e);
    this.health.markDown(u.message);
    return u;
  }

  /** People matching `attr=value` anywhere under the people base; several matches are the caller's to judge. */
  async findPeople(attr: string, value: string, attributes: string[] = ['*']): Promise<PersonRecord[]> {
    const { searchEntries } = await this.call(`searching people by ${attr}`, (c) => c.search(this.peopleDn, {
      scope: 'sub',
      filter: and(eq('objectClass', PERSON_OBJECT_CLASS), eq(attr, value)),
      attributes,
    }));
    return searchEntries.map(toRecord);
  }

  async person(id: string, attributes: string[] = ['*']): Promise<PersonRecord | undefined> {
    const found = await this.findPeople(A.id, id, attributes);
    if (found.length > 1) throw new DirectoryError(`more than one directory entry has ${A.id}=${id}: ${found.map((f) => f.dn).join('; ')}`);
    return found[0];
  }

  /**
   * Many people at once, by idautoID: one search with an OR of the ids per chunk of
   * READ_MANY_CHUNK, instead of a round trip per person. The map has an entry for every id found
   * (keyed as asked, whatever case the directory returns); an id that two entries share maps to
   * a DirectoryError naming them, as person() would throw.
   */
  async readMany(ids: readonly string[], attributes: string[] = ['*']): Promise<Map<string, PersonRecord | DirectoryError>> {
    const asked = new Map<string, string[]>();
    for (const id of ids) {
      const k = id.toLowerCase();
      const same = asked.get(k);
      if (!same) asked.set(k, [id]);
      else if (!same.includes(id)) same.push(id);
    }
    const attrs = attributes.includes('*') || attributes.some((a) => a.toLowerCase() === A.id.toLowerCase()) ? attributes : [...attributes, A.id];
    const unique = [...asked.keys()];
    const found = new Map<string, PersonRecord[]>();
    for (let i = 0; i < unique.length; i += READ_MANY_CHUNK) {
      const chunk = unique.slice(i, i + READ_MANY_CHUNK);
      const { searchEntries } = await this.call(`reading ${chunk.length} people`, (c) => c.search(this.peopleDn, {
        scope: 'sub', filter: and(eq('objectClass', PERSON_OBJECT_CLASS), anyOf(A.id, chunk)), attributes: attrs,
      }));
      for (const e of searchEntries) {
        const r = toRecord(e);
        const id = (first(r, A.id) ?? Object.entries(r.attrs).find(([k]) => k.toLowerCase() === A.id.toLowerCase())?.[1][0])?.toLowerCase();
        if (id === undefined || !asked.has(id)) continue;
        found.set(id, [...(found.get(id) ?? []), r]);
      }
    }
    const out = new Map<string, PersonRecord | DirectoryError>();
    for (const [k, records] of found) {
      const value = records.length === 1 ? records[0]! : new DirectoryError(`more than one directory entry has ${A.id}=${k}: ${records.map((f) => f.dn).join('; ')}`);
      for (const id of asked.get(k)!) out.set(id, value);
    }
    return out;
  }

  /** How many people match `filter` (paged, so any number), e.g. a target's provisioned accounts. */
  async count(filter: Filter): Promise<number> {
    await this.call('binding', async () => {});
    let n = 0;
    try {
      for await (const page of this.client.searchPaginated(this.peopleDn, { scope: 'sub', filter: and(eq('objectClass', PERSON_OBJECT_CLASS), filter), attributes: ['1.1'], paged: { pageSize: 1000 } })) {
        n += page.searchEntries.length;
      }
    } catch (e) {
      throw this.reported(e, 'counting people');
    }
    this.health.markUp();
    return n;
  }

  /** Every person's id, a page at a time (for snapshots of 100,000 people without holding them all). */
  async *personIds(pageSize = 1000): AsyncGenerator<string[]> {
    await this.call('binding', async () => {});
    try {
      for await (const page of this.client.searchPaginated(this.peopleDn, {
        scope: 'sub', filter: eq('objectClass', PERSON_OBJECT_CLASS), attributes: [A.id], paged: { pageSize },
      })) {
        this.health.markUp();
        const ids = page.searchEntries.map((e) => String(e[A.id] ?? '')).filter(Boolean);
        if (ids.length) yield ids;
      }
    } catch (e) {
      throw this.reported(e, 'listing people');
    }
  }

  /** The writeback: replaces the status attributes (adding the auxiliary class first when missing). */
  async writeStatus(dn: string, addObjectClasses: string[], replace: Record<string, string[]>): Promise<void> {
    const changes = [
      ...(addObjectClasses.length ? [new Change({ operation: 'add', modification: new Attribute({ type: 'objectClass', values: addObjectClasses }) })] : []),
      ...Object.entries(replace).map(([type, vals]) => new Change({ operation: 'replace', modification: new Attribute({ type, values: vals }) })),
    ];
    await this.call('writing the provisioning status', (c) => c.modify(dn, changes));
  }
}
