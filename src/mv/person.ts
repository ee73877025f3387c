import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { Config } from '../config.js';
import { DependencyHealth, every } from '../lib/health.js';
import { pgSsl } from '../lib/tls.js';
import { facetColumn, MV_FACETS, normaliseFacets, type MvFacet } from './facets.js';
import { isNetworkCode } from '../lib/network.js';

export { MV_FACETS, type MvFacet } from './facets.js';

export interface OrgUnit {
  stedkode: string;
  parentStedkode: string | null;
  level: 'faculty' | 'department' | 'group';
  nameNb: string;
  nameEn: string;
  shortName: string;
  adOu: string;
}

export interface Enrolment {
  sourceId: string;
  institution: string;
  code: string;
  version: number;
  term: 'VÅR' | 'HØST';
  year: number;
  role: 'student' | 'teacher';
  emnetype: string;
  nameNb: string;
}

/** A course of MV's catalogue (master_topics) and the people who study or teach it that semester. */
export interface CatalogueTopic {
  sourceId: string;
  institution: string;
  code: string;
  version: number;
  nameNb: string;
  nameEn: string;
  emnetype: string;
  term: 'VÅR' | 'HØST';
  year: number;
  stedkode: string;
  status: string;
  /** idautoIDs of master_persons for this topic and semester, students and teachers, each once, sorted. */
  people: string[];
}

/**
 * What MV knows of one person: the core every target may use, and the facets (see facets.ts) a
 * target declared it needs; a facet nobody declared is absent.
 */
export interface MvPerson {
  id: string;
  username: string | null;
  studentId: string | null;
  hrId: string | null;
  primaryAffiliation: string;
  affiliations: { affiliation: string; stedkode: string }[];
  roles: string[];
  /** Facet `orgUnits`: the person's org unit first, then its parents up to the faculty. */
  orgUnits?: OrgUnit[];
  /** Facet `enrolments`: active topics with term, role and course type. */
  enrolments?: Enrolment[];
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** MV did not answer (refused, lost the connection, or slower than the timeout): worth another try later. */
export class MvUnavailableError extends Error {
  override name = 'MvUnavailableError';
  constructor(message: string, readonly code: 'ECONNRESET' | 'ETIMEDOUT' = 'ECONNRESET') {
    super(message);
  }
}

/**
 * A failure that says nothing about the query: the network, a timeout, or the server's
 * connection (SQLSTATE class 08), operator (57: shut down, statement timeout) or resource (53)
 * classes. Other SQLSTATEs are the query's own fault and stay what they are.
 */
function unavailable(e: unknown, what: string): MvUnavailableError | undefined {
  if (e instanceof MvUnavailableError) return e;
  if (!(e instanceof Error)) return undefined;
  const code = String((e as { code?: unknown }).code ?? '');
  if (isNetworkCode(code)) return new MvUnavailableError(`${what}: cannot reach MV (${code})`, code === 'ETIMEDOUT' ? 'ETIMEDOUT' : 'ECONNRESET');
  if (code === '57014' || /timeout/i.test(e.message)) return new MvUnavailableError(`${what}: MV did not answer in time`, 'ETIMEDOUT');
  if (/^(08|57|53)/.test(code)) return new MvUnavailableError(`${what}: MV is unavailable (SQLSTATE ${code})`);
  if (!/^[0-9A-Z]{5}$/.test(code) && /connect|terminat|socket|closed/i.test(e.message)) return new MvUnavailableError(`${what}: the MV connection was lost (${e.message.split('\n')[0]})`);
  return undefined;
}

export interface MvReaderOptions {
  /** Connections in the pool. */
  max?: number;
  /** No query, nor the wait for a connection, lasts longer (ms). */
  timeoutMs?: number;
  /** How often MV is checked while idle, so readiness follows an outage (ms; false: never). */
  probeMs?: number | false;
  /** node-postgres's TLS option (see pgSsl). */
  ssl?: false | ConnectionOptions;
}

/**
 * Reads MV (the seed's RIDB) through a pool: one person, or a wave of people in one query.
 * Every query has a deadline on both sides (the server cancels it, the client stops waiting),
 * and `health` says whether MV answers.
 */
export class MvReader {
  readonly pool: pg.Pool;
  readonly health = new DependencyHealth('mv');
  private readonly s: string;
  private readonly probe: { stop(): void } | undefined;

  constructor(url: string, schema: string, opts: MvReaderOptions | number = {}) {
    const o = typeof opts === 'number' ? { max: opts } : opts;
    const timeoutMs = o.timeoutMs ?? 15_000;
    this.pool = new pg.Pool({
      connectionString: url, max: o.max ?? 8, ssl: o.ssl ?? false,
      connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, statement_timeout: timeoutMs, keepAlive: true,
    });
    // An idle connection that dies is reported here; unheard, it would end the process.
    this.pool.on('error', (e) => this.health.markDown(`an idle MV connection failed: ${e.message}`));
    this.s = ident(schema);
    this.probe = o.probeMs === false ? undefined : every(o.probeMs ?? 2_000, () => this.ping());
  }

