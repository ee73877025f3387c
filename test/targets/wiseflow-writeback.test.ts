/**
 * WISEflow through the whole path (producer → target group → result → writeback): the person's
 * WISEflow user id ends up in their directory entry, with the target's status, and stays there
 * while the account is deactivated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { A } from '../../src/directory/attributes.js';
import { parseStatus } from '../../src/consumers/writeback.js';
import { target } from '../../src/targets/wiseflow/index.js';
import { startWiseflowSimulator, type WiseflowSimulator } from '../../src/targets/wiseflow/simulator/index.js';
import { eventually, testEnv, type TestEnv } from '../support/env.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

const SECRET = 'wf-writeback-secret-7c1d2e';
const TYPES = { feideId: 529, nationalId: 530, studentId: 531, personId: 532 };

let env: TestEnv;
let sim: WiseflowSimulator;
let pipe: Pipeline;

beforeAll(async () => {
  env = await testEnv('wf-writeback', (cfg) => {
    cfg.runtime.retryBaseMs = 20;
  });
  sim = await startWiseflowSimulator({ clients: [{ id: 'tilgang-wb', secret: SECRET }], rateLimits: false });
  process.env.TILGANG_TEST_WISEFLOW_WB_SECRET = SECRET;
  env.cfg.targets = {
    wiseflow: {
      url: sim.url, auth: { clientId: 'tilgang-wb', clientSecret: { env: 'TILGANG_TEST_WISEFLOW_WB_SECRET' } },
      userDataTypes: { ...TYPES, nationalId: null },
      policy: { managedRoles: ['Assessor'], rules: [{ affiliations: ['employee'], roles: ['Assessor'] }] },
      entitlement: { affiliations: ['student', 'employee'] },
    },
  };
  pipe = await startPipeline(env, target, { topics: { dlq: `test.${env.id}.wiseflow.dlq` } });
}, 180_000);

afterAll(async () => {
  await pipe?.stop().catch(() => {});
  await sim?.close();
  await env?.close();
});

/** The person's WISEflow status as the directory holds it. */
async function status(id: string) {
  const { searchEntries: [e] } = await env.admin.search(env.dn(id), { scope: 'base', attributes: [A.targetStatus, A.provisionedTo] });
  const values = ([] as string[]).concat((e?.[A.targetStatus] as string | string[] | undefined) ?? []);
  return values.map(parseStatus).find((s) => s?.target === 'wiseflow');
}

const userOf = (id: string) => sim.licence.data.users.find((u) => u.userData.some((d) => d.userDataTypeId === TYPES.personId && d.value === id));

describe('WISEflow user id written back to the directory', () => {
  it('after provisioning, the person\'s directory entry holds their WISEflow user id; a deactivation keeps it', async () => {
    const p = await env.addPerson({ affiliation: 'student', extra: { idautoPersonFeideID: [`wb-${Date.now()}@uni.example.no`] } });
    const [created] = await pipe.waitResults(p.id, 1);
    expect(created).toMatchObject({ outcome: 'APPLIED', writeback: { userId: expect.any(String) } });
    const user = userOf(p.id);
    expect(user).toBeDefined();
    expect(created!.writeback).toEqual({ userId: String(user!.id) });
    const s = await eventually(async () => { const v = await status(p.id); return v?.recorded.userId ? v : undefined; }, 30_000, 'the user id in the directory');
    expect(s).toMatchObject({ outcome: 'provisioned', recorded: { userId: String(user!.id) } });

    // Lost entitlement: login deactivated; the directory still knows which WISEflow user is theirs.
    await env.modify(env.dn(p.id), 'idautoPersonAffiliations', ['alum']);
    await env.modify(env.dn(p.id), 'idautoPersonAffiliation', ['alum']);
    await eventually(async () => (await pipe.resultsFor(p.id)).some((r) => r.operations?.some((o) => o.kind === 'disable')), 30_000, 'the disable');
    const after = await eventually(async () => { const v = await status(p.id); return v?.outcome === 'disabled' ? v : undefined; }, 30_000, 'the disabled status');
    expect(after.recorded).toEqual({ userId: String(user!.id) });
  }, 90_000);
});
