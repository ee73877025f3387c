import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { faultSettings } from '../lib/faults.js';

/** Zod fragments every target's configuration block reuses, so secrets and entitlement read alike everywhere. */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A secret is never written in the file itself: it names an environment variable or a file. */
export const secret = z.union([
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
], {
  // A plain string is the likeliest mistake: say how to write it rather than zod's "Invalid input".
  error: (iss) => typeof iss.input === 'string'
    ? 'a secret is not written in the configuration itself: write { env: VARIABLE } or { file: path }'
    : iss.input === undefined ? 'required: a secret, { env: VARIABLE } or { file: path }' : 'a secret: { env: VARIABLE } or { file: path }',
}).describe('a secret: { env: VAR } or { file: path }');

export type Secret = z.infer<typeof secret>;

/** Every secret value this process has read, in the order read; the array is live (it grows as secrets are read). */
const resolved: string[] = [];

/**
 * The secrets the configuration resolved so far (tokens, passwords), for scrubbing them out of
 * error texts, results and logs: a remote system may echo a token back in its error.
 */
export function resolvedSecrets(): readonly string[] {
  return resolved;
}

/** The secret's value, remembered for scrubbing; `what` names the field in the error, never the value. */
export function readSecret(s: Secret, what: string): string {
  let v: string;
  if ('env' in s) {
    const e = process.env[s.env];
    if (e === undefined || e === '') throw new ConfigError(`${what}: environment variable ${s.env} is not set`);
    v = e;
  } else {
    const p = resolve(s.file);
    if (!existsSync(p)) throw new ConfigError(`${what}: secret file ${s.file} does not exist`);
    v = readFileSync(p, 'utf8').trim();
  }
  if (!resolved.includes(v)) resolved.push(v);
  return v;
}

/**
 * A simulator's credential: the secret tilgang is configured with. A secret file that does not exist
 * yet is created with `make()`, so a fresh checkout's `npm start` works and tilgang and the
 * simulator agree; 'wx' keeps the file of whoever (tilgang or another simulator) wrote it first.
 */
export function readOrMakeSecret(s: Secret, what: string, make: () => string): string {
  if ('file' in s) {
    const p = resolve(s.file);
    if (!existsSync(p)) {
      mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
      try {
        writeFileSync(p, make(), { mode: 0o600, flag: 'wx' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
  }
  return readSecret(s, what);
}

/** Entitlement rules, the same shape for every target: birthright (affiliations, roles) or a granted request. */
export function entitlementRules(defaults: { affiliations?: string[]; roles?: string[]; request?: string } = {}) {
  return z.object({
    affiliations: z.array(z.string()).default(defaults.affiliations ?? []),
    roles: z.array(z.string()).default(defaults.roles ?? []),
    /** The value in idautoRequestAssociations that grants this target. */
    request: defaults.request === undefined ? z.string().optional() : z.string().optional().default(defaults.request),
  }).strict().prefault({});
}

export interface EntitlementRules {
  affiliations: string[];
  roles: string[];
  request?: string | undefined;
}

/** Where a target's simulator listens when `npm start` or `tilgang sim` runs it. */
export const simulatorSettings = z.object({
  port: z.number().int().min(0).max(65535),
  latency: z.boolean().default(false),
  state: z.string().optional(),
  /** Injected faults at seeded rates (5xx, 429 with Retry-After, timeouts, lost answers, slow answers). */
  faults: faultSettings.optional(),
}).strict();
