import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MassChangeGuard } from '../../src/consumers/guard.js';
import { formatOrphans, orphans } from '../../src/consumers/orphans.js';
import { scheduledReconciliation } from '../../src/consumers/scheduled.js';
import { collect, decodeResults, testEnv, type TestEnv } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';

/**
 * `tilgang orphans`: accounts with tilgang's anchor whose person is gone from the directory or no
 * longer entitled, listed; with apply, disabled through the plan and the mass-change guard.
 */
describe('orphans', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let schema: string;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;

  beforeAll(async () => {
    env = await testEnv('orphans', (cfg) => {
      cfg.runtime.guard = { maxOperations: 1, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
    });
    accounts = await pgAccounts(env, { affiliations: ['employee', 'student'] });
    ({ pool, schema } = accounts);
  }, 60_000);

  afterAll(async () => {
    await accounts?.drop();
    await env?.close();
  });

  const addAccount = (id: string, username: string, enabled = true) =>
    pool.query(`INSERT INTO ${schema}.accounts VALUES ($1, $2, 'x@uni.example.no', 'Kari', 'Nordmann', $3)`, [id, username, enabled]);
  const enabledOf = async (id: string) => (await pool.query(`SELECT enabled FROM ${schema}.accounts WHERE person_id = $1`, [id])).rows[0]?.enabled;

  it('lists the orphans, disables them through the guard, never deletes, and publishes the results', async () => {
    const kept = await env.addPerson({ affiliation: 'student' });
    await addAccount(kept.id, kept.username);
    const left = await env.addPerson({ affiliation: 'sensor' });
    await addAccount(left.id, left.username);
    const gone = randomUUID();
    await addAccount(gone, 'borte1');
    const goneDisabled = randomUUID();
    await addAccount(goneDisabled, 'borte2', false);

    const listed = await orphans(env.cfg, env.kafka, pgTarget);
    expect(listed.scanned).toBe(4);
    expect(listed.orphans.map((o) => [o.account.key, o.gone, o.reason]).sort()).toEqual([
      [gone, true, `person ${gone} is not in the directory`],
      [left.id, false, 'no longer entitled: affiliation sensor is not in employee, student'],
    ].sort());
    expect(formatOrphans(listed)).toContain(`tilgang orphans pgtest --apply`);
    // Listing changes nothing.
    expect([await enabledOf(left.id), await enabledOf(gone)]).toEqual([true, true]);

    // The guard allows one destructive operation: one orphan is disabled, the other held.
    const applied = await orphans(env.cfg, env.kafka, pgTarget, { apply: true });
    expect(applied.results!.map((r) => r.outcome).sort()).toEqual(['APPLIED', 'HELD']);
    const guard = new MassChangeGuard(pool, env.cfg.runtime.stateSchema);
    expect(await guard.state('pgtest')).toMatchObject({ tripped: true, held: 1 });
    const disabled = applied.results!.find((r) => r.outcome === 'APPLIED')!;
    expect(disabled.operations).toEqual([expect.objectContaining({ kind: 'disable', outcome: 'APPLIED' })]);
    expect(await enabledOf(disabled.personId)).toBe(false);
    // Never deleted: all four accounts are still there.
    expect(Number((await pool.query(`SELECT count(*) AS n FROM ${schema}.accounts`)).rows[0].n)).toBe(4);
    expect(await enabledOf(kept.id)).toBe(true);

    // The results are on the results topic, under the orphan run's id.
    const msgs = await collect(env.kafka, env.cfg.kafka.topics.provisioningResult, (m) => m.length >= 2, 20_000);
    const published = await decodeResults(env, msgs);
    expect(published.filter((r) => r.runId === applied.runId).map((r) => r.outcome).sort()).toEqual(['APPLIED', 'HELD']);

    // After a release the held orphan is let through.
    const releaseRun = 'release-orphans';
    await guard.release('pgtest', releaseRun);
    const after = await orphans(env.cfg, env.kafka, pgTarget, { apply: true });
    expect(after.orphans).toHaveLength(1);
    expect(after.results!.map((r) => r.outcome)).toEqual(['APPLIED']);
    expect([await enabledOf(left.id), await enabledOf(gone)]).toEqual([false, false]);
    expect((await orphans(env.cfg, env.kafka, pgTarget)).orphans).toEqual([]);
  });

  it('the scheduled job: sync --all of everyone, then the orphan check listed (the schedule\'s default)', async () => {
    const gone = randomUUID();
    await addAccount(gone, 'borte3');
    const run = await scheduledReconciliation(env.cfg, env.kafka, [pgTarget]);
    const people = (await env.admin.search(env.peopleDn, { scope: 'one', filter: '(objectClass=idautoPerson)', attributes: ['1.1'] })).searchEntries.length;
    expect(run.published).toBe(people);
    expect(run.orphans.map((r) => [r.target, r.orphans.map((o) => o.account.key), r.results])).toEqual([['pgtest', [gone], undefined]]);
    expect(await enabledOf(gone)).toBe(true);
  });
});
