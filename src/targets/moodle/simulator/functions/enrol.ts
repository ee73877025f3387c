/**
 * enrol_manual_enrol_users, enrol_manual_unenrol_users (enrol/manual/externallib.php,
 * enrol_plugin::enrol_user()/unenrol_user()) and core_enrol_get_users_courses
 * (enrol/externallib.php, enrol_get_users_courses()).
 */
import { invalidParameter, missingRecord, moodleException, phpTypeError } from '../errors.js';
import { files, multiple, single, value, formatValue, type Val } from '../external.js';
import type { Json } from '../php.js';
import { courseImageUrl, formatString, formatText, type WsFunction } from '../site.js';

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
  cost: (p) => ({ items: (p.enrolments as Val[]).length, passwords: 0 }),
  execute(ctx, p: { enrolments: EnrolInput[] }) {
    const { store, site } = ctx;
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
      }
    }
    return null;
  },
};

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
  cost: (p) => ({ items: (p.enrolments as Val[]).length, passwords: 0 }),
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
    const catorders = store.categorySortorders();
    const courses = store.enrolmentsOfUser(p.userid)
      .filter((e) => e.status === 0 && e.timestart <= now && (e.timeend === 0 || e.timeend > now))
      .map((e) => ({ e, c: store.courses.get(e.courseid)! }))
      .filter(({ e, c }) => c && c.manual?.enabled
        && (c.visible === 1 || e.roles.some((r) => site.rolesSeeingHiddenCourses.has(r))))
      .map(({ c }) => c);
    // Each course's sortorder once, not once per comparison (each one walks the category's courses).
    const sortorder = new Map(courses.map((c) => [c.id, store.courseSortorder(c, catorders)]));
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
