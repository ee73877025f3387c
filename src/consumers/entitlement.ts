import { A } from '../directory/attributes.js';
import { values, type EntitlementRules, type PersonRecord } from '../spi/index.js';

/** Whether a person is entitled to a target's account, and the rule that decided it, in words. */
export interface EntitlementDecision {
  entitled: boolean;
  /** The rule that matched ("affiliation student is in employee, student"), or why none did. */
  rule: string;
}

const list = (xs: readonly string[]) => (xs.length ? xs.join(', ') : 'none');

/**
 * Birthright (an affiliation or business role the rules name) or a granted request; a disabled
 * person (idautoDisabled TRUE) has no birthright, as when someone leaves. Says which rule matched,
 * or why none did, for `tilgang explain` and the orphan check.
 */
export function entitlementDecision(p: PersonRecord, rules: EntitlementRules): EntitlementDecision {
  const req = rules.request?.toLowerCase();
  const granted = req ? values(p, A.requests).find((v) => v.toLowerCase() === req || v.toLowerCase().startsWith(`${req}:`)) : undefined;
  if (granted) return { entitled: true, rule: `request ${granted} is granted (${A.requests})` };
  const noRequest = rules.request ? `; no request ${rules.request} granted` : '';
  if (values(p, A.disabled)[0]?.toUpperCase() === 'TRUE') return { entitled: false, rule: `${A.disabled} is TRUE: no birthright${noRequest}` };
  const affs = [...new Set([...values(p, A.affiliation), ...values(p, A.affiliations)].map((v) => v.toLowerCase()))];
  const aff = rules.affiliations.find((a) => affs.includes(a.toLowerCase()));
  if (aff) return { entitled: true, rule: `affiliation ${aff.toLowerCase()} is in ${list(rules.affiliations)}` };
  const roles = values(p, A.appRoles).map((v) => v.toLowerCase());
  const role = rules.roles.find((r) => roles.includes(r.toLowerCase()));
  if (role) return { entitled: true, rule: `role ${role} is in ${list(rules.roles)}` };
  const why = [
    affs.length ? `affiliation ${affs.join(', ')} is not in ${list(rules.affiliations)}` : `no affiliation (rules: ${list(rules.affiliations)})`,
    ...(rules.roles.length ? [roles.length ? `role ${roles.join(', ')} is not in ${list(rules.roles)}` : `no role of ${list(rules.roles)}`] : []),
  ];
  return { entitled: false, rule: why.join('; ') + noRequest };
}

export function isEntitled(p: PersonRecord, rules: EntitlementRules): boolean {
  return entitlementDecision(p, rules).entitled;
}

export function isProvisioned(p: PersonRecord, target: string): boolean {
  return values(p, A.provisionedTo).some((v) => v.toLowerCase() === target.toLowerCase());
}

/**
 * The essential attributes the record lacks, as the skip reason names them. An entry that is a
 * list is satisfied by any one of its attributes (e.g. a key taken from the employee number or
 * else the student number) and, when none has a value, named as "a or b".
 */
export function missingEssential(p: PersonRecord, essential: readonly (string | readonly string[])[]): string[] {
  const has = (a: string) => values(p, a).some((v) => v.trim() !== '');
  return essential.flatMap((e) => typeof e === 'string' ? (has(e) ? [] : [e]) : e.some(has) ? [] : [e.join(' or ')]);
}
