/**
 * A sample person as a portal-directory entry, with the attribute names of
 * src/directory/attributes.ts.
 */
import { A, PERSON_OBJECT_CLASS, STATUS_OBJECT_CLASS } from '../directory/attributes.js';
import { childDn } from '../lib/ldap/dn.js';
import type { SamplePerson } from './university.js';

export interface DirectoryEntry {
  dn: string;
  attributes: Record<string, string[]>;
}

/** idautoPerson derives from inetOrgPerson; the auxiliary class lets tilgang write its status later. */
export const PERSON_OBJECT_CLASSES: readonly string[] = ['top', 'person', 'organizationalPerson', 'inetOrgPerson', PERSON_OBJECT_CLASS, STATUS_OBJECT_CLASS];

export function personDn(idautoId: string, peopleDn: string): string {
  return childDn(A.id, idautoId, peopleDn);
}

export function personEntry(p: SamplePerson, peopleDn: string): DirectoryEntry {
  const attributes: Record<string, string[]> = {};
  const set = (name: string, values: readonly (string | null | undefined)[]) => {
    const v = values.filter((x): x is string => typeof x === 'string' && x.length > 0);
    if (v.length) attributes[name] = v;
  };
  set('objectClass', PERSON_OBJECT_CLASSES);
  set(A.id, [p.idautoId]);
  // cn is required by the person class; the display name is what people are called.
  set('cn', [p.displayName]);
  set(A.givenName, [p.givenName]);
  set(A.sn, [p.sn]);
  set(A.displayName, [p.displayName]);
  set(A.usernames, [p.username]);
  set(A.uhUsername, [p.uhUsername]);
  set(A.mail, [p.mail]);
  set(A.emails, p.emails);
  set(A.employeeType, [p.employeeType]);
  set(A.affiliation, [p.affiliation]);
  set(A.affiliations, p.affiliations);
  set(A.studentId, [p.studentId]);
  set(A.hrId, [p.hrId]);
  set(A.nationalId, [p.nationalId]);
  set(A.feideId, [p.feideId]);
  set(A.deptCode, [p.stedkode]);
  set(A.jobTitle, [p.jobTitle]);
  set(A.manager, [p.managerId ? personDn(p.managerId, peopleDn) : null]);
  set(A.preferredLanguage, [p.preferredLanguage]);
  set(A.appRoles, p.roles);
  set(A.requests, p.requests);
  set(A.disabled, [p.disabled ? 'TRUE' : 'FALSE']);
  return { dn: personDn(p.idautoId, peopleDn), attributes };
}
