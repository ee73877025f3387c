/**
 * Apply: each operation's calls, in the order WISEflow's rules require. The ids of emails, roles
 * and user data on a user (emailId, userRoleId, userDataId) are read just before they are needed,
 * so an unchanged person costs one search and nothing more.
 */
import { isTransient, TerminalError, type OperationResult, type Plan, type PersonContext } from '../../spi/index.js';
import type { WiseflowClient } from './client.js';
import type { BasicInfo, Payload, UserChanges } from './types.js';

interface EmailRec { emailId: number; email: string; primary: boolean }
interface UserRoleRec { userRoleId: number; licenseRoleId: number }
interface UserDataRec { userDataId: number; userDataTypeId: number; value: string }

/**
 * WISEflow's create is an upsert: 200 means it matched a user the search did not find (by a rule
 * of its own, e.g. a licence-unique national id or email) and merged the person into it. That is
 * someone else's account, or a duplicate identity: a refusal to look at, never a success.
 */
async function create(c: WiseflowClient, p: Extract<Payload, { action: 'create' }>): Promise<string> {
  const u = p.user;
  const { status, body } = await c.send({
    method: 'POST', path: '/license/user', label: 'license/user',
    json: {
      firstName: u.firstName, lastName: u.lastName,
      emails: [u.primaryEmail, ...(u.secondaryEmails ?? [])],
      roles: p.roleIds,
      externalIds: u.externalIds.map((x) => ({ userDataTypeId: x.typeId, value: x.value })),
      ...(u.language ? { language: u.language } : {}),
    },
  }) as { status: number; body: { userId: number } };
  if (status === 200) {
    throw new TerminalError(`WISEflow matched the new user to existing userId ${body.userId}, which carries none of the person's search keys: a duplicate identity (same national id or email?)`, 'upsert-matched', 'externalIds');
  }
  return String(body.userId);
}

const put = (c: WiseflowClient, userId: number, basic: BasicInfo) =>
  c.data({ method: 'PUT', path: `/users/${userId}`, json: basic, label: 'users PUT' });

async function emails(c: WiseflowClient, userId: number, e: NonNullable<UserChanges['emails']>): Promise<void> {
  const path = `/users/${userId}/emails`;
  // New addresses enter as secondaries: a primary added as such may stay deactivated until its activation email is answered.
  if (e.add.length) await c.data({ method: 'POST', path, label: 'emails POST', json: e.add.map((email) => ({ email, primary: false })) });
  let now = await c.data<EmailRec[]>({ path, label: 'emails' });
  const primary = now.find((m) => m.email.toLowerCase() === e.primary.toLowerCase());
  if (primary && !primary.primary) {
    await c.data({ method: 'PATCH', path, label: 'emails PATCH', json: [{ emailId: primary.emailId, primary: true }] });
    now = now.map((m) => ({ ...m, primary: m.emailId === primary.emailId }));
  }
  // The primary cannot be deleted: removals come after the new primary is in place.
  const gone = new Set(e.remove.map((x) => x.toLowerCase()));
  for (const m of now) if (gone.has(m.email.toLowerCase()) && !m.primary) await c.data({ method: 'DELETE', path: `${path}/${m.emailId}`, label: 'emails DELETE' });
}

async function roles(c: WiseflowClient, userId: number, r: NonNullable<UserChanges['roles']>): Promise<void> {
  const path = `/users/${userId}/roles`;
  if (r.add.length) await c.data({ method: 'POST', path, label: 'roles POST', json: r.add.map((licenseRoleId) => ({ licenseRoleId })) });
  if (!r.remove.length) return;
  const held = await c.data<UserRoleRec[]>({ path, label: 'roles' });
  for (const h of held) if (r.remove.includes(h.licenseRoleId)) await c.data({ method: 'DELETE', path: `${path}/${h.userRoleId}`, label: 'roles DELETE' });
}

async function externalIds(c: WiseflowClient, userId: number, x: NonNullable<UserChanges['externalIds']>): Promise<void> {
  const path = `/users/${userId}/user-data`;
  const held = await c.data<UserDataRec[]>({ path, label: 'user-data' });
  const patch = x.set.flatMap((s) => {
    const h = held.find((d) => d.userDataTypeId === s.typeId);
    return h ? [{ userDataId: h.userDataId, value: s.value }] : [];
  });
  const post = x.set.filter((s) => !held.some((d) => d.userDataTypeId === s.typeId)).map((s) => ({ userDataTypeId: s.typeId, value: s.value }));
  if (patch.length) await c.data({ method: 'PATCH', path, label: 'user-data PATCH', json: patch });
  if (post.length) await c.data({ method: 'POST', path, label: 'user-data POST', json: post });
  for (const h of held) if (x.remove.includes(h.userDataTypeId)) await c.data({ method: 'DELETE', path: `${path}/${h.userDataId}`, label: 'user-data DELETE' });
}

async function update(c: WiseflowClient, p: Extract<Payload, { action: 'update' }>): Promise<void> {
  const ch = p.changes;
  if (ch.basic) await put(c, p.userId, ch.basic);
  // External ids before emails: a licence that matches users on them keeps finding this one.
  if (ch.externalIds) await externalIds(c, p.userId, ch.externalIds);
  if (ch.emails) await emails(c, p.userId, ch.emails);
  if (ch.roles) await roles(c, p.userId, ch.roles);
}

/**
 * One result per operation, in order. A transient failure is thrown (the runtime retries the
 * person, who is then read and planned afresh); a refusal fails its operation and the rest.
 */
export async function applyPlan(plan: Plan<Payload>, c: WiseflowClient, person: PersonContext): Promise<OperationResult[]> {
  const out: OperationResult[] = [];
  for (const op of plan.operations) {
    const p = op.payload!;
    try {
      if (p.action === 'create') {
        const userId = await create(c, p);
        out.push({ outcome: 'APPLIED', accountId: userId, writeback: { userId } });
      }
      else {
        if (p.action === 'update') await update(c, p);
        else await put(c, p.userId, p.basic);
        out.push({ outcome: 'APPLIED', accountId: String(p.userId) });
      }
    } catch (e) {
      if (isTransient(e)) throw e;
      const error = `person ${person.id}, target wiseflow, ${op.kind}: ${(e as Error).message}`;
      out.push({ outcome: 'FAILED', error });
      while (out.length < plan.operations.length) out.push({ outcome: 'SKIPPED', error: 'an earlier operation failed' });
      break;
    }
  }
  return out;
}
