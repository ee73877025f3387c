import { courseIdnumber } from '../../lib/moodle/course-id.js';
import type { CatalogueTopic } from '../../spi/index.js';
import type { MoodleCoursesConfig } from './config.js';

export interface CategorySpec {
  idnumber: string;
  name: string;
}

/** The Moodle course a topic should be. */
export interface DesiredCourse {
  shortname: string;
  fullname: string;
  /** institution:code:version:year:term, the name the users target enrols by. */
  idnumber: string;
  /** Unix seconds. */
  startdate: number;
  enddate: number;
  visible: boolean;
  /** The semester's category, and under it the course type's. */
  semester: CategorySpec;
  type: CategorySpec;
  /** The topic's people of the semester (who is reprocessed once the course is made). */
  people: string[];
}

const TERM_NAMES = { nb: { VÅR: 'Vår', HØST: 'Høst' }, en: { VÅR: 'Spring', HØST: 'Autumn' } } as const;

const day = (year: number, md: string, end: boolean): number => {
  const [m, d] = md.split('-').map(Number) as [number, number];
  return Date.UTC(year, m - 1, d, end ? 23 : 0, end ? 59 : 0, end ? 59 : 0) / 1000;
};

/** Pure: the course a topic should be, or null when the topic is not active (no course is made for it). */
export function desiredCourse(t: CatalogueTopic, cfg: MoodleCoursesConfig): DesiredCourse | null {
  if (t.status !== 'active') return null;
  const dates = t.term === 'VÅR' ? cfg.dates.spring : cfg.dates.autumn;
  const semesterId = `${cfg.categoryPrefix}:${t.year}:${t.term}`;
  const vars: Record<string, string> = { institution: t.institution, code: t.code, version: String(t.version), year: String(t.year), term: t.term };
  return {
    shortname: cfg.shortname.replace(/\{(\w+)\}/g, (whole, k: string) => vars[k] ?? whole),
    fullname: cfg.language === 'en' ? t.nameEn : t.nameNb,
    idnumber: courseIdnumber({ sourceId: t.sourceId, year: t.year, term: t.term }),
    startdate: day(t.year, dates.start, false),
    enddate: day(t.year, dates.end, true),
    visible: cfg.visible,
    semester: { idnumber: semesterId, name: `${TERM_NAMES[cfg.language][t.term]} ${t.year}` },
    type: { idnumber: `${semesterId}:${t.emnetype}`, name: t.emnetype },
    people: t.people,
  };
}
