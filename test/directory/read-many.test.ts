import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { Directory, DirectoryError, type PersonRecord } from '../../src/directory/client.js';
import { childDn } from '../../src/lib/ldap/dn.js';
import { eq, present } from '../../src/lib/ldap/filter.js';
import { migrate } from '../../src/mv/migrate.js';
import { MvReader } from '../../src/mv/person.js';
import { testEnv, type TestEnv, type TestPerson } from '../support/env.js';

// Reads for a wave of people: one search per 200 ids against the real slapd, one query against
// the real PostgreSQL, each a map by id that holds what one-by-one reads would have found.
describe('Directory.readMany', () => {
  let env: TestEnv;
  let dir: Directory;
  let people: TestPerson[];
  let twin: TestPerson;

  beforeAll(async () => {
    env = await testEnv('read-many');
    people = [];
    for (let k = 0; k < 250; k++) people.push(await env.addPerson({ sn: k % 50 === 0 ? `Doe, (*) ${k}` : undefined }));
    // A second entry with the same idautoID in a sub-ou: the directory's data is wrong, and the read must say so.
    twin = people[7]!;
    const ou = childDn('ou', 'twins', env.peopleDn);
    await env.admin.add(ou, { objectClass: ['organizationalUnit'], ou: 'twins' });
    await env.admin.add(childDn('idautoID', twin.id, ou), {
      objectClass: ['idautoPerson'], idautoID: twin.id, cn: 'Twin', sn: 'Twin', idautoPersonNationalID: '01810012345',
    });
    dir = await Directory.connect(env.cfg, { probeMs: false });
  }, 120_000);

  afterAll(async () => {
    await dir?.close();
    await env?.close();
  });

  it('finds every person asked for, in one search per 200 ids, as one-by-one reads would', async () => {
    const search = vi.spyOn(dir.client, 'search');
    const unknown = [randomUUID(), randomUUID()];
    const got = await dir.readMany([...people.map((p) => p.id), ...unknown]);
    expect(search).toHaveBeenCalledTimes(2);
    search.mockRestore();
    expect(got.size).toBe(people.length);
    for (const id of unknown) expect(got.has(id)).toBe(false);
    for (const p of people.filter((x) => x !== twin)) {
      const r = got.get(p.id) as PersonRecord;
      expect(r.attrs.idautoPersonUserNameMV).toEqual([p.username]);
      expect(r.attrs.sn).toEqual([p.sn]);
    }
    for (const k of [0, 50, 123, 249]) expect(got.get(people[k]!.id)).toEqual(await dir.person(people[k]!.id));
  });

  it('an id two entries share is an error naming both, for that person only', async () => {
    const got = await dir.readMany([twin.id, people[0]!.id]);
    const e = got.get(twin.id);
    expect(e).toBeInstanceOf(DirectoryError);
    expect((e as Error).message).toContain(`idautoID=${twin.id}`);
    expect((e as Error).message).toMatch(/ou=twins/);
    expect((e as Error).message).not.toContain('01810012345');
    expect(got.get(people[0]!.id)).toMatchObject({ attrs: { idautoID: [people[0]!.id] } });
  });

  it('counts the people a filter matches', async () => {
    expect(await dir.count(eq('idautoPersonAffiliation', 'student'))).toBe(250);
    expect(await dir.count(present('idautoID'))).toBe(251); // the twin too
    expect(await dir.count(eq('idautoPersonAffiliation', '*'))).toBe(0);
  });

  it('keys as asked (case, repeats), reads only the attributes asked for, and answers nothing for nothing', async () => {
    const p = people[3]!;
    const upper = p.id.toUpperCase();
    const got = await dir.readMany([upper, p.id, p.id], ['mail']);
    expect([...got.keys()].sort()).toEqual([upper, p.id].sort());
    expect(got.get(upper)).toEqual(got.get(p.id));
    expect(Object.keys((got.get(p.id) as PersonRecord).attrs).sort()).toEqual(['idautoID', 'mail']);
    const search = vi.spyOn(dir.client, 'search');
    expect((await dir.readMany([])).size).toBe(0);
    expect(search).not.toHaveBeenCalled();
    search.mockRestore();
  });
});

