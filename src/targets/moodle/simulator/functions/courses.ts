/**
 * core_course_get_courses_by_field, core_course_create_courses, core_course_update_courses, core_course_get_categories,
 * core_course_create_categories, core_course_import_course (Moodle 4.5 course/externallib.php,
 * course/lib.php create_course(), core_course_category::create()).
 */
import { invalidParameter, missingRecord, moodleException, WsException } from '../errors.js';
import { cleanParam, files, formatValue, multiple, single, value, warnings, type Val } from '../external.js';
import { phpEmpty, phpIntval, phpTrim, type Json } from '../php.js';
import {
  courseImageUrl, formatString, formatText, fullname, type CallContext, type WsFunction,
} from '../site.js';
import type { CategoryRec, CourseRec } from '../state.js';

/** `get_course_structure(false)`. */
const courseStructure = single({
  id: value('int'),
  fullname: value('raw'),
  displayname: value('raw'),
  shortname: value('raw'),
  courseimage: value('url', 'optional'),
  categoryid: value('int'),
  categoryname: value('raw'),
  sortorder: value('int', 'optional'),
  summary: value('raw'),
  summaryformat: formatValue(),
  summaryfiles: files('optional'),
  overviewfiles: files('required'),
  showactivitydates: value('bool'),
  showcompletionconditions: value('bool'),
  contacts: multiple(single({ id: value('int'), fullname: value('notags') })),
  enrollmentmethods: multiple(value('plugin')),
  customfields: multiple(single({
    name: value('raw'), shortname: value('raw'), type: value('alphanumext'), valueraw: value('raw'), value: value('raw'),
  }), 'optional'),
  idnumber: value('raw', 'optional'),
  format: value('plugin', 'optional'),
  showgrades: value('int', 'optional'),
  newsitems: value('int', 'optional'),
  startdate: value('int', 'optional'),
  enddate: value('int', 'optional'),
  maxbytes: value('int', 'optional'),
  showreports: value('int', 'optional'),
  visible: value('int', 'optional'),
  groupmode: value('int', 'optional'),
  groupmodeforce: value('int', 'optional'),
  defaultgroupingid: value('int', 'optional'),
  enablecompletion: value('int', 'optional'),
  completionnotify: value('int', 'optional'),
  lang: value('safedir', 'optional'),
  theme: value('plugin', 'optional'),
  marker: value('int', 'optional'),
  legacyfiles: value('int', 'optional'),
  calendartype: value('plugin', 'optional'),
  timecreated: value('int', 'optional'),
  timemodified: value('int', 'optional'),
  requested: value('int', 'optional'),
  cacherev: value('int', 'optional'),
  filters: multiple(single({ filter: value('plugin'), localstate: value('int'), inheritedstate: value('int') }), 'optional'),
  courseformatoptions: multiple(single({ name: value('raw'), value: value('raw') }), 'optional'),
  communicationroomname: value('text', 'optional'),
  communicationroomurl: value('raw', 'optional'),
});

/** The site's enabled text filters (filter_get_available_in_context), all inherited. */
const FILTERS = ['displayh5p', 'activitynames', 'mathjaxloader', 'emoticon', 'urltolink', 'mediaplugin'];

/** Format options each course format exposes through get_config_for_external(). */
const FORMAT_OPTIONS: Record<string, Record<string, 'int' | 'string'>> = {
  topics: { hiddensections: 'int', coursedisplay: 'int', indentation: 'string' },
  weeks: { hiddensections: 'int', coursedisplay: 'int', automaticenddate: 'int', indentation: 'string' },
  social: { numdiscussions: 'int' },
  singleactivity: { activitytype: 'string' },
};
const FORMAT_DEFAULTS: Record<string, Record<string, number | string>> = {
  topics: { hiddensections: 1, coursedisplay: 0, indentation: '1' },
  weeks: { hiddensections: 1, coursedisplay: 0, automaticenddate: 1, indentation: '1' },
  social: { numdiscussions: 10 },
  singleactivity: { activitytype: 'forum' },
};

