/**
 * Pure: desired vs. actual → operations, the seed's "match and update Moodle" and "enroll in
 * courses" steps as data.
 */
import type { AttributeChange, Operation, OperationDeclarations, Plan } from '../../spi/index.js';
import type { MoodleConfig } from './config.js';
import { courseInScope } from './course-id.js';
import type { Desired, DesiredEnrolment, DesiredUser } from './desired.js';
import type { Actual, MoodleAccount, Payload, UserUpdate } from './types.js';

/** The operations Moodle plans beyond the core's, and the run-report counters they add. */
/** enrol/unenrol a course (coursesAdded/coursesRemoved); role: give or take one role in a course the person stays in. */
export const MOODLE_OPERATIONS = {
  kinds: ['enrol', 'unenrol', 'role'], counters: ['coursesAdded', 'coursesRemoved', 'rolesChanged'],
} as const satisfies OperationDeclarations;
export type MoodleKind = (typeof MOODLE_OPERATIONS.kinds)[number];
export type MoodleOperation = Operation<Payload, MoodleKind>;

const ALWAYS_SENSITIVE = /password|pwd|secret|token|nationalid|fnr|ssno/i;
const REDACTED = '[redacted]';

/** The profile field's name in changes, as Moodle's own upload and forms name it. */
export const profileFieldName = (shortname: string) => `profile_field_${shortname}`;

/** Moodle user fields tilgang compares one by one (names are compared below, as one fullname when must). */
const PLAIN_FIELDS = ['username', 'email', 'auth', 'idnumber', 'department', 'institution'] as const;

/** The directory attribute a Moodle field is made from: its values are redacted in changes when that attribute is sensitive. */
function sourceAttribute(field: string, cfg: MoodleConfig): string | null {
  switch (field) {
    case 'username': return cfg.attributes.username;
    case 'email': return cfg.attributes.email;
    case 'firstname': return cfg.attributes.firstname;
    case 'lastname': return cfg.attributes.lastname;
    case 'idnumber': return cfg.attributes.idnumber;
    default: return field.startsWith('profile_field_') ? cfg.attributes.studentId : null;
  }
}

function change(field: string, from: string | null, to: string | null, cfg: MoodleConfig, sensitive: readonly string[]): AttributeChange {
  const src = sourceAttribute(field, cfg);
  const secret = src !== null && (ALWAYS_SENSITIVE.test(src) || sensitive.some((s) => s.toLowerCase() === src.toLowerCase()));
  const show = (v: string | null) => (v === null ? null : secret ? REDACTED : v);
  return { attribute: field, from: show(from), to: show(to) };
}

/**
 * The fields to send and the changes to show. Only what differs is sent. Moodle shows the
 * web-service user another user's firstname/lastname only with moodle/site:viewfullnames; without
 * it only `fullname` ("firstname lastname") comes back, and a difference there sends both names.
 */
export function userDiff(d: DesiredUser, a: MoodleAccount, cfg: MoodleConfig, sensitive: readonly string[]): { fields: UserUpdate; changes: AttributeChange[] } {
  const fields: UserUpdate = {};
  const changes: AttributeChange[] = [];
  for (const f of PLAIN_FIELDS) {
    const want = d[f];
    if (want === undefined || want === a[f]) continue;
    fields[f] = want;
    changes.push(change(f, a[f], want, cfg, sensitive));
  }
  if (a.firstname !== undefined && a.lastname !== undefined) {
    for (const f of ['firstname', 'lastname'] as const) {
      if (d[f] === a[f]) continue;
      fields[f] = d[f];
      changes.push(change(f, a[f]!, d[f], cfg, sensitive));
    }
  } else if (`${d.firstname} ${d.lastname}` !== a.fullname) {
    fields.firstname = d.firstname;
    fields.lastname = d.lastname;
    changes.push(change('firstname', null, d.firstname, cfg, sensitive), change('lastname', null, d.lastname, cfg, sensitive));
  }
  const pf = cfg.heldBy.studentIdField;
  if (pf && d.studentId !== undefined && d.studentId !== (a.profile[pf] ?? '')) {
    fields.customfields = [{ type: pf, value: d.studentId }];
    changes.push(change(profileFieldName(pf), a.profile[pf] ?? '', d.studentId, cfg, sensitive));
  }
  return { fields, changes };
}

