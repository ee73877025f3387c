import { describe, expect, it } from 'vitest';
import { TerminalError } from '../../spi/index.js';
import { desired } from './desired.js';
import { planMoodle } from './plan.js';
import { matchAccount } from './read.js';
import { account, enrolment, moodleConfig, person } from './test-fixtures.js';
import type { Actual, MoodleAccount } from './types.js';

const cfg = moodleConfig();
const SENSITIVE = ['idautoPersonNationalID', 'userPassword'];
const INF100 = '1120:INF100:1:2026:HØST';
const INF200 = '1120:INF200:1:2026:HØST';
const INF300 = '1120:INF300:1:2026:HØST';

const actual = (a: MoodleAccount | null, more: Partial<Actual> = {}): Actual => ({ account: a, enrolled: [], courses: {}, ...more });
const kinds = (p: { operations: { kind: string }[] }) => p.operations.map((o) => o.kind);

describe('plan: the account', () => {
  it('creates only when entitled, with every desired field', () => {
    const p = planMoodle(desired(person(), cfg), actual(null), cfg, SENSITIVE);
    expect(kinds(p)).toEqual(['create']);
    expect(p.operations[0]!.changes!.map((c) => c.attribute)).toEqual(['username', 'email', 'firstname', 'lastname', 'auth', 'idnumber', 'department', 'institution', 'profile_field_studentid']);
    expect(p.operations[0]!.payload).toMatchObject({ action: 'create', user: { username: 'abc123', studentId: '512345' } });
    expect(planMoodle(null, actual(null), cfg, SENSITIVE)).toEqual({ operations: [], skipReason: 'not entitled to Moodle and no Moodle account' });
  });

  it('is unchanged when everything matches', () => {
    expect(planMoodle(desired(person(), cfg), actual(account()), cfg, SENSITIVE)).toEqual({ operations: [], accountId: '42' });
  });

  it.each<[string, Record<string, string[]>, object, Partial<MoodleAccount>?]>([
    ['username', { idautoPersonUserNameMV: ['xyz789'] }, { username: 'xyz789' }],
    ['email', { mail: ['ny@uni.example.no'] }, { email: 'ny@uni.example.no' }],
    ['idnumber', {}, { idnumber: '7d1c0c2e-5d7a-4f7e-9a51-0b6f8d1e2a3b' }, { idnumber: '' }],
    ['profile_field_studentid', { idautoPersonStuID: ['599999'] }, { customfields: [{ type: 'studentid', value: '599999' }] }],
  ])('updates only %s when only it differs', (attribute, attrs, fields, accountOver = {}) => {
    const p = planMoodle(desired(person({ attrs }), cfg), actual(account(accountOver)), cfg, SENSITIVE);
    expect(kinds(p)).toEqual(['update']);
    expect(p.operations[0]!.changes!.map((c) => c.attribute)).toEqual([attribute]);
    expect(p.operations[0]!.payload).toEqual({ action: 'update', userid: 42, fields });
  });

  it.each([
    ['department', { department: 'Gammel avdeling' }, { department: 'Institutt for informatikk' }],
    ['institution', { institution: '' }, { institution: '1120' }],
    ['auth', { auth: 'manual' }, { auth: 'saml2' }],
  ])('updates %s from the account\'s drift', (attribute, accountOver, fields) => {
    const p = planMoodle(desired(person(), cfg), actual(account(accountOver)), cfg, SENSITIVE);
    expect(p.operations.map((o) => [o.kind, o.changes!.map((c) => c.attribute)])).toEqual([['update', [attribute]]]);
    expect(p.operations[0]!.payload).toEqual({ action: 'update', userid: 42, fields });
  });

  it('sends both names when the fullname differs (Moodle shows only fullname to the web-service user)', () => {
    const p = planMoodle(desired(person({ attrs: { sn: ['Nyquist'] } }), cfg), actual(account()), cfg, SENSITIVE);
    expect(p.operations[0]!.payload).toEqual({ action: 'update', userid: 42, fields: { firstname: 'Åse Marit', lastname: 'Nyquist' } });
  });

  it.each([
    ['firstname', { givenName: ['Åse'] }, { firstname: 'Åse' }],
    ['lastname', { sn: ['Nyquist'] }, { lastname: 'Nyquist' }],
  ])('updates only %s when Moodle shows the names apart', (attribute, attrs, fields) => {
    const p = planMoodle(desired(person({ attrs }), cfg), actual(account({ firstname: 'Åse Marit', lastname: 'Ødegård' })), cfg, SENSITIVE);
    expect(p.operations[0]!.changes!.map((c) => c.attribute)).toEqual([attribute]);
    expect(p.operations[0]!.payload).toEqual({ action: 'update', userid: 42, fields });
  });

  it('never sends what is configured away', () => {
    const c = moodleConfig({ department: null, attributes: { idnumber: null }, heldBy: { institution: null, studentIdField: null } });
    const p = planMoodle(desired(person(), c), actual(account({ department: 'x', idnumber: '', institution: 'y', profile: {} })), c, SENSITIVE);
    expect(p.operations).toEqual([]);
  });

  it('redacts values whose source attribute is sensitive', () => {
    const c = moodleConfig({ attributes: { idnumber: 'idautoPersonNationalID' } });
    const p = planMoodle(desired(person(), c), actual(null), c, SENSITIVE);
    expect(p.operations[0]!.changes!.find((x) => x.attribute === 'idnumber')).toEqual({ attribute: 'idnumber', from: null, to: '[redacted]' });
    expect(JSON.stringify(p.operations.map((o) => o.changes))).not.toContain('01810012345');
  });

  it('suspends when no longer entitled (destructive), and leaves a suspended account and its enrolments alone', () => {
    const p = planMoodle(null, actual(account(), { enrolled: [{ id: 7, idnumber: INF100 }] }), cfg, SENSITIVE);
    expect(p.operations).toEqual([expect.objectContaining({ kind: 'disable', destructive: true, payload: { action: 'update', userid: 42, fields: { suspended: true } } })]);
    expect(planMoodle(null, actual(account({ suspended: true })), cfg, SENSITIVE)).toEqual({ operations: [], accountId: '42' });
  });

  it('unsuspends when entitled again, with any update beside it; never deletes', () => {
    const p = planMoodle(desired(person({ attrs: { mail: ['ny@uni.example.no'] } }), cfg), actual(account({ suspended: true })), cfg, SENSITIVE);
    expect(kinds(p)).toEqual(['update', 'enable']);
    expect(p.operations[1]).toMatchObject({ payload: { action: 'update', userid: 42, fields: { suspended: false } } });
    expect(p.operations.some((o) => o.destructive)).toBe(false);
  });
});