/** Active manual enrolment, account not suspended, holding a course-contact role. */
function courseContacts(ctx: CallContext, c: CourseRec): Json[] {
  const now = ctx.now();
  return ctx.store.enrolmentsInCourse(c.id)
    .filter((e) => e.status === 0 && (e.timestart === 0 || e.timestart <= now) && (e.timeend === 0 || e.timeend > now))
    .filter((e) => e.roles.some((r) => ctx.site.courseContactRoles.has(r)))
    .map((e) => ctx.store.users.get(e.userid))
    .filter((u): u is NonNullable<typeof u> => !!u && u.deleted === 0 && u.suspended === 0)
    .sort((a, b) => a.id - b.id)
    .map((u) => ({ id: u.id, fullname: fullname(u) }));
}

export function courseDetails(ctx: CallContext, c: CourseRec, sortorderOf: (c: CourseRec) => number): Record<string, Json> {
  const category = ctx.store.categories.get(c.category);
  const [summary, summaryformat] = formatText(ctx, c.summary, c.summaryformat);
  const d: Record<string, Json> = {
    id: c.id,
    fullname: formatString(ctx, c.fullname),
    displayname: formatString(ctx, c.fullname),
    shortname: formatString(ctx, c.shortname),
    categoryid: c.category,
    categoryname: category ? formatString(ctx, category.name) : '',
    summary,
    summaryformat,
    summaryfiles: [],
    overviewfiles: [],
    contacts: courseContacts(ctx, c),
    enrollmentmethods: c.manual?.enabled ? ['manual'] : [],
    sortorder: sortorderOf(c),
    showactivitydates: c.showactivitydates,
    showcompletionconditions: c.showcompletionconditions,
    courseimage: courseImageUrl(ctx, c.contextid),
    filters: FILTERS.map((filter) => ({ filter, localstate: 0, inheritedstate: 1 })),
    format: c.format,
    showgrades: c.showgrades,
    newsitems: c.newsitems,
    startdate: c.startdate,
    enddate: c.enddate,
    maxbytes: c.maxbytes,
    showreports: c.showreports,
    visible: c.visible,
    groupmode: c.groupmode,
    groupmodeforce: c.groupmodeforce,
    defaultgroupingid: c.defaultgroupingid,
    enablecompletion: c.enablecompletion,
    completionnotify: c.completionnotify,
    lang: ctx.site.langs.has(c.lang) ? c.lang : '',
    theme: ctx.site.themes.has(c.theme) ? c.theme : '',
    marker: c.marker,
    idnumber: c.idnumber,
    legacyfiles: c.legacyfiles,
    calendartype: c.calendartype,
    timecreated: c.timecreated,
    timemodified: c.timemodified,
    requested: c.requested,
    cacherev: c.cacherev,
  };
  const options = Object.entries(c.formatoptions);
  if (options.length > 0) d.courseformatoptions = options.map(([name, v]) => ({ name, value: v }));
  // get_course_structure(): these only for a user who may update the course (recorded B04, B05).
  if (!ctx.site.capabilities.has('moodle/course:update')) {
    for (const k of MANAGER_FIELDS) delete d[k];
  }
  return d;
}

const MANAGER_FIELDS = ['idnumber', 'legacyfiles', 'calendartype', 'timecreated', 'timemodified', 'requested', 'cacherev'];

