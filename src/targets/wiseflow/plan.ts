/**
 * Pure: desired vs. actual → operations, the seed's "create or update user" step as data. One
 * create carries everything (names, emails, roles, external ids, language) in WISEflow's single
 * create call; one update carries every difference of an existing user; disable and enable are
 * login deactivation, never a delete.
 */
import { TerminalError, type AttributeChange, type Operation, type Plan } from '../../spi/index.js';
import type { WiseflowConfig } from './config.js';
import { EXTERNAL_ID_KINDS, type Desired } from './desired.js';
import type { Actual, BasicInfo, Payload, UserChanges, WiseflowUser } from './types.js';

export type WiseflowOperation = Operation<Payload, never>;

const REDACTED = '[redacted]';

/** The attribute name of an external id in changes; the national id's values never leave the process. */
const idAttribute = (kind: string) => `externalId.${kind}`;
const show = (kind: string, v: string | null) => (v === null ? null : kind === 'nationalId' ? REDACTED : v);

/** Same language when equal, or when one says only the language of the other (nb vs nb_NO). */
function sameLanguage(want: string, have: string): boolean {
  if (want === have) return true;
  const [a, b] = [want.split('_'), have.split('_')];
  return a[0] === b[0] && (a.length === 1 || b.length === 1);
}

/** The managed roles' licence ids, refusing a role the licence does not have or protects (the start check catches it first). */
function roleIds(names: string[], a: Actual, personId: string): number[] {
  return names.map((n) => {
    const r = a.roles[n];
    if (!r || r.isProtected) throw new TerminalError(`person ${personId}, target wiseflow: role "${n}" is ${r ? 'protected' : 'not on the licence'}`, 'role', 'roles');
    return r.roleId;
  });
}

function basicOf(u: WiseflowUser): BasicInfo {
  return { firstName: u.firstName, lastName: u.lastName, phone: u.phone, language: u.language, loginDeactivated: u.deactivated };
}

