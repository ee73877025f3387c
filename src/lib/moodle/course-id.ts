/**
 * The idnumber of a Moodle course tilgang manages: one course per MV topic and semester.
 *
 *   <institution>:<code>:<version>:<year>:<term>     e.g. 1120:INF100:1:2026:HØST
 *
 * i.e. the topic's source id (`institution:code:version`, as in master_topics) followed by the
 * semester. A course whose idnumber has this shape is *managed*: tilgang enrols and unenrols in it.
 * Every other course (hand-made, the template course, another integration's) is never touched.
 * The users flow and the courses flow both name a course with `courseIdnumber` and nothing else.
 */
import { parseSemester, semesterOf, semesterOrdinal, type Semester, type Term } from '../semester.js';

export { parseSemester, semesterOf, type Semester, type Term };

export interface CourseKey {
  /** master_topics.source_id: institution:code:version */
  sourceId: string;
  year: number;
  term: Term;
}

const SOURCE_ID = /^[0-9]+:[^:\s]+:[0-9]+$/;
// Moodle stores the idnumber as sent; the course code never contains a colon or whitespace.
const IDNUMBER = /^([0-9]+:[^:\s]+:[0-9]+):([0-9]{4}):(VÅR|HØST)$/;

export function courseIdnumber(k: CourseKey): string {
  if (!SOURCE_ID.test(k.sourceId)) throw new Error(`not a source id (institution:code:version): ${k.sourceId}`);
  if (!Number.isInteger(k.year) || k.year < 1000 || k.year > 9999) throw new Error(`not a year: ${k.year}`);
  if (k.term !== 'VÅR' && k.term !== 'HØST') throw new Error(`not a term (VÅR or HØST): ${String(k.term)}`);
  return `${k.sourceId}:${k.year}:${k.term}`;
}

/** The course key of a managed course's idnumber; undefined for any course tilgang does not manage. */
export function parseCourseIdnumber(idnumber: string | null | undefined): CourseKey | undefined {
  // Compare in NFC: a course made by hand in Moodle's form may carry a decomposed Ø/Å.
  const m = IDNUMBER.exec((idnumber ?? '').normalize('NFC'));
  if (!m) return undefined;
  return { sourceId: m[1]!, year: Number(m[2]), term: m[3] as Term };
}

export function isManagedCourse(idnumber: string | null | undefined): boolean {
  return parseCourseIdnumber(idnumber) !== undefined;
}

/** Whether a managed course belongs to `from` or a later semester (the ones tilgang manages enrolments in). */
export function courseInScope(idnumber: string, from: Semester | undefined): boolean {
  const k = parseCourseIdnumber(idnumber);
  if (!k) return false;
  return from === undefined || semesterOrdinal(k) >= semesterOrdinal(from);
}
