/**
 * AD's part of the orphan check, against the stack's Samba domain controller: accounts with the
 * anchor below tilgang's placement OUs are listed; an orphan is disabled and moved to the disabled
 * OU through the plan, never deleted; an account outside those OUs is never listed.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Client, Entry } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { orphans } from '../../src/consumers/orphans.js';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { Directory } from '../../src/directory/client.js';
import { child } from '../../src/lib/log.js';
import { migrate } from '../../src/mv/migrate.js';
import { MvReader } from '../../src/mv/person.js';
import { newRunId, runEvent } from '../../src/producers/publisher.js';
import { SAMBA_PEOPLE_OU, SAMBA_SERVICE_UPN, sambaClient, sambaSecrets } from '../../src/stack/samba.js';
import { target } from '../../src/targets/ad/index.js';
import type { PersonContext } from '../../src/spi/index.js';
import { testEnv, type TestEnv, type TestPerson } from '../support/env.js';

describe('AD orphans, against the Samba AD domain controller', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let mvSchema: string;
  let ad: Client;
  let testOu: string;
  let tag: string;

  beforeAll(async () => {
    env = await testEnv('ad-orphans', (cfg) => {
      cfg.runtime.guard = { maxOperations: 100, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
    });
    tag = env.id.slice(-6);
    mvSchema = `test_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
    await migrate(env.cfg.mv.url, mvSchema);
    env.cfg.mv.schema = mvSchema;
    pool = new pg.Pool({ connectionString: env.cfg.mv.url, max: 2 });
    await pool.query(`INSERT INTO ${mvSchema}.org_units VALUES ('120000', NULL, 'faculty', 'Det matematisk-naturvitenskapelige fakultet', 'Faculty of Science', 'MN', 'MN')`);
    ad = sambaClient();
    await ad.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
    testOu = `OU=test-${env.id},${SAMBA_PEOPLE_OU}`;
    await ad.add(testOu, { objectClass: ['top', 'organizationalUnit'], ou: `test-${env.id}` });
    const example = loadConfig('tilgang.example.yaml').targets.ad as Record<string, unknown>;
    env.cfg.targets.ad = { ...example, ous: { employee: `OU=Employees,${testOu}`, student: `OU=Students,${testOu}`, disabled: `OU=Disabled,${testOu}` } };
  }, 120_000);

  afterAll(async () => {
    if (ad && testOu) {
      const { searchEntries } = await ad.search(testOu, { scope: 'sub', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] as { dn: string }[] }));
      for (const e of searchEntries.sort((a, b) => b.dn.length - a.dn.length)) await ad.del(e.dn).catch(() => {});
      await ad.unbind().catch(() => {});
    }
    await pool?.query(`DROP SCHEMA IF EXISTS ${mvSchema} CASCADE; DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema} CASCADE`);
    await pool?.end();
    await env?.close();
  });

  let n = 0;
  async function addPerson(): Promise<TestPerson> {
    const id = randomUUID();
    await pool.query(`INSERT INTO ${mvSchema}.persons (idauto_id, username, primary_affiliation, stedkode) VALUES ($1, NULL, 'employee', '120000')`, [id]);
    n++;
    return env.addPerson({ id, affiliation: 'employee', username: `o${tag}${n}`, givenName: 'Kari', sn: `Nordmann${tag}${n}`, extra: { employeeType: ['staff'] } });
  }

  /** Provisions one person as the runtime would: desired, actual, plan, apply. */
  async function provision(p: TestPerson): Promise<void> {
    const ctx = { config: TargetGroup.targetConfig(env.cfg, target), global: env.cfg, log: child({ test: 'ad-orphans' }) };
    const dir = await Directory.connect(env.cfg);
    const mv = MvReader.fromConfig(env.cfg.mv, { max: 1 });
    const s = await target.connect(ctx);
    try {
      const record = (await dir.readMany([p.id])).get(p.id) as PersonContext['record'];
      const person: PersonContext = {
        id: p.id, record, mv: (await mv.readMany([p.id], ['orgUnits'])).get(p.id), entitled: true, provisioned: false,
        event: runEvent(p.id, { runId: newRunId(), mode: 'REPROCESS', logOnly: false, targets: null, source: 'test' }),
      };
      const d = target.desired(person, ctx);
      const plan = target.plan(d, await target.actual(person, d, s, ctx), person, ctx);
      const results = await target.apply(plan, s, ctx, person);
      expect(results.map((r) => r.outcome)).toEqual(plan.operations.map(() => 'APPLIED'));
    } finally {
      await target.close!(s);
      await mv.close();
      await dir.close();
    }
  }
  async function account(id: string): Promise<Entry> {
    const { searchEntries } = await ad.search(testOu, { scope: 'sub', filter: `(employeeNumber=${id})`, attributes: ['userAccountControl'] });
    expect(searchEntries).toHaveLength(1);
    return searchEntries[0]!;
  }
  const disabled = async (id: string) => (Number((await account(id)).userAccountControl) & 2) === 2;

  it('lists the accounts whose person is gone or not entitled, and disables them into the disabled OU', async () => {
    const stays = await addPerson();
    const leaves = await addPerson();
    const gone = await addPerson();
    for (const p of [stays, leaves, gone]) await provision(p);
    await env.modify(env.dn(leaves.id), 'idautoPersonAffiliation', ['sensor']);
    await env.modify(env.dn(leaves.id), 'idautoPersonAffiliations', ['sensor']);
    await env.admin.del(env.dn(gone.id));

    const listed = await orphans(env.cfg, undefined, target);
    expect(listed.scanned).toBe(3);
    expect(listed.orphans.map((o) => [o.account.key, o.gone, o.account.name]).sort()).toEqual([
      [gone.id, true, gone.username], [leaves.id, false, leaves.username]].sort());
    expect(listed.orphans.find((o) => o.account.key === leaves.id)!.reason).toBe('no longer entitled: affiliation sensor is not in employee, student; no request ad granted');

    const applied = await orphans(env.cfg, undefined, target, { apply: true });
    expect(applied.results!.map((r) => [r.personId, r.outcome]).sort()).toEqual([[gone.id, 'APPLIED'], [leaves.id, 'APPLIED']].sort());
    expect([await disabled(leaves.id), await disabled(gone.id), await disabled(stays.id)]).toEqual([true, true, false]);
    expect((await account(gone.id)).dn).toMatch(new RegExp(`,OU=Disabled,${testOu.replace(/[()]/g, '\\$&')}$`, 'i'));
    expect((await orphans(env.cfg, undefined, target)).orphans).toEqual([]);
  });
});
