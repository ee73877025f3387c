/**
 * The simulated site's database: users, categories, courses, manual enrolments, activities and
 * tokens, with the uniqueness indexes Moodle relies on, an undo log for transactions, sequences
 * that (like PostgreSQL's) are not rolled back, and a JSON file for persistence.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';

export interface UserRec {
  id: number;
  auth: string;
  confirmed: number;
  deleted: number;
  suspended: number;
  mnethostid: number;
  username: string;
  /** `salt$sha256(salt+password)`, or the literal `not cached` for external auth. */
  password: string;
  idnumber: string;
  firstname: string;
  lastname: string;
  email: string;
  phone1: string;
  phone2: string;
  institution: string;
  department: string;
  address: string;
  city: string;
  country: string;
  lang: string;
  calendartype: string;
  theme: string;
  timezone: string;
  firstaccess: number;
  lastaccess: number;
  description: string | null;
  descriptionformat: number;
  mailformat: number;
  maildisplay: number;
  trackforums: number;
  firstnamephonetic: string;
  lastnamephonetic: string;
  middlename: string;
  alternatename: string;
  timecreated: number;
  timemodified: number;
  interests: string[];
  /** Custom profile field data by field shortname. */
  profile: Record<string, string>;
  preferences: Record<string, string>;
}

export interface CategoryRec {
  id: number;
  name: string;
  idnumber: string | null;
  description: string | null;
  descriptionformat: number;
  parent: number;
  visible: number;
  visibleold: number;
  timemodified: number;
  depth: number;
  path: string;
  theme: string | null;
  contextid: number;
}

export interface CourseRec {
  id: number;
  category: number;
  fullname: string;
  shortname: string;
  idnumber: string;
  summary: string | null;
  summaryformat: number;
  format: string;
  showgrades: number;
  newsitems: number;
  startdate: number;
  enddate: number;
  maxbytes: number;
  showreports: number;
  visible: number;
  visibleold: number;
  groupmode: number;
  groupmodeforce: number;
  defaultgroupingid: number;
  lang: string;
  theme: string;
  calendartype: string;
  timecreated: number;
  timemodified: number;
  requested: number;
  enablecompletion: number;
  completionnotify: number;
  cacherev: number;
  marker: number;
  legacyfiles: number;
  showactivitydates: number;
  showcompletionconditions: number;
  contextid: number;
  formatoptions: Record<string, number | string>;
  /** The course's manual enrolment instance (null: none, e.g. the site course). */
  manual: { id: number; enabled: boolean } | null;
}

export interface EnrolmentRec {
  id: number;
  courseid: number;
  userid: number;
  /** 0 active, 1 suspended (ENROL_USER_ACTIVE / ENROL_USER_SUSPENDED). */
  status: number;
  timestart: number;
  timeend: number;
  /** Role ids assigned in the course context. */
  roles: number[];
  timecreated: number;
  timemodified: number;
}

export interface ModuleRec {
  id: number;
  courseid: number;
  modname: string;
  name: string;
  contextid: number;
}

export interface TokenRec {
  token: string;
  userid: number;
  service: string;
}

export interface ProfileFieldRec {
  shortname: string;
  name: string;
  datatype: string;
  visible: boolean;
}

export interface SiteRec {
  sitename: string;
  /** Theme revision, the number in /theme/image.php/boost/core/<rev>/u/f1. */
  themerev: number;
  /** Per-user private access keys returned by get_site_info. */
  privateaccesskeys: Record<string, string>;
}

export interface Sequences {
  user: number;
  category: number;
  course: number;
  context: number;
  enrol: number;
  userenrolment: number;
  module: number;
}

export interface StateData {
  format: 'tilgang-moodle-simulator/1';
  site: SiteRec;
  /** The next value each sequence hands out. */
  seq: Sequences;
  users: UserRec[];
  categories: CategoryRec[];
  courses: CourseRec[];
  enrolments: EnrolmentRec[];
  modules: ModuleRec[];
  tokens: TokenRec[];
  profileFields: ProfileFieldRec[];
}

export function hashPassword(password: string): string {
  const salt = randomBytes(8).toString('hex');
  return `${salt}$${createHash('sha256').update(salt + password).digest('hex')}`;
}

export function checkPassword(stored: string, password: string): boolean {
  const [salt, hash] = stored.split('$');
  if (salt === undefined || hash === undefined) return false;
  return createHash('sha256').update(salt + password).digest('hex') === hash;
}

type Undo = () => void;

