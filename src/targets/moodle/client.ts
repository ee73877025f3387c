/** The Moodle web-service client lives in src/lib/moodle/, shared by the users and the courses targets. */
export * from '../../lib/moodle/client.js';
