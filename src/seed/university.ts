/**
 * The sample university, generated from a seed: org units, the course catalogue for the current and
 * the next semester, people with their directory attributes, who studies and teaches what, and a
 * handful of deliberately bad records. Pure: no I/O, no clock (unless `now` is left out), no
 * Math.random — the same options give byte-identical output.
 */
import { syntheticFnr } from './fnr.js';
import { ascii, FEMALE_GIVEN_NAMES, MALE_GIVEN_NAMES, SURNAMES } from './names.js';
import { CENTRAL_FACULTY, departments, FACULTIES, orgUnits, type DepartmentInfo, type OrgUnit, type Subject } from './org.js';
import { Rng } from './prng.js';

export type Affiliation = 'employee' | 'student' | 'affiliate' | 'sensor';
export const AFFILIATIONS: readonly Affiliation[] = ['employee', 'student', 'affiliate', 'sensor'];
export type Term = 'VÅR' | 'HØST';
export type Emnetype = 'EMNE' | 'EKSPERTISE' | 'PHD';
export type Language = 'nb' | 'nn' | 'en';

export interface Semester {
  term: Term;
  year: number;
}

export interface Topic {
  /** institution:code:version */
  sourceId: string;
  institution: string;
  code: string;
  version: number;
  nameNb: string;
  nameEn: string;
  emnetype: Emnetype;
  term: Term;
  year: number;
  stedkode: string;
  status: 'active' | 'cancelled';
}

export interface AffiliationRecord {
  affiliation: Affiliation;
  stedkode: string;
  /** ISO dates (YYYY-MM-DD); validTo null = open-ended. */
  validFrom: string;
  validTo: string | null;
}

/** One person, with every value the directory entry and the MV rows are made from. */
export interface SamplePerson {
  idautoId: string;
  /** null only in a planted bad record. */
  givenName: string | null;
  sn: string;
  displayName: string;
  /** null only in a planted bad record. */
  username: string | null;
  uhUsername: string;
  feideId: string | null;
  /** null only in a planted bad record. */
  mail: string | null;
  emails: string[];
  employeeType: 'faculty' | 'staff' | 'student' | 'affiliate' | 'sensor';
  /** The primary affiliation; `affiliations` lists all, primary first. */
  affiliation: Affiliation;
  affiliations: Affiliation[];
  affiliationRecords: AffiliationRecord[];
  studentId: string | null;
  hrId: string | null;
  /** Synthetic fnr (month + 80): never a real person's. */
  nationalId: string;
  stedkode: string;
  jobTitle: string | null;
  /** idautoID of the unit head; the directory entry carries it as a DN. */
  managerId: string | null;
  preferredLanguage: Language;
  /** Business roles: iam:employee, iam:student, iam:affiliate, iam:sensor, iam:teacher. */
  roles: string[];
  /** Granted requests (idautoRequestAssociations), one target each, e.g. moodle. */
  requests: string[];
  /** True for people who have left: no current affiliation, roles or courses. */
  disabled: boolean;
}

export interface MasterPerson {
  idautoId: string;
  sourceId: string;
  term: Term;
  year: number;
  role: 'student' | 'teacher';
}

export type BadRecordKind = 'missing-givenName' | 'missing-mail' | 'missing-username' | 'duplicate-username' | 'duplicate-mail';

export interface BadRecord {
  idautoId: string;
  kind: BadRecordKind;
  reason: string;
}

/** How many people of each kind the bad-record plant uses; documented in README.md. */
export const BAD_RECORD_PLAN: Readonly<Record<BadRecordKind, number>> = {
  'missing-givenName': 1,
  'missing-mail': 1,
  'missing-username': 1,
  'duplicate-username': 2,
  'duplicate-mail': 2,
};

export interface University {
  /** The `now` everything is relative to (ISO timestamp). */
  now: string;
  /** The current semester, then the next. */
  semesters: [Semester, Semester];
  orgUnits: OrgUnit[];
  topics: Topic[];
  persons: SamplePerson[];
  masterPersons: MasterPerson[];
  badRecords: BadRecord[];
}

export interface GenerateOptions {
  persons: number;
  seed: number;
  /** What "current semester" and every date are relative to. Defaults to the clock. */
  now?: Date;
}

