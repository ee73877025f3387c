/**
 * What every simulated function shares: the call context (store, token user, site settings) and
 * the presentation helpers Moodle applies to what it returns (format_string, format_text, user
 * details, picture and course-image URLs).
 */
import type { WsException } from './errors.js';
import type { Desc, ParamEnv, SingleDesc, Val } from './external.js';
import { multiple, single, value } from './external.js';
import { htmlspecialchars, stripTags, type Json } from './php.js';
import type { Store, UserRec } from './state.js';

export interface PasswordPolicy {
  minLength: number;
  minDigits: number;
  minLower: number;
  minUpper: number;
  minNonAlphanum: number;
  /** 0 disables the check (Moodle's default). */
  maxConsecutiveIdentical: number;
}

export interface SiteSettings extends ParamEnv {
  /** `$CFG->wwwroot`, no trailing slash. */
  wwwroot: string;
  release: string;
  version: string;
  /** Auth plugins whose is_internal() is true (passwords are stored and policy-checked). */
  internalAuth: ReadonlySet<string>;
  /** Roles the web-service user may assign in a course context. */
  assignableRoles: ReadonlySet<number>;
  /** Roles that may see hidden courses (moodle/course:viewhiddencourses in the course). */
  rolesSeeingHiddenCourses: ReadonlySet<number>;
  /** Roles shown as course contacts ($CFG->coursecontact). */
  courseContactRoles: ReadonlySet<number>;
  allowAccountsSameEmail: boolean;
  passwordPolicy: PasswordPolicy;
  /** The token's service: its functions, in the order get_site_info lists them (functions can be added). */
  serviceFunctions: string[];
  /**
   * Capabilities the token user holds at system context. Only those with a visible effect are
   * modelled: without `moodle/course:update` core_course_get_courses_by_field leaves out a
   * course's idnumber and the other manager fields (recorded B04, B05).
   */
  capabilities: Set<string>;
  /**
   * Outgoing mail fails (an SMTP server that refuses): enrol_manual_enrol_users saves new
   * enrolments and then answers an error because the welcome message could not be sent.
   */
  outgoingMailFails: boolean;
}

/** Capabilities of the recorded service role (the ones the simulator looks at). */
export const SERVICE_ROLE_CAPABILITIES: readonly string[] = [
  'moodle/course:update', 'moodle/course:view', 'moodle/course:viewparticipants', 'moodle/course:enrolreview',
  'moodle/role:assign', 'moodle/role:review', 'moodle/user:create', 'moodle/user:update', 'moodle/user:viewdetails',
  'moodle/user:viewalldetails', 'enrol/manual:enrol', 'enrol/manual:unenrol', 'moodle/course:create',
];

export interface CallContext {
  store: Store;
  /** The token's user. */
  user: UserRec;
  site: SiteSettings;
  /** Unix time in seconds. */
  now(): number;
  /** moodlewssettingraw=1: names and texts are returned unformatted. */
  raw: boolean;
  /** An error to answer once the call's transaction has committed (its effect stays). */
  afterCommit?: WsException;
}

/** What a call makes Moodle do, for the latency model. */
export interface CallCost {
  /** Items the call carries (users created, enrolments, users returned or found...). */
  items: number;
  /** Values sent to a lookup, found or not. */
  values?: number;
  /** Passwords hashed (create/update with internal auth). */
  passwords: number;
  /** Enrolments that add a second role to an enrolled user (role_assign on an existing enrolment). */
  addedRoles?: number;
  /**
   * Users whose row the call locks until it commits (enrolments mark the user's access cache
   * dirty: an UPDATE of the user's cache_flags row). Another call touching one of them waits.
   */
  lockedUsers?: number[];
}

/** One web-service function: descriptions plus the implementation. */
export interface WsFunction {
  name: string;
  params: SingleDesc;
  returns: Desc | null;
  /** For the latency model: what the call costs Moodle (see latency.ts). */
  cost?(p: Record<string, Val>, ctx: CallContext): CallCost;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  execute(ctx: CallContext, p: any): Json | undefined;
}

