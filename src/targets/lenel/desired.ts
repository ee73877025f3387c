/**
 * What a person's cardholder should be (pure): the seed's "transform record" step. Only the
 * fields below are built, so nothing else from the directory (national id unless configured as
 * the key, HR data, manager...) can reach OnGuard.
 */
import { first, TerminalError, values, A, type PersonContext } from '../../spi/index.js';
import type { AccessLevelRule, LenelConfig } from './config.js';

export interface DesiredCardholder {
  FIRSTNAME: string;
  LASTNAME: string;
  EMAIL?: string;
  EXT?: string;
  /** UDF name → value. */
  udfs: Record<string, string>;
}

export interface Desired {
  /** SSNO. */
  key: string;
  cardholder: DesiredCardholder;
  /** Lookup names (resolved to ids when read); absent: left alone. */
  title?: string;
  department?: string;
  /** Access level names the mapping gives the person (a subset of the managed ones). */
  levels: string[];
}

/** OnGuard's field limits: a longer value is refused, so it is refused here first, naming the field. */
const LIMITS: Record<string, number> = { FIRSTNAME: 32, LASTNAME: 32, EMAIL: 128, EXT: 16, SSNO: 32, UDF: 64, LOOKUP: 64 };

const value = (person: PersonContext, attr: string) => (first(person.record, attr) ?? '').trim();

function limit(person: PersonContext, field: string, v: string, max: number): string {
  if (v.length > max) throw new TerminalError(`person ${person.id}, target lenel: ${field} is ${v.length} characters, OnGuard takes at most ${max}`, 'too-long', field);
  return v;
}

/** The cardholder key (SSNO): the first configured attribute with a value; undefined when none has one. */
export function cardholderKey(person: PersonContext, cfg: LenelConfig): string | undefined {
  for (const attr of cfg.key) {
    const v = value(person, attr);
    if (v) {
      if (v.includes('"')) throw new TerminalError(`person ${person.id}, target lenel: the key (${attr}) contains a double quote`, 'invalid-key', 'SSNO');
      return limit(person, 'SSNO', v, LIMITS.SSNO!);
    }
  }
  return undefined;
}

/** Every access level any rule names: the only ones tilgang adds or removes. */
export function managedLevels(cfg: LenelConfig): Set<string> {
  return new Set(cfg.accessLevels.flatMap((r) => r.levels));
}

function ruleMatches(rule: AccessLevelRule, person: PersonContext): boolean {
  const affiliations = new Set([...values(person.record, A.affiliations), ...values(person.record, A.affiliation), ...(person.mv?.affiliations.map((a) => a.affiliation) ?? [])]);
  const roles = new Set([...values(person.record, A.appRoles), ...(person.mv?.roles ?? [])]);
  const units = new Set([...(person.mv?.orgUnits?.map((u) => u.stedkode) ?? []), ...(person.mv?.affiliations.map((a) => a.stedkode) ?? [])]);
  if (rule.affiliation !== undefined && !affiliations.has(rule.affiliation)) return false;
  if (rule.role !== undefined && !roles.has(rule.role)) return false;
  if (rule.stedkode !== undefined && !units.has(rule.stedkode)) return false;
  return true;
}

/** The levels the mapping gives the person, sorted. */
export function desiredLevels(person: PersonContext, cfg: LenelConfig): string[] {
  return [...new Set(cfg.accessLevels.filter((r) => ruleMatches(r, person)).flatMap((r) => r.levels))].sort();
}

export function desired(person: PersonContext, cfg: LenelConfig): Desired | null {
  if (!person.entitled) return null;
  const key = cardholderKey(person, cfg);
  if (!key) throw new TerminalError(`person ${person.id}, target lenel: no cardholder key (none of ${cfg.key.join(', ')} has a value)`, 'no-key', cfg.key[0]);
  const a = cfg.attributes;
  const cardholder: DesiredCardholder = {
    FIRSTNAME: limit(person, 'FIRSTNAME', value(person, a.firstname), LIMITS.FIRSTNAME!),
    LASTNAME: limit(person, 'LASTNAME', value(person, a.lastname), LIMITS.LASTNAME!),
    udfs: {},
  };
  if (!cardholder.LASTNAME) throw new TerminalError(`person ${person.id}, target lenel: no last name (${a.lastname}), which OnGuard requires`, 'missing', a.lastname);
  if (a.email) cardholder.EMAIL = limit(person, 'EMAIL', value(person, a.email), LIMITS.EMAIL!);
  if (a.ext) cardholder.EXT = limit(person, 'EXT', value(person, a.ext), LIMITS.EXT!);
  for (const [udf, attr] of Object.entries(cfg.udfs)) cardholder.udfs[udf] = limit(person, udf, value(person, attr), LIMITS.UDF!);
  const d: Desired = { key, cardholder, levels: desiredLevels(person, cfg) };
  if (a.title) d.title = limit(person, 'TITLE', value(person, a.title), LIMITS.LOOKUP!);
  // The department: the person's own org unit as MV names it; without MV data it is left alone.
  if (cfg.department && person.mv) d.department = limit(person, 'DEPT', person.mv.orgUnits?.[0]?.[cfg.department]?.trim() ?? '', LIMITS.LOOKUP!);
  return d;
}
