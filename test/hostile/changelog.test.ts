/**
 * Malformed and hostile change-log entries, as `interpret` meets them: each is passed over with a
 * reason (counted per reason by the producer and logged with its DN, see test/producer/producer.test.ts
 * "skips entries that are not persons and counts them") or read as the person it names; none throws.
 * Entries without reqType, with a bad cookie, without idautoID, or of an extended operation are in
 * test/producer/interpret.test.ts. Escaped DNs as slapd writes them reach the runtime in
 * test/hostile/records.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { interpret, isSkip } from '../../src/producers/changelog.js';

const opts = { peopleDn: 'ou=Accounts,dc=meta', ownDn: 'cn=tilgang,ou=Services,dc=meta', sensitive: ['idautoPersonNationalID'] };
const at = '20261126120000.000002Z';
const entry = (e: Record<string, unknown>) => ({ dn: `reqStart=${at},cn=accesslog`, reqStart: at, ...e });

describe('malformed change-log entries are passed over with a reason', () => {
  it.each([
    ['no reqDN', { reqType: 'add' }, 'malformed'],
    ['no reqStart', { reqStart: undefined, reqType: 'add', reqDN: 'idautoID=a,ou=Accounts,dc=meta' }, 'malformed'],
    ['a DN that does not parse', { reqType: 'modify', reqDN: 'idautoID=a\\ZZ,ou=Accounts,dc=meta', reqMod: ['sn:= x'] }, 'malformed'],
    ['a DN with an unterminated quote', { reqType: 'modify', reqDN: 'idautoID="a,ou=Accounts,dc=meta', reqMod: ['sn:= x'] }, 'malformed'],
    ['a rename without its new RDN', { reqType: 'modrdn', reqDN: 'idautoID=a,ou=Accounts,dc=meta' }, 'malformed'],
    ['a modify without reqMod', { reqType: 'modify', reqDN: 'idautoID=a,ou=Accounts,dc=meta' }, 'malformed'],
    ['a modify whose reqMod names no attribute', { reqType: 'modify', reqDN: 'idautoID=a,ou=Accounts,dc=meta', reqMod: [':= x', 'novalue'] }, 'malformed'],
    ['an empty idautoID', { reqType: 'add', reqDN: 'idautoID=,ou=Accounts,dc=meta', reqMod: ['cn:+ x'] }, 'no-idautoID'],
    ['an unknown operation', { reqType: 'frobnicate', reqDN: 'idautoID=a,ou=Accounts,dc=meta' }, 'unsupported-type'],
  ])('%s', (_n, e, reason) => {
    const c = interpret(entry(e) as never, opts);
    expect(isSkip(c) && c.reason).toBe(reason);
  });
});

describe('DNs as the directory writes them in the change log name the person by their real idautoID', () => {
  it.each([
    ['filter metacharacters, hex-escaped', 'idautoID=a\\2A\\28\\29\\5C,ou=Accounts,dc=meta', 'a*()\\'],
    ['a NUL byte', 'idautoID=a\\00b,ou=Accounts,dc=meta', 'a\u0000b'],
    ['a comma, an equals sign and a plus', 'idautoID=a\\2Cou\\3Dx\\2Bcn\\3Dy,ou=Accounts,dc=meta', 'a,ou=x+cn=y'],
    ['a leading hash and a trailing space', 'idautoID=\\23a\\20,ou=Accounts,dc=meta', '#a '],
    ['UTF-8 as hex pairs', 'idautoID=\\C3\\85se,ou=Accounts,dc=meta', 'Åse'],
    ['a multi-valued RDN', 'cn=Kari+idautoID=k-1,ou=Accounts,dc=meta', 'k-1'],
    ['a quoted value', 'idautoID="a,b",ou=Accounts,dc=meta', 'a,b'],
    ['no escapes at all (the usual case)', 'idautoID=3f1c1f3e-8f8a,ou=Accounts,dc=meta', '3f1c1f3e-8f8a'],
  ])('%s', (_n, dn, id) => {
    const c = interpret(entry({ reqType: 'modify', reqDN: dn, reqMod: ['sn:= x'] }) as never, opts);
    expect(isSkip(c)).toBe(false);
    expect(!isSkip(c) && c.personId).toBe(id);
  });

  it('a rename reads the person from the new RDN when only it names them, escaped or not', () => {
    const c = interpret(entry({ reqType: 'modrdn', reqDN: 'cn=Kari,ou=Incoming,dc=meta', reqNewRDN: 'idautoID=k\\2A1', reqNewSuperior: 'ou=Accounts,dc=meta' }) as never, opts);
    expect(!isSkip(c) && c).toMatchObject({ type: 'ADD', personId: 'k*1' });
  });

  it('10,000 reqMod values and binary ones are read by name only', () => {
    const mods = [...Array.from({ length: 10_000 }, (_, i) => `idautoPersonAppRoles:+ iam:role-${i}`), Buffer.from([0x6a, 0x70, 0x65, 0x67, 0x50, 0x68, 0x6f, 0x74, 0x6f, 0x3a, 0x3a, 0xff, 0x00])];
    const c = interpret(entry({ reqType: 'modify', reqDN: 'idautoID=a,ou=Accounts,dc=meta', reqMod: mods }) as never, opts);
    expect(!isSkip(c) && c.changedAttributes).toEqual(['idautoPersonAppRoles', 'jpegPhoto']);
  });
});
