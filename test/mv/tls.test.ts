import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { pgSsl } from '../../src/lib/tls.js';
import { migrate } from '../../src/mv/migrate.js';
import { MvReader } from '../../src/mv/person.js';
import { startTlsPostgres, type TlsPostgres } from '../support/tls-servers.js';

// MV over TLS for real: a PostgreSQL of this test's own with `ssl = on`, a certificate from a test
// authority, and a pg_hba that refuses connections without TLS. tilgang migrates and reads MV with
// mv.sslmode and mv.tls.caFile; the modes that check the certificate refuse a wrong authority.
describe('MV over TLS (a PostgreSQL with ssl on)', () => {
  let pgs: TlsPostgres;
  let base: Config['mv'];

  beforeAll(async () => {
    pgs = await startTlsPostgres();
    base = { ...loadConfig('tilgang.example.yaml').mv, url: pgs.url, schema: 'mv', timeoutMs: 5_000 };
  }, 90_000);

  afterAll(async () => {
    await pgs?.stop();
  });

  const mv = (m: Partial<Config['mv']>): Config['mv'] => ({ ...base, ...m });

  const encrypted = async (m: Config['mv']): Promise<{ ssl: boolean; persons: number }> => {
    const reader = MvReader.fromConfig(m, { probeMs: false });
    try {
      const ssl = (await reader.pool.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0].ssl as boolean;
      const persons = Number((await reader.pool.query('SELECT count(*) AS n FROM mv.persons')).rows[0].n);
      await reader.ping();
      return { ssl, persons };
    } finally {
      await reader.close();
    }
  };

  it('verify-full with the authority in tls.caFile: migrates MV and reads it over an encrypted connection', async () => {
    const m = mv({ sslmode: 'verify-full', tls: { caFile: pgs.certs.caFile, verifyHostname: true } });
    await migrate(m.url, m.schema, pgSsl(m));
    expect(await encrypted(m)).toEqual({ ssl: true, persons: 0 });
  });

  it('verify-ca and require connect encrypted too', async () => {
    expect((await encrypted(mv({ sslmode: 'verify-ca', tls: { caFile: pgs.certs.caFile, verifyHostname: true } }))).ssl).toBe(true);
    expect((await encrypted(mv({ sslmode: 'require' }))).ssl).toBe(true);
  });

  it('verify-full and verify-ca refuse a server whose certificate another authority signed', async () => {
    for (const sslmode of ['verify-full', 'verify-ca'] as const) {
      await expect(encrypted(mv({ sslmode, tls: { caFile: pgs.certs.otherCaFile, verifyHostname: true } }))).rejects.toThrow(/certificate/i);
    }
  });

  it('sslmode disable is refused by a server that requires TLS', async () => {
    await expect(encrypted(mv({ sslmode: 'disable' }))).rejects.toThrow(/no encryption|pg_hba/i);
  });
});
