/**
 * The Moodle users target (the seed's PortalLdapToMoodle): a person's Moodle account and their
 * enrolments in the courses tilgang manages, over Moodle's REST web services.
 *
 *   desired  pure: the account from the directory and MV, the courses from MV (desired.ts)
 *   actual   the account matched by username/idnumber/email, its managed enrolments, course ids (read.ts)
 *   plan     pure: create / update / enable / disable / enrol / unenrol (plan.ts)
 *   apply    batched across people, a refused batch bisected (apply.ts)
 */
import { readSecret, type Target } from '../../spi/index.js';
import { applyBatch } from './apply.js';
import { checkMoodle } from './check.js';
import { MoodleClient } from './client.js';
import { MoodleConfig } from './config.js';
import { desired, identity, type Desired } from './desired.js';
import { MOODLE_OPERATIONS, planMoodle, type MoodleKind } from './plan.js';
import { listManagedAccounts, MoodleSession, readActual } from './read.js';
import type { Actual, Payload } from './types.js';

export { courseIdnumber, parseCourseIdnumber, isManagedCourse } from './course-id.js';
export { MoodleConfig } from './config.js';
export { MoodleSession } from './read.js';

export const target: Target<MoodleConfig, Desired, Actual, Payload, MoodleSession, MoodleKind> = {
  name: 'moodle',
  operations: MOODLE_OPERATIONS,
  config: MoodleConfig,

  // Department from the person's org unit, courses from their enrolments: only what the config uses.
  mv: (cfg) => [...(cfg.department ? ['orgUnits' as const] : []), ...(cfg.enrolments ? ['enrolments' as const] : [])],

  essential: (cfg) => [cfg.attributes.username, cfg.attributes.firstname, cfg.attributes.lastname, cfg.attributes.email],

  async connect({ config }) {
    const ws = new MoodleClient({ url: config.url, token: readSecret(config.token, 'targets.moodle.token'), connections: config.connections, timeoutMs: config.timeoutMs });
    return new MoodleSession(ws, config);
  },

  check(s, { config }) {
    return checkMoodle(s, config);
  },

  async close(s) {
    await s.close();
  },

  desired(person, { config }) {
    return desired(person, config);
  },

  // Lookups are coalesced (Batcher), courses and rosters read once for everyone, and every call
  // goes through the client's `connections`: a whole wave may read at once.
  readsWholeWave: true,

  async actual(person, d, s, { config }) {
    return readActual(person, identity(person, config), d, s);
  },

  plan(d, a, _person, { config, global }) {
    return planMoodle(d, a, config, global.directory.sensitive);
  },

  listManaged(s) {
    return listManagedAccounts(s);
  },

  async apply(plan, s, ctx, person) {
    const [r] = await applyBatch([{ person, plan, desired: null, actual: { account: null, enrolled: [], courses: {} } }], s);
    return r!;
  },

  async applyBatch(items, s) {
    return applyBatch(items, s);
  },
};