export const INSTITUTION = '1120';
export const MAIL_DOMAIN = 'uni.example.no';
export const STUDENT_MAIL_DOMAIN = 'student.uni.example.no';
/** Where external examiners come from: other institutions' (example) domains. */
const EXTERNAL_DOMAINS = ['uit.example.no', 'ntnu.example.no', 'uio.example.no', 'hvl.example.no', 'nmbu.example.no', 'example.com'];

/** VÅR is January–June; HØST is the rest (July counts as the run-up to the autumn). */
export function semesterOf(d: Date): Semester {
  return { term: d.getUTCMonth() < 6 ? 'VÅR' : 'HØST', year: d.getUTCFullYear() };
}

export function nextSemester(s: Semester): Semester {
  return s.term === 'VÅR' ? { term: 'HØST', year: s.year } : { term: 'VÅR', year: s.year + 1 };
}

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const DAY = 86_400_000;

// ---------------------------------------------------------------------------------------------
// The course catalogue

const TOPIC_TEMPLATES: Record<string, readonly (readonly [nb: string, en: string])[]> = {
  intro: [['Innføring i {s}', 'Introduction to {S}'], ['Grunnkurs i {s}', 'Foundations of {S}']],
  middle: [['{S}', '{S}'], ['Videregående {s}', 'Advanced {S}'], ['Metoder i {s}', 'Methods in {S}']],
  master: [['Masteroppgave i {s}', "Master's Thesis in {S}"], ['Seminar i {s}', 'Seminar in {S}'], ['Spesialpensum i {s}', 'Special Syllabus in {S}']],
  EKSPERTISE: [['Etter- og videreutdanning i {s}', 'Continuing Education in {S}'], ['Profesjonspraksis i {s}', 'Professional Practice in {S}']],
  PHD: [['Forskerkurs i {s}', 'Research Course in {S}'], ['Doktorgradsseminar i {s}', 'PhD Seminar in {S}']],
};

/** Course numbers per type: bachelor and master courses 100–399, continuing education 600–699, PhD 900–999. */
const CODE_RANGES: Record<Emnetype, [number, number]> = { EMNE: [100, 399], EKSPERTISE: [600, 699], PHD: [900, 999] };

function topicName(rng: Rng, emnetype: Emnetype, num: number, [nb, en]: Subject): [string, string] {
  const group = emnetype !== 'EMNE' ? emnetype : num < 200 ? 'intro' : num < 300 ? 'middle' : 'master';
  const [tnb, ten] = rng.pick(TOPIC_TEMPLATES[group]!);
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return [tnb.replace('{s}', nb).replace('{S}', cap(nb)), ten.replace('{S}', en)];
}

/** Enough courses for the people: about one per 25 persons and semester (at least 12). */
export function topicsPerSemester(persons: number): number {
  return Math.max(12, Math.round(persons / 25));
}

