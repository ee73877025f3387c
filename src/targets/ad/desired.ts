/**
 * What a person's AD account should be (pure): the seed's "transform record" step. Only the
 * attributes below are built, so nothing else from the directory (national id, roles…) reaches AD.
 */
import { childDn, rdnValue } from '../../lib/ldap/dn.js';
import { first, TerminalError, values, type OrgUnit, type PersonContext } from '../../spi/index.js';
import type { AdConfig } from './config.js';
import { addressCandidates } from './names.js';

/** Single- or multi-valued AD attributes tilgang sets; an empty list clears the attribute. */
export type AdAttributes = Record<string, string[]>;

export interface Desired {
  /** idautoID, written to the configured anchor attribute. */
  anchor: string;
  username: string;
  /** The cn before it is made unique in its OU. */
  fullName: string;
  /** The OU the account belongs in, and the OUs from the placement root down to it (created when missing). */
  parentDn: string;
  ouChain: string[];
  /** Plain attributes compared and replaced as they are (sAMAccountName, UPN, names, department…). */
  attributes: AdAttributes;
  /** Full-name address local parts, best first; the first free one becomes the primary SMTP address. */
  addressCandidates: string[];
  /** username@mailDomain, the secondary address. */
  usernameAddress: string;
  /** The manager's idautoID (from their directory DN); null when the person has none. */
  managerId: string | null;
  /** The manager's directory DN as the record names it, for messages. */
  managerRecordDn: string | null;
}

// AD's sAMAccountName: at most 20 characters, none of " / \ [ ] : ; | = , + * ? < > @.
const SAM = /^[^"/\\[\]:;|=,+*?<>@\s]{1,20}$/;

const value = (p: PersonContext, attr: string | null): string => (attr ? (first(p.record, attr) ?? '').trim() : '');

/** The placement root for the person's primary affiliation. */
export function rootOu(affiliation: string, cfg: AdConfig): string {
  const a = affiliation.toLowerCase();
  if (a === 'employee') return cfg.ous.employee;
  if (a === 'student') return cfg.ous.student;
  return cfg.ous.other ?? cfg.ous.employee;
}

/** The OU DNs from the root down: faculty, then department, … (MV lists the unit first, its parents after). */
export function ouChain(root: string, units: readonly OrgUnit[], levels: number): string[] {
  const topDown = [...units].reverse().slice(0, levels);
  const chain: string[] = [];
  let parent = root;
  for (const u of topDown) {
    parent = childDn('OU', u.adOu, parent);
    chain.push(parent);
  }
  return chain;
}

export function samAccountName(p: PersonContext, cfg: AdConfig): string {
  const raw = value(p, cfg.attributes.username);
  if (!SAM.test(raw)) {
    throw new TerminalError(`person ${p.id}, target ad: ${cfg.attributes.username} "${raw}" cannot be a sAMAccountName (1–20 characters, none of "/\\[]:;|=,+*?<>@ or spaces)`,
      'invalid-username', cfg.attributes.username);
  }
  return raw;
}

export function desired(p: PersonContext, cfg: AdConfig): Desired | null {
  if (!p.entitled) return null;
  const username = samAccountName(p, cfg);
  const givenName = value(p, cfg.attributes.givenName);
  const sn = value(p, cfg.attributes.sn);
  const fullName = value(p, cfg.attributes.fullName) || [givenName, sn].filter(Boolean).join(' ');
  const unit = p.mv?.orgUnits?.[0];
  const stedkode = unit?.stedkode ?? value(p, cfg.attributes.deptCode);
  const root = rootOu(value(p, cfg.attributes.affiliation) || p.mv?.primaryAffiliation || '', cfg);
  const chain = [root, ...ouChain(root, p.mv?.orgUnits ?? [], cfg.placementLevels)];
  const optional = (attr: string | null) => (attr ? [value(p, attr)].filter(Boolean) : undefined);
  const attributes: AdAttributes = {
    sAMAccountName: [username],
    userPrincipalName: [`${username}@${cfg.upnSuffix}`],
    givenName: [givenName].filter(Boolean),
    sn: [sn].filter(Boolean),
    [cfg.anchor]: [p.id],
  };
  const set = (ad: string, v: string[] | undefined) => { if (v !== undefined) attributes[ad] = v; };
  set('displayName', cfg.attributes.displayName ? [value(p, cfg.attributes.displayName) || fullName] : undefined);
  set('mail', optional(cfg.attributes.mail));
  set('employeeType', optional(cfg.attributes.employeeType));
  set('title', optional(cfg.attributes.title));
  set('extensionAttribute1', optional(cfg.attributes.extensionAttribute1));
  set('department', cfg.department ? [unit?.[cfg.department] ?? ''].filter(Boolean) : undefined);
  set('departmentNumber', [stedkode].filter(Boolean));
  if (cfg.reservation) {
    const r = cfg.reservation;
    const reserved = values(p.record, r.source).some((v) => v.toLowerCase() === r.value.toLowerCase());
    set(r.attribute, reserved ? ['TRUE'] : []);
  }
  const managerRecordDn = cfg.attributes.manager ? value(p, cfg.attributes.manager) || null : null;
  return {
    anchor: p.id, username, fullName, parentDn: chain.at(-1)!, ouChain: chain, attributes,
    addressCandidates: addressCandidates(givenName, sn),
    usernameAddress: `${username}@${cfg.mailDomain}`.toLowerCase(),
    managerId: managerRecordDn ? managerIdOf(managerRecordDn) : null,
    managerRecordDn,
  };
}

/** The manager's idautoID: the RDN of their directory DN (idautoID=…,ou=Accounts,…). */
function managerIdOf(dn: string): string | null {
  try {
    return rdnValue(dn, 'idautoID') ?? null;
  } catch {
    return null;
  }
}