export const getCoursesByField: WsFunction = {
  name: 'core_course_get_courses_by_field',
  params: single({ field: value('alpha', 'default', ''), value: value('raw', 'default', '') }),
  returns: single({ courses: multiple(courseStructure), warnings: warnings() }),
  execute(ctx, p: { field: string; value: string }) {
    const { store } = ctx;
    let courses: CourseRec[];
    const warningsOut: Json[] = [];
    const all = [...store.courses.values()].sort((a, b) => a.id - b.id);
    if (phpEmpty(p.field)) {
      courses = all;
    } else {
      switch (p.field) {
        case 'id':
        case 'category': {
          const v = phpIntval(p.value);
          courses = all.filter((c) => (p.field === 'id' ? c.id : c.category) === v);
          break;
        }
        case 'sectionid':
          // Course sections are not modelled: no section id matches.
          courses = [];
          break;
        case 'ids': {
          const ids = String(cleanParam(p.value, 'sequence', ctx.site)).split(',');
          courses = [];
          for (const raw of ids) {
            const id = phpIntval(raw);
            const c = store.courses.get(id);
            if (c) {
              if (!courses.includes(c)) courses.push(c);
            } else {
              warningsOut.push({ item: 'course', itemid: id, warningcode: '1', message: 'No access rights in course context' });
            }
          }
          break;
        }
        case 'shortname': {
          const v = String(cleanParam(p.value, 'text', ctx.site));
          courses = all.filter((c) => c.shortname === v);
          break;
        }
        case 'idnumber':
          courses = all.filter((c) => c.idnumber === p.value);
          break;
        default:
          throw invalidParameter('Invalid field name');
      }
    }
    const sortorderOf = store.courseSortorders();
    return { courses: courses.map((c) => courseDetails(ctx, c, sortorderOf)), warnings: warningsOut };
  },
};

interface CreateCourseInput {
  fullname: string;
  shortname: string;
  categoryid: number;
  idnumber?: string;
  summary?: string;
  summaryformat: number;
  format: string;
  showgrades: number;
  newsitems: number;
  startdate?: number;
  enddate?: number;
  numsections?: number;
  maxbytes: number;
  showreports: number;
  visible?: number;
  hiddensections?: number;
  groupmode: number;
  groupmodeforce: number;
  defaultgroupingid: number;
  enablecompletion?: number;
  completionnotify?: number;
  lang?: string;
  forcetheme?: string;
  courseformatoptions?: { name: string; value: string }[];
  customfields?: { shortname: string; value: string }[];
}

/** `\core_external\util::validate_format()`. */
function validateFormat(format: number): number {
  if (![0, 1, 2, 4].includes(format)) throw moodleException('formatnotsupported');
  return format;
}

