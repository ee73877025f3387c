import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { listMigrations, migrate, quoteSchema } from '../../src/mv/migrate.js';

const url = loadConfig().mv.url;
const schema = `mv_test_${randomBytes(4).toString('hex')}`;
let db: pg.Client;

beforeAll(async () => {
  await migrate(url, schema);
  db = new pg.Client({ connectionString: url });
  await db.connect();
});

afterAll(async () => {
  await db?.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
  await db?.end();
});

const tables = async () =>
  (await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, [schema],
  )).rows.map((r) => r.table_name);

describe('migrate', () => {
  it('creates the MV tables in the given schema only', async () => {
    expect(await tables()).toEqual([
      'business_roles', 'master_persons', 'master_topics', 'org_units', 'person_affiliations', 'persons', 'schema_migrations',
    ]);
    const applied = await db.query(`SELECT version FROM ${quoteSchema(schema)}.schema_migrations ORDER BY version`);
    expect(applied.rows.map((r) => r.version)).toEqual(listMigrations().map((m) => m.version));
  });

  it('indexes master_persons by person and by course', async () => {
    const idx = await db.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'master_persons'`, [schema]);
    const defs = idx.rows.map((r) => r.indexdef).join('\n');
    expect(defs).toMatch(/\(idauto_id,/);
    expect(defs).toMatch(/\(source_id/);
  });

  it('is a no-op the second time, also when two processes race', async () => {
    const before = await db.query(`SELECT version, applied_at FROM ${quoteSchema(schema)}.schema_migrations ORDER BY version`);
    await Promise.all([migrate(url, schema), migrate(url, schema)]);
    const after = await db.query(`SELECT version, applied_at FROM ${quoteSchema(schema)}.schema_migrations ORDER BY version`);
    expect(after.rows).toEqual(before.rows);
    expect(await tables()).toHaveLength(7);
  });

  it('applies pending migrations in parallel into a fresh schema without losing any', async () => {
    const other = `mv_test_${randomBytes(4).toString('hex')}`;
    try {
      await Promise.all([migrate(url, other), migrate(url, other), migrate(url, other)]);
      const r = await db.query(`SELECT count(*)::int AS n FROM ${quoteSchema(other)}.schema_migrations`);
      expect(r.rows[0].n).toBe(listMigrations().length);
    } finally {
      await db.query(`DROP SCHEMA IF EXISTS ${quoteSchema(other)} CASCADE`);
    }
  });

  it('creates the database when it is missing', async () => {
    const name = `tilgang_test_${randomBytes(4).toString('hex')}`;
    const u = new URL(url);
    u.pathname = `/${name}`;
    try {
      await migrate(u.toString(), 'mv');
      const r = await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      expect(r.rowCount).toBe(1);
    } finally {
      await db.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  });

  it('refuses schema names that are not plain identifiers', async () => {
    await expect(migrate(url, 'mv; DROP TABLE x')).rejects.toThrow(/invalid schema name/);
  });
});
