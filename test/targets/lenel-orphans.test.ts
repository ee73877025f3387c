/**
 * Lenel's part of the orphan check, against the OpenAccess simulator: cardholders carrying the
 * idautoID UDF (tilgang's anchor) with an active badge are listed; an orphan's badge is set
 * inactive through the plan, never deleted; a cardholder without the UDF is never listed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orphans } from '../../src/consumers/orphans.js';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { Directory } from '../../src/directory/client.js';
import { child } from '../../src/lib/log.js';
import { MvReader } from '../../src/mv/person.js';
import { newRunId, runEvent } from '../../src/producers/publisher.js';
import type { PersonContext } from '../../src/spi/index.js';
import { target } from '../../src/targets/lenel/index.js';
import { startLenelSimulator, type LenelSimulator } from '../../src/targets/lenel/simulator/index.js';
import { testEnv, type TestEnv, type TestPerson } from '../support/env.js';

const PASSWORD = 'Op3rator-orphans-pw';

describe('Lenel orphans, against the OpenAccess simulator', () => {
  let env: TestEnv;
  let sim: LenelSimulator;

  beforeAll(async () => {
    env = await testEnv('lenel-orphans', (cfg) => {
      cfg.runtime.guard = { maxOperations: 100, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
    });
    sim = await startLenelSimulator({ users: { op: PASSWORD }, applicationIds: ['TILGANG_TEST'] });
    process.env.TILGANG_TEST_LENEL_ORPHANS_PASSWORD = PASSWORD;
    env.cfg.targets.lenel = {
      url: sim.apiUrl, applicationId: 'TILGANG_TEST', username: 'op', password: { env: 'TILGANG_TEST_LENEL_ORPHANS_PASSWORD' },
      badge: { type: 1, inactiveStatus: 5 }, accessLevels: [{ affiliation: 'employee', levels: ['Main entrance'] }],
      entitlement: { affiliations: ['employee', 'student'] },
    };
  }, 60_000);

  afterAll(async () => {
    await sim?.close();
    await env?.close();
  });

  let n = 0;
  const addPerson = async (): Promise<TestPerson> => env.addPerson({ affiliation: 'employee', extra: { idautoPersonHRID: [`H${Date.now() % 100000}${++n}`] } });

  /** Provisions one person as the runtime would: desired, actual, plan, apply. */
  async function provision(p: TestPerson): Promise<void> {
    const ctx = { config: TargetGroup.targetConfig(env.cfg, target), global: env.cfg, log: child({ test: 'lenel-orphans' }) };
    const dir = await Directory.connect(env.cfg);
    const mv = MvReader.fromConfig(env.cfg.mv, { max: 1 });
    const s = await target.connect(ctx);
    try {
      const record = (await dir.readMany([p.id])).get(p.id) as PersonContext['record'];
      const person: PersonContext = {
        id: p.id, record, mv: undefined, entitled: true, provisioned: false,
        event: runEvent(p.id, { runId: newRunId(), mode: 'REPROCESS', logOnly: false, targets: null, source: 'test' }),
      };
      const d = target.desired(person, ctx);
      const plan = target.plan(d, await target.actual(person, d, s, ctx), person, ctx);
      const results = await target.apply(plan, s, ctx, person);
      expect(results.map((r) => r.outcome)).toEqual(plan.operations.map(() => 'APPLIED'));
    } finally {
      await target.close!(s);
      await mv.close();
    }
    await dir.close();
  }
  const badgeStatus = (id: string) => {
    const c = sim.store.all('Lnl_Cardholder').find((x) => x.IDAUTO_ID === id)!;
    return sim.store.all('Lnl_Badge').find((b) => b.PERSONID === c.ID && b.TYPE === 1)!.STATUS;
  };

  it('lists the cardholders whose person is gone or not entitled, and sets their badges inactive', async () => {
    const stays = await addPerson();
    const leaves = await addPerson();
    const gone = await addPerson();
    for (const p of [stays, leaves, gone]) await provision(p);
    // A cardholder made by hand in OnGuard: no anchor, never listed.
    const ctx = { config: TargetGroup.targetConfig(env.cfg, target), global: env.cfg, log: child({ test: 'lenel-orphans' }) };
    const s = await target.connect(ctx);
    await s.client.create('Lnl_Cardholder', { FIRSTNAME: 'Hand', LASTNAME: 'Made', SSNO: `X${n}` });
    await target.close!(s);
    const cardholders = sim.store.all('Lnl_Cardholder').length;
    await env.modify(env.dn(leaves.id), 'idautoPersonAffiliation', ['sensor']);
    await env.modify(env.dn(leaves.id), 'idautoPersonAffiliations', ['sensor']);
    await env.admin.del(env.dn(gone.id));

    const listed = await orphans(env.cfg, undefined, target);
    expect(listed.scanned).toBe(3);
    expect(listed.orphans.map((o) => [o.account.key, o.gone]).sort()).toEqual([[gone.id, true], [leaves.id, false]].sort());

    const applied = await orphans(env.cfg, undefined, target, { apply: true });
    expect(applied.results!.map((r) => [r.personId, r.outcome]).sort()).toEqual([[gone.id, 'APPLIED'], [leaves.id, 'APPLIED']].sort());
    expect([badgeStatus(leaves.id), badgeStatus(gone.id), badgeStatus(stays.id)]).toEqual([5, 5, 1]);
    expect(sim.store.all('Lnl_Cardholder')).toHaveLength(cardholders);
    expect((await orphans(env.cfg, undefined, target)).orphans).toEqual([]);
  });
});