export const createCourses: WsFunction = {
  name: 'core_course_create_courses',
  params: single({
    courses: multiple(single({
      fullname: value('text'),
      shortname: value('text'),
      categoryid: value('int'),
      idnumber: value('raw', 'optional'),
      summary: value('raw', 'optional'),
      summaryformat: formatValue('default'),
      format: value('plugin', 'default', 'topics'),
      showgrades: value('int', 'default', 1),
      newsitems: value('int', 'default', 5),
      startdate: value('int', 'optional'),
      enddate: value('int', 'optional'),
      numsections: value('int', 'optional'),
      maxbytes: value('int', 'default', 0),
      showreports: value('int', 'default', 0),
      visible: value('int', 'optional'),
      hiddensections: value('int', 'optional'),
      groupmode: value('int', 'default', 0),
      groupmodeforce: value('int', 'default', 0),
      defaultgroupingid: value('int', 'default', 0),
      enablecompletion: value('int', 'optional'),
      completionnotify: value('int', 'optional'),
      lang: value('safedir', 'optional'),
      forcetheme: value('plugin', 'optional'),
      courseformatoptions: multiple(single({ name: value('alphanumext'), value: value('raw') }), 'optional'),
      customfields: multiple(single({ shortname: value('alphanumext'), value: value('raw') }), 'optional'),
    })),
  }),
  returns: multiple(single({ id: value('int'), shortname: value('raw') })),
  cost: (p) => ({ items: (p.courses as Val[]).length, passwords: 0 }),
  execute(ctx, p: { courses: CreateCourseInput[] }) {
    const { store, site } = ctx;
    const out: Json[] = [];
    for (const course of p.courses) {
      const category = store.categories.get(course.categoryid);
      if (!category) {
        throw moodleException('errorcatcontextnotvalid', 'webservice',
          { message: 'Invalid parameter value detected', catid: course.categoryid });
      }
      if (phpTrim(course.fullname) === '') throw moodleException('errorinvalidparam', 'webservice', 'fullname');
      if (phpTrim(course.shortname) === '') throw moodleException('errorinvalidparam', 'webservice', 'shortname');
      if (course.lang !== undefined && !site.langs.has(course.lang)) {
        throw moodleException('errorinvalidparam', 'webservice', 'lang');
      }
      const summaryformat = validateFormat(course.summaryformat);
      const formatoptions: Record<string, number | string> = { ...(FORMAT_DEFAULTS[course.format] ?? {}) };
      const known = FORMAT_OPTIONS[course.format] ?? {};
      const setOption = (name: string, v: string | number): void => {
        const kind = known[name];
        if (kind === undefined) return;
        formatoptions[name] = kind === 'int' ? phpIntval(String(v)) : String(v);
      };
      if (course.hiddensections !== undefined) setOption('hiddensections', course.hiddensections);
      for (const o of course.courseformatoptions ?? []) setOption(o.name, o.value);

      // create_course()
      if (course.shortname !== '' && store.courseByShortname(course.shortname)) {
        throw moodleException('shortnametaken', '', course.shortname);
      }
      if (!phpEmpty(course.idnumber) && store.courseByIdnumber(course.idnumber!)) {
        throw moodleException('courseidnumbertaken', '', course.idnumber);
      }
      const startdate = course.startdate ?? 0;
      const enddate = course.enddate ?? 0;
      if (enddate > 0 && enddate < startdate) throw moodleException('enddatebeforestartdate');
      const now = ctx.now();
      const visible = course.visible ?? category.visible;
      const enrolid = store.next('enrol');
      store.next('enrol'); // guest instance (disabled)
      store.next('enrol'); // self instance (disabled)
      const rec = store.insertCourse({
        category: course.categoryid, fullname: course.fullname, shortname: course.shortname,
        idnumber: course.idnumber ?? '', summary: course.summary ?? null, summaryformat, format: course.format,
        showgrades: course.showgrades, newsitems: course.newsitems, startdate, enddate, maxbytes: course.maxbytes,
        showreports: course.showreports, visible, visibleold: visible, groupmode: course.groupmode,
        groupmodeforce: course.groupmodeforce, defaultgroupingid: course.defaultgroupingid,
        lang: course.lang ?? '', theme: '', calendartype: '', timecreated: now, timemodified: now, requested: 0,
        enablecompletion: course.enablecompletion ?? 1, completionnotify: course.completionnotify ?? 0,
        cacherev: now, marker: 0, legacyfiles: 0, showactivitydates: 0, showcompletionconditions: 1, formatoptions,
        manual: { id: enrolid, enabled: true },
      });
      // The news forum every new course gets.
      store.addModule(rec.id, 'forum', 'Announcements');
      out.push({ id: rec.id, shortname: course.shortname });
    }
    return out;
  },
};

const categoryDesc = single({
  id: value('int'),
  name: value('raw'),
  idnumber: value('raw', 'optional'),
  description: value('raw'),
  descriptionformat: formatValue(),
  parent: value('int'),
  sortorder: value('int'),
  coursecount: value('int'),
  visible: value('int', 'optional'),
  visibleold: value('int', 'optional'),
  timemodified: value('int', 'optional'),
  depth: value('int'),
  path: value('text'),
  theme: value('theme', 'optional'),
});

