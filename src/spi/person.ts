/** The person as the runtime hands it to a target: the directory record, the MV data, the event. */
export { A } from '../directory/attributes.js';
export type { Enrolment, MvPerson, OrgUnit } from '../mv/person.js';
export type { AttributeChange, OperationOutcome, PersonChanged } from '../schemas/generated.js';

/** A person's directory record: attribute name → values (always an array; empty when absent). */
export interface PersonRecord {
  dn: string;
  attrs: Record<string, string[]>;
}

export function first(p: PersonRecord, attr: string): string | undefined {
  return p.attrs[attr]?.[0];
}

export function values(p: PersonRecord, attr: string): string[] {
  return p.attrs[attr] ?? [];
}
