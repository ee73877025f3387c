import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config.js';
import type { TargetContext } from '../../src/spi/index.js';
import { refusedField } from '../../src/targets/moodle/apply.js';
import type { MoodleConfig } from '../../src/targets/moodle/config.js';
import { target } from '../../src/targets/moodle/index.js';
import { startMoodleSimulator } from '../../src/targets/moodle/simulator/index.js';
import { moodleConfig, person, targetContext } from '../../src/targets/moodle/test-fixtures.js';

// Moodle answers a refused value with a bare `invalidparameter` ("Invalid parameter value detected");
// only with the site's debugging on does its debuginfo name the field. A dead letter names the field
// and value: from the debuginfo when there is one, else from a look-up of the username and e-mail (a
// create), else it lists the fields that one person's call (isolated by the batch bisection) sent.
describe('Moodle invalidparameter: the dead letter names the field and value', () => {
  it('reads the field and value from every recorded debuginfo that names one', () => {
    const cases = readFileSync('test/data/moodle-recorded/cases.jsonl', 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; body: string });
    const named = Object.fromEntries(cases.filter((c) => c.body.includes('"invalidparameter"') && c.body.includes('debuginfo'))
      .map((c) => [c.id, refusedField((JSON.parse(c.body) as { debuginfo: string }).debuginfo)]));
    expect(named).toMatchObject({
      E05d: { field: 'username', value: 'alice.accept' },
      E06d: { field: 'email', value: 'alice.accept@example.com' },
      E07d: { field: 'email' },
      E08d: { field: 'username', value: 'Dave.Accept', expected: 'username' },
      E09d: { field: 'email', value: 'not-an-email' },
      E14d: { field: 'roleid', value: 'abc', expected: 'int' },
    });
  });

  describe('against the simulator, through applyBatch', () => {
    let sim: Awaited<ReturnType<typeof startMoodleSimulator>>;
    let ctx: TargetContext<MoodleConfig>;
    const token = randomUUID().replace(/-/g, '');

    beforeAll(async () => {
      sim = await startMoodleSimulator({ token, profileFields: [{ shortname: 'studentid', name: 'Student id', datatype: 'text', visible: true }] });
      process.env.TILGANG_TEST_MOODLE_REFUSALS_TOKEN = token;
      ctx = targetContext(moodleConfig({ url: sim.url, token: { env: 'TILGANG_TEST_MOODLE_REFUSALS_TOKEN' } }), loadConfig('tilgang.example.yaml'));
    });
    afterAll(async () => sim?.close());

    const applyFor = async (people: ReturnType<typeof person>[]) => {
      const s = await target.connect(ctx);
      try {
        const desired = people.map((p) => target.desired(p, ctx));
        const actual = await Promise.all(people.map((p, i) => target.actual(p, desired[i]!, s, ctx)));
        const items = people.map((p, i) => ({ person: p, desired: desired[i]!, actual: actual[i] as never, plan: target.plan(desired[i]!, actual[i] as never, p, ctx) }));
        return await target.applyBatch!(items, s, ctx);
      } finally {
        await target.close!(s);
      }
    };
    const someone = (n: number, tag: string) => person({ id: randomUUID(), attrs: { idautoPersonUserNameMV: [`${tag}${n}`], mail: [`${tag}${n}@uni.example.no`] } });

    it('with debugging on: the auth plugin Moodle refused, by field and value; the rest of the batch is created', async () => {
      sim.setDebug('developer');
      sim.setAuthPluginInstalled('saml2', false);
      try {
        const out = await applyFor([someone(1, 'dbg'), someone(2, 'dbg')]);
        expect(out.map((r) => r[0]!.outcome)).toEqual(['FAILED', 'FAILED']);
        expect(out[0]![0]!.error).toMatch(/core_user_create_users refused auth "saml2": not a valid auth value \(users => .*the value is "saml2"/);
      } finally {
        sim.setAuthPluginInstalled('saml2', true);
        sim.setDebug('off');
      }
    });

    it('with debugging off: the fields that person\'s call sent, and that Moodle names none of them', async () => {
      sim.setDebug('off');
      sim.setAuthPluginInstalled('saml2', false);
      try {
        const out = await applyFor([someone(1, 'nodbg')]);
        expect(out[0]![0]!.error).toMatch(/core_user_create_users: invalidparameter: Invalid parameter value detected; Moodle names the field only with its debugging on; this person's account alone was refused, sending username, auth, firstname, lastname, email, idnumber/);
      } finally {
        sim.setAuthPluginInstalled('saml2', true);
      }
    });
  });
});