export const getCategories: WsFunction = {
  name: 'core_course_get_categories',
  params: single({
    criteria: multiple(single({ key: value('alpha'), value: value('raw') }), 'default', []),
    addsubcategories: value('bool', 'default', true),
  }),
  returns: multiple(categoryDesc),
  execute(ctx, p: { criteria: { key: string; value: string }[]; addsubcategories: boolean }) {
    const { store } = ctx;
    const all = [...store.categories.values()];
    let selected: CategoryRec[];
    if (p.criteria.length > 0) {
      const seen = new Set<string>();
      const tests: ((c: CategoryRec) => boolean)[] = [];
      let visibleFilter: number | undefined;
      let themeFilter: string | undefined;
      for (const crit of p.criteria) {
        const key = crit.key.trim();
        if (seen.has(key)) continue;
        if (key !== 'ids') seen.add(key);
        switch (key) {
          case 'id': {
            const v = phpIntval(crit.value);
            tests.push((c) => c.id === v);
            break;
          }
          case 'ids': {
            const ids = String(cleanParam(crit.value, 'sequence', ctx.site)).split(',').map((x) => phpIntval(x));
            tests.push((c) => ids.includes(c.id));
            break;
          }
          case 'idnumber':
            tests.push((c) => c.idnumber === crit.value);
            break;
          case 'name': {
            const v = String(cleanParam(crit.value, 'text', ctx.site));
            tests.push((c) => c.name === v);
            break;
          }
          case 'parent': {
            const v = phpIntval(crit.value);
            tests.push((c) => c.parent === v);
            break;
          }
          case 'visible': {
            const v = phpIntval(crit.value);
            visibleFilter = v;
            tests.push((c) => c.visible === v);
            break;
          }
          case 'theme': {
            const v = String(cleanParam(crit.value, 'theme', ctx.site));
            themeFilter = v;
            tests.push((c) => (c.theme ?? '') === v);
            break;
          }
          default:
            throw moodleException('criteriaerror', 'webservice', undefined, `You can not search on this criteria: ${key}`);
        }
      }
      selected = tests.length > 0 ? all.filter((c) => tests.every((t) => t(c))) : [];
      if (selected.length > 0 && p.addsubcategories) {
        const extra = new Map<number, CategoryRec>();
        for (const cat of selected) {
          for (const c of all) {
            if (!c.path.startsWith(`${cat.path}/`)) continue;
            if (visibleFilter !== undefined && c.visible !== visibleFilter) continue;
            if (themeFilter !== undefined && (c.theme ?? '') !== themeFilter) continue;
            extra.set(c.id, c);
          }
        }
        const ids = new Set(selected.map((c) => c.id));
        for (const [id, c] of extra) if (!ids.has(id)) selected.push(c);
      }
    } else {
      selected = all;
    }
    const catorders = store.categorySortorders();
    const out = selected.map((c) => {
      const [description, descriptionformat] = formatText(ctx, c.description, c.descriptionformat);
      return {
        id: c.id,
        name: formatString(ctx, c.name),
        description,
        descriptionformat,
        parent: c.parent,
        sortorder: catorders.get(c.id) ?? 0,
        coursecount: store.coursesInCategory(c.id).length,
        depth: c.depth,
        path: c.path,
        idnumber: c.idnumber,
        visible: c.visible,
        visibleold: c.visibleold,
        timemodified: c.timemodified,
        theme: c.theme !== null && ctx.site.themes.has(c.theme) ? c.theme : '',
      };
    });
    // compare_categories_by_sortorder() uses strcmp(): sortorders compare as strings.
    out.sort((a, b) => (String(a.sortorder) < String(b.sortorder) ? -1 : String(a.sortorder) > String(b.sortorder) ? 1 : 0));
    return out;
  },
};

interface CreateCategoryInput {
  name: string;
  parent: number;
  idnumber?: string;
  description?: string;
  descriptionformat: number;
  theme?: string;
}

