/**
 * Pure planning: the categories a course needs, the course, the template's content, its people.
 *
 * A course is made in three calls, and its idnumber is given last: create it without an idnumber,
 * import the template into it, then set the idnumber. The idnumber is the mark that the course is
 * complete: the users target enrols only in courses it finds by idnumber, and a course found by
 * its shortname without an idnumber, in tilgang's category, is one whose import did not finish (a
 * crash, a timeout): the import is done again with deletecontent=1, which replaces the content
 * instead of adding to it, so a replay never duplicates the template's activities.
 */
import type { AttributeChange, CourseContext, Operation, OperationDeclarations, Plan } from '../../spi/index.js';
import type { DesiredCourse } from './desired.js';

export const COURSE_OPERATIONS = {
  kinds: ['category', 'import', 'reprocess'], counters: ['categoryAdd', 'templateImport'],
} as const satisfies OperationDeclarations;
export type CourseKind = (typeof COURSE_OPERATIONS.kinds)[number];

/** A course as tilgang compares it. */
export interface CourseView {
  id: number;
  shortname: string;
  fullname: string;
  idnumber: string;
  categoryid: number;
  startdate: number;
  enddate: number;
}

export interface ActualCourse {
  /** The template course's id. */
  template: number;
  /** Category ids by idnumber; null when Moodle has none. */
  categories: Record<string, number | null>;
  /** The course by its idnumber: complete. */
  course: CourseView | null;
  /** The course by its shortname, without an idnumber, in the course type's category: made, template not yet imported. */
  pending: CourseView | null;
}

export type Payload =
  | { action: 'category'; idnumber: string; name: string; parent: string | null }
  | { action: 'create'; course: DesiredCourse }
  | { action: 'import'; course: DesiredCourse; template: number; courseId: number | null }
  | { action: 'reprocess'; people: string[] }
  | { action: 'update'; id: number; fullname: string; startdate: number; enddate: number };

export type CourseOperation = Operation<Payload, CourseKind>;

const isoDay = (t: number): string => new Date(t * 1000).toISOString().slice(0, 10);

/** Pure: the operations that make the actual course the desired one. */
export function planCourse(d: DesiredCourse | null, a: ActualCourse, s: CourseContext): Plan<Payload, CourseKind> {
  if (!d) return { operations: [], skipReason: `topic ${s.id} is not active (status ${s.topic.status}): no course is made for it`, ...(a.course ? { accountId: String(a.course.id) } : {}) };
  if (a.course) {
    const changes: AttributeChange[] = [];
    if (a.course.fullname !== d.fullname) changes.push({ attribute: 'fullname', from: a.course.fullname, to: d.fullname });
    if (a.course.startdate !== d.startdate) changes.push({ attribute: 'startdate', from: isoDay(a.course.startdate), to: isoDay(d.startdate) });
    if (a.course.enddate !== d.enddate) changes.push({ attribute: 'enddate', from: isoDay(a.course.enddate), to: isoDay(d.enddate) });
    if (!changes.length) return { operations: [], accountId: String(a.course.id) };
    return {
      accountId: String(a.course.id),
      operations: [{
        kind: 'update', changes, detail: `update course ${a.course.shortname}: ${changes.map((c) => c.attribute).join(', ')}`,
        payload: { action: 'update', id: a.course.id, fullname: d.fullname, startdate: d.startdate, enddate: d.enddate },
      }],
    };
  }
  const ops: CourseOperation[] = [];
  if (!a.pending) {
    for (const [cat, parent] of [[d.semester, null], [d.type, d.semester.idnumber]] as const) {
      if (a.categories[cat.idnumber] != null) continue;
      ops.push({
        kind: 'category', counter: 'categoryAdd', detail: `create category ${parent ? `${d.semester.name} / ` : ''}${cat.name} (${cat.idnumber})`,
        payload: { action: 'category', idnumber: cat.idnumber, name: cat.name, parent },
      });
    }
    ops.push({
      kind: 'create', detail: `create course ${d.shortname} (${d.fullname}) in ${d.semester.name} / ${d.type.name}`,
      changes: [
        { attribute: 'shortname', from: null, to: d.shortname }, { attribute: 'fullname', from: null, to: d.fullname },
        { attribute: 'idnumber', from: null, to: d.idnumber }, { attribute: 'startdate', from: null, to: isoDay(d.startdate) },
        { attribute: 'enddate', from: null, to: isoDay(d.enddate) },
      ],
      payload: { action: 'create', course: d },
    });
  }
  ops.push({
    kind: 'import', counter: 'templateImport',
    detail: `import the template course into ${d.shortname}${a.pending ? ` (id ${a.pending.id}: made, template not imported yet)` : ''}, then give it its idnumber`,
    payload: { action: 'import', course: d, template: a.template, courseId: a.pending?.id ?? null },
  });
  if (!s.event.skipUsers && d.people.length) {
    ops.push({ kind: 'reprocess', detail: `reprocess the course's ${d.people.length} ${d.people.length === 1 ? 'person' : 'people'}`, payload: { action: 'reprocess', people: d.people } });
  }
  return { operations: ops, ...(a.pending ? { accountId: String(a.pending.id) } : {}) };
}
