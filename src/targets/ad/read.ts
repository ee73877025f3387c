/**
 * Read (the seed's "check existence in AD"): the account, matched by its anchor and else by
 * sAMAccountName, and the facts plan needs and cannot look up itself — the manager's account,
 * the cns and addresses others hold, which OUs exist, reports waiting for this manager.
 */
import { Client as LdapClient, NoSuchObjectError, SubstringFilter, type Entry } from 'ldapts';
import { dnEquals, normalizeDn, parentDn } from '../../lib/ldap/dn.js';
import { and, anyOf, eq, not, or, present } from '../../lib/ldap/filter.js';
import { first, readSecret, TerminalError, type GlobalConfig, type PersonContext } from '../../spi/index.js';
import { adError, strings, type AdConnection } from './client.js';
import type { AdConfig } from './config.js';
import type { Desired } from './desired.js';
import { isCnOf, primarySmtp } from './names.js';

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

/** The AD side of the target: LDAPS to the domain, and the portal directory for a new manager's reports. */
export class AdSession {
  private directory?: Promise<LdapClient>;

  constructor(readonly ad: AdConnection, readonly cfg: AdConfig, readonly global: GlobalConfig) {}

  /** The portal directory, as tilgang's service account, opened on first use. */
  portal(): Promise<LdapClient> {
    if (!this.directory) {
      const d = this.global.directory;
      const c = new LdapClient({ url: d.url, timeout: 30_000, connectTimeout: 5000 });
      this.directory = c.bind(d.bindDn, readSecret(d.password, 'directory.password')).then(() => c);
      this.directory.catch(() => { this.directory = undefined; });
    }
    return this.directory;
  }

  async close(): Promise<void> {
    await this.ad.close();
    if (this.directory) await (await this.directory.catch(() => undefined))?.unbind().catch(() => {});
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

  const keys = [eq(cfg.anchor, person.id), ...(username ? [eq('sAMAccountName', username)] : [])];
  const found = await search(cfg.baseDn, and(USER, or(...keys)), managedAttributes(cfg));
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
    d.managerId ? search(cfg.baseDn, and(USER, eq(cfg.anchor, d.managerId)), ['1.1']) : undefined,
    moving ? Promise.all(d.ouChain.map(async (ou) => ((await search(ou, present('objectClass'), ['1.1'], 'base')).length ? normalizeDn(ou) : null))) : [],
    moving || !isCnOf(account.cn, d.fullName)
      ? search(d.parentDn, new SubstringFilter({ attribute: 'cn', initial: d.fullName }), ['cn'], 'one')
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
      const dir = await session.portal();
      const { searchEntries } = await dir.search(session.global.directory.peopleDn, { scope: 'sub', filter: eq(cfg.attributes.manager, p.record.dn), attributes: ['idautoID'] });
      ids = searchEntries.flatMap((e) => strings(e, 'idautoID'));
    } catch (e) {
      throw adError(e, p.id, 'reading the reports of a new manager from the directory');
    }
    if (!ids.length) return [];
    const rs = await search(cfg.baseDn, and(USER, anyOf(cfg.anchor, ids), not(present('manager'))), ['1.1']);
    return rs.map((e) => e.dn);
  }
}

