/**
 * The Active Directory target (the seed's PortalLdapToAD): a person's AD user account over LDAPS,
 * as tilgang's own service account.
 *
 *   desired  pure: the account from the directory and MV, its OU from the MV org unit (desired.ts)
 *   actual   matched by the idautoID anchor, else by sAMAccountName; manager, taken names (read.ts)
 *   plan     pure: create / update / rename / move / enable / disable, never delete (plan.ts)
 *   apply    one request per operation, the password set in the create itself (apply.ts)
 */
import { TerminalError, type Target } from '../../spi/index.js';
import { eq } from '../../lib/ldap/filter.js';
import { applyAd } from './apply.js';
import { adError, AdConnection, strings } from './client.js';
import { AdConfig } from './config.js';
import { desired, type Desired } from './desired.js';
import { planAd, type Payload } from './plan.js';
import { AdSession, listManagedAccounts, readActual, type Actual } from './read.js';

export { AdConfig } from './config.js';

export const target: Target<AdConfig, Desired, Actual, Payload, AdSession> = {
  name: 'ad',
  config: AdConfig,
  // Placement in the OU tree follows the person's org unit and its parents.
  mv: () => ['orgUnits'],

  essential: (cfg) => [cfg.attributes.username, cfg.attributes.givenName, cfg.attributes.sn],

  async connect({ config, global }) {
    return new AdSession(new AdConnection(config), config, global);
  },

  async check(s, { config }) {
    let c;
    try {
      c = await s.ad.client();
    } catch (e) {
      const err = adError(e, '-', `bind to ${config.url} as ${config.bindDn}`);
      // A refused credential will not get better by retrying: the worker does not start.
      if (err instanceof TerminalError && err.code === 'invalid-credentials') throw err;
      throw e;
    }
    const warnings: string[] = [];
    const { searchEntries: [root] } = await c.search('', { scope: 'base', attributes: ['defaultNamingContext', 'schemaNamingContext', 'dnsHostName'] });
    const schema = strings(root!, 'schemaNamingContext')[0];
    const wanted = ['extensionAttribute1', config.anchor, ...(config.reservation ? [config.reservation.attribute] : [])];
    if (schema) {
      for (const a of wanted) {
        const { searchEntries } = await c.search(schema, { scope: 'one', filter: eq('lDAPDisplayName', a), attributes: ['searchFlags'] });
        if (!searchEntries.length) warnings.push(`the domain's schema has no attribute ${a}; writing it will fail`);
        // searchFlags bit 0 (fATTINDEX): without it every lookup by the anchor scans the whole domain.
        else if (a === config.anchor && !(Number(strings(searchEntries[0]!, 'searchFlags')[0] ?? 0) & 1)) {
          warnings.push(`the anchor attribute ${a} is not indexed in the domain's schema (searchFlags): every account lookup scans the domain; index it`);
        }
      }
    }
    for (const ou of [config.ous.employee, config.ous.student, config.ous.other, config.ous.disabled].filter((x): x is string => !!x)) {
      const found = await c.search(ou, { scope: 'base', attributes: ['1.1'] }).then((r) => r.searchEntries.length, () => 0);
      if (!found) warnings.push(`org unit ${ou} does not exist yet; it is created with the first account placed in it`);
    }
    return { facts: { url: config.url, domain: strings(root!, 'defaultNamingContext')[0], dc: strings(root!, 'dnsHostName')[0], account: config.bindDn }, warnings };
  },

  async close(s) {
    await s.close();
  },

  desired(person, { config }) {
    return desired(person, config);
  },

  async actual(person, d, s) {
    return readActual(person, d, s);
  },

  plan(d, a, _person, { config }) {
    return planAd(d, a, config);
  },

  listManaged(s) {
    return listManagedAccounts(s);
  },

  async apply(plan, s, _ctx, person) {
    return applyAd(plan, s, person);
  },
};
