/**
 * `runSeed`: a sample university in MV and in the portal directory, replacing the previous one.
 * See README.md beside this file for what is generated and which records are deliberately bad.
 */
import cliProgress from 'cli-progress';
import { ConfigError, readSecret, type Config } from '../config.js';
import { child } from '../lib/log.js';
import { personEntry } from './entry.js';
import { addEntries, clearPeople, ensurePeopleDn, type DirectoryTarget } from './load-directory.js';
import { loadMv, mvRowCount } from './load-mv.js';
import { pgSsl } from '../lib/tls.js';
import { AFFILIATIONS, generateUniversity, type Affiliation, type BadRecord } from './university.js';

export { generateUniversity, semesterOf, nextSemester, BAD_RECORD_PLAN, INSTITUTION, MAIL_DOMAIN, STUDENT_MAIL_DOMAIN } from './university.js';
export type { University, SamplePerson, Topic, MasterPerson, BadRecord, BadRecordKind, Affiliation, Semester, Term, GenerateOptions } from './university.js';
export type { OrgUnit } from './org.js';
export { personEntry, personDn, type DirectoryEntry } from './entry.js';
export { loadMv, SAMPLE_TABLES } from './load-mv.js';
export { addEntries, clearPeople, ensurePeopleDn, type DirectoryTarget } from './load-directory.js';
export { isSyntheticFnr, fnrChecksumValid } from './fnr.js';

const log = child({ module: 'seed' });

export interface SeedOptions {
  persons: number;
  seed: number;
  progress?: boolean;
  /** What the current semester and all dates are relative to (default: the clock). */
  now?: Date;
  /** Load the directory too (default true); false loads MV only. */
  directory?: boolean;
  /** Parallel directory connections (default 16). */
  connections?: number;
}

export interface SeedSummary {
  persons: number;
  /** People holding each affiliation (someone with two counts twice). */
  byAffiliation: Record<Affiliation, number>;
  byPrimaryAffiliation: Record<Affiliation, number>;
  /** People with more than one affiliation (an employee who also studies, a student assistant). */
  multipleAffiliations: number;
  disabled: number;
  orgUnits: number;
  topics: number;
  /** master_persons rows, and by role. */
  enrolments: number;
  enrolmentsByRole: { student: number; teacher: number };
  badRecords: BadRecord[];
  /** Where the people went. */
  mvSchema: string;
  peopleDn: string | null;
  timings: {
    generateMs: number;
    /** Migrate, truncate and load the MV tables. */
    mvMs: number;
    /** Delete the previous people and add the new ones (0 when the directory is skipped). */
    ldapMs: number;
    ldapDeleteMs: number;
    ldapAddMs: number;
    ldapDeleted: number;
    totalMs: number;
  };
}

/** The directory as the seed writes it: as its administrator (tilgang's own account may not add people). */
export function seedDirectoryTarget(cfg: Config): DirectoryTarget {
  const d = cfg.directory;
  if (!d.adminDn || !d.adminPassword) throw new ConfigError('directory.adminDn and directory.adminPassword are needed to load sample people');
  return { url: d.url, bindDn: d.adminDn, password: readSecret(d.adminPassword, 'directory.adminPassword'), peopleDn: d.peopleDn };
}

/**
 * Generates a university and replaces the previous sample with it: in MV (the sample tables of
 * `cfg.mv.schema`, in one transaction) and in the directory (everything below
 * `cfg.directory.peopleDn` except `ou=test-*` subtrees). Deterministic from `seed` (and `now`).
 */
export async function runSeed(cfg: Config, opts: SeedOptions): Promise<SeedSummary> {
  const t0 = performance.now();
  const uni = generateUniversity({ persons: opts.persons, seed: opts.seed, now: opts.now });
  const generateMs = performance.now() - t0;
  const target = opts.directory === false ? null : seedDirectoryTarget(cfg);

  const bars = opts.progress ? new cliProgress.MultiBar({
    format: ' {task} |{bar}| {value}/{total} {unit} | {duration_formatted}',
    hideCursor: true, clearOnComplete: false, stopOnComplete: true,
  }, cliProgress.Presets.shades_classic) : null;

  try {
    const mvBar = bars?.create(mvRowCount(uni), 0, { task: 'MV rows         ', unit: 'rows' });
    const mv = await loadMv(cfg.mv.url, cfg.mv.schema, uni, { onRows: (n) => mvBar?.increment(n), ssl: pgSsl(cfg.mv) });
    log.info({ schema: cfg.mv.schema, rows: mv.rows, ms: Math.round(mv.ms) }, 'sample university loaded into MV');

    let ldapDeleteMs = 0;
    let ldapAddMs = 0;
    let ldapDeleted = 0;
    if (target) {
      const tDel = performance.now();
      await ensurePeopleDn(target);
      const delBar = bars?.create(0, 0, { task: 'directory delete', unit: 'entries' });
      ldapDeleted = await clearPeople(target, {
        connections: opts.connections,
        onTotal: (n) => delBar?.setTotal(n),
        onEntries: (n) => delBar?.increment(n),
      });
      if (delBar && ldapDeleted === 0) delBar.stop();
      ldapDeleteMs = performance.now() - tDel;

      const tAdd = performance.now();
      const entries = uni.persons.map((p) => personEntry(p, target.peopleDn));
      const addBar = bars?.create(entries.length, 0, { task: 'directory add   ', unit: 'people' });
      await addEntries(target, entries, { connections: opts.connections, onEntries: (n) => addBar?.increment(n) });
      ldapAddMs = performance.now() - tAdd;
      log.info({ peopleDn: target.peopleDn, deleted: ldapDeleted, added: entries.length, ms: Math.round(ldapDeleteMs + ldapAddMs) }, 'sample people loaded into the directory');
    }

    const count = (pick: (a: Affiliation) => number) => Object.fromEntries(AFFILIATIONS.map((a) => [a, pick(a)])) as Record<Affiliation, number>;
    const teacherRows = uni.masterPersons.filter((m) => m.role === 'teacher').length;
    return {
      persons: uni.persons.length,
      byAffiliation: count((a) => uni.persons.filter((p) => p.affiliations.includes(a)).length),
      byPrimaryAffiliation: count((a) => uni.persons.filter((p) => p.affiliation === a).length),
      multipleAffiliations: uni.persons.filter((p) => p.affiliations.length > 1).length,
      disabled: uni.persons.filter((p) => p.disabled).length,
      orgUnits: uni.orgUnits.length,
      topics: uni.topics.length,
      enrolments: uni.masterPersons.length,
      enrolmentsByRole: { student: uni.masterPersons.length - teacherRows, teacher: teacherRows },
      badRecords: uni.badRecords,
      mvSchema: cfg.mv.schema,
      peopleDn: target?.peopleDn ?? null,
      timings: {
        generateMs: Math.round(generateMs),
        mvMs: Math.round(mv.ms),
        ldapMs: Math.round(ldapDeleteMs + ldapAddMs),
        ldapDeleteMs: Math.round(ldapDeleteMs),
        ldapAddMs: Math.round(ldapAddMs),
        ldapDeleted,
        totalMs: Math.round(performance.now() - t0),
      },
    };
  } finally {
    bars?.stop();
  }
}