describe('plan: enrolments', () => {
  const withCourses = (codes: [string, 'student' | 'teacher'][]) => person({ mv: { enrolments: codes.map(([c, r]) => enrolment(c, r)) } });

  it('enrols in the difference with the role from MV, and unenrols only from managed courses MV no longer lists', () => {
    const d = desired(withCourses([['INF100', 'student'], ['INF200', 'teacher']]), cfg);
    const a = actual(account(), {
      enrolled: [{ id: 11, idnumber: INF100 }, { id: 13, idnumber: INF300 }],
      courses: { [INF200]: 12 },
    });
    const p = planMoodle(d, a, cfg, SENSITIVE);
    expect(p.operations.map((o) => [o.kind, o.counter, o.detail, o.destructive ?? false])).toEqual([
      ['enrol', 'coursesAdded', `enrol in ${INF200} as teacher`, false],
      ['unenrol', 'coursesRemoved', `unenrol from ${INF300}`, true],
    ]);
    expect(p.operations[0]!.payload).toEqual({ action: 'enrol', userid: 42, courseid: 12, roleid: 3, course: INF200 });
    expect(p.operations[1]!.payload).toEqual({ action: 'unenrol', userid: 42, courseid: 13, course: INF300 });
  });

  it('enrols a new account in its courses after creating it', () => {
    const p = planMoodle(desired(withCourses([['INF100', 'student']]), cfg), actual(null, { courses: { [INF100]: 11 } }), cfg, SENSITIVE);
    expect(kinds(p)).toEqual(['create', 'enrol']);
    expect(p.operations[1]!.payload).toEqual({ action: 'enrol', courseid: 11, roleid: 5, course: INF100 });
  });

  it('enrols in both roles when MV gives both, and counts a course with any role as enrolled', () => {
    const d = desired(withCourses([['INF100', 'student'], ['INF100', 'teacher']]), cfg);
    expect(planMoodle(d, actual(account(), { courses: { [INF100]: 11 } }), cfg, SENSITIVE).operations.map((o) => o.payload)).toEqual([
      { action: 'enrol', userid: 42, courseid: 11, roleid: 5, course: INF100 },
      { action: 'enrol', userid: 42, courseid: 11, roleid: 3, course: INF100 },
    ]);
    expect(planMoodle(d, actual(account(), { enrolled: [{ id: 11, idnumber: INF100 }] }), cfg, SENSITIVE).operations).toEqual([]);
  });

  it('reports a course not in Moodle yet: in a skipped operation beside real work, or as the skip reason alone', () => {
    const d = desired(withCourses([['INF100', 'student'], ['INF200', 'student']]), cfg);
    const beside = planMoodle(d, actual(account(), { courses: { [INF100]: 11, [INF200]: null } }), cfg, SENSITIVE);
    expect(beside.operations.map((o) => [o.kind, o.detail, o.counter])).toEqual([
      ['enrol', `enrol in ${INF100} as student`, 'coursesAdded'],
      ['enrol', `not enrolled in ${INF200} as student: the course is not in Moodle yet`, undefined],
    ]);
    expect(beside.operations[1]!.payload).toEqual({ action: 'wait', course: INF200 });
    const alone = planMoodle(d, actual(account(), { enrolled: [{ id: 11, idnumber: INF100 }], courses: { [INF200]: null } }), cfg, SENSITIVE);
    expect(alone).toEqual({ operations: [], accountId: '42', skipReason: `course not in Moodle yet: ${INF200} as student` });
  });

  it('touches no enrolment when MV does not know the person', () => {
    // Nor the department: MV names it.
    const p = planMoodle(desired(person({ mv: null }), cfg), actual(account({ department: 'x' }), { enrolled: [{ id: 13, idnumber: INF300 }] }), cfg, SENSITIVE);
    expect(p).toEqual({ operations: [], accountId: '42' });
  });
});

