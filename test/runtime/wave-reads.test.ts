import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MassChangeGuard } from '../../src/consumers/guard.js';
import { prepareWave, type ReconcileDeps } from '../../src/consumers/reconcile.js';
import { Directory } from '../../src/directory/client.js';
import { migrate } from '../../src/mv/migrate.js';
import { MvReader } from '../../src/mv/person.js';
import { newRunId, runEvent } from '../../src/producers/publisher.js';
import { child } from '../../src/lib/log.js';
import { entitlementRules, type MvFacet, type PersonContext, type Target, type TargetContext } from '../../src/spi/index.js';
import { testEnv, type TestEnv } from '../support/env.js';

/**
 * A wave of people is read in one directory search and one MV query, whatever its size; MV
 * facets come only when the target declares them. Counted at the wire: the LDAP client's
 * searches and the pool's queries.
 */
describe('reads per wave', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let mvSchema: string;
  let dir: Directory;
  let mv: MvReader;
  let guard: MassChangeGuard;
  const people: string[] = [];
  const N = 40;
  const counts = { searches: 0, queries: 0, facets: [] as (readonly MvFacet[] | undefined)[] };

  beforeAll(async () => {
    env = await testEnv('wave-reads');
    mvSchema = `test_mv_${env.id.replace(/[^a-z0-9]/g, '_')}`;
    await migrate(env.cfg.mv.url, mvSchema);
    env.cfg.mv.schema = mvSchema;
    pool = new pg.Pool({ connectionString: env.cfg.mv.url, max: 2 });
    await pool.query(`INSERT INTO ${mvSchema}.org_units VALUES
      ('120000', NULL, 'faculty', 'Det matematisk-naturvitenskapelige fakultet', 'Faculty of Science', 'MN', 'MN'),
      ('121000', '120000', 'department', 'Institutt for informatikk', 'Department of Informatics', 'II', 'Informatikk')`);
    await pool.query(`INSERT INTO ${mvSchema}.master_topics VALUES ('1120:INF100:1', '1120', 'INF100', 1, 'INF100', 'INF100', 'EMNE', 'HØST', 2026, '121000', 'active')`);
    for (let i = 0; i < N; i++) {
      const id = randomUUID();
      people.push(id);
      await pool.query(`INSERT INTO ${mvSchema}.persons (idauto_id, username, student_id, primary_affiliation, stedkode) VALUES ($1, $2, '512345', 'student', '121000')`, [id, `u${i}`]);
      await pool.query(`INSERT INTO ${mvSchema}.master_persons VALUES ($1, '1120:INF100:1', 'HØST', 2026, 'student')`, [id]);
      await env.addPerson({ id });
    }
    // No idle probes: every search and query counted is the wave's.
    dir = await Directory.connect(env.cfg, { probeMs: false });
    mv = new MvReader(env.cfg.mv.url, mvSchema, { probeMs: false });
    guard = new MassChangeGuard(mv.pool, env.cfg.runtime.stateSchema);
    const search = dir.client.search.bind(dir.client);
    dir.client.search = ((...a: Parameters<typeof search>) => { counts.searches++; return search(...a); }) as typeof search;
    const query = mv.pool.query.bind(mv.pool);
    mv.pool.query = ((...a: unknown[]) => { counts.queries++; return (query as (...x: unknown[]) => unknown)(...a); }) as typeof mv.pool.query;
    const readMany = mv.readMany.bind(mv);
    mv.readMany = (ids, facets) => { counts.facets.push(facets); return readMany(ids, facets); };
  }, 120_000);

  afterAll(async () => {
    await dir?.close();
    await mv?.close();
    await pool?.query(`DROP SCHEMA IF EXISTS ${mvSchema} CASCADE; DROP SCHEMA IF EXISTS ${env.cfg.runtime.stateSchema} CASCADE`);
    await pool?.end();
    await env?.close();
  });

  /** A target that sees what the runtime hands it and plans nothing. */
  function seeing(facets: MvFacet[] | undefined, seen: PersonContext[]): Target<{ entitlement: { affiliations: string[]; roles: string[] } }, null, null> {
    return {
      name: 'wavetest',
      ...(facets ? { mv: () => facets } : {}),
      config: z.object({ entitlement: entitlementRules({ affiliations: ['student'] }) }),
      essential: () => ['mail'],
      connect: async () => undefined,
      desired: (p) => { seen.push(p); return null; },
      actual: async () => null,
      plan: () => ({ operations: [] }),
      apply: async () => [],
    };
  }

  function deps(target: Target<any, any, any>): ReconcileDeps {
    const ctx: TargetContext<any> = { config: target.config.parse({}), global: env.cfg, log: child({ component: 'test' }) };
    return {
      target, ctx, client: undefined, directory: dir, mv, guard,
      guardSettings: { maxOperations: 0, maxShare: 0, minAccounts: 0, windowMinutes: 1 }, totalAccounts: async () => 0,
      sensitive: env.cfg.directory.sensitive, secrets: [],
    };
  }

  const wave = (ids: string[]) => {
    const run = { runId: newRunId(), mode: 'SNAPSHOT' as const, logOnly: false, targets: null, source: 'test' };
    return ids.map((id) => runEvent(id, run));
  };

  it(`reads a wave of ${N} people with one directory search and one MV query`, async () => {
    const seen: PersonContext[] = [];
    const d = deps(seeing(['enrolments'], seen));
    counts.searches = counts.queries = 0;
    const out = await prepareWave(wave(people), d);
    expect(counts).toMatchObject({ searches: 1, queries: 1 });
    expect(out.map((o) => ('p' in o ? o.p.kind === 'done' && o.p.result.outcome : o.err))).toEqual(people.map(() => 'UNCHANGED'));
    // Each person got their own record and MV data, in the wave's order.
    expect(seen.map((p) => p.id)).toEqual(people);
    expect(seen.map((p) => p.record.attrs.idautoID?.[0])).toEqual(people);
    expect(seen.map((p) => p.mv?.id)).toEqual(people);
    expect(seen.every((p) => p.entitled)).toBe(true);
  });

  it('a wave of one person is still one search and one query; the round trips do not grow with the wave', async () => {
    const d = deps(seeing(undefined, []));
    counts.searches = counts.queries = 0;
    await prepareWave(wave(people.slice(0, 1)), d);
    expect(counts).toMatchObject({ searches: 1, queries: 1 });
    counts.searches = counts.queries = 0;
    await prepareWave(wave(people.slice(0, 25)), d);
    expect(counts).toMatchObject({ searches: 1, queries: 1 });
  });

  it('reads runtime.concurrency people at once, or the whole wave for a target that bounds its own reads', async () => {
    const widest = async (whole: boolean) => {
      let now = 0;
      let max = 0;
      const t = seeing(undefined, []);
      const target = {
        ...t, ...(whole ? { readsWholeWave: true } : {}),
        actual: async () => {
          max = Math.max(max, ++now);
          await new Promise((r) => setTimeout(r, 20));
          now--;
          return null;
        },
      };
      await prepareWave(wave(people), deps(target));
      return max;
    };
    expect(env.cfg.runtime.concurrency).toBeLessThan(N);
    expect(await widest(false)).toBe(env.cfg.runtime.concurrency);
    expect(await widest(true)).toBe(N);
  });

  it('loads only the MV facets the target declares', async () => {
    const none: PersonContext[] = [];
    await prepareWave(wave(people.slice(0, 3)), deps(seeing(undefined, none)));
    expect(counts.facets.at(-1)).toEqual([]);
    expect(none[0]!.mv).toMatchObject({ id: people[0], username: 'u0', studentId: '512345', primaryAffiliation: 'student' });
    expect(none[0]!.mv).not.toHaveProperty('orgUnits');
    expect(none[0]!.mv).not.toHaveProperty('enrolments');

    const org: PersonContext[] = [];
    await prepareWave(wave(people.slice(0, 3)), deps(seeing(['orgUnits'], org)));
    expect(org[0]!.mv!.orgUnits!.map((o) => o.stedkode)).toEqual(['121000', '120000']);
    expect(org[0]!.mv).not.toHaveProperty('enrolments');

    const courses: PersonContext[] = [];
    await prepareWave(wave(people.slice(0, 3)), deps(seeing(['enrolments'], courses)));
    expect(courses[0]!.mv!.enrolments).toEqual([expect.objectContaining({ sourceId: '1120:INF100:1', term: 'HØST', year: 2026, role: 'student', emnetype: 'EMNE' })]);
    expect(courses[0]!.mv).not.toHaveProperty('orgUnits');
  });

  it('skips, per person, those the directory lacks, deleted ones and incomplete records, reading MV only for the rest', async () => {
    const unknown = randomUUID();
    const incomplete = randomUUID();
    await env.addPerson({ id: incomplete, mail: '' });
    const events = wave([people[0]!, unknown, incomplete, people[1]!]);
    events.push({ ...runEvent(people[2]!, { runId: newRunId(), mode: 'REPROCESS', logOnly: false, targets: null, source: 'test' }), changeType: 'DELETE' });
    const seen: PersonContext[] = [];
    counts.searches = counts.queries = 0;
    const out = await prepareWave(events, deps(seeing(undefined, seen)));
    expect(counts).toMatchObject({ searches: 1, queries: 1 });
    expect(out.map((o) => 'p' in o && o.p.kind === 'done' && [o.p.result.personId, o.p.result.outcome, o.p.result.skipReason])).toEqual([
      [people[0], 'UNCHANGED', null],
      [unknown, 'SKIPPED', 'person not in the directory'],
      [incomplete, 'SKIPPED', 'missing essential attribute: mail'],
      [people[1], 'UNCHANGED', null],
      [people[2], 'SKIPPED', 'directory delete: accounts are disabled through entitlement, never deleted'],
    ]);
    expect(seen.map((p) => p.id)).toEqual([people[0], people[1]]);
  });
});