export function planWiseflow(d: Desired | null, a: Actual, cfg: WiseflowConfig, personId: string): Plan<Payload> {
  const u = a.user;
  if (!u && !d) return { operations: [], skipReason: 'not entitled and no account' };
  if (!u) {
    const changes: AttributeChange[] = [
      { attribute: 'firstName', from: null, to: d!.firstName },
      { attribute: 'lastName', from: null, to: d!.lastName },
      { attribute: 'email', from: null, to: d!.primaryEmail },
      ...(d!.secondaryEmails?.length ? [{ attribute: 'secondaryEmails', from: null, to: d!.secondaryEmails.join(', ') }] : []),
      ...(d!.language ? [{ attribute: 'language', from: null, to: d!.language }] : []),
      ...d!.externalIds.map((x) => ({ attribute: idAttribute(x.kind), from: null, to: show(x.kind, x.value) })),
      ...(d!.roles.length ? [{ attribute: 'roles', from: null, to: d!.roles.join(', ') }] : []),
    ];
    return { operations: [{ kind: 'create', changes, payload: { action: 'create', user: d!, roleIds: roleIds(d!.roles, a, personId) }, detail: d!.sensor ? 'external examiner' : undefined } as WiseflowOperation] };
  }
  const accountId = String(u.id);
  // The user id goes back to the directory with the status (the seed wrote it to the person).
  const writeback = { userId: accountId };
  const ops: WiseflowOperation[] = [];
  if (!d) {
    if (!u.deactivated) {
      ops.push({
        kind: 'disable', destructive: true, changes: [{ attribute: 'loginDeactivated', from: 'false', to: 'true' }],
        payload: { action: 'login', userId: u.id, basic: { ...basicOf(u), loginDeactivated: true } },
      });
    }
    return { operations: ops, accountId, writeback };
  }
  const changes: AttributeChange[] = [];
  const c: UserChanges = {};

  const basic = basicOf(u);
  let basicChanged = false;
  for (const f of ['firstName', 'lastName'] as const) {
    if (d[f] === u[f]) continue;
    changes.push({ attribute: f, from: u[f], to: d[f] });
    basic[f] = d[f];
    basicChanged = true;
  }
  if (d.language && !sameLanguage(d.language, u.language)) {
    changes.push({ attribute: 'language', from: u.language, to: d.language });
    basic.language = d.language;
    basicChanged = true;
  }
  if (basicChanged) c.basic = basic;

  // Emails: the primary first (added as a secondary, then made primary: a primary added as such may
  // wait for activation), then secondaries; the old primary goes last, once it no longer is one.
  const have = new Map(u.emails.map((e) => [e.toLowerCase(), e]));
  const primaryNow = u.emails[0];
  const primaryChanged = primaryNow?.toLowerCase() !== d.primaryEmail.toLowerCase();
  const add: string[] = [];
  const remove: string[] = [];
  if (!have.has(d.primaryEmail.toLowerCase())) add.push(d.primaryEmail);
  if (d.secondaryEmails) {
    const want = new Set([d.primaryEmail, ...d.secondaryEmails].map((e) => e.toLowerCase()));
    for (const e of d.secondaryEmails) if (!have.has(e.toLowerCase())) add.push(e);
    for (const e of u.emails) if (!want.has(e.toLowerCase())) remove.push(e);
  } else if (primaryChanged && primaryNow) {
    // Secondaries are not tilgang's: only the primary it replaced goes.
    remove.push(primaryNow);
  }
  if (primaryChanged || add.length || remove.length) {
    c.emails = { primary: d.primaryEmail, add, remove };
    if (primaryChanged) changes.push({ attribute: 'email', from: primaryNow ?? null, to: d.primaryEmail });
    const secondariesNow = u.emails.slice(1).filter((e) => e.toLowerCase() !== d.primaryEmail.toLowerCase());
    if (d.secondaryEmails && (add.some((e) => e !== d.primaryEmail) || remove.some((e) => e !== primaryNow))) {
      changes.push({ attribute: 'secondaryEmails', from: secondariesNow.join(', ') || null, to: d.secondaryEmails.join(', ') || null });
    }
  }

  // Roles: only the policy's; a protected role or one given by hand is neither added nor removed.
  const managed = new Set(cfg.policy.managedRoles);
  const held = new Set(u.roles.map((r) => r.name));
  const addRoles = d.roles.filter((r) => !held.has(r));
  const removeRoles = [...held].filter((r) => managed.has(r) && !d.roles.includes(r) && !a.roles[r]?.isProtected).sort();
  if (addRoles.length || removeRoles.length) {
    c.roles = { add: roleIds(addRoles, a, personId), remove: removeRoles.map((r) => a.roles[r]!.roleId) };
    const now = [...held].filter((r) => managed.has(r)).sort();
    changes.push({ attribute: 'roles', from: now.join(', ') || null, to: d.roles.join(', ') || null });
  }

  // External ids: each configured type holds the directory's value; a value the directory no
  // longer has is removed (a changed national id is replaced in place, as the seed's hasFnrChanged).
  const set = [];
  const removeTypes: number[] = [];
  for (const kind of EXTERNAL_ID_KINDS) {
    const typeId = cfg.userDataTypes[kind];
    if (!typeId) continue;
    const now = u.dataTypes.find((t) => t.id === typeId)?.value ?? null;
    const want = d.externalIds.find((x) => x.kind === kind) ?? null;
    if ((want?.value ?? null) === now) continue;
    changes.push({ attribute: idAttribute(kind), from: show(kind, now), to: show(kind, want?.value ?? null) });
    if (want) set.push(want);
    else removeTypes.push(typeId);
  }
  if (set.length || removeTypes.length) c.externalIds = { set, remove: removeTypes };

  if (changes.length) ops.push({ kind: 'update', changes, payload: { action: 'update', userId: u.id, changes: c } });
  if (u.deactivated) {
    ops.push({
      kind: 'enable', changes: [{ attribute: 'loginDeactivated', from: 'true', to: 'false' }],
      payload: { action: 'login', userId: u.id, basic: { ...basic, loginDeactivated: false } },
    });
  }
  return { operations: ops, accountId, writeback };
}
