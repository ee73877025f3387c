/**
 * Reading Moodle: accounts by username/idnumber/email (coalesced into batched calls), a user's
 * enrolments, and the Moodle ids of managed courses (cached).
 */
import { TerminalError, type ManagedAccount, type PersonContext } from '../../spi/index.js';
import { Batcher } from '../../lib/batching.js';
import type { MoodleClient, MoodleCoursesResult, MoodleGetUsersResult, MoodleUser, MoodleUserCourse } from './client.js';
import type { MatchField, MoodleConfig } from './config.js';
import { courseInScope, isManagedCourse, parseSemester, semesterOf, type Semester } from './course-id.js';
import type { Desired, Identity } from './desired.js';
import type { Actual, EnrolledCourse, MoodleAccount } from './types.js';

export function toAccount(u: MoodleUser): MoodleAccount {
  const profile: Record<string, string> = {};
  for (const f of u.customfields ?? []) profile[f.shortname] = f.value;
  return {
    id: u.id, username: u.username ?? '', fullname: u.fullname ?? '',
    ...(u.firstname !== undefined ? { firstname: u.firstname } : {}),
    ...(u.lastname !== undefined ? { lastname: u.lastname } : {}),
    // Moodle leaves out empty values.
    email: u.email ?? '', idnumber: u.idnumber ?? '', department: u.department ?? '', institution: u.institution ?? '',
    auth: u.auth ?? '', suspended: !!u.suspended, profile,
  };
}

const describe = (a: MoodleAccount) => `${a.username || '(no username)'} (id ${a.id})`;

/**
 * Pure: the one account that is this person's, from what each match field found, or null. Every
 * match counts: two different accounts are a duplicate, never a guess. An account found only by
 * e-mail under another username, or found by username but carrying another idnumber, is someone
 * else's (Moodle does not keep idnumber unique; tilgang does). Texts name accounts by username
 * and id, never by idnumber or e-mail, which may be sensitive.
 */
export function matchAccount(person: string, id: Identity, found: Partial<Record<MatchField, MoodleAccount[]>>, match: readonly MatchField[]): MoodleAccount | null {
  const all = new Map<number, { account: MoodleAccount; by: MatchField[] }>();
  for (const field of match) {
    for (const a of found[field] ?? []) {
      const e = all.get(a.id) ?? { account: a, by: [] };
      e.by.push(field);
      all.set(a.id, e);
    }
  }
  const hits = [...all.values()].sort((x, y) => x.account.id - y.account.id);
  if (hits.length > 1) {
    const fields = [...new Set(hits.flatMap((h) => h.by))];
    throw new TerminalError(
      `person ${person}, target moodle: ${hits.length} Moodle accounts match by ${fields.join('/')}: ${hits.map((h) => `${describe(h.account)} by ${h.by.join('/')}`).join(' and ')}; a duplicate, resolve it in Moodle`,
      'duplicate', hits[1]!.by[0]);
  }
  const hit = hits[0];
  if (!hit) return null;
  const a = hit.account;
  if (hit.by.length === 1 && hit.by[0] === 'email' && a.username !== id.username) {
    throw new TerminalError(`person ${person}, target moodle: the e-mail address is held by the Moodle account ${describe(a)}, which is another username`, 'conflict', 'email');
  }
  if (match.includes('idnumber') && id.idnumber && a.idnumber && a.idnumber !== id.idnumber) {
    throw new TerminalError(`person ${person}, target moodle: the Moodle account ${describe(a)} matches by ${hit.by.join('/')} but carries another person's idnumber`, 'conflict', 'idnumber');
  }
  return a;
}

interface CachedCourse { id: number; at: number }

/** A managed course in the semesters in scope. */
export interface ScopeCourse { readonly id: number; readonly idnumber: string }

/** core_enrol_get_enrolled_users with userfields id,roles. */
interface MoodleEnrolledUser { id: number; roles?: { roleid: number }[] }

/** Who is in a course with which role ids, as last read (and as tilgang's own writes changed it since). */
interface Roster { at: number; users?: Map<number, number[]>; done: Promise<Map<number, number[]>> }