  static fromConfig(mv: Config['mv'], opts: Omit<MvReaderOptions, 'timeoutMs'> = {}): MvReader {
    return new MvReader(mv.url, mv.schema, { ...opts, timeoutMs: mv.timeoutMs, ssl: pgSsl(mv) });
  }

  async close(): Promise<void> {
    this.probe?.stop();
    await this.pool.end();
  }

  async ping(): Promise<void> {
    await this.query('checking MV', 'SELECT 1', []);
  }

  /** One query, its outcome reported to `health`; a timed-out or broken connection leaves the pool. */
  private async query(what: string, text: string, params: unknown[]): Promise<pg.QueryResult> {
    try {
      const r = await this.pool.query(text, params);
      this.health.markUp();
      return r;
    } catch (e) {
      const u = unavailable(e, what);
      if (!u) throw e;
      this.health.markDown(u.message);
      throw u;
    }
  }

  /** One person with every facet. */
  async person(id: string): Promise<MvPerson | undefined> {
    return (await this.readMany([id])).get(id);
  }

  /**
   * Many people in one query (`= ANY($1)`), with the facets asked for, keyed as asked; ids MV
   * does not know (or that are no UUID) are absent.
   */
  async readMany(ids: readonly string[], facets: readonly MvFacet[] = MV_FACETS): Promise<Map<string, MvPerson>> {
    const byLower = new Map<string, string[]>();
    for (const id of ids) {
      if (!UUID.test(id)) continue;
      const k = id.toLowerCase();
      byLower.set(k, [...(byLower.get(k) ?? []).filter((x) => x !== id), id]);
    }
    const out = new Map<string, MvPerson>();
    if (!byLower.size) return out;
    const s = this.s;
    const wanted = normaliseFacets(facets);
    const { rows } = await this.query(`reading ${byLower.size} people from MV`, `
      SELECT p.idauto_id, p.username, p.student_id, p.hr_id, p.primary_affiliation,
        (SELECT coalesce(json_agg(json_build_object('affiliation', a.affiliation, 'stedkode', a.stedkode)), '[]')
           FROM ${s}.person_affiliations a WHERE a.idauto_id = p.idauto_id
            AND a.valid_from <= current_date AND (a.valid_to IS NULL OR a.valid_to >= current_date)) AS affiliations,
        (SELECT coalesce(json_agg(r.role ORDER BY r.role), '[]') FROM ${s}.business_roles r WHERE r.idauto_id = p.idauto_id) AS roles
        ${wanted.map((f) => `, ${facetColumn(f, s)}`).join('\n')}
      FROM ${s}.persons p WHERE p.idauto_id = ANY($1::uuid[])`, [[...byLower.keys()]]);
    for (const r of rows) {
      const person: MvPerson = {
        id: r.idauto_id, username: r.username, studentId: r.student_id, hrId: r.hr_id, primaryAffiliation: r.primary_affiliation,
        affiliations: r.affiliations, roles: r.roles,
      };
      for (const f of wanted) person[f] = r[f];
      for (const id of byLower.get(String(r.idauto_id).toLowerCase()) ?? []) out.set(id, person);
    }
    return out;
  }

  /**
   * Topics of the catalogue in one query: by source id (`ids`), or every topic of the given
   * semesters (`semesters`), each with its people of that semester. Unknown ids are absent.
   */
  async topics(sel: { ids: readonly string[] } | { semesters: readonly { year: number; term: string }[] }): Promise<Map<string, CatalogueTopic>> {
    const s = this.s;
    const byIds = 'ids' in sel;
    if (byIds ? !sel.ids.length : !sel.semesters.length) return new Map();
    const where = byIds
      ? 't.source_id = ANY($1::text[])'
      : '(t.year, t.term) IN (SELECT * FROM unnest($1::int[], $2::text[]))';
    const params = byIds ? [[...sel.ids]] : [sel.semesters.map((x) => x.year), sel.semesters.map((x) => x.term)];
    const { rows } = await this.query(byIds ? `reading ${sel.ids.length} topic(s) from MV` : 'reading the catalogue from MV', `
      SELECT t.source_id, t.institution, t.code, t.version, t.name_nb, t.name_en, t.emnetype, t.term, t.year, t.stedkode, t.status,
        coalesce((SELECT array_agg(DISTINCT m.idauto_id::text ORDER BY m.idauto_id::text) FROM ${s}.master_persons m
          WHERE m.source_id = t.source_id AND m.term = t.term AND m.year = t.year), '{}') AS people
      FROM ${s}.master_topics t WHERE ${where} ORDER BY t.source_id`, params);
    const out = new Map<string, CatalogueTopic>();
    for (const r of rows) {
      out.set(r.source_id, {
        sourceId: r.source_id, institution: r.institution, code: r.code, version: r.version, nameNb: r.name_nb, nameEn: r.name_en,
        emnetype: r.emnetype, term: r.term, year: r.year, stedkode: r.stedkode, status: r.status, people: r.people,
      });
    }
    return out;
  }
}
