import { describe, expect, it } from 'vitest';
import { TerminalError } from '../../spi/index.js';
import { courseIdnumber, isManagedCourse, parseCourseIdnumber } from './course-id.js';
import { desired, identity } from './desired.js';
import { enrolment, moodleConfig, person } from './test-fixtures.js';

describe('course idnumber', () => {
  it.each([
    [{ sourceId: '1120:INF100:1', year: 2026, term: 'HØST' as const }, '1120:INF100:1:2026:HØST'],
    [{ sourceId: '1120:MAT-INF1100:2', year: 2027, term: 'VÅR' as const }, '1120:MAT-INF1100:2:2027:VÅR'],
  ])('%o → %s and back', (key, idnumber) => {
    expect(courseIdnumber(key)).toBe(idnumber);
    expect(parseCourseIdnumber(idnumber)).toEqual(key);
  });

  it.each([
    ['TEMPLATE-101', false], ['', false], [null, false], ['INF100-2026-HØST', false], ['1120:INF100:1:2026:SOMMER', false],
    ['1120:INF100:1:2026:HØST', true], ['1120:INF100:1:2026:HOST', false],
    // Typed by hand in Moodle with a decomposed Å (A + combining ring): still ours.
    ['1120:INF100:1:2026:VA\u030aR', true],
  ])('managed(%s) = %s', (idnumber, managed) => {
    expect(isManagedCourse(idnumber)).toBe(managed);
  });

  it('refuses what is not a source id, year or term', () => {
    expect(() => courseIdnumber({ sourceId: 'INF100', year: 2026, term: 'HØST' })).toThrow(/source id/);
    expect(() => courseIdnumber({ sourceId: '1120:INF100:1', year: 26, term: 'HØST' })).toThrow(/year/);
  });
});

describe('desired Moodle account', () => {
  const cfg = moodleConfig();

  it('maps the seed\'s fields: username, email, idnumber, names, department, institution and student id', () => {
    const d = desired(person(), cfg);
    expect(d!.user).toEqual({
      username: 'abc123', email: 'abc123@student.uni.example.no', firstname: 'Åse Marit', lastname: 'Ødegård', auth: 'saml2',
      idnumber: '7d1c0c2e-5d7a-4f7e-9a51-0b6f8d1e2a3b', department: 'Institutt for informatikk', institution: '1120', studentId: '512345',
    });
  });

  it('drops every attribute that must not go to Moodle', () => {
    const d = desired(person({ attrs: { idautoPersonHRID: ['1234567'], manager: ['idautoID=x,dc=meta'], userPassword: ['hemmelig'] } }), cfg);
    const text = JSON.stringify(d);
    for (const v of ['01810012345', '1234567', 'idautoID=x', 'hemmelig']) expect(text).not.toContain(v);
  });

  it('is null when the person is not entitled (but the identity still finds the account)', () => {
    const p = person({ entitled: false });
    expect(desired(p, cfg)).toBeNull();
    expect(identity(p, cfg)).toEqual({ username: 'abc123', idnumber: p.id, email: 'abc123@student.uni.example.no' });
  });

  it.each([
    ['ABC123', 'abc123'],
    ['  Kari.Nordmann@uni  ', 'kari.nordmann@uni'],
  ])('lowercases and trims the username %j', (raw, want) => {
    expect(desired(person({ attrs: { idautoPersonUserNameMV: [raw] } }), cfg)!.user.username).toBe(want);
  });

  it('refuses a username Moodle would refuse, naming the field', () => {
    let err: unknown;
    try { desired(person({ attrs: { idautoPersonUserNameMV: ['åse'] } }), cfg); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TerminalError);
    expect(err).toMatchObject({ code: 'invalid-username', field: 'username' });
    expect((err as Error).message).toContain('7d1c0c2e');
  });

  it('takes the username from the configured key field (uh-username)', () => {
    const c = moodleConfig({ attributes: { username: 'idautoPersonUHUserName' } });
    expect(desired(person({ attrs: { idautoPersonUHUserName: ['uh-777'] } }), c)!.user.username).toBe('uh-777');
  });

  it('leaves fields alone that are configured away (null), and the department when MV does not know the person', () => {
    const c = moodleConfig({ attributes: { idnumber: null, studentId: null }, department: null, heldBy: { institution: null, studentIdField: null } });
    expect(desired(person(), c)!.user).toEqual({ username: 'abc123', email: 'abc123@student.uni.example.no', firstname: 'Åse Marit', lastname: 'Ødegård', auth: 'saml2' });
    expect(desired(person({ mv: null }), cfg)!.user.department).toBeUndefined();
    expect(desired(person({ mv: { orgUnits: [] } }), cfg)!.user.department).toBe('');
    expect(desired(person(), moodleConfig({ department: 'shortName' }))!.user.department).toBe('II');
  });

  it('computes the courses from MV: student → student role, teacher → teacher role, one per course and role', () => {
    const p = person({ mv: { enrolments: [enrolment('INF100', 'student'), enrolment('INF100', 'student'), enrolment('INF200', 'teacher'), enrolment('INF100', 'student', 2027, 'VÅR')] } });
    expect(desired(p, cfg)!.enrolments).toEqual([
      { course: '1120:INF100:1:2026:HØST', role: 'student', roleid: 5 },
      { course: '1120:INF100:1:2027:VÅR', role: 'student', roleid: 5 },
      { course: '1120:INF200:1:2026:HØST', role: 'teacher', roleid: 3 },
    ]);
    expect(desired(p, moodleConfig({ roles: { student: 15, teacher: 14 } }))!.enrolments!.map((e) => e.roleid)).toEqual([15, 15, 14]);
  });

  it('knows no courses without MV data or with enrolments turned off (so nothing is unenrolled)', () => {
    expect(desired(person({ mv: null }), cfg)!.enrolments).toBeUndefined();
    expect(desired(person(), moodleConfig({ enrolments: false }))!.enrolments).toBeUndefined();
    expect(desired(person(), cfg)!.enrolments).toEqual([]);
  });
});

