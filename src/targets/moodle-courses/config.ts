import { z } from 'zod';
import { entitlementRules, secret } from '../../spi/index.js';

const monthDay = z.string().regex(/^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/, 'MM-DD');

/**
 * `targets.moodle-courses` in tilgang.yaml: the seed's PortalLdapToMoodle_Courses. Which
 * semesters are in scope is the courses producer's business (`courses` in the configuration):
 * this target makes the course of every topic it is told about.
 */
export const MoodleCoursesConfig = z.object({
  enabled: z.boolean().default(true),
  /** The site's wwwroot (no /webservice suffix); the same Moodle as the users target's. */
  url: z.url(),
  /** The web-service token (a secret); its service must hold the course and category functions. */
  token: secret,
  /** Shortname of the standard template course whose content every new course gets. Missing: the target does not start. */
  template: z.string().min(1),
  /** The language of the course's full name: MV's name_nb or name_en. */
  language: z.enum(['nb', 'en']).default('nb'),
  /**
   * The course's shortname (unique in Moodle), from {institution}, {code}, {version}, {year} and
   * {term}. The idnumber is always the source id and semester, `institution:code:version:year:term`.
   */
  shortname: z.string().min(1).refine((s) => s.includes('{code}'), 'must contain {code}').default('{code}-{year}-{term}'),
  /** Categories are found by idnumber `<prefix>:<year>:<term>` (semester) and `<prefix>:<year>:<term>:<emnetype>` (course type). */
  categoryPrefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('tilgang'),
  /** A course's start and end dates in its semester (UTC days). */
  dates: z.object({
    spring: z.object({ start: monthDay.default('01-01'), end: monthDay.default('06-30') }).strict().prefault({}),
    autumn: z.object({ start: monthDay.default('07-01'), end: monthDay.default('12-31') }).strict().prefault({}),
  }).strict().prefault({}),
  /** Whether students see a new course. */
  visible: z.boolean().default(true),
  /**
   * A course made now has its people (MV's master_persons) reprocessed on person.changed, for
   * these targets only (null: every target), unless the event says skipUsers.
   */
  reprocessTargets: z.array(z.string()).nullable().default(['moodle']),
  /** Sockets (≈ PHP workers) tilgang may occupy at once. */
  connections: z.number().int().min(1).max(16).default(2),
  /** Per call; an import runs the backup and restore inside the request (Moodle allows it 360 s). */
  timeoutMs: z.number().int().min(1000).default(400_000),
  /** Not used: a course has no entitlement. The contract asks every target for it. */
  entitlement: entitlementRules(),
}).strict();

export type MoodleCoursesConfig = z.infer<typeof MoodleCoursesConfig>;
