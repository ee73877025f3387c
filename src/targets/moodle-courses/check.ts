/**
 * The start check: the token works, its service holds the functions the target calls, the token
 * user sees course idnumbers, and the template course exists (without it the target does not
 * start: it would make courses without content).
 */
import { MoodleError, type MoodleCoursesResult, type MoodleSiteInfo } from '../../lib/moodle/client.js';
import { TerminalError, type CheckReport } from '../../spi/index.js';
import type { CourseSession } from './session.js';

export const NEEDED_FUNCTIONS = [
  'core_webservice_get_site_info', 'core_course_get_courses_by_field', 'core_course_create_courses', 'core_course_update_courses',
  'core_course_get_categories', 'core_course_create_categories', 'core_course_import_course',
];

export async function checkCourses(s: CourseSession): Promise<CheckReport> {
  const url = s.cfg.url;
  let info: MoodleSiteInfo;
  try {
    info = await s.ws.call<MoodleSiteInfo>('core_webservice_get_site_info');
  } catch (e) {
    if (e instanceof MoodleError) throw new TerminalError(`targets.moodle-courses: Moodle at ${url} refused the token: ${e.errorcode}: ${e.message}`, 'check', 'token');
    throw e;
  }
  const have = new Set(info.functions.map((f) => f.name));
  const missing = NEEDED_FUNCTIONS.filter((f) => !have.has(f));
  if (missing.length) throw new TerminalError(`targets.moodle-courses: the Moodle token's service lacks functions the target calls: ${missing.join(', ')}`, 'check', 'token');
  const template = await s.templateId();
  const r = await s.ws.call<MoodleCoursesResult>('core_course_get_courses_by_field', { field: 'id', value: String(template) });
  if (r.courses[0] && !('idnumber' in r.courses[0])) {
    throw new TerminalError(`targets.moodle-courses: the token user ${info.username} does not see course idnumbers, so no course would be found again: give its role moodle/course:update`, 'check');
  }
  return { facts: { site: info.siteurl, release: info.release, user: info.username, template: `${s.cfg.template} (id ${template})` } };
}
