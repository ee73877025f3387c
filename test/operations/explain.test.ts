import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, formatExplain } from '../../src/consumers/explain.js';
import { entitlementDecision } from '../../src/consumers/entitlement.js';
import { HistoryStore } from '../../src/history/store.js';
import { testEnv, type TestEnv } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';

/**
 * `tilgang explain`: per target the entitlement decision with its rule, desired and actual side by
 * side, the plan, for an entitled, a not entitled, an incomplete and a duplicate person.
 */
describe('explain', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let schema: string;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;

  beforeAll(async () => {
    env = await testEnv('explain');
    accounts = await pgAccounts(env, { affiliations: ['employee', 'student', 'affiliate'] });
    ({ pool, schema } = accounts);
  }, 60_000);

  afterAll(async () => {
    await accounts?.drop();
    await env?.close();
  });

  const addAccount = (id: string, username: string, enabled = true) =>
    pool.query(`INSERT INTO ${schema}.accounts VALUES ($1, $2, 'old@uni.example.no', 'Åse Marit', 'Old', $3)`, [id, username, enabled]);

  it('an entitled person: the matched rule, desired beside actual, the update planned', async () => {
    const p = await env.addPerson({ affiliation: 'student' });
    await addAccount(p.id, p.username);
    // What the store remembers of the person: the last result, a failure.
    const store = new HistoryStore(env.cfg, { max: 1 });
    await store.ensure();
    await store.insert([{
      eventId: `ev-${p.id}`, sourceEventId: 'src', personId: p.id, target: 'pgtest', runId: 'run-earlier', mode: 'REPROCESS', logOnly: false,
      outcome: 'FAILED', skipReason: null, entitled: true, accountId: null, operations: [], counters: {}, durationMs: 3, processedAt: Date.parse('2026-01-02T03:04:05Z'),
      error: { kind: 'TERMINAL', code: 'refused', message: 'the system refused the mail', field: 'mail' },
    }]);
    const x = await explain(env.cfg, [pgTarget], 'username', p.username, { lastResults: (personId, target) => store.history({ personId, target, limit: 5 }) });
    await store.close();
    const [t] = x.targets;
    expect(t!.lastResults).toEqual([expect.objectContaining({ outcome: 'FAILED', runId: 'run-earlier' })]);
    expect(formatExplain(x)).toContain('last results:\n      2026-01-02T03:04:05.000Z  FAILED  run run-earlier  the system refused the mail');
    expect(t!.entitlement).toEqual({ entitled: true, rule: 'affiliation student is in employee, student, affiliate' });
    expect(t!.result).toMatchObject({ outcome: 'PLANNED', entitled: true });
    expect(t!.desired).toMatchObject({ person_id: p.id, mail: p.mail, sn: p.sn });
    expect(t!.actual).toEqual([expect.objectContaining({ person_id: p.id, mail: 'old@uni.example.no', sn: 'Old', enabled: true })]);
    // The national id is in the record, never in the explanation.
    expect(x.record!.idautoPersonNationalID).toEqual(['[redacted]']);
    expect(JSON.stringify(x)).not.toContain('01810012345');
    const text = formatExplain(x);
    expect(text).toContain('entitlement: entitled: affiliation student is in employee, student, affiliate');
    expect(text).toMatch(/update\n {6}mail: old@uni\.example\.no → /);
    expect(text).toMatch(/\n {4}sn +Ødegård-\d+ +Old {2}≠\n/);
    expect(text).toMatch(/\n {4}enabled +true +true(\n|$)/);
    expect(text).not.toContain('01810012345');
    // Nothing changed.
    expect((await pool.query(`SELECT mail FROM ${schema}.accounts WHERE person_id = $1`, [p.id])).rows).toEqual([{ mail: 'old@uni.example.no' }]);
  });

  it('a person not entitled: the reason no rule matched, and the disable that would follow', async () => {
    const p = await env.addPerson({ affiliation: 'sensor' });
    await addAccount(p.id, p.username);
    const x = await explain(env.cfg, [pgTarget], 'idautoID', p.id);
    const [t] = x.targets;
    expect(t!.entitlement).toEqual({ entitled: false, rule: 'affiliation sensor is not in employee, student, affiliate' });
    expect(t!.desired).toBeNull();
    expect(t!.result.operations).toEqual([expect.objectContaining({ kind: 'disable', outcome: 'PLANNED' })]);
    expect(formatExplain(x)).toContain('pgtest: would change (not entitled)\n    entitlement: not entitled: affiliation sensor is not in employee, student, affiliate\n    disable');
  });

  it('an incomplete person: skipped, naming the missing attribute', async () => {
    const p = await env.addPerson({ mail: '' });
    const x = await explain(env.cfg, [pgTarget], 'username', p.username);
    expect(x.targets[0]!.result).toMatchObject({ outcome: 'SKIPPED', skipReason: 'missing essential attribute: mail' });
    expect(x.targets[0]!.entitlement).toBeNull();
    expect(formatExplain(x)).toContain('pgtest: skipped: missing essential attribute: mail');
  });

  it('duplicate people: an identifier two people share is named, nothing planned; a duplicate account fails the plan', async () => {
    const a = await env.addPerson({});
    const b = await env.addPerson({ username: a.username });
    const x = await explain(env.cfg, [pgTarget], 'username', a.username);
    expect(x.targets).toEqual([]);
    expect(x.duplicate!.people.map((p) => p.id).sort()).toEqual([a.id, b.id].sort());
    expect(formatExplain(x)).toContain(`2 people have username=${a.username} (duplicate)`);
    // By id, b is one person, but two accounts answer for them: b's own, and a's under the shared username.
    await addAccount(b.id, `${a.username}-old`);
    await addAccount(a.id, a.username);
    const y = await explain(env.cfg, [pgTarget], 'idautoID', b.id);
    expect(y.targets[0]!.entitlement).toMatchObject({ entitled: true });
    expect(y.targets[0]!.result).toMatchObject({ outcome: 'FAILED', error: expect.objectContaining({ code: 'duplicate', field: 'username' }) });
    expect(formatExplain(y)).toMatch(/pgtest: failed \(entitled\): duplicate: duplicate accounts for person/);
  });

  it('the rule in words for requests, roles and disabled people', () => {
    const rec = (attrs: Record<string, string[]>) => ({ dn: 'x', attrs });
    const rules = { affiliations: ['employee'], roles: ['iam:teacher'], request: 'moodle' };
    expect(entitlementDecision(rec({ idautoRequestAssociations: ['moodle'] }), rules).rule).toBe('request moodle is granted (idautoRequestAssociations)');
    expect(entitlementDecision(rec({ idautoPersonAppRoles: ['IAM:Teacher'], idautoPersonAffiliation: ['student'] }), rules)).toEqual({ entitled: true, rule: 'role iam:teacher is in iam:teacher' });
    expect(entitlementDecision(rec({ idautoDisabled: ['TRUE'], idautoPersonAffiliation: ['employee'] }), rules)).toEqual({ entitled: false, rule: 'idautoDisabled is TRUE: no birthright; no request moodle granted' });
    expect(entitlementDecision(rec({}), rules)).toEqual({ entitled: false, rule: 'no affiliation (rules: employee); no role of iam:teacher; no request moodle granted' });
  });
});