/** `format_string()` as the external layer calls it (tags stripped, bare `&` escaped). */
export function formatString(ctx: CallContext, s: string): string {
  if (ctx.raw) return s;
  const escaped = s.replace(/&(?![a-zA-Z0-9#]{1,8};)/g, '&amp;');
  return stripTags(escaped).replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `\core_external\util::format_text()`: returns the text and FORMAT_HTML (an empty text keeps its format). */
export function formatText(ctx: CallContext, text: string | null, format: number): [string, number] {
  if (text === null || text === '') return ['', format];
  if (ctx.raw) return [text, format];
  switch (format) {
    case 0: // FORMAT_MOODLE
      return [`<div class="text_to_html">${text.replace(/\r?\n/g, '<br />\n')}</div>`, 1];
    case 2: // FORMAT_PLAIN
      return [htmlspecialchars(text).replace(/ {2}/g, '&nbsp; ').replace(/\r?\n/g, '<br />\n'), 1];
    case 4: // FORMAT_MARKDOWN
      return [`<p>${text}</p>\n`, 1];
    default:
      return [text, 1];
  }
}

export function userPictureUrl(ctx: CallContext, size: 'f1' | 'f2'): string {
  return `${ctx.site.wwwroot}/theme/image.php/boost/core/${ctx.store.site.themerev}/u/${size}`;
}

export function courseImageUrl(ctx: CallContext, contextid: number): string {
  return `${ctx.site.wwwroot}/pluginfile.php/${contextid}/course/generated/course.svg`;
}

export function fullname(u: Pick<UserRec, 'firstname' | 'lastname'>): string {
  return `${u.firstname} ${u.lastname}`;
}

/** `user_description()` in 4.5 order (the XML recording shows every key). */
export const userDescription = single({
  id: value('int'),
  username: value('raw', 'optional'),
  firstname: value('notags', 'optional'),
  lastname: value('notags', 'optional'),
  fullname: value('notags'),
  email: value('text', 'optional'),
  address: value('text', 'optional'),
  phone1: value('notags', 'optional'),
  phone2: value('notags', 'optional'),
  department: value('text', 'optional'),
  institution: value('text', 'optional'),
  idnumber: value('raw', 'optional'),
  interests: value('text', 'optional'),
  firstaccess: value('int', 'optional'),
  lastaccess: value('int', 'optional'),
  auth: value('plugin', 'optional'),
  suspended: value('bool', 'optional'),
  confirmed: value('bool', 'optional'),
  lang: value('safedir', 'optional'),
  calendartype: value('plugin', 'optional'),
  theme: value('plugin', 'optional'),
  timezone: value('timezone', 'optional'),
  mailformat: value('int', 'optional'),
  trackforums: value('int', 'optional'),
  description: value('raw', 'optional'),
  descriptionformat: value('int', 'optional'),
  city: value('notags', 'optional'),
  country: value('alpha', 'optional'),
  profileimageurlsmall: value('url'),
  profileimageurl: value('url'),
  customfields: multiple(single({
    type: value('alphanumext'),
    value: value('raw'),
    displayvalue: value('raw', 'optional'),
    name: value('raw'),
    shortname: value('raw'),
  }), 'optional'),
  preferences: multiple(single({ name: value('raw'), value: value('raw') }), 'optional'),
});

/**
 * `user_get_user_details()` as seen by the recorded web-service user: it holds
 * moodle/user:viewalldetails and sees identity fields, but not moodle/site:viewfullnames, so
 * other users come back without firstname/lastname (exactly as recorded).
 */
export function userDetails(ctx: CallContext, u: UserRec): Record<string, Json> | null {
  if (u.deleted) return null;
  const currentuser = u.id === ctx.user.id;
  const d: Record<string, Json> = { id: u.id, username: u.username };
  d.fullname = fullname(u);
  const fields = ctx.store.profileFields.filter((f) => f.visible && (u.profile[f.shortname] ?? '') !== '');
  if (fields.length > 0) {
    d.customfields = fields.map((f) => ({
      type: f.datatype, value: u.profile[f.shortname]!, displayvalue: u.profile[f.shortname]!, name: f.name,
      shortname: f.shortname,
    }));
  }
  d.profileimageurl = userPictureUrl(ctx, 'f1');
  d.profileimageurlsmall = userPictureUrl(ctx, 'f2');
  if (u.address !== '') d.address = u.address;
  if (u.phone1 !== '') d.phone1 = u.phone1;
  if (u.phone2 !== '') d.phone2 = u.phone2;
  if (u.description !== null) {
    const [text, format] = formatText(ctx, u.description, u.descriptionformat);
    d.description = text;
    d.descriptionformat = format;
  }
  if (u.country !== '') d.country = u.country;
  if (u.city !== '') d.city = u.city;
  if (u.timezone !== '' && u.timezone !== '0') d.timezone = u.timezone;
  d.suspended = u.suspended === 1;
  d.firstaccess = u.firstaccess || 0;
  d.lastaccess = u.lastaccess || 0;
  d.email = u.email;
  if (u.interests.length > 0) d.interests = u.interests.join(', ');
  if (u.idnumber !== '') d.idnumber = u.idnumber;
  if (u.institution !== '') d.institution = u.institution;
  d.department = u.department;
  d.auth = u.auth;
  d.confirmed = u.confirmed;
  d.lang = u.lang;
  d.theme = u.theme;
  d.mailformat = u.mailformat;
  d.trackforums = u.trackforums;
  if (currentuser) d.preferences = Object.entries(u.preferences).map(([name, v]) => ({ name, value: v }));
  return d;
}
