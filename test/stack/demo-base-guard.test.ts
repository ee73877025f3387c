import { randomUUID } from 'node:crypto';
import { Attribute, Change, Client } from 'ldapts';
import { afterAll, describe, expect, it } from 'vitest';
import { readSecret } from '../../src/config.js';
import { assertDemoBaseUntouched, demoBaseWrites, logTime } from '../support/demo-base-guard.js';
import { eventually, testEnv, type TestEnv } from '../support/env.js';

// The suite's guard, pointed at a test's own base instead of the demo's (writing under the demo's
// base is what it forbids): the administrator's writes there since a time are found, tilgang's
// status writes are not, nor writes elsewhere or from before.
describe('the guard on the people base a running demo watches', () => {
  let env: TestEnv;
  afterAll(async () => env?.close());

  it('names the administrator\'s writes under the base since the run started, and only those', async () => {
    env = await testEnv('guard');
    const before = await env.addPerson({});
    // The bound is a whole second (see logTime): the write before it is in an earlier one.
    await new Promise((r) => setTimeout(r, 1100));
    const since = logTime(new Date());
    expect(since).toMatch(/^\d{14}\.\d{6}Z$/);
    const cfg = structuredClone(env.cfg);
    expect(await demoBaseWrites(cfg, since)).toEqual([]);
    await assertDemoBaseUntouched(cfg, since);

    const p = await env.addPerson({});
    await env.modify(env.dn(p.id), 'sn', ['Changed']);
    const tilgang = new Client({ url: cfg.directory.url });
    try {
      await tilgang.bind(cfg.directory.bindDn, readSecret(cfg.directory.password, 'directory.password'));
      await tilgang.modify(env.dn(before.id), new Change({ operation: 'replace', modification: new Attribute({ type: 'tilgangTargetStatus', values: [`moodle|${new Date().toISOString()}|created|`] }) }));
    } finally {
      await tilgang.unbind().catch(() => {});
    }
    const elsewhere = { ...cfg, directory: { ...cfg.directory, peopleDn: `ou=elsewhere-${randomUUID()},ou=Tests,${cfg.directory.suffix}` } };
    expect(await demoBaseWrites(elsewhere, since)).toEqual([]);

    // slapd logs an operation as it ends, at times after answering it: wait for both to be logged.
    const writes = await eventually(async () => { const w = await demoBaseWrites(cfg, since); return w.length >= 2 && w; }, 10_000, 'the two writes logged');
    expect(writes.map((w) => [w.type, w.dn.toLowerCase()])).toEqual([['add', env.dn(p.id).toLowerCase()], ['modify', env.dn(p.id).toLowerCase()]]);
    await expect(assertDemoBaseUntouched(cfg, since)).rejects.toThrow(/^2 write\(s\) as cn=admin,dc=meta under ou=test-guard-/);
  });
});
