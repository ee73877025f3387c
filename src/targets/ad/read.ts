/**
 * Read (the seed's "check existence in AD"): the account, matched by its anchor and else by
 * sAMAccountName, and the facts plan needs and cannot look up itself — the manager's account,
 * the cns and addresses others hold, which OUs exist, reports waiting for this manager.
 */
import { Client as LdapClient, NoSuchObjectError, type Entry } from 'ldapts';
import { Batcher } from '../../lib/batching.js';
import { withDeadline } from '../../lib/health.js';
import { dnEquals, normalizeDn, parentDn } from '../../lib/ldap/dn.js';
import { and, anyOf, eq, not, or, present } from '../../lib/ldap/filter.js';
import { A, first, readSecret, TerminalError, type GlobalConfig, type ManagedAccount, type PersonContext } from '../../spi/index.js';
import { adError, strings, type AdConnection } from './client.js';
import type { AdConfig } from './config.js';
import type { Desired } from './desired.js';
import { cnCandidates, isCnOf, primarySmtp } from './names.js';

export const UAC_DISABLED = 0x2;

export interface AdAccount {
  dn: string;
  cn: string;
  parentDn: string;
  userAccountControl: number;
  /** The anchor attribute's value; null on an account tilgang has not linked (matched by sAMAccountName). */
  anchor: string | null;
  /** Every attribute tilgang manages, as read (absent = []). */
  attributes: Record<string, string[]>;
}

export interface Actual {
  account: AdAccount | null;
  /** The manager's AD DN; null when the manager has no account yet; undefined when there is no manager. */
  managerDn?: string | null;
  /** cns (lower-case) of other entries in the OU the account belongs in. */
  cnTaken: string[];
  /** Full-name address local parts (lower-case) other accounts hold. */
  addressesTaken: string[];
  /** Normalised DNs of the placement OUs that exist. */
  existingOus: string[];
  /** AD DNs of the person's reports that have no manager yet (read only when the account is created). */
  reports: string[];
}

/** Keys of the account lookups a wave shares: an anchor value or a sAMAccountName. */
type AccountKey = `anchor:${string}` | `sam:${string}`;

/** How long a bind or search of the portal directory (a new manager's reports) may take. */
const PORTAL_TIMEOUT_MS = 30_000;

/** Accounts looked up together: at most this many keys in one search filter. */
const LOOKUP_BATCH = 100;
/** How long a lookup waits for the other people of its wave (each arrives after its own reads). */
const LOOKUP_LINGER_MS = 10;

/** A portal-directory connection: the client, its bind (under a deadline), and whether the bind has ended. */
interface PortalConnection { client: LdapClient; ready: Promise<LdapClient>; settled: boolean }

/** The AD side of the target: LDAPS to the domain, and the portal directory for a new manager's reports. */
export class AdSession {
  private directory?: PortalConnection;
  /**
   * User accounts by anchor or sAMAccountName, the lookups of people read at the same time in one
   * search. The anchor attribute is usually not indexed (employeeNumber is not, in AD's schema):
   * each search by it scans every object of the domain, so one scan serves a whole wave.
   */
  private readonly accounts: Batcher<AccountKey, Entry[]>;
  /** Placement OUs seen to exist (normalised DNs); forgotten when a write says one is gone. */
  private readonly ous = new Set<string>();

  constructor(readonly ad: AdConnection, readonly cfg: AdConfig, readonly global: GlobalConfig) {
    this.accounts = new Batcher((keys) => this.fetchAccounts(keys), LOOKUP_BATCH, () => [], LOOKUP_LINGER_MS);
  }

  /** The user accounts whose anchor is `value` (`anchor:`) or whose sAMAccountName is (`sam:`). */
  findAccounts(key: AccountKey): Promise<Entry[]> {
    return this.accounts.load(key);
  }