/** The connection the target hands around: the WS client plus its coalescing readers and the course cache. */
export class MoodleSession {
  private readonly users: Record<MatchField, Batcher<string, MoodleAccount[]>>;
  private readonly courses = new Map<string, CachedCourse>();
  /** Courses looked up and not found: when the lookup began. */
  private readonly missing = new Map<string, number>();
  private readonly rosters = new Map<number, Roster>();
  private readonly courseLookups: Batcher<string, number | null>;
  /** The start check passed on this connection (later checks only ask whether Moodle answers). */
  checkedAtStart = false;
  /** When the LIVE/REPROCESS reads of the last 10 s began, oldest first, for their rate. */
  private readonly liveReads: number[] = [];
  /** Changes to the known courses' ids (a course learnt, its id changed, one forgotten), and the courses in scope as last worked out. */
  private coursesVersion = 0;
  private scope?: { version: number; key: string; courses: readonly ScopeCourse[] };
  /**
   * Per user, the courses whose roster held them when read or since tilgang's own writes: where a
   * person's enrolments are looked up while every roster in scope is fresh. Never pruned; each is
   * checked against its roster as it is now.
   */
  private readonly userCourses = new Map<number, Set<number>>();
  /** Rosters read, dropped or replaced: whether the last finding that every roster in scope is fresh still holds. */
  private rostersVersion = 0;
  /** The last walk of the courses in scope that found every roster fresh: until when, and each course's places in the list. */
  private freshness?: { scope: readonly ScopeCourse[]; version: number; until: number; positions: Map<number, number[]> };
  /** A read of stale rosters of a scope, begun by one person's read, that the others arriving meanwhile wait for. */
  private refreshing?: { scope: readonly ScopeCourse[]; done: Promise<void> };
  /** The last look at every course: when it began, and its completion. */
  private index?: { startedAt: number; done: Promise<void> };
  /** When the last look at every course that completed began. */
  private indexedAt?: number;

  constructor(readonly ws: MoodleClient, readonly cfg: MoodleConfig) {
    const byField = (field: MatchField) => new Batcher<string, MoodleAccount[]>(async (values) => {
      const users = await ws.call<MoodleUser[]>('core_user_get_users_by_field', { field, values });
      const out = new Map<string, MoodleAccount[]>();
      for (const u of users) {
        const a = toAccount(u);
        const key = a[field];
        if (!key) continue;
        out.set(key, [...(out.get(key) ?? []), a]);
      }
      return out;
    }, cfg.batchSize, () => [], cfg.lookupLingerMs);
    this.users = { username: byField('username'), idnumber: byField('idnumber'), email: byField('email') };
    this.courseLookups = new Batcher<string, number | null>((idnumbers) => this.fetchCourses(idnumbers), 100, () => null);
  }

  /** The accounts whose `field` equals `value` exactly. */
  findUsers(field: MatchField, value: string): Promise<MoodleAccount[]> {
    return this.users[field].load(value);
  }

  /**
   * Notes one person's read outside a full reconciliation and says whether people come fast enough
   * (above rostersAbovePerSecond over the last 10 s) that the rosters, one call per course for
   * everyone, cost Moodle less than a call per person.
   */
  busyStream(now = Date.now()): boolean {
    const windowMs = 10_000;
    this.liveReads.push(now);
    let old = 0;
    while (old < this.liveReads.length && this.liveReads[old]! < now - windowMs) old++;
    if (old) this.liveReads.splice(0, old);
    return this.liveReads.length > this.cfg.rostersAbovePerSecond * (windowMs / 1000);
  }

  /** The user's active enrolments in courses tilgang manages (Moodle returns no roles). */
  async managedEnrolments(userid: number): Promise<EnrolledCourse[]> {
    const courses = await this.ws.call<MoodleUserCourse[]>('core_enrol_get_users_courses', { userid, returnusercount: false });
    const out: EnrolledCourse[] = [];
    for (const c of courses) {
      const idnumber = (c.idnumber ?? '').normalize('NFC');
      if (!isManagedCourse(idnumber)) continue;
      out.push({ id: c.id, idnumber });
      this.remember(idnumber, c.id);
    }
    return out;
  }

