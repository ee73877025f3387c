import pg from 'pg';

export interface GuardSettings {
  /** Hold when more than this many destructive operations (disable, remove) fall in the window. */
  maxOperations: number;
  /** ...or more than this share of the target's provisioned accounts (checked from minAccounts on). */
  maxShare: number;
  minAccounts: number;
  windowMinutes: number;
}

export interface GuardState {
  target: string;
  tripped: boolean;
  reason: string | null;
  trippedAt: Date | null;
  releasedAt: Date | null;
  releaseRunId: string | null;
  held: number;
}

/** Destructive operations admitted and not yet applied or given back (see `settle`). */
export interface GuardTicket { id: string; n: number }


const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * The mass-change guard (as Entra's accidental-deletion threshold): when a target's destructive
 * operations in a time window pass a number or a share of its accounts, further ones are held,
 * the reason is published, and nothing destructive happens until `tilgang guard release`.
 * Its state is in PostgreSQL so every worker of a group sees the same guard, across restarts.
 */
export class MassChangeGuard {
  private readonly s: string;

  constructor(private readonly pool: pg.Pool, schema: string) {
    this.s = ident(schema);
  }

  async ensure(): Promise<void> {
    const s = this.s;
    await this.pool.query(`CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}.guard (target text PRIMARY KEY, tripped boolean NOT NULL DEFAULT false, reason text,
        tripped_at timestamptz, released_at timestamptz, release_run_id text);
      CREATE TABLE IF NOT EXISTS ${s}.guard_operations (target text NOT NULL, at timestamptz NOT NULL DEFAULT now(), n integer NOT NULL);
      ALTER TABLE ${s}.guard_operations ADD COLUMN IF NOT EXISTS id bigserial, ADD COLUMN IF NOT EXISTS released boolean NOT NULL DEFAULT false;
      CREATE INDEX IF NOT EXISTS guard_operations_idx ON ${s}.guard_operations (target, at);
      CREATE TABLE IF NOT EXISTS ${s}.guard_held (target text NOT NULL, person_id text NOT NULL, event_id text NOT NULL,
        held_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (target, person_id));`).catch((e: Error) => {
      // Two workers creating the same tables at once: the loser's error is harmless.
      if (!/already exists|duplicate key|concurrently/.test(e.message)) throw e;
    });
  }

  /**
   * Asks to apply `n` destructive operations for one person. 'held' means: do not apply them now;
   * the person is remembered and reprocessed on release. Otherwise the operations are reserved
   * (so a wave of people admitted at once cannot pass the limit together) and the caller must
   * `settle` the ticket with what was actually applied.
   */
  async admit(target: string, personId: string, eventId: string, n: number, totalAccounts: number, g: GuardSettings, runId?: string | null): Promise<GuardTicket | 'held'> {
    if (n <= 0) return { id: '0', n: 0 };
    const s = this.s;
    return this.locked(target, async (c) => {
      const st = (await c.query(`SELECT * FROM ${s}.guard WHERE target = $1`, [target])).rows[0];
      const released = !!runId && st.release_run_id === runId;
      if (st.tripped && !released) {
        await this.hold(c, target, personId, eventId);
        return 'held';
      }
      if (!released) {
        const after = (await this.counted(c, target, g.windowMinutes, st.released_at)) + n;
        const overCount = after > g.maxOperations;
        const overShare = totalAccounts >= g.minAccounts && after > g.maxShare * totalAccounts;
        if (overCount || overShare) {
          const reason = overCount
            ? `${after} destructive operations within ${g.windowMinutes} min exceed the limit of ${g.maxOperations}`
            : `${after} destructive operations within ${g.windowMinutes} min exceed ${Math.round(g.maxShare * 100)}% of ${totalAccounts} accounts`;
          await c.query(`UPDATE ${s}.guard SET tripped = true, reason = $2, tripped_at = now() WHERE target = $1`, [target, reason]);
          await this.hold(c, target, personId, eventId);
          return 'held';
        }
      }
      // A released operation was let through by a person: it is recorded, but never counts again.
      const { rows } = await c.query(`INSERT INTO ${s}.guard_operations (target, n, released) VALUES ($1, $2, $3) RETURNING id`, [target, n, released]);
      return { id: String(rows[0].id), n };
    });
  }

  /**
   * What the admitted operations came to: `applied` of them took effect (0 when the apply failed
   * or will be retried; a retry asks again). Only applied operations stay in the window.
   */
  async settle(ticket: GuardTicket, applied: number): Promise<void> {
    if (ticket.n <= 0 || applied === ticket.n) return;
    if (applied <= 0) await this.pool.query(`DELETE FROM ${this.s}.guard_operations WHERE id = $1`, [ticket.id]);
    else await this.pool.query(`UPDATE ${this.s}.guard_operations SET n = $2 WHERE id = $1`, [ticket.id, Math.min(applied, ticket.n)]);
  }

  /**
   * Destructive operations that count now: applied (or admitted and not yet settled) within the
   * window, since the last release, and not let through by a release.
   */
  private async counted(c: pg.Pool | pg.PoolClient, target: string, windowMinutes: number, releasedAt: Date | null): Promise<number> {
    const { rows } = await c.query(`SELECT coalesce(sum(n), 0) AS n FROM ${this.s}.guard_operations
      WHERE target = $1 AND NOT released AND at > greatest(now() - make_interval(mins => $2::int), coalesce($3::timestamptz, '-infinity'))`,
    [target, windowMinutes, releasedAt]);
    return Number(rows[0].n);
  }

  /** One transaction holding the target's guard lock, so workers of a group decide one at a time. */
  private async locked<T>(target: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tilgang.guard.${target}`]);
      await c.query(`INSERT INTO ${this.s}.guard (target) VALUES ($1) ON CONFLICT DO NOTHING`, [target]);
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  private async hold(c: pg.PoolClient, target: string, personId: string, eventId: string): Promise<void> {
    await c.query(`INSERT INTO ${this.s}.guard_held (target, person_id, event_id) VALUES ($1, $2, $3)
      ON CONFLICT (target, person_id) DO UPDATE SET event_id = excluded.event_id`, [target, personId, eventId]);
  }

  /** With `windowMinutes`, also how many destructive operations count toward the limit now. */
  async state(target: string, windowMinutes?: number): Promise<GuardState & { counted?: number }> {
    const s = this.s;
    const st = (await this.pool.query(`SELECT * FROM ${s}.guard WHERE target = $1`, [target])).rows[0];
    const held = Number((await this.pool.query(`SELECT count(*) AS n FROM ${s}.guard_held WHERE target = $1`, [target])).rows[0].n);
    return {
      target, tripped: !!st?.tripped, reason: st?.reason ?? null, trippedAt: st?.tripped_at ?? null,
      releasedAt: st?.released_at ?? null, releaseRunId: st?.release_run_id ?? null, held,
      ...(windowMinutes ? { counted: await this.counted(this.pool, target, windowMinutes, st?.released_at ?? null) } : {}),
    };
  }

  /** Lifts the hold and hands back the held people; events of `runId` pass the guard. */
  async release(target: string, runId: string): Promise<string[]> {
    const s = this.s;
    return this.locked(target, async (c) => {
      await c.query(`UPDATE ${s}.guard SET tripped = false, released_at = now(), release_run_id = $2 WHERE target = $1`, [target, runId]);
      return (await c.query(`DELETE FROM ${s}.guard_held WHERE target = $1 RETURNING person_id`, [target])).rows.map((r) => r.person_id as string);
    });
  }
}