/**
 * varchar lengths of mdl_user (lib/db/install.xml). Nothing in Moodle checks them before the
 * INSERT/UPDATE; PostgreSQL refuses a longer value ("value too long for type character
 * varying(100)"), counting characters, not bytes (recorded B06-B17).
 */
export const USER_COLUMN_LENGTHS: Readonly<Record<string, number>> = {
  auth: 20, username: 100, idnumber: 255, firstname: 100, lastname: 100, email: 100, phone1: 20, phone2: 20,
  institution: 255, department: 255, address: 255, city: 120, country: 2, lang: 30, calendartype: 30, theme: 50,
  timezone: 100, firstnamephonetic: 255, lastnamephonetic: 255, middlename: 255, alternatename: 255,
};

/** The first column of `row` (in its key order) whose value is longer than mdl_user allows. */
export function userValueTooLong(row: Record<string, unknown>): ValueTooLong | undefined {
  for (const [column, v] of Object.entries(row)) {
    const limit = USER_COLUMN_LENGTHS[column];
    if (limit !== undefined && typeof v === 'string' && [...v].length > limit) return new ValueTooLong('user', column, limit);
  }
  return undefined;
}

/**
 * In-memory tables plus indexes. Every mutation goes through a method that records its inverse
 * while a transaction is open, so a failed batch leaves no trace (except consumed sequence values).
 */
export class Store {
  readonly users = new Map<number, UserRec>();
  readonly categories = new Map<number, CategoryRec>();
  readonly courses = new Map<number, CourseRec>();
  /** Keyed `${courseid}:${userid}`. */
  readonly enrolments = new Map<string, EnrolmentRec>();
  readonly modules = new Map<number, ModuleRec[]>();
  tokens: TokenRec[] = [];
  profileFields: ProfileFieldRec[] = [];
  site!: SiteRec;
  seq!: Sequences;

  private readonly byUsername = new Map<string, number>();
  private readonly byEmail = new Map<string, Set<number>>();
  private readonly byIdnumber = new Map<string, Set<number>>();
  private readonly courseShortnameIndex = new Map<string, number>();
  private readonly courseIdnumberIndex = new Map<string, number>();
  private readonly categoryByIdnumber = new Map<string, number>();
  /** Keys of `enrolments` by user and by course (the DB's indexes): a lookup must not scan the site's every enrolment. */
  private readonly enrolmentKeysByUser = new Map<number, Set<string>>();
  private readonly enrolmentKeysByCourse = new Map<number, Set<string>>();

  private undo: Undo[] | null = null;
  /** Bumped on every committed change; the persister compares it. */
  version = 0;

  constructor(data: StateData) {
    this.load(data);
  }

  load(data: StateData): void {
    const d = structuredClone(data);
    this.users.clear();
    this.categories.clear();
    this.courses.clear();
    this.enrolments.clear();
    this.modules.clear();
    this.byUsername.clear();
    this.byEmail.clear();
    this.byIdnumber.clear();
    this.courseShortnameIndex.clear();
    this.courseIdnumberIndex.clear();
    this.categoryByIdnumber.clear();
    this.enrolmentKeysByUser.clear();
    this.enrolmentKeysByCourse.clear();
    this.site = d.site;
    this.seq = d.seq;
    this.tokens = d.tokens;
    this.profileFields = d.profileFields;
    for (const u of d.users) this.indexUser(u);
    for (const c of d.categories) {
      this.categories.set(c.id, c);
      if (c.idnumber) this.categoryByIdnumber.set(c.idnumber, c.id);
    }
    for (const c of d.courses) {
      this.courses.set(c.id, c);
      this.courseShortnameIndex.set(c.shortname, c.id);
      if (c.idnumber) this.courseIdnumberIndex.set(c.idnumber, c.id);
    }
    for (const e of d.enrolments) {
      const key = `${e.courseid}:${e.userid}`;
      this.enrolments.set(key, e);
      for (const [index, id] of [[this.enrolmentKeysByUser, e.userid], [this.enrolmentKeysByCourse, e.courseid]] as const) {
        if (!index.has(id)) index.set(id, new Set());
        index.get(id)!.add(key);
      }
    }
    for (const m of d.modules) {
      const list = this.modules.get(m.courseid) ?? [];
      list.push(m);
      this.modules.set(m.courseid, list);
    }
    this.version++;
  }

  toJSON(): StateData {
    return {
      format: 'tilgang-moodle-simulator/1',
      site: this.site,
      seq: this.seq,
      users: [...this.users.values()],
      categories: [...this.categories.values()],
      courses: [...this.courses.values()],
      enrolments: [...this.enrolments.values()],
      modules: [...this.modules.values()].flat(),
      tokens: this.tokens,
      profileFields: this.profileFields,
    };
  }

