import { target } from '../../src/targets/wiseflow/index.js';
import { defaultLicense, startWiseflowSimulator, type License, type UserRec } from '../../src/targets/wiseflow/simulator/index.js';
import { conformance, type PersonSpec } from '../support/conformance.js';

const CLIENT_SECRET = 'wf-secret-5e1f0c9a2b7d4e31';
const TYPES = { feideId: 529, nationalId: 530, studentId: 531, personId: 532 };

/** The default licence, but the test directory gives every person the same national id. */
function testLicense(): License {
  const l = defaultLicense();
  l.userDataTypes = l.userDataTypes.map((t) => (t.id === TYPES.nationalId ? { ...t, unique: false } : t));
  return l;
}

/** The WISEflow target against its simulator over HTTP, with OAuth2 client credentials and the licence's rate limits. */
conformance({
  target,
  async start() {
    const sim = await startWiseflowSimulator({ clients: [{ id: 'tilgang-conformance', secret: CLIENT_SECRET }], license: testLicense(), requireClientName: true });
    process.env.TILGANG_TEST_CONFORMANCE_WISEFLOW_SECRET = CLIENT_SECRET;
    const users = (p: PersonSpec): UserRec[] => sim.licence.data.users.filter((u) => u.userData.some((d) => d.userDataTypeId === TYPES.personId && d.value === p.id));
    const run = Math.random().toString(36).slice(2, 8);
    return {
      config: {
        url: sim.url,
        auth: { clientId: 'tilgang-conformance', clientSecret: { env: 'TILGANG_TEST_CONFORMANCE_WISEFLOW_SECRET' } },
        userDataTypes: TYPES,
        policy: {
          managedRoles: ['Assessor', 'Author'],
          rules: [{ affiliations: ['employee'], roles: ['Assessor'] }],
          sensor: { affiliations: ['sensor'], roles: ['Assessor'] },
        },
        entitlement: { affiliations: ['student', 'employee', 'sensor'] },
      },
      async account(p) {
        const u = users(p)[0];
        if (!u) return null;
        return {
          enabled: !u.loginDeactivated,
          attributes: {
            givenName: u.firstName, sn: u.lastName, mail: u.emails.find((e) => e.primary)?.email,
            idautoPersonStuID: u.userData.find((d) => d.userDataTypeId === TYPES.studentId)?.value,
          },
        };
      },
      count: async (p) => users(p).length,
      writes: async () => sim.writes(),
      async plantDuplicate(p) {
        // Made by hand in WISEflow: two users carrying the person's id.
        const made = ['a', 'b'].map((x) => sim.licence.upsert({
          firstName: 'Hand', lastName: 'Made', emails: [`${x}.${p.mail}`], roles: [],
          externalIds: [{ userDataTypeId: TYPES.personId, value: p.id }],
        }).userId);
        return made.map((id) => `userId ${id}`);
      },
      async failTransiently(p, times) {
        sim.fail({ match: (r) => r.method === 'POST' && r.path === '/license/user' && r.body.includes(p.id), times, kind: 503 });
      },
      mapped: [
        { attribute: 'givenName', value: (p) => `Ny ${p.id.slice(0, 4)}` },
        { attribute: 'sn', value: (p) => `Nyquist-${p.id.slice(0, 4)}` },
        { attribute: 'mail', value: (p) => `ny.${p.username}@uni.example.no` },
        { attribute: 'idautoPersonStuID', value: (p) => `9${p.id.replace(/\D/g, '').slice(0, 5)}` },
      ],
      extra: (n) => ({ idautoPersonStuID: [String(500000 + n)], idautoPersonFeideID: [`f${n}.${run}@uni.example.no`] }),
      secrets: [CLIENT_SECRET],
      async stop() {
        await sim.close();
      },
    };
  },
});
