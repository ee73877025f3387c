import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Config } from '../config.js';
import { pgSsl } from '../lib/tls.js';
import { migrate, quoteSchema } from '../mv/migrate.js';
import type { ProvisioningResult } from '../schemas/generated.js';

/** The results store's migrations: applied to the runtime's state schema, recorded in `history_migrations`. */
export const HISTORY_MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** One stored result: the event as it was published, and when the store recorded it. */
export interface HistoryRow extends ProvisioningResult {
  recordedAt: number;
}

export interface HistoryQuery {
  /** The person's idautoID (case does not matter). */
  personId?: string;
  target?: string;
  runId?: string;
  /** Only results processed at or after this time. */
  since?: Date;
  /** At most this many, newest first (default 200). */
  limit?: number;
}

/** A run published by a command: how many events, addressed to which targets. */
export interface RunRecord {
  runId: string;
  mode: string;
  source: string;
  logOnly: boolean;
  targets: string[];
  published: number;
  /** Per target, how many of the run's events are addressed to it (each gets one result). */
  expected: Record<string, number>;
  startedAt: Date;
  /** Undefined while the command is still publishing (or stopped before it finished). */
  publishedAt?: Date;
}

/** Per target: results recorded, and how many of them failed (a failed event is dead-lettered). */
export interface RunProgress { target: string; results: number; failed: number; first?: Date; last?: Date }

const COLUMNS = `event_id, source_event_id, person_id, target, run_id, mode, log_only, outcome, skip_reason, entitled, account_id,
  operations, error, counters, duration_ms, coalesced_into, processed_at, recorded_at`;

function fromRow(r: Record<string, any>): HistoryRow {
  return {
    eventId: r.event_id, sourceEventId: r.source_event_id, personId: r.person_id, target: r.target, runId: r.run_id,
    mode: r.mode, logOnly: r.log_only, outcome: r.outcome, skipReason: r.skip_reason, entitled: r.entitled, accountId: r.account_id,
    operations: r.operations ?? [], error: r.error, counters: r.counters ?? {}, durationMs: r.duration_ms ?? undefined,
    coalescedInto: r.coalesced_into, processedAt: new Date(r.processed_at).getTime(), recordedAt: new Date(r.recorded_at).getTime(),
  };
}

/**
 * The results store: every provisioning.result as one row in PostgreSQL (the runtime's state
 * schema), keyed by the result's event id, so reading the results topic again (a restart, a
 * replay of the topic) inserts nothing twice. The audit trail per person, and what run reports,
 * `tilgang status` and the dashboard read.
 */
export class HistoryStore {
  readonly pool: pg.Pool;
  private readonly s: string;
  private ensured: Promise<void> | undefined;

  constructor(private readonly cfg: Config, opts: { max?: number; pool?: pg.Pool } = {}) {
    this.s = quoteSchema(cfg.runtime.stateSchema);
    this.pool = opts.pool ?? new pg.Pool({
      connectionString: cfg.mv.url, max: opts.max ?? 4, ssl: pgSsl(cfg.mv),
      connectionTimeoutMillis: cfg.mv.timeoutMs, query_timeout: cfg.mv.timeoutMs * 4, keepAlive: true,
    });
    // An idle connection that dies is noticed by the next query; unheard, it would end the process.
    this.pool.on('error', () => {});
  }

  /** Creates or upgrades the tables (once per store; several workers wait for each other). */
  ensure(): Promise<void> {
    this.ensured ??= migrate(this.cfg.mv.url, this.cfg.runtime.stateSchema, pgSsl(this.cfg.mv), {
      dir: HISTORY_MIGRATIONS_DIR, table: 'history_migrations', lock: 'tilgang.history.migrate',
    }).catch((e) => { this.ensured = undefined; throw e; });
    return this.ensured;
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }

  /** Records results; those already there (same event id) are left alone. Returns how many were new. */
  async insert(results: ProvisioningResult[]): Promise<number> {
    if (!results.length) return 0;
    const rows = results.map((r) => ({
      event_id: r.eventId, source_event_id: r.sourceEventId, person_id: r.personId, target: r.target, run_id: r.runId ?? null,
      mode: r.mode ?? 'LIVE', log_only: !!r.logOnly, outcome: r.outcome, skip_reason: r.skipReason ?? null, entitled: r.entitled ?? null,
      account_id: r.accountId ?? null, operations: r.operations ?? [], error: r.error ?? null, counters: r.counters ?? {},
      duration_ms: r.durationMs ?? null, coalesced_into: r.coalescedInto ?? null, processed_ms: r.processedAt,
    }));
    const { rowCount } = await this.pool.query(`INSERT INTO ${this.s}.results (${COLUMNS.replace(', recorded_at', '')})
      SELECT event_id, source_event_id, person_id, target, run_id, mode, log_only, outcome, skip_reason, entitled, account_id,
        operations, error, counters, duration_ms, coalesced_into, to_timestamp(processed_ms / 1000.0)
      FROM jsonb_to_recordset($1::jsonb) AS x(event_id text, source_event_id text, person_id text, target text, run_id text, mode text,
        log_only boolean, outcome text, skip_reason text, entitled boolean, account_id text, operations jsonb, error jsonb, counters jsonb,
        duration_ms integer, coalesced_into text, processed_ms bigint)
      ON CONFLICT (event_id) DO NOTHING`, [JSON.stringify(rows)]);
    return rowCount ?? 0;
  }

