/**
 * Applies one person's plan, one call at a time (OpenAccess has no batch calls). A transient
 * failure is thrown for the runtime to retry the whole person: the next read finds what the
 * failed attempt already made (the cardholder by its key, the badge by cardholder and type), so
 * nothing is made twice. A refusal fails its operation, and those that need what it would have made.
 */
import { isTransient, type OperationResult, type Plan } from '../../spi/index.js';
import { prop, type PropertyMap } from './client.js';
import type { LenelKind, Lookups, Payload } from './plan.js';
import type { LenelSession } from './read.js';

/** Now (or `days` ahead) as OpenAccess takes a date: an explicit offset, never Z. */
export function oaDate(days = 0, now = Date.now()): string {
  return new Date(now + days * 86_400_000).toISOString().replace(/\.\d+Z$/, '+00:00');
}

async function lookupIds(s: LenelSession, l: Lookups): Promise<PropertyMap> {
  const out: PropertyMap = {};
  // An empty name clears the field.
  if (l.title !== undefined) out.TITLE = l.title ? await s.lookups.title.ensure(l.title, s.cfg.createLookups) : null;
  if (l.department !== undefined) out.DEPT = l.department ? await s.lookups.department.ensure(l.department, s.cfg.createLookups) : null;
  return out;
}

async function issueBadge(s: LenelSession, personId: number): Promise<number> {
  const b = s.cfg.badge;
  const made = await s.client.create('Lnl_Badge', { PERSONID: personId, TYPE: b.type, STATUS: b.activeStatus, ACTIVATE: oaDate(), DEACTIVATE: oaDate(b.validDays) });
  return Number(prop(made, 'BADGEKEY'));
}

export async function applyPlan(plan: Plan<Payload, LenelKind>, s: LenelSession): Promise<OperationResult[]> {
  const results: OperationResult[] = [];
  let personId = plan.accountId ? Number(plan.accountId) : undefined;
  let badgeKey: number | undefined;
  let blocked: string | undefined;
  for (const op of plan.operations) {
    const p = op.payload!;
    const needsNew = (p.action === 'grant' && p.badgeKey === undefined) || (p.action === 'issue' && p.personId === undefined);
    if (needsNew && blocked) {
      results.push({ outcome: 'FAILED', error: `not done: ${blocked}` });
      continue;
    }
    try {
      switch (p.action) {
        case 'create': {
          const map = { ...p.map, ...(await lookupIds(s, p.lookups)) };
          personId = Number(prop(await s.client.create('Lnl_Cardholder', map), 'ID'));
          badgeKey = await issueBadge(s, personId);
          results.push({ outcome: 'APPLIED', accountId: String(personId) });
          break;
        }
        case 'modify':
          await s.client.modify('Lnl_Cardholder', { ID: p.id, ...p.map, ...(await lookupIds(s, p.lookups)) });
          results.push({ outcome: 'APPLIED' });
          break;
        case 'issue':
          badgeKey = await issueBadge(s, p.personId ?? personId!);
          results.push({ outcome: 'APPLIED' });
          break;
        case 'status': {
          const b = s.cfg.badge;
          // Disabled: the inactive status, deactivated now. Enabled: active again, valid as a new badge is.
          await s.client.modify('Lnl_Badge', p.active
            ? { BADGEKEY: p.badgeKey, STATUS: b.activeStatus, DEACTIVATE: oaDate(b.validDays) }
            : { BADGEKEY: p.badgeKey, STATUS: b.inactiveStatus, DEACTIVATE: oaDate() });
          results.push({ outcome: 'APPLIED' });
          break;
        }
        case 'grant': {
          const level = await s.levels.id(p.level);
          if (level === undefined) {
            results.push({ outcome: 'FAILED', error: `OnGuard has no access level named "${p.level}"` });
            break;
          }
          await s.client.create('Lnl_AccessLevelAssignment', { AccessLevelID: level, BadgeKey: p.badgeKey ?? badgeKey! });
          results.push({ outcome: 'APPLIED' });
          break;
        }
        case 'revoke': {
          const level = await s.levels.id(p.level);
          if (level === undefined) {
            results.push({ outcome: 'FAILED', error: `OnGuard has no access level named "${p.level}"` });
            break;
          }
          await s.client.remove('Lnl_AccessLevelAssignment', { AccessLevelID: level, BadgeKey: p.badgeKey });
          results.push({ outcome: 'APPLIED' });
          break;
        }
      }
    } catch (e) {
      if (isTransient(e)) throw e;
      const msg = (e as Error).message;
      results.push({ outcome: 'FAILED', error: msg });
      if (p.action === 'create' || p.action === 'issue') blocked = `${op.kind} failed`;
    }
  }
  return results;
}
