/**
 * Applying one course's plan, in order: its categories, the course (without an idnumber), the
 * template's content, then the idnumber, and the people to reprocess. A transient failure throws,
 * and the runtime reads and plans the course again: what was done is not done twice (a category
 * found by idnumber, a course found by shortname without an idnumber gets only the import).
 */
import { isTransient, TerminalError, type CourseContext, type OperationResult, type Plan } from '../../spi/index.js';
import { MoodleError, type MoodleWarning } from '../../lib/moodle/client.js';
import type { CourseKind, Payload } from './plan.js';
import type { CourseSession } from './session.js';

const reason = (e: unknown): string => e instanceof MoodleError ? `${e.wsfunction}: ${e.errorcode}: ${e.message}` : (e as Error).message ?? String(e);

export async function applyCourse(plan: Plan<Payload, CourseKind>, s: CourseSession, subject: CourseContext): Promise<OperationResult[]> {
  const results: OperationResult[] = [];
  let courseId: number | null = null;
  let failed: string | undefined;
  for (const op of plan.operations) {
    const p = op.payload!;
    if (failed) {
      results.push({ outcome: 'SKIPPED', error: `not attempted: ${failed}` });
      continue;
    }
    try {
      switch (p.action) {
        case 'category': {
          const parent = p.parent === null ? 0 : await s.categoryId(p.parent);
          if (parent === null) throw new TerminalError(`category ${p.parent} (parent of ${p.idnumber}) is not in Moodle`, 'category');
          const r = await s.ensureCategory(p.idnumber, p.name, parent);
          results.push(r.made ? { outcome: 'APPLIED' } : { outcome: 'SKIPPED', error: `category ${p.idnumber} was made meanwhile (id ${r.id})` });
          break;
        }
        case 'create': {
          const c = p.course;
          const category = await s.categoryId(c.type.idnumber);
          if (category === null) throw new TerminalError(`category ${c.type.idnumber} is not in Moodle`, 'category');
          try {
            const [made] = await s.ws.call<{ id: number }[]>('core_course_create_courses', {
              courses: [{ fullname: c.fullname, shortname: c.shortname, categoryid: category, startdate: c.startdate, enddate: c.enddate, visible: c.visible ? 1 : 0 }],
            });
            courseId = made!.id;
          } catch (e) {
            // Made by an earlier try whose answer was lost: that course is ours if it is where ours would be, without an idnumber.
            if (!(e instanceof MoodleError) || e.errorcode !== 'shortnametaken') throw e;
            const found = (await s.courseBy('shortname', c.shortname))[0];
            if (!found || (found.idnumber ?? '') !== '' || found.categoryid !== category) {
              throw new TerminalError(`topic ${subject.id}: the shortname ${c.shortname} is taken by the Moodle course id ${found?.id ?? '?'}, which tilgang did not make`, 'duplicate', 'shortname');
            }
            courseId = found.id;
          }
          results.push({ outcome: 'APPLIED', accountId: String(courseId) });
          break;
        }
        case 'import': {
          const id = courseId ?? p.courseId;
          if (id === null) throw new TerminalError('no course to import into', 'import');
          // deletecontent=1: the content is replaced, never added to, however often this runs.
          await s.ws.call('core_course_import_course', { importfrom: p.template, importto: id, deletecontent: 1 });
          const r = await s.ws.call<{ warnings: MoodleWarning[] }>('core_course_update_courses', { courses: [{ id, idnumber: p.course.idnumber }] });
          const w = r.warnings.find((x) => x.itemid === id) ?? r.warnings[0];
          if (w) throw new TerminalError(`course ${p.course.shortname} (id ${id}): the template was imported, but Moodle refused its idnumber ${p.course.idnumber}: ${w.warningcode}: ${w.message}`, w.warningcode, 'idnumber');
          results.push({ outcome: 'APPLIED', accountId: String(id) });
          break;
        }
        case 'reprocess':
          results.push({ outcome: 'APPLIED', reprocess: { people: p.people, targets: s.cfg.reprocessTargets } });
          break;
        case 'update': {
          const r = await s.ws.call<{ warnings: MoodleWarning[] }>('core_course_update_courses', {
            courses: [{ id: p.id, fullname: p.fullname, startdate: p.startdate, enddate: p.enddate }],
          });
          const w = r.warnings[0];
          results.push(w ? { outcome: 'FAILED', error: `core_course_update_courses: ${w.warningcode}: ${w.message}` } : { outcome: 'APPLIED', accountId: String(p.id) });
          if (w) failed = `the update failed`;
          break;
        }
      }
    } catch (e) {
      if (isTransient(e)) throw e;
      results.push({ outcome: 'FAILED', error: reason(e) });
      failed = `${op.kind} failed`;
    }
  }
  return results;
}
