import pg from 'pg';
import { z } from 'zod';
import { first, TerminalError, TransientError, type Operation, type OperationResult, type Target } from '../../src/spi/index.js';
import type { TestEnv } from './env.js';

/**
 * A small target written for the runtime's tests: accounts are rows in a PostgreSQL table (a real
 * server), every applied effect is logged, and faults can be planted per person.
 */
export interface Account { person_id: string; username: string; mail: string; given_name: string; sn: string; enabled: boolean }
type Desired = Omit<Account, 'enabled'> & { enabled: true };
type Client = { pool: pg.Pool; s: string };

const Config = z.object({
  schema: z.string(),
  url: z.string(),
  entitlement: z.object({ affiliations: z.array(z.string()), roles: z.array(z.string()).default([]), request: z.string().optional() }),
  /** Milliseconds each apply takes, to make overlap visible if ordering were broken. */
  applyDelayMs: z.number().default(0),
});
type Cfg = z.infer<typeof Config>;

const FIELDS = ['username', 'mail', 'given_name', 'sn'] as const;

/**
 * A test's own accounts schema for the target, configured as `targets.pgtest` in its env;
 * `drop()` removes it and the runtime state schema afterwards.
 */
export async function pgAccounts(env: TestEnv, settings: { affiliations: string[]; applyDelayMs?: number }): Promise<{ pool: pg.Pool; schema: string; drop(): Promise<void> }> {
  const schema = `test_acc_${env.id.replace(/[^a-z0-9]/g, '_')}`;
  env.cfg.targets.pgtest = { schema, url: env.cfg.mv.url, entitlement: { affiliations: settings.affiliations }, applyDelayMs: settings.applyDelayMs ?? 0 };
  const pool = await createTables(env.cfg.mv.url, schema);
  return {
    pool, schema,
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema} CASCADE`);
      await pool.end();
    },
  };
}

async function createTables(url: string, schema: string): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema};
    CREATE TABLE IF NOT EXISTS ${schema}.accounts (person_id text, username text, mail text, given_name text, sn text, enabled boolean);
    CREATE TABLE IF NOT EXISTS ${schema}.effects (seq bigserial, person_id text, event_id text, kind text, started_at timestamptz, finished_at timestamptz);
    CREATE TABLE IF NOT EXISTS ${schema}.faults (person_id text PRIMARY KEY, transient int NOT NULL DEFAULT 0, terminal boolean NOT NULL DEFAULT false, throttled int NOT NULL DEFAULT 0, shared int NOT NULL DEFAULT 0);`);
  return pool;
}

export const pgTarget: Target<Cfg, Desired, Account[], Account, Client> = {
  name: 'pgtest',
  config: Config,
  essential: () => ['givenName', 'sn', 'mail', 'idautoPersonUserNameMV'],
  async connect({ config }) {
    return { pool: new pg.Pool({ connectionString: config.url, max: 8 }), s: config.schema };
  },
  async close(c) {
    await c.pool.end();
  },
  async *listManaged(c) {
    const { rows } = await c.pool.query(`SELECT * FROM ${c.s}.accounts ORDER BY person_id`);
    yield (rows as Account[]).map((a) => ({ key: a.person_id, accountId: a.person_id, name: a.username, enabled: a.enabled, match: { idautoID: [a.person_id], idautoPersonUserNameMV: [a.username] } }));
  },
  desired(p) {
    if (!p.entitled) return null;
    return { person_id: p.id, username: first(p.record, 'idautoPersonUserNameMV')!.toLowerCase(), mail: first(p.record, 'mail')!, given_name: first(p.record, 'givenName')!, sn: first(p.record, 'sn')!, enabled: true };
  },
  async actual(p, desired, c) {
    const { rows } = await c.pool.query(`SELECT * FROM ${c.s}.accounts WHERE person_id = $1 OR username = $2`, [p.id, desired?.username ?? null]);
    if (rows.length > 1) throw new TerminalError(`duplicate accounts for person ${p.id}: ${rows.map((r) => r.username).join(', ')}`, 'duplicate', 'username');
    return rows as Account[];
  },
  plan(desired, actual) {
    const a = actual[0];
    if (!a && !desired) return { operations: [], skipReason: 'not entitled and no account' };
    if (!a) return { operations: [{ kind: 'create', payload: { ...desired! }, changes: FIELDS.map((f) => ({ attribute: f, from: null, to: desired![f] })) }] };
    const ops: Operation<Account>[] = [];
    if (!desired) {
      if (a.enabled) ops.push({ kind: 'disable', destructive: true, payload: a, changes: [{ attribute: 'enabled', from: 'true', to: 'false' }] });
      return { operations: ops, accountId: a.person_id };
    }
    const changes = FIELDS.filter((f) => a[f] !== desired[f]).map((f) => ({ attribute: f, from: a[f], to: desired[f] }));
    if (changes.length) ops.push({ kind: 'update', changes, payload: { ...desired } });
    if (!a.enabled) ops.push({ kind: 'enable', payload: a, changes: [{ attribute: 'enabled', from: 'false', to: 'true' }] });
    return { operations: ops, accountId: a.person_id };
  },
  async apply(plan, c, ctx, person) {
    const started = new Date();
    const terminal = (await c.pool.query(`SELECT 1 FROM ${c.s}.faults WHERE person_id = $1 AND terminal`, [person.id])).rowCount;
    if (terminal) throw new TerminalError(`the system refused person ${person.id}: field mail`, 'refused', 'mail');
    const transient = (await c.pool.query(`UPDATE ${c.s}.faults SET transient = transient - 1 WHERE person_id = $1 AND transient > 0`, [person.id])).rowCount;
    if (transient) throw new TransientError('connection reset by the test system', 'ECONNRESET');
    const throttled = (await c.pool.query(`UPDATE ${c.s}.faults SET throttled = throttled - 1 WHERE person_id = $1 AND throttled > 0`, [person.id])).rowCount;
    if (throttled) throw new TransientError('the test system asks to slow down (HTTP 429)', 'http-429', 20);
    if (ctx.config.applyDelayMs) await new Promise((r) => setTimeout(r, Math.random() * ctx.config.applyDelayMs));
    const out: OperationResult[] = [];
    // The change and its record in the effect log commit together, so a crash cannot split them.
    const db = await c.pool.connect();
    try {
      await db.query('BEGIN');
      for (const op of plan.operations) {
        const p = op.payload!;
        if (op.kind === 'create') await db.query(`INSERT INTO ${c.s}.accounts VALUES ($1,$2,$3,$4,$5,true)`, [p.person_id, p.username, p.mail, p.given_name, p.sn]);
        if (op.kind === 'update') await db.query(`UPDATE ${c.s}.accounts SET username=$2, mail=$3, given_name=$4, sn=$5 WHERE person_id=$1`, [p.person_id, p.username, p.mail, p.given_name, p.sn]);
        if (op.kind === 'enable' || op.kind === 'disable') await db.query(`UPDATE ${c.s}.accounts SET enabled=$2 WHERE person_id=$1`, [p.person_id, op.kind === 'enable']);
        await db.query(`INSERT INTO ${c.s}.effects (person_id, event_id, kind, started_at, finished_at) VALUES ($1,$2,$3,$4,clock_timestamp())`, [person.id, person.event.eventId, op.kind, started]);
        out.push({ outcome: 'APPLIED', accountId: person.id });
      }
      await db.query('COMMIT');
    } catch (e) {
      await db.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      db.release();
    }
    return out;
  },
};
