/**
 * What a person's WISEflow user should be (pure): the seed's "transform record" and "access
 * logic" steps. Only the fields below are built, so nothing else from the directory reaches
 * WISEflow; the national id goes only into its user data type, and is redacted in every plan.
 */
import { first, TerminalError, values, type PersonContext } from '../../spi/index.js';
import type { WiseflowConfig } from './config.js';
import { policyRoles } from './policy.js';

export const EXTERNAL_ID_KINDS = ['feideId', 'nationalId', 'studentId', 'personId'] as const;
export type ExternalIdKind = (typeof EXTERNAL_ID_KINDS)[number];

export interface ExternalId { kind: ExternalIdKind; typeId: number; value: string }

export interface Desired {
  firstName: string;
  lastName: string;
  /** WISEflow's code; undefined: the directory has none the table maps, so it is left alone. */
  language?: string;
  primaryEmail: string;
  /** undefined: tilgang does not manage secondary emails (attributes.secondaryEmails is null). */
  secondaryEmails?: string[];
  /** Every configured external id the person has a value for; a configured kind without a value is removed. */
  externalIds: ExternalId[];
  /** Managed licence roles by name, sorted. */
  roles: string[];
  sensor: boolean;
}

/** The (user data type, value) pairs a user is found by: the person id and the Feide id. */
export function searchKeys(person: PersonContext, cfg: WiseflowConfig): { id: number; value: string }[] {
  const out: { id: number; value: string }[] = [];
  const t = cfg.userDataTypes;
  const personId = value(person, cfg.attributes.personId);
  if (t.personId && personId) out.push({ id: t.personId, value: personId });
  const feide = value(person, cfg.attributes.feideId);
  if (feide) out.push({ id: t.feideId, value: feide });
  return out;
}

const value = (person: PersonContext, attr: string): string => (first(person.record, attr) ?? '').trim();

export function externalIds(person: PersonContext, cfg: WiseflowConfig): ExternalId[] {
  const out: ExternalId[] = [];
  for (const kind of EXTERNAL_ID_KINDS) {
    const typeId = cfg.userDataTypes[kind];
    const v = value(person, cfg.attributes[kind]);
    if (typeId && v) out.push({ kind, typeId, value: v });
  }
  return out;
}

export function desired(person: PersonContext, cfg: WiseflowConfig): Desired | null {
  if (!person.entitled) return null;
  const primaryEmail = value(person, cfg.attributes.email);
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(primaryEmail)) {
    throw new TerminalError(`person ${person.id}, target wiseflow: ${cfg.attributes.email} is not an email address WISEflow takes`, 'invalid-email', cfg.attributes.email);
  }
  const d: Desired = {
    firstName: value(person, cfg.attributes.firstName),
    lastName: value(person, cfg.attributes.lastName),
    primaryEmail,
    externalIds: externalIds(person, cfg),
    ...policyRoles(cfg.policy, { affiliations: values(person.record, cfg.attributes.affiliations), businessRoles: values(person.record, cfg.attributes.businessRoles) }),
  };
  const lang = cfg.languages[value(person, cfg.attributes.language).toLowerCase()];
  if (lang) d.language = lang;
  if (cfg.attributes.secondaryEmails) {
    const seen = new Set([primaryEmail.toLowerCase()]);
    d.secondaryEmails = [];
    for (const e of values(person.record, cfg.attributes.secondaryEmails).map((x) => x.trim())) {
      if (!e || seen.has(e.toLowerCase())) continue;
      seen.add(e.toLowerCase());
      d.secondaryEmails.push(e);
    }
  }
  return d;
}