  private async fetchAccounts(keys: AccountKey[]): Promise<Map<AccountKey, Entry[]>> {
    const anchor = this.cfg.anchor;
    const terms = keys.map((k) => (k.startsWith('anchor:') ? eq(anchor, k.slice(7)) : eq('sAMAccountName', k.slice(4))));
    const c = await this.ad.client();
    const { searchEntries } = await c.search(this.cfg.baseDn, { scope: 'sub', filter: and(USER, or(...terms)), attributes: managedAttributes(this.cfg), paged: false });
    // AD compares these values case-insensitively: so does the sorting of the answer.
    const out = new Map<AccountKey, Entry[]>();
    const add = (k: AccountKey, e: Entry) => out.set(k, [...(out.get(k) ?? []), e]);
    for (const e of searchEntries) {
      for (const v of strings(e, anchor)) add(`anchor:${v.toLowerCase()}`, e);
      for (const v of strings(e, 'sAMAccountName')) add(`sam:${v.toLowerCase()}`, e);
    }
    return new Map(keys.map((k) => [k, out.get(k.toLowerCase() as AccountKey) ?? []]));
  }

  /** Whether an OU is known to exist (seen by a search or made by tilgang). */
  ouExists(dn: string): boolean {
    return this.ous.has(normalizeDn(dn));
  }

  noteOu(dn: string): void {
    this.ous.add(normalizeDn(dn));
  }

  /** A write found an entry missing: an OU may have been removed, look them up again. */
  forgetOus(): void {
    this.ous.clear();
  }

  /**
   * The portal directory, as tilgang's service account, opened on first use and shared by the
   * wave's searches. A connection that closed is not reconnected by ldapts (it would reconnect once
   * per waiting search, a socket each, hundreds for a wave of new people): the next search opens a
   * new one, bound once for all.
   */
  portal(): Promise<LdapClient> {
    const open = this.directory;
    if (open && (open.client.isConnected || !open.settled)) return open.ready;
    if (open) this.dropPortal(open.client);
    const d = this.global.directory;
    // autoRebind as well: were ldapts to reconnect all the same, it would do so anonymously, and an
    // anonymous search of the people finds nothing (noSuchObject), which would read as a person gone.
    const client = new LdapClient({ url: d.url, timeout: PORTAL_TIMEOUT_MS, connectTimeout: 5000, autoRebind: true });
    const entry: PortalConnection = { client, settled: false,
      ready: withDeadline(client.bind(d.bindDn, readSecret(d.password, 'directory.password')), PORTAL_TIMEOUT_MS,
        () => new Error(`the directory did not answer the bind within ${PORTAL_TIMEOUT_MS} ms`)).then(() => client) };
    void entry.ready.then(() => { entry.settled = true; }, () => { entry.settled = true; this.dropPortal(client); });
    this.directory = entry;
    return entry.ready;
  }

  /** Searches the portal directory under a deadline; a failed connection is dropped and the next search opens a new one. */
  async searchPortal(base: string, options: Parameters<LdapClient['search']>[1]): Promise<Entry[]> {
    const c = await this.portal();
    try {
      return (await withDeadline(c.search(base, options), PORTAL_TIMEOUT_MS, () => new Error(`the directory did not answer within ${PORTAL_TIMEOUT_MS} ms`))).searchEntries;
    } catch (e) {
      if (!(e instanceof NoSuchObjectError)) this.dropPortal(c);
      throw e;
    }
  }

  /** Forgets this connection (if it is still the one in use) and closes it. */
  private dropPortal(c: LdapClient): void {
    if (this.directory?.client === c) this.directory = undefined;
    void c.unbind().catch(() => {});
  }

  async close(): Promise<void> {
    await this.ad.close();
    if (this.directory) this.dropPortal(this.directory.client);
  }
}

export function managedAttributes(cfg: AdConfig): string[] {
  const names = ['cn', 'userAccountControl', 'proxyAddresses', 'manager', 'sAMAccountName', 'userPrincipalName', 'givenName', 'sn',
    'displayName', 'mail', 'employeeType', 'title', 'extensionAttribute1', 'department', 'departmentNumber', cfg.anchor];
  if (cfg.reservation) names.push(cfg.reservation.attribute);
  return [...new Set(names)];
}

