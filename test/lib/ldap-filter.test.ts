import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'ldapts';
import { loadConfig, readSecret } from '../../src/config.js';
import { childDn, dnEquals, parseDn, rdnValue } from '../../src/lib/ldap/dn.js';
import { and, anyOf, eq, escapeFilterValue, ge, le, not, or, present } from '../../src/lib/ldap/filter.js';

describe('filter builder (RFC 4515)', () => {
  it.each([
    ['*', '\\2a'],
    ['(admin)', '\\28admin\\29'],
    ['C:\\dir', 'C:\\5cdir'],
    ['a\0b', 'a\\00b'],
    ['*)(objectClass=*', '\\2a\\29\\28objectClass=\\2a'],
    ['Åse Ødegård', 'Åse Ødegård'],
    ['plain-value_1', 'plain-value_1'],
  ])('escapes %j as %j', (value, want) => {
    expect(escapeFilterValue(value)).toBe(want);
    expect(eq('cn', value).toString()).toBe(`(cn=${want})`);
  });

  it('composes and, or, not, presence', () => {
    expect(and(eq('objectClass', 'idautoPerson'), or(eq('uid', 'a'), eq('uid', 'b*'))).toString())
      .toBe('(&(objectClass=idautoPerson)(|(uid=a)(uid=b\\2a)))');
    expect(not(present('mail')).toString()).toBe('(!(mail=*))');
    expect(and(ge('entryCSN', '20261129031500.000001Z#000000#000#000000'), le('sn', 'b*')).toString())
      .toBe('(&(entryCSN>=20261129031500.000001Z#000000#000#000000)(sn<=b\\2a))');
    expect(anyOf('idautoID', ['x', 'y', '(z)']).toString()).toBe('(|(idautoID=x)(idautoID=y)(idautoID=\\28z\\29))');
    expect(anyOf('idautoID', ['x']).toString()).toBe('(idautoID=x)');
    expect(() => or()).toThrow(/no filters/);
    expect(() => and()).toThrow(/no filters/);
  });
});

// Against the real slapd: a value full of filter metacharacters matches only itself, and DNs with
// escaped commas and plus signs come back as DNs the parser reads.
describe('filters and DNs against the directory', () => {
  const cfg = loadConfig('tilgang.example.yaml').directory;
  // Beside the people base, not in it: a running demo watches the people base and would log every entry.
  const base = `ou=test-filter-${randomBytes(4).toString('hex')},ou=Tests,${cfg.suffix}`;
  let admin: Client;
  const people = [
    { cn: 'Doe, John', sn: '*' },
    { cn: 'Kim (admin)', sn: 'a*b' },
    { cn: 'C:\\share', sn: 'a(b)c' },
    { cn: 'Plain', sn: 'ab' },
    { cn: '#1 + friends', sn: 'x' },
  ];

  beforeAll(async () => {
    admin = new Client({ url: cfg.url, timeout: 10_000 });
    await admin.bind(cfg.adminDn!, readSecret(cfg.adminPassword!, 'admin'));
    await admin.add(`ou=Tests,${cfg.suffix}`, { objectClass: ['top', 'organizationalUnit'], ou: 'Tests' }).catch(() => {});
    await admin.add(base, { objectClass: ['organizationalUnit'], ou: rdnValue(base, 'ou')! });
    for (const p of people) await admin.add(childDn('cn', p.cn, base), { objectClass: ['person'], cn: p.cn, sn: p.sn });
  });

  afterAll(async () => {
    for (const p of people) await admin.del(childDn('cn', p.cn, base)).catch(() => {});
    await admin.del(base).catch(() => {});
    await admin.unbind();
  });

  const find = async (filter: ReturnType<typeof eq>) =>
    (await admin.search(base, { scope: 'one', filter, attributes: ['cn'] })).searchEntries.map((e) => String(e.cn)).sort();

  it.each([
    ['*', ['Doe, John']],
    ['a*b', ['Kim (admin)']],
    ['a(b)c', ['C:\\share']],
    ['ab', ['Plain']],
  ])('sn equal to %j finds only that person', async (sn, want) => {
    expect(await find(eq('sn', sn))).toEqual(want);
  });

  it('a value that would widen a pasted filter finds no one', async () => {
    expect(await find(eq('sn', '*)(cn=*'))).toEqual([]);
    expect(await find(and(present('sn'), eq('cn', 'Plain')))).toEqual(['Plain']);
    expect(await find(anyOf('cn', ['Doe, John', 'C:\\share', 'nobody']))).toEqual(['C:\\share', 'Doe, John']);
    // Ordering needs an attribute that has an ordering rule: the server's timestamps do.
    expect(await find(ge('createTimestamp', '19700101000000Z'))).toHaveLength(people.length);
    expect(await find(and(ge('createTimestamp', '29990101000000Z'), present('cn')))).toEqual([]);
    expect(await find(le('createTimestamp', '29990101000000Z'))).toHaveLength(people.length);
  });

  it('DNs the directory returns parse back to the names that were written', async () => {
    const { searchEntries } = await admin.search(base, { scope: 'one', filter: present('cn'), attributes: ['cn'] });
    expect(searchEntries).toHaveLength(people.length);
    for (const e of searchEntries) {
      expect(rdnValue(e.dn, 'cn')).toBe(String(e.cn));
      expect(dnEquals(e.dn, childDn('cn', String(e.cn), base))).toBe(true);
      expect(parseDn(e.dn)).toHaveLength(parseDn(base).length + 1);
    }
  });
});
