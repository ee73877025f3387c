import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { MassChangeGuard, type GuardSettings } from '../../src/consumers/guard.js';
import { newRunId, reprocessForTarget } from '../../src/producers/publisher.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';
import { eventually, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

const LIMIT: GuardSettings = { maxOperations: 2, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60 };

/**
 * The mass-change guard counts what was applied: a released operation, a failed apply and a
 * retried apply do not count (again), so the guard stays quiet where nothing mass happened.
 */
describe('mass-change guard on the real PostgreSQL', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let pipe: Pipeline;
  let schema: string;
  let guard: MassChangeGuard;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;

  beforeAll(async () => {
    env = await testEnv('guard', (cfg) => {
      cfg.runtime.maxRetries = 2;
      cfg.runtime.retryBaseMs = 20;
      cfg.runtime.concurrency = 8;
      cfg.runtime.guard = { ...LIMIT, targets: {} };
    });
    accounts = await pgAccounts(env, { affiliations: ['student'] });
    ({ pool, schema } = accounts);
    pipe = await startPipeline(env, pgTarget);
    guard = new MassChangeGuard(pool, env.cfg.runtime.stateSchema);
  }, 120_000);

  afterAll(async () => {
    await pipe?.stop();
    await accounts?.drop();
    await env?.close();
  });

  const account = async (id: string) => (await pool.query(`SELECT * FROM ${schema}.accounts WHERE person_id = $1`, [id])).rows[0];
  const disable = (p: TestPerson) => env.modify(env.dn(p.id), 'idautoDisabled', ['TRUE']);
  const lastResult = async (p: TestPerson) => (await pipe.resultsFor(p.id)).at(-1);
  const disabledBy = (r: ProvisioningResult | undefined) => !!r?.operations?.some((o) => o.kind === 'disable' && o.outcome === 'APPLIED');
  const provisioned = async (n: number) => {
    const people: TestPerson[] = [];
    for (let i = 0; i < n; i++) people.push(await env.addPerson({ affiliation: 'student' }));
    for (const p of people) await pipe.waitResults(p.id, 1, 'create');
    return people;
  };
  /** Waits for the person's result after losing entitlement (their second). */
  const afterDisable = async (p: TestPerson) => (await pipe.waitResults(p.id, 2, 'result after losing entitlement')).at(-1)!;

  it('reserves admitted operations until they are settled, so people admitted together cannot pass the limit', async () => {
    const g = new MassChangeGuard(pool, `${env.cfg.runtime.stateSchema}_unit`);
    await g.ensure();
    try {
      const a = await g.admit('t', 'p1', 'e1', 1, 0, LIMIT);
      const b = await g.admit('t', 'p2', 'e2', 1, 0, LIMIT);
      expect(a).not.toBe('held');
      expect(b).not.toBe('held');
      // Neither is applied yet, but both are reserved: a third is over the limit.
      expect(await g.admit('t', 'p3', 'e3', 1, 0, LIMIT)).toBe('held');
      expect(await g.state('t', 60)).toMatchObject({ tripped: true, held: 1, counted: 2 });
      // The failed one gives its reservation back; the applied one stays.
      await g.settle(a as Exclude<typeof a, 'held'>, 0);
      await g.settle(b as Exclude<typeof b, 'held'>, 1);
      expect((await g.state('t', 60)).counted).toBe(1);
      // After a release, the released run's operations are let through and never count.
      const runId = newRunId();
      expect(await g.release('t', runId)).toEqual(['p3']);
      const c = await g.admit('t', 'p3', 'e4', 5, 0, LIMIT, runId);
      expect(c).not.toBe('held');
      await g.settle(c as Exclude<typeof c, 'held'>, 5);
      expect(await g.state('t', 60)).toMatchObject({ tripped: false, counted: 0 });
      expect(await g.admit('t', 'p4', 'e5', 2, 0, LIMIT)).not.toBe('held');
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema}_unit CASCADE`);
    }
  });

  it('stays quiet after a release: the released disables do not count toward the next window', async () => {
    await guard.release('pgtest', 'test-reset');
    const people = await provisioned(5);
    const first = people.slice(0, 4);
    for (const p of first) await disable(p);
    await Promise.all(first.map(afterDisable));
    const held = (await Promise.all(first.map(lastResult))).filter((r) => r!.outcome === 'HELD');
    expect(held).toHaveLength(2);
    expect(await guard.state('pgtest')).toMatchObject({ tripped: true, held: 2 });

    // `tilgang guard release`: the held people are reprocessed and disabled.
    const runId = newRunId();
    const ids = await guard.release('pgtest', runId);
    expect(ids.sort()).toEqual(held.map((r) => r!.personId).sort());
    await reprocessForTarget(env.kafka, env.cfg, ids, 'pgtest', { runId, source: 'guard-release' });
    await eventually(async () => (await Promise.all(first.map((p) => account(p.id)))).every((a) => a.enabled === false), 30_000, 'released disables');
    expect((await guard.state('pgtest', 60)).counted).toBe(0);

    // The next single disable is one operation in the window, not the released two plus one.
    const next = people[4]!;
    await disable(next);
    const r = await afterDisable(next);
    expect(r.outcome, r.skipReason ?? '').toBe('APPLIED');
    expect(disabledBy(r)).toBe(true);
    expect(await guard.state('pgtest', 60)).toMatchObject({ tripped: false, held: 0, counted: 1 });
  });

  it('counts applied disables only: a failed apply and the retries of a transient failure do not count', async () => {
    await guard.release('pgtest', 'test-reset');
    const [refused, flaky, last] = await provisioned(3);
    await pool.query(`INSERT INTO ${schema}.faults VALUES ($1, 0, true), ($2, 2, false)`, [refused!.id, flaky!.id]);

    // The system refuses this disable: nothing was applied, nothing counts.
    await disable(refused!);
    const failed = await afterDisable(refused!);
    expect(failed).toMatchObject({ outcome: 'FAILED', error: expect.objectContaining({ code: 'refused' }) });
    expect((await guard.state('pgtest', 60)).counted).toBe(0);

    // Two transient failures, then applied on the third attempt: one operation, counted once.
    await disable(flaky!);
    const retried = await afterDisable(flaky!);
    expect(disabledBy(retried)).toBe(true);
    expect(await account(flaky!.id)).toMatchObject({ enabled: false });
    expect((await guard.state('pgtest', 60)).counted).toBe(1);

    // One more is the second operation of the window: within the limit of 2.
    await disable(last!);
    const r = await afterDisable(last!);
    expect(r.outcome, r.skipReason ?? '').toBe('APPLIED');
    expect(await guard.state('pgtest', 60)).toMatchObject({ tripped: false, counted: 2 });
  });
});
