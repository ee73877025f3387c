/**
 * The Moodle users target (the seed's PortalLdapToMoodle): a person's Moodle account and their
 * enrolments in the courses tilgang manages, over Moodle's REST web services.
 *
 *   desired  pure: the account from the directory and MV, the courses from MV (desired.ts)
 *   actual   the account matched by username/idnumber/email, its managed enrolments, course ids (read.ts)
 *   plan     pure: create / update / enable / disable / enrol / unenrol (plan.ts)
 *   apply    batched across people, a refused batch bisected (apply.ts)
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadConfig, readSecret, type Secret } from '../../config.js';
import type { Target } from '../../consumers/target.js';
import { applyBatch } from './apply.js';
import { MoodleClient, MoodleError, type MoodleSiteInfo } from './client.js';
import { MoodleConfig } from './config.js';
import { desired, identity, type Desired } from './desired.js';
import { planMoodle } from './plan.js';
import { MoodleSession, readActual } from './read.js';
import { startMoodleSimulator } from './simulator/index.js';
import type { Actual, Payload } from './types.js';

export { courseIdnumber, parseCourseIdnumber, isManagedCourse } from './course-id.js';
export { MoodleConfig } from './config.js';
export { MoodleSession } from './read.js';

/** Where the token lives when the configuration names none (the local stack's secrets directory). */
export const DEFAULT_TOKEN_FILE = '.tilgang/secrets/moodle-token';

/** The functions the target calls; the token's service must allow each. */
const NEEDED = ['core_user_get_users_by_field', 'core_user_create_users', 'core_user_update_users', 'core_enrol_get_users_courses',
  'enrol_manual_enrol_users', 'enrol_manual_unenrol_users', 'core_course_get_courses_by_field'];

/** The moodle block of the configuration tilgang runs with (TILGANG_CONFIG, tilgang.yaml or the example), if any. */
function configuredBlock(): { token: Secret; profileField: string | null } {
  try {
    const block = loadConfig().targets.moodle as { token?: Secret; heldBy?: { studentIdField?: string | null } } | undefined;
    return { token: block?.token ?? { file: DEFAULT_TOKEN_FILE }, profileField: block?.heldBy?.studentIdField ?? null };
  } catch {
    // No configuration file: the default token file.
    return { token: { file: DEFAULT_TOKEN_FILE }, profileField: null };
  }
}

/**
 * The token the simulator must accept: the one tilgang is configured with. A token file that does
 * not exist yet is created with a random token (32 hex digits, as Moodle makes them), so
 * `npm start` works on a fresh checkout and tilgang and the simulator agree.
 */
export function simulatorToken(secret: Secret = configuredBlock().token): string {
  if ('env' in secret) return readSecret(secret, 'targets.moodle.token');
  const p = resolve(secret.file);
  if (!existsSync(p)) {
    mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
    try {
      // 'wx': if tilgang or another simulator wrote it first, keep theirs.
      writeFileSync(p, randomBytes(16).toString('hex'), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return readFileSync(p, 'utf8').trim();
}

export const target: Target<MoodleConfig, Desired, Actual, Payload, MoodleSession> = {
  name: 'moodle',
  config: MoodleConfig,

  essential: (cfg) => [cfg.attributes.username, cfg.attributes.firstname, cfg.attributes.lastname, cfg.attributes.email],

  async connect({ config, log }) {
    const ws = new MoodleClient({ url: config.url, token: readSecret(config.token, 'targets.moodle.token'), connections: config.connections, timeoutMs: config.timeoutMs });
    try {
      const info = await ws.call<MoodleSiteInfo>('core_webservice_get_site_info');
      const have = new Set(info.functions.map((f) => f.name));
      const missing = NEEDED.filter((f) => !have.has(f));
      if (missing.length) log.warn({ missing }, 'the Moodle token\'s service lacks functions the target calls');
      log.info({ site: info.siteurl, release: info.release, user: info.username }, 'connected to Moodle');
    } catch (e) {
      // A wrong token or URL is a configuration error; a Moodle that is down now may be up by the first event.
      if (e instanceof MoodleError) {
        await ws.close();
        throw new Error(`targets.moodle: Moodle at ${config.url} refused the token: ${e.errorcode}: ${e.message}`);
      }
      log.warn({ err: (e as Error).message }, 'Moodle is not reachable yet; events will be retried');
    }
    return new MoodleSession(ws, config);
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

  simulator: {
    async start({ port, stateFile, latency, token }) {
      const block = configuredBlock();
      const sim = await startMoodleSimulator({
        port, stateFile, latency, token: token ?? simulatorToken(block.token),
        // The site defines the profile field tilgang sends the student id in.
        profileFields: block.profileField ? [{ shortname: block.profileField, name: 'Student id', datatype: 'text', visible: true }] : [],
      });
      return { url: sim.url, close: () => sim.close() };
    },
  },
};
