/**
 * Semesters as MV counts them: VÅR (spring) is January–June, HØST (autumn) July–December. Pure;
 * every function that depends on the date takes it, so a test picks the day.
 */
export type Term = 'VÅR' | 'HØST';

export interface Semester {
  year: number;
  term: Term;
}

/** The semester a date falls in (UTC). */
export function semesterOf(d: Date): Semester {
  return { year: d.getUTCFullYear(), term: d.getUTCMonth() < 6 ? 'VÅR' : 'HØST' };
}

/** `2026:HØST` → the semester. */
export function parseSemester(s: string): Semester {
  const m = /^([0-9]{4}):(VÅR|HØST)$/.exec(s.normalize('NFC'));
  if (!m) throw new Error(`not a semester (YYYY:VÅR or YYYY:HØST): ${s}`);
  return { year: Number(m[1]), term: m[2] as Term };
}

export function semesterKey(s: Semester): string {
  return `${s.year}:${s.term}`;
}

/** Semesters in order: later semesters are larger. */
export function semesterOrdinal(s: Semester): number {
  return s.year * 2 + (s.term === 'HØST' ? 1 : 0);
}

export function nextSemester(s: Semester): Semester {
  return s.term === 'VÅR' ? { year: s.year, term: 'HØST' } : { year: s.year + 1, term: 'VÅR' };
}

/**
 * From which month (1–12) of a semester the next semester is in scope too: during spring from
 * `spring` on, during autumn from `autumn` on (the seed's look at the current month).
 */
export interface NextSemesterFrom {
  spring: number;
  autumn: number;
}

/** The semesters whose courses exist: the current one, and the next one from the configured month on. */
export function semestersInScope(now: Date, from: NextSemesterFrom): Semester[] {
  const current = semesterOf(now);
  const month = now.getUTCMonth() + 1;
  const switchMonth = current.term === 'VÅR' ? from.spring : from.autumn;
  return month >= switchMonth ? [current, nextSemester(current)] : [current];
}

export function inScope(s: Semester, scope: readonly Semester[]): boolean {
  return scope.some((x) => x.year === s.year && x.term === s.term);
}
