import { z } from 'zod';
import { A, entitlementRules, secret, simulatorSettings } from '../../spi/index.js';


/** The Moodle user fields tilgang can match an existing account by, in the order given. */
export const MATCH_FIELDS = ['username', 'idnumber', 'email'] as const;
export type MatchField = (typeof MATCH_FIELDS)[number];

/**
 * `targets.moodle` in tilgang.yaml. Attribute names are the directory's; a mapping set to null is
 * a Moodle field tilgang leaves alone (never sent, never compared).
 */
export const MoodleConfig = z.object({
  enabled: z.boolean().default(true),
  /** The site's wwwroot (no /webservice suffix). */
  url: z.url(),
  /** The web-service token (a secret). */
  token: secret,
  /** Moodle auth plugin of the accounts tilgang creates; saml2 = Catalyst auth_saml2 (no local password). */
  auth: z.string().regex(/^[a-z0-9_]+$/).default('saml2'),
  /** Role ids in course context (a standard install: editingteacher 3, student 5). */
  roles: z.object({
    student: z.number().int().positive().default(5),
    teacher: z.number().int().positive().default(3),
  }).strict().prefault({}),
  /** Directory attribute → Moodle user field. */
  attributes: z.object({
    /** The seed's key_field: idautoPersonUserNameMV (username) or idautoPersonUHUserName (uh-username). */
    username: z.string().default(A.usernames),
    email: z.string().default(A.mail),
    firstname: z.string().default(A.givenName),
    lastname: z.string().default(A.sn),
    /** The immutable person id by default, so a renamed person is still found. */
    idnumber: z.string().nullable().default(A.id),
    /** Student id, sent in the custom profile field `heldBy.studentIdField`. */
    studentId: z.string().nullable().default(A.studentId),
  }).strict().prefault({}),
  /** The seed's *held by*: the institution (Moodle's institution field) and the student id's profile field. */
  heldBy: z.object({
    institution: z.string().nullable().default(null),
    /** Shortname of a custom user profile field defined on the site; null: the student id is not sent. */
    studentIdField: z.string().regex(/^[A-Za-z0-9_-]+$/).nullable().default(null),
  }).strict().prefault({}),
  /** Moodle's department field: the person's org unit (from MV) by this name; null leaves it alone. */
  department: z.enum(['nameNb', 'nameEn', 'shortName']).nullable().default('nameNb'),
  /**
   * Fields an existing account is looked up by; every match counts, more than one account is a
   * duplicate. `email` finds accounts made by hand under another username; without it an e-mail
   * clash still surfaces, as Moodle refuses a second account with the same address.
   */
  match: z.array(z.enum(MATCH_FIELDS)).min(1).default(['username', 'idnumber']),
  /** Whether tilgang enrols and unenrols in managed courses. */
  enrolments: z.boolean().default(true),
  /** Items per create/update/enrol/unenrol call (Moodle's max_input_vars bounds it; ≤ 100 is safe). */
  batchSize: z.number().int().min(1).max(500).default(100),
  /** Sockets (≈ PHP workers) tilgang may occupy at once. */
  connections: z.number().int().min(1).max(64).default(4),
  timeoutMs: z.number().int().min(1000).default(120_000),
  /**
   * How long a course's Moodle id, and who is enrolled in it with which roles, is remembered. A
   * course not found is remembered for `courseMissingSeconds`, except by a REPROCESS (the courses
   * flow reprocesses a course's people right after making it: they must see it).
   */
  courseCacheSeconds: z.number().int().min(0).default(600),
  courseMissingSeconds: z.number().int().min(0).default(60),
  /**
   * People per second (over the last 10 s) above which a LIVE or REPROCESS event's enrolments come
   * from the course rosters, as a full reconciliation's do, instead of one
   * core_enrol_get_users_courses per person: a busy stream (a start of term, a burst of changes)
   * would otherwise spend the site's workers on a call per person. Below it (a trickle of changes)
   * a person's own courses are read, cheaper than every roster in scope, unless every roster in
   * scope is already read and fresh (they cost no call then). 0: always the rosters.
   */
  rostersAbovePerSecond: z.number().min(0).default(20),
  /** How long an account lookup waits for other people's, so a wave's lookups leave in few calls. */
  lookupLingerMs: z.number().int().min(0).max(1000).default(10),
  /**
   * The first semester (`YYYY:VÅR` or `YYYY:HØST`) whose managed courses tilgang enrols and
   * unenrols in; default the current one (VÅR January–June, HØST July–December). Courses of
   * earlier semesters keep their people: a new semester unenrols nobody from the last one.
   */
  enrolmentsFrom: z.string().regex(/^[0-9]{4}:(VÅR|HØST)$/, 'YYYY:VÅR or YYYY:HØST').optional(),
  /** For `npm start` / `tilgang sim moodle`: where the simulator listens. */
  simulator: simulatorSettings.optional(),
  entitlement: entitlementRules({ affiliations: ['employee', 'student', 'affiliate'], request: 'moodle' }),
}).strict();

export type MoodleConfig = z.infer<typeof MoodleConfig>;
/** The input shape (before defaults), for tests and the benchmark. */
export type MoodleConfigInput = z.input<typeof MoodleConfig>;