export const createCategories: WsFunction = {
  name: 'core_course_create_categories',
  params: single({
    categories: multiple(single({
      name: value('text'),
      parent: value('int', 'default', 0),
      idnumber: value('raw', 'optional'),
      description: value('raw', 'optional'),
      descriptionformat: formatValue('default'),
      theme: value('theme', 'optional'),
    })),
  }),
  returns: multiple(single({ id: value('int'), name: value('raw') })),
  cost: (p) => ({ items: (p.categories as Val[]).length, passwords: 0 }),
  execute(ctx, p: { categories: CreateCategoryInput[] }) {
    const { store } = ctx;
    const out: Json[] = [];
    for (const cat of p.categories) {
      let parent: CategoryRec | undefined;
      if (cat.parent) {
        parent = store.categories.get(cat.parent);
        if (!parent) throw moodleException('unknowcategory');
      }
      validateFormat(cat.descriptionformat);
      // core_course_category::create()
      if (phpEmpty(cat.name)) throw moodleException('categorynamerequired');
      if ([...cat.name].length > 255) throw moodleException('categorytoolong');
      if (cat.idnumber !== undefined) {
        if ([...cat.idnumber].length > 100) throw moodleException('idnumbertoolong');
        if (cat.idnumber !== '' && store.categoryByIdnumberExists(cat.idnumber)) {
          throw moodleException('categoryidnumbertaken');
        }
      }
      const rec = store.insertCategory({
        name: cat.name, idnumber: cat.idnumber ?? null, description: cat.description ?? '',
        descriptionformat: cat.descriptionformat, parent: parent?.id ?? 0, visible: parent ? parent.visible : 1,
        visibleold: 1, timemodified: ctx.now(), depth: (parent?.depth ?? 0) + 1, theme: null,
      }, parent?.path ?? '');
      out.push({ id: rec.id, name: formatString(ctx, rec.name) });
    }
    return out;
  },
};

export const importCourse: WsFunction = {
  name: 'core_course_import_course',
  params: single({
    importfrom: value('int'),
    importto: value('int'),
    deletecontent: value('int', 'default', 0),
    options: multiple(single({ name: value('alpha'), value: value('raw') }), 'default', []),
  }),
  returns: null,
  execute(ctx, p: { importfrom: number; importto: number; deletecontent: number; options: { name: string; value: string }[] }) {
    const { store } = ctx;
    if (p.deletecontent !== 0 && p.deletecontent !== 1) {
      throw moodleException('invalidextparam', 'webservice', p.deletecontent);
    }
    const from = store.courses.get(p.importfrom);
    if (!from) throw moodleException('invalidcourseid', 'error');
    const to = store.courses.get(p.importto);
    if (!to) throw moodleException('invalidcourseid', 'error');
    const settings: Record<string, number> = { activities: 1, blocks: 1, filters: 1 };
    for (const o of p.options) {
      // clean_param($value, PARAM_INT) is a plain (int) cast: "1abc" counts as 1.
      const v = phpIntval(o.value);
      if (v !== 0 && v !== 1) throw moodleException('invalidextparam', 'webservice', o.name);
      if (!(o.name in settings)) throw moodleException('invalidextparam', 'webservice', o.name);
      settings[o.name] = v;
    }
    // Backup in MODE_IMPORT (no user data) and restore into the existing course, synchronously.
    const source = [...store.courseModules(from.id)];
    if (p.deletecontent === 1) store.clearModules(to.id);
    if (settings.activities === 1) {
      for (const m of source) store.addModule(to.id, m.modname, m.name);
    }
    store.touchCourse(to, { cacherev: Math.max(ctx.now(), to.cacherev + 1) });
    return null;
  },
};

interface UpdateCourseInput {
  id: number;
  fullname?: string;
  shortname?: string;
  categoryid?: number;
  idnumber?: string;
  summary?: string;
  summaryformat?: number;
  startdate?: number;
  enddate?: number;
  visible?: number;
  lang?: string;
}

/**
 * core_course_update_courses (course/externallib.php update_courses(), course/lib.php
 * update_course()): each course on its own; a course that fails is a warning with the
 * exception's error code and message, the others are updated. Returns `{warnings}`.
 */