  // ---- transactions -------------------------------------------------------------------------

  begin(): void {
    this.undo = [];
  }

  /** A savepoint inside the open transaction (update_users runs one per user). */
  savepoint(): number {
    return this.undo?.length ?? 0;
  }

  rollbackTo(mark: number): void {
    if (!this.undo) return;
    while (this.undo.length > mark) this.undo.pop()!();
  }

  commit(): boolean {
    const changed = (this.undo?.length ?? 0) > 0;
    this.undo = null;
    if (changed) this.version++;
    return changed;
  }

  rollback(): void {
    this.rollbackTo(0);
    this.undo = null;
  }

  private record(fn: Undo): void {
    if (this.undo) this.undo.push(fn);
  }

  /** Sequences are never rolled back (PostgreSQL semantics): a failed batch leaves gaps. */
  next(seq: keyof Sequences): number {
    const v = this.seq[seq];
    this.seq[seq] = v + 1;
    return v;
  }

  private setField<T extends object, K extends keyof T>(obj: T, key: K, value: T[K]): void {
    const old = obj[key];
    if (old === value) return;
    obj[key] = value;
    this.record(() => { obj[key] = old; });
  }

  private mapSet<K, V>(map: Map<K, V>, key: K, value: V): void {
    const had = map.has(key);
    const old = map.get(key);
    map.set(key, value);
    this.record(() => { if (had) map.set(key, old as V); else map.delete(key); });
  }

  private mapDelete<K, V>(map: Map<K, V>, key: K): void {
    if (!map.has(key)) return;
    const old = map.get(key) as V;
    map.delete(key);
    this.record(() => { map.set(key, old); });
  }

  private setAdd<K, T>(index: Map<K, Set<T>>, key: K, v: T): void {
    let set = index.get(key);
    if (!set) {
      set = new Set();
      this.mapSet(index, key, set);
    }
    if (set.has(v)) return;
    set.add(v);
    const s = set;
    this.record(() => { s.delete(v); });
  }

  private setRemove<K, T>(index: Map<K, Set<T>>, key: K, v: T): void {
    const set = index.get(key);
    if (!set || !set.has(v)) return;
    set.delete(v);
    this.record(() => { set.add(v); });
  }

  // ---- users --------------------------------------------------------------------------------

  private indexUser(u: UserRec): void {
    this.users.set(u.id, u);
    this.byUsername.set(`${u.mnethostid}:${u.username}`, u.id);
    const e = u.email.toLowerCase();
    if (!this.byEmail.has(e)) this.byEmail.set(e, new Set());
    this.byEmail.get(e)!.add(u.id);
    if (u.idnumber !== '') {
      if (!this.byIdnumber.has(u.idnumber)) this.byIdnumber.set(u.idnumber, new Set());
      this.byIdnumber.get(u.idnumber)!.add(u.id);
    }
  }

  userByUsername(username: string, mnethostid = 1): UserRec | undefined {
    const id = this.byUsername.get(`${mnethostid}:${username}`);
    return id === undefined ? undefined : this.users.get(id);
  }

  /** Case-insensitive email match (Moodle's `sql_equal(..., false)`). */
  usersByEmailCI(email: string): UserRec[] {
    return [...(this.byEmail.get(email.toLowerCase()) ?? [])].map((id) => this.users.get(id)!);
  }

  usersByIdnumber(idnumber: string): UserRec[] {
    return [...(this.byIdnumber.get(idnumber) ?? [])].map((id) => this.users.get(id)!);
  }

  /** Accounts created per person (idnumber, else username) since the simulator started; never rolled-back ones. */
  readonly createsByKey = new Map<string, number>();

  insertUser(u: Omit<UserRec, 'id'>): UserRec {
    // PostgreSQL coerces the parameters before the id default is evaluated: a refused row uses no id (recorded B06-B09).
    const tooLong = userValueTooLong(u);
    if (tooLong) throw tooLong;
    const id = this.next('user');
    const key = `${u.mnethostid}:${u.username}`;
    if (this.byUsername.has(key)) {
      throw new UniqueViolation('user', 'mdl_user_mneuse_uix');
    }
    // No context is allocated here: the recorded ids (course 3 → context 18 after user 4 and
    // category 3) show user contexts are not created by core_user_create_users on this site.
    const rec: UserRec = { ...u, id };
    this.mapSet(this.users, id, rec);
    this.mapSet(this.byUsername, key, id);
    // Creates per person (idnumber, else username), committed ones only: a second is a person made twice.
    const who = rec.idnumber !== '' ? rec.idnumber : rec.username;
    this.mapSet(this.createsByKey, who, (this.createsByKey.get(who) ?? 0) + 1);
    this.setAdd(this.byEmail, rec.email.toLowerCase(), id);
    if (rec.idnumber !== '') this.setAdd(this.byIdnumber, rec.idnumber, id);
    return rec;
  }

