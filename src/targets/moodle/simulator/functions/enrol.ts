/**
 * enrol_manual_enrol_users, enrol_manual_unenrol_users (enrol/manual/externallib.php,
 * enrol_plugin::enrol_user()/unenrol_user()) and core_enrol_get_users_courses
 * (enrol/externallib.php, enrol_get_users_courses()).
 */
import { invalidParameter, missingRecord, moodleException, phpTypeError, WsException } from '../errors.js';
import { files, multiple, single, value, formatValue } from '../external.js';
import { phpIntval, type Json } from '../php.js';
import {
  courseImageUrl, formatString, formatText, userDetails, userPictureUrl, type CallContext, type WsFunction,
} from '../site.js';
import type { CourseRec, EnrolmentRec, UserRec } from '../state.js';

interface EnrolInput {
  roleid: number;
  userid: number;
  courseid: number;
  timestart?: number;
  timeend?: number;
  suspend?: number;
}

/**
 * Moodle 4.5.0 sends the course welcome message right after inserting the user enrolment and
 * passes the (missing) user record on unchecked: an unknown user id ends in this PHP TypeError.
 */
const UNKNOWN_USER_TYPEERROR = 'core\\user::get_name_placeholders(): Argument #1 ($user) must be of type stdClass, '
  + 'bool given, called in /var/www/moodle/lib/enrollib.php on line 3674';

export const enrolUsers: WsFunction = {
  name: 'enrol_manual_enrol_users',
  params: single({
    enrolments: multiple(single({
      roleid: value('int'),
      userid: value('int'),
      courseid: value('int'),
      timestart: value('int', 'optional'),
      timeend: value('int', 'optional'),
      suspend: value('int', 'optional'),
    })),
  }),
  returns: null,
  cost(p, ctx) {
    const enrolments = p.enrolments as unknown as EnrolInput[];
    const addedRoles = enrolments.filter((e) => {
      const existing = ctx.store.enrolment(e.courseid, e.userid);
      return existing !== undefined && !existing.roles.includes(e.roleid);
    }).length;
    return { items: enrolments.length, passwords: 0, addedRoles, lockedUsers: enrolments.map((e) => e.userid) };
  },
  execute(ctx, p: { enrolments: EnrolInput[] }) {
    const { store, site } = ctx;
    let welcomed = 0;
    for (const e of p.enrolments) {
      const course = store.courses.get(e.courseid);
      if (!course) throw invalidParameter('Context does not exist');
      if (!site.assignableRoles.has(e.roleid)) {
        throw moodleException('wsusercannotassign', 'enrol_manual',
          { roleid: e.roleid, courseid: e.courseid, userid: e.userid });
      }
      if (!course.manual || !course.manual.enabled) {
        throw moodleException('wsnoinstance', 'enrol_manual', { courseid: e.courseid });
      }
      const timestart = e.timestart ?? 0;
      const timeend = e.timeend ?? 0;
      const status = e.suspend !== undefined && e.suspend !== 0 ? 1 : 0;
      // enrol_plugin::enrol_user()
      const now = ctx.now();
      const existing = store.enrolment(course.id, e.userid);
      if (existing) {
        if (existing.timestart !== timestart || existing.timeend !== timeend || existing.status !== status) {
          store.updateEnrolment(existing, { timestart, timeend, status, timemodified: now });
        }
        if (!existing.roles.includes(e.roleid)) store.updateEnrolment(existing, { roles: [...existing.roles, e.roleid] });
      } else {
        store.putEnrolment({
          id: store.next('userenrolment'), courseid: course.id, userid: e.userid, status, timestart, timeend,
          roles: [e.roleid], timecreated: now, timemodified: now,
        });
        if (!store.users.has(e.userid)) throw phpTypeError(UNKNOWN_USER_TYPEERROR);
        welcomed++;
      }
    }
    // A new enrolment gets the course welcome message; with mail failing the enrolments are saved
    // all the same and the call answers an error (seen on a real site; the error body was not recorded).
    if (welcomed > 0 && site.outgoingMailFails) ctx.afterCommit = MESSAGE_NOT_SENT();
    return null;
  },
};

const MESSAGE_NOT_SENT = (): WsException =>
  new WsException('core\\exception\\moodle_exception', 'Message was not sent.', 'messagenotsent');

