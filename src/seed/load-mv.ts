/**
 * Loads a sample university into the MV database: replaces the contents of the sample tables in one
 * transaction (readers see the old university or the new one, never half of it), with batched
 * `INSERT … SELECT FROM unnest(…)` statements — one round trip per few thousand rows.
 */
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { migrate, quoteSchema } from '../mv/migrate.js';
import type { University } from './university.js';

/** Every table the sample owns, children first (the order TRUNCATE does not need, but readers like). */
export const SAMPLE_TABLES = ['master_persons', 'business_roles', 'person_affiliations', 'persons', 'master_topics', 'org_units'] as const;

const BATCH = 5000;

interface Column<T> {
  name: string;
  type: string;
  value: (row: T) => string | number | null;
}

async function insert<T>(client: pg.ClientBase, table: string, columns: Column<T>[], rows: readonly T[], onRows?: (n: number) => void): Promise<void> {
  const sql = `INSERT INTO ${table} (${columns.map((c) => c.name).join(', ')})
    SELECT * FROM unnest(${columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')})`;
  for (let start = 0; start < rows.length; start += BATCH) {
    const batch = rows.slice(start, start + BATCH);
    await client.query(sql, columns.map((c) => batch.map(c.value)));
    onRows?.(batch.length);
  }
}

export interface MvLoadResult {
  rows: Record<(typeof SAMPLE_TABLES)[number], number>;
  ms: number;
}

/** Rows `loadMv` will write for this university (for a progress bar's total). */
export function mvRowCount(u: University): number {
  return u.orgUnits.length + u.topics.length + u.persons.length + u.masterPersons.length
    + u.persons.reduce((s, p) => s + p.affiliationRecords.length + p.roles.length, 0);
}

export async function loadMv(url: string, schema: string, u: University, opts: { onRows?: (n: number) => void; ssl?: false | ConnectionOptions } = {}): Promise<MvLoadResult> {
  const t0 = performance.now();
  await migrate(url, schema, opts.ssl);
  const client = new pg.Client({ connectionString: url, ssl: opts.ssl ?? false });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL search_path TO ${quoteSchema(schema)}`);
    await client.query(`TRUNCATE ${SAMPLE_TABLES.join(', ')}`);
    // As pg_restore does: foreign keys checked once over the loaded tables (one join each) instead of
    // row by row, which halves the load. Same transaction, so nobody ever sees the tables without them.
    const foreignKeys = await client.query<{ table: string; name: string; def: string }>(
      `SELECT c.conrelid::regclass::text AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS def
         FROM pg_constraint c
        WHERE c.contype = 'f' AND c.connamespace = $1::regnamespace AND c.conrelid::regclass::text = ANY($2)`,
      [schema, [...SAMPLE_TABLES]]);
    for (const fk of foreignKeys.rows) await client.query(`ALTER TABLE ${fk.table} DROP CONSTRAINT "${fk.name}"`);
    const on = opts.onRows;

    await insert(client, 'org_units', [
      { name: 'stedkode', type: 'text', value: (o) => o.stedkode },
      { name: 'parent_stedkode', type: 'text', value: (o) => o.parentStedkode },
      { name: 'level', type: 'text', value: (o) => o.level },
      { name: 'name_nb', type: 'text', value: (o) => o.nameNb },
      { name: 'name_en', type: 'text', value: (o) => o.nameEn },
      { name: 'short_name', type: 'text', value: (o) => o.shortName },
      { name: 'ad_ou', type: 'text', value: (o) => o.adOu },
    ], u.orgUnits, on);

    await insert(client, 'master_topics', [
      { name: 'source_id', type: 'text', value: (t) => t.sourceId },
      { name: 'institution', type: 'text', value: (t) => t.institution },
      { name: 'code', type: 'text', value: (t) => t.code },
      { name: 'version', type: 'int', value: (t) => t.version },
      { name: 'name_nb', type: 'text', value: (t) => t.nameNb },
      { name: 'name_en', type: 'text', value: (t) => t.nameEn },
      { name: 'emnetype', type: 'text', value: (t) => t.emnetype },
      { name: 'term', type: 'text', value: (t) => t.term },
      { name: 'year', type: 'int', value: (t) => t.year },
      { name: 'stedkode', type: 'text', value: (t) => t.stedkode },
      { name: 'status', type: 'text', value: (t) => t.status },
    ], u.topics, on);

    await insert(client, 'persons', [
      { name: 'idauto_id', type: 'uuid', value: (p) => p.idautoId },
      { name: 'username', type: 'text', value: (p) => p.username },
      { name: 'student_id', type: 'text', value: (p) => p.studentId },
      { name: 'hr_id', type: 'text', value: (p) => p.hrId },
      { name: 'primary_affiliation', type: 'text', value: (p) => p.affiliation },
      { name: 'stedkode', type: 'text', value: (p) => p.stedkode },
      { name: 'updated_at', type: 'timestamptz', value: () => u.now },
    ], u.persons, on);

    const affiliations = u.persons.flatMap((p) => p.affiliationRecords.map((a) => ({ id: p.idautoId, ...a })));
    await insert(client, 'person_affiliations', [
      { name: 'idauto_id', type: 'uuid', value: (a) => a.id },
      { name: 'affiliation', type: 'text', value: (a) => a.affiliation },
      { name: 'stedkode', type: 'text', value: (a) => a.stedkode },
      { name: 'valid_from', type: 'date', value: (a) => a.validFrom },
      { name: 'valid_to', type: 'date', value: (a) => a.validTo },
    ], affiliations, on);

    const roles = u.persons.flatMap((p) => p.roles.map((role) => ({ id: p.idautoId, role })));
    await insert(client, 'business_roles', [
      { name: 'idauto_id', type: 'uuid', value: (r) => r.id },
      { name: 'role', type: 'text', value: (r) => r.role },
    ], roles, on);

    await insert(client, 'master_persons', [
      { name: 'idauto_id', type: 'uuid', value: (m) => m.idautoId },
      { name: 'source_id', type: 'text', value: (m) => m.sourceId },
      { name: 'term', type: 'text', value: (m) => m.term },
      { name: 'year', type: 'int', value: (m) => m.year },
      { name: 'role', type: 'text', value: (m) => m.role },
    ], u.masterPersons, on);

    for (const fk of foreignKeys.rows) await client.query(`ALTER TABLE ${fk.table} ADD CONSTRAINT "${fk.name}" ${fk.def}`);
    await client.query('COMMIT');
    // Fresh statistics, so the first flows' queries get sensible plans on a just-filled database.
    for (const t of SAMPLE_TABLES) await client.query(`ANALYZE ${quoteSchema(schema)}.${t}`);
    return {
      rows: {
        org_units: u.orgUnits.length, master_topics: u.topics.length, persons: u.persons.length,
        person_affiliations: affiliations.length, business_roles: roles.length, master_persons: u.masterPersons.length,
      },
      ms: performance.now() - t0,
    };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    await client.end();
  }
}