function createChanges(d: DesiredUser, cfg: MoodleConfig, sensitive: readonly string[]): AttributeChange[] {
  const out: AttributeChange[] = [];
  for (const f of ['username', 'email', 'firstname', 'lastname', 'auth', 'idnumber', 'department', 'institution'] as const) {
    const v = d[f];
    if (v !== undefined && v !== '') out.push(change(f, null, v, cfg, sensitive));
  }
  const pf = cfg.heldBy.studentIdField;
  if (pf && d.studentId) out.push(change(profileFieldName(pf), null, d.studentId, cfg, sensitive));
  return out;
}

const label = (e: { course: string; role: string }) => `${e.course} as ${e.role}`;

/** A role id by the name tilgang gives it (student/teacher), else `role <id>`. */
function roleName(roleid: number, cfg: MoodleConfig): string {
  if (roleid === cfg.roles.teacher) return 'teacher';
  if (roleid === cfg.roles.student) return 'student';
  return `role ${roleid}`;
}

/**
 * Enrol in what MV says and Moodle lacks; unenrol from managed courses MV no longer lists; in a
 * course the person is in with another role, give the role MV says (enrolling again with another
 * role adds it, recorded B27) and take away the managed roles (student, teacher) MV no longer
 * gives there; roles tilgang does not manage stay. Only courses of the semesters in scope
 * (`actual.from` on) are touched: a past semester's courses keep their people. Courses not in
 * Moodle yet are returned apart: reported, not failed.
 */
export function enrolmentPlan(desired: DesiredEnrolment[] | undefined, actual: Actual, userid: number | undefined, cfg: MoodleConfig): { ops: MoodleOperation[]; waiting: DesiredEnrolment[] } {
  if (!desired) return { ops: [], waiting: [] };
  const ops: MoodleOperation[] = [];
  const waiting: DesiredEnrolment[] = [];
  const enrolled = new Map(actual.enrolled.filter((c) => courseInScope(c.idnumber, actual.from)).map((c) => [c.idnumber, c]));
  const wanted = desired.filter((e) => courseInScope(e.course, actual.from));
  const wantedRoles = new Map<string, Set<number>>();
  for (const e of wanted) wantedRoles.set(e.course, (wantedRoles.get(e.course) ?? new Set()).add(e.roleid));
  for (const e of wanted) {
    const have = enrolled.get(e.course);
    if (have) {
      if (have.roles === undefined || have.roles.includes(e.roleid) || userid === undefined) continue;
      ops.push({
        kind: 'role', counter: 'rolesChanged', detail: `give the ${e.role} role in ${e.course}`,
        changes: [{ attribute: 'role', from: null, to: `${e.course} ${e.role}` }],
        payload: { action: 'enrol', userid, courseid: have.id, roleid: e.roleid, course: e.course },
      });
      continue;
    }
    const courseid = actual.courses[e.course];
    if (courseid == null) {
      waiting.push(e);
      continue;
    }
    ops.push({
      kind: 'enrol', counter: 'coursesAdded', detail: `enrol in ${label(e)}`,
      changes: [{ attribute: 'enrolment', from: null, to: `${e.course} ${e.role}` }],
      payload: { action: 'enrol', ...(userid !== undefined ? { userid } : {}), courseid, roleid: e.roleid, course: e.course },
    });
  }
  if (userid === undefined) return { ops, waiting };
  const managedRoles = new Set([cfg.roles.student, cfg.roles.teacher]);
  for (const c of enrolled.values()) {
    const roles = wantedRoles.get(c.idnumber);
    if (!roles) {
      ops.push({
        kind: 'unenrol', counter: 'coursesRemoved', destructive: true, detail: `unenrol from ${c.idnumber}`,
        changes: [{ attribute: 'enrolment', from: c.idnumber, to: null }],
        payload: { action: 'unenrol', userid, courseid: c.id, course: c.idnumber },
      });
      continue;
    }
    for (const r of c.roles ?? []) {
      if (!managedRoles.has(r) || roles.has(r)) continue;
      const name = roleName(r, cfg);
      ops.push({
        kind: 'role', counter: 'rolesChanged', destructive: true, detail: `take the ${name} role in ${c.idnumber} away`,
        changes: [{ attribute: 'role', from: `${c.idnumber} ${name}`, to: null }],
        payload: { action: 'unassign', userid, courseid: c.id, roleid: r, course: c.idnumber },
      });
    }
  }
  return { ops, waiting };
}