export const updateCourses: WsFunction = {
  name: 'core_course_update_courses',
  params: single({
    courses: multiple(single({
      id: value('int'),
      fullname: value('text', 'optional'),
      shortname: value('text', 'optional'),
      categoryid: value('int', 'optional'),
      idnumber: value('raw', 'optional'),
      summary: value('raw', 'optional'),
      summaryformat: formatValue('optional'),
      format: value('plugin', 'optional'),
      showgrades: value('int', 'optional'),
      newsitems: value('int', 'optional'),
      startdate: value('int', 'optional'),
      enddate: value('int', 'optional'),
      numsections: value('int', 'optional'),
      maxbytes: value('int', 'optional'),
      showreports: value('int', 'optional'),
      visible: value('int', 'optional'),
      hiddensections: value('int', 'optional'),
      groupmode: value('int', 'optional'),
      groupmodeforce: value('int', 'optional'),
      defaultgroupingid: value('int', 'optional'),
      enablecompletion: value('int', 'optional'),
      completionnotify: value('int', 'optional'),
      lang: value('safedir', 'optional'),
      forcetheme: value('plugin', 'optional'),
      courseformatoptions: multiple(single({ name: value('alphanumext'), value: value('raw') }), 'optional'),
      customfields: multiple(single({ shortname: value('alphanumext'), value: value('raw') }), 'optional'),
    })),
  }),
  returns: single({ warnings: warnings() }),
  cost: (p) => ({ items: (p.courses as Val[]).length, passwords: 0 }),
  execute(ctx, p: { courses: UpdateCourseInput[] }) {
    const { store, site } = ctx;
    const out: Json[] = [];
    for (const course of p.courses) {
      try {
        // context_course::instance($id, MUST_EXIST)
        const old = store.courses.get(course.id);
        if (!old) throw missingRecord('course', 'SELECT id,category FROM {course} WHERE id = ?', [course.id]);
        const patch: Partial<CourseRec> = {};
        if (course.categoryid !== undefined && course.categoryid !== old.category) {
          if (!store.categories.get(course.categoryid)) throw moodleException('unknowcategory');
          patch.category = course.categoryid;
        }
        if (course.fullname !== undefined && course.fullname !== old.fullname) {
          if (phpTrim(course.fullname) === '') throw moodleException('errorinvalidparam', 'webservice', 'fullname');
          patch.fullname = course.fullname;
        }
        if (course.shortname !== undefined && course.shortname !== old.shortname) {
          if (phpTrim(course.shortname) === '') throw moodleException('errorinvalidparam', 'webservice', 'shortname');
          patch.shortname = course.shortname;
        }
        if (course.idnumber !== undefined && course.idnumber !== old.idnumber) patch.idnumber = course.idnumber;
        if (course.summary !== undefined) patch.summary = course.summary;
        if (course.summaryformat !== undefined && course.summaryformat !== old.summaryformat) patch.summaryformat = validateFormat(course.summaryformat);
        if (course.visible !== undefined) patch.visible = course.visible;
        if (course.lang !== undefined && course.lang !== old.lang) {
          if (!site.langs.has(course.lang)) throw moodleException('errorinvalidparam', 'webservice', 'lang');
          patch.lang = course.lang;
        }
        if (course.startdate !== undefined) patch.startdate = course.startdate;
        if (course.enddate !== undefined) patch.enddate = course.enddate;
        // update_course()
        if (!phpEmpty(patch.shortname) && store.courseByShortname(patch.shortname!)) {
          throw moodleException('shortnametaken', '', patch.shortname);
        }
        if (!phpEmpty(patch.idnumber) && store.courseByIdnumber(patch.idnumber!)) {
          throw moodleException('courseidnumbertaken', '', patch.idnumber);
        }
        // course_validate_dates() on the data sent: an end date before the start date.
        const start = course.startdate ?? 0;
        const end = course.enddate ?? 0;
        if (end > 0 && end < start) throw moodleException('enddatebeforestartdate');
        store.updateCourse(old, { ...patch, timemodified: ctx.now() });
      } catch (e) {
        if (!(e instanceof WsException)) throw e;
        out.push({ item: 'course', itemid: course.id, warningcode: e.errorcode ?? '0', message: e.message });
      }
    }
    return { warnings: out };
  },
};
