/**
 * Initial states.
 *
 * `recorded`: the site the recordings were made against (moodle-recorded/transcript.md):
 * guest (1), admin (2), the web-service user `wsprovisioner` (3); categories "Category 1" (1)
 * and "Templates" (2, idnumber TEMPLATES); the site course (1) and TEMPLATE-101 (2, in Templates,
 * hidden, with three activities). Sequences continue where the recordings show they do: next
 * user 4, category 3, course 3, and course 3's context is 18.
 *
 * `minimal`: a fresh install plus the web-service user: guest, admin, wsprovisioner, the site
 * course and "Category 1" — the site cases-2.jsonl was recorded against (first user 4, first
 * course 2 with context 12).
 *
 * Values the recordings do not show (emails of admin and wsprovisioner, the site shortname,
 * install timestamps) are plausible inventions; nothing in a response depends on them.
 */
import { hashPassword, type CourseRec, type StateData, type UserRec } from './state.js';

export type Seed = 'recorded' | 'minimal';

/** The token and password the recordings show for the service user. */
export const RECORDED_TOKEN = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
export const RECORDED_SERVICE_PASSWORD = 'Provision#2024';
export const SERVICE_SHORTNAME = 'provisioning';

const INSTALLED_AT = 1795534800;

function user(partial: Partial<UserRec> & Pick<UserRec, 'id' | 'username' | 'firstname' | 'lastname' | 'email'>): UserRec {
  return {
    auth: 'manual', confirmed: 1, deleted: 0, suspended: 0, mnethostid: 1, password: '', idnumber: '',
    phone1: '', phone2: '', institution: '', department: '', address: '', city: '', country: '',
    lang: 'en', calendartype: 'gregorian', theme: '', timezone: '99', firstaccess: 0, lastaccess: 0,
    description: null, descriptionformat: 1, mailformat: 1, maildisplay: 2, trackforums: 0,
    firstnamephonetic: '', lastnamephonetic: '', middlename: '', alternatename: '',
    timecreated: INSTALLED_AT, timemodified: INSTALLED_AT, interests: [], profile: {}, preferences: {},
    ...partial,
  };
}

function course(partial: Partial<CourseRec> & Pick<CourseRec, 'id' | 'category' | 'fullname' | 'shortname' | 'contextid'>): CourseRec {
  return {
    idnumber: '', summary: null, summaryformat: 1, format: 'topics', showgrades: 1, newsitems: 5, startdate: 0,
    enddate: 0, maxbytes: 0, showreports: 0, visible: 1, visibleold: 1, groupmode: 0, groupmodeforce: 0,
    defaultgroupingid: 0, lang: '', theme: '', calendartype: '', timecreated: INSTALLED_AT,
    timemodified: INSTALLED_AT, requested: 0, enablecompletion: 1, completionnotify: 0, cacherev: INSTALLED_AT,
    marker: 0, legacyfiles: 0, showactivitydates: 0, showcompletionconditions: 1,
    formatoptions: { hiddensections: 1, coursedisplay: 0, indentation: '1' }, manual: null,
    ...partial,
  };
}

export interface SeedOptions {
  token: string;
  /** Password of the web-service user for /login/token.php. */
  servicePassword?: string;
  profileFields?: StateData['profileFields'];
}

export function initialState(seed: Seed, opts: SeedOptions): StateData {
  const users: UserRec[] = [
    user({
      id: 1, username: 'guest', firstname: 'Guest user', lastname: ' ', email: 'root@localhost',
      description: 'This user is a special user that allows read-only access to some courses.',
      password: hashPassword('guest'),
    }),
    user({ id: 2, username: 'admin', firstname: 'Admin', lastname: 'User', email: 'admin@example.com',
      password: hashPassword(`admin-${Math.random()}`) }),
    user({ id: 3, username: 'wsprovisioner', firstname: 'Provisioning', lastname: 'Service',
      email: 'wsprovisioner@example.com', password: hashPassword(opts.servicePassword ?? RECORDED_SERVICE_PASSWORD) }),
  ];
  const categories: StateData['categories'] = [{
    id: 1, name: 'Category 1', idnumber: null, description: '', descriptionformat: 0, parent: 0, visible: 1,
    visibleold: 1, timemodified: INSTALLED_AT, depth: 1, path: '/1', theme: null, contextid: 3,
  }];
  const courses: CourseRec[] = [course({
    id: 1, category: 0, fullname: 'Moodle Acceptance', shortname: 'acceptance', format: 'site', newsitems: 3,
    summary: '', enablecompletion: 0, contextid: 2, formatoptions: {},
  })];
  const base: StateData = {
    format: 'tilgang-moodle-simulator/1',
    site: { sitename: 'Moodle Acceptance', themerev: 1795535150, privateaccesskeys: { 3: 'b2f08badfae9a5cd019f77e47ba1aff9' } },
    seq: { user: 4, category: 2, course: 2, context: 12, enrol: 1, userenrolment: 1, module: 1 },
    users, categories, courses, enrolments: [], modules: [],
    tokens: [{ token: opts.token, userid: 3, service: SERVICE_SHORTNAME }],
    profileFields: opts.profileFields ?? [],
  };
  if (seed === 'minimal') return base;

  categories.push({
    id: 2, name: 'Templates', idnumber: 'TEMPLATES', description: '', descriptionformat: 0, parent: 0, visible: 1,
    visibleold: 1, timemodified: 1795534909, depth: 1, path: '/2', theme: null, contextid: 12,
  });
  courses.push(course({
    id: 2, category: 2, fullname: 'Template course 101', shortname: 'TEMPLATE-101', idnumber: 'TEMPLATE-101',
    summary: 'Source course for core_course_import_course.', newsitems: 1, visible: 0, visibleold: 0,
    enablecompletion: 0, timecreated: 1795534909, timemodified: 1795534909, cacherev: 1795535151, contextid: 13,
    manual: { id: 1, enabled: true },
  }));
  base.modules = [
    { id: 1, courseid: 2, modname: 'forum', name: 'Announcements', contextid: 14 },
    { id: 2, courseid: 2, modname: 'page', name: 'Welcome page', contextid: 15 },
    { id: 3, courseid: 2, modname: 'forum', name: 'Discussion forum', contextid: 16 },
  ];
  // Course 2 also got (disabled) guest and self instances: enrol ids 1-3 are used.
  base.seq = { user: 4, category: 3, course: 3, context: 17, enrol: 4, userenrolment: 1, module: 4 };
  return base;
}
