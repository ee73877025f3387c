import { describe, expect, it } from 'vitest';
import {
  childDn, dnDepth, dnEquals, escapeDnValue, formatDn, InvalidDnError, isUnder, normalizeDn, parentDn, parseDn, rdnValue, type Rdn,
} from '../../src/lib/ldap/dn.js';

const ava = (type: string, value: string) => ({ type, value });

describe('DN parsing (RFC 4514, and the RFC 2253/1779 forms older writers use)', () => {
  it.each<[string, string, Rdn[]]>([
    ['plain', 'idautoID=5f1c,ou=Accounts,dc=meta', [[ava('idautoID', '5f1c')], [ava('ou', 'Accounts')], [ava('dc', 'meta')]]],
    ['the root DN', '', []],
    ['an escaped comma (Active Directory)', 'CN=Doe\\, John,OU=Staff,DC=uni,DC=no', [[ava('CN', 'Doe, John')], [ava('OU', 'Staff')], [ava('DC', 'uni')], [ava('DC', 'no')]]],
    ['a hex-escaped comma', 'CN=Doe\\2C John,DC=no', [[ava('CN', 'Doe, John')], [ava('DC', 'no')]]],
    ['lower-case hex', 'CN=Doe\\2c John,DC=no', [[ava('CN', 'Doe, John')], [ava('DC', 'no')]]],
    ['hex escapes of UTF-8 bytes', 'cn=\\C3\\85se \\C3\\98deg\\C3\\A5rd,dc=no', [[ava('cn', 'Åse Ødegård')], [ava('dc', 'no')]]],
    ['UTF-8 as it is', 'cn=Åse Ødegård,dc=no', [[ava('cn', 'Åse Ødegård')], [ava('dc', 'no')]]],
    ['a multi-valued RDN', 'cn=Kim+uid=kim7,ou=People,dc=no', [[ava('cn', 'Kim'), ava('uid', 'kim7')], [ava('ou', 'People')], [ava('dc', 'no')]]],
    ['an escaped plus', 'cn=C\\+\\+ Team,dc=no', [[ava('cn', 'C++ Team')], [ava('dc', 'no')]]],
    ['an escaped equals sign and an unescaped one', 'cn=a\\=b=c,dc=no', [[ava('cn', 'a=b=c')], [ava('dc', 'no')]]],
    ['escaped specials', 'cn=\\"q\\"\\;\\<x\\>\\\\,dc=no', [[ava('cn', '"q";<x>\\')], [ava('dc', 'no')]]],
    ['an escaped leading # and space, escaped trailing space', 'cn=\\#1\\ ,dc=no', [[ava('cn', '#1 ')], [ava('dc', 'no')]]],
    ['escaped leading space', 'cn=\\ x,dc=no', [[ava('cn', ' x')], [ava('dc', 'no')]]],
    ['a quoted value (RFC 2253)', 'CN="Doe, John",DC=no', [[ava('CN', 'Doe, John')], [ava('DC', 'no')]]],
    ['a quoted value with an escaped quote', 'CN="say \\"hi\\"; +",DC=no', [[ava('CN', 'say "hi"; +')], [ava('DC', 'no')]]],
    ['spaces around separators (RFC 1779)', ' cn = Kim , ou = People ; dc=no ', [[ava('cn', 'Kim')], [ava('ou', 'People')], [ava('dc', 'no')]]],
    ['an OID type', '2.5.4.3=Kim,dc=no', [[ava('2.5.4.3', 'Kim')], [ava('dc', 'no')]]],
    ['RFC 1779 OID. prefix', 'OID.2.5.4.3=Kim,dc=no', [[ava('2.5.4.3', 'Kim')], [ava('dc', 'no')]]],
    ['an empty value', 'cn=,dc=no', [[ava('cn', '')], [ava('dc', 'no')]]],
    ['a NUL byte', 'cn=a\\00b,dc=no', [[ava('cn', 'a\0b')], [ava('dc', 'no')]]],
  ])('%s: %s', (_what, dn, want) => {
    expect(parseDn(dn)).toEqual(want);
  });

  it('reads a #hex value as a BER string, kept as written', () => {
    expect(parseDn('1.3.6.1.4.1.1466.0=#04024869,dc=no')).toEqual([[{ type: '1.3.6.1.4.1.1466.0', value: '#04024869', hex: true }], [ava('dc', 'no')]]);
  });

  it.each([
    ['no equals sign', 'cn,dc=no', /"=" expected/],
    ['an empty type', '=x,dc=no', /attribute type expected/],
    ['a bad type', '1cn=x', /bad attribute type/],
    ['a character no type has', 'c_n=x', /"=" expected after c/],
    ['a trailing backslash', 'cn=x\\', /at the end/],
    ['an unknown escape', 'cn=a\\qb', /is not an escape/],
    ['an unterminated quote', 'cn="Doe, John', /unterminated/],
    ['a quote inside a value', 'cn=Doe "J",dc=no', /unescaped "/],
    ['an odd #hex', 'cn=#123', /whole bytes/],
    ['hex that is not UTF-8', 'cn=\\C3\\28', /not UTF-8/],
    ['an empty RDN', 'cn=a,,dc=no', /attribute type expected/],
    ['a trailing comma', 'cn=a,', /attribute type expected/],
  ])('refuses %s: %s', (_what, dn, msg) => {
    expect(() => parseDn(dn)).toThrow(InvalidDnError);
    expect(() => parseDn(dn)).toThrow(msg);
  });
});

describe('DN formatting and comparing', () => {
  it.each([
    ['Doe, John', 'Doe\\, John'],
    ['C++', 'C\\+\\+'],
    ['"q";<x>\\', '\\"q\\"\\;\\<x\\>\\\\'],
    ['#1', '\\#1'],
    ['a#1', 'a#1'],
    [' lead and trail ', '\\ lead and trail\\ '],
    ['a=b', 'a=b'],
    ['a\0b', 'a\\00b'],
    ['Åse', 'Åse'],
  ])('escapes %j as %j, which parses back to it', (value, escaped) => {
    expect(escapeDnValue(value)).toBe(escaped);
    expect(parseDn(`cn=${escaped}`)).toEqual([[ava('cn', value)]]);
  });

  it.each([
    ['CN=Doe\\2C John,OU=Staff', 'CN=Doe\\, John,OU=Staff'],
    ['cn="Doe, John" ; dc=no', 'cn=Doe\\, John,dc=no'],
    ['cn=Kim+uid=k7,dc=no', 'cn=Kim+uid=k7,dc=no'],
  ])('formats %s as %s', (dn, want) => {
    expect(formatDn(parseDn(dn))).toBe(want);
  });

  it.each([
    ['IDAUTOID=ABC,OU=Accounts,DC=meta', 'idautoid=abc,ou=accounts,dc=meta'],
    ['cn=Doe\\, John , dc=no', 'cn=doe\\, john,dc=no'],
    ['CN="Doe,  John",DC=no', 'cn=doe\\, john,dc=no'],
    ['uid=k7+cn=Kim,dc=no', 'cn=kim+uid=k7,dc=no'],
    ['2.5.4.3=Kim,0.9.2342.19200300.100.1.25=no', 'cn=kim,dc=no'],
    ['cn=\\C3\\85se,dc=no', 'cn=åse,dc=no'],
    ['cn=A\u030Ase,dc=no', 'cn=åse,dc=no'], // decomposed Å (NFD) is the same name
  ])('normalises %s to %s', (dn, want) => {
    expect(normalizeDn(dn)).toBe(want);
  });

  it.each([
    ['CN=Doe\\, John,OU=Staff', 'cn=doe\\2c john, ou=staff', true],
    ['cn=Kim+uid=k7,dc=no', 'UID=K7+CN=kim,DC=NO', true],
    ['cn=Doe\\, John,OU=Staff', 'cn=Doe,cn=John,OU=Staff', false],
    ['cn=a,dc=no', 'cn=a,dc=no,dc=x', false],
  ])('%s and %s are one DN: %s', (a, b, same) => {
    expect(dnEquals(a, b)).toBe(same);
  });

  it('knows what lies below what', () => {
    const people = 'ou=Accounts,dc=meta';
    expect(isUnder('idautoID=x,OU=accounts, DC=Meta', people)).toBe(true);
    expect(isUnder('ou=Accounts,dc=meta', people)).toBe(false);
    expect(isUnder('ou=Accounts,dc=meta', people, true)).toBe(true);
    expect(isUnder('idautoID=x,ou=test-1,ou=Accounts,dc=meta', people)).toBe(true);
    // The suffix of the string is not the suffix of the DN: the comma was escaped.
    expect(isUnder('cn=x\\,ou=Accounts,dc=meta', people)).toBe(false);
    expect(isUnder('cn=a,dc=other', people)).toBe(false);
    expect(isUnder('cn=x', '')).toBe(true);
  });

  it('takes DNs apart and builds them', () => {
    expect(parentDn('CN=Doe\\, John,OU=Staff,DC=no')).toBe('OU=Staff,DC=no');
    expect(parentDn('dc=no')).toBe('');
    expect(parentDn('')).toBeUndefined();
    expect(rdnValue('IDAUTOID=5f1c,ou=Accounts,dc=meta', 'idautoID')).toBe('5f1c');
    expect(rdnValue('CN=Doe\\, John,OU=Staff', 'cn')).toBe('Doe, John');
    expect(rdnValue('cn=Kim+uid=k7,dc=no', 'uid')).toBe('k7');
    expect(rdnValue('ou=Staff,cn=Kim', 'cn')).toBeUndefined();
    expect(childDn('CN', 'Doe, John', 'OU=Staff , DC=no')).toBe('CN=Doe\\, John,OU=Staff,DC=no');
    expect(childDn('ou', 'top', '')).toBe('ou=top');
    expect(dnDepth('CN=Doe\\, John,OU=Staff,DC=no')).toBe(3);
    expect(dnDepth('')).toBe(0);
  });
});
