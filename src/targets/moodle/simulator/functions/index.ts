/**
 * The simulated functions (by default all of them form the `provisioning` service, in the order
 * get_site_info lists them) and the names of other functions that exist in a standard Moodle 4.5:
 * calling a function that exists but is not in the service is `accessexception`, calling a name
 * that exists nowhere is `invalidrecord` (external_functions has no such row).
 */
import type { WsFunction } from '../site.js';
import { createCategories, createCourses, getCategories, getCoursesByField, importCourse, updateCourses } from './courses.js';
import { enrolUsers, getEnrolledUsers, getUsersCourses, unassignRoles, unenrolUsers } from './enrol.js';
import { getSiteInfo } from './siteinfo.js';
import { createUsers, getUsers, getUsersByField, updateUsers } from './users.js';

export const SIMULATED_FUNCTIONS: readonly WsFunction[] = [
  getSiteInfo, getUsersByField, getUsers, createUsers, updateUsers, getUsersCourses, enrolUsers, unenrolUsers,
  getCoursesByField, createCourses, getCategories, createCategories, importCourse, getEnrolledUsers, unassignRoles,
  updateCourses,
];

export const FUNCTIONS_BY_NAME: ReadonlyMap<string, WsFunction> = new Map(SIMULATED_FUNCTIONS.map((f) => [f.name, f]));

/** A sample of external_functions rows of a standard 4.5 install that the service does not include. */
export const OTHER_EXISTING_FUNCTIONS: ReadonlySet<string> = new Set([
  'core_auth_confirm_user', 'core_auth_is_minor', 'core_auth_request_password_reset', 'core_badges_get_user_badges',
  'core_calendar_create_calendar_events', 'core_calendar_delete_calendar_events', 'core_calendar_get_calendar_events',
  'core_cohort_add_cohort_members', 'core_cohort_create_cohorts', 'core_cohort_delete_cohort_members',
  'core_cohort_delete_cohorts', 'core_cohort_get_cohort_members', 'core_cohort_get_cohorts',
  'core_cohort_search_cohorts', 'core_cohort_update_cohorts', 'core_completion_get_activities_completion_status',
  'core_completion_get_course_completion_status', 'core_course_delete_categories', 'core_course_delete_courses',
  'core_course_delete_modules', 'core_course_duplicate_course', 'core_course_get_contents',
  'core_course_get_course_module', 'core_course_get_courses', 'core_course_search_courses',
  'core_course_update_categories', 'core_course_view_course',
  'core_enrol_get_course_enrolment_methods', 'core_enrol_get_enrolled_users',
  'core_enrol_get_enrolled_users_with_capability', 'core_enrol_search_users', 'core_enrol_unenrol_user_enrolment',
  'core_group_add_group_members', 'core_group_create_groupings', 'core_group_create_groups',
  'core_group_delete_group_members', 'core_group_delete_groups', 'core_group_get_course_groups',
  'core_group_get_group_members', 'core_group_get_groups', 'core_message_send_instant_messages',
  'core_notes_create_notes', 'core_role_assign_roles', 'core_role_unassign_roles', 'core_user_add_user_device',
  'core_user_agree_site_policy', 'core_user_delete_users', 'core_user_get_course_user_profiles',
  'core_user_get_private_files_info', 'core_user_get_user_preferences', 'core_user_remove_user_device',
  'core_user_search_identity', 'core_user_set_user_preferences', 'core_user_update_picture',
  'core_user_update_user_preferences', 'core_user_view_user_list', 'core_user_view_user_profile',
  'core_webservice_get_site_info', 'enrol_guest_get_instance_info', 'enrol_self_enrol_user',
  'enrol_self_get_instance_info', 'mod_assign_get_assignments', 'mod_forum_get_forums_by_courses',
  'tool_mobile_get_config', 'tool_mobile_get_public_config', 'auth_email_get_signup_settings',
  'auth_email_signup_user', 'core_customfield_get_fields', 'core_competency_list_competencies',
]);
