import type { Semester } from './course-id.js';
import type { DesiredUser } from './desired.js';

/** A Moodle account as get_users_by_field shows it to the web-service user, with absent fields as ''. */
export interface MoodleAccount {
  id: number;
  username: string;
  /** Always returned; firstname/lastname only when the token user holds moodle/site:viewfullnames. */
  fullname: string;
  firstname?: string;
  lastname?: string;
  email: string;
  idnumber: string;
  department: string;
  institution: string;
  auth: string;
  suspended: boolean;
  /** Custom profile fields by shortname (only non-empty ones are returned). */
  profile: Record<string, string>;
}

export interface EnrolledCourse {
  id: number;
  /** The course's idnumber (NFC); only managed courses are kept. */
  idnumber: string;
  /**
   * Role ids the user holds in the course, when read (a course the person should be in);
   * undefined for a course only listed (one to leave, where the roles do not matter).
   */
  roles?: number[];
}

/** What Moodle holds for a person, read before planning. */
export interface Actual {
  account: MoodleAccount | null;
  /** The account's active enrolments in managed courses of the semesters in scope (empty without an account). */
  enrolled: EnrolledCourse[];
  /** Moodle course id of each desired course by idnumber; null: no such course in Moodle (yet). */
  courses: Record<string, number | null>;
  /** The first semester whose courses tilgang manages enrolments in; absent: every semester. */
  from?: Semester;
}

/** The fields core_user_update_users takes that tilgang sets. */
export interface UserUpdate {
  username?: string;
  email?: string;
  firstname?: string;
  lastname?: string;
  auth?: string;
  idnumber?: string;
  department?: string;
  institution?: string;
  suspended?: boolean;
  customfields?: { type: string; value: string }[];
}

/** What apply needs for one operation (not published). */
export type Payload =
  | { action: 'create'; user: DesiredUser }
  | { action: 'update'; userid: number; fields: UserUpdate }
  /** userid absent: the account is created by the same plan. Enrolling an enrolled user with another role adds that role. */
  | { action: 'enrol'; userid?: number; courseid: number; roleid: number; course: string }
  /** Take one role away in a course (core_role_unassign_roles); the enrolment stays. */
  | { action: 'unassign'; userid: number; courseid: number; roleid: number; course: string }
  | { action: 'unenrol'; userid: number; courseid: number; course: string }
  /** The course is not in Moodle yet: reported, nothing is sent. */
  | { action: 'wait'; course: string };