  /**
   * The Moodle id of a managed course by idnumber, or null when Moodle has none. A course found is
   * remembered for courseCacheSeconds, a course not found for courseMissingSeconds: a wave of people
   * waiting for the same missing course costs one lookup, not one each. `since`: when the caller
   * began reading; `fresh` (a REPROCESS, as the courses flow sends right after making a course):
   * only a lookup begun after `since` may answer "no such course", so a course made before the
   * event is always seen.
   */
  async courseId(idnumber: string, since: number, fresh = false): Promise<number | null> {
    const hit = this.courses.get(idnumber);
    if (hit && Date.now() - hit.at < this.cfg.courseCacheSeconds * 1000) return hit.id;
    const missed = this.missing.get(idnumber);
    if (missed !== undefined && (missed >= since || (!fresh && Date.now() - missed < this.cfg.courseMissingSeconds * 1000))) return null;
    // Every course at once when the index is cold or old: one call instead of one per course.
    if (!this.index || this.index.startedAt < since && Date.now() - this.index.startedAt > this.cfg.courseCacheSeconds * 1000) {
      const startedAt = Date.now();
      this.index = { startedAt, done: this.fetchAllCourses().catch((e: unknown) => { this.index = undefined; throw e; }) };
    }
    if (this.index.startedAt >= since) {
      const { startedAt } = this.index;
      await this.index.done;
      const id = this.courses.get(idnumber)?.id ?? null;
      if (id === null) this.noteMissing(idnumber, startedAt);
      return id;
    }
    const startedAt = Date.now();
    const id = await this.courseLookups.load(idnumber);
    if (id === null) this.noteMissing(idnumber, startedAt);
    return id;
  }

  private noteMissing(idnumber: string, at: number): void {
    if ((this.missing.get(idnumber) ?? -Infinity) < at) this.missing.set(idnumber, at);
  }

  /**
   * Who is enrolled in a course (active enrolments) with which role ids: one call per course,
   * remembered for courseCacheSeconds and kept up to date with tilgang's own writes. `fresh`: read
   * it again now (after a write whose effect is uncertain).
   */
  roster(courseid: number, fresh = false): Promise<Map<number, number[]>> {
    const hit = this.rosters.get(courseid);
    if (!fresh && hit && Date.now() - hit.at < this.cfg.courseCacheSeconds * 1000) return hit.done;
    const entry: Roster = {
      at: Date.now(),
      done: this.ws.call<MoodleEnrolledUser[]>('core_enrol_get_enrolled_users', {
        courseid, options: [{ name: 'onlyactive', value: '1' }, { name: 'userfields', value: 'id,roles' }],
      }).then((users) => {
        entry.users = new Map(users.map((u) => [u.id, (u.roles ?? []).map((r) => r.roleid)]));
        for (const userid of entry.users.keys()) this.noteUserIn(userid, courseid);
        this.rostersVersion++;
        return entry.users;
      }),
    };
    entry.done.catch(() => {
      if (this.rosters.get(courseid) !== entry) return;
      this.rosters.delete(courseid);
      this.rostersVersion++;
    });
    this.rosters.set(courseid, entry);
    this.rostersVersion++;
    return entry.done;
  }

  /** The managed courses of `from` and later semesters, from the all-courses index (read again when old). */
  async coursesInScope(from: Semester): Promise<readonly ScopeCourse[]> {
    if (!this.index || Date.now() - this.index.startedAt > this.cfg.courseCacheSeconds * 1000) {
      this.index = { startedAt: Date.now(), done: this.fetchAllCourses().catch((e: unknown) => { this.index = undefined; throw e; }) };
    }
    await this.index.done;
    return this.scopeOf(from);
  }

