/**
 * Lenel through the runtime (producer → target group → result): a person without a cardholder key
 * is skipped and counted as the seed skips a record lacking an essential attribute, not failed and
 * dead-lettered; the sample university's keyless people are all such skips.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingEssential } from '../../src/consumers/entitlement.js';
import { generateUniversity, personEntry } from '../../src/seed/index.js';
import { LenelConfig } from '../../src/targets/lenel/config.js';
import { target } from '../../src/targets/lenel/index.js';
import { startLenelSimulator, type LenelSimulator } from '../../src/targets/lenel/simulator/index.js';
import { collect, testEnv, type TestEnv } from '../support/env.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

const PASSWORD = 'Lenel-keyless-pw-4e2a';

let env: TestEnv;
let sim: LenelSimulator;
let pipe: Pipeline;
const block = (url: string) => ({
  url, applicationId: 'TILGANG_TEST', username: 'tilgang', password: { env: 'TILGANG_TEST_LENEL_KEYLESS_PASSWORD' },
  badge: { type: 1, inactiveStatus: 5 }, entitlement: { affiliations: ['student', 'employee'] },
});

beforeAll(async () => {
  env = await testEnv('lenel-keyless', (cfg) => {
    cfg.runtime.retryBaseMs = 20;
  });
  sim = await startLenelSimulator({ users: { tilgang: PASSWORD }, applicationIds: ['TILGANG_TEST'] });
  process.env.TILGANG_TEST_LENEL_KEYLESS_PASSWORD = PASSWORD;
  env.cfg.targets = { lenel: block(sim.apiUrl) };
  pipe = await startPipeline(env, target, { topics: { dlq: `test.${env.id}.lenel.dlq` } });
}, 180_000);

afterAll(async () => {
  await pipe?.stop().catch(() => {});
  await sim?.close();
  await env?.close();
});

describe('Lenel: people without a cardholder key', () => {
  it('an entitled person with neither employee nor student number is skipped with the reason, creates nothing and is not dead-lettered', async () => {
    const keyless = await env.addPerson({ affiliation: 'student' });
    const keyed = await env.addPerson({ affiliation: 'student', extra: { idautoPersonStuID: ['4455667'] } });
    const [r] = await pipe.waitResults(keyless.id, 1);
    expect(r).toMatchObject({ outcome: 'SKIPPED', skipReason: 'missing essential attribute: idautoPersonHRID or idautoPersonStuID', error: null });
    const [ok] = await pipe.waitResults(keyed.id, 1);
    expect(ok).toMatchObject({ outcome: 'APPLIED' });
    expect(sim.store.all('Lnl_Cardholder').map((c) => c.IDAUTO_ID)).toEqual([keyed.id]);
    // The dead-letter topic holds nothing (the keyed person was provisioned after the keyless one was skipped).
    const dead = await collect(env.kafka, `test.${env.id}.lenel.dlq`, (m) => m.length > 0, 3_000);
    expect(dead).toEqual([]);
  }, 90_000);

  it('in the sample university, every person without either number is a skip, and every other one has a key', () => {
    const cfg = LenelConfig.parse(block('http://127.0.0.1:1'));
    const u = generateUniversity({ persons: 2_000, seed: 1, now: new Date('2026-09-01T12:00:00Z') });
    let keyless = 0;
    for (const p of u.persons) {
      const record = { dn: 'x', attrs: personEntry(p, 'ou=Accounts,dc=meta').attributes };
      const missing = missingEssential(record, target.essential(cfg));
      const hasKey = !!(p.hrId || p.studentId);
      if (!hasKey) keyless++;
      if (record.attrs.sn?.length) expect(missing.includes('idautoPersonHRID or idautoPersonStuID'), p.idautoId).toBe(!hasKey);
    }
    expect(keyless).toBeGreaterThan(0);
  });
});