describe('MvReader.readMany', () => {
  const url = loadConfig('tilgang.example.yaml').mv.url;
  const schema = `test_mvmany_${randomUUID().slice(0, 8)}`;
  const [anna, bo, cleo] = [randomUUID(), randomUUID(), randomUUID()];
  let admin: pg.Pool;
  let mv: MvReader;

  beforeAll(async () => {
    await migrate(url, schema);
    admin = new pg.Pool({ connectionString: url, max: 2 });
    const q = (sql: string, params: unknown[] = []) => admin.query(sql.replaceAll('S.', `${schema}.`), params);
    await q(`INSERT INTO S.org_units VALUES ('140000', NULL, 'faculty', 'Det matnat. fakultet', 'Faculty of Science', 'MN', 'MN'),
      ('140500', '140000', 'department', 'Institutt for informatikk', 'Informatics', 'II', 'II')`);
    await q(`INSERT INTO S.persons (idauto_id, username, student_id, hr_id, primary_affiliation, stedkode) VALUES
      ($1, 'anna', 's1', NULL, 'student', '140500'), ($2, 'bo', NULL, 'h2', 'employee', '140000'), ($3, NULL, NULL, NULL, 'affiliate', NULL)`, [anna, bo, cleo]);
    await q(`INSERT INTO S.person_affiliations VALUES ($1, 'student', '140500', '2020-01-01', NULL), ($1, 'employee', '140500', '2001-01-01', '2002-01-01'),
      ($2, 'employee', '140000', '2010-01-01', NULL)`, [anna, bo]);
    await q(`INSERT INTO S.business_roles VALUES ($1, 'iam:student'), ($1, 'iam:alumni'), ($2, 'iam:employee')`, [anna, bo]);
    await q(`INSERT INTO S.master_topics VALUES ('1120:INF100:1', '1120', 'INF100', 1, 'Grunnkurs', 'Intro', 'EMNE', 'HØST', 2026, '140500', 'active'),
      ('1120:INF999:1', '1120', 'INF999', 1, 'Nedlagt', 'Gone', 'EMNE', 'HØST', 2026, '140500', 'closed')`);
    await q(`INSERT INTO S.master_persons VALUES ($1, '1120:INF100:1', 'HØST', 2026, 'student'), ($1, '1120:INF999:1', 'HØST', 2026, 'student'),
      ($2, '1120:INF100:1', 'HØST', 2026, 'teacher')`, [anna, bo]);
    mv = new MvReader(url, schema, { probeMs: false });
  });

  afterAll(async () => {
    await mv?.close();
    await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin?.end();
  });

  it('reads a wave in one query, each person with their current affiliations, roles, org chain and active courses', async () => {
    const query = vi.spyOn(mv.pool, 'query');
    const got = await mv.readMany([anna, bo, cleo, randomUUID(), 'not-a-uuid']);
    expect(query).toHaveBeenCalledTimes(1);
    query.mockRestore();
    expect([...got.keys()].sort()).toEqual([anna, bo, cleo].sort());
    expect(got.get(anna)).toEqual({
      id: anna, username: 'anna', studentId: 's1', hrId: null, primaryAffiliation: 'student',
      affiliations: [{ affiliation: 'student', stedkode: '140500' }],
      roles: ['iam:alumni', 'iam:student'],
      orgUnits: [
        { stedkode: '140500', parentStedkode: '140000', level: 'department', nameNb: 'Institutt for informatikk', nameEn: 'Informatics', shortName: 'II', adOu: 'II' },
        { stedkode: '140000', parentStedkode: null, level: 'faculty', nameNb: 'Det matnat. fakultet', nameEn: 'Faculty of Science', shortName: 'MN', adOu: 'MN' },
      ],
      enrolments: [{ sourceId: '1120:INF100:1', institution: '1120', code: 'INF100', version: 1, term: 'HØST', year: 2026, role: 'student', emnetype: 'EMNE', nameNb: 'Grunnkurs' }],
    });
    expect(got.get(bo)).toMatchObject({ roles: ['iam:employee'], orgUnits: [expect.objectContaining({ stedkode: '140000' })], enrolments: [expect.objectContaining({ role: 'teacher' })] });
    expect(got.get(cleo)).toMatchObject({ username: null, affiliations: [], roles: [], orgUnits: [], enrolments: [] });
  });

  it('agrees with person(), keys as asked, and asks nothing for nothing', async () => {
    expect(await mv.person(anna)).toEqual((await mv.readMany([anna])).get(anna));
    const upper = bo.toUpperCase();
    const got = await mv.readMany([upper]);
    expect(got.get(upper)).toMatchObject({ id: bo, username: 'bo' });
    expect(await mv.person('not-a-uuid')).toBeUndefined();
    const query = vi.spyOn(mv.pool, 'query');
    expect((await mv.readMany(['x', 'y'])).size).toBe(0);
    expect(query).not.toHaveBeenCalled();
    query.mockRestore();
  });
});