  /** Worked out once per change of the known courses, not per person: a wave asks for it for each of its people. */
  private scopeOf(from: Semester): readonly ScopeCourse[] {
    const key = `${from.year}\u0000${from.term}`;
    if (this.scope?.version !== this.coursesVersion || this.scope.key !== key) {
      this.scope = { version: this.coursesVersion, key, courses: [...this.courses.entries()].filter(([idnumber]) => courseInScope(idnumber, from)).map(([idnumber, c]) => ({ id: c.id, idnumber })) };
    }
    return this.scope.courses;
  }

  /**
   * The user's enrolments in scope when they cost no call: the course index and every roster in
   * scope already read (by a full reconciliation or a busy stream) and still fresh, i.e. as fresh
   * as a busy stream accepts them. Else undefined: the caller asks Moodle.
   */
  enrolmentsIfFresh(userid: number, from: Semester): EnrolledCourse[] | undefined {
    if (this.indexedAt === undefined || Date.now() - this.indexedAt > this.cfg.courseCacheSeconds * 1000) return undefined;
    return this.fromRostersIfFresh(userid, this.scopeOf(from));
  }

  /** The user's enrolments from the rosters when every one in scope is fresh (the index, else a walk that finds them so); else undefined. */
  private fromRostersIfFresh(userid: number, courses: readonly ScopeCourse[]): EnrolledCourse[] | undefined {
    const known = this.fromFreshRosters(userid, courses);
    if (known) return known;
    const walked = this.walkRosters(userid, courses);
    return walked.stale ? undefined : walked.out;
  }

  /** A user's enrolments (with roles) in these courses, from the courses' rosters (each read once for everyone). */
  async enrolmentsFromRosters(userid: number, courses: readonly ScopeCourse[]): Promise<EnrolledCourse[]> {
    const known = this.fromFreshRosters(userid, courses);
    if (known) return known;
    // Another person's read of this scope's stale rosters is on its way (a wave's people arrive
    // together): wait for it rather than walk every course to find the same rosters stale.
    const pending = this.refreshing;
    if (pending?.scope === courses) {
      await pending.done.catch(() => {});
      const after = this.fromFreshRosters(userid, courses);
      if (after) return after;
    }
    const walked = this.walkRosters(userid, courses);
    if (!walked.stale) return walked.out;
    // Some rosters to read first.
    const done = Promise.all(walked.stale.map((c) => this.roster(c.id))).then(() => {});
    const entry = { scope: courses, done };
    this.refreshing = entry;
    void done.catch(() => {}).finally(() => { if (this.refreshing === entry) this.refreshing = undefined; });
    await done;
    // Then from the rosters as they are: the index once one walk has found them all fresh, else every course in order.
    const fresh = this.fromRostersIfFresh(userid, courses);
    if (fresh) return fresh;
    // A roster already old again (courseCacheSeconds 0, or a slow read): as read, not read once more.
    const out: EnrolledCourse[] = [];
    for (const c of courses) {
      const roles = this.rosters.get(c.id)?.users?.get(userid);
      if (roles) out.push({ ...c, roles });
    }
    return out;
  }

  /**
   * Every roster in scope known fresh (same courses, no roster read, dropped or replaced since, none
   * expired yet): the user's enrolments from the per-user index, not a walk of every course; else undefined.
   */
  private fromFreshRosters(userid: number, courses: readonly ScopeCourse[]): EnrolledCourse[] | undefined {
    const f = this.freshness;
    if (!f || f.scope !== courses || f.version !== this.rostersVersion || Date.now() >= f.until) return undefined;
    const hits: [number, EnrolledCourse][] = [];
    for (const courseid of this.userCourses.get(userid) ?? []) {
      const roles = this.rosters.get(courseid)?.users?.get(userid);
      if (roles) for (const i of f.positions.get(courseid) ?? []) hits.push([i, { ...courses[i]!, roles }]);
    }
    return hits.sort((a, b) => a[0] - b[0]).map(([, e]) => e);
  }

