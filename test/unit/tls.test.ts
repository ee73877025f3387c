import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseWholeConfig } from '../../src/config.js';
import { directoryTlsOptions, kafkaClientSecurity, pgSsl, registryClientOptions } from '../../src/lib/tls.js';

/** A real self-signed certificate and key, made with openssl, in a directory of its own. */
function certificate(): { dir: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tilgang-tls-'));
  const cert = join(dir, 'ca.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=tilgang-test'], { stdio: 'ignore' });
  return { dir, cert, key };
}

const example = () => structuredClone(loadConfig('tilgang.example.yaml')) as Record<string, any>;
const check = (raw: unknown) => parseWholeConfig(raw, 'test.yaml', new Map());
const refusal = (raw: unknown) => { try { check(raw); return ''; } catch (e) { return (e as Error).message; } };

describe('secure connections in the configuration', () => {
  const pem = certificate();

  it('accepts TLS and SASL for Kafka, auth and TLS for the registry, ldaps/StartTLS and sslmode, and defaults to none', () => {
    const c = example();
    c.targets = {};
    const plain = check(c);
    expect(plain.kafka.ssl).toBe(false);
    expect(plain.mv.sslmode).toBe('disable');
    expect(plain.directory.startTls).toBe(false);
    c.kafka.ssl = { caFile: pem.cert, certFile: pem.cert, keyFile: pem.key };
    c.kafka.sasl = { mechanism: 'scram-sha-512', username: 'tilgang', password: { env: 'KAFKA_PASSWORD' } };
    c.registry.auth = { token: { file: 'registry-token' } };
    c.registry.tls = { caFile: pem.cert };
    c.directory.startTls = true;
    c.directory.tls = { caFile: pem.cert };
    c.mv.sslmode = 'verify-full';
    c.mv.tls = { caFile: pem.cert };
    const secure = check(c);
    expect(secure.kafka.sasl?.mechanism).toBe('scram-sha-512');
    expect(secure.directory.tls?.verifyHostname).toBe(true);
  });

  it('refuses what would go wrong quietly, each with its path', () => {
    const c = example();
    c.targets = {};
    c.kafka.ssl = { certFile: pem.cert };
    c.kafka.sasl = { mechanism: 'scram-sha-1', username: 'u', password: 'plain-text-pw' };
    c.registry.auth = { token: 'tok-123' };
    c.directory.url = 'ldaps://ldap.example.org';
    c.directory.startTls = true;
    c.mv.url = 'postgres://u@db/mv?sslmode=require';
    c.mv.tls = { caFile: join(pem.dir, 'no-such-ca.pem') };
    const m = refusal(c);
    expect(m).toMatch(/kafka\.ssl: /);
    expect(m).toMatch(/kafka\.sasl\.mechanism: /);
    expect(m).toMatch(/kafka\.sasl\.password: a secret is not written in the configuration itself/);
    expect(m).toMatch(/registry\.auth: /);
    expect(m).toMatch(/directory\.startTls: startTls upgrades an ldap:\/\/ connection/);
    expect(m).toMatch(/mv\.url: set TLS with mv\.sslmode and mv\.tls, not in the URL/);
    expect(m).not.toMatch(/plain-text-pw|tok-123/);
    c.kafka.ssl = true;
    delete c.kafka.sasl;
    delete c.registry.auth;
    c.directory.startTls = false;
    c.mv.url = 'postgres://u@db/mv';
    expect(refusal(c)).toMatch(/mv\.tls\.caFile: .*no-such-ca\.pem does not exist/);
  });

  it('builds kafkajs\'s ssl and sasl options, the secret read from where it is named', () => {
    process.env.TILGANG_TEST_KAFKA_PW = 'scram-pw-4711';
    const s = kafkaClientSecurity({ ssl: { caFile: pem.cert, certFile: pem.cert, keyFile: pem.key, verifyHostname: true }, sasl: { mechanism: 'scram-sha-256', username: 'tilgang', password: { env: 'TILGANG_TEST_KAFKA_PW' } } });
    delete process.env.TILGANG_TEST_KAFKA_PW;
    expect(s.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'tilgang', password: 'scram-pw-4711' });
    const ssl = s.ssl as { ca: Buffer; cert: Buffer; key: Buffer; rejectUnauthorized: boolean };
    expect(ssl.ca.equals(readFileSync(pem.cert))).toBe(true);
    expect(ssl.key.equals(readFileSync(pem.key))).toBe(true);
    expect(ssl.rejectUnauthorized).toBe(true);
    expect(kafkaClientSecurity({ ssl: false })).toEqual({});
    expect(kafkaClientSecurity({ ssl: true })).toEqual({ ssl: true });
  });

  it('maps libpq\'s sslmode onto node-postgres: require encrypts, verify-ca checks the authority, verify-full the name too', () => {
    expect(pgSsl({ sslmode: 'disable' })).toBe(false);
    expect(pgSsl({ sslmode: 'require' })).toMatchObject({ rejectUnauthorized: false });
    const ca = pgSsl({ sslmode: 'verify-ca', tls: { caFile: pem.cert, verifyHostname: true } }) as { rejectUnauthorized: boolean; checkServerIdentity: (h: string, c: unknown) => unknown; ca: Buffer };
    expect(ca.rejectUnauthorized).toBe(true);
    expect(ca.ca.equals(readFileSync(pem.cert))).toBe(true);
    expect(ca.checkServerIdentity('db.example.org', { subject: { CN: 'other' } })).toBeUndefined();
    const full = pgSsl({ sslmode: 'verify-full', tls: { caFile: pem.cert, verifyHostname: false } }) as { checkServerIdentity: (h: string, c: unknown) => unknown };
    // verify-full checks the name even when the TLS block says not to: the mode is the stronger word.
    expect(full.checkServerIdentity('db.example.org', { subject: { CN: 'other' }, subjectaltname: '' })).toBeInstanceOf(Error);
  });

  it('gives the directory its CA for ldaps://, and for StartTLS the server name to check', () => {
    expect(directoryTlsOptions({ url: 'ldap://127.0.0.1:3389', startTls: false })).toEqual({});
    const ldaps = directoryTlsOptions({ url: 'ldaps://ldap.example.org', startTls: false, tls: { caFile: pem.cert, verifyHostname: true } });
    expect((ldaps.ldaps as { ca: Buffer }).ca.equals(readFileSync(pem.cert))).toBe(true);
    const start = directoryTlsOptions({ url: 'ldap://ldap.example.org:389', startTls: true });
    expect(start.startTls).toMatchObject({ host: 'ldap.example.org', servername: 'ldap.example.org', rejectUnauthorized: true });
    expect(directoryTlsOptions({ url: 'ldap://10.0.0.5', startTls: true }).startTls).not.toHaveProperty('servername');
  });

  it('gives the registry client basic auth, or a bearer token on every request, and an agent trusting the CA', () => {
    process.env.TILGANG_TEST_REG = 'reg-pw';
    const basic = registryClientOptions({ url: 'https://registry.example.org', auth: { username: 'tilgang', password: { env: 'TILGANG_TEST_REG' } }, tls: { caFile: pem.cert, verifyHostname: true } });
    expect(basic.auth).toEqual({ username: 'tilgang', password: 'reg-pw' });
    expect(basic.agent).toBeInstanceOf(Agent);
    process.env.TILGANG_TEST_REG = 'bearer-tok';
    const bearer = registryClientOptions({ url: 'https://registry.example.org', auth: { token: { env: 'TILGANG_TEST_REG' } } });
    delete process.env.TILGANG_TEST_REG;
    expect(bearer.auth).toBeUndefined();
    let headers: Record<string, string> = {};
    const req = { enhance: (o: { headers: Record<string, string> }) => { headers = o.headers; return req; } };
    (bearer.middlewares![0]!({} as never) as { request(r: unknown): unknown }).request(req);
    expect(headers).toEqual({ Authorization: 'Bearer bearer-tok' });
  });
});
