/**
 * Hostile directory records through the real producer, runtime and writeback (the PostgreSQL test
 * target keeps every value as it came): LDAP filter and DN metacharacters in every attribute a
 * search uses, a NUL byte, very long names, combining, right-to-left and emoji characters,
 * whitespace-only and empty values, 10,000 values in a multi-valued attribute. Each gets its
 * expected result or a clear error naming the person; nobody else is touched; each bad input is
 * counted in the run report.
 *
 * Covered elsewhere, not repeated here: the filter builder against slapd (test/lib/ldap-filter.test.ts,
 * "a value that would widen a pasted filter finds no one"), DN escaping and NFD names
 * (test/lib/ldap-dn.test.ts), names over Moodle's limits (src/targets/moodle/desired.test.ts,
 * test/targets/moodle-site.test.ts), usernames differing in case in AD (src/targets/ad/names.test.ts)
 * and in Moodle (test/targets/moodle-site.test.ts, "names the account that holds a username ...").
 */
import { Attribute, Change, InvalidSyntaxError } from 'ldapts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDeadLetters } from '../../src/consumers/dlq.js';
import { countResults } from '../../src/consumers/report.js';
import { A } from '../../src/directory/attributes.js';
import { escapeDnValue } from '../../src/lib/ldap/dn.js';
import { sync, SyncError } from '../../src/producers/sync.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';
import { eventually, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

describe('hostile directory records, through producer, runtime and writeback', () => {
  let env: TestEnv;
  let pipe: Pipeline;
  let pool: pg.Pool;
  let schema: string;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let tag: string;
  const dlq = () => `test.${env.id}.pgtest.dlq`;

  beforeAll(async () => {
    env = await testEnv('hostile', (cfg) => {
      cfg.runtime.maxRetries = 1;
      cfg.runtime.retryBaseMs = 20;
      cfg.runtime.guard = { maxOperations: 100_000, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
    });
    tag = env.id.slice(-8).replace(/-/g, '');
    accounts = await pgAccounts(env, { affiliations: ['student', 'employee'] });
    ({ pool, schema } = accounts);
    pipe = await startPipeline(env, pgTarget, { topics: { dlq: dlq() } });
  }, 180_000);

  afterAll(async () => {
    await pipe?.stop();
    await accounts?.drop();
    await env?.close();
  });

  /** A person whose DN carries the id escaped as RFC 4514 says (env.addPerson writes it raw). */
  async function add(p: Partial<TestPerson> & { id: string }): Promise<TestPerson> {
    const person: TestPerson = {
      username: `h${tag}${Math.random().toString(36).slice(2, 8)}`, givenName: 'Åse', sn: 'Ødegård', mail: `h${Math.random().toString(36).slice(2, 10)}@uni.example.no`,
      affiliation: 'student', extra: {}, ...p,
    };
    await env.admin.add(`idautoID=${escapeDnValue(person.id)},${env.peopleDn}`, {
      objectClass: ['idautoPerson', 'tilgangStatusHolder'], idautoID: person.id, cn: `${person.givenName} ${person.sn}`,
      sn: person.sn, givenName: person.givenName, idautoPersonUserNameMV: person.username, mail: person.mail,
      idautoPersonAffiliation: person.affiliation, idautoPersonNationalID: '01810012345', ...person.extra,
    });
    return person;
  }
  const account = async (id: string) => (await pool.query(`SELECT * FROM ${schema}.accounts WHERE person_id = $1`, [id])).rows;
  const allAccounts = async () => (await pool.query(`SELECT person_id FROM ${schema}.accounts`)).rows.map((r) => r.person_id as string);
  const one = async (id: string): Promise<ProvisioningResult> => (await pipe.waitResults(id, 1, 'result'))[0]!;
  const status = async (id: string) => {
    const { searchEntries } = await env.admin.search(`idautoID=${escapeDnValue(id)},${env.peopleDn}`, { scope: 'base', attributes: [A.targetStatus] });
    const v = searchEntries[0]?.[A.targetStatus];
    return (v === undefined ? [] : Array.isArray(v) ? v : [v]).map(String);
  };

  // Filter metacharacters (RFC 4515: * ( ) \ NUL) and DN specials (RFC 4514: , + " \ < > ; # =) in
  // the attributes searched by: idautoID (the runtime's wave read, the writeback, sync --persons-file),
  // the usernames (sync --key-field username / uh-username).
  const metaIds = () => [
    ['a star', `h${tag}*`],
    ['a filter that would match everyone', `h${tag})(idautoID=*`],
    ['a backslash and parentheses', `h${tag}\\(x)\\2a`],
    ['DN specials', `h${tag},ou=x+cn=y;"<#>"=`],
    ['leading and trailing spaces and a hash', `#h${tag} `],
  ] as const;

  it('a person whose idautoID holds filter or DN metacharacters gets exactly their own account and status; nobody else is read or written', async () => {
    const decoys = [await add({ id: `h${tag}-decoy-1` }), await add({ id: `h${tag}-decoy-2` })];
    for (const d of decoys) expect((await one(d.id)).outcome).toBe('APPLIED');
    const before = (await allAccounts()).length;
    const people: TestPerson[] = [];
    for (const [, id] of metaIds()) people.push(await add({ id, username: `u${tag}${people.length}*)(|(uid=*`, givenName: `G*(${people.length})\\` }));
    for (const p of people) {
      const r = await one(p.id);
      expect(r, p.id).toMatchObject({ outcome: 'APPLIED', personId: p.id, entitled: true });
      expect(r.operations!.map((o) => o.kind)).toEqual(['create']);
      const rows = await account(p.id);
      expect(rows, p.id).toHaveLength(1);
      expect(rows[0]).toMatchObject({ username: p.username.toLowerCase(), given_name: p.givenName, mail: p.mail });
      await eventually(async () => (await status(p.id)).some((s) => s.startsWith('pgtest|')), 20_000, `status of ${p.id}`);
    }
    expect((await allAccounts()).length).toBe(before + people.length);
    // The decoys were not read for anyone else: one result each, their own.
    for (const d of decoys) expect(await pipe.resultsFor(d.id)).toHaveLength(1);
  });

  it('sync by a username holding metacharacters finds that one person; a wildcard finds no one', async () => {
    const p = await add({ id: `h${tag}-sync`, username: `s${tag}*(x)\\` });
    await one(p.id);
    await expect(sync(env.cfg, env.kafka, { keyField: 'username', keyValue: '*', peopleDn: env.peopleDn })).rejects.toThrow(SyncError);
    await expect(sync(env.cfg, env.kafka, { keyField: 'username', keyValue: `s${tag}*`, peopleDn: env.peopleDn })).rejects.toThrow(/no person/);
    await expect(sync(env.cfg, env.kafka, { keyField: 'idautoID', keyValue: `h${tag}*\u0000`, peopleDn: env.peopleDn })).rejects.toThrow(/no person/);
    const s = await sync(env.cfg, env.kafka, { keyField: 'username', keyValue: p.username, peopleDn: env.peopleDn });
    expect(s.published).toBe(1);
    const rs = await pipe.waitResults(p.id, 2, 'the reprocess result');
    expect(rs[1]).toMatchObject({ outcome: 'UNCHANGED', runId: s.runId });
  });

  it('a NUL byte in the idautoID reaches the target as it is; a target that cannot store it fails that person only, naming them, dead-lettered', async () => {
    const id = `h${tag}\u0000nul`;
    const p = await add({ id });
    const after = await add({ id: `h${tag}-after-nul` });
    const r = await one(p.id);
    expect(r).toMatchObject({ outcome: 'FAILED', personId: id, error: { kind: 'TERMINAL' } });
    const letter = await eventually(async () => (await readDeadLetters(env.kafka, 'pgtest', dlq())).letters.find((l) => l.personId === id), 20_000, 'dead letter');
    expect(letter.error?.message).toBeTruthy();
    expect((await one(after.id)).outcome).toBe('APPLIED');
  });

  it('keeps very long, combining (NFD beside NFC), right-to-left and emoji names exactly as the directory holds them', async () => {
    const cases: Partial<TestPerson>[] = [
      { givenName: 'Å'.repeat(4000), sn: 'x'.repeat(10_000) },
      { givenName: 'A\u030Ase', sn: 'Ødegård' }, // NFD
      { givenName: '\u00C5se', sn: 'O\u0308degard' }, // NFC beside an NFD surname
      { givenName: '\u202Eשלום', sn: 'مرحبا\u200F' },
      { givenName: '🙂‍↔️ Kari', sn: '👩🏽‍🔬' },
      { givenName: 'Z̸̢̛͚̯̈́a̴̛̩̫͝l̷̢̘̈́g̵͈̈o', sn: 'Test' },
    ];
    const people = [];
    for (const [k, c] of cases.entries()) people.push(await add({ id: `h${tag}-uni-${k}`, ...c }));
    for (const p of people) {
      expect((await one(p.id)).outcome, p.givenName.slice(0, 20)).toBe('APPLIED');
      const [row] = await account(p.id);
      // Byte for byte: no normalisation, no truncation, no replacement character.
      expect(Buffer.from(row.given_name)).toEqual(Buffer.from(p.givenName));
      expect(Buffer.from(row.sn)).toEqual(Buffer.from(p.sn));
    }
    // NFC and NFD spellings of one name are two people with two accounts, not a merge.
    expect(people[1]!.givenName.normalize('NFC')).toBe(people[2]!.givenName);
    expect((await account(people[1]!.id))[0].given_name).not.toBe((await account(people[2]!.id))[0].given_name);
  });

  it('a whitespace-only essential value is missing: skipped naming the field; an empty value never gets past the directory', async () => {
    const p = await add({ id: `h${tag}-ws`, givenName: ' \t ' });
    const r = await one(p.id);
    expect(r.outcome).toBe('SKIPPED');
    expect(r.skipReason).toContain('givenName');
    expect(await account(p.id)).toHaveLength(0);
    await expect(add({ id: `h${tag}-empty`, givenName: '' })).rejects.toBeInstanceOf(InvalidSyntaxError);
  });

  it('10,000 values in a multi-valued attribute: published, read and applied; the change of one value is one event', async () => {
    const roles = Array.from({ length: 10_000 }, (_, i) => `iam:role-${i}`);
    const p = await add({ id: `h${tag}-many`, extra: { idautoPersonAppRoles: roles } });
    expect((await one(p.id)).outcome).toBe('APPLIED');
    await env.admin.modify(`idautoID=${escapeDnValue(p.id)},${env.peopleDn}`, new Change({ operation: 'add', modification: new Attribute({ type: 'idautoPersonAppRoles', values: ['iam:role-10000'] }) }));
    const rs = await pipe.waitResults(p.id, 2, 'the second result');
    expect(rs[1]).toMatchObject({ outcome: 'UNCHANGED' });
    expect(await account(p.id)).toHaveLength(1);
  });

  it('counts every hostile input in the run report: applied, skipped and failed each once', async () => {
    const results = await pipe.decoded();
    const counters = countResults(results.filter((r) => r.personId.startsWith(`h${tag}`) || r.personId.startsWith(`#h${tag}`))).get('pgtest')!;
    expect(counters.skipped).toBeGreaterThanOrEqual(1);
    expect((counters.addFail ?? 0) + (counters.failed ?? 0)).toBeGreaterThanOrEqual(1);
    expect(counters.add).toBeGreaterThanOrEqual(metaIds().length + 6);
    expect(pipe.group.counts.dlq).toBeGreaterThanOrEqual(1);
  });
});