  /** Every course in scope in order: the user's enrolments in those with a fresh roster, and the stale ones; none stale is noted for fromFreshRosters. */
  private walkRosters(userid: number, courses: readonly ScopeCourse[]): { out: EnrolledCourse[]; stale?: ScopeCourse[] } {
    const now = Date.now();
    const ttl = this.cfg.courseCacheSeconds * 1000;
    const out: EnrolledCourse[] = [];
    let stale: ScopeCourse[] | undefined;
    let until = Infinity;
    for (const c of courses) {
      const r = this.rosters.get(c.id);
      if (r?.users === undefined || now - r.at >= ttl) (stale ??= []).push(c);
      else {
        until = Math.min(until, r.at + ttl);
        const roles = r.users.get(userid);
        if (roles) out.push({ ...c, roles });
      }
    }
    if (stale) return { out, stale };
    const positions = new Map<number, number[]>();
    courses.forEach((c, i) => (positions.get(c.id) ?? positions.set(c.id, []).get(c.id)!).push(i));
    this.freshness = { scope: courses, version: this.rostersVersion, until, positions };
    return { out };
  }

  /** tilgang's own write changed a user's roles in a course: keep a read roster in step (a roster still being read is dropped). */
  noteRoles(courseid: number, userid: number, change: (roles: number[]) => number[] | null): void {
    const r = this.rosters.get(courseid);
    if (!r) return;
    if (!r.users) {
      this.rosters.delete(courseid);
      this.rostersVersion++;
      return;
    }
    const roles = change(r.users.get(userid) ?? []);
    if (roles === null) r.users.delete(userid);
    else {
      r.users.set(userid, roles);
      this.noteUserIn(userid, courseid);
    }
  }

  private noteUserIn(userid: number, courseid: number): void {
    (this.userCourses.get(userid) ?? this.userCourses.set(userid, new Set()).get(userid)!).add(courseid);
  }

  /** Forget a course (an enrolment in it failed: it may have been deleted and made again). */
  forgetCourse(idnumber: string): void {
    if (this.courses.delete(idnumber)) this.coursesVersion++;
  }

  private remember(idnumber: string, id: number): void {
    if (this.courses.get(idnumber)?.id !== id) this.coursesVersion++;
    this.courses.set(idnumber, { id, at: Date.now() });
  }

  private take(r: MoodleCoursesResult): Map<string, number> {
    const out = new Map<string, number>();
    for (const c of r.courses) {
      const idn = (c.idnumber ?? '').normalize('NFC');
      if (!isManagedCourse(idn)) continue;
      this.remember(idn, c.id);
      out.set(idn, c.id);
    }
    return out;
  }

  private async fetchAllCourses(): Promise<void> {
    const startedAt = Date.now();
    this.take(await this.ws.call<MoodleCoursesResult>('core_course_get_courses_by_field', { field: '', value: '' }));
    this.indexedAt = startedAt;
  }

  private async fetchCourses(idnumbers: string[]): Promise<Map<string, number | null>> {
    const out = new Map<string, number | null>();
    await Promise.all(idnumbers.map(async (v) => {
      for (const [k, id] of this.take(await this.ws.call<MoodleCoursesResult>('core_course_get_courses_by_field', { field: 'idnumber', value: v }))) out.set(k, id);
    }));
    return out;
  }

  async close(): Promise<void> {
    await this.ws.close();
  }
}

/** The first semester whose courses tilgang manages enrolments in. */
export function enrolmentsFrom(cfg: MoodleConfig, now = new Date()): Semester {
  return cfg.enrolmentsFrom ? parseSemester(cfg.enrolmentsFrom) : semesterOf(now);
}

/**
 * Read: the person's account (matched as configured), their enrolments in managed courses of the
 * semesters in scope with their roles in the courses they should be in, and the Moodle ids of
 * those courses. A person not entitled needs only the account.
 */
