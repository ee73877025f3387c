import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { A, entitlementRules, secret, simulatorSettings } from '../../spi/index.js';
import { Policy } from './policy.js';

/**
 * The policy: inline, or the path of a YAML/JSON file (the seed's `policyFile`), read and
 * validated when the configuration is, so a bad policy stops tilgang at start.
 */
const policyRef = z.union([Policy, z.string().min(1)]).transform((v, ctx) => {
  if (typeof v !== 'string') return v;
  const p = resolve(v);
  if (!existsSync(p)) {
    ctx.addIssue({ code: 'custom', message: `policy file ${v} does not exist` });
    return z.NEVER;
  }
  const parsed = Policy.safeParse(parseYaml(readFileSync(p, 'utf8')));
  if (!parsed.success) {
    for (const i of parsed.error.issues) ctx.addIssue({ code: 'custom', message: `policy file ${v}: ${i.path.join('.') || '(root)'}: ${i.message}` });
    return z.NEVER;
  }
  return parsed.data;
});

/** OAuth2 client credentials (recommended by UNIwise) or a static API key. */
const auth = z.union([
  z.object({ clientId: z.string().min(1), clientSecret: secret }).strict(),
  z.object({ apiKey: secret }).strict(),
]);

/** `targets.wiseflow` in tilgang.yaml. Attribute names are the directory's. */
export const WiseflowConfig = z.object({
  enabled: z.boolean().default(true),
  /** API base including /v1, e.g. https://europe-api.wiseflow.net/v1. */
  url: z.url(),
  auth,
  /** Sent as X-Client-Name on every request (the name given in the certification review). */
  clientName: z.string().min(1).default('tilgang'),
  /** The licence's limits per credential; `share` is the part of them tilgang may use (other integrations share the credential's licence). */
  rateLimit: z.object({
    perSecond: z.number().int().min(1).default(200),
    perMinute: z.number().int().min(1).default(5000),
    share: z.number().gt(0).max(1).default(1),
  }).strict().prefault({}),
  /** How often a 429 is waited out (its Retry-After) before the person's attempt fails transiently. */
  maxThrottleWaits: z.number().int().min(0).default(10),
  /** User data types (licence ids) of the external ids; null: not sent, not compared. */
  userDataTypes: z.object({
    /** eduPersonPrincipalName / Feide id: the SSO login identity, and the key a user is found by. */
    feideId: z.number().int().positive(),
    nationalId: z.number().int().positive().nullable().default(null),
    studentId: z.number().int().positive().nullable().default(null),
    /** The immutable person id: finds the user after a changed Feide id. */
    personId: z.number().int().positive().nullable().default(null),
  }).strict(),
  attributes: z.object({
    firstName: z.string().default(A.givenName),
    lastName: z.string().default(A.sn),
    /** The primary email. */
    email: z.string().default(A.mail),
    /** Every address the person has; those other than the primary become secondary emails. null: none. */
    secondaryEmails: z.string().nullable().default(null),
    feideId: z.string().default(A.feideId),
    nationalId: z.string().default(A.nationalId),
    studentId: z.string().default(A.studentId),
    personId: z.string().default(A.id),
    language: z.string().default(A.preferredLanguage),
    affiliations: z.string().default(A.affiliations),
    businessRoles: z.string().default(A.appRoles),
  }).strict().prefault({}),
  /** The directory's preferred language → WISEflow's code; a value not listed leaves the language alone. */
  languages: z.record(z.string(), z.string().regex(/^[a-z]{2}(_[A-Z]{2})?$/)).default({ nb: 'nb', nn: 'nn', en: 'en' }),
  policy: policyRef,
  /** Sockets: enough requests in flight to reach the licence's 200/s at WISEflow's response times. */
  connections: z.number().int().min(1).max(128).default(32),
  timeoutMs: z.number().int().min(1000).default(30_000),
  simulator: simulatorSettings.optional(),
  entitlement: entitlementRules({ affiliations: ['employee', 'student', 'sensor'], request: 'wiseflow' }),
}).strict();

export type WiseflowConfig = z.infer<typeof WiseflowConfig>;
export type WiseflowConfigInput = z.input<typeof WiseflowConfig>;
