/**
 * Behaviour the Moodle target relies on beyond the recordings: batch rollback, per-user update
 * transactions, uniqueness rules, enrolment semantics, persistence across a restart, the latency
 * model's worker pool, and the client's error mapping (MoodleError / MoodleTransientError).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  flattenParams, MoodleClient, MoodleError, MoodleTransientError,
  type MoodleCoursesResult, type MoodleCreatedUser, type MoodleUpdateResult, type MoodleUser, type MoodleUserCourse,
} from '../client.js';
import { startMoodleSimulator, type MoodleSimulator } from './index.js';

const TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

function newUser(username: string, extra: Record<string, string | number> = {}): Record<string, string | number> {
  return { username, password: 'Secret#123', firstname: 'Test', lastname: username, email: `${username}@example.org`, ...extra };
}

async function expectMoodleError(p: Promise<unknown>, errorcode: string, debuginfo?: string | RegExp): Promise<MoodleError> {
  const e = await p.then(() => { throw new Error('expected a MoodleError'); }, (x: unknown) => x);
  expect(e).toBeInstanceOf(MoodleError);
  const err = e as MoodleError;
  expect(err.errorcode).toBe(errorcode);
  if (debuginfo !== undefined) {
    if (typeof debuginfo === 'string') expect(err.debuginfo).toBe(debuginfo);
    else expect(err.debuginfo).toMatch(debuginfo);
  }
  return err;
}

describe('Moodle simulator behaviour', () => {
  let sim: MoodleSimulator;
  let moodle: MoodleClient;

  beforeAll(async () => {
    sim = await startMoodleSimulator({ token: TOKEN, debug: 'developer' });
    moodle = new MoodleClient({ url: sim.url, token: TOKEN, connections: 2 });
  });
  afterAll(async () => {
    await moodle.close();
    await sim.close();
  });
  beforeEach(() => sim.reset());

  const byUsername = (u: string): Promise<MoodleUser[]> =>
    moodle.call<MoodleUser[]>('core_user_get_users_by_field', { field: 'username', values: [u] });

  describe('batch transactions', () => {
    it('create_users: one bad user rolls the whole batch back, and the ids it used stay used', async () => {
      const [a] = await moodle.call<MoodleCreatedUser[]>('core_user_create_users', { users: [newUser('anna')] });
      expect(a!.id).toBe(4);
      await expectMoodleError(moodle.call('core_user_create_users', {
        users: [newUser('bert'), newUser('carl'), newUser('anna', { email: 'other@example.org' })],
      }), 'invalidparameter', 'Username already exists: anna');
      expect(await byUsername('bert')).toEqual([]);
      expect(await byUsername('carl')).toEqual([]);
      // PostgreSQL sequences are not transactional: bert (5) and carl (6) burnt their ids.
      const [d] = await moodle.call<MoodleCreatedUser[]>('core_user_create_users', { users: [newUser('dora')] });
      expect(d!.id).toBe(7);
    });

    it('create_users: a duplicate inside the same batch fails the batch (the first copy was already inserted)', async () => {
      await expectMoodleError(moodle.call('core_user_create_users', {
        users: [newUser('eve'), newUser('eve', { email: 'eve2@example.org' })],
      }), 'invalidparameter', 'Username already exists: eve');
      expect(await byUsername('eve')).toEqual([]);
    });

    it('enrol_users: a bad enrolment rolls back the good ones before it', async () => {
      await moodle.call('core_user_create_users', { users: [newUser('fred'), newUser('gina')] });
      await expectMoodleError(moodle.call('enrol_manual_enrol_users', {
        enrolments: [
          { roleid: 5, userid: 4, courseid: 2 },
          { roleid: 5, userid: 5, courseid: 2 },
          { roleid: 5, userid: 999, courseid: 2 },
        ],
      }), 'TypeError');
      const courses = await moodle.call<MoodleUserCourse[]>('core_enrol_get_users_courses', { userid: 4 });
      expect(courses).toEqual([]);
      expect(sim.snapshot().enrolments).toEqual([]);
    });

    it('create_courses and create_categories are all-or-nothing', async () => {
      await expectMoodleError(moodle.call('core_course_create_courses', {
        courses: [
          { fullname: 'One', shortname: 'ONE', categoryid: 1 },
          { fullname: 'Two', shortname: 'TEMPLATE-101', categoryid: 1 },
        ],
      }), 'shortnametaken');
      const r = await moodle.call<MoodleCoursesResult>('core_course_get_courses_by_field', { field: 'shortname', value: 'ONE' });
      expect(r.courses).toEqual([]);

      await expectMoodleError(moodle.call('core_course_create_categories', {
        categories: [{ name: 'A', idnumber: 'CAT-A' }, { name: 'B', idnumber: 'TEMPLATES' }],
      }), 'categoryidnumbertaken');
      expect(sim.snapshot().categories.map((c) => c.idnumber)).toEqual([null, 'TEMPLATES']);
    });

    it('update_users: each user has its own transaction; a failing user becomes a warning and keeps nothing', async () => {
      await moodle.call('core_user_create_users', { users: [newUser('hans'), newUser('ida')] });
      const r = await moodle.call<MoodleUpdateResult>('core_user_update_users', {
        users: [
          { id: 4, firstname: 'Hansi', suspended: true },
          { id: 5, firstname: 'Ida-Changed', username: 'hans' },
          { id: 4242, suspended: true },
        ],
      });
      expect(r.warnings).toEqual([
        { item: 'user', itemid: 5, warningcode: 'dmlwriteexception', message: 'Error writing to database' },
        { item: 'user', itemid: 4242, warningcode: 'invaliduserid', message: 'Invalid user ID' },
      ]);
      const users = sim.snapshot().users;
      expect(users.find((u) => u.id === 4)).toMatchObject({ firstname: 'Hansi', suspended: 1 });
      expect(users.find((u) => u.id === 5)).toMatchObject({ firstname: 'Test', username: 'ida' });
    });
  });

  describe('Moodle rules', () => {
    it('rejects upper-case usernames at validation and accepts a repeated idnumber', async () => {
      await expectMoodleError(moodle.call('core_user_create_users', { users: [newUser('Jane')] }), 'invalidparameter',
        'users => Invalid parameter value detected: username => Invalid parameter value detected: '
        + 'Invalid external api parameter: the value is "Jane", the server was expecting "username" type');
      await moodle.call('core_user_create_users', {
        users: [newUser('jane', { idnumber: 'P-1' }), newUser('jane2', { idnumber: 'P-1' })],
      });
      const same = await moodle.call<MoodleUser[]>('core_user_get_users_by_field', { field: 'idnumber', values: ['P-1'] });
      expect(same.map((u) => u.username)).toEqual(['jane', 'jane2']);
    });

    it('email: invalid and case-insensitive duplicates are refused; external auth needs no password', async () => {
      await expectMoodleError(moodle.call('core_user_create_users', { users: [newUser('kim', { email: 'kim@' })] }),
        'invalidparameter', 'Email address is invalid: kim@');
      await moodle.call('core_user_create_users', { users: [newUser('kim')] });
      await expectMoodleError(moodle.call('core_user_create_users', { users: [newUser('kim2', { email: 'KIM@example.org' })] }),
        'invalidparameter', 'Email address already exists: KIM@example.org');
      const [sso] = await moodle.call<MoodleCreatedUser[]>('core_user_create_users', {
        users: [{ username: 'sso.user', firstname: 'S', lastname: 'O', email: 'sso@example.org', auth: 'saml2' }],
      });
      const [u] = await moodle.call<MoodleUser[]>('core_user_get_users_by_field', { field: 'id', values: [sso!.id] });
      expect(u).toMatchObject({ auth: 'saml2', suspended: false });
      await expectMoodleError(moodle.call('core_user_create_users', { users: [newUser('x1', { auth: 'nosuchauth' })] }),
        'invalidparameter', /the server was expecting "auth" type/);
    });

    it('unknown top-level parameters and bad ints fail the whole call', async () => {
      await expectMoodleError(moodle.call('core_user_get_users_by_field', { field: 'id', values: [1], extra: 1 }),
        'invalidparameter', 'Unexpected keys (extra) detected in parameter array.');
      await expectMoodleError(moodle.call('enrol_manual_enrol_users', { enrolments: [{ roleid: '5x', userid: 1, courseid: 2 }] }),
        'invalidparameter', /the value is "5x", the server was expecting "int" type/);
    });

    it('enrolment: same role is idempotent, another role adds, suspend hides, unenrol removes all and is idempotent', async () => {
      await moodle.call('core_user_create_users', { users: [newUser('lena')] });
      const course = { courseid: 2, userid: 4 };
      await moodle.call('enrol_manual_enrol_users', { enrolments: [{ ...course, roleid: 5 }] });
      await moodle.call('enrol_manual_enrol_users', { enrolments: [{ ...course, roleid: 5 }] });
      await moodle.call('enrol_manual_enrol_users', { enrolments: [{ ...course, roleid: 4 }] });
      expect(sim.snapshot().enrolments).toMatchObject([{ courseid: 2, userid: 4, roles: [5, 4], status: 0 }]);
      // Course 2 is hidden: a non-editing teacher (4) sees it, a student alone would not.
      expect((await moodle.call<MoodleUserCourse[]>('core_enrol_get_users_courses', { userid: 4 })).map((c) => c.id)).toEqual([2]);
      await moodle.call('enrol_manual_enrol_users', { enrolments: [{ ...course, roleid: 5, suspend: 1 }] });
      expect(await moodle.call('core_enrol_get_users_courses', { userid: 4 })).toEqual([]);
      await moodle.call('enrol_manual_unenrol_users', { enrolments: [course] });
      await moodle.call('enrol_manual_unenrol_users', { enrolments: [course] });
      expect(sim.snapshot().enrolments).toEqual([]);
      await expectMoodleError(moodle.call('enrol_manual_unenrol_users', { enrolments: [{ courseid: 2, userid: 999 }] }),
        'invalidparameter', 'User id not exist: 999');
      await expectMoodleError(moodle.call('enrol_manual_enrol_users', { enrolments: [{ courseid: 1, userid: 4, roleid: 5 }] }),
        'wsnoinstance');
    });

    it('courses: idnumber unique, new course listed first in its category, import is not idempotent', async () => {
      const [c1] = await moodle.call<{ id: number }[]>('core_course_create_courses', {
        courses: [{ fullname: 'First', shortname: 'F1', categoryid: 2, idnumber: 'ID-1' }],
      });
      await expectMoodleError(moodle.call('core_course_create_courses', {
        courses: [{ fullname: 'Other', shortname: 'F2', categoryid: 2, idnumber: 'ID-1' }],
      }), 'courseidnumbertaken');
      const r = await moodle.call<{ courses: { id: number; sortorder: number }[] }>('core_course_get_courses_by_field',
        { field: 'category', value: '2' });
      expect(r.courses.map((c) => [c.id, c.sortorder])).toEqual([[2, 20002], [c1!.id, 20001]]);

      const modules = (): string[] => sim.snapshot().modules.filter((m) => m.courseid === c1!.id).map((m) => m.name);
      expect(modules()).toEqual(['Announcements']);
      await moodle.call('core_course_import_course', { importfrom: 2, importto: c1!.id });
      await moodle.call('core_course_import_course', { importfrom: 2, importto: c1!.id });
      expect(modules()).toHaveLength(7);
      await moodle.call('core_course_import_course', { importfrom: 2, importto: c1!.id, deletecontent: 1 });
      expect(modules()).toEqual(['Announcements', 'Welcome page', 'Discussion forum']);
    });

    it('update_courses: each course on its own, a refused one a warning with Moodle\'s error code; idnumber and shortname stay unique', async () => {
      const made = await moodle.call<{ id: number }[]>('core_course_create_courses', {
        courses: [{ fullname: 'A', shortname: 'UA', categoryid: 2 }, { fullname: 'B', shortname: 'UB', categoryid: 2, idnumber: 'ID-B' }],
      });
      const [a, b] = made.map((c) => c.id) as [number, number];
      const r = await moodle.call<{ warnings: { item: string; itemid: number; warningcode: string; message: string }[] }>('core_course_update_courses', {
        courses: [
          { id: a, fullname: 'A renamed', idnumber: 'ID-A', startdate: 1000, enddate: 2000 },
          { id: b, idnumber: 'ID-A' },
          { id: b, shortname: 'UA' },
          { id: 999999, fullname: 'nobody' },
          { id: b, startdate: 2000, enddate: 1000 },
        ],
      });
      expect(r.warnings).toEqual([
        { item: 'course', itemid: b, warningcode: 'courseidnumbertaken', message: 'ID number is already used for another course (ID-A)' },
        { item: 'course', itemid: b, warningcode: 'shortnametaken', message: 'Short name is already used for another course (UA)' },
        { item: 'course', itemid: 999999, warningcode: 'invalidrecord', message: "Can't find data record in database table course." },
        { item: 'course', itemid: b, warningcode: 'enddatebeforestartdate', message: 'The course end date must be after the start date.' },
      ]);
      const byIdnumber = await moodle.call<{ courses: { id: number; fullname: string; startdate: number; enddate: number }[] }>('core_course_get_courses_by_field', { field: 'idnumber', value: 'ID-A' });
      expect(byIdnumber.courses.map((c) => [c.id, c.fullname, c.startdate, c.enddate])).toEqual([[a, 'A renamed', 1000, 2000]]);
      expect(sim.snapshot().courses.find((c) => c.id === b)).toMatchObject({ shortname: 'UB', idnumber: 'ID-B', startdate: 0 });
    });

    it('categories: names are not unique, idnumbers are; subcategories come with addsubcategories', async () => {
      const [a] = await moodle.call<{ id: number }[]>('core_course_create_categories', { categories: [{ name: 'Faculty' }] });
      const [b] = await moodle.call<{ id: number }[]>('core_course_create_categories', { categories: [{ name: 'Faculty' }] });
      expect(b!.id).toBe(a!.id + 1);
      await moodle.call('core_course_create_categories', { categories: [{ name: 'Dept', parent: a!.id, idnumber: 'D1' }] });
      const withSubs = await moodle.call<{ name: string; path: string }[]>('core_course_get_categories',
        { criteria: [{ key: 'id', value: String(a!.id) }] });
      expect(withSubs.map((c) => c.name)).toEqual(['Faculty', 'Dept']);
      const exact = await moodle.call<unknown[]>('core_course_get_categories',
        { criteria: [{ key: 'id', value: String(a!.id) }], addsubcategories: false });
      expect(exact).toHaveLength(1);
    });
  });

  describe('what a real Moodle 4.5 does that a kind simulator would not', () => {
    const ssoUser = (username: string, extra: Record<string, string> = {}): Record<string, string> =>
      ({ username, auth: 'saml2', firstname: 'S', lastname: 'O', email: `${username}@example.org`, ...extra });

    it('shows a course idnumber only to a token user holding moodle/course:update, and still finds by it', async () => {
      const lookup = async (): Promise<MoodleCoursesResult> =>
        moodle.call<MoodleCoursesResult>('core_course_get_courses_by_field', { field: 'idnumber', value: 'TEMPLATE-101' });
      expect((await lookup()).courses[0]).toMatchObject({ id: 2, idnumber: 'TEMPLATE-101' });
      sim.setCapability('moodle/course:update', false);
      const [course] = (await lookup()).courses;
      expect(course?.id).toBe(2);
      expect(course).not.toHaveProperty('idnumber');
      expect(course).not.toHaveProperty('timecreated');
    });

    it('refuses a name longer than its column (counting characters) and rolls the whole batch back', async () => {
      const ninetyNine = 'Æ'.repeat(99);
      await moodle.call('core_user_create_users', { users: [ssoUser('ok100', { firstname: `${ninetyNine}x` })] });
      const e = await expectMoodleError(moodle.call('core_user_create_users', {
        users: [ssoUser('first.of.two'), ssoUser('long.last', { lastname: `${ninetyNine}xy` })],
      }), 'dmlwriteexception', /^ERROR: {2}value too long for type character varying\(100\)\nINSERT INTO mdl_user \(username,auth,firstname,lastname,email,/);
      expect(e.message).toBe('Error writing to database');
      expect(await byUsername('first.of.two')).toEqual([]);
      // A too-long update is that user's warning; the others are updated.
      const [u] = await byUsername('ok100');
      const r = await moodle.call<MoodleUpdateResult>('core_user_update_users', {
        users: [{ id: u!.id, email: `${'m'.repeat(95)}@example.org` }, { id: u!.id, city: 'Bergen' }],
      });
      expect(r.warnings).toEqual([{ item: 'user', itemid: u!.id, warningcode: 'dmlwriteexception', message: 'Error writing to database' }]);
      expect(sim.snapshot().users.find((x) => x.id === u!.id)).toMatchObject({ city: 'Bergen', email: 'ok100@example.org' });
    });

    it('refuses an auth plugin that is not installed, and accepts one installed but not enabled', async () => {
      sim.setAuthPluginInstalled('saml2', false);
      await expectMoodleError(moodle.call('core_user_create_users', { users: [ssoUser('no.saml')] }), 'invalidparameter',
        /auth => Invalid parameter value detected: Invalid external api parameter: the value is "saml2", the server was expecting "auth" type/);
      await moodle.call('core_user_create_users', { users: [ssoUser('by.ldap', { auth: 'ldap' })] });
      sim.setAuthPluginInstalled('saml2', true);
      await moodle.call('core_user_create_users', { users: [ssoUser('no.saml')] });
    });

    it('with outgoing mail failing, saves a new enrolment and answers an error anyway; enrolling again is quiet', async () => {
      await moodle.call('core_user_create_users', { users: [ssoUser('mailless')] });
      sim.setOutgoingMailFails(true);
      const enrol = { enrolments: [{ roleid: 5, userid: 4, courseid: 2 }] };
      const e = await expectMoodleError(moodle.call('enrol_manual_enrol_users', enrol), 'messagenotsent');
      expect(e.message).toBe('Message was not sent.');
      expect(sim.snapshot().enrolments).toMatchObject([{ courseid: 2, userid: 4, roles: [5] }]);
      await moodle.call('enrol_manual_enrol_users', enrol);
    });

    it('lists a course\'s enrolled users with their roles; a second role is added and can be taken away', async () => {
      await moodle.call('core_user_create_users', { users: [ssoUser('stu'), ssoUser('tea')] });
      await moodle.call('enrol_manual_enrol_users', {
        enrolments: [{ roleid: 5, userid: 4, courseid: 2 }, { roleid: 3, userid: 5, courseid: 2 }],
      });
      await moodle.call('enrol_manual_enrol_users', { enrolments: [{ roleid: 4, userid: 4, courseid: 2 }] });
      type Enrolled = { id: number; roles: { roleid: number; shortname: string }[] };
      const roles = async (): Promise<[number, number[]][]> =>
        (await moodle.call<Enrolled[]>('core_enrol_get_enrolled_users', { courseid: 2 })).map((u) => [u.id, u.roles.map((r) => r.roleid)]);
      expect(await roles()).toEqual([[4, [4, 5]], [5, [3]]]);
      await moodle.call('core_role_unassign_roles', {
        unassignments: [{ roleid: 5, userid: 4, contextlevel: 'course', instanceid: 2 }],
      });
      expect(await roles()).toEqual([[4, [4]], [5, [3]]]);
    });

    it('answers accessexception for a function it has but the service lacks', async () => {
      sim.removeServiceFunction('core_enrol_get_enrolled_users');
      await expectMoodleError(moodle.call('core_enrol_get_enrolled_users', { courseid: 2 }), 'accessexception');
      const info = await moodle.call<{ functions: { name: string }[] }>('core_webservice_get_site_info');
      expect(info.functions.map((f) => f.name)).not.toContain('core_enrol_get_enrolled_users');
      sim.addServiceFunction('core_enrol_get_enrolled_users');
      await moodle.call('core_enrol_get_enrolled_users', { courseid: 2 });
    });
  });

  describe('protocol', () => {
    async function post(path: string, form: string): Promise<{ status: number; type: string; body: string }> {
      const res = await request(`${sim.url}${path}`, {
        method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      return { status: res.statusCode, type: String(res.headers['content-type']), body: await res.body.text() };
    }

    it('keeps PHP array order: users[1] before users[0] is created first', async () => {
      const form = `wstoken=${TOKEN}&wsfunction=core_user_create_users&moodlewsrestformat=json`
        + '&users[1][username]=second&users[1][password]=Secret%23123&users[1][firstname]=S&users[1][lastname]=S&users[1][email]=s%40x.org'
        + '&users[0][username]=first&users[0][password]=Secret%23123&users[0][firstname]=F&users[0][lastname]=F&users[0][email]=f%40x.org';
      const r = await post('/webservice/rest/server.php', form);
      expect(r.body).toBe('[{"id":4,"username":"second"},{"id":5,"username":"first"}]');
    });

    it('answers GET, defaults to XML, and serves login/token.php', async () => {
      const res = await request(`${sim.url}/webservice/rest/server.php?wstoken=${TOKEN}&wsfunction=core_webservice_get_site_info`);
      expect(res.headers['content-type']).toBe('application/xml; charset=utf-8');
      expect(await res.body.text()).toContain('<KEY name="username"><VALUE>wsprovisioner</VALUE>');

      const ok = await post('/login/token.php', 'username=wsprovisioner&password=Provision%232024&service=provisioning');
      expect(ok).toEqual({ status: 200, type: 'application/json; charset=utf-8', body: `{"token":"${TOKEN}","privatetoken":null}` });
      const bad = await post('/login/token.php', 'username=wsprovisioner&password=wrong&service=provisioning');
      expect(JSON.parse(bad.body)).toEqual({
        error: 'Invalid login, please try again', errorcode: 'invalidlogin', stacktrace: null, debuginfo: null, reproductionlink: null,
      });
    });

    it('refuses every call once the token user is suspended', async () => {
      await moodle.call('core_user_update_users', { users: [{ id: 3, suspended: true }] });
      const e = await expectMoodleError(moodle.call('core_webservice_get_site_info'), 'wsaccessusersuspended');
      expect(e.message).toBe('Refused web service access for suspended username: wsprovisioner');
    });
  });
});

describe('Moodle simulator state file', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'moodle-sim-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('survives a restart and continues the id sequences; fresh ignores the file', async () => {
    const stateFile = join(dir, 'state', 'moodle.json');
    let sim = await startMoodleSimulator({ token: TOKEN, stateFile });
    let moodle = new MoodleClient({ url: sim.url, token: TOKEN });
    await moodle.call('core_user_create_users', { users: [newUser('persisted')] });
    await moodle.call('core_course_create_categories', { categories: [{ name: 'Kept', idnumber: 'KEPT' }] });
    await moodle.close();
    await sim.close();

    sim = await startMoodleSimulator({ token: TOKEN, stateFile });
    moodle = new MoodleClient({ url: sim.url, token: TOKEN });
    expect((await moodle.call<MoodleUser[]>('core_user_get_users_by_field', { field: 'username', values: ['persisted'] }))
      .map((u) => u.id)).toEqual([4]);
    const [next] = await moodle.call<MoodleCreatedUser[]>('core_user_create_users', { users: [newUser('after')] });
    expect(next!.id).toBe(5);
    await moodle.close();
    await sim.close();

    sim = await startMoodleSimulator({ token: TOKEN, stateFile, fresh: true });
    moodle = new MoodleClient({ url: sim.url, token: TOKEN });
    expect(await moodle.call('core_user_get_users_by_field', { field: 'username', values: ['persisted'] })).toEqual([]);
    await moodle.close();
    await sim.close();
  });
});

describe('Moodle simulator latency model', () => {
  it('is off by default', async () => {
    const sim = await startMoodleSimulator({ token: TOKEN });
    expect(sim.metrics()).toBeNull();
    await sim.close();
  });

  it('serves at most N requests at once, first come first served', async () => {
    const sim = await startMoodleSimulator({
      token: TOKEN, workers: 2,
      latency: { functions: { core_webservice_get_site_info: { baseMs: 150 } } },
    });
    const moodle = new MoodleClient({ url: sim.url, token: TOKEN, connections: 6 });
    try {
      await Promise.all(Array.from({ length: 6 }, () => moodle.call('core_webservice_get_site_info')));
      const m = sim.metrics()!;
      expect(m.served).toBe(6);
      expect(m.maxInFlight).toBe(2);
      expect(m.maxQueued).toBeGreaterThanOrEqual(1);
      const log = [...m.log].sort((a, b) => a.startedAt - b.startedAt);
      // Never more than two in service at the same instant.
      for (const r of log) {
        const overlapping = log.filter((o) => o.startedAt <= r.startedAt && r.startedAt < o.finishedAt);
        expect(overlapping.length).toBeLessThanOrEqual(2);
      }
      // FIFO: requests start in the order they arrived.
      expect(log.map((r) => r.seq)).toEqual([...log.map((r) => r.seq)].sort((a, b) => a - b));
      // Each request beyond the second started only after an earlier one had finished.
      for (let i = 2; i < log.length; i++) {
        expect(log[i]!.startedAt).toBeGreaterThanOrEqual(log[i - 2]!.finishedAt);
      }
    } finally {
      await moodle.close();
      await sim.close();
    }
  });
});

describe('Moodle client', () => {
  it('flattens nested params PHP-style', () => {
    expect(flattenParams({
      users: [{ username: 'a', suspended: true, customfields: [{ type: 'x', value: 1 }], skip: undefined }],
      field: 'id', flag: false, none: null,
    })).toEqual([
      ['users[0][username]', 'a'], ['users[0][suspended]', '1'], ['users[0][customfields][0][type]', 'x'],
      ['users[0][customfields][0][value]', '1'], ['field', 'id'], ['flag', '0'],
    ]);
  });

  it('maps errors without ever showing the token', async () => {
    const sim = await startMoodleSimulator({ token: TOKEN });
    const wrong = 'ffffffffffffffffffffffffffffffff';
    const bad = new MoodleClient({ url: sim.url, token: wrong });
    const e = await expectMoodleError(bad.call('core_webservice_get_site_info'), 'invalidtoken');
    expect(e.exception).toBe('core\\exception\\moodle_exception');
    expect(`${e.message} ${e.stack ?? ''}`).not.toContain(wrong);
    await bad.close();

    const good = new MoodleClient({ url: sim.url, token: TOKEN });
    // Unenrolling someone who is not enrolled is a silent no-op; void functions return null.
    expect(await good.call('enrol_manual_unenrol_users', { enrolments: [{ userid: 2, courseid: 2 }] })).toBeNull();
    // PHP form encoding has no empty list: [] is simply absent, and Moodle says so.
    await expectMoodleError(good.call('enrol_manual_unenrol_users', { enrolments: [] }), 'invalidparameter');
    await good.close();
    const port = sim.port;
    await sim.close();

    const down = new MoodleClient({ url: `http://127.0.0.1:${port}`, token: TOKEN });
    const t = await down.call('core_webservice_get_site_info').then(() => null, (x: unknown) => x);
    expect(t).toBeInstanceOf(MoodleTransientError);
    expect(String((t as Error).message)).not.toContain(TOKEN);
    await down.close();
  });

  it('treats 429/5xx and non-JSON bodies as transient, other HTTP errors as MoodleError', async () => {
    let status = 503;
    let body = '';
    const server: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'text/html', 'retry-after': '2' });
        res.end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const moodle = new MoodleClient({ url, token: TOKEN });
    try {
      const t = await moodle.call('x').then(() => null, (x: unknown) => x) as MoodleTransientError;
      expect(t).toBeInstanceOf(MoodleTransientError);
      expect(t.status).toBe(503);
      expect(t.retryAfterMs).toBe(2000);
      status = 429;
      expect(await moodle.call('x').catch((x: unknown) => x)).toBeInstanceOf(MoodleTransientError);
      status = 200;
      body = '<html>Fatal error</html>';
      expect(await moodle.call('x').catch((x: unknown) => x)).toBeInstanceOf(MoodleTransientError);
      status = 403;
      body = '';
      const e = await moodle.call('x').catch((x: unknown) => x) as MoodleError;
      expect(e).toBeInstanceOf(MoodleError);
      expect(e.errorcode).toBe('http_403');
    } finally {
      await moodle.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
