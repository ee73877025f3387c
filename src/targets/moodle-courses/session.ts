/**
 * The connection the courses target hands around: the web-service client, the template's id, and
 * the category ids found or made (categories are never deleted, so a found id stays right).
 */
import { MoodleError, type MoodleCategory, type MoodleClient, type MoodleCourse, type MoodleCoursesResult } from '../../lib/moodle/client.js';
import { TerminalError } from '../../spi/index.js';
import type { MoodleCoursesConfig } from './config.js';
import type { DesiredCourse } from './desired.js';
import type { ActualCourse, CourseView } from './plan.js';

type FullCourse = MoodleCourse & { idnumber?: string; startdate?: number; enddate?: number };

const view = (c: FullCourse): CourseView => ({
  id: c.id, shortname: c.shortname, fullname: c.fullname, idnumber: (c.idnumber ?? '').normalize('NFC'), categoryid: c.categoryid,
  startdate: c.startdate ?? 0, enddate: c.enddate ?? 0,
});

export class CourseSession {
  private template?: number;
  private readonly categories = new Map<string, number>();
  /** Categories being made by this process: a second course needing one waits for the first's call. */
  private readonly making = new Map<string, Promise<{ id: number; made: boolean }>>();

  constructor(readonly ws: MoodleClient, readonly cfg: MoodleCoursesConfig) {}

  async close(): Promise<void> {
    await this.ws.close();
  }

  /** The template course's id; a TerminalError when the site has no course of that shortname. */
  async templateId(): Promise<number> {
    if (this.template !== undefined) return this.template;
    const r = await this.ws.call<MoodleCoursesResult>('core_course_get_courses_by_field', { field: 'shortname', value: this.cfg.template });
    const t = r.courses[0];
    if (!t) throw new TerminalError(`targets.moodle-courses: the template course "${this.cfg.template}" (template) is not in Moodle: no course would get its content`, 'template-missing', 'template');
    this.template = t.id;
    return t.id;
  }

  /** A category's id by idnumber, or null. */
  async categoryId(idnumber: string): Promise<number | null> {
    const known = this.categories.get(idnumber);
    if (known !== undefined) return known;
    const found = await this.ws.call<MoodleCategory[]>('core_course_get_categories', { criteria: [{ key: 'idnumber', value: idnumber }], addsubcategories: false });
    const c = found.find((x) => (x.idnumber ?? '').normalize('NFC') === idnumber);
    if (!c) return null;
    this.categories.set(idnumber, c.id);
    return c.id;
  }

  /**
   * Makes the category unless it exists: one call per category in this process, and when another
   * worker made it meanwhile (categoryidnumbertaken), the one it made. `made` says whether this call made it.
   */
  ensureCategory(idnumber: string, name: string, parent: number): Promise<{ id: number; made: boolean }> {
    const known = this.categories.get(idnumber);
    if (known !== undefined) return Promise.resolve({ id: known, made: false });
    let p = this.making.get(idnumber);
    if (p) return p.then((r) => ({ id: r.id, made: false }));
    p = (async () => {
      try {
        const [made] = await this.ws.call<{ id: number }[]>('core_course_create_categories', { categories: [{ name, parent, idnumber }] });
        this.categories.set(idnumber, made!.id);
        return { id: made!.id, made: true };
      } catch (e) {
        if (!(e instanceof MoodleError) || e.errorcode !== 'categoryidnumbertaken') throw e;
        const id = await this.categoryId(idnumber);
        if (id === null) throw new TerminalError(`category ${idnumber}: Moodle says the idnumber is taken, yet no category has it`, 'category');
        return { id, made: false };
      } finally {
        this.making.delete(idnumber);
      }
    })();
    this.making.set(idnumber, p);
    return p;
  }

  async courseBy(field: 'idnumber' | 'shortname', value: string): Promise<FullCourse[]> {
    const r = await this.ws.call<MoodleCoursesResult>('core_course_get_courses_by_field', { field, value });
    return r.courses as FullCourse[];
  }

  /** What Moodle has of the course: by idnumber, else by shortname (a course whose import did not finish). */
  async actual(topic: string, d: DesiredCourse | null): Promise<ActualCourse> {
    const template = await this.templateId();
    if (!d) return { template, categories: {}, course: null, pending: null };
    const byId = await this.courseBy('idnumber', d.idnumber);
    if (byId.length > 1) throw new TerminalError(`topic ${topic}: ${byId.length} Moodle courses carry the idnumber ${d.idnumber}: ${byId.map((c) => `${c.shortname} (id ${c.id})`).join(' and ')}`, 'duplicate', 'idnumber');
    if (byId[0]) return { template, categories: {}, course: view(byId[0]), pending: null };
    const [semester, type] = await Promise.all([this.categoryId(d.semester.idnumber), this.categoryId(d.type.idnumber)]);
    const categories = { [d.semester.idnumber]: semester, [d.type.idnumber]: type };
    const byName = (await this.courseBy('shortname', d.shortname))[0];
    if (!byName) return { template, categories, course: null, pending: null };
    const c = view(byName);
    if (c.idnumber === '' && type !== null && c.categoryid === type) return { template, categories, course: null, pending: c };
    throw new TerminalError(
      `topic ${topic}: the shortname ${d.shortname} is taken by the Moodle course id ${c.id} (${c.fullname}${c.idnumber ? `, idnumber ${c.idnumber}` : ', no idnumber'}), which tilgang did not make: rename one of them`,
      'duplicate', 'shortname');
  }
}