function waitingOps(waiting: DesiredEnrolment[]): MoodleOperation[] {
  return waiting.map((e) => ({ kind: 'enrol', detail: `not enrolled in ${label(e)}: the course is not in Moodle yet`, payload: { action: 'wait', course: e.course } }));
}

const waitingReason = (waiting: DesiredEnrolment[]) =>
  `course${waiting.length > 1 ? 's' : ''} not in Moodle yet: ${waiting.map(label).join(', ')}`;

/**
 * Pure: the plan. Create only when entitled; update only what differs; suspend when no longer
 * entitled (destructive), unsuspend when entitled again; never delete. A suspended person's
 * enrolments are left as they are (their course history stays).
 */
export function planMoodle(desired: Desired | null, actual: Actual, cfg: MoodleConfig, sensitive: readonly string[]): Plan<Payload, MoodleKind> {
  const a = actual.account;
  if (!a) {
    if (!desired) return { operations: [], skipReason: 'not entitled to Moodle and no Moodle account' };
    const { ops, waiting } = enrolmentPlan(desired.enrolments, actual, undefined, cfg);
    return {
      operations: [
        { kind: 'create', detail: `create Moodle user ${desired.user.username}`, changes: createChanges(desired.user, cfg, sensitive), payload: { action: 'create', user: desired.user } },
        ...ops, ...waitingOps(waiting),
      ],
    };
  }
  const accountId = String(a.id);
  if (!desired) {
    if (a.suspended) return { operations: [], accountId };
    return {
      accountId,
      operations: [{
        kind: 'disable', destructive: true, detail: `suspend Moodle user ${a.username}: no longer entitled`,
        changes: [{ attribute: 'suspended', from: 'false', to: 'true' }],
        payload: { action: 'update', userid: a.id, fields: { suspended: true } },
      }],
    };
  }
  const ops: MoodleOperation[] = [];
  const { fields, changes } = userDiff(desired.user, a, cfg, sensitive);
  if (changes.length) ops.push({ kind: 'update', detail: `update Moodle user ${a.username}: ${changes.map((c) => c.attribute).join(', ')}`, changes, payload: { action: 'update', userid: a.id, fields } });
  if (a.suspended) {
    ops.push({
      kind: 'enable', detail: `unsuspend Moodle user ${a.username}: entitled again`,
      changes: [{ attribute: 'suspended', from: 'true', to: 'false' }],
      payload: { action: 'update', userid: a.id, fields: { suspended: false } },
    });
  }
  const { ops: enrolOps, waiting } = enrolmentPlan(desired.enrolments, actual, a.id, cfg);
  ops.push(...enrolOps);
  if (!ops.length) return waiting.length ? { operations: [], accountId, skipReason: waitingReason(waiting) } : { operations: [], accountId };
  return { operations: [...ops, ...waitingOps(waiting)], accountId };
}
