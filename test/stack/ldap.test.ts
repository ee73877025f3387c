import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlreadyExistsError, Attribute, Change, Client, InsufficientAccessError, type Entry } from 'ldapts';
import { loadConfig, readSecret } from '../../src/config.js';
import { A, PERSON_OBJECT_CLASS, STATUS_OBJECT_CLASS } from '../../src/directory/attributes.js';
import { TESTS_DN } from '../../src/stack/ldap.js';

// Runs against the local stack's slapd (`tilgang stack up`), with the settings of the configuration
// every other part of tilgang reads. Everything it writes lives in its own ou under ou=Tests, beside
// the people container: a running demo's producer would publish its 600-person bulk add (and the
// deletes after it), and its writeback act on them. Removed at the end.
const cfg = loadConfig().directory;
const adminPassword = readSecret(cfg.adminPassword!, 'directory.adminPassword');
const tilgangPassword = readSecret(cfg.password, 'directory.password');

const testOu = `ou=test-ldap-${randomBytes(4).toString('hex')},${TESTS_DN}`;
const COOKIE = /^\d{14}\.\d{6}Z$/;

const connect = () => new Client({ url: cfg.url, timeout: 10_000, connectTimeout: 3000 });
let admin: Client;
let tilgang: Client;

const one = (v: Entry[string] | undefined): string => {
  const first = Array.isArray(v) ? v[0] : v;
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first ?? '');
};
const all = (v: Entry[string] | undefined): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
const sameDn = (a: string, b: string) => a.replace(/\s*,\s*/g, ',').toLowerCase() === b.replace(/\s*,\s*/g, ',').toLowerCase();
const replace = (type: string, values: string[]) => new Change({ operation: 'replace', modification: new Attribute({ type, values }) });
const addValues = (type: string, values: string[]) => new Change({ operation: 'add', modification: new Attribute({ type, values }) });

