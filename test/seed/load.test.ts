import { randomBytes } from 'node:crypto';
import { Client } from 'ldapts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { A } from '../../src/directory/attributes.js';
import { quoteSchema } from '../../src/mv/migrate.js';
import { generateUniversity, runSeed, seedDirectoryTarget, type SeedSummary } from '../../src/seed/index.js';

const suffix = randomBytes(4).toString('hex');
const base = loadConfig();
// Beside the people base, not below it: a running demo would act on the seeded people.
const testsDn = `ou=Tests,${base.directory.suffix}`;
const peopleDn = `ou=test-${suffix},${testsDn}`;
const cfg: Config = {
  ...base,
  mv: { ...base.mv, schema: `mv_test_${suffix}` },
  directory: { ...base.directory, peopleDn },
};
const now = new Date('2026-09-01T08:00:00Z');
const schema = quoteSchema(cfg.mv.schema);


let db: pg.Client;
beforeAll(async () => {
  db = new pg.Client({ connectionString: cfg.mv.url });
  await db.connect();
});
afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await db.end();
});

const count = async (sql: string, params: unknown[] = []) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0]!.n;

describe('seed into MV', () => {
  let summary: SeedSummary;
  beforeAll(async () => {
    summary = await runSeed(cfg, { persons: 50, seed: 11, now, directory: false });
  });

  it('loads every table with what the generator made', async () => {
    const u = generateUniversity({ persons: 50, seed: 11, now });
    expect(await count(`${schema}.persons`)).toBe(50);
    expect(await count(`${schema}.org_units`)).toBe(u.orgUnits.length);
    expect(await count(`${schema}.master_topics`)).toBe(u.topics.length);
    expect(await count(`${schema}.master_persons`)).toBe(u.masterPersons.length);
    expect(await count(`${schema}.business_roles`)).toBe(u.persons.reduce((s, p) => s + p.roles.length, 0));
    expect(summary.enrolments).toBe(u.masterPersons.length);
    expect(summary.byPrimaryAffiliation.student + summary.byPrimaryAffiliation.employee
      + summary.byPrimaryAffiliation.affiliate + summary.byPrimaryAffiliation.sensor).toBe(50);
    expect(summary.badRecords).toHaveLength(7);
    expect(summary.peopleDn).toBeNull();
  });

  it('reads back as the flows will query it', async () => {
    const { rows } = await db.query(`
      SELECT t.source_id, t.term, t.year, t.emnetype, count(*)::int AS people
        FROM ${schema}.master_persons m JOIN ${schema}.master_topics t USING (source_id)
       GROUP BY 1, 2, 3, 4 ORDER BY 1`);
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => `${r.term} ${r.year}`))).toEqual(new Set(['HØST 2026', 'VÅR 2027']));
    const missing = summary.badRecords.find((b) => b.kind === 'missing-username')!;
    const p = await db.query(`SELECT username FROM ${schema}.persons WHERE idauto_id = $1`, [missing.idautoId]);
    expect(p.rows[0].username).toBeNull();
    const chain = await db.query(`
      WITH RECURSIVE up AS (
        SELECT o.* FROM ${schema}.org_units o JOIN ${schema}.persons p ON p.stedkode = o.stedkode WHERE p.idauto_id = $1
        UNION ALL SELECT o.* FROM ${schema}.org_units o JOIN up ON o.stedkode = up.parent_stedkode)
      SELECT level FROM up`, [missing.idautoId]);
    expect(chain.rows.map((r) => r.level).at(-1)).toBe('faculty');
  });

  it('replaces the previous sample instead of adding to it', async () => {
    const first = await db.query(`SELECT idauto_id FROM ${schema}.persons ORDER BY idauto_id LIMIT 1`);
    await runSeed(cfg, { persons: 30, seed: 12, now, directory: false });
    expect(await count(`${schema}.persons`)).toBe(30);
    expect(await count(`${schema}.persons WHERE idauto_id = $1`, [first.rows[0].idauto_id])).toBe(0);
    const fks = await count(`pg_constraint WHERE contype = 'f' AND connamespace = $1::regnamespace`, [cfg.mv.schema]);
    expect(fks).toBe(8);
  });
});