export async function readActual(person: PersonContext, id: Identity, desired: Desired | null, s: MoodleSession): Promise<Actual> {
  const cfg = s.cfg;
  const since = Date.now();
  const fresh = person.event.changeType === 'REPROCESS';
  const from = enrolmentsFrom(cfg);
  const wanted: Record<MatchField, string | undefined> = { username: id.username, idnumber: id.idnumber, email: id.email };
  const found: Partial<Record<MatchField, MoodleAccount[]>> = {};
  const lookup = async (f: MatchField) => {
    const v = wanted[f];
    found[f] = v ? await s.findUsers(f, v) : [];
  };
  // By idnumber first when both are matched: Moodle keeps usernames unique, so when the one account
  // found by idnumber carries the person's username, a lookup by username could find only that
  // account again. Moodle charges a lookup per user found, so a person already in Moodle costs one.
  const byIdnumberFirst = cfg.match.includes('idnumber') && cfg.match.includes('username') && !!id.idnumber;
  if (byIdnumberFirst) await lookup('idnumber');
  await Promise.all(cfg.match.filter((f) => !(byIdnumberFirst && f === 'idnumber')).map(async (f) => {
    const same = found.idnumber;
    if (f === 'username' && byIdnumberFirst && same?.length === 1 && same[0]!.username === id.username) found.username = same;
    else await lookup(f);
  }));
  const account = matchAccount(person.id, id, found, cfg.match);
  const enrolments = desired?.enrolments;
  if (!enrolments) return { account, enrolled: [], courses: {}, from };
  // A full reconciliation (SNAPSHOT), or a stream of people faster than rostersAbovePerSecond,
  // reads each course's roster once for everyone instead of each person's courses: one call per
  // course, not one per person. A person new to Moodle needs none, but the rosters read now (cheap
  // while the courses are empty) are kept in step with tilgang's own enrolments for
  // courseCacheSeconds, so the people after them need no call for them either.
  // A slower stream reads the person's own courses, unless the rosters are all read and fresh anyway.
  const snapshot = person.event.changeType === 'SNAPSHOT' || s.busyStream();
  const listed = !account ? (snapshot ? await s.enrolmentsFromRosters(-1, await s.coursesInScope(from)) : [])
    : snapshot ? await s.enrolmentsFromRosters(account.id, await s.coursesInScope(from))
      : s.enrolmentsIfFresh(account.id, from) ?? (await s.managedEnrolments(account.id)).filter((c) => courseInScope(c.idnumber, from));
  const enrolled = new Map<string, EnrolledCourse>(listed.map((c) => [c.idnumber, c]));
  const courseWanted = [...new Set(enrolments.map((e) => e.course))].filter((c) => courseInScope(c, from));
  const courses: Record<string, number | null> = {};
  await Promise.all(courseWanted.filter((c) => !enrolled.has(c)).map(async (c) => {
    courses[c] = await s.courseId(c, since, fresh);
  }));
  if (account) {
    // Roles in the courses the person should be in, from the course's roster. The roster also shows
    // an enrolment core_enrol_get_users_courses leaves out (a student in a hidden course).
    await Promise.all(courseWanted.map(async (c) => {
      const courseid = enrolled.get(c)?.id ?? courses[c];
      if (courseid == null) return;
      const roles = (await s.roster(courseid)).get(account.id);
      if (!roles) return;
      enrolled.set(c, { id: courseid, idnumber: c, roles });
    }));
  }
  return { account, enrolled: [...enrolled.values()], courses, from };
}

/**
 * The accounts tilgang made in Moodle: those of tilgang's auth method whose idnumber (the anchor)
 * holds a person's key, in one core_user_get_users call (Moodle does not page it). Without an
 * idnumber mapping tilgang has no anchor in Moodle and lists nothing.
 */
export async function* listManagedAccounts(s: MoodleSession): AsyncIterable<ManagedAccount[]> {
  const cfg = s.cfg;
  const anchor = cfg.attributes.idnumber;
  if (!anchor) return;
  const r = await s.ws.call<MoodleGetUsersResult>('core_user_get_users', { criteria: [{ key: 'auth', value: cfg.auth }] });
  const out: ManagedAccount[] = [];
  for (const u of r.users) {
    const a = toAccount(u);
    if (!a.idnumber) continue;
    const match: Record<string, string[]> = { [anchor]: [a.idnumber] };
    if (a.username) match[cfg.attributes.username] = [a.username];
    if (a.email) match[cfg.attributes.email] = [a.email];
    out.push({ key: a.idnumber, accountId: String(a.id), name: a.username, enabled: !a.suspended, match });
  }
  yield out;
}