  /** Results newest first: one person's (the audit trail), a target's, a run's. */
  async history(q: HistoryQuery): Promise<HistoryRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => { params.push(v); where.push(sql.replace('?', `$${params.length}`)); };
    if (q.personId) add('lower(person_id) = lower(?)', q.personId);
    if (q.target) add('target = ?', q.target);
    if (q.runId) add('run_id = ?', q.runId);
    if (q.since) add('processed_at >= ?', q.since);
    params.push(q.limit ?? 200);
    const { rows } = await this.pool.query(`SELECT ${COLUMNS} FROM ${this.s}.results
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY processed_at DESC, recorded_at DESC LIMIT $${params.length}`, params);
    return rows.map(fromRow);
  }

  /** Every stored result of a run (for its counters). */
  async runResults(runId: string): Promise<HistoryRow[]> {
    const { rows } = await this.pool.query(`SELECT ${COLUMNS} FROM ${this.s}.results WHERE run_id = $1`, [runId]);
    return rows.map(fromRow);
  }

  /** Per target, how many results of the run are recorded and how many failed. */
  async runProgress(runId: string): Promise<RunProgress[]> {
    const { rows } = await this.pool.query(`SELECT target, count(*)::int AS n, count(*) FILTER (WHERE outcome = 'FAILED')::int AS failed,
        min(processed_at) AS first, max(processed_at) AS last
      FROM ${this.s}.results WHERE run_id = $1 GROUP BY target ORDER BY target`, [runId]);
    return rows.map((r) => ({ target: r.target, results: r.n, failed: r.failed, first: r.first ?? undefined, last: r.last ?? undefined }));
  }

  /**
   * Adds published events to a run: `n` events, each addressed to every one of `targets`. Called
   * per chunk while a command publishes (so a report sees a run under way) and with `done` at the
   * end. Several calls under one run id (a redrive to several targets) add up.
   */
  async addToRun(run: { runId: string; mode: string; source: string; logOnly: boolean }, n: number, targets: readonly string[], done: boolean): Promise<void> {
    const expected = Object.fromEntries(targets.map((t) => [t, n]));
    await this.pool.query(`INSERT INTO ${this.s}.runs AS r (run_id, mode, source, log_only, targets, published, expected, published_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8 THEN now() END)
      ON CONFLICT (run_id) DO UPDATE SET
        published = r.published + excluded.published,
        targets = ARRAY(SELECT DISTINCT x FROM unnest(r.targets || excluded.targets) x ORDER BY x),
        expected = (SELECT coalesce(jsonb_object_agg(k, coalesce((r.expected->>k)::int, 0) + coalesce((excluded.expected->>k)::int, 0)), '{}')
          FROM jsonb_object_keys(r.expected || excluded.expected) k),
        published_at = CASE WHEN $8 THEN now() ELSE r.published_at END`,
    [run.runId, run.mode, run.source, run.logOnly, [...targets].sort(), n, JSON.stringify(expected), done]);
  }

  async run(runId: string): Promise<RunRecord | undefined> {
    const { rows } = await this.pool.query(`SELECT * FROM ${this.s}.runs WHERE run_id = $1`, [runId]);
    const r = rows[0];
    return r && {
      runId: r.run_id, mode: r.mode, source: r.source, logOnly: r.log_only, targets: r.targets, published: r.published,
      expected: r.expected ?? {}, startedAt: r.started_at, publishedAt: r.published_at ?? undefined,
    };
  }

  /** The most recent runs, newest first. */
  async recentRuns(limit = 20): Promise<RunRecord[]> {
    const { rows } = await this.pool.query(`SELECT run_id FROM ${this.s}.runs ORDER BY started_at DESC LIMIT $1`, [limit]);
    return (await Promise.all(rows.map((r) => this.run(r.run_id)))).filter((r): r is RunRecord => !!r);
  }

  /** Per target and outcome, the results processed since `since`. */
  async outcomesSince(since: Date): Promise<Map<string, Record<string, number>>> {
    const { rows } = await this.pool.query(`SELECT target, outcome, count(*)::int AS n FROM ${this.s}.results
      WHERE processed_at >= $1 GROUP BY target, outcome`, [since]);
    const out = new Map<string, Record<string, number>>();
    for (const r of rows) out.set(r.target, { ...(out.get(r.target) ?? {}), [r.outcome]: r.n });
    return out;
  }

  /** Forgets results (and runs) older than the retention. Returns how many results went. */
  async prune(retentionDays: number): Promise<number> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${this.s}.results WHERE processed_at < now() - make_interval(days => $1)`, [retentionDays]);
    await this.pool.query(`DELETE FROM ${this.s}.runs WHERE started_at < now() - make_interval(days => $1)`, [retentionDays]);
    return rowCount ?? 0;
  }
}
