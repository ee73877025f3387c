/**
 * The Moodle users target (the seed's PortalLdapToMoodle): a person's Moodle account and their
 * enrolments in the courses tilgang manages, over Moodle's REST web services.
 *
 *   desired  pure: the account from the directory and MV, the courses from MV (desired.ts)
 *   actual   the account matched by username/idnumber/email, its managed enrolments, course ids (read.ts)
 *   plan     pure: create / update / enable / disable / enrol / unenrol (plan.ts)
 *   apply    batched across people, a refused batch bisected (apply.ts)
 */
import { readSecret, TerminalError, type Target } from '../../spi/index.js';
import { applyBatch } from './apply.js';
import { MoodleClient, MoodleError, type MoodleSiteInfo } from './client.js';
import { MoodleConfig } from './config.js';
import { desired, identity, type Desired } from './desired.js';
import { MOODLE_OPERATIONS, planMoodle, type MoodleKind } from './plan.js';
import { MoodleSession, readActual } from './read.js';
import type { Actual, Payload } from './types.js';

export { courseIdnumber, parseCourseIdnumber, isManagedCourse } from './course-id.js';
export { MoodleConfig } from './config.js';
export { MoodleSession } from './read.js';

/** The functions the target calls; the token's service must allow each. */
const NEEDED = ['core_user_get_users_by_field', 'core_user_create_users', 'core_user_update_users', 'core_enrol_get_users_courses',
  'enrol_manual_enrol_users', 'enrol_manual_unenrol_users', 'core_course_get_courses_by_field'];

export const target: Target<MoodleConfig, Desired, Actual, Payload, MoodleSession, MoodleKind> = {
  name: 'moodle',
  operations: MOODLE_OPERATIONS,
  config: MoodleConfig,

  essential: (cfg) => [cfg.attributes.username, cfg.attributes.firstname, cfg.attributes.lastname, cfg.attributes.email],

  async connect({ config }) {
    const ws = new MoodleClient({ url: config.url, token: readSecret(config.token, 'targets.moodle.token'), connections: config.connections, timeoutMs: config.timeoutMs });
    return new MoodleSession(ws, config);
  },

  async check(s, { config }) {
    let info: MoodleSiteInfo;
    try {
      info = await s.ws.call<MoodleSiteInfo>('core_webservice_get_site_info');
    } catch (e) {
      // A wrong token is a configuration error; a Moodle that is down now may be up by the first event.
      if (e instanceof MoodleError) throw new TerminalError(`targets.moodle: Moodle at ${config.url} refused the token: ${e.errorcode}: ${e.message}`, 'check', 'token');
      throw e;
    }
    const have = new Set(info.functions.map((f) => f.name));
    const missing = NEEDED.filter((f) => !have.has(f));
    return {
      facts: { site: info.siteurl, release: info.release, user: info.username },
      warnings: missing.length ? [`the Moodle token's service lacks functions the target calls: ${missing.join(', ')}`] : [],
    };
  },

  async close(s) {
    await s.close();
  },

  desired(person, { config }) {
    return desired(person, config);
  },

  async actual(person, d, s, { config }) {
    return readActual(person, identity(person, config), d, s);
  },

  plan(d, a, _person, { config, global }) {
    return planMoodle(d, a, config, global.directory.sensitive);
  },

  async apply(plan, s, ctx, person) {
    const [r] = await applyBatch([{ person, plan, desired: null, actual: { account: null, enrolled: [], courses: {} } }], s);
    return r!;
  },

  async applyBatch(items, s) {
    return applyBatch(items, s);
  },
};
