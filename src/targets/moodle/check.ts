/**
 * The start check: what the configuration promises and a real Moodle may not keep. Each problem is
 * one line naming the function, capability or setting that is missing.
 *
 * - the token works and its service holds every function the target calls (a missing one: warned);
 * - the token user sees course idnumbers: core_course_get_courses_by_field leaves a course's
 *   idnumber out for a user without moodle/course:update (recorded B04, B05), and then no course is
 *   ever recognised as managed (refused to start);
 * - the auth plugin of new accounts is installed: Moodle refuses every create with a bare
 *   invalidparameter when it is not (B23; installed but not enabled is fine, B20). Moodle has no
 *   call that says which plugins exist, so the check asks for a create Moodle must refuse *after*
 *   it accepted the auth: a first name of 101 characters, which ends as dmlwriteexception at the
 *   INSERT and is rolled back (B07: nothing is created, no id is used). invalidparameter instead
 *   means the auth was refused (refused to start).
 */
import { randomBytes } from 'node:crypto';
import { TerminalError, type CheckReport } from '../../spi/index.js';
import { MoodleError, type MoodleCoursesResult, type MoodleCreatedUser, type MoodleSiteInfo } from './client.js';
import type { MoodleConfig } from './config.js';
import type { MoodleSession } from './read.js';

/** The functions the target calls; the token's service must allow each. */
export const NEEDED_FUNCTIONS = [
  'core_webservice_get_site_info', 'core_user_get_users_by_field', 'core_user_create_users', 'core_user_update_users',
  'core_enrol_get_users_courses', 'core_enrol_get_enrolled_users', 'enrol_manual_enrol_users', 'enrol_manual_unenrol_users',
  'core_role_unassign_roles', 'core_course_get_courses_by_field',
];

/** Moodle's internal auth plugins need a password or createpassword; the others (saml2, ldap...) none. */
const INTERNAL_AUTH = new Set(['manual', 'email', 'none', 'nologin']);

export async function checkMoodle(s: MoodleSession, cfg: MoodleConfig): Promise<CheckReport> {
  let info: MoodleSiteInfo;
  try {
    info = await s.ws.call<MoodleSiteInfo>('core_webservice_get_site_info');
  } catch (e) {
    // A wrong token is a configuration error; a Moodle that is down now may be up by the first event.
    if (e instanceof MoodleError) throw new TerminalError(`targets.moodle: Moodle at ${cfg.url} refused the token: ${e.errorcode}: ${e.message}`, 'check', 'token');
    throw e;
  }
  // The runtime also asks the check whether Moodle answers again after an outage: the site info is
  // enough then; the course lookup and the create probe run once per connection.
  if (s.checkedAtStart) return { facts: { site: info.siteurl, release: info.release, user: info.username } };
  const have = new Set(info.functions.map((f) => f.name));
  const missing = NEEDED_FUNCTIONS.filter((f) => !have.has(f));
  const warnings = missing.length ? [`the Moodle token's service lacks functions the target calls: ${missing.join(', ')}`] : [];
  const fatal: { text: string; field?: string }[] = [];

  if (cfg.enrolments && have.has('core_course_get_courses_by_field')) {
    // The site course (id 1) always exists; its idnumber (usually empty) is there only for a user who may update courses.
    const r = await s.ws.call<MoodleCoursesResult>('core_course_get_courses_by_field', { field: 'id', value: '1' });
    const course = r.courses[0] as Record<string, unknown> | undefined;
    if (!course) warnings.push('could not tell whether the token user sees course idnumbers: the site course (id 1) was not returned');
    else if (!('idnumber' in course)) {
      fatal.push({ text: `the token user ${info.username} does not see course idnumbers, so no managed course would be found: give its role moodle/course:update` });
    }
  }

  if (have.has('core_user_create_users')) {
    const probe = await probeAuth(s, cfg);
    if (probe.fatal) fatal.push(probe.fatal);
    if (probe.warning) warnings.push(probe.warning);
  }

  if (fatal.length) throw new TerminalError(`targets.moodle: ${fatal.map((f) => f.text).join('; ')}`, 'check', fatal[0]!.field);
  s.checkedAtStart = true;
  return { facts: { site: info.siteurl, release: info.release, user: info.username }, warnings };
}

/** A create Moodle refuses at the INSERT if, and only if, it accepted the auth plugin. */
async function probeAuth(s: MoodleSession, cfg: MoodleConfig): Promise<{ fatal?: { text: string; field?: string }; warning?: string }> {
  const tag = randomBytes(6).toString('hex');
  const user = {
    username: `tilgang-check-${tag}`, auth: cfg.auth, firstname: 'x'.repeat(101), lastname: 'check', email: `tilgang-check-${tag}@example.invalid`,
    ...(INTERNAL_AUTH.has(cfg.auth) ? { createpassword: true } : {}),
  };
  try {
    const made = await s.ws.call<MoodleCreatedUser[]>('core_user_create_users', { users: [user] });
    // A site that truncates instead of refusing (MySQL without strict mode) made the account: suspend it, never delete.
    const ids = made.map((u) => u.id);
    if (ids.length) await s.ws.call('core_user_update_users', { users: ids.map((id) => ({ id, suspended: true })) });
    return { warning: `the start check's test account ${user.username} was created (the site shortens over-long names instead of refusing them) and is now suspended` };
  } catch (e) {
    if (!(e instanceof MoodleError)) throw e;
    if (e.errorcode === 'dmlwriteexception') return {};
    if (e.errorcode === 'invalidparameter' && (e.debuginfo === undefined || /\bauth\b/.test(e.debuginfo))) {
      return { fatal: { text: `auth plugin "${cfg.auth}" (targets.moodle.auth) is not installed on the Moodle site: Moodle refuses every account with it`, field: 'auth' } };
    }
    if (e.errorcode === 'nopermissions') return { fatal: { text: `the token user may not create users: give its role moodle/user:create (${e.message})` } };
    return { warning: `could not tell whether auth plugin "${cfg.auth}" is installed: core_user_create_users answered ${e.errorcode}: ${e.message}` };
  }
}
