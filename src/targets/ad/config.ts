import { z } from 'zod';
import { A, entitlementRules, secret } from '../../spi/index.js';

const dn = z.string().regex(/^[A-Za-z][\w-]*=.+/, 'a DN such as OU=Staff,DC=example,DC=org');

/**
 * `targets.ad` in tilgang.yaml: the seed's PortalLdapToAD. Attribute names on the left are AD's,
 * on the right the portal directory's; a mapping set to null is an AD attribute tilgang leaves alone.
 */
export const AdConfig = z.object({
  enabled: z.boolean().default(true),
  /** AD takes a password (unicodePwd) only over an encrypted connection. */
  url: z.string().regex(/^ldaps:\/\/[^/]+$/, 'an ldaps://host[:port] URL'),
  /** tilgang's own service account (a UPN such as svc-tilgang@example.org, or a DN); never Administrator. */
  bindDn: z.string().min(1),
  password: secret,
  tls: z.object({
    /** PEM of the CA that signed the domain controller's certificate; the system's CAs when absent. */
    caFile: z.string().optional(),
    /** Check the certificate names the host in `url` (off for a DC whose certificate names only its own host name). */
    verifyHostname: z.boolean().default(true),
  }).strict().prefault({}),
  /** Where accounts are looked for (the whole domain, so a duplicate anywhere is seen). */
  baseDn: dn,
  /** userPrincipalName = username@upnSuffix. */
  upnSuffix: z.string().min(1),
  /** The domain of the primary (full-name) and secondary (username) SMTP addresses. */
  mailDomain: z.string().min(1),
  /**
   * The AD attribute holding the person's immutable idautoID: rename and move never lose the link.
   * Not employeeID: AD caps it at 16 characters and an idautoID is a 36-character UUID.
   */
  anchor: z.string().default('employeeNumber'),
  /** Placement roots by primary affiliation; `disabled`: where disabled accounts go (null: they stay). */
  ous: z.object({
    employee: dn,
    student: dn,
    /** Other affiliations (affiliate, sensor); the employee root when absent. */
    other: dn.optional(),
    disabled: dn.nullable().default(null),
  }).strict(),
  /** How many org-unit levels below the root, from the faculty down (2: faculty → department). */
  placementLevels: z.number().int().min(0).max(4).default(2),
  /** Directory sources. */
  attributes: z.object({
    username: z.string().default(A.usernames),
    givenName: z.string().default(A.givenName),
    sn: z.string().default(A.sn),
    /** The full name, the account's cn; "givenName sn" when the person has none. */
    fullName: z.string().default(A.displayName),
    displayName: z.string().nullable().default(A.displayName),
    mail: z.string().nullable().default(A.mail),
    employeeType: z.string().nullable().default(A.employeeType),
    title: z.string().nullable().default(A.jobTitle),
    extensionAttribute1: z.string().nullable().default(A.affiliation),
    affiliation: z.string().default(A.affiliation),
    /** The manager's directory DN; its idautoID finds the manager's own AD account. */
    manager: z.string().nullable().default(A.manager),
    /** Fallback of the stedkode when MV has no org unit for the person. */
    deptCode: z.string().default(A.deptCode),
  }).strict().prefault({}),
  /** AD's department: the person's MV org unit by this name; null leaves it alone. */
  department: z.enum(['nameNb', 'nameEn', 'shortName']).nullable().default('nameNb'),
  /**
   * The publication reservation: a person carrying `value` in the directory attribute `source` is
   * reserved; AD's `attribute` is then `TRUE`, and absent otherwise. null: not provisioned.
   */
  reservation: z.object({
    source: z.string().default(A.appRoles),
    value: z.string().default('iam:reserved'),
    attribute: z.string().default('msDS-cloudExtensionAttribute1'),
  }).strict().nullable().prefault({}),
  /** The initial password's policy (the seed took it from its cloud portal). */
  passwordPolicy: z.object({
    length: z.number().int().min(8).max(128).default(16),
    lower: z.boolean().default(true),
    upper: z.boolean().default(true),
    digits: z.boolean().default(true),
    symbols: z.boolean().default(true),
  }).strict().prefault({}),
  /** LDAPS connections tilgang keeps open. */
  connections: z.number().int().min(1).max(64).default(4),
  timeoutMs: z.number().int().min(1000).default(30_000),
  entitlement: entitlementRules({ affiliations: ['employee', 'student'], request: 'ad' }),
}).strict();

export type AdConfig = z.infer<typeof AdConfig>;
export type AdConfigInput = z.input<typeof AdConfig>;
