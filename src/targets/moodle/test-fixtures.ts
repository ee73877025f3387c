/** Builders for the Moodle target's table tests and the benchmark: a person as the runtime hands it over. */
import type { Enrolment, GlobalConfig, MvPerson, OrgUnit, PersonChanged, PersonContext, TargetContext } from '../../spi/index.js';
import { child } from '../../lib/log.js';
import { MoodleConfig, type MoodleConfigInput } from './config.js';
import type { MoodleAccount } from './types.js';

export const ORG_UNIT: OrgUnit = {
  stedkode: '121000', parentStedkode: '120000', level: 'department', nameNb: 'Institutt for informatikk', nameEn: 'Department of Informatics',
  shortName: 'II', adOu: 'Informatikk',
};

export function moodleConfig(over: Partial<MoodleConfigInput> = {}): MoodleConfig {
  return MoodleConfig.parse({
    url: 'http://127.0.0.1:1', token: { env: 'UNUSED' }, heldBy: { institution: '1120', studentIdField: 'studentid' }, ...over,
  });
}

export function enrolment(code: string, role: 'student' | 'teacher', year = 2026, term: 'VÅR' | 'HØST' = 'HØST'): Enrolment {
  return { sourceId: `1120:${code}:1`, institution: '1120', code, version: 1, term, year, role, emnetype: 'EMNE', nameNb: code };
}

export interface PersonSpec {
  id?: string;
  attrs?: Record<string, string[]>;
  entitled?: boolean;
  mv?: Partial<MvPerson> | null;
}

export function person(spec: PersonSpec = {}): PersonContext {
  const id = spec.id ?? '7d1c0c2e-5d7a-4f7e-9a51-0b6f8d1e2a3b';
  const attrs: Record<string, string[]> = {
    idautoID: [id], idautoPersonUserNameMV: ['abc123'], givenName: ['Åse Marit'], sn: ['Ødegård'], mail: ['abc123@student.uni.example.no'],
    idautoPersonStuID: ['512345'], idautoPersonNationalID: ['01810012345'], idautoPersonAffiliation: ['student'], ...spec.attrs,
  };
  for (const [k, v] of Object.entries(attrs)) if (!v.length) delete attrs[k];
  const mv: MvPerson | undefined = spec.mv === null ? undefined : {
    id, username: 'abc123', studentId: '512345', hrId: null, primaryAffiliation: 'student', affiliations: [], roles: [],
    orgUnits: [ORG_UNIT], enrolments: [], ...spec.mv,
  };
  const event: PersonChanged = { eventId: `ev-${id}`, personId: id, changeType: 'MODIFY', changeTime: 0 };
  return { id, event, record: { dn: `idautoID=${id},ou=Accounts,dc=meta`, attrs }, mv, entitled: spec.entitled ?? true, provisioned: false };
}

export function account(over: Partial<MoodleAccount> = {}): MoodleAccount {
  return {
    id: 42, username: 'abc123', fullname: 'Åse Marit Ødegård', email: 'abc123@student.uni.example.no', idnumber: '7d1c0c2e-5d7a-4f7e-9a51-0b6f8d1e2a3b',
    department: 'Institutt for informatikk', institution: '1120', auth: 'saml2', suspended: false, profile: { studentid: '512345' }, ...over,
  };
}

export function targetContext(config: MoodleConfig, global: GlobalConfig): TargetContext<MoodleConfig> {
  return { config, global, log: child({ component: 'moodle-test' }) };
}
