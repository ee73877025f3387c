/**
 * The WISEflow target (the seed's PortalLdapToWISEflow): a person's user on the digital exam
 * platform, with the licence roles the policy gives, emails, external ids and language, over
 * WISEflow's REST API v1.
 *
 *   desired  pure: the user from the directory, roles from the policy (desired.ts, policy.ts)
 *   actual   the user found by user data, in batched searches (read.ts)
 *   plan     pure: create / update / enable / disable, roles only the policy manages (plan.ts)
 *   apply    WISEflow's calls in the order its rules require (apply.ts)
 */
import { readSecret, TerminalError, type CheckReport, type Target } from '../../spi/index.js';
import { applyPlan } from './apply.js';
import { WiseflowClient, WiseflowError, type Credentials } from './client.js';
import { WiseflowConfig } from './config.js';
import { desired, type Desired } from './desired.js';
import { planWiseflow } from './plan.js';
import { readActual, WiseflowSession } from './read.js';
import type { Actual, Payload } from './types.js';

export { WiseflowConfig } from './config.js';
export { WiseflowClient } from './client.js';
export { WiseflowSession } from './read.js';

function credentials(cfg: WiseflowConfig): Credentials {
  const a = cfg.auth;
  return 'apiKey' in a
    ? { apiKey: readSecret(a.apiKey, 'targets.wiseflow.auth.apiKey') }
    : { clientId: a.clientId, clientSecret: readSecret(a.clientSecret, 'targets.wiseflow.auth.clientSecret') };
}

/** The start check: the credential works, and every role the policy manages is on the licence and not protected. */
async function check(s: WiseflowSession, cfg: WiseflowConfig): Promise<CheckReport> {
  let roles;
  try {
    roles = await s.licenseRoles();
  } catch (e) {
    if (e instanceof WiseflowError || (e instanceof TerminalError && e.code === 'auth')) {
      throw new TerminalError(`targets.wiseflow: WISEflow at ${cfg.url} refused the credential: ${e.message}`, 'check', 'auth');
    }
    throw e;
  }
  const problems = cfg.policy.managedRoles.flatMap((n) => (!roles[n] ? [`"${n}" is not a role of the licence (it has: ${Object.keys(roles).join(', ')})`]
    : roles[n].isProtected ? [`"${n}" is protected: WISEflow lets no integration add or remove it`] : []));
  if (problems.length) throw new TerminalError(`targets.wiseflow.policy.managedRoles: ${problems.join('; ')}`, 'check', 'policy');
  return { facts: { url: cfg.url, managedRoles: cfg.policy.managedRoles.join(', '), clientName: cfg.clientName } };
}

export const target: Target<WiseflowConfig, Desired, Actual, Payload, WiseflowSession> = {
  name: 'wiseflow',
  config: WiseflowConfig,

  essential: (cfg) => [cfg.attributes.firstName, cfg.attributes.lastName, cfg.attributes.email, cfg.attributes.feideId],

  async connect({ config, log }) {
    const share = config.rateLimit.share;
    const client = new WiseflowClient({
      url: config.url, credentials: credentials(config), clientName: config.clientName,
      limits: { perSecond: Math.max(1, Math.floor(config.rateLimit.perSecond * share)), perMinute: Math.max(1, Math.floor(config.rateLimit.perMinute * share)) },
      maxThrottleWaits: config.maxThrottleWaits, connections: config.connections, timeoutMs: config.timeoutMs, log,
    });
    return new WiseflowSession(client, config);
  },

  check(s, { config }) {
    return check(s, config);
  },

  async close(s) {
    await s.close();
  },

  desired(person, { config }) {
    return desired(person, config);
  },

  async actual(person, _d, s) {
    return readActual(person, s);
  },

  plan(d, a, person, { config }) {
    return planWiseflow(d, a, config, person.id);
  },

  async apply(plan, s, _ctx, person) {
    return applyPlan(plan, s.client, person);
  },
};