function toAccount(e: Entry, cfg: AdConfig): AdAccount {
  const attributes: Record<string, string[]> = {};
  for (const a of managedAttributes(cfg)) attributes[a] = strings(e, a);
  return {
    dn: e.dn,
    cn: attributes.cn?.[0] ?? '',
    parentDn: parentDn(e.dn) ?? '',
    userAccountControl: Number(attributes.userAccountControl?.[0] ?? 0),
    anchor: attributes[cfg.anchor]?.[0] ?? null,
    attributes,
  };
}

const USER = eq('objectClass', 'user');

export async function readActual(person: PersonContext, d: Desired | null, s: AdSession): Promise<Actual> {
  const cfg = s.cfg;
  const username = d?.username ?? (first(person.record, cfg.attributes.username) ?? '').trim();
  const c = await s.ad.client();
  const search = async (base: string, filter: ReturnType<typeof eq>, attributes: string[], scope: 'sub' | 'one' | 'base' = 'sub') => {
    try {
      return (await c.search(base, { scope, filter, attributes, paged: false })).searchEntries;
    } catch (e) {
      if (e instanceof NoSuchObjectError && scope !== 'sub') return [];
      throw adError(e, person.id, `search ${base}`);
    }
  };

  let found: Entry[];
  try {
    const lists = await Promise.all([s.findAccounts(`anchor:${person.id}`), ...(username ? [s.findAccounts(`sam:${username}`)] : [])]);
    found = [...new Map(lists.flat().map((e) => [normalizeDn(e.dn), e])).values()];
  } catch (e) {
    throw adError(e, person.id, `search ${cfg.baseDn}`);
  }
  if (found.length > 1) {
    throw new TerminalError(`person ${person.id}, target ad: duplicate accounts (${cfg.anchor} ${person.id} or sAMAccountName ${username}): ${found.map((e) => e.dn).join('; ')}`,
      'duplicate', cfg.anchor);
  }
  const account = found[0] ? toAccount(found[0], cfg) : null;
  if (account?.anchor && account.anchor !== person.id) {
    throw new TerminalError(`person ${person.id}, target ad: sAMAccountName ${username} belongs to another person's account ${account.dn} (${cfg.anchor} ${account.anchor})`,
      'username-taken', 'sAMAccountName');
  }
  const actual: Actual = { account, cnTaken: [], addressesTaken: [], existingOus: [], reports: [] };
  if (!d) return actual;

  const moving = !account || !dnEquals(account.parentDn, d.parentDn);
  const [manager, ous, cns, addresses, reports] = await Promise.all([
    d.managerId ? s.findAccounts(`anchor:${d.managerId}`).catch((e: unknown) => { throw adError(e, person.id, `search ${cfg.baseDn} for the manager`); }) : undefined,
    moving ? Promise.all(d.ouChain.map(async (ou) => {
      if (s.ouExists(ou)) return normalizeDn(ou);
      if (!(await search(ou, present('objectClass'), ['1.1'], 'base')).length) return null;
      s.noteOu(ou);
      return normalizeDn(ou);
    })) : [],
    // The cns the account could take (and the one it has), by equality on the indexed cn.
    moving || !isCnOf(account.cn, d.fullName)
      ? search(d.parentDn, or(...[...cnCandidates(d.fullName), ...(account ? [account.cn] : [])].map((v) => eq('cn', v))), ['cn'], 'one')
      : [],
    !account || !primarySmtp(account.attributes.proxyAddresses ?? [])
      ? search(cfg.baseDn, or(...d.addressCandidates.flatMap((l) => [eq('proxyAddresses', `smtp:${l}@${cfg.mailDomain}`), eq('mail', `${l}@${cfg.mailDomain}`)])), ['proxyAddresses', 'mail'])
      : [],
    account ? [] : reportsWithoutManager(person, s),
  ]);
  if (manager) actual.managerDn = manager[0]?.dn ?? null;
  actual.existingOus = (ous as (string | null)[]).filter((x): x is string => x !== null);
  actual.cnTaken = cns.filter((e) => !account || !dnEquals(e.dn, account.dn)).map((e) => (strings(e, 'cn')[0] ?? '').toLowerCase());
  const candidates = new Set(d.addressCandidates);
  actual.addressesTaken = addresses
    .filter((e) => !account || !dnEquals(e.dn, account.dn))
    .flatMap((e) => [...strings(e, 'proxyAddresses').map((p) => p.slice(5)), ...strings(e, 'mail')])
    .map((a) => a.toLowerCase())
    .filter((a) => a.endsWith(`@${cfg.mailDomain.toLowerCase()}`))
    .map((a) => a.slice(0, a.lastIndexOf('@')))
    .filter((l) => candidates.has(l));
  actual.reports = reports;
  return actual;

  /** People whose directory record names this person as manager and whose AD account has none yet. */
  async function reportsWithoutManager(p: PersonContext, session: AdSession): Promise<string[]> {
    if (!cfg.attributes.manager) return [];
    let ids: string[];
    try {
      const found = await session.searchPortal(session.global.directory.peopleDn, { scope: 'sub', filter: eq(cfg.attributes.manager, p.record.dn), attributes: ['idautoID'] });
      ids = found.flatMap((e) => strings(e, 'idautoID'));
    } catch (e) {
      throw adError(e, p.id, 'reading the reports of a new manager from the directory');
    }
    if (!ids.length) return [];
    const rs = await search(cfg.baseDn, and(USER, anyOf(cfg.anchor, ids), not(present('manager'))), ['1.1']);
    return rs.map((e) => e.dn);
  }
}