/** The successful change-log entries for one DN, oldest first; waits a little for them to appear. */
async function changes(dn: string, objectClass = 'auditWriteObject', atLeast = 1): Promise<Entry[]> {
  const until = Date.now() + 5000;
  for (;;) {
    const { searchEntries } = await admin.search(cfg.accesslogDn, {
      scope: 'one',
      filter: `(&(objectClass=${objectClass})(reqResult=0)(reqDN=${dn}))`,
      attributes: ['*'],
    });
    if (searchEntries.length >= atLeast || Date.now() > until) {
      return searchEntries.sort((a, b) => one(a.reqStart).localeCompare(one(b.reqStart)));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function person(id: string, n: number) {
  return {
    dn: `${A.id}=${id},${testOu}`,
    attrs: {
      objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson', PERSON_OBJECT_CLASS],
      [A.id]: id,
      cn: `Bjørn Ærlig Åsheim ${n}`,
      [A.givenName]: 'Bjørn',
      [A.sn]: `Ærlig Åsheim ${n}`,
      [A.displayName]: `Bjørn Æ. Åsheim ${n}`,
      [A.mail]: `bjorn.asheim${n}@uni.example.no`,
      [A.usernames]: [`bas${n}`, `bjorn.asheim${n}`],
      [A.affiliation]: 'employee',
      [A.affiliations]: ['employee', 'student'],
      [A.appRoles]: ['iam:employee', 'iam:student'],
      [A.deptCode]: '194_15_30_00',
      [A.disabled]: 'FALSE',
    },
  };
}

beforeAll(async () => {
  admin = connect();
  await admin.bind(cfg.adminDn!, adminPassword);
  tilgang = connect();
  await tilgang.bind(cfg.bindDn, tilgangPassword);
  await admin.add(TESTS_DN, { objectClass: ['top', 'organizationalUnit'], ou: 'Tests' }).catch((e: Error) => {
    if (!(e instanceof AlreadyExistsError)) throw e;
  });
  await admin.add(testOu, { objectClass: ['top', 'organizationalUnit'], ou: testOu.split(',')[0]!.slice(3) });
});

afterAll(async () => {
  if (admin) {
    const { searchEntries } = await admin.search(testOu, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'] })
      .catch(() => ({ searchEntries: [] as Entry[] }));
    // Children before parents.
    for (const e of searchEntries.sort((a, b) => b.dn.split(',').length - a.dn.split(',').length)) await admin.del(e.dn);
    await admin.unbind();
  }
  await tilgang?.unbind();
});

describe('portal directory (slapd with accesslog)', () => {
  const id = randomUUID();
  const p = person(id, 1);

  it('stores an idautoPerson with Norwegian letters and reads it back, as admin and as tilgang', async () => {
    await admin.add(p.dn, p.attrs);
    for (const c of [admin, tilgang]) {
      const { searchEntries } = await c.search(testOu, { scope: 'one', filter: `(${A.id}=${id})`, attributes: ['*', 'entryUUID'] });
      expect(searchEntries).toHaveLength(1);
      const e = searchEntries[0]!;
      expect(one(e.cn)).toBe('Bjørn Ærlig Åsheim 1');
      expect(one(e[A.displayName])).toBe('Bjørn Æ. Åsheim 1');
      expect(all(e[A.usernames]).sort()).toEqual(['bas1', 'bjorn.asheim1']);
      expect(all(e[A.affiliations]).sort()).toEqual(['employee', 'student']);
      expect(one(e[A.disabled])).toBe('FALSE');
    }
    // Equality on the indexed attributes, case-insensitively.
    const byUsername = await tilgang.search(testOu, { filter: `(${A.usernames}=BJORN.ASHEIM1)`, attributes: [A.id] });
    expect(byUsername.searchEntries.map((e) => one(e[A.id]))).toEqual([id]);
  });

  it('refuses a second value for the single-valued idautoID', async () => {
    await expect(admin.modify(p.dn, addValues(A.id, [randomUUID()]))).rejects.toThrow();
  });

  it('logs the add in cn=accesslog with a reqStart cookie', async () => {
    const [add, ...rest] = await changes(p.dn);
    expect(rest).toHaveLength(0);
    expect(one(add!.reqType)).toBe('add');
    expect(all(add!.objectClass)).toContain('auditAdd');
    expect(one(add!.reqStart)).toMatch(COOKIE);
    expect(add!.dn).toBe(`reqStart=${one(add!.reqStart)},${cfg.accesslogDn}`);
    expect(sameDn(one(add!.reqAuthzID), cfg.adminDn!)).toBe(true);
    const { searchEntries: [stored] } = await admin.search(p.dn, { scope: 'base', attributes: ['entryUUID'] });
    expect(one(add!.reqEntryUUID)).toBe(one(stored!.entryUUID));
    // The added values, non-ASCII ones included, come back as UTF-8 text.
    expect(all(add!.reqMod)).toContain('cn:+ Bjørn Ærlig Åsheim 1');
  });

  it('logs a modify with reqMod "attr:= value" and a later cookie', async () => {
    const before = one((await changes(p.dn))[0]!.reqStart);
    await admin.modify(p.dn, [replace(A.mail, ['bjorn.new@uni.example.no']), replace(A.displayName, ['Bjørn Østby'])]);
    const [mod] = await changes(p.dn, 'auditModify');
    expect(one(mod!.reqType)).toBe('modify');
    expect(one(mod!.reqStart)).toMatch(COOKIE);
    expect(one(mod!.reqStart) > before).toBe(true);
    const reqMod = all(mod!.reqMod);
    expect(reqMod).toContain('mail:= bjorn.new@uni.example.no');
    expect(reqMod).toContain('displayName:= Bjørn Østby');
  });

  it('lets tilgang write only the provisioning status', async () => {
    await admin.modify(p.dn, addValues('objectClass', [STATUS_OBJECT_CLASS]));
    const status = `moodle|${new Date().toISOString()}|created|`;
    await tilgang.modify(p.dn, [replace(A.targetStatus, [status]), replace(A.provisionedTo, ['moodle'])]);
    const { searchEntries: [e] } = await admin.search(p.dn, { scope: 'base', attributes: [A.targetStatus, A.provisionedTo, A.mail] });
    expect(all(e![A.targetStatus])).toEqual([status]);
    expect(all(e![A.provisionedTo])).toEqual(['moodle']);

    const refused = await tilgang.modify(p.dn, replace(A.mail, ['hijack@evil.example'])).then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(InsufficientAccessError);
    expect((refused as InsufficientAccessError).code).toBe(50);
    expect(one(e![A.mail])).toBe('bjorn.new@uni.example.no');

    // The change log says who wrote: the producer skips tilgang's own writeback by reqAuthzID.
    const mods = await changes(p.dn, 'auditModify', 2);
    const own = mods.filter((m) => all(m.reqMod).some((v) => v.startsWith(`${A.targetStatus}:`)));
    expect(own).toHaveLength(1);
    expect(sameDn(one(own[0]!.reqAuthzID), cfg.bindDn)).toBe(true);
    // The refused write left no successful entry.
    expect(mods.some((m) => all(m.reqMod).includes('mail:= hijack@evil.example'))).toBe(false);
  });

  it('lets tilgang add the status class itself, but no other class, and no entries', async () => {
    const other = person(randomUUID(), 2);
    await admin.add(other.dn, other.attrs);
    await tilgang.modify(other.dn, addValues('objectClass', [STATUS_OBJECT_CLASS]));
    await tilgang.modify(other.dn, addValues(A.targetStatus, ['ad|2026-01-01T00:00:00.000Z|failed|no OU for stedkode']));
    await expect(tilgang.modify(other.dn, addValues('objectClass', ['extensibleObject']))).rejects.toBeInstanceOf(InsufficientAccessError);
    await expect(tilgang.del(other.dn)).rejects.toBeInstanceOf(InsufficientAccessError);
    const third = person(randomUUID(), 3);
    await expect(tilgang.add(third.dn, third.attrs)).rejects.toBeInstanceOf(InsufficientAccessError);
  });

  it('shows nothing to anonymous clients', async () => {
    const anon = connect();
    try {
      const r = await anon.search(testOu, { scope: 'sub', filter: '(objectClass=*)' }).then((x) => x.searchEntries, () => []);
      expect(r).toHaveLength(0);
      const log = await anon.search(cfg.accesslogDn, { scope: 'one', filter: '(objectClass=*)' }).then((x) => x.searchEntries, () => []);
      expect(log).toHaveLength(0);
    } finally {
      await anon.unbind();
    }
  });

  it('lets tilgang read more than the default 500-entry size limit, paged and unpaged', async () => {
    const ou = `ou=bulk,${testOu}`;
    await admin.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: 'bulk' });
    const [mark] = await changes(ou);
    const n = 600;
    for (let i = 0; i < n; i++) {
      const e = person(randomUUID(), 1000 + i);
      await admin.add(e.dn.replace(testOu, ou), e.attrs);
    }
    const people = await tilgang.search(ou, { scope: 'one', filter: `(objectClass=${PERSON_OBJECT_CLASS})`, attributes: [A.id] });
    expect(people.searchEntries).toHaveLength(n);
    const filter = `(&(objectClass=auditAdd)(reqResult=0)(reqStart>=${one(mark!.reqStart)}))`;
    const paged = await tilgang.search(cfg.accesslogDn, { scope: 'one', filter, attributes: ['reqStart'], paged: { pageSize: 250 } });
    expect(paged.searchEntries.length).toBeGreaterThanOrEqual(n + 1);
    const unpaged = await tilgang.search(cfg.accesslogDn, { scope: 'one', filter, attributes: ['reqStart'] });
    expect(unpaged.searchEntries.length).toBeGreaterThanOrEqual(n + 1);
  });
});
