import { describe, expect, it } from 'vitest';
import { A } from '../../src/directory/attributes.js';
import { personEntry } from '../../src/seed/entry.js';
import { fnrChecksumValid, isSyntheticFnr, syntheticFnr } from '../../src/seed/fnr.js';
import { Rng } from '../../src/seed/prng.js';
import {
  BAD_RECORD_PLAN, generateUniversity, nextSemester, semesterOf, type BadRecordKind, type University,
} from '../../src/seed/university.js';

const now = new Date('2026-03-15T10:00:00Z');
const uni = generateUniversity({ persons: 2000, seed: 7, now });
const bad = (u: University, kind: BadRecordKind) => u.badRecords.filter((b) => b.kind === kind).map((b) => b.idautoId);

describe('determinism', () => {
  it('gives byte-identical output for the same seed', () => {
    const again = generateUniversity({ persons: 2000, seed: 7, now });
    expect(JSON.stringify(again)).toBe(JSON.stringify(uni));
  });

  it('gives a different university for a different seed', () => {
    const other = generateUniversity({ persons: 2000, seed: 8, now });
    expect(other.persons[0]!.idautoId).not.toBe(uni.persons[0]!.idautoId);
    const ids = new Set(uni.persons.map((p) => p.idautoId));
    expect(other.persons.filter((p) => ids.has(p.idautoId))).toHaveLength(0);
    expect(JSON.stringify(other.topics)).not.toBe(JSON.stringify(uni.topics));
  });

  it('keeps the org units whatever the seed or size', () => {
    expect(generateUniversity({ persons: 10, seed: 99, now }).orgUnits).toEqual(uni.orgUnits);
  });
});

