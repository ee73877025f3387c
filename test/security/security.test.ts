/**
 * Security checks beyond those that live beside what they check:
 *   - no password, token or national id in anything a run wrote: test/faults/suite.test.ts reads back
 *     every log line, event, result and dead letter of the fault suite's run (also those of a single
 *     target: test/support/conformance.ts "no secret or sensitive value in any result or log line",
 *     test/runtime/secrets.test.ts, test/targets/ad.test.ts "never puts the initial password ...");
 *   - the writeback's account writes the status attributes and nothing else: below, every other
 *     attribute of a person tried for real (and test/stack/ldap.test.ts: no other class, no entries,
 *     no deletes, anonymous sees nothing);
 *   - LDAPS to AD: below;
 *   - the simulators refuse requests without valid credentials: below, each one (and their own
 *     contract tests for expired sessions and tokens).
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Attribute, Change, Client, InsufficientAccessError } from 'ldapts';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, readSecret } from '../../src/config.js';
import { A } from '../../src/directory/attributes.js';
import type { RunningSimulator } from '../../src/spi/index.js';
import { SAMBA_SERVICE_UPN, sambaSecrets } from '../../src/stack/samba.js';
import { AdConfig, target as ad } from '../../src/targets/ad/index.js';
import { loadSimulator } from '../../src/targets/index.js';

const cfg = loadConfig('tilgang.example.yaml');

describe('the writeback\'s directory account', () => {
  let admin: Client;
  let tilgang: Client;
  let dn: string;
  beforeAll(async () => {
    admin = new Client({ url: cfg.directory.url });
    await admin.bind(cfg.directory.adminDn!, readSecret(cfg.directory.adminPassword!, 'admin'));
    const id = `sec-${randomUUID()}`;
    dn = `idautoID=${id},ou=Tests,${cfg.directory.suffix}`;
    await admin.add(`ou=Tests,${cfg.directory.suffix}`, { objectClass: ['organizationalUnit'], ou: 'Tests' }).catch(() => {});
    await admin.add(dn, {
      objectClass: ['idautoPerson', 'tilgangStatusHolder'], idautoID: id, cn: 'Kari Nordmann', sn: 'Nordmann', givenName: 'Kari',
      mail: 'kari@uni.example.no', idautoPersonNationalID: '01810012345', idautoPersonAffiliation: 'student', idautoPersonUserNameMV: 'kno001',
    });
    tilgang = new Client({ url: cfg.directory.url });
    await tilgang.bind(cfg.directory.bindDn, readSecret(cfg.directory.password, 'directory.password'));
  });
  afterAll(async () => {
    await tilgang?.unbind().catch(() => {});
    await admin?.del(dn).catch(() => {});
    await admin?.unbind().catch(() => {});
  });

  it.each([
    'givenName', 'sn', 'cn', 'mail', 'idautoPersonNationalID', 'idautoPersonAffiliation', 'idautoPersonAffiliations',
    'idautoPersonAppRoles', 'idautoRequestAssociations', 'idautoDisabled', 'idautoPersonUserNameMV', 'userPassword', 'description',
  ])('is refused a write of %s (a real modify, answered insufficientAccessRights)', async (attr) => {
    const value = attr === 'idautoDisabled' ? 'TRUE' : attr === 'idautoPersonNationalID' ? '01810054321' : `x-${attr}`;
    const err = await tilgang.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: attr, values: [value] }) })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(InsufficientAccessError);
    const { searchEntries: [e] } = await admin.search(dn, { scope: 'base', attributes: [attr] });
    expect([e?.[attr]].flat().map(String)).not.toContain(value);
  });

  it('writes the status attributes', async () => {
    await tilgang.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: A.targetStatus, values: ['moodle|2026-11-29T00:00:00.000Z|provisioned|'] }) }));
    const { searchEntries: [e] } = await admin.search(dn, { scope: 'base', attributes: [A.targetStatus] });
    expect(String(e?.[A.targetStatus])).toContain('moodle|');
  });
});

describe('LDAPS to Active Directory', () => {
  const example = cfg.targets.ad as Record<string, unknown>;
  const log = pino({ level: 'silent' }, new Writable({ write(_c, _e, done) { done(); } }));

  it('the AD target takes only an ldaps:// URL', () => {
    const r = AdConfig.safeParse({ ...example, url: 'ldap://127.0.0.1:389' });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('ldaps://');
  });

  it('connects over LDAPS trusting the configured CA, and refuses a certificate it cannot verify', async () => {
    const config = AdConfig.parse(example);
    const ctx = { config, global: cfg, log };
    const ok = await ad.connect(ctx);
    try {
      await expect(ad.check!(ok, ctx)).resolves.toBeDefined();
    } finally {
      await ad.close?.(ok);
    }
    // Without the domain's CA, the self-signed certificate is not trusted: no fallback, no bind.
    const untrusted = AdConfig.parse({ ...example, tls: { verifyHostname: false } });
    const uctx = { config: untrusted, global: cfg, log };
    const err = await (async () => {
      const s = await ad.connect(uctx);
      try { await ad.check!(s, uctx); } finally { await ad.close?.(s); }
    })().then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/certificate|verify/i);
  });

  it('the domain controller refuses the service account\'s password in clear text on port 389', async () => {
    const plain = new Client({ url: 'ldap://127.0.0.1:389', timeout: 5_000, connectTimeout: 3_000 });
    try {
      await expect(plain.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang)).rejects.toThrow(/encryption required|strong auth/i);
    } finally {
      await plain.unbind().catch(() => {});
    }
  });
});

describe('the simulators refuse requests without valid credentials', () => {
  const sims = new Map<string, RunningSimulator>();
  beforeAll(async () => {
    for (const name of ['moodle', 'lenel', 'wiseflow']) sims.set(name, await (await loadSimulator(name))!.start({ port: 0, latency: false, global: cfg }));
  });
  afterAll(async () => { for (const s of sims.values()) await s.close(); });

  const get = async (url: string, headers: Record<string, string> = {}) => {
    const r = await request(url, { headers });
    return { status: r.statusCode, body: await r.body.text() };
  };

  it('Moodle: a web-service call without a token, or with a wrong one, is an invalidtoken exception and does nothing', async () => {
    const base = `${sims.get('moodle')!.url}/webservice/rest/server.php?moodlewsrestformat=json&wsfunction=core_user_get_users_by_field&field=username&values[0]=admin`;
    for (const token of ['', '&wstoken=0123456789abcdef0123456789abcdef']) {
      const r = await get(`${base}${token}`);
      expect(JSON.parse(r.body)).toMatchObject({ exception: expect.stringMatching(/moodle_exception|webservice_access_exception/), errorcode: expect.stringMatching(/invalidtoken|accessexception/) });
    }
  });

  it('Lenel OpenAccess: no session token, an unknown one, or no application id is 401', async () => {
    const api = sims.get('lenel')!.url;
    expect((await get(`${api}/instances?type_name=Lnl_Cardholder&version=1.0`, { 'application-id': 'TILGANG' })).status).toBe(401);
    expect((await get(`${api}/instances?type_name=Lnl_Cardholder&version=1.0`, { 'application-id': 'TILGANG', 'session-token': randomUUID() })).status).toBe(401);
    expect((await get(`${api}/instances?type_name=Lnl_Cardholder&version=1.0`, {})).status).toBe(401);
  });

  it('WISEflow: no bearer token, a made-up one, or a wrong API key is 401', async () => {
    const api = sims.get('wiseflow')!.url;
    expect((await get(`${api}/license/roles`)).status).toBe(401);
    expect((await get(`${api}/license/roles`, { authorization: `Bearer ${randomUUID()}` })).status).toBe(401);
    expect((await get(`${api}/license/roles`, { 'x-api-key': randomUUID() })).status).toBe(401);
  });
});
