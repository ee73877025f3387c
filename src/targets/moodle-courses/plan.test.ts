import { describe, expect, it } from 'vitest';
import type { CatalogueTopic, CourseContext } from '../../spi/index.js';
import { MoodleCoursesConfig } from './config.js';
import { desiredCourse } from './desired.js';
import { planCourse, type ActualCourse } from './plan.js';

const cfg = MoodleCoursesConfig.parse({ url: 'https://lms.example.org', token: { env: 'X' }, template: 'TEMPLATE' });
const topic = (over: Partial<CatalogueTopic> = {}): CatalogueTopic => ({
  sourceId: '1120:INF100:1', institution: '1120', code: 'INF100', version: 1, nameNb: 'Programmering', nameEn: 'Programming',
  emnetype: 'EMNE', term: 'VÅR', year: 2027, stedkode: '121000', status: 'active', people: ['p1', 'p2'], ...over,
});
const ctx = (t: CatalogueTopic, skipUsers = false): CourseContext => ({
  id: t.sourceId, topic: t, entitled: true, event: { eventId: 'e', sourceId: t.sourceId, changeType: 'CHANGED', changeTime: 0, skipUsers },
});
const none: ActualCourse = { template: 2, categories: {}, course: null, pending: null };

describe('desired course', () => {
  it('names, dates and categories from the topic and its semester', () => {
    expect(desiredCourse(topic(), cfg)).toEqual({
      shortname: 'INF100-2027-VÅR', fullname: 'Programmering', idnumber: '1120:INF100:1:2027:VÅR',
      startdate: Date.UTC(2027, 0, 1) / 1000, enddate: Date.UTC(2027, 5, 30, 23, 59, 59) / 1000, visible: true,
      semester: { idnumber: 'tilgang:2027:VÅR', name: 'Vår 2027' }, type: { idnumber: 'tilgang:2027:VÅR:EMNE', name: 'EMNE' }, people: ['p1', 'p2'],
    });
    const en = MoodleCoursesConfig.parse({ ...cfg, language: 'en', shortname: '{institution}-{code}-{version}-{year}{term}' });
    expect(desiredCourse(topic({ term: 'HØST' }), en)).toMatchObject({ shortname: '1120-INF100-1-2027HØST', fullname: 'Programming', semester: { name: 'Autumn 2027' } });
  });

  it('no course for a topic that is not active', () => {
    expect(desiredCourse(topic({ status: 'inactive' }), cfg)).toBeNull();
    expect(planCourse(null, none, ctx(topic({ status: 'inactive' })))).toMatchObject({ operations: [], skipReason: expect.stringContaining('not active') });
  });
});

describe('course plan', () => {
  const d = desiredCourse(topic(), cfg)!;
  const kinds = (a: ActualCourse, skipUsers = false) => planCourse(d, a, ctx(topic(), skipUsers)).operations.map((o) => [o.kind, o.counter ?? null]);

  it('a new semester: both categories, the course, the template, its people', () => {
    expect(kinds(none)).toEqual([['category', 'categoryAdd'], ['category', 'categoryAdd'], ['create', null], ['import', 'templateImport'], ['reprocess', null]]);
    expect(kinds({ ...none, categories: { 'tilgang:2027:VÅR': 5, 'tilgang:2027:VÅR:EMNE': 6 } }, true)).toEqual([['create', null], ['import', 'templateImport']]);
  });

  it('a course made but without its idnumber: the import only', () => {
    const pending = { id: 9, shortname: d.shortname, fullname: 'x', idnumber: '', categoryid: 6, startdate: 0, enddate: 0 };
    expect(kinds({ ...none, pending })).toEqual([['import', 'templateImport'], ['reprocess', null]]);
  });

  it('an existing course: nothing, or an update of a changed name or date', () => {
    const course = { id: 9, shortname: d.shortname, fullname: d.fullname, idnumber: d.idnumber, categoryid: 6, startdate: d.startdate, enddate: d.enddate };
    expect(planCourse(d, { ...none, course }, ctx(topic()))).toEqual({ operations: [], accountId: '9' });
    const p = planCourse(d, { ...none, course: { ...course, fullname: 'Old', enddate: d.enddate - 86400 } }, ctx(topic()));
    expect(p.operations.map((o) => [o.kind, o.changes])).toEqual([['update', [
      { attribute: 'fullname', from: 'Old', to: 'Programmering' }, { attribute: 'enddate', from: '2027-06-29', to: '2027-06-30' },
    ]]]);
  });
});
