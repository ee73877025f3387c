/**
 * Pure: what Moodle would refuse, found before anything is sent. Moodle checks none of the column
 * lengths of mdl_user before its INSERT/UPDATE: a first name of 101 characters ends in
 * `dmlwriteexception: Error writing to database`, which names no field, and takes the whole batch
 * down with it. Its e-mail check is the HTML5 pattern (validate_email()), and PARAM_NOTAGS refuses
 * a name that looks like markup. Each refusal here names the person, the field and the limit, and
 * never the value (an e-mail address or a name may be personal).
 */
import { TerminalError } from '../../spi/index.js';
import type { DesiredUser } from './desired.js';

/** mdl_user varchar lengths (lib/db/install.xml), counted in characters as PostgreSQL counts them. */
export const USER_FIELD_LIMITS = {
  username: 100, firstname: 100, lastname: 100, email: 100, idnumber: 255, department: 255, institution: 255, auth: 20,
} as const satisfies Partial<Record<keyof DesiredUser, number>>;

/** validate_email() in Moodle 4.x: the HTML5 e-mail pattern, no angle brackets. */
const EMAIL = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** What PHP's strip_tags() would take away: a `<` that opens a tag, a closing tag or a comment. */
const MARKUP = /<[a-zA-Z/!?]/;

const chars = (s: string): number => [...s].length;

/** The first thing Moodle would refuse in this account, as a TerminalError naming field and limit. */
export function validateUser(personId: string, u: DesiredUser): void {
  const refuse = (field: string, why: string): never => {
    throw new TerminalError(`person ${personId}, target moodle: ${field} ${why}`, 'invalid-value', field);
  };
  for (const [field, limit] of Object.entries(USER_FIELD_LIMITS) as [keyof typeof USER_FIELD_LIMITS, number][]) {
    const v = u[field];
    if (v !== undefined && chars(v) > limit) refuse(field, `is ${chars(v)} characters long; Moodle allows at most ${limit}`);
  }
  if (!EMAIL.test(u.email)) refuse('email', 'is not an address Moodle accepts (validate_email: ASCII local part @ a domain name)');
  for (const field of ['firstname', 'lastname'] as const) {
    if (u[field] === '') refuse(field, 'is empty; Moodle requires it');
    if (MARKUP.test(u[field])) refuse(field, 'contains markup (<...>), which Moodle strips and therefore refuses');
  }
}
