import { target } from '../../src/targets/lenel/index.js';
import { startLenelSimulator } from '../../src/targets/lenel/simulator/index.js';
import type { Instance } from '../../src/targets/lenel/simulator/types.js';
import { conformance, type PersonSpec } from '../support/conformance.js';

const PASSWORD = 'Lenel-operator-pw-9f3k';
const INACTIVE = 5;

/** The person's key (SSNO): the student number the kit's `extra` gives every person. */
const keyOf = (p: PersonSpec) => (p as PersonSpec & { extra?: Record<string, string[]> }).extra?.idautoPersonStuID?.[0];

/** The Lenel target against the OpenAccess simulator over HTTP, with the simulator's own fault injection. */
conformance({
  target,
  async start() {
    const sim = await startLenelSimulator({ users: { tilgang: PASSWORD }, applicationIds: ['TILGANG_TEST'] });
    process.env.TILGANG_TEST_CONFORMANCE_LENEL_PASSWORD = PASSWORD;
    const cardholders = (p: PersonSpec): Instance[] => {
      const key = keyOf(p);
      return sim.store.all('Lnl_Cardholder').filter((c) => c.IDAUTO_ID === p.id || (key !== undefined && c.SSNO === key));
    };
    const titles = () => new Map(sim.store.all('Lnl_TITLE').map((t) => [t.ID, String(t.Name)]));
    return {
      config: {
        url: sim.apiUrl, applicationId: 'TILGANG_TEST', username: 'tilgang', password: { env: 'TILGANG_TEST_CONFORMANCE_LENEL_PASSWORD' },
        key: ['idautoPersonStuID'], badge: { type: 2, inactiveStatus: INACTIVE },
        // A role no test person has: students get no levels, so a create is the cardholder and its badge.
        accessLevels: [{ role: 'iam:facility-staff', levels: ['Staff only'] }],
        entitlement: { affiliations: ['student', 'employee'] },
      },
      async account(p) {
        const c = sim.store.all('Lnl_Cardholder').find((x) => x.IDAUTO_ID === p.id);
        if (!c) return null;
        const badge = sim.store.all('Lnl_Badge').find((b) => b.PERSONID === c.ID && b.TYPE === 2);
        return {
          enabled: badge?.STATUS === 1,
          attributes: {
            givenName: String(c.FIRSTNAME ?? ''), sn: String(c.LASTNAME ?? ''), mail: String(c.EMAIL ?? ''), telephoneNumber: String(c.EXT ?? ''),
            idautoPersonJobTitle: c.TITLE === null ? '' : titles().get(c.TITLE),
          },
        };
      },
      count: async (p) => cardholders(p).length,
      // Writes to the person's records; the badge issued with a new cardholder is part of its create.
      writes: async () => ['POST Lnl_Cardholder', 'PUT Lnl_Cardholder', 'PUT Lnl_Badge', 'POST Lnl_AccessLevelAssignment', 'DELETE Lnl_AccessLevelAssignment']
        .reduce((n, k) => n + (sim.store.writes.get(k) ?? 0), 0),
      async plantDuplicate(p) {
        const made = [1, 2].map(() => sim.store.create('Lnl_Cardholder', { LASTNAME: 'Hand', FIRSTNAME: 'Made', SSNO: keyOf(p) }, true));
        return made.map((m) => `cardholder ${m.ID} (Hand, Made)`);
      },
      async failTransiently(p, times) {
        const key = keyOf(p);
        sim.fault({
          status: 503, times,
          match: (r) => r.method === 'POST' && r.type === 'Lnl_Cardholder' && (r.body.property_value_map as Record<string, unknown> | undefined)?.SSNO === key,
        });
      },
      mapped: [
        { attribute: 'mail', value: (p) => `ny.${p.username}@uni.example.no` },
        { attribute: 'telephoneNumber', value: (p) => `7${p.id.replace(/\D/g, '').slice(0, 4)}` },
        { attribute: 'idautoPersonJobTitle', value: () => 'Research assistant' },
      ],
      extra: (n) => ({ idautoPersonStuID: [String(700000 + n)], telephoneNumber: [String(5500 + n)], idautoPersonJobTitle: ['Student'] }),
      get secrets() {
        return [PASSWORD, ...sim.tokens()];
      },
      async stop() {
        await sim.close();
      },
    };
  },
});
