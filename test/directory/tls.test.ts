import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlreadyExistsError } from 'ldapts';
import { loadConfig, type Config } from '../../src/config.js';
import { Directory } from '../../src/directory/client.js';
import { baseEntries, renderConfig } from '../../src/stack/ldap.js';
import { startTlsSlapd, type TlsSlapd } from '../support/tls-servers.js';

// The directory over TLS for real: a slapd of this test's own with a certificate from a test
// authority, which refuses a simple bind without TLS. tilgang connects over ldaps:// and with
// StartTLS on ldap://, trusting the authority from directory.tls.caFile; an authority that did not
// sign the certificate, or no TLS at all, is refused.
describe('directory over TLS (a slapd with a generated certificate)', () => {
  let slapd: TlsSlapd;
  const adminPassword = randomBytes(12).toString('base64url');
  const tilgangPassword = randomBytes(12).toString('base64url');
  const personId = randomUUID();
  let base: Config;

  beforeAll(async () => {
    base = loadConfig('tilgang.example.yaml');
    slapd = await startTlsSlapd(renderConfig, adminPassword, async (admin) => {
      for (const { dn, attrs } of baseEntries(tilgangPassword)) {
        await admin.add(dn, attrs).catch((e: Error) => { if (!(e instanceof AlreadyExistsError)) throw e; });
      }
      await admin.add(`idautoID=${personId},${base.directory.peopleDn}`, {
        objectClass: ['idautoPerson'], idautoID: personId, cn: 'Tone Tls', sn: 'Tls', idautoPersonUserNameMV: 'tonetls',
      });
    });
    process.env.TILGANG_TEST_TLS_LDAP_PASSWORD = tilgangPassword;
  }, 60_000);

  afterAll(async () => {
    delete process.env.TILGANG_TEST_TLS_LDAP_PASSWORD;
    await slapd?.stop();
  });

  const cfgWith = (d: Partial<Config['directory']>): Config => {
    const cfg = structuredClone(base);
    cfg.directory = { ...cfg.directory, password: { env: 'TILGANG_TEST_TLS_LDAP_PASSWORD' }, timeoutMs: 5_000, startTls: false, ...d };
    delete cfg.directory.tls;
    if (d.tls) cfg.directory.tls = d.tls;
    return cfg;
  };

  const readsPerson = async (cfg: Config) => {
    const dir = await Directory.connect(cfg, { probeMs: false });
    try {
      const p = await dir.person(personId);
      expect(p?.attrs.idautoPersonUserNameMV).toEqual(['tonetls']);
    } finally {
      await dir.close();
    }
  };

  it('ldaps:// with the authority in tls.caFile: binds and reads a person', async () => {
    await readsPerson(cfgWith({ url: slapd.ldapsUrl, tls: { caFile: slapd.certs.caFile, verifyHostname: true } }));
  });

  it('StartTLS on ldap:// with the authority in tls.caFile: binds and reads a person', async () => {
    await readsPerson(cfgWith({ url: slapd.ldapUrl, startTls: true, tls: { caFile: slapd.certs.caFile, verifyHostname: true } }));
  });

  it('an authority that did not sign the server\'s certificate is refused, over ldaps:// and StartTLS', async () => {
    const other = { caFile: slapd.certs.otherCaFile, verifyHostname: true };
    await expect(Directory.connect(cfgWith({ url: slapd.ldapsUrl, tls: other }), { probeMs: false })).rejects.toThrow(/certificate/i);
    await expect(Directory.connect(cfgWith({ url: slapd.ldapUrl, startTls: true, tls: other }), { probeMs: false })).rejects.toThrow(/certificate/i);
  });

  it('the system\'s authorities (no caFile) do not trust a private authority', async () => {
    await expect(Directory.connect(cfgWith({ url: slapd.ldapsUrl }), { probeMs: false })).rejects.toThrow(/certificate/i);
  });

  it('without TLS the directory refuses the bind, and the error names the result code', async () => {
    await expect(Directory.connect(cfgWith({ url: slapd.ldapUrl }), { probeMs: false })).rejects.toThrow(/confidentialityRequired \(13\)/);
  });
});
