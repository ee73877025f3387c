/**
 * Pure: desired vs. actual → operations, the seed's "match and update Lenel" as data. A name
 * change is a rename and a department change a move (both update the cardholder in place); a
 * person who loses entitlement has the badge set to the inactive status, never deleted; access
 * levels are added and removed only among those the mapping names.
 */
import type { AttributeChange, Operation, OperationDeclarations, Plan } from '../../spi/index.js';
import type { PropertyMap } from './client.js';
import type { LenelConfig } from './config.js';
import type { Desired, DesiredCardholder } from './desired.js';
import type { Actual, Cardholder } from './read.js';

export const LENEL_OPERATIONS = {
  kinds: ['grant', 'revoke'], counters: ['accessLevelsAdded', 'accessLevelsRemoved'],
} as const satisfies OperationDeclarations;
export type LenelKind = (typeof LENEL_OPERATIONS.kinds)[number];

export interface Lookups { title?: string; department?: string }

/** What apply needs (not published). */
export type Payload =
  | { action: 'create'; map: PropertyMap; lookups: Lookups }
  | { action: 'modify'; id: number; map: PropertyMap; lookups: Lookups }
  /** A badge of the managed type for the cardholder (id absent: the one the same plan creates). */
  | { action: 'issue'; personId?: number }
  | { action: 'status'; badgeKey: number; active: boolean }
  /** badgeKey absent: the badge the same plan issues. */
  | { action: 'grant'; level: string; badgeKey?: number }
  | { action: 'revoke'; level: string; badgeKey: number };

export type LenelOperation = Operation<Payload, LenelKind>;

const REDACTED = '[redacted]';

/** The directory attribute a field is made from (its values are redacted in changes when sensitive). */
function source(field: string, cfg: LenelConfig): string | null {
  switch (field) {
    case 'FIRSTNAME': return cfg.attributes.firstname;
    case 'LASTNAME': return cfg.attributes.lastname;
    case 'EMAIL': return cfg.attributes.email;
    case 'EXT': return cfg.attributes.ext;
    case 'TITLE': return cfg.attributes.title;
    case 'SSNO': return cfg.key.join('|');
    default: return cfg.udfs[field] ?? null;
  }
}

function changeOf(field: string, from: string | null, to: string | null, cfg: LenelConfig, sensitive: readonly string[]): AttributeChange {
  const src = source(field, cfg) ?? '';
  const secret = /nationalid|fnr|password/i.test(src) || src.split('|').some((a) => sensitive.some((s) => s.toLowerCase() === a.toLowerCase()));
  const show = (v: string | null) => (v === null ? null : secret ? REDACTED : v);
  return { attribute: field, from: show(from), to: show(to) };
}

/** The cardholder's plain fields as OnGuard takes them. */
function plainFields(c: DesiredCardholder): Record<string, string> {
  const out: Record<string, string> = { FIRSTNAME: c.FIRSTNAME, LASTNAME: c.LASTNAME };
  if (c.EMAIL !== undefined) out.EMAIL = c.EMAIL;
  if (c.EXT !== undefined) out.EXT = c.EXT;
  return { ...out, ...c.udfs };
}

function actualField(a: Cardholder, field: string): string {
  if (field in a.udfs) return a.udfs[field]!;
  return String((a as unknown as Record<string, unknown>)[field] ?? '');
}

const NAME_FIELDS = new Set(['FIRSTNAME', 'LASTNAME']);

