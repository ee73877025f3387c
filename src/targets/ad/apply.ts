/**
 * Apply: one person's operations in order on one LDAPS connection, each a single request where AD
 * allows (a create carries its password and enabled flag in the add). A transient failure throws
 * (the runtime re-reads and re-plans); a terminal one fails its operation and skips the rest.
 */
import { AlreadyExistsError, Attribute, Change, NoSuchObjectError, type Client } from 'ldapts';
import { parseDn } from '../../lib/ldap/dn.js';
import { TerminalError, TransientError, type OperationResult, type PersonContext, type Plan } from '../../spi/index.js';
import { adError } from './client.js';
import type { AdConfig } from './config.js';
import { generatePassword, unicodePwd } from './password.js';
import { UAC_NORMAL, type Payload } from './plan.js';
import type { AdSession } from './read.js';

const replace = (type: string, values: (string | Buffer)[]) => new Change({ operation: 'replace', modification: new Attribute({ type, values: values as string[] }) });

/** Adds the OUs top-down; one made meanwhile by another person's create is fine. */
async function ensureOus(c: Client, ous: string[], person: string, s: AdSession): Promise<void> {
  for (const ou of ous) {
    if (s.ouExists(ou)) continue;
    const ouName = parseDn(ou)[0]![0]!.value;
    try {
      await c.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: ouName });
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw adError(e, person, `create the org unit ${ou}`);
    }
    s.noteOu(ou);
  }
}

/** The attribute AD's message names, when it names one of ours (for the result's field). */
function namedAttribute(e: unknown, attrs: string[]): string | undefined {
  const m = String((e as Error)?.message ?? '');
  return attrs.find((a) => new RegExp(`\\b${a}\\b`, 'i').test(m));
}

async function applyOne(p: Payload, c: Client, cfg: AdConfig, person: PersonContext, s: AdSession): Promise<void> {
  switch (p.kind) {
    case 'create': {
      await ensureOus(c, p.ous, person.id, s);
      const attrs: Record<string, string | string[] | Buffer[]> = { objectClass: ['top', 'person', 'organizationalPerson', 'user'], ...p.attributes };
      // Born enabled with its password in the same add: one request, never an enabled account without a password.
      attrs.unicodePwd = [unicodePwd(generatePassword(cfg.passwordPolicy))];
      attrs.userAccountControl = [String(UAC_NORMAL)];
      try {
        await c.add(p.dn, attrs as Record<string, string[]>);
      } catch (e) {
        throw adError(e, person.id, `create ${p.dn}`, namedAttribute(e, Object.keys(p.attributes)));
      }
      for (const r of p.reports) {
        // The new manager's reports that were waiting for this account (not fatal: their own reconciliation sets it too).
        await c.modify(r, replace('manager', [p.dn])).catch(() => {});
      }
      return;
    }
    case 'update': {
      const changes = Object.entries(p.replace).map(([k, v]) => replace(k, v));
      try {
        await c.modify(p.dn, changes);
      } catch (e) {
        throw adError(e, person.id, `update ${Object.keys(p.replace).join(', ')} of ${p.dn}`, namedAttribute(e, Object.keys(p.replace)) ?? (changes.length === 1 ? Object.keys(p.replace)[0] : undefined));
      }
      return;
    }
    case 'rename':
    case 'move': {
      if (p.kind === 'move') await ensureOus(c, p.ous, person.id, s);
      try {
        await c.modifyDN(p.dn, p.newDn);
      } catch (e) {
        throw adError(e, person.id, `${p.kind} ${p.dn} to ${p.newDn}`, p.kind === 'rename' ? 'cn' : undefined);
      }
      return;
    }
    case 'enable':
    case 'disable': {
      try {
        await c.modify(p.dn, replace('userAccountControl', [String(p.userAccountControl)]));
      } catch (e) {
        throw adError(e, person.id, `${p.kind} ${p.dn}`, 'userAccountControl');
      }
    }
  }
}

export async function applyAd(plan: Plan<Payload>, s: AdSession, person: PersonContext): Promise<OperationResult[]> {
  const c = await s.ad.client();
  const out: OperationResult[] = [];
  let failed: string | undefined;
  for (const op of plan.operations) {
    if (failed) {
      out.push({ outcome: 'SKIPPED', error: `not attempted: ${failed}` });
      continue;
    }
    const p = op.payload!;
    try {
      await applyOne(p, c, s.cfg, person, s);
      out.push({ outcome: 'APPLIED', accountId: 'newDn' in p ? p.newDn : p.dn });
    } catch (e) {
      // An OU tilgang believed in may have been removed: the retry looks the OUs up again.
      if ((e as { code?: string }).code === 'no-such-object' || e instanceof NoSuchObjectError) s.forgetOus();
      if (e instanceof TransientError) throw e;
      const err = e instanceof TerminalError ? e : adError(e, person.id, op.kind);
      if (err instanceof TransientError) throw err;
      failed = `${op.kind} failed`;
      out.push({ outcome: 'FAILED', error: err.message });
    }
  }
  return out;
}