describe('matching the existing account', () => {
  const id = { username: 'abc123', idnumber: 'P1', email: 'a@x' };
  const all = ['username', 'idnumber', 'email'] as const;

  it.each([
    ['none', {}, null],
    ['by username', { username: [account({ id: 1, idnumber: 'P1' })] }, 1],
    ['by idnumber after a rename', { idnumber: [account({ id: 2, username: 'old', idnumber: 'P1' })] }, 2],
    ['the same account by all three', { username: [account({ id: 3, idnumber: 'P1' })], idnumber: [account({ id: 3, idnumber: 'P1' })], email: [account({ id: 3, idnumber: 'P1' })] }, 3],
    ['by username, idnumber empty in Moodle', { username: [account({ id: 4, idnumber: '' })] }, 4],
  ])('%s', (_what, found, want) => {
    expect(matchAccount('p', id, found, all)?.id ?? null).toBe(want);
  });

  it.each([
    ['two accounts: username and idnumber', { username: [account({ id: 1, username: 'abc123', idnumber: '' })], idnumber: [account({ id: 2, username: 'old', idnumber: 'P1' })] }, 'duplicate', /2 Moodle accounts match by username\/idnumber: abc123 \(id 1\) by username and old \(id 2\) by idnumber/],
    ['two accounts with one idnumber', { idnumber: [account({ id: 1, username: 'a', idnumber: 'P1' }), account({ id: 2, username: 'b', idnumber: 'P1' })] }, 'duplicate', /a \(id 1\) by idnumber and b \(id 2\) by idnumber/],
    ['the username carries another person\'s idnumber', { username: [account({ id: 1, idnumber: 'P2' })] }, 'conflict', /abc123 \(id 1\) matches by username but carries another person's idnumber/],
    ['the e-mail is another username\'s', { email: [account({ id: 5, username: 'other', idnumber: '' })] }, 'conflict', /e-mail address is held by the Moodle account other \(id 5\)/],
  ])('%s is an error naming the accounts', (_what, found, code, message) => {
    let err: unknown;
    try { matchAccount('person-1', id, found, all); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TerminalError);
    expect(err).toMatchObject({ code });
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain('person-1');
    expect((err as Error).message).not.toContain('P1');
  });

  it('ignores fields not configured for matching', () => {
    expect(matchAccount('p', id, { email: [account({ id: 5, username: 'other' })] }, ['username'])).toBeNull();
  });
});

describe('plan: roles inside a course, and semesters in scope', () => {
  const PAST = '1120:INF050:1:2026:VÅR';
  const withCourses = (enrolments: ReturnType<typeof enrolment>[]) => desired(person({ mv: { enrolments } }), cfg);

  it('gives the role MV says and then takes the managed role it no longer gives; other roles stay', () => {
    const p = planMoodle(withCourses([enrolment('INF100', 'teacher')]),
      actual(account(), { enrolled: [{ id: 11, idnumber: INF100, roles: [5, 4] }] }), cfg, SENSITIVE);
    expect(p.operations.map((o) => [o.kind, o.counter, o.destructive ?? false, o.payload])).toEqual([
      ['role', 'rolesChanged', false, { action: 'enrol', userid: 42, courseid: 11, roleid: 3, course: INF100 }],
      ['role', 'rolesChanged', true, { action: 'unassign', userid: 42, courseid: 11, roleid: 5, course: INF100 }],
    ]);
  });

  it('changes nothing when the roles are right, or not read (a course only listed)', () => {
    expect(planMoodle(withCourses([enrolment('INF100', 'student'), enrolment('INF100', 'teacher')]),
      actual(account(), { enrolled: [{ id: 11, idnumber: INF100, roles: [3, 5] }] }), cfg, SENSITIVE).operations).toEqual([]);
    expect(planMoodle(withCourses([enrolment('INF100', 'teacher')]),
      actual(account(), { enrolled: [{ id: 11, idnumber: INF100 }] }), cfg, SENSITIVE).operations).toEqual([]);
  });

  it('neither enrols into nor unenrols from a course of a semester before the one in scope', () => {
    const from = { year: 2026, term: 'HØST' as const };
    const p = planMoodle(withCourses([enrolment('INF050', 'student', 2026, 'VÅR'), enrolment('INF100', 'student')]),
      actual(account(), { enrolled: [{ id: 7, idnumber: PAST, roles: [4] }], courses: { [INF100]: 11, [PAST]: 7 }, from }), cfg, SENSITIVE);
    expect(p.operations.map((o) => o.detail)).toEqual([`enrol in ${INF100} as student`]);
    const leaver = planMoodle(withCourses([]), actual(account(), { enrolled: [{ id: 7, idnumber: PAST }], from }), cfg, SENSITIVE);
    expect(leaver.operations).toEqual([]);
  });
});
