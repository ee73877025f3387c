import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPlanAll, planAll } from '../../src/consumers/plan-all.js';
import { testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';

describe('tilgang plan --all: the whole population\'s preview', () => {
  let env: TestEnv;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  const p: Record<string, TestPerson> = {};

  beforeAll(async () => {
    env = await testEnv('planall');
    accounts = await pgAccounts(env, { affiliations: ['student', 'employee'] });
    const account = async (x: TestPerson, o: { sn?: string; enabled?: boolean } = {}) => accounts.pool.query(
      `INSERT INTO ${accounts.schema}.accounts VALUES ($1, $2, $3, $4, $5, $6)`, [x.id, x.username.toLowerCase(), x.mail, x.givenName, o.sn ?? x.sn, o.enabled ?? true]);
    p.same = await env.addPerson({ affiliation: 'student' });
    await account(p.same);
    p.gone = await env.addPerson({ affiliation: 'alum' });
    await account(p.gone);
    p.fresh = await env.addPerson({ affiliation: 'employee' });
    p.incomplete = await env.addPerson({ givenName: '' });
    p.drifted = await env.addPerson({ affiliation: 'student' });
    await account(p.drifted, { sn: 'Endret for hånd' });
  }, 60_000);

  afterAll(async () => {
    await accounts?.drop();
    await env?.close();
  });

  /** Everything a plan could touch: the accounts, the target's effect log, the topics, the guard's tables. */
  const state = async () => {
    const admin = env.kafka.admin();
    await admin.connect();
    try {
      const topics = await Promise.all([env.cfg.kafka.topics.personChanged, env.cfg.kafka.topics.provisioningResult].map((t) => admin.fetchTopicOffsets(t)));
      const q = async (sql: string) => (await accounts.pool.query(sql)).rows;
      const guard = await q(`SELECT to_regclass('"${env.cfg.runtime.stateSchema}".guard_operations') AS t`);
      return {
        accounts: await q(`SELECT * FROM ${accounts.schema}.accounts ORDER BY person_id`),
        effects: await q(`SELECT * FROM ${accounts.schema}.effects`),
        topics: topics.map((t) => t.map((p) => `${p.partition}:${p.high}`).join()),
        guard: guard[0].t ? await q(`SELECT * FROM "${env.cfg.runtime.stateSchema}".guard_operations`) : [],
      };
    } finally {
      await admin.disconnect();
    }
  };

  it('counts per outcome and operation, lists who would change and why, and changes nothing', async () => {
    const before = await state();
    const [plan] = await planAll(env.cfg, [pgTarget], { waveSize: 2 });
    expect(plan!.target).toBe('pgtest');
    expect(plan!.people).toBe(5);
    expect(plan!.outcomes).toEqual({ UNCHANGED: 1, PLANNED: 3, SKIPPED: 1 });
    expect(plan!.operations).toEqual({ create: 1, disable: 1, update: 1 });
    const by = new Map(plan!.changes.map((c) => [c.personId, c]));
    expect(by.has(p.same!.id)).toBe(false);
    expect(by.get(p.gone!.id)!.operations.map((o) => o.kind)).toEqual(['disable']);
    expect(by.get(p.fresh!.id)!.operations.map((o) => o.kind)).toEqual(['create']);
    expect(by.get(p.drifted!.id)!.operations[0]).toMatchObject({ kind: 'update', changes: [{ attribute: 'sn', from: 'Endret for hånd', to: p.drifted!.sn }] });
    expect(by.get(p.incomplete!.id)).toMatchObject({ outcome: 'SKIPPED', reason: 'missing essential attribute: givenName' });

    expect(await state()).toEqual(before);

    const text = formatPlanAll([plan!], { list: 2 });
    expect(text).toContain('pgtest: 5 people; would change 3, skipped 1, unchanged 1');
    expect(text).toContain('  operations: create 1, disable 1, update 1');
    expect(text).toContain('... and 2 more');
  }, 60_000);

  it('--limit previews the first people only', async () => {
    const [plan] = await planAll(env.cfg, [pgTarget], { limit: 2 });
    expect(plan!.people).toBe(2);
    expect(Object.values(plan!.outcomes).reduce((a, b) => a + b, 0)).toBe(2);
  }, 60_000);
});