function generateTopics(rng: Rng, persons: number, semesters: readonly Semester[], depts: DepartmentInfo[]): Topic[] {
  const teaching = depts.filter((d) => d.prefix && d.subjects.length);
  const weight = (d: DepartmentInfo) => {
    const f = FACULTIES.find((x) => `${x.code}0000` === d.faculty)!;
    return f.studentWeight / f.departments.length;
  };
  const weights = Object.fromEntries(teaching.map((d) => [d.stedkode, weight(d)]));
  // Course numbers are unique across the catalogue: the source id has no semester in it.
  const pools = new Map<string, number[]>();
  const pool = (d: DepartmentInfo, t: Emnetype) => {
    const key = `${d.stedkode}:${t}`;
    let p = pools.get(key);
    if (!p) {
      const [lo, hi] = CODE_RANGES[t];
      p = rng.sample(Array.from({ length: hi - lo + 1 }, (_, i) => lo + i), hi - lo + 1);
      pools.set(key, p);
    }
    return p;
  };
  const out: Topic[] = [];
  const wanted = topicsPerSemester(persons);
  for (const sem of semesters) {
    for (let i = 0; i < wanted; i++) {
      const emnetype = rng.weighted<Emnetype>({ EMNE: 85, PHD: 9, EKSPERTISE: 6 });
      const drawn = rng.weighted(weights);
      let d = teaching.find((x) => x.stedkode === drawn)!;
      // A full department hands the course to another one; stop when every pool is empty.
      if (pool(d, emnetype).length === 0) {
        const free = teaching.find((x) => pool(x, emnetype).length > 0);
        if (!free) continue;
        d = free;
      }
      const num = pool(d, emnetype).pop()!;
      const code = `${d.prefix}${num}`;
      const version = Number(rng.weighted({ 1: 80, 2: 15, 3: 5 }));
      const [nameNb, nameEn] = topicName(rng, emnetype, num, rng.pick(d.subjects));
      out.push({
        sourceId: `${INSTITUTION}:${code}:${version}`, institution: INSTITUTION, code, version, nameNb, nameEn, emnetype,
        term: sem.term, year: sem.year, stedkode: d.stedkode, status: rng.chance(0.03) ? 'cancelled' : 'active',
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// People

const ACADEMIC_TITLES = { Professor: 30, Førsteamanuensis: 28, Universitetslektor: 12, Postdoktor: 14, Forsker: 16 };
const ADMIN_TITLES = ['Seniorkonsulent', 'Rådgiver', 'Seniorrådgiver', 'Førstekonsulent', 'Overingeniør', 'Avdelingsingeniør'];
const AFFILIATE_TITLES = ['Gjesteforsker', 'Professor emeritus', 'Konsulent', 'Gjesteforeleser'];

/** What the generator knows about a person beyond the record itself. */
interface Meta {
  faculty: string;
  department: string;
  academicStaff: boolean;
  phd: boolean;
}

class Unique {
  private readonly used = new Set<string>();
  has(v: string) { return this.used.has(v); }
  take(make: (attempt: number) => string): string {
    for (let attempt = 0; ; attempt++) {
      const v = make(attempt);
      if (!this.used.has(v)) { this.used.add(v); return v; }
    }
  }
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const mailPart = (s: string) => ascii(s).toLowerCase().replace(/\s+/g, '').replace(/[^a-z0-9-]/g, '');

function givenName(rng: Rng, female: boolean): string {
  const pool = female ? FEMALE_GIVEN_NAMES : MALE_GIVEN_NAMES;
  const first = rng.pick(pool);
  // Several given names (Kari Anne, Ole Petter) are common in Norway.
  if (rng.chance(0.18)) {
    const second = rng.pick(pool);
    if (second !== first) return `${first} ${second}`;
  }
  return first;
}

function surname(rng: Rng): string {
  // Squared: common names (the start of the list) come up far more often, as they do.
  const one = () => SURNAMES[Math.floor(rng.float() ** 2 * SURNAMES.length)]!;
  const sn = one();
  if (rng.chance(0.08)) {
    const other = one();
    if (other !== sn) return `${sn}-${other}`;
  }
  return sn;
}

function birthDate(rng: Rng, now: Date, minAge: number, maxAge: number): Date {
  const year = now.getUTCFullYear() - rng.int(minAge, maxAge);
  return new Date(Date.UTC(year, 0, 1) + rng.int(0, 364) * DAY);
}

export function generateUniversity(opts: GenerateOptions): University {
  if (!Number.isInteger(opts.persons) || opts.persons < 0) throw new RangeError(`persons must be a whole number ≥ 0, got ${opts.persons}`);
  const now = opts.now ?? new Date();
  const nowMs = now.getTime();
  const current = semesterOf(now);
  const semesters: [Semester, Semester] = [current, nextSemester(current)];
  const units = orgUnits();
  const depts = departments();
  const topics = generateTopics(new Rng(opts.seed, 1), opts.persons, semesters, depts);

  const rng = new Rng(opts.seed, 2);
  const usernames = new Unique();
  const uhUsernames = new Unique();
  const mails = new Unique();
  const fnrs = new Unique();
  let nextStudentId = 100_000;
  let nextHrId = 1_000_000;
  const persons: SamplePerson[] = [];
  const meta: Meta[] = [];

  const studentFaculties = Object.fromEntries(FACULTIES.filter((f) => f.studentWeight > 0).map((f) => [f.code, f.studentWeight]));
  const employeeFaculties = Object.fromEntries(FACULTIES.map((f) => [f.code, f.employeeWeight]));
  const deptsOf = (faculty: string) => depts.filter((d) => d.faculty === `${faculty}0000`);

  for (let i = 0; i < opts.persons; i++) {
    const primary = rng.weighted<Affiliation>({ student: 81, employee: 13, affiliate: 4, sensor: 2 });
    const female = rng.chance(0.5);
    const given = givenName(rng, female);
    const sn = surname(rng);
    const facultyCode = rng.weighted(primary === 'employee' ? employeeFaculties : studentFaculties);
    const faculty = FACULTIES.find((f) => f.code === facultyCode)!;
    const dept = rng.pick(deptsOf(facultyCode));
    const academicStaff = primary === 'employee' && faculty.academic && rng.chance(0.7);
    const phd = academicStaff && rng.chance(0.17);
    const studentAssistant = primary === 'student' && rng.chance(0.025);

    const affiliations: Affiliation[] = [primary];
    if (phd) affiliations.push('student');
    if (studentAssistant) affiliations.push('employee');
    const isEmployee = affiliations.includes('employee');
    const isStudent = affiliations.includes('student');

    // Where the person sits: students and guests at a department, staff also in its groups or at the faculty.
    let stedkode = dept.stedkode;
    if (primary === 'employee') {
      if (academicStaff || !faculty.academic) {
        if (dept.groups.length && rng.chance(0.6)) stedkode = rng.pick(dept.groups);
      } else if (rng.chance(0.25)) {
        stedkode = dept.faculty;
      }
    }

    const ages: Record<Affiliation, [number, number]> = { student: [19, 32], employee: [25, 67], affiliate: [28, 80], sensor: [30, 67] };
    const [minAge, maxAge] = phd ? [25, 40] : ages[primary];
    const birth = birthDate(rng, now, minAge, maxAge);
    const nationalId = fnrs.take(() => syntheticFnr(rng, birth, female ? 'female' : 'male'));

    const username = usernames.take(() => `${LETTERS[rng.int(0, 25)]}${LETTERS[rng.int(0, 25)]}${LETTERS[rng.int(0, 25)]}${String(rng.int(0, 999)).padStart(3, '0')}`);
    const g0 = mailPart(given.split(' ')[0]!);
    const s0 = mailPart(sn);
    const uhUsername = uhUsernames.take(() => `${g0.replace(/-/g, '').slice(0, 2)}${s0.replace(/-/g, '').slice(0, 3)}${String(rng.int(0, 999)).padStart(3, '0')}`);
    const nameMail = (domain: string) => mails.take((n) => `${g0}.${s0}${n === 0 ? '' : n + 1}@${domain}`);
    const studentMail = `${username}@${STUDENT_MAIL_DOMAIN}`;

    let mail: string;
    const emails: string[] = [];
    if (primary === 'sensor') mail = nameMail(rng.pick(EXTERNAL_DOMAINS));
    else if (primary === 'student') mail = mails.take(() => studentMail);
    else mail = nameMail(MAIL_DOMAIN);
    emails.push(mail);
    if (isStudent && mail !== studentMail) emails.push(mails.take(() => studentMail));
    if (rng.chance(0.2)) emails.push(`${g0}.${s0}${rng.int(10, 99)}@example.net`);

    let jobTitle: string | null = null;
    if (primary === 'employee') {
      jobTitle = phd ? 'Stipendiat' : academicStaff ? rng.weighted(ACADEMIC_TITLES) : dept.stedkode === '223000' ? 'Universitetsbibliotekar' : rng.pick(ADMIN_TITLES);
    } else if (studentAssistant) jobTitle = 'Studentassistent';
    else if (primary === 'affiliate') jobTitle = rng.pick(AFFILIATE_TITLES);
    else if (primary === 'sensor') jobTitle = 'Ekstern sensor';

    const disabled = rng.chance(0.01);
    const records: AffiliationRecord[] = affiliations.map((a) => {
      let from: number;
      let to: number | null;
      switch (a) {
        case 'student': {
          const startYear = now.getUTCFullYear() - rng.int(0, phd ? 3 : 4);
          from = Date.UTC(startYear, 7, 15);
          to = Date.UTC(startYear + (phd ? 4 : rng.pick([3, 5])), 5, 30);
          if (from > nowMs) from -= 365 * DAY;
          if (to <= nowMs) to = Date.UTC(now.getUTCFullYear() + 1, 5, 30);
          break;
        }
        case 'employee':
          from = nowMs - rng.int(30, 25 * 365) * DAY;
          to = phd || studentAssistant || rng.chance(0.2) ? nowMs + rng.int(60, 4 * 365) * DAY : null;
          break;
        case 'affiliate':
          from = nowMs - rng.int(30, 2 * 365) * DAY;
          to = nowMs + rng.int(30, 2 * 365) * DAY;
          break;
        case 'sensor':
          from = nowMs - rng.int(1, 120) * DAY;
          to = nowMs + rng.int(30, 180) * DAY;
          break;
      }
      // People who have left: every affiliation ended a while ago.
      if (disabled) {
        to = nowMs - rng.int(30, 400) * DAY;
        if (from >= to) from = to - rng.int(180, 3 * 365) * DAY;
      }
      return { affiliation: a, stedkode: a === primary ? stedkode : dept.stedkode, validFrom: isoDate(from), validTo: to === null ? null : isoDate(to) };
    });

    const requests: string[] = [];
    if (primary === 'affiliate') {
      if (rng.chance(0.4)) requests.push('moodle');
      if (rng.chance(0.15)) requests.push('ad');
    } else if (primary === 'employee' && rng.chance(0.02)) requests.push('wiseflow');
    else if (primary === 'student' && rng.chance(0.01)) requests.push('lenel');

    persons.push({
      idautoId: rng.uuid(),
      givenName: given,
      sn,
      displayName: `${given} ${sn}`,
      username,
      uhUsername,
      feideId: `${username}@${MAIL_DOMAIN}`,
      mail,
      emails,
      employeeType: primary === 'employee' ? (academicStaff ? 'faculty' : 'staff') : primary,
      affiliation: primary,
      affiliations,
      affiliationRecords: records,
      studentId: isStudent ? String(nextStudentId += rng.int(1, 7)) : null,
      hrId: isEmployee ? String(nextHrId += rng.int(1, 9)) : null,
      nationalId,
      stedkode,
      jobTitle,
      managerId: null,
      preferredLanguage: rng.weighted<Language>({ nb: 70, nn: 15, en: 15 }),
      // Roles and courses follow current affiliations: someone who has left has none.
      roles: disabled ? [] : affiliations.map((a) => `iam:${a}`),
      requests: disabled ? [] : requests,
      disabled,
    });
    meta.push({ faculty: dept.faculty, department: dept.stedkode, academicStaff, phd });
  }

  const heads = appointManagers(persons, meta, depts);
  const masterPersons = enrol(new Rng(opts.seed, 3), persons, meta, topics, semesters);
  const teachers = new Set(masterPersons.filter((m) => m.role === 'teacher').map((m) => m.idautoId));
  for (const p of persons) if (teachers.has(p.idautoId)) p.roles.push('iam:teacher');
  const badRecords = plantBadRecords(new Rng(opts.seed, 4), persons, heads);

  return { now: now.toISOString(), semesters, orgUnits: units, topics, persons, masterPersons, badRecords };
}

/**
 * Heads of department, deans and the university director, chosen among the active employees of each
 * unit; every other employee's manager is the head of their department (or their faculty's dean).
 * Returns the heads' ids. In a small university some posts stay vacant, and so do their managers.
 */
function appointManagers(persons: SamplePerson[], meta: Meta[], depts: DepartmentInfo[]): Set<string> {
  const heads = new Set<string>();
  const employees = persons.map((p, i) => i).filter((i) => persons[i]!.affiliation === 'employee' && !persons[i]!.disabled);
  const eligible = (i: number) => !heads.has(persons[i]!.idautoId) && !meta[i]!.phd;
  const appoint = (i: number | undefined, stedkode: string, title: string) => {
    if (i === undefined) return undefined;
    const p = persons[i]!;
    p.stedkode = stedkode;
    p.jobTitle = title;
    p.employeeType = meta[i]!.academicStaff ? 'faculty' : 'staff';
    p.affiliationRecords[0]!.stedkode = stedkode;
    heads.add(p.idautoId);
    return p.idautoId;
  };

  // Top down, so that a small university fills the posts that give most people a manager first.
  const dean = new Map<string, string>();
  for (const f of [...FACULTIES].sort((a, b) => Number(b.code === CENTRAL_FACULTY) - Number(a.code === CENTRAL_FACULTY))) {
    const code = `${f.code}0000`;
    const inFac = employees.filter((i) => meta[i]!.faculty === code && eligible(i));
    const pickIdx = inFac.find((i) => persons[i]!.stedkode === code) ?? inFac.find((i) => meta[i]!.academicStaff) ?? inFac[0];
    const id = appoint(pickIdx, code, f.code === CENTRAL_FACULTY ? 'Universitetsdirektør' : 'Dekan');
    if (id) dean.set(code, id);
  }
  const top = dean.get(`${CENTRAL_FACULTY}0000`) ?? null;
  const deptHead = new Map<string, string>();
  for (const d of depts) {
    const inDept = employees.filter((i) => meta[i]!.department === d.stedkode && eligible(i));
    // A department of one has nobody to lead.
    if (inDept.length < 2) continue;
    const pickIdx = inDept.find((i) => meta[i]!.academicStaff) ?? inDept[0];
    const id = appoint(pickIdx, d.stedkode, d.academic ? 'Instituttleder' : 'Avdelingsdirektør');
    if (id) deptHead.set(d.stedkode, id);
  }

  const byId = new Map(persons.map((p, i) => [p.idautoId, i]));
  for (const p of persons) {
    if (!p.affiliations.includes('employee')) continue;
    const m = meta[byId.get(p.idautoId)!]!;
    const facultyHead = dean.get(m.faculty) ?? null;
    let manager: string | null;
    if (p.idautoId === top) manager = null;
    else if (p.idautoId === facultyHead) manager = top;
    else if (p.idautoId === deptHead.get(m.department)) manager = facultyHead ?? top;
    else if (p.stedkode === m.faculty) manager = facultyHead ?? top;
    else manager = deptHead.get(m.department) ?? facultyHead ?? top;
    p.managerId = manager === p.idautoId ? null : manager;
  }
  return heads;
}

/**
 * Who studies and teaches what: students on 3–6 courses in the current semester (half of them
 * already on 3–6 in the next), mostly at their own faculty; PhD candidates on PhD courses where
 * there are some; four in five academic staff teach 1–3 courses in each semester, mostly their
 * own department's. Cancelled courses have nobody.
 */
function enrol(rng: Rng, persons: SamplePerson[], meta: Meta[], topics: Topic[], semesters: readonly Semester[]): MasterPerson[] {
  const out: MasterPerson[] = [];
  const bySemester = semesters.map((s) => {
    const active = topics.filter((t) => t.term === s.term && t.year === s.year && t.status === 'active');
    const group = (key: (t: Topic) => string, list: Topic[]) => {
      const m = new Map<string, Topic[]>();
      for (const t of list) m.set(key(t), [...(m.get(key(t)) ?? []), t]);
      return m;
    };
    const ordinary = active.filter((t) => t.emnetype !== 'PHD');
    const phdTopics = active.filter((t) => t.emnetype === 'PHD');
    return {
      semester: s,
      active,
      ordinary,
      byFaculty: group((t) => `${t.stedkode.slice(0, 2)}0000`, ordinary),
      phdByFaculty: group((t) => `${t.stedkode.slice(0, 2)}0000`, phdTopics),
      byDepartment: group((t) => t.stedkode, active),
    };
  });
  const choose = (k: number, preferred: Topic[] | undefined, p: number, rest: Topic[]): Topic[] => {
    const chosen = new Set<Topic>();
    for (let attempt = 0; chosen.size < k && attempt < k * 20; attempt++) {
      chosen.add(preferred?.length && rng.chance(p) ? rng.pick(preferred) : rng.pick(rest));
    }
    for (const t of rest) { if (chosen.size >= k) break; chosen.add(t); }
    return [...chosen];
  };
  const add = (p: SamplePerson, list: Topic[], role: MasterPerson['role']) => {
    for (const t of list) out.push({ idautoId: p.idautoId, sourceId: t.sourceId, term: t.term, year: t.year, role });
  };

  persons.forEach((p, i) => {
    if (p.disabled) return;
    const m = meta[i]!;
    const studies = p.affiliations.includes('student');
    const teaches = m.academicStaff && !m.phd && rng.chance(0.8);
    const continuing = rng.chance(0.5);
    bySemester.forEach((s, si) => {
      if (s.active.length === 0) return;
      if (studies && (si === 0 || continuing)) {
        const k = rng.int(3, 6);
        const list = m.phd && s.phdByFaculty.get(m.faculty)?.length
          ? choose(k, s.phdByFaculty.get(m.faculty), 0.6, s.active)
          : choose(k, s.byFaculty.get(m.faculty), 0.7, s.ordinary.length >= 6 ? s.ordinary : s.active);
        add(p, list, 'student');
      }
      if (teaches) {
        const k = rng.int(1, 3);
        add(p, choose(k, s.byDepartment.get(m.department) ?? s.byFaculty.get(m.faculty), 0.8, s.active), 'teacher');
      }
    });
  });
  return out;
}

/**
 * The deliberate mistakes every flow must survive (see README.md): one person each without
 * givenName, mail or username, two sharing a username, two sharing a mail address. Chosen among
 * active people who manage nobody, so the rest of the data stays sound.
 */
function plantBadRecords(rng: Rng, persons: SamplePerson[], heads: Set<string>): BadRecord[] {
  const candidates = rng.sample(persons.filter((p) => !p.disabled && !heads.has(p.idautoId)), persons.length);
  const used = new Set<SamplePerson>();
  const take = (prefer: (p: SamplePerson) => boolean): SamplePerson | undefined => {
    const p = candidates.find((c) => !used.has(c) && prefer(c)) ?? candidates.find((c) => !used.has(c));
    if (p) used.add(p);
    return p;
  };
  const student = (p: SamplePerson) => p.affiliation === 'student' && p.affiliations.length === 1;
  const staff = (p: SamplePerson) => p.affiliation === 'employee' && p.affiliations.length === 1;
  const out: BadRecord[] = [];

  const noGiven = take(student);
  if (noGiven) {
    noGiven.givenName = null;
    noGiven.displayName = noGiven.sn;
    out.push({ idautoId: noGiven.idautoId, kind: 'missing-givenName', reason: 'no givenName: an essential attribute is missing' });
  }
  const noMail = take(staff);
  if (noMail) {
    noMail.emails = noMail.emails.filter((e) => e !== noMail.mail);
    noMail.mail = null;
    out.push({ idautoId: noMail.idautoId, kind: 'missing-mail', reason: 'no mail: an essential attribute is missing' });
  }
  const noUser = take(student);
  if (noUser) {
    noUser.username = null;
    noUser.feideId = null;
    out.push({ idautoId: noUser.idautoId, kind: 'missing-username', reason: 'no idautoPersonUserNameMV: an essential attribute is missing' });
  }
  const [u1, u2] = [take(student), take(staff)];
  if (u1 && u2) {
    // The second keeps its own mail and student id: only the username (and so the Feide id) clash.
    u2.username = u1.username;
    u2.feideId = u1.feideId;
    out.push({ idautoId: u1.idautoId, kind: 'duplicate-username', reason: `username ${u1.username} is also held by ${u2.idautoId}` });
    out.push({ idautoId: u2.idautoId, kind: 'duplicate-username', reason: `username ${u2.username} is also held by ${u1.idautoId}` });
  }
  const [m1, m2] = [take(staff), take(staff)];
  if (m1 && m2 && m1.mail) {
    m2.emails = [m1.mail, ...m2.emails.filter((e) => e !== m2.mail)];
    m2.mail = m1.mail;
    out.push({ idautoId: m1.idautoId, kind: 'duplicate-mail', reason: `mail ${m1.mail} is also held by ${m2.idautoId}` });
    out.push({ idautoId: m2.idautoId, kind: 'duplicate-mail', reason: `mail ${m2.mail} is also held by ${m1.idautoId}` });
  }
  return out;
}
