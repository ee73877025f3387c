import { MoodleClient, type MoodleUser } from '../../src/targets/moodle/client.js';
import { target } from '../../src/targets/moodle/index.js';
import { startMoodleSimulator } from '../../src/targets/moodle/simulator/index.js';
import { conformance, type PersonSpec } from '../support/conformance.js';
import { FaultyProxy } from '../support/http-faults.js';

const TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const WRITES = ['core_user_create_users', 'core_user_update_users', 'enrol_manual_enrol_users', 'enrol_manual_unenrol_users'];

/** The Moodle target against its simulator, through a proxy that counts writes and plants 503s. */
conformance({
  target,
  async start() {
    const sim = await startMoodleSimulator({
      token: TOKEN, seed: 'minimal', profileFields: [{ shortname: 'studentid', name: 'Student id', datatype: 'text', visible: true }],
    });
    const proxy = new FaultyProxy(sim.url, (body) => WRITES.some((f) => body.includes(`wsfunction=${f}&`)));
    const url = await proxy.open();
    // The kit's own look at Moodle goes to the simulator directly: it is not a write through the proxy.
    const ws = new MoodleClient({ url: sim.url, token: TOKEN });
    process.env.TILGANG_TEST_CONFORMANCE_MOODLE_TOKEN = TOKEN;
    const users = async (p: PersonSpec): Promise<MoodleUser[]> => {
      const found = new Map<number, MoodleUser>();
      for (const [field, v] of [['idnumber', p.id], ['username', p.username]] as const) {
        if (!v) continue;
        for (const u of await ws.call<MoodleUser[]>('core_user_get_users_by_field', { field, values: [v] })) found.set(u.id, u);
      }
      return [...found.values()];
    };
    return {
      config: {
        url, token: { env: 'TILGANG_TEST_CONFORMANCE_MOODLE_TOKEN' }, heldBy: { institution: '1120', studentIdField: 'studentid' },
        entitlement: { affiliations: ['student', 'employee'] }, department: null,
      },
      async account(p) {
        // The web service shows the token user a fullname only: the simulator's own record has the fields.
        const u = sim.snapshot().users.find((x) => !x.deleted && x.idnumber === p.id);
        if (!u) return null;
        return { enabled: !u.suspended, attributes: { givenName: u.firstname, sn: u.lastname, mail: u.email, idautoPersonStuID: u.profile.studentid } };
      },
      count: async (p) => (await users(p)).length,
      writes: async () => proxy.writes,
      async plantDuplicate(p) {
        // Made by hand: one under the person's username, one carrying the person's id under another.
        const made = [{ username: p.username, email: `a.${p.mail}` }, { username: `${p.username}b`, email: `b.${p.mail}`, idnumber: p.id }];
        await ws.call('core_user_create_users', { users: made.map((u) => ({ ...u, auth: 'saml2', firstname: 'Hand', lastname: 'Made' })) });
        return made.map((u) => u.username);
      },
      async failTransiently(p, times) {
        proxy.failNext((body) => body.includes('wsfunction=core_user_create_users&') && body.includes(`=${p.username}&`), times);
      },
      mapped: [
        { attribute: 'givenName', value: (p) => `Ny ${p.id.slice(0, 4)}` },
        { attribute: 'sn', value: (p) => `Nyquist-${p.id.slice(0, 4)}` },
        { attribute: 'mail', value: (p) => `ny.${p.username}@uni.example.no` },
        { attribute: 'idautoPersonStuID', value: (p) => `9${p.id.replace(/\D/g, '').slice(0, 5)}` },
      ],
      extra: (n) => ({ idautoPersonStuID: [String(500000 + n)] }),
      secrets: [TOKEN],
      async stop() {
        await ws.close();
        await proxy.close();
        await sim.close();
      },
    };
  },
});