// The global setup starts the directory: if it does not answer, these fail rather than vanish.
describe('seed into the directory', () => {
  let admin: Client;
  let summary: SeedSummary;
  const keepDn = `ou=test-keep,${peopleDn}`;
  const strayDn = `ou=stray,${peopleDn}`;

  beforeAll(async () => {
    const t = seedDirectoryTarget(cfg);
    admin = new Client({ url: t.url, timeout: 30_000 });
    await admin.bind(t.bindDn, t.password);
    await admin.add(testsDn, { objectClass: ['top', 'organizationalUnit'], ou: 'Tests' }).catch(() => undefined);
    await admin.add(peopleDn, { objectClass: ['top', 'organizationalUnit'], ou: `test-${suffix}` });
    // Another suite's subtree (kept) and something that does not belong (removed, children first).
    await admin.add(keepDn, { objectClass: ['top', 'organizationalUnit'], ou: 'test-keep' });
    await admin.add(`cn=kept,${keepDn}`, { objectClass: ['top', 'person'], cn: 'kept', sn: 'kept' });
    await admin.add(strayDn, { objectClass: ['top', 'organizationalUnit'], ou: 'stray' });
    await admin.add(`cn=stray,${strayDn}`, { objectClass: ['top', 'person'], cn: 'stray', sn: 'stray' });
    summary = await runSeed(cfg, { persons: 50, seed: 11, now, connections: 4 });
  });

  afterAll(async () => {
    if (!admin) return;
    const { searchEntries } = await admin.search(peopleDn, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] }));
    for (const dn of searchEntries.map((e) => e.dn).sort((a, b) => b.split(',').length - a.split(',').length)) {
      await admin.del(dn).catch(() => undefined);
    }
    await admin.unbind().catch(() => undefined);
  });

  const people = async () => (await admin.search(peopleDn, { scope: 'one', filter: '(objectClass=idautoPerson)', attributes: ['*'] })).searchEntries;

  it('adds one idautoPerson per person below the given people DN', async () => {
    const entries = await people();
    expect(entries).toHaveLength(50);
    expect(summary.peopleDn).toBe(peopleDn);
    const u = generateUniversity({ persons: 50, seed: 11, now });
    const byDn = new Map(entries.map((e) => [e.dn.toLowerCase(), e]));
    for (const p of u.persons) {
      const e = byDn.get(`idautoid=${p.idautoId},${peopleDn}`.toLowerCase());
      expect(e, p.idautoId).toBeDefined();
      expect(e![A.sn]).toBe(p.sn);
      expect(e![A.nationalId]).toBe(p.nationalId);
      expect(String(e![A.disabled])).toBe(p.disabled ? 'TRUE' : 'FALSE');
      expect([e!.objectClass].flat()).toEqual(expect.arrayContaining(['idautoPerson', 'tilgangStatusHolder']));
    }
  });

  it('keeps æ, ø and å intact, and leaves out what a bad record lacks', async () => {
    const entries = await people();
    expect(entries.map((e) => String(e[A.displayName])).join(' ')).toMatch(/[æøåÆØÅ]/);
    const missing = summary.badRecords.find((b) => b.kind === 'missing-givenName')!;
    const e = entries.find((x) => String(x[A.id]) === missing.idautoId)!;
    expect(e[A.givenName]).toBeUndefined();
    const dup = summary.badRecords.filter((b) => b.kind === 'duplicate-username').map((b) => b.idautoId);
    const names = entries.filter((x) => dup.includes(String(x[A.id]))).map((x) => String(x[A.usernames]));
    expect(names).toHaveLength(2);
    expect(names[0]).toBe(names[1]);
  });

  it('points managers at entries that exist', async () => {
    const entries = await people();
    const dns = new Set(entries.map((e) => e.dn.toLowerCase()));
    const managers = entries.map((e) => e[A.manager]).filter((m): m is string => typeof m === 'string');
    expect(managers.length).toBeGreaterThan(0);
    for (const m of managers) expect(dns.has(m.toLowerCase())).toBe(true);
  });

  it('replaces the previous people, keeps ou=test-* subtrees and clears everything else', async () => {
    const again = await runSeed(cfg, { persons: 20, seed: 12, now, connections: 4 });
    expect(again.timings.ldapDeleted).toBe(50);
    const entries = await people();
    expect(entries).toHaveLength(20);
    const kept = await admin.search(keepDn, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'] });
    expect(kept.searchEntries).toHaveLength(2);
    await expect(admin.search(strayDn, { scope: 'base', filter: '(objectClass=*)' })).rejects.toThrow();
  });
});
