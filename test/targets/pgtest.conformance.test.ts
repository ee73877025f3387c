import { conformance } from '../support/conformance.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';

/** The PostgreSQL test target against a real PostgreSQL: accounts are rows, writes are its effect log. */
conformance({
  target: pgTarget,
  async start(env) {
    const acc = await pgAccounts(env, { affiliations: ['student', 'employee'] });
    const q = async <T>(sql: string, params: unknown[] = []) => (await acc.pool.query(sql, params)).rows as T[];
    const s = acc.schema;
    return {
      config: env.cfg.targets.pgtest as Record<string, unknown>,
      async account(p) {
        const [a] = await q<{ username: string; mail: string; given_name: string; sn: string; enabled: boolean }>(`SELECT * FROM ${s}.accounts WHERE person_id = $1`, [p.id]);
        return a ? { enabled: a.enabled, attributes: { givenName: a.given_name, sn: a.sn, mail: a.mail, idautoPersonUserNameMV: a.username } } : null;
      },
      async count(p) {
        return (await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.accounts WHERE person_id = $1 OR username = $2`, [p.id, p.username]))[0]!.n;
      },
      async writes() {
        return (await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.effects`))[0]!.n;
      },
      async plantDuplicate(p) {
        // An account of the person's under an old username, and someone else's under the person's username.
        await q(`INSERT INTO ${s}.accounts VALUES ($1, $2, $3, 'A', 'B', true), (gen_random_uuid()::text, $4, 'x@example.org', 'C', 'D', true)`,
          [p.id, `old${p.username}`, p.mail, p.username]);
        return [`old${p.username}`, p.username];
      },
      async failTransiently(p, times) {
        await q(`INSERT INTO ${s}.faults (person_id, transient) VALUES ($1, $2)`, [p.id, times]);
      },
      mapped: [
        { attribute: 'givenName', value: (p) => `Ny ${p.id.slice(0, 4)}` },
        { attribute: 'sn', value: (p) => `Nyquist-${p.id.slice(0, 4)}` },
        { attribute: 'mail', value: (p) => `ny.${p.username}@uni.example.no` },
        { attribute: 'idautoPersonUserNameMV', value: (p) => `${p.username}n` },
      ],
      secrets: [],
      stop: () => acc.drop(),
    };
  },
});