export const unenrolUsers: WsFunction = {
  name: 'enrol_manual_unenrol_users',
  params: single({
    enrolments: multiple(single({
      userid: value('int'),
      courseid: value('int'),
      roleid: value('int', 'optional'),
    })),
  }),
  returns: null,
  cost: (p) => {
    const enrolments = p.enrolments as unknown as { userid: number }[];
    return { items: enrolments.length, passwords: 0, lockedUsers: enrolments.map((e) => e.userid) };
  },
  execute(ctx, p: { enrolments: { userid: number; courseid: number; roleid?: number }[] }) {
    const { store } = ctx;
    for (const e of p.enrolments) {
      const course = store.courses.get(e.courseid);
      if (!course) throw missingRecord('course', 'SELECT id,category FROM {course} WHERE id = ?', [e.courseid]);
      if (!course.manual) throw moodleException('wsnoinstance', 'enrol_manual', { courseid: e.courseid });
      if (!store.users.has(e.userid)) throw invalidParameter(`User id not exist: ${e.userid}`);
      // roleid is accepted and ignored: the whole manual enrolment (and its roles) goes.
      store.deleteEnrolment(course.id, e.userid);
    }
    return null;
  },
};

export const getUsersCourses: WsFunction = {
  name: 'core_enrol_get_users_courses',
  params: single({ userid: value('int'), returnusercount: value('bool', 'default', true) }),
  returns: multiple(single({
    id: value('int'),
    shortname: value('raw'),
    fullname: value('raw'),
    displayname: value('raw'),
    enrolledusercount: value('int', 'optional'),
    idnumber: value('raw'),
    visible: value('int'),
    summary: value('raw', 'optional'),
    summaryformat: formatValue('optional'),
    format: value('plugin', 'optional'),
    courseimage: value('url', 'optional'),
    showgrades: value('bool', 'optional'),
    lang: value('lang', 'optional'),
    enablecompletion: value('bool', 'optional'),
    completionhascriteria: value('bool', 'optional'),
    completionusertracked: value('bool', 'optional'),
    category: value('int', 'optional'),
    progress: value('float', 'optional'),
    completed: value('bool', 'optional'),
    startdate: value('int', 'optional'),
    enddate: value('int', 'optional'),
    marker: value('int', 'optional'),
    lastaccess: value('int', 'optional'),
    isfavourite: value('bool', 'optional'),
    hidden: value('bool', 'optional'),
    overviewfiles: files('optional'),
    showactivitydates: value('bool', 'optional'),
    showcompletionconditions: value('bool', 'optional'),
    timemodified: value('int', 'optional'),
  })),
  execute(ctx, p: { userid: number; returnusercount: boolean }) {
    const { store, site } = ctx;
    const now = ctx.now();
    const sortorderOf = store.courseSortorders();
    const courses = store.enrolmentsOfUser(p.userid)
      .filter((e) => e.status === 0 && e.timestart <= now && (e.timeend === 0 || e.timeend > now))
      .map((e) => ({ e, c: store.courses.get(e.courseid)! }))
      .filter(({ e, c }) => c && c.manual?.enabled
        && (c.visible === 1 || e.roles.some((r) => site.rolesSeeingHiddenCourses.has(r))))
      .map(({ c }) => c);
    // Each course's sortorder once, not once per comparison (each one walks the category's courses).
    const sortorder = new Map(courses.map((c) => [c.id, sortorderOf(c)]));
    const active = courses.sort((a, b) => (b.visible - a.visible) || (sortorder.get(a.id)! - sortorder.get(b.id)!));
    const out: Json[] = [];
    for (const c of active) {
      const [summary, summaryformat] = formatText(ctx, c.summary, c.summaryformat);
      const r: Record<string, Json> = {
        id: c.id,
        shortname: formatString(ctx, c.shortname),
        fullname: formatString(ctx, c.fullname),
        displayname: formatString(ctx, c.fullname),
        idnumber: c.idnumber,
        visible: c.visible,
        summary,
        summaryformat,
        format: c.format,
        courseimage: courseImageUrl(ctx, c.contextid),
        showgrades: c.showgrades,
        lang: site.langs.has(c.lang) ? c.lang : '',
        enablecompletion: c.enablecompletion,
        completionhascriteria: false,
        completionusertracked: false,
        category: c.category,
        progress: null,
        completed: null,
        startdate: c.startdate,
        enddate: c.enddate,
        marker: c.marker,
        lastaccess: null,
        isfavourite: false,
        hidden: false,
        overviewfiles: [],
        showactivitydates: c.showactivitydates,
        showcompletionconditions: c.showcompletionconditions,
        timemodified: c.timemodified,
      };
      if (p.returnusercount) {
        r.enrolledusercount = store.enrolmentsInCourse(c.id)
          .filter((e) => { const u = store.users.get(e.userid); return u !== undefined && u.deleted === 0; }).length;
      }
      out.push(r);
    }
    return out;
  },
};

