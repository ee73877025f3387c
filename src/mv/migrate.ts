import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { child } from '../lib/log.js';

const log = child({ module: 'mv.migrate' });

/** The SQL files beside this module, applied in the order of their number. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

const FILE = /^(\d{3})_([a-z0-9_]+)\.sql$/;
const SCHEMA = /^[a-z_][a-z0-9_]*$/;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = FILE.exec(file);
    if (!m) continue;
    const sql = readFileSync(`${dir}/${file}`, 'utf8');
    out.push({ version: Number(m[1]), name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  const seen = new Set<number>();
  for (const m of out) {
    if (seen.has(m.version)) throw new MigrationError(`two migrations numbered ${m.version} in ${dir}`);
    seen.add(m.version);
  }
  return out;
}

/** `"name"`: schema names come from configuration, so they are checked and quoted, never pasted raw. */
export function quoteSchema(schema: string): string {
  if (!SCHEMA.test(schema)) throw new MigrationError(`invalid schema name ${JSON.stringify(schema)} (expected ${SCHEMA})`);
  return `"${schema}"`;
}

/** The database name in a postgres:// URL. */
function databaseOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new MigrationError('the MV URL names no database');
  return name;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(db)}`;
  return u.toString();
}

const pgCode = (e: unknown): string | undefined => (e as { code?: string }).code;

/**
 * Creates the database when missing, through the `postgres` maintenance database. Tries the database
 * itself first, so an account that may not connect to `postgres` works against an existing MV.
 */
export async function ensureDatabase(url: string, ssl: false | ConnectionOptions = false): Promise<void> {
  const db = databaseOf(url);
  const probe = new pg.Client({ connectionString: url, ssl });
  try {
    await probe.connect();
    return;
  } catch (e) {
    // 3D000 invalid_catalog_name: the database does not exist. Anything else is a real failure.
    if (pgCode(e) !== '3D000') throw e;
  } finally {
    await probe.end().catch(() => undefined);
  }
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres'), ssl });
  await admin.connect();
  try {
    const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
    if (r.rowCount) return;
    try {
      await admin.query(`CREATE DATABASE "${db.replace(/"/g, '""')}"`);
      log.info({ db }, 'created MV database');
    } catch (e) {
      // Another process created it between our look and our create: that is what we wanted.
      // 42P04 duplicate_database; 23505 when both inserts into pg_database race.
      if (pgCode(e) !== '42P04' && pgCode(e) !== '23505') throw e;
    }
  } finally {
    await admin.end();
  }
}

/** Another set of migrations than MV's (the results store's), in a schema of its own choosing. */
export interface MigrateOptions {
  /** The folder of numbered SQL files (default: MV's). */
  dir?: string;
  /** The table in the schema that records which were applied (default schema_migrations). */
  table?: string;
  /** The advisory lock's namespace (default MV's). */
  lock?: string;
}

/**
 * Brings the MV database to the newest schema: creates the database and the schema when missing,
 * then applies each pending migration in its own transaction, recording it in `schema_migrations`.
 * A session advisory lock (per schema) makes concurrent callers wait for each other instead of
 * racing. Refuses to continue when an applied migration's file has since been edited.
 */
export async function migrate(url: string, schema: string, ssl: false | ConnectionOptions = false, opts: MigrateOptions = {}): Promise<void> {
  const q = quoteSchema(schema);
  const migrations = listMigrations(opts.dir);
  const table = `${q}.${quoteSchema(opts.table ?? 'schema_migrations')}`;
  const lock = opts.lock ?? 'tilgang.mv.migrate';
  await ensureDatabase(url, ssl);
  const client = new pg.Client({ connectionString: url, ssl });
  await client.connect();
  try {
    // Two 32-bit keys: a fixed namespace for this set of migrations, and the schema.
    await client.query(`SELECT pg_advisory_lock(hashtext($2), hashtext($1))`, [schema, lock]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${table} (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const applied = new Map<number, { name: string; checksum: string }>();
      for (const row of (await client.query(`SELECT version, name, checksum FROM ${table}`)).rows) {
        applied.set(row.version as number, { name: row.name as string, checksum: row.checksum as string });
      }
      for (const m of migrations) {
        const done = applied.get(m.version);
        if (done) {
          if (done.checksum !== m.checksum) {
            throw new MigrationError(`migration ${m.version}_${m.name} was changed after it was applied to schema ${schema}; add a new migration instead`);
          }
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(`SET LOCAL search_path TO ${q}`);
          await client.query(m.sql);
          await client.query(`INSERT INTO ${table} (version, name, checksum) VALUES ($1, $2, $3)`, [m.version, m.name, m.checksum]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new MigrationError(`migration ${m.version}_${m.name} failed in schema ${schema}: ${(e as Error).message}`, { cause: e });
        }
        log.info({ schema, version: m.version, name: m.name, lock }, 'applied migration');
      }
    } finally {
      await client.query(`SELECT pg_advisory_unlock(hashtext($2), hashtext($1))`, [schema, lock]).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
}