  updateUser(u: UserRec, patch: Partial<UserRec>): void {
    const tooLong = userValueTooLong(patch);
    if (tooLong) throw tooLong;
    if (patch.username !== undefined && patch.username !== u.username) {
      const key = `${u.mnethostid}:${patch.username}`;
      if (this.byUsername.has(key)) throw new UniqueViolation('user', 'mdl_user_mneuse_uix');
      this.mapDelete(this.byUsername, `${u.mnethostid}:${u.username}`);
      this.mapSet(this.byUsername, key, u.id);
    }
    if (patch.email !== undefined && patch.email !== u.email) {
      this.setRemove(this.byEmail, u.email.toLowerCase(), u.id);
      this.setAdd(this.byEmail, patch.email.toLowerCase(), u.id);
    }
    if (patch.idnumber !== undefined && patch.idnumber !== u.idnumber) {
      if (u.idnumber !== '') this.setRemove(this.byIdnumber, u.idnumber, u.id);
      if (patch.idnumber !== '') this.setAdd(this.byIdnumber, patch.idnumber, u.id);
    }
    for (const [k, v] of Object.entries(patch) as [keyof UserRec, never][]) this.setField(u, k, v);
  }

  // ---- categories ---------------------------------------------------------------------------

  categoryByIdnumberExists(idnumber: string): boolean {
    return this.categoryByIdnumber.has(idnumber);
  }

  insertCategory(c: Omit<CategoryRec, 'id' | 'contextid' | 'path'>, parentPath: string): CategoryRec {
    const id = this.next('category');
    const rec: CategoryRec = { ...c, id, path: `${parentPath}/${id}`, contextid: this.next('context') };
    this.mapSet(this.categories, id, rec);
    if (rec.idnumber) this.mapSet(this.categoryByIdnumber, rec.idnumber, id);
    return rec;
  }

  /**
   * Category sortorder as fix_course_sortorder() leaves it: depth-first, siblings in creation
   * order (new categories are appended), 10000 apart.
   */
  categorySortorders(): Map<number, number> {
    const children = new Map<number, CategoryRec[]>();
    for (const c of [...this.categories.values()].sort((a, b) => a.id - b.id)) {
      const list = children.get(c.parent) ?? [];
      list.push(c);
      children.set(c.parent, list);
    }
    const out = new Map<number, number>();
    let n = 0;
    const walk = (parent: number): void => {
      for (const c of children.get(parent) ?? []) {
        out.set(c.id, ++n * 10000);
        walk(c.id);
      }
    };
    walk(0);
    return out;
  }

  coursesInCategory(categoryid: number): CourseRec[] {
    return [...this.courses.values()].filter((c) => c.category === categoryid);
  }

  /** Course sortorder: category sortorder + position, newest course first (create_course puts it at the top). */
  courseSortorder(course: CourseRec, catorders = this.categorySortorders()): number {
    return this.courseSortorders(catorders)(course);
  }

  /**
   * Every course's sortorder as courseSortorder gives it, for one call's answer: the categories'
   * courses are walked once (on the first course asked for), not once per course, so a call that
   * lists many courses (a roster's users' courses, every course) is not quadratic in the courses.
   * For the state as it is now: a call that changes courses asks again.
   */
  courseSortorders(catorders = this.categorySortorders()): (course: CourseRec) => number {
    let position: Map<number, number> | undefined;
    return (course) => {
      if (course.category === 0) return 1;
      if (!position) {
        position = new Map();
        const byCategory = new Map<number, CourseRec[]>();
        for (const c of this.courses.values()) (byCategory.get(c.category) ?? byCategory.set(c.category, []).get(c.category)!).push(c);
        for (const list of byCategory.values()) list.sort((a, b) => b.id - a.id).forEach((c, i) => position!.set(c.id, i));
      }
      return (catorders.get(course.category) ?? 0) + 1 + (position.get(course.id) ?? -1);
    };
  }

  // ---- courses ------------------------------------------------------------------------------

  courseByShortname(shortname: string): CourseRec | undefined {
    const id = this.courseShortnameIndex.get(shortname);
    return id === undefined ? undefined : this.courses.get(id);
  }

  courseByIdnumber(idnumber: string): CourseRec | undefined {
    const id = this.courseIdnumberIndex.get(idnumber);
    return id === undefined ? undefined : this.courses.get(id);
  }