/**
 * The accounts tilgang placed: user accounts carrying the anchor attribute below the OUs tilgang
 * places accounts in (employee, student, other, disabled; never the rest of the domain), a page at
 * a time. The anchor holds the person's idautoID.
 */
export async function* listManagedAccounts(s: AdSession): AsyncIterable<ManagedAccount[]> {
  const cfg = s.cfg;
  const roots = [...new Map([cfg.ous.employee, cfg.ous.student, cfg.ous.other, cfg.ous.disabled]
    .filter((x): x is string => !!x).map((dn) => [normalizeDn(dn), dn])).values()]
    // An OU below another listed one is searched with its parent.
    .filter((dn, _i, all) => !all.some((o) => !dnEquals(o, dn) && normalizeDn(dn).endsWith(`,${normalizeDn(o)}`)));
  const c = await s.ad.client();
  const seen = new Set<string>();
  for (const root of roots) {
    try {
      for await (const page of c.searchPaginated(root, { scope: 'sub', filter: and(USER, present(cfg.anchor)), attributes: [cfg.anchor, 'sAMAccountName', 'userAccountControl'], paged: { pageSize: 500 } })) {
        const out: ManagedAccount[] = [];
        for (const e of page.searchEntries) {
          const key = strings(e, cfg.anchor)[0];
          if (!key || seen.has(normalizeDn(e.dn))) continue;
          seen.add(normalizeDn(e.dn));
          const sam = strings(e, 'sAMAccountName')[0];
          const match: Record<string, string[]> = { [A.id]: [key], ...(sam ? { [cfg.attributes.username]: [sam] } : {}) };
          out.push({ key, accountId: e.dn, ...(sam ? { name: sam } : {}), enabled: !(Number(strings(e, 'userAccountControl')[0] ?? 0) & UAC_DISABLED), match });
        }
        if (out.length) yield out;
      }
    } catch (e) {
      if (e instanceof NoSuchObjectError) continue; // an OU nobody has been placed in yet
      throw adError(e, '-', `search ${root}`);
    }
  }
}
