/**
 * Moodle's part of the orphan check: the accounts tilgang made (its auth method, an idnumber) are
 * listed from the simulator over HTTP; an orphan is suspended through the plan, never deleted, and
 * what tilgang did not make is never listed.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orphans } from '../../src/consumers/orphans.js';
import { loadSimulator } from '../../src/targets/index.js';
import { MoodleClient, type MoodleUser } from '../../src/targets/moodle/client.js';
import { target } from '../../src/targets/moodle/index.js';
import { cliConfig, tilgangCli } from '../support/cli.js';
import { testEnv, type TestEnv } from '../support/env.js';

const TOKEN = randomUUID().replace(/-/g, '');

describe('Moodle orphans, against the Moodle simulator', () => {
  let env: TestEnv;
  let secrets: string;
  let sim: { url: string; close(): Promise<void> };
  let ws: MoodleClient;

  beforeAll(async () => {
    env = await testEnv('moodle-orphans', (cfg) => {
      cfg.runtime.guard = { maxOperations: 100, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
    });
    secrets = mkdtempSync(join(tmpdir(), 'tilgang-moodle-orphans-'));
    writeFileSync(join(secrets, 'moodle-token'), TOKEN);
    sim = await (await loadSimulator('moodle'))!.start({ port: 0, latency: false, token: TOKEN, global: env.cfg });
    ws = new MoodleClient({ url: sim.url, token: TOKEN });
    env.cfg.targets.moodle = {
      url: sim.url, token: { file: join(secrets, 'moodle-token') }, heldBy: { institution: '1120', studentIdField: 'studentid' },
      entitlement: { affiliations: ['employee', 'student', 'affiliate'] },
    };
  }, 60_000);

  afterAll(async () => {
    await ws?.close();
    await sim?.close();
    await env?.close();
    if (secrets) rmSync(secrets, { recursive: true, force: true });
  });

  const create = async (u: { username: string; idnumber?: string; auth?: string }) => {
    const [c] = await ws.call<{ id: number }[]>('core_user_create_users', {
      users: [{ username: u.username, auth: u.auth ?? 'saml2', firstname: 'Kari', lastname: 'Nordmann', email: `${u.username}@uni.example.no`, ...(u.idnumber ? { idnumber: u.idnumber } : {}), ...(u.auth === 'manual' ? { createpassword: 1 } : {}) }],
    });
    return c!.id;
  };
  const suspended = async (id: number) => !!(await ws.call<MoodleUser[]>('core_user_get_users_by_field', { field: 'id', values: [String(id)] }))[0]!.suspended;

  it('lists the accounts with tilgang\'s anchor whose person is gone or not entitled, and suspends them', async () => {
    const stays = await env.addPerson({ affiliation: 'employee' });
    const stayId = await create({ username: stays.username, idnumber: stays.id });
    const leaves = await env.addPerson({ affiliation: 'sensor' });
    const leaveId = await create({ username: leaves.username, idnumber: leaves.id });
    const gone = randomUUID();
    const goneId = await create({ username: `borte${env.id.slice(-6)}`, idnumber: gone });
    // Not tilgang's: another auth method, or no anchor.
    const manual = await create({ username: `manual${env.id.slice(-6)}`, idnumber: randomUUID(), auth: 'manual' });
    const noAnchor = await create({ username: `noanchor${env.id.slice(-6)}` });

    const listed = await orphans(env.cfg, undefined, target);
    const keys = listed.orphans.map((o) => o.account.key);
    expect(keys.sort()).toEqual([leaves.id, gone].sort());
    expect(listed.orphans.find((o) => o.account.key === gone)).toMatchObject({ gone: true, account: { accountId: String(goneId), enabled: true } });
    expect(listed.orphans.find((o) => o.account.key === leaves.id)!.reason).toBe('no longer entitled: affiliation sensor is not in employee, student, affiliate; no request moodle granted');

    const applied = await orphans(env.cfg, undefined, target, { apply: true });
    expect(applied.results!.map((r) => [r.personId, r.outcome]).sort()).toEqual([[gone, 'APPLIED'], [leaves.id, 'APPLIED']].sort());
    expect(applied.results!.flatMap((r) => r.operations!.map((o) => o.kind))).toContain('disable');
    expect([await suspended(leaveId), await suspended(goneId)]).toEqual([true, true]);
    expect([await suspended(stayId), await suspended(manual), await suspended(noAnchor)]).toEqual([false, false, false]);
    expect((await orphans(env.cfg, undefined, target)).orphans).toEqual([]);
  });

  it('the commands: tilgang explain <key> --json and tilgang orphans moodle [--apply]', async () => {
    const p = await env.addPerson({ affiliation: 'sensor' });
    const id = await create({ username: p.username, idnumber: p.id });
    const file = cliConfig(env.cfg, (c) => { c.targets = { moodle: env.cfg.targets.moodle }; });
    const x = await tilgangCli(file, ['explain', p.username, '--json']);
    expect(x.code).toBe(0);
    const json = JSON.parse(x.stdout) as { personId: string; targets: { target: string; entitlement: { rule: string }; result: { outcome: string } }[] };
    expect(json.personId).toBe(p.id);
    expect(json.targets).toEqual([expect.objectContaining({ target: 'moodle', entitlement: { entitled: false, rule: 'affiliation sensor is not in employee, student, affiliate; no request moodle granted' }, result: expect.objectContaining({ outcome: 'PLANNED' }) })]);
    expect(x.stdout).not.toContain('01810012345');

    const listed = await tilgangCli(file, ['orphans', 'moodle']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${p.username}  (account ${id}, person ${p.id})  no longer entitled: affiliation sensor is not in employee, student, affiliate`);
    expect(listed.stdout).toContain('tilgang orphans moodle --apply');
    expect(await suspended(id)).toBe(false);
    const applied = await tilgangCli(file, ['orphans', 'moodle', '--apply']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(new RegExp(`${p.username} .* → disabled\n`));
    expect(await suspended(id)).toBe(true);
    const refused = await tilgangCli(file, ['orphans', 'wiseflow']);
    expect(refused.code).not.toBe(0);
  });
});