/** Standard roles: shortname by id (also their sortorder on a fresh install). */
const ROLE_SHORTNAMES: Record<number, string> = {
  1: 'manager', 2: 'coursecreator', 3: 'editingteacher', 4: 'teacher', 5: 'student', 6: 'guest', 7: 'user', 8: 'frontpage',
};

function activeNow(e: EnrolmentRec, now: number): boolean {
  return e.status === 0 && e.timestart <= now && (e.timeend === 0 || e.timeend > now);
}

/** enrol_get_all_users_courses($userid, true): active enrolments, visible first, then by sortorder. */
function enrolledCourses(ctx: CallContext, u: UserRec, sortorderOf: (c: CourseRec) => number): Json[] {
  const { store } = ctx;
  const now = ctx.now();
  const courses = store.enrolmentsOfUser(u.id)
    .filter((e) => activeNow(e, now))
    .map((e) => store.courses.get(e.courseid))
    .filter((c): c is CourseRec => c !== undefined && c.category !== 0 && c.manual?.enabled === true);
  const sortorder = new Map(courses.map((c) => [c.id, sortorderOf(c)]));
  return courses.sort((a, b) => (b.visible - a.visible) || (sortorder.get(a.id)! - sortorder.get(b.id)!))
    .map((c) => ({ id: c.id, fullname: formatString(ctx, c.fullname), shortname: formatString(ctx, c.shortname) }));
}

const enrolledUserDesc = single({
  id: value('int'),
  username: value('raw', 'optional'),
  firstname: value('notags', 'optional'),
  lastname: value('notags', 'optional'),
  fullname: value('notags'),
  email: value('text', 'optional'),
  address: value('text', 'optional'),
  phone1: value('notags', 'optional'),
  phone2: value('notags', 'optional'),
  icq: value('notags', 'optional'),
  skype: value('notags', 'optional'),
  yahoo: value('notags', 'optional'),
  aim: value('notags', 'optional'),
  msn: value('notags', 'optional'),
  department: value('text', 'optional'),
  institution: value('text', 'optional'),
  idnumber: value('raw', 'optional'),
  interests: value('text', 'optional'),
  firstaccess: value('int', 'optional'),
  lastaccess: value('int', 'optional'),
  lastcourseaccess: value('int', 'optional'),
  description: value('raw', 'optional'),
  descriptionformat: formatValue('optional'),
  city: value('notags', 'optional'),
  url: value('url', 'optional'),
  country: value('alpha', 'optional'),
  profileimageurlsmall: value('url', 'optional'),
  profileimageurl: value('url', 'optional'),
  customfields: multiple(single({
    type: value('alphanumext'), value: value('raw'), name: value('raw'), shortname: value('raw'),
  }), 'optional'),
  groups: multiple(single({
    id: value('int'), name: value('raw'), description: value('raw'), descriptionformat: formatValue(),
  }), 'optional'),
  roles: multiple(single({
    roleid: value('int'), name: value('raw'), shortname: value('alphanumext'), sortorder: value('int'),
  }), 'optional'),
  preferences: multiple(single({ name: value('raw'), value: value('raw') }), 'optional'),
  enrolledcourses: multiple(single({ id: value('int'), fullname: value('raw'), shortname: value('raw') }), 'optional'),
});

