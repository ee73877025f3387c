/**
 * The Samba AD domain controller restarts while the ad consumer group creates accounts: while it
 * is away the target's calls fail as unavailable and are retried (the group waits out the outage),
 * nothing is lost (every event gets its result, nothing is dead-lettered) and no account is made
 * twice (a create whose answer was lost is found by its anchor when read again).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Client } from 'ldapts';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { migrate } from '../../src/mv/migrate.js';
import { SAMBA_PEOPLE_OU, SAMBA_SERVICE_UPN, sambaClient, sambaSecrets, sambaService } from '../../src/stack/samba.js';
import { target } from '../../src/targets/ad/index.js';
import { eventually, sleep, testEnv, type TestEnv } from '../support/env.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

// Restarts the shared domain controller: run alone (vitest.disruptive.config.ts), after the main suite.
describe('the Samba AD domain controller restarts while the ad target works', () => {
  let env: TestEnv;
  let pool: pg.Pool | undefined;
  let mvSchema: string;
  let pipe: Pipeline | undefined;
  let testOu: string | undefined;

  const admin = async (): Promise<Client> => {
    const c = sambaClient();
    await c.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
    return c;
  };

  afterAll(async () => {
    await pipe?.stop();
    if (testOu) {
      // The DC may still be starting when a failed test ends.
      await eventually(async () => sambaService.healthy(), 120_000, 'the domain controller answering').catch(() => {});
      const ad = await admin().catch(() => undefined);
      if (ad) {
        const { searchEntries } = await ad.search(testOu, { scope: 'sub', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] as { dn: string }[] }));
        for (const e of searchEntries.sort((a, b) => b.dn.length - a.dn.length)) await ad.del(e.dn).catch(() => {});
        await ad.unbind().catch(() => {});
      }
    }
    await pool?.query(`DROP SCHEMA IF EXISTS ${mvSchema} CASCADE; DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema} CASCADE`).catch(() => {});
    await pool?.end();
    await env?.close();
  }, 300_000);

  it('retries while it is away; every person gets one account and every event a result', async () => {
    env = await testEnv('adrestart', (cfg) => {
      cfg.runtime.guard = { maxOperations: 100_000, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
    });
    const tag = env.id.slice(-8);
    mvSchema = `test_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
    await migrate(env.cfg.mv.url, mvSchema);
    env.cfg.mv.schema = mvSchema;
    pool = new pg.Pool({ connectionString: env.cfg.mv.url, max: 2 });
    await pool.query(`INSERT INTO ${mvSchema}.org_units VALUES
      ('120000', NULL, 'faculty', 'Det matematisk-naturvitenskapelige fakultet', 'Faculty of Science', 'MN', 'MN'),
      ('121000', '120000', 'department', 'Institutt for informatikk', 'Department of Informatics', 'II', 'Informatikk')`);
    const ad = await admin();
    testOu = `OU=test-${env.id},${SAMBA_PEOPLE_OU}`;
    await ad.add(testOu, { objectClass: ['top', 'organizationalUnit'], ou: `test-${env.id}` });
    await ad.unbind();
    const example = loadConfig('tilgang.example.yaml').targets.ad as Record<string, unknown>;
    env.cfg.targets.ad = { ...example, ous: { employee: `OU=Employees,${testOu}`, student: `OU=Students,${testOu}`, disabled: null } };
    pipe = await startPipeline(env, target);
    const group = pipe.group;

    // People keep arriving before, during and after the restart.
    const people: string[] = [];
    let adding = true;
    const adder = (async () => {
      for (let n = 1; adding; n++) {
        const id = randomUUID();
        await pool!.query(`INSERT INTO ${mvSchema}.persons (idauto_id, username, primary_affiliation, stedkode) VALUES ($1, NULL, 'employee', '121000')`, [id]);
        await env.addPerson({ id, affiliation: 'employee', username: `r${tag}${n}`.slice(0, 20), givenName: 'Kari', sn: `Omstart${tag}${n}`, extra: { employeeType: ['staff'] } });
        people.push(id);
        await sleep(100);
      }
    })();

    let awaySeconds = 0;
    try {
      await eventually(async () => group.counts.results >= 10, 120_000, 'results before the restart');
      const t0 = Date.now();
      await sambaService.stop();
      await sleep(2000);
      await sambaService.start();
      awaySeconds = (Date.now() - t0) / 1000;
      // A little longer after it is back, so some people arrive to a DC that has just restarted.
      await sleep(3000);
    } finally {
      adding = false;
      await adder;
    }

    // Every person provisioned: the group comes back by itself once the DC answers.
    const results = async () => (await pipe!.decoded()).filter((r) => people.includes(r.personId));
    // (A create whose answer was lost reads as done when retried: that person's result is UNCHANGED.)
    await eventually(async () => {
      const rs = await results();
      return people.every((p) => rs.some((r) => r.personId === p && (r.outcome === 'APPLIED' || r.outcome === 'UNCHANGED')));
    }, 300_000, 'a result for every person');

    // Nothing lost: every event the producer published for these people has exactly one result.
    const published = pipe.events.messages.filter((m) => people.includes(m.key?.toString() ?? '')).length;
    await eventually(async () => (await results()).length >= published, 60_000, 'a result for every event');
    const rs = await results();
    expect(new Set(rs.map((r) => r.sourceEventId)).size).toBe(rs.length);
    expect(rs.length).toBe(published);
    expect(rs.filter((r) => r.outcome === 'FAILED').map((r) => r.error?.message)).toEqual([]);
    expect(group.counts.dlq).toBe(0);
    // The outage was seen and waited out: calls were retried or the group paused for the DC.
    expect(group.counts.retries).toBeGreaterThan(0);

    // No account twice: one account per person, found by its anchor, and one create applied each.
    const check = await admin();
    const { searchEntries } = await check.search(testOu, { scope: 'sub', filter: '(objectClass=user)', attributes: ['employeeNumber'], paged: { pageSize: 500 } });
    await check.unbind();
    const anchors = searchEntries.map((e) => String(e.employeeNumber));
    expect(anchors.filter((a, i) => anchors.indexOf(a) !== i)).toEqual([]);
    expect(new Set(anchors)).toEqual(new Set(people));
    const creates = new Map<string, number>();
    for (const r of rs) for (const o of r.operations ?? []) if (o.kind === 'create' && o.outcome === 'APPLIED') creates.set(r.personId, (creates.get(r.personId) ?? 0) + 1);
    expect([...creates.entries()].filter(([, n]) => n > 1)).toEqual([]);
    console.log(`ad dc restart: ${awaySeconds.toFixed(0)} s from stop to answering, ${people.length} people, ${rs.length} results, ${group.counts.retries} retries, one account each`);
  }, 900_000);
});
