/**
 * What a person's Moodle account should be (pure): the seed's "transform record" step. Only the
 * Moodle fields below are ever built, so nothing else from the directory (national id, HR id,
 * manager, roles...) can reach Moodle.
 */
import { first, TerminalError, type PersonContext } from '../../spi/index.js';
import type { MoodleConfig } from './config.js';
import { courseIdnumber } from './course-id.js';
import { validateUser } from './validate.js';

export type CourseRole = 'student' | 'teacher';

/** A Moodle user as tilgang manages it. An absent optional field is one tilgang leaves alone. */
export interface DesiredUser {
  username: string;
  email: string;
  firstname: string;
  lastname: string;
  auth: string;
  idnumber?: string;
  department?: string;
  institution?: string;
  /** The value of the custom profile field `heldBy.studentIdField`. */
  studentId?: string;
}

export interface DesiredEnrolment {
  /** The course's idnumber (courseIdnumber). */
  course: string;
  role: CourseRole;
  roleid: number;
}

export interface Desired {
  user: DesiredUser;
  /** Every course the person should be in; undefined when unknown (not in MV), so nothing is unenrolled. */
  enrolments?: DesiredEnrolment[];
}

/** How an existing account is found; computed for everyone, entitled or not (a leaver is found to be suspended). */
export interface Identity {
  username: string;
  idnumber?: string;
  email: string;
}

const USERNAME = /^[-.@_a-z0-9]+$/;

const value = (person: PersonContext, attr: string): string => (first(person.record, attr) ?? '').trim();

/**
 * Moodle's PARAM_USERNAME lowercases and strips anything but [-.@_a-z0-9]; a value it would change
 * is refused (invalidparameter), so tilgang lowercases and refuses the rest itself, naming the field.
 */
export function moodleUsername(person: PersonContext, cfg: MoodleConfig): string {
  const raw = value(person, cfg.attributes.username);
  const username = raw.toLowerCase();
  if (!USERNAME.test(username)) {
    throw new TerminalError(`person ${person.id}, target moodle: ${cfg.attributes.username} "${raw}" cannot be a Moodle username (allowed: a-z 0-9 - . _ @)`,
      'invalid-username', 'username');
  }
  return username;
}

export function identity(person: PersonContext, cfg: MoodleConfig): Identity {
  const idnumber = cfg.attributes.idnumber ? value(person, cfg.attributes.idnumber) : '';
  return {
    username: moodleUsername(person, cfg),
    ...(idnumber ? { idnumber } : {}),
    email: value(person, cfg.attributes.email),
  };
}

export function desiredUser(person: PersonContext, cfg: MoodleConfig): DesiredUser {
  const id = identity(person, cfg);
  const user: DesiredUser = {
    username: id.username,
    email: id.email,
    firstname: value(person, cfg.attributes.firstname),
    lastname: value(person, cfg.attributes.lastname),
    auth: cfg.auth,
  };
  if (cfg.attributes.idnumber) user.idnumber = id.idnumber ?? '';
  // Department: the person's own org unit as MV names it; without MV data it is left as it is.
  if (cfg.department && person.mv) user.department = person.mv.orgUnits?.[0]?.[cfg.department]?.trim() ?? '';
  if (cfg.heldBy.institution !== null) user.institution = cfg.heldBy.institution;
  if (cfg.heldBy.studentIdField && cfg.attributes.studentId) user.studentId = value(person, cfg.attributes.studentId);
  return user;
}

/** MV's master_persons rows as (course, role) pairs, one each, in a stable order. */
export function desiredEnrolments(person: PersonContext, cfg: MoodleConfig): DesiredEnrolment[] | undefined {
  if (!cfg.enrolments || !person.mv) return undefined;
  const out = new Map<string, DesiredEnrolment>();
  for (const e of person.mv.enrolments ?? []) {
    const course = courseIdnumber(e);
    const key = `${course}\u0000${e.role}`;
    if (!out.has(key)) out.set(key, { course, role: e.role, roleid: cfg.roles[e.role] });
  }
  return [...out.values()].sort((a, b) => (a.course < b.course ? -1 : a.course > b.course ? 1 : a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
}

/**
 * Pure: the account and enrolments the person should have; null when not entitled. An account
 * Moodle would refuse (a field too long, an e-mail it does not take) fails the person here, naming
 * the field and the limit, before anything is sent.
 */
export function desired(person: PersonContext, cfg: MoodleConfig): Desired | null {
  if (!person.entitled) return null;
  const enrolments = desiredEnrolments(person, cfg);
  const user = desiredUser(person, cfg);
  validateUser(person.id, user);
  return { user, ...(enrolments ? { enrolments } : {}) };
}
