import { z } from 'zod';
import { A, entitlementRules, secret, simulatorSettings } from '../../spi/index.js';

/**
 * One rule of the access-level mapping: a person who matches every condition given gets the
 * levels. Conditions: an affiliation, a business role (MV's roles or the directory's app roles),
 * an org unit (stedkode; the person's unit or any unit above it).
 */
export const AccessLevelRule = z.object({
  affiliation: z.string().optional(),
  role: z.string().optional(),
  stedkode: z.string().optional(),
  /** OnGuard access level names (Lnl_AccessLevel.Name). */
  levels: z.array(z.string().min(1)).min(1),
}).strict();
export type AccessLevelRule = z.infer<typeof AccessLevelRule>;

/** `targets.lenel` in tilgang.yaml. Attribute names are the directory's. */
export const LenelConfig = z.object({
  enabled: z.boolean().default(true),
  /** The OpenAccess base URL, e.g. https://onguard.example.org:8080/api/access/onguard/openaccess. */
  url: z.url(),
  /** The Application-Id the site's OpenAccess licence names. */
  applicationId: z.string().min(1),
  /** The OnGuard operator tilgang logs in as, its password (a secret), and its directory (absent: an internal account). */
  username: z.string().min(1),
  password: secret,
  directoryId: z.string().optional(),
  /**
   * The cardholder's key in SSNO: the first of these directory attributes that has a value. The
   * employee number, then the student number by default; never the national id unless named here.
   */
  key: z.array(z.string().min(1)).min(1).default([A.hrId, A.studentId]),
  attributes: z.object({
    firstname: z.string().default(A.givenName),
    lastname: z.string().default(A.sn),
    email: z.string().nullable().default(A.mail),
    /** Extension (EXT); null leaves it alone. */
    ext: z.string().nullable().default('telephoneNumber'),
    /** Title (TITLE, a Lnl_TITLE lookup by name); null leaves it alone. */
    title: z.string().nullable().default(A.jobTitle),
  }).strict().prefault({}),
  /** Custom cardholder fields (UDF name → directory attribute), e.g. the person's id. */
  udfs: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'UDF names are upper case with underscores'), z.string()).default({ IDAUTO_ID: A.id }),
  /** Department (DEPT, a Lnl_DEPT lookup by name): the person's org unit from MV by this name; null leaves it alone. */
  department: z.enum(['nameNb', 'nameEn', 'shortName']).nullable().default('nameNb'),
  /** A title or department name OnGuard has no lookup for yet is added (as OnGuard's own forms allow); false: the person fails. */
  createLookups: z.boolean().default(true),
  badge: z.object({
    /** Lnl_BadgeType id of the badge tilgang issues and manages. */
    type: z.number().int().positive(),
    /** Lnl_BadgeStatus ids: active, and what a disabled person's badge is set to (never deleted). */
    activeStatus: z.number().int().positive().default(1),
    inactiveStatus: z.number().int().positive(),
    /** How long an issued or re-enabled badge is valid. */
    validDays: z.number().int().positive().default(3650),
  }).strict(),
  /** The access-level mapping; only the levels it names are ever added or removed. */
  accessLevels: z.array(AccessLevelRule).default([]),
  /**
   * Requests at once toward the one application server: about twice the workers it answers with.
   * The server queues what it cannot start, so it never takes more at once than it has workers;
   * with only as many connections as workers, each worker idles while its answer is read and the
   * next request is sent (at 4 toward 4 workers, a modify took 170 ms where it takes 92 at 8; at 2,
   * 50 changes/s kept a change waiting 2 s for a connection).
   */
  connections: z.number().int().min(1).max(16).default(8),
  timeoutMs: z.number().int().min(1000).default(30_000),
  /** A keepalive this often while the session is in use; a new session this long before it expires. */
  keepaliveSeconds: z.number().int().min(10).default(240),
  renewBeforeSeconds: z.number().int().min(0).default(300),
  /** How long lookups (access levels, titles, departments) are remembered. */
  lookupCacheSeconds: z.number().int().min(0).default(600),
  simulator: simulatorSettings.optional(),
  entitlement: entitlementRules({ affiliations: ['employee', 'student'], request: 'lenel' }),
}).strict();

export type LenelConfig = z.infer<typeof LenelConfig>;
export type LenelConfigInput = z.input<typeof LenelConfig>;