describe('the PRNG', () => {
  it('makes RFC 4122 version-4 UUIDs', () => {
    const r = new Rng(1);
    for (let i = 0; i < 100; i++) expect(r.uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('fnr', () => {
  // Check digits worked out by hand (weights 3 7 6 1 8 9 4 5 2, then 5 4 3 2 7 6 5 4 3 2). Only
  // impossible months here, so no vector can be a real person's number.
  it.each([
    ['15829123492', true, true],    // 15 Feb 1991 (month 02 + 80)
    ['15829123493', false, false],  // second check digit wrong
    ['15829123482', false, false],  // first check digit wrong
    ['1582912349', false, false],   // too short
    ['15939123420', true, false],   // valid digits, but month 93 is outside the synthetic 81–92
  ])('%s: check digits valid %s, synthetic %s', (fnr, valid, synthetic) => {
    expect(fnrChecksumValid(fnr)).toBe(valid);
    expect(isSyntheticFnr(fnr)).toBe(synthetic);
  });

  it('makes synthetic numbers whose sex digit follows the sex', () => {
    const r = new Rng(3);
    for (let i = 0; i < 500; i++) {
      const female = i % 2 === 0;
      const f = syntheticFnr(r, new Date(Date.UTC(1950 + (i % 70), i % 12, 1 + (i % 28))), female ? 'female' : 'male');
      expect(isSyntheticFnr(f)).toBe(true);
      expect(Number(f[8]) % 2 === 0).toBe(female);
    }
  });
});

describe('people', () => {
  it('have unique idautoIDs', () => {
    expect(new Set(uni.persons.map((p) => p.idautoId)).size).toBe(uni.persons.length);
  });

  it('have unique usernames of 3 letters and 3 digits, apart from the planted duplicate', () => {
    const dup = new Set(bad(uni, 'duplicate-username'));
    const names = uni.persons.filter((p) => !dup.has(p.idautoId)).map((p) => p.username).filter((u): u is string => u !== null);
    expect(new Set(names).size).toBe(names.length);
    for (const u of names) expect(u).toMatch(/^[a-z]{3}\d{3}$/);
  });

  it('have unique mail addresses apart from the planted duplicate, by the institution conventions', () => {
    const dup = new Set(bad(uni, 'duplicate-mail'));
    const mails = uni.persons.filter((p) => !dup.has(p.idautoId)).map((p) => p.mail).filter((m): m is string => m !== null);
    expect(new Set(mails).size).toBe(mails.length);
    const okUsername = new Set([...bad(uni, 'duplicate-username'), ...bad(uni, 'missing-username')]);
    for (const p of uni.persons) {
      if (!p.mail || dup.has(p.idautoId)) continue;
      expect(p.emails).toContain(p.mail);
      if (p.affiliation === 'student' && !okUsername.has(p.idautoId)) expect(p.mail).toBe(`${p.username}@student.uni.example.no`);
      if (p.affiliation === 'employee') expect(p.mail).toMatch(/^[a-z-]+\.[a-z-]+\d*@uni\.example\.no$/);
    }
  });

  it('have synthetic national ids (valid mod 11, month 81–92), all different', () => {
    for (const p of uni.persons) {
      expect(fnrChecksumValid(p.nationalId), p.idautoId).toBe(true);
      expect(Number(p.nationalId.slice(2, 4))).toBeGreaterThanOrEqual(81);
      expect(isSyntheticFnr(p.nationalId)).toBe(true);
    }
    expect(new Set(uni.persons.map((p) => p.nationalId)).size).toBe(uni.persons.length);
  });

  it('have Norwegian names: æ, ø and å, hyphenated surnames, several given names', () => {
    const names = uni.persons.map((p) => p.displayName).join('\n');
    for (const ch of ['æ', 'ø', 'å', 'Ø', 'Å']) expect(names).toContain(ch);
    expect(uni.persons.some((p) => /^[^-]+-[^-]+$/.test(p.sn))).toBe(true);
    expect(uni.persons.some((p) => p.givenName?.includes(' '))).toBe(true);
  });

  it('have roughly the affiliations of a university', () => {
    const share = (a: string) => uni.persons.filter((p) => p.affiliation === a).length / uni.persons.length;
    expect(share('student')).toBeGreaterThan(0.75);
    expect(share('student')).toBeLessThan(0.86);
    expect(share('employee')).toBeGreaterThan(0.09);
    expect(share('employee')).toBeLessThan(0.17);
    expect(share('affiliate')).toBeGreaterThan(0.02);
    expect(share('sensor')).toBeGreaterThan(0.005);
    expect(uni.persons.some((p) => p.affiliation === 'employee' && p.affiliations.includes('student'))).toBe(true);
    for (const l of ['nb', 'nn', 'en']) expect(uni.persons.some((p) => p.preferredLanguage === l)).toBe(true);
    expect(uni.persons.some((p) => p.disabled)).toBe(true);
    expect(uni.persons.some((p) => p.requests.includes('moodle') && p.affiliation === 'affiliate')).toBe(true);
  });

  it('give employees a manager: an active employee, the unit head, up to the one at the top', () => {
    const byId = new Map(uni.persons.map((p) => [p.idautoId, p]));
    const employees = uni.persons.filter((p) => p.affiliations.includes('employee'));
    const withoutManager = employees.filter((p) => !p.managerId);
    expect(withoutManager.map((p) => p.jobTitle)).toEqual(['Universitetsdirektør']);
    for (const p of employees) {
      if (!p.managerId) continue;
      const m = byId.get(p.managerId)!;
      expect(m.affiliation).toBe('employee');
      expect(m.disabled).toBe(false);
      expect(m.idautoId).not.toBe(p.idautoId);
    }
  });

  it('carry business roles that follow their affiliations, and iam:teacher for those teaching', () => {
    const teachers = new Set(uni.masterPersons.filter((m) => m.role === 'teacher').map((m) => m.idautoId));
    for (const p of uni.persons) {
      const expected = p.disabled ? [] : [...p.affiliations.map((a) => `iam:${a}`), ...(teachers.has(p.idautoId) ? ['iam:teacher'] : [])];
      expect(p.roles).toEqual(expected);
    }
    expect(teachers.size).toBeGreaterThan(0);
  });

  it('become directory entries with the configured attribute names, leaving out what they lack', () => {
    const p = uni.persons.find((x) => x.affiliation === 'employee' && x.managerId)!;
    const e = personEntry(p, 'ou=Accounts,dc=meta');
    expect(e.dn).toBe(`idautoID=${p.idautoId},ou=Accounts,dc=meta`);
    expect(e.attributes.objectClass).toEqual(expect.arrayContaining(['idautoPerson', 'tilgangStatusHolder']));
    expect(e.attributes[A.manager]).toEqual([`idautoID=${p.managerId},ou=Accounts,dc=meta`]);
    expect(e.attributes[A.nationalId]).toEqual([p.nationalId]);
    expect(e.attributes[A.disabled]).toEqual([p.disabled ? 'TRUE' : 'FALSE']);
    const noGiven = uni.persons.find((x) => x.idautoId === bad(uni, 'missing-givenName')[0])!;
    expect(personEntry(noGiven, 'ou=x').attributes).not.toHaveProperty(A.givenName);
  });
});

describe('courses', () => {
  const [current, next] = uni.semesters;

  it('are for the current and the next semester', () => {
    expect(current).toEqual({ term: 'VÅR', year: 2026 });
    expect(next).toEqual({ term: 'HØST', year: 2026 });
    expect(nextSemester({ term: 'HØST', year: 2026 })).toEqual({ term: 'VÅR', year: 2027 });
    expect(semesterOf(new Date('2026-06-30T12:00:00Z')).term).toBe('VÅR');
    expect(semesterOf(new Date('2026-08-01T12:00:00Z')).term).toBe('HØST');
    const semesters = new Set(uni.topics.map((t) => `${t.term} ${t.year}`));
    expect([...semesters].sort()).toEqual(['HØST 2026', 'VÅR 2026']);
    expect(new Set(uni.topics.map((t) => t.emnetype))).toEqual(new Set(['EMNE', 'EKSPERTISE', 'PHD']));
  });

  it('have unique source ids institution:code:version', () => {
    expect(new Set(uni.topics.map((t) => t.sourceId)).size).toBe(uni.topics.length);
    for (const t of uni.topics) expect(t.sourceId).toBe(`${t.institution}:${t.code}:${t.version}`);
    expect(new Set(uni.topics.map((t) => t.code)).size).toBe(uni.topics.length);
  });

  it('belong to existing org units, and org units to existing parents', () => {
    const units = new Map(uni.orgUnits.map((o) => [o.stedkode, o]));
    for (const t of uni.topics) expect(units.has(t.stedkode)).toBe(true);
    for (const o of uni.orgUnits) {
      expect(o.stedkode).toMatch(/^\d{6}$/);
      if (o.parentStedkode) expect(units.get(o.parentStedkode)!.stedkode.slice(0, o.level === 'group' ? 4 : 2)).toBe(o.stedkode.slice(0, o.level === 'group' ? 4 : 2));
    }
    for (const p of uni.persons) expect(units.has(p.stedkode)).toBe(true);
  });

  it('have enrolments that reference existing, active courses and people, in the course semester', () => {
    const topics = new Map(uni.topics.map((t) => [t.sourceId, t]));
    const people = new Map(uni.persons.map((p) => [p.idautoId, p]));
    for (const m of uni.masterPersons) {
      const t = topics.get(m.sourceId);
      expect(t, m.sourceId).toBeDefined();
      expect(t!.status).toBe('active');
      expect([m.term, m.year]).toEqual([t!.term, t!.year]);
      const p = people.get(m.idautoId);
      expect(p).toBeDefined();
      expect(p!.disabled).toBe(false);
    }
    const keys = uni.masterPersons.map((m) => `${m.idautoId} ${m.sourceId} ${m.role}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('put students on 3–6 courses and teachers on 1–3 in each semester they have any', () => {
    const per = new Map<string, number>();
    for (const m of uni.masterPersons) {
      const k = `${m.idautoId} ${m.term}${m.year} ${m.role}`;
      per.set(k, (per.get(k) ?? 0) + 1);
    }
    for (const [k, n] of per) {
      if (k.endsWith('student')) expect(n).toBeGreaterThanOrEqual(3), expect(n).toBeLessThanOrEqual(6);
      else expect(n).toBeGreaterThanOrEqual(1), expect(n).toBeLessThanOrEqual(3);
    }
    const students = uni.persons.filter((p) => p.affiliations.includes('student') && !p.disabled);
    for (const s of students) expect(per.has(`${s.idautoId} ${current.term}${current.year} student`)).toBe(true);
  });
});

describe('bad records', () => {
  it('are exactly the documented plan', () => {
    const counts = Object.fromEntries(Object.keys(BAD_RECORD_PLAN).map((k) => [k, bad(uni, k as BadRecordKind).length]));
    expect(counts).toEqual(BAD_RECORD_PLAN);
    expect(new Set(uni.badRecords.map((b) => b.idautoId)).size).toBe(uni.badRecords.length);
  });

  it('have what their kind says, and only they do', () => {
    const by = new Map(uni.persons.map((p) => [p.idautoId, p]));
    expect(uni.persons.filter((p) => p.givenName === null).map((p) => p.idautoId)).toEqual(bad(uni, 'missing-givenName'));
    expect(uni.persons.filter((p) => p.mail === null).map((p) => p.idautoId)).toEqual(bad(uni, 'missing-mail'));
    expect(uni.persons.filter((p) => p.username === null).map((p) => p.idautoId)).toEqual(bad(uni, 'missing-username'));
    const [u1, u2] = bad(uni, 'duplicate-username').map((id) => by.get(id)!);
    expect(u1!.username).toBe(u2!.username);
    const [m1, m2] = bad(uni, 'duplicate-mail').map((id) => by.get(id)!);
    expect(m1!.mail).toBe(m2!.mail);
    for (const b of uni.badRecords) expect(by.get(b.idautoId)!.disabled).toBe(false);
  });

  it('are the same records for the same seed', () => {
    expect(generateUniversity({ persons: 2000, seed: 7, now }).badRecords).toEqual(uni.badRecords);
  });

  it('are all planted even in a small university', () => {
    const small = generateUniversity({ persons: 50, seed: 1, now });
    expect(small.badRecords).toHaveLength(Object.values(BAD_RECORD_PLAN).reduce((a, b) => a + b, 0));
  });
});
