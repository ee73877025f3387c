import pg from 'pg';

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

/** What MV knows of one person: the facts the targets' desired() functions draw on. */
export interface MvPerson {
  id: string;
  username: string | null;
  studentId: string | null;
  hrId: string | null;
  primaryAffiliation: string;
  affiliations: { affiliation: string; stedkode: string }[];
  roles: string[];
  /** The person's org unit first, then its parents up to the faculty. */
  orgUnits: OrgUnit[];
  enrolments: Enrolment[];
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** Reads MV (the seed's RIDB) through a pool; one round trip per person. */
export class MvReader {
  readonly pool: pg.Pool;
  private readonly s: string;

  constructor(url: string, schema: string, max = 8) {
    this.pool = new pg.Pool({ connectionString: url, max });
    this.s = ident(schema);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async person(id: string): Promise<MvPerson | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const s = this.s;
    const { rows } = await this.pool.query(`
      SELECT p.idauto_id, p.username, p.student_id, p.hr_id, p.primary_affiliation,
        (SELECT coalesce(json_agg(json_build_object('affiliation', a.affiliation, 'stedkode', a.stedkode)), '[]')
           FROM ${s}.person_affiliations a WHERE a.idauto_id = p.idauto_id
            AND a.valid_from <= current_date AND (a.valid_to IS NULL OR a.valid_to >= current_date)) AS affiliations,
        (SELECT coalesce(json_agg(r.role ORDER BY r.role), '[]') FROM ${s}.business_roles r WHERE r.idauto_id = p.idauto_id) AS roles,
        (WITH RECURSIVE chain AS (
            SELECT o.*, 0 AS depth FROM ${s}.org_units o WHERE o.stedkode = p.stedkode
            UNION ALL SELECT o.*, c.depth + 1 FROM ${s}.org_units o JOIN chain c ON o.stedkode = c.parent_stedkode)
          SELECT coalesce(json_agg(json_build_object('stedkode', stedkode, 'parentStedkode', parent_stedkode, 'level', level,
            'nameNb', name_nb, 'nameEn', name_en, 'shortName', short_name, 'adOu', ad_ou) ORDER BY depth), '[]') FROM chain) AS org_units,
        (SELECT coalesce(json_agg(json_build_object('sourceId', t.source_id, 'institution', t.institution, 'code', t.code,
            'version', t.version, 'term', m.term, 'year', m.year, 'role', m.role, 'emnetype', t.emnetype, 'nameNb', t.name_nb)
            ORDER BY t.source_id, m.year, m.term, m.role), '[]')
           FROM ${s}.master_persons m JOIN ${s}.master_topics t ON t.source_id = m.source_id
          WHERE m.idauto_id = p.idauto_id AND t.status = 'active') AS enrolments
      FROM ${s}.persons p WHERE p.idauto_id = $1`, [id]);
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: r.idauto_id, username: r.username, studentId: r.student_id, hrId: r.hr_id, primaryAffiliation: r.primary_affiliation,
      affiliations: r.affiliations, roles: r.roles, orgUnits: r.org_units, enrolments: r.enrolments,
    };
  }
}
