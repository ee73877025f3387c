/**
 * The Lenel OnGuard target (the seed's PortalLdapToLenel): a person's cardholder, the badge of the
 * managed type, and the access levels the mapping manages, over OpenAccess (REST).
 *
 *   desired  pure: the cardholder from the directory and MV, the levels from the mapping (desired.ts)
 *   actual   the cardholder by its key (SSNO), its badge, the badge's managed levels (read.ts)
 *   plan     pure: create / update / rename / move / enable / disable / grant / revoke (plan.ts)
 *   apply    one call at a time, in the person's order (apply.ts)
 */
import { readSecret, TerminalError, type Target } from '../../spi/index.js';
import { applyPlan } from './apply.js';
import { LenelClient, OpenAccessError, prop } from './client.js';
import { LenelConfig } from './config.js';
import { desired, managedLevels, type Desired } from './desired.js';
import { LENEL_OPERATIONS, planLenel, type LenelKind, type Payload } from './plan.js';
import { LenelSession, listManagedCardholders, readActual, type Actual } from './read.js';

export { LenelConfig } from './config.js';

export const target: Target<LenelConfig, Desired, Actual, Payload, LenelSession, LenelKind> = {
  name: 'lenel',
  operations: LENEL_OPERATIONS,
  config: LenelConfig,
  // Access levels by org unit (and the department field) follow the person's unit and its parents.
  mv: () => ['orgUnits'],

  // The seed skips a record without its essential attributes; the cardholder key (SSNO) is one of
  // them: whichever of the key's attributes has a value, and a person with none is skipped and
  // counted, not failed (OnGuard could neither find nor tell apart such a cardholder).
  essential: (cfg) => [cfg.attributes.lastname, cfg.key],

  async connect({ config, log }) {
    const client = new LenelClient({
      url: config.url, applicationId: config.applicationId, username: config.username,
      password: readSecret(config.password, 'targets.lenel.password'), directoryId: config.directoryId,
      connections: config.connections, timeoutMs: config.timeoutMs, keepaliveSeconds: config.keepaliveSeconds,
      renewBeforeSeconds: config.renewBeforeSeconds, log: log.child({ component: 'openaccess' }),
    });
    return new LenelSession(client, config);
  },

  /** The licence, the operator's login, the badge type and statuses, and the levels the mapping names. */
  async check(s, { config }) {
    let v;
    try {
      v = await s.client.version();
      await s.client.list('Lnl_BadgeType', `ID = ${config.badge.type}`).then((t) => {
        if (!t.length) throw new TerminalError(`targets.lenel.badge.type: OnGuard has no badge type ${config.badge.type}`, 'config', 'badge.type');
      });
    } catch (e) {
      // A refused licence or login will not get better by waiting.
      if (e instanceof OpenAccessError && e.status === 401) throw new TerminalError(e.message, e.oaCode);
      throw e;
    }
    const warnings: string[] = [];
    const statuses = new Set((await s.client.list('Lnl_BadgeStatus')).map((r) => Number(prop(r, 'ID'))));
    for (const [field, id] of [['activeStatus', config.badge.activeStatus], ['inactiveStatus', config.badge.inactiveStatus]] as const) {
      if (!statuses.has(id)) throw new TerminalError(`targets.lenel.badge.${field}: OnGuard has no badge status ${id}`, 'config', `badge.${field}`);
    }
    for (const level of managedLevels(config)) if ((await s.levels.id(level)) === undefined) warnings.push(`OnGuard has no access level named "${level}": it is granted to nobody`);
    return { facts: { product: v.product_name, version: v.product_version, operator: config.username, badgeType: config.badge.type }, warnings };
  },

  async close(s) {
    await s.close();
  },

  desired(person, { config }) {
    return desired(person, config);
  },

  // The wave's reads are coalesced into OR filters of up to READ_BATCH keys (read.ts), bounded by the client's connections.
  readsWholeWave: true,

  async actual(person, _d, s, { global }) {
    return readActual(person, s, global.directory.sensitive);
  },

  plan(d, a, _person, { config, global }) {
    return planLenel(d, a, config, global.directory.sensitive);
  },

  listManaged(s) {
    return listManagedCardholders(s);
  },

  async apply(plan, s) {
    return applyPlan(plan, s);
  },
};
