/**
 * Pure: desired vs. actual → operations, the seed's "match and update AD" step as data: create
 * (with its OUs), update only what differs, rename (cn), move (OU), enable, disable. Never delete.
 */
import { childDn, dnEquals, normalizeDn, parentDn, rdnValue } from '../../lib/ldap/dn.js';
import type { AttributeChange, Operation, Plan } from '../../spi/index.js';
import type { AdConfig } from './config.js';
import type { Desired } from './desired.js';
import { cnCandidates, firstFree, isCnOf, primarySmtp, proxyAddresses } from './names.js';
import { UAC_DISABLED, type Actual } from './read.js';

export type Payload =
  | { kind: 'create'; dn: string; ous: string[]; attributes: Record<string, string[]>; reports: string[] }
  | { kind: 'update'; dn: string; replace: Record<string, string[]> }
  | { kind: 'rename' | 'move'; dn: string; newDn: string; ous: string[] }
  | { kind: 'enable' | 'disable'; dn: string; userAccountControl: number };

export type AdOperation = Operation<Payload>;

/** A normal account (512): what tilgang creates; disabling sets ACCOUNTDISABLE (2) and keeps the other flags. */
export const UAC_NORMAL = 0x200;

const show = (v: string[]): string | null => (v.length ? v.join('; ') : null);

/** Multi-valued attributes compare as sets; the rest as the single value (AD keeps case as written). */
function same(a: string[], b: string[], attr: string): boolean {
  if (attr === 'manager') return a.length === b.length && a.every((x, i) => dnEquals(x, b[i]!));
  if (attr === 'proxyAddresses' || attr === 'departmentNumber') {
    return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
  }
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** OUs of the chain that do not exist yet, top-down. */
function missingOus(d: Desired, a: Actual): string[] {
  const have = new Set(a.existingOus);
  return d.ouChain.filter((ou) => !have.has(normalizeDn(ou)));
}

/** The attributes the account should carry besides its name: the plain ones, manager, proxyAddresses. */
function wanted(d: Desired, a: Actual, cfg: AdConfig, existingProxies: string[]): { attrs: Record<string, string[]>; managerNote?: string } {
  const attrs: Record<string, string[]> = { ...d.attributes };
  let managerNote: string | undefined;
  if (!cfg.attributes.manager) { /* not managed */ } else if (d.managerRecordDn === null) attrs.manager = [];
  else if (a.managerDn) attrs.manager = [a.managerDn];
  else if (d.managerId === null) managerNote = `manager ${d.managerRecordDn} is not a person's directory DN; manager left as it is`;
  else managerNote = `manager ${d.managerRecordDn} has no AD account yet; set when it is created`;
  const kept = primarySmtp(existingProxies);
  // A primary address, once assigned, is kept: mail to it must keep arriving.
  const primary = kept ?? `${firstFree(d.addressCandidates, a.addressesTaken) ?? d.username}@${cfg.mailDomain}`;
  attrs.proxyAddresses = proxyAddresses(primary, d.usernameAddress, existingProxies);
  return { attrs, managerNote };
}

export function planAd(d: Desired | null, a: Actual, cfg: AdConfig): Plan<Payload> {
  const acc = a.account;
  if (!acc && !d) return { operations: [], skipReason: 'not entitled and no account' };

  if (!acc) {
    const d0 = d!;
    const cn = firstFree(cnCandidates(d0.fullName), a.cnTaken) ?? `${d0.fullName} ${d0.anchor.slice(0, 8)}`;
    const dn = childDn('CN', cn, d0.parentDn);
    const { attrs, managerNote } = wanted(d0, a, cfg, []);
    const attributes = Object.fromEntries(Object.entries(attrs).filter(([, v]) => v.length));
    const changes: AttributeChange[] = [{ attribute: 'dn', from: null, to: dn },
      ...Object.entries(attributes).map(([k, v]) => ({ attribute: k, from: null, to: show(v) }))];
    const notes = [managerNote, a.reports.length ? `manager of ${a.reports.length} existing account(s)` : undefined].filter(Boolean);
    return {
      operations: [{ kind: 'create', changes, detail: [`create ${dn}`, ...notes].join('; '),
        payload: { kind: 'create', dn, ous: missingOus(d0, a), attributes, reports: a.reports } }],
    };
  }

  const ops: AdOperation[] = [];
  const disabled = (acc.userAccountControl & UAC_DISABLED) !== 0;
  if (!d) {
    // An account tilgang did not link (no anchor) is not tilgang's to disable.
    if (!acc.anchor) return { operations: [], skipReason: 'not entitled; the matching account is not linked to this person', accountId: acc.dn };
    if (!disabled) {
      const uac = acc.userAccountControl | UAC_DISABLED;
      ops.push({ kind: 'disable', destructive: true, changes: [{ attribute: 'userAccountControl', from: String(acc.userAccountControl), to: String(uac) }],
        payload: { kind: 'disable', dn: acc.dn, userAccountControl: uac } });
    }
    if (cfg.ous.disabled && !dnEquals(acc.parentDn, cfg.ous.disabled)) {
      const newDn = childDn('CN', acc.cn, cfg.ous.disabled);
      ops.push({ kind: 'move', changes: [{ attribute: 'dn', from: acc.dn, to: newDn }], detail: `move to ${cfg.ous.disabled}`,
        payload: { kind: 'move', dn: acc.dn, newDn, ous: [cfg.ous.disabled] } });
    }
    return { operations: ops, accountId: acc.dn };
  }

  // Update: only what differs.
  const { attrs, managerNote } = wanted(d, a, cfg, acc.attributes.proxyAddresses ?? []);
  const replace: Record<string, string[]> = {};
  const changes: AttributeChange[] = [];
  for (const [k, v] of Object.entries(attrs)) {
    const have = acc.attributes[k] ?? [];
    if (same(have, v, k)) continue;
    replace[k] = v;
    changes.push({ attribute: k, from: show(have), to: show(v) });
  }
  if (changes.length) ops.push({ kind: 'update', changes, detail: managerNote, payload: { kind: 'update', dn: acc.dn, replace } });

  // Rename (the cn, in place) and move (the OU): each its own operation and counter.
  const moving = !dnEquals(acc.parentDn, d.parentDn);
  const cn = isCnOf(acc.cn, d.fullName) && !a.cnTaken.includes(acc.cn.toLowerCase())
    ? acc.cn
    : firstFree(cnCandidates(d.fullName), a.cnTaken) ?? `${d.fullName} ${d.anchor.slice(0, 8)}`;
  let dn = acc.dn;
  if (cn !== acc.cn) {
    const newDn = childDn('CN', cn, parentDn(dn)!);
    ops.push({ kind: 'rename', changes: [{ attribute: 'cn', from: acc.cn, to: cn }], payload: { kind: 'rename', dn, newDn, ous: [] } });
    dn = newDn;
  }
  if (moving) {
    const newDn = childDn('CN', rdnValue(dn, 'cn')!, d.parentDn);
    ops.push({ kind: 'move', changes: [{ attribute: 'dn', from: dn, to: newDn }], detail: `move to ${d.parentDn}`,
      payload: { kind: 'move', dn, newDn, ous: missingOus(d, a) } });
    dn = newDn;
  }
  if (disabled) {
    const uac = acc.userAccountControl & ~UAC_DISABLED;
    ops.push({ kind: 'enable', changes: [{ attribute: 'userAccountControl', from: String(acc.userAccountControl), to: String(uac) }],
      payload: { kind: 'enable', dn, userAccountControl: uac } });
  }
  return { operations: ops, accountId: dn };
}