describe('what Moodle would refuse, refused before anything is sent', () => {
  const cfg = moodleConfig();
  const refusal = (attrs: Record<string, string[]>): TerminalError => {
    try {
      desired(person({ attrs }), cfg);
    } catch (e) {
      expect(e).toBeInstanceOf(TerminalError);
      return e as TerminalError;
    }
    throw new Error('expected a refusal');
  };

  it.each([
    ['givenName', 'firstname', 'Å'.repeat(101), 'is 101 characters long; Moodle allows at most 100'],
    ['sn', 'lastname', 'x'.repeat(120), 'is 120 characters long; Moodle allows at most 100'],
    ['mail', 'email', `${'m'.repeat(60)}@${'d'.repeat(28)}.example.com`, 'is 101 characters long; Moodle allows at most 100'],
    ['idautoPersonUserNameMV', 'username', 'u'.repeat(101), 'is 101 characters long; Moodle allows at most 100'],
    ['mail', 'email', 'ikke-en-adresse', 'is not an address Moodle accepts'],
    ['mail', 'email', 'åse@uni.example.no', 'is not an address Moodle accepts'],
    ['givenName', 'firstname', 'Bob <b>the</b>', 'contains markup'],
  ])('%s → %s: %s', (attr, field, v, why) => {
    const e = refusal({ [attr]: [v] });
    expect(e.field).toBe(field);
    expect(e.code).toBe('invalid-value');
    expect(e.message).toContain(`person 7d1c0c2e-5d7a-4f7e-9a51-0b6f8d1e2a3b, target moodle: ${field} ${why}`);
    // The value itself is not in the error.
    expect(e.message).not.toContain(v);
  });

  it('accepts exactly the limits, counted in characters (100 × Ø is 200 bytes)', () => {
    expect(desired(person({ attrs: { givenName: ['Ø'.repeat(100)], sn: ['x'.repeat(100)] } }), cfg)!.user.firstname).toHaveLength(100);
  });

  it('does not hold a leaver to the limits: they are only found and suspended', () => {
    expect(desired(person({ entitled: false, attrs: { givenName: ['x'.repeat(300)] } }), cfg)).toBeNull();
  });
});
