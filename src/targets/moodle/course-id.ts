/** A managed course's idnumber lives in src/lib/moodle/, shared by the users and the courses targets. */
export * from '../../lib/moodle/course-id.js';