export function planLenel(d: Desired | null, a: Actual, cfg: LenelConfig, sensitive: readonly string[]): Plan<Payload, LenelKind> {
  const ops: LenelOperation[] = [];
  const change = (f: string, from: string | null, to: string | null) => changeOf(f, from, to, cfg, sensitive);

  if (!d) {
    if (!a.cardholder) return { operations: [], skipReason: 'not entitled and no cardholder' };
    const accountId = String(a.cardholder.ID);
    if (a.badge && a.badge.STATUS === cfg.badge.activeStatus) {
      ops.push({
        kind: 'disable', destructive: true, detail: `badge ${a.badge.ID} set to status ${cfg.badge.inactiveStatus}`,
        changes: [{ attribute: 'badge.STATUS', from: String(a.badge.STATUS), to: String(cfg.badge.inactiveStatus) }],
        payload: { action: 'status', badgeKey: a.badge.BADGEKEY, active: false },
      });
    }
    return { operations: ops, accountId };
  }

  const lookups: Lookups = {};
  if (d.title !== undefined) lookups.title = d.title;
  if (d.department !== undefined) lookups.department = d.department;

  if (!a.cardholder) {
    const fields = plainFields(d.cardholder);
    ops.push({
      kind: 'create', detail: `cardholder with a badge of type ${cfg.badge.type}`,
      changes: [change('SSNO', null, d.key), ...Object.entries(fields).map(([k, v]) => change(k, null, v)),
        ...(d.title !== undefined ? [change('TITLE', null, d.title)] : []), ...(d.department !== undefined ? [change('DEPT', null, d.department)] : [])],
      payload: { action: 'create', map: { SSNO: d.key, ...fields }, lookups },
    });
    for (const level of d.levels) ops.push({ kind: 'grant', counter: 'accessLevelsAdded', detail: `access level ${level}`, payload: { action: 'grant', level } });
    return { operations: ops };
  }

  const c = a.cardholder;
  const accountId = String(c.ID);
  const fields = plainFields(d.cardholder);
  const renamed: PropertyMap = {};
  const updated: PropertyMap = {};
  const renameChanges: AttributeChange[] = [];
  const updateChanges: AttributeChange[] = [];
  for (const [f, want] of Object.entries(fields)) {
    const have = actualField(c, f);
    if (want === have) continue;
    if (NAME_FIELDS.has(f)) {
      renamed[f] = want;
      renameChanges.push(change(f, have, want));
    } else {
      updated[f] = want;
      updateChanges.push(change(f, have, want));
    }
  }
  const updateLookups: Lookups = {};
  if (d.title !== undefined && d.title !== c.title) {
    updateLookups.title = d.title;
    updateChanges.push(change('TITLE', c.title, d.title));
  }
  if (renameChanges.length) ops.push({ kind: 'rename', changes: renameChanges, payload: { action: 'modify', id: c.ID, map: renamed, lookups: {} } });
  if (d.department !== undefined && d.department !== c.department) {
    ops.push({ kind: 'move', changes: [change('DEPT', c.department, d.department)], payload: { action: 'modify', id: c.ID, map: {}, lookups: { department: d.department } } });
  }
  if (updateChanges.length) ops.push({ kind: 'update', changes: updateChanges, payload: { action: 'modify', id: c.ID, map: updated, lookups: updateLookups } });

  const badge = a.badge;
  if (!badge) {
    ops.push({ kind: 'enable', detail: `issue a badge of type ${cfg.badge.type}`, payload: { action: 'issue', personId: c.ID } });
  } else if (badge.STATUS === cfg.badge.inactiveStatus) {
    ops.push({
      kind: 'enable', detail: `badge ${badge.ID} set to status ${cfg.badge.activeStatus}`,
      changes: [{ attribute: 'badge.STATUS', from: String(badge.STATUS), to: String(cfg.badge.activeStatus) }],
      payload: { action: 'status', badgeKey: badge.BADGEKEY, active: true },
    });
  }
  // A badge in another status (lost, returned...) was set so by someone on purpose: tilgang leaves it, and its levels.
  if (!badge || badge.STATUS === cfg.badge.activeStatus || badge.STATUS === cfg.badge.inactiveStatus) {
    const have = new Set(a.levels);
    const want = new Set(d.levels);
    for (const level of d.levels) {
      if (!have.has(level)) ops.push({ kind: 'grant', counter: 'accessLevelsAdded', detail: `access level ${level}`, payload: { action: 'grant', level, ...(badge ? { badgeKey: badge.BADGEKEY } : {}) } });
    }
    for (const level of a.levels) {
      if (!want.has(level) && badge) ops.push({ kind: 'revoke', counter: 'accessLevelsRemoved', destructive: true, detail: `access level ${level}`, payload: { action: 'revoke', level, badgeKey: badge.BADGEKEY } });
    }
  }
  return ops.length ? { operations: ops, accountId } : { operations: [], accountId };
}
