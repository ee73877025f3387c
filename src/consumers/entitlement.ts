import { A } from '../directory/attributes.js';
import { values, type EntitlementRules, type PersonRecord } from '../spi/index.js';

/**
 * Birthright (an affiliation or business role the rules name) or a granted request; a disabled
 * person (idautoDisabled TRUE) has no birthright, as when someone leaves.
 */
export function isEntitled(p: PersonRecord, rules: EntitlementRules): boolean {
  const req = rules.request?.toLowerCase();
  if (req && values(p, A.requests).some((v) => v.toLowerCase() === req || v.toLowerCase().startsWith(`${req}:`))) return true;
  if (values(p, A.disabled)[0]?.toUpperCase() === 'TRUE') return false;
  const affs = new Set([...values(p, A.affiliation), ...values(p, A.affiliations)].map((v) => v.toLowerCase()));
  if (rules.affiliations.some((a) => affs.has(a.toLowerCase()))) return true;
  const roles = new Set(values(p, A.appRoles).map((v) => v.toLowerCase()));
  return rules.roles.some((r) => roles.has(r.toLowerCase()));
}

export function isProvisioned(p: PersonRecord, target: string): boolean {
  return values(p, A.provisionedTo).some((v) => v.toLowerCase() === target.toLowerCase());
}

export function missingEssential(p: PersonRecord, essential: string[]): string[] {
  return essential.filter((a) => !values(p, a).some((v) => v.trim() !== ''));
}
