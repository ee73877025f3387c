/**
 * The Moodle courses target (the seed's PortalLdapToMoodle_Courses): for each topic of MV's course
 * catalogue it is told about (the course stream), the semester's category and the course type's
 * under it, the course created once with the standard template's content, its name and dates kept
 * as the catalogue says, and its people reprocessed once it is made, so the users target enrols them.
 *
 *   desired  pure: the course from the topic (desired.ts)
 *   actual   the course by idnumber, else by shortname; the categories by idnumber (session.ts)
 *   plan     pure: category / create / import / reprocess, or update (plan.ts)
 *   apply    in order, one course at a time (apply.ts)
 */
import { MoodleClient } from '../../lib/moodle/client.js';
import { COURSE_STREAM, readSecret, type CourseContext, type Target } from '../../spi/index.js';
import { applyCourse } from './apply.js';
import { checkCourses } from './check.js';
import { MoodleCoursesConfig } from './config.js';
import { desiredCourse, type DesiredCourse } from './desired.js';
import { COURSE_OPERATIONS, planCourse, type ActualCourse, type CourseKind, type Payload } from './plan.js';
import { CourseSession } from './session.js';

export { MoodleCoursesConfig } from './config.js';

export const target: Target<MoodleCoursesConfig, DesiredCourse, ActualCourse, Payload, CourseSession, CourseKind, CourseContext> = {
  name: 'moodle-courses',
  stream: COURSE_STREAM,
  operations: COURSE_OPERATIONS,
  config: MoodleCoursesConfig,
  essential: () => [],

  async connect({ config }) {
    const ws = new MoodleClient({ url: config.url, token: readSecret(config.token, 'targets.moodle-courses.token'), connections: config.connections, timeoutMs: config.timeoutMs });
    return new CourseSession(ws, config);
  },

  check: (s) => checkCourses(s),

  async close(s) {
    await s.close();
  },

  desired: (course, { config }) => desiredCourse(course.topic, config),

  actual: (course, d, s) => s.actual(course.id, d),

  plan: (d, a, course) => planCourse(d, a, course),

  apply: (plan, s, _ctx, course) => applyCourse(plan, s, course),
};