  insertCourse(c: Omit<CourseRec, 'id' | 'contextid'>): CourseRec {
    const id = this.next('course');
    const rec: CourseRec = { ...c, id, contextid: this.next('context') };
    this.mapSet(this.courses, id, rec);
    this.mapSet(this.courseShortnameIndex, rec.shortname, id);
    if (rec.idnumber) this.mapSet(this.courseIdnumberIndex, rec.idnumber, id);
    return rec;
  }

  touchCourse(c: CourseRec, patch: Partial<CourseRec>): void {
    for (const [k, v] of Object.entries(patch) as [keyof CourseRec, never][]) this.setField(c, k, v);
  }

  /** update_course(): the record and its shortname/idnumber indexes. */
  updateCourse(c: CourseRec, patch: Partial<CourseRec>): void {
    if (patch.shortname !== undefined && patch.shortname !== c.shortname) {
      this.mapDelete(this.courseShortnameIndex, c.shortname);
      this.mapSet(this.courseShortnameIndex, patch.shortname, c.id);
    }
    if (patch.idnumber !== undefined && patch.idnumber !== c.idnumber) {
      if (c.idnumber) this.mapDelete(this.courseIdnumberIndex, c.idnumber);
      if (patch.idnumber) this.mapSet(this.courseIdnumberIndex, patch.idnumber, c.id);
    }
    this.touchCourse(c, patch);
  }

  // ---- activities ---------------------------------------------------------------------------

  courseModules(courseid: number): ModuleRec[] {
    return this.modules.get(courseid) ?? [];
  }

  addModule(courseid: number, modname: string, name: string): ModuleRec {
    const rec: ModuleRec = { id: this.next('module'), courseid, modname, name, contextid: this.next('context') };
    const list = [...this.courseModules(courseid), rec];
    this.mapSet(this.modules, courseid, list);
    return rec;
  }

  clearModules(courseid: number): void {
    this.mapSet(this.modules, courseid, []);
  }

  // ---- enrolments ---------------------------------------------------------------------------

  enrolment(courseid: number, userid: number): EnrolmentRec | undefined {
    return this.enrolments.get(`${courseid}:${userid}`);
  }

  putEnrolment(e: EnrolmentRec): void {
    const key = `${e.courseid}:${e.userid}`;
    this.mapSet(this.enrolments, key, e);
    this.setAdd(this.enrolmentKeysByUser, e.userid, key);
    this.setAdd(this.enrolmentKeysByCourse, e.courseid, key);
  }

  updateEnrolment(e: EnrolmentRec, patch: Partial<EnrolmentRec>): void {
    for (const [k, v] of Object.entries(patch) as [keyof EnrolmentRec, never][]) this.setField(e, k, v);
  }

  deleteEnrolment(courseid: number, userid: number): void {
    const key = `${courseid}:${userid}`;
    this.mapDelete(this.enrolments, key);
    this.setRemove(this.enrolmentKeysByUser, userid, key);
    this.setRemove(this.enrolmentKeysByCourse, courseid, key);
  }

  enrolmentsOfUser(userid: number): EnrolmentRec[] {
    return [...(this.enrolmentKeysByUser.get(userid) ?? [])].map((k) => this.enrolments.get(k)!);
  }

  enrolmentsInCourse(courseid: number): EnrolmentRec[] {
    return [...(this.enrolmentKeysByCourse.get(courseid) ?? [])].map((k) => this.enrolments.get(k)!);
  }
}

/** A unique index violation; the DML layer turns it into dml_write_exception. */
export class UniqueViolation extends Error {
  constructor(readonly table: string, readonly index: string) {
    super(`duplicate key value violates unique constraint "${index}"`);
  }
}

/** A value longer than its varchar column; the DML layer turns it into dml_write_exception. */
export class ValueTooLong extends Error {
  constructor(readonly table: string, readonly column: string, readonly limit: number) {
    super(`value too long for type character varying(${limit})`);
  }
}

// ---- persistence --------------------------------------------------------------------------------

export function readStateFile(path: string): StateData | undefined {
  if (!existsSync(path)) return undefined;
  const data = JSON.parse(readFileSync(path, 'utf8')) as StateData;
  if (data.format !== 'tilgang-moodle-simulator/1') {
    throw new Error(`${path} is not a Moodle simulator state file (format ${String(data.format)})`);
  }
  return data;
}

/** Write to a temporary file and rename, so a crash never leaves half a state file. */
export function writeStateFile(path: string, data: StateData): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(data));
  renameSync(tmp, path);
}