/** core_enrol_get_enrolled_users: a course's enrolled users with their roles in it (recorded B26, B28, B30). */
export const getEnrolledUsers: WsFunction = {
  name: 'core_enrol_get_enrolled_users',
  params: single({
    courseid: value('int'),
    options: multiple(single({ name: value('alphanumext'), value: value('raw') }), 'default', []),
  }),
  returns: multiple(enrolledUserDesc),
  cost: (p, ctx) => ({ items: ctx.store.enrolmentsInCourse(p.courseid as number).length, passwords: 0 }),
  execute(ctx, p: { courseid: number; options: { name: string; value: string }[] }) {
    const { store } = ctx;
    let onlyactive = false;
    let userfields: string[] = [];
    let limitfrom = 0;
    let limitnumber = 0;
    let sortby: 'id' | 'firstname' | 'lastname' = 'id';
    let descending = false;
    for (const o of p.options) {
      switch (o.name) {
        case 'onlyactive': onlyactive = o.value !== '' && o.value !== '0'; break;
        case 'userfields': userfields = o.value.split(',').map((f) => f.replace(/[^A-Za-z0-9_-]/g, '')); break;
        case 'limitfrom': limitfrom = phpIntval(o.value); break;
        case 'limitnumber': limitnumber = phpIntval(o.value); break;
        case 'sortby':
          if (!['id', 'firstname', 'lastname', 'siteorder'].includes(o.value)) {
            throw invalidParameter(`Invalid value for sortby parameter (value: ${o.value}),allowed values are: id,firstname,lastname,siteorder`);
          }
          sortby = o.value === 'siteorder' ? 'lastname' : o.value as typeof sortby;
          break;
        case 'sortdirection':
          if (!['ASC', 'DESC'].includes(o.value.toUpperCase())) {
            throw invalidParameter(`Invalid value for sortdirection parameter
                        (value: ${o.value.toUpperCase()}),allowed values are: ASC,DESC`);
          }
          descending = o.value.toUpperCase() === 'DESC';
          break;
        default: break;
      }
    }
    const course = store.courses.get(p.courseid);
    if (!course) throw missingRecord('course', 'SELECT * FROM {course} WHERE id = ?', [p.courseid]);
    const now = ctx.now();
    let rows = store.enrolmentsInCourse(course.id)
      .filter((e) => !onlyactive || (activeNow(e, now) && course.manual?.enabled === true))
      .map((e) => ({ e, u: store.users.get(e.userid) }))
      .filter((r): r is { e: EnrolmentRec; u: UserRec } => r.u !== undefined && r.u.deleted === 0)
      .sort((a, b) => {
        const x = sortby === 'id' ? a.u.id - b.u.id : a.u[sortby].localeCompare(b.u[sortby]) || a.u.id - b.u.id;
        return descending ? -x : x;
      });
    rows = rows.slice(limitfrom, limitnumber > 0 ? limitfrom + limitnumber : undefined);
    const out: Json[] = [];
    // A user's courses only when the answer keeps them (userfields leaves them out otherwise), their sortorders walked once for the call.
    const wantCourses = userfields.length === 0 || userfields.includes('enrolledcourses');
    let sortorderOf: ((c: CourseRec) => number) | undefined;
    for (const { e, u } of rows) {
      const d = userDetails(ctx, u);
      if (!d) continue;
      d.lastcourseaccess = 0;
      d.profileimageurlsmall = userPictureUrl(ctx, 'f2');
      d.roles = [...e.roles].sort((a, b) => a - b)
        .map((roleid) => ({ roleid, name: '', shortname: ROLE_SHORTNAMES[roleid] ?? `role${roleid}`, sortorder: 0 }));
      const courses = wantCourses ? enrolledCourses(ctx, u, sortorderOf ??= store.courseSortorders()) : [];
      if (courses.length > 0) d.enrolledcourses = courses;
      if (userfields.length > 0) {
        // user_get_user_details() always gives id and fullname.
        for (const k of Object.keys(d)) if (k !== 'id' && k !== 'fullname' && !userfields.includes(k)) delete d[k];
      }
      out.push(d);
    }
    return out;
  },
};

interface Unassignment {
  roleid: number;
  userid: number;
  contextid?: number;
  contextlevel?: string;
  instanceid?: number;
}

/** core_role_unassign_roles, in course contexts (recorded B29: the user stays enrolled with the other role). */
export const unassignRoles: WsFunction = {
  name: 'core_role_unassign_roles',
  params: single({
    unassignments: multiple(single({
      roleid: value('int'),
      userid: value('int'),
      contextid: value('int', 'optional'),
      contextlevel: value('alpha', 'optional'),
      instanceid: value('int', 'optional'),
    })),
  }),
  returns: null,
  cost: (p) => {
    const list = p.unassignments as unknown as Unassignment[];
    return { items: list.length, passwords: 0, lockedUsers: list.map((u) => u.userid) };
  },
  execute(ctx, p: { unassignments: Unassignment[] }) {
    const { store, site } = ctx;
    for (const a of p.unassignments) {
      let course: CourseRec | undefined;
      if (a.contextid !== undefined) {
        course = [...store.courses.values()].find((c) => c.contextid === a.contextid);
        if (!course) throw invalidParameter('Context does not exist');
      } else if (a.contextlevel !== undefined && a.instanceid !== undefined) {
        if (a.contextlevel !== 'course') throw invalidParameter(`Unsupported context level: ${a.contextlevel}`);
        course = store.courses.get(a.instanceid);
        if (!course) throw missingRecord('course', 'SELECT * FROM {course} WHERE id = ?', [a.instanceid]);
      } else {
        throw invalidParameter('Missing parameters');
      }
      if (!site.assignableRoles.has(a.roleid)) {
        throw invalidParameter(`Can not unassign roleid=${a.roleid} in contextid=${course.contextid}`);
      }
      const e = store.enrolment(course.id, a.userid);
      if (e && e.roles.includes(a.roleid)) store.updateEnrolment(e, { roles: e.roles.filter((r) => r !== a.roleid) });
    }
    return null;
  },
};
