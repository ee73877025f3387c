import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { readDeadLetters, redrive } from '../../src/consumers/dlq.js';
import { MassChangeGuard } from '../../src/consumers/guard.js';
import { countResults, readRunResults } from '../../src/consumers/report.js';
import { sync } from '../../src/producers/sync.js';
import { newRunId, PersonEventPublisher, reprocessForTarget, runEvent } from '../../src/producers/publisher.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';
import { Collector, decodeEvents, eventually, sleep, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';
import { explain, formatExplain } from '../../src/consumers/explain.js';

describe('consumer runtime with a PostgreSQL-backed test target', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let pipe: Pipeline;
  let group: TargetGroup;
  let events: Collector;
  let schema: string;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let dlq: string;

  beforeAll(async () => {
    env = await testEnv('runtime', (cfg) => {
      cfg.runtime.maxRetries = 2;
      cfg.runtime.retryBaseMs = 20;
      cfg.runtime.concurrency = 8;
      cfg.runtime.guard = { maxOperations: 2, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
    });
    dlq = `test.${env.id}.pgtest.dlq`;
    accounts = await pgAccounts(env, { affiliations: ['student', 'employee'], applyDelayMs: 15 });
    ({ pool, schema } = accounts);
    pipe = await startPipeline(env, pgTarget, { topics: { dlq } });
    ({ group, events } = pipe);
  }, 120_000);

  afterAll(async () => {
    await pipe?.stop();
    await accounts?.drop();
    await env?.close();
  });

  const decoded = () => pipe.decoded();
  const resultsFor = (id: string) => pipe.resultsFor(id);
  const account = async (id: string) => (await pool.query(`SELECT * FROM ${schema}.accounts WHERE person_id = $1`, [id])).rows[0];
  const effects = async (id: string) => (await pool.query(`SELECT * FROM ${schema}.effects WHERE person_id = $1 ORDER BY seq`, [id])).rows;
  const setAffiliation = async (p: TestPerson, a: string) => {
    await env.modify(env.dn(p.id), 'idautoPersonAffiliations', [a]);
    await env.modify(env.dn(p.id), 'idautoPersonAffiliation', [a]);
  };
  const waitResults = (id: string, n: number, what?: string) => pipe.waitResults(id, n, what);

  it('creates an entitled person\'s account, writes the status back, and the producer does not republish it', async () => {
    const p = await env.addPerson({ affiliation: 'student' });
    const [r] = await waitResults(p.id, 1);
    expect(r).toMatchObject({ outcome: 'APPLIED', entitled: true, target: 'pgtest', mode: 'LIVE' });
    expect(r!.operations!.map((o) => o.kind)).toEqual(['create']);
    expect(await account(p.id)).toMatchObject({ username: p.username, mail: p.mail, enabled: true });
    // Writeback lands in the directory...
    const status = await eventually(async () => {
      const { searchEntries } = await env.admin.search(env.dn(p.id), { scope: 'base', attributes: ['tilgangProvisionedTo', 'tilgangTargetStatus'] });
      return searchEntries[0]?.tilgangProvisionedTo === 'pgtest' ? searchEntries[0] : undefined;
    }, 20_000, 'writeback');
    expect(status.tilgangProvisionedTo).toBe('pgtest');
    expect(String(status.tilgangTargetStatus)).toMatch(/^pgtest\|\d{4}-.*\|provisioned\|$/);
    // ...and causes no loop: the producer publishes only the ADD for this person.
    await sleep(1000);
    expect((await decodeEvents(env, events.messages)).filter((e) => e.personId === p.id).map((e) => e.changeType)).toEqual(['ADD']);
    expect(await resultsFor(p.id)).toHaveLength(1);
  });

  it('updates only what differs, disables on lost entitlement, enables on regained entitlement; never deletes', async () => {
    const p = await env.addPerson({ affiliation: 'employee' });
    await waitResults(p.id, 1);
    await env.modify(env.dn(p.id), 'sn', ['Nyquist-Ås']);
    const [, upd] = await waitResults(p.id, 2);
    expect(upd!.operations).toEqual([expect.objectContaining({ kind: 'update', outcome: 'APPLIED', changes: [{ attribute: 'sn', from: p.sn, to: 'Nyquist-Ås' }] })]);
    await setAffiliation(p, 'alum');
    // Two modifies, two events, one disable: level-triggered, the first may already see both and the
    // second finds nothing to do; or both fall in one chunk and the first's result names the second's.
    const rs = await waitResults(p.id, 4);
    const [first, second] = rs.slice(2);
    expect(rs.slice(2).map((r) => r.operations!.map((o) => o.kind).join() || (r.coalescedInto ? 'coalesced' : r.outcome)).sort()).toEqual(
      first!.coalescedInto ? ['coalesced', 'disable'] : ['UNCHANGED', 'disable']);
    if (first!.coalescedInto) expect(first!.coalescedInto).toBe(second!.sourceEventId);
    expect(await account(p.id)).toMatchObject({ enabled: false });
    await setAffiliation(p, 'employee');
    await eventually(async () => (await account(p.id))?.enabled === true, 20_000, 'enabled again');
    expect((await effects(p.id)).map((e) => e.kind)).toEqual(['create', 'update', 'disable', 'enable']);
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${schema}.accounts WHERE person_id = $1`, [p.id])).rows[0].n).toBe(1);
  });

  it('skips incomplete records and directory deletes, naming the missing field', async () => {
    const p = await env.addPerson({ givenName: '' });
    const [r] = await waitResults(p.id, 1);
    expect(r).toMatchObject({ outcome: 'SKIPPED', skipReason: 'missing essential attribute: givenName' });
    await env.admin.del(env.dn(p.id));
    const [, d] = await waitResults(p.id, 2);
    expect(d!.outcome).toBe('SKIPPED');
    expect(d!.skipReason).toMatch(/directory delete/);
    expect(await account(p.id)).toBeUndefined();
  });

  it('keeps per-person order while different people run in parallel', async () => {
    const people: TestPerson[] = [];
    for (let i = 0; i < 6; i++) people.push(await env.addPerson({}));
    const runId = newRunId();
    const pub = new PersonEventPublisher(env.kafka, env.cfg, `test.order.${env.id}`);
    await pub.connect();
    // Twenty events per person, interleaved, in one transaction: one partition batch holds many of each.
    const evs = [];
    for (let k = 0; k < 20; k++) for (const p of people) evs.push({ ...runEvent(p.id, { runId, mode: 'REPROCESS', logOnly: false, targets: null, source: 'test' }), eventId: `${p.id}:${String(k).padStart(2, '0')}` });
    await pub.send(evs);
    await pub.disconnect();
    await eventually(async () => (await decoded()).filter((r) => r.runId === runId).length >= evs.length, 60_000, 'all results');
    const rs = (await decoded()).filter((r) => r.runId === runId);
    for (const p of people) {
      const order = rs.filter((r) => r.personId === p.id).map((r) => r.sourceEventId);
      expect(order).toEqual([...order].sort()); // results in event order per person
      expect(order).toHaveLength(20);
    }
    // Exactly one result per event.
    expect(new Set(rs.map((r) => r.sourceEventId)).size).toBe(evs.length);
  });

  it('coalesces a person\'s events in a chunk into one reconcile; every event gets a result naming the one that did the work', async () => {
    const p = await env.addPerson({});
    await waitResults(p.id, 1);
    const before = (await effects(p.id)).length;
    // The account drifts (someone edited it by hand); twenty events of one run arrive at once.
    await pool.query(`UPDATE ${schema}.accounts SET sn = 'Endret-For-Hånd' WHERE person_id = $1`, [p.id]);
    const runId = newRunId();
    const pub = new PersonEventPublisher(env.kafka, env.cfg, `test.coalesce.${env.id}`);
    await pub.connect();
    const evs = Array.from({ length: 20 }, (_, k) => ({ ...runEvent(p.id, { runId, mode: 'REPROCESS', logOnly: false, targets: null, source: 'test' }), eventId: `${p.id}:c${String(k).padStart(2, '0')}` }));
    await pub.send(evs);
    await pub.disconnect();
    const rs = await eventually(async () => {
      const r = (await resultsFor(p.id)).filter((x) => x.runId === runId);
      return r.length >= evs.length && r;
    }, 30_000, 'a result for each of the twenty events');
    expect(rs.map((r) => r.sourceEventId)).toEqual(evs.map((e) => e.eventId)); // one each, in order
    const carriers = rs.filter((r) => !r.coalescedInto);
    expect(carriers.length).toBeLessThan(evs.length / 2); // a batch boundary may split them once
    expect(carriers.at(-1)!.sourceEventId).toBe(evs.at(-1)!.eventId); // the last decides
    for (const r of rs.filter((x) => x.coalescedInto)) {
      const carrier = rs.find((x) => x.sourceEventId === r.coalescedInto)!;
      expect(carrier.coalescedInto).toBeNull();
      expect(rs.indexOf(carrier)).toBeGreaterThan(rs.indexOf(r));
      expect(r.operations).toEqual([]);
      expect(r.outcome).toBe(carrier.outcome);
    }
    // The drift was repaired once: one update, not twenty.
    expect((await effects(p.id)).slice(before).map((e) => e.kind)).toEqual(['update']);
    expect(group.counts.coalesced).toBeGreaterThanOrEqual(evs.length - carriers.length);
  });

  it('applies different people concurrently but one person never twice at once', async () => {
    const people: TestPerson[] = [];
    for (let i = 0; i < 8; i++) people.push(await env.addPerson({}));
    await eventually(async () => {
      const n = (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.effects WHERE person_id = ANY($1)`, [people.map((p) => p.id)])).rows[0].n;
      return n >= people.length;
    }, 30_000, 'creates');
    const rows = (await pool.query(`SELECT person_id, started_at, finished_at FROM ${schema}.effects WHERE person_id = ANY($1) ORDER BY started_at`, [people.map((p) => p.id)])).rows;
    const overlapping = rows.some((a, i) => rows.slice(i + 1).some((b) => b.person_id !== a.person_id && b.started_at < a.finished_at));
    expect(overlapping).toBe(true);
  });

  it('retries transient failures, then dead-letters, and redrive converges', async () => {
    const ok = await env.addPerson({ affiliation: 'student', id: undefined });
    await pool.query(`INSERT INTO ${schema}.faults VALUES ($1, 2, false)`, [ok.id]).catch(() => {});
    // Already planted before the add's event is processed? Plant for the next event instead:
    await waitResults(ok.id, 1);
    await pool.query(`INSERT INTO ${schema}.faults VALUES ($1, 2, false) ON CONFLICT (person_id) DO UPDATE SET transient = 2`, [ok.id]);
    await env.modify(env.dn(ok.id), 'sn', ['Etter-To-Feil']);
    const r2 = await waitResults(ok.id, 2);
    expect(r2.at(-1)).toMatchObject({ outcome: 'APPLIED' });
    expect(group.counts.retries).toBeGreaterThanOrEqual(2);

    const bad = await env.addPerson({});
    await waitResults(bad.id, 1);
    await pool.query(`INSERT INTO ${schema}.faults VALUES ($1, 99, false)`, [bad.id]);
    await env.modify(env.dn(bad.id), 'sn', ['Aldri-Ferdig']);
    const rb = await waitResults(bad.id, 2);
    expect(rb[1]).toMatchObject({ outcome: 'FAILED', error: { kind: 'TRANSIENT', code: 'ECONNRESET' } });
    const { letters } = await eventually(async () => {
      const l = await readDeadLetters(env.kafka, 'pgtest', dlq);
      return l.letters.some((x) => x.personId === bad.id) && l;
    }, 20_000, 'dead letter');
    const letter = letters.find((x) => x.personId === bad.id)!;
    expect(letter).toMatchObject({ attempts: 3, error: { kind: 'TRANSIENT' }, source: { topic: env.cfg.kafka.topics.personChanged } });
    // The partition moved on: a later person is processed.
    const after = await env.addPerson({});
    await waitResults(after.id, 1);
    // Redrive after the fault is gone: the person converges and the letter is no longer listed.
    await pool.query(`DELETE FROM ${schema}.faults WHERE person_id = $1`, [bad.id]);
    const rd = await redrive(env.cfg, env.kafka, 'pgtest', { dlq, personChangedTopic: env.cfg.kafka.topics.personChanged });
    expect(rd.people).toBeGreaterThanOrEqual(1);
    const rr = await waitResults(bad.id, 3);
    expect(rr[2]).toMatchObject({ outcome: 'APPLIED', runId: rd.runId });
    expect((await account(bad.id)).sn).toBe('Aldri-Ferdig');
    expect((await readDeadLetters(env.kafka, 'pgtest', dlq)).letters.filter((x) => x.personId === bad.id)).toHaveLength(0);
  });

  it('dead-letters a terminal failure at once with the field named', async () => {
    const p = await env.addPerson({});
    await pool.query(`INSERT INTO ${schema}.faults VALUES ($1, 0, true)`, [p.id]);
    const [r] = await waitResults(p.id, 1);
    expect(r).toMatchObject({ outcome: 'FAILED', error: { kind: 'TERMINAL', code: 'refused', field: 'mail' } });
    expect(r!.error!.message).toContain(p.id);
    expect(JSON.stringify(r)).not.toContain('01810012345');
  });

  it('one person\'s terminal failure does not fail the others applied beside them', async () => {
    const people = [await env.addPerson({}), await env.addPerson({}), await env.addPerson({})];
    for (const p of people) await waitResults(p.id, 1);
    const ids = people.map((p) => p.id);
    await pool.query(`DELETE FROM ${schema}.accounts WHERE person_id = ANY($1)`, [ids]);
    await pool.query(`INSERT INTO ${schema}.faults VALUES ($1, 0, true)`, [people[1]!.id]);
    const runId = newRunId();
    const pub = new PersonEventPublisher(env.kafka, env.cfg, `test.wave.${env.id}`);
    await pub.connect();
    await pub.send(ids.map((id) => runEvent(id, { runId, mode: 'REPROCESS', logOnly: false, targets: null, source: 'test' })));
    await pub.disconnect();
    const rs = await eventually(async () => {
      const r = (await decoded()).filter((x) => x.runId === runId);
      return r.length === 3 && r;
    }, 30_000, 'three results');
    const by = (id: string) => rs.find((r) => r.personId === id)!;
    expect(by(people[0]!.id).outcome).toBe('APPLIED');
    expect(by(people[2]!.id).outcome).toBe('APPLIED');
    expect(by(people[1]!.id)).toMatchObject({ outcome: 'FAILED', error: { code: 'refused' } });
    expect(by(people[1]!.id).error!.message).toContain(people[1]!.id);
    await pool.query(`DELETE FROM ${schema}.faults WHERE person_id = $1`, [people[1]!.id]);
  });

  it('dead-letters an event that cannot be decoded and moves on', async () => {
    const key = `garbage-${env.id}`;
    const p = env.kafka.producer();
    await p.connect();
    await p.send({ topic: env.cfg.kafka.topics.personChanged, messages: [{ key, value: Buffer.from('not avro at all') }] });
    await p.disconnect();
    const [r] = await eventually(async () => (await resultsFor(key)).length > 0 && resultsFor(key), 20_000, 'undecodable result');
    expect(r).toMatchObject({ outcome: 'FAILED', error: { kind: 'TERMINAL', code: 'undecodable' } });
    const letter = await eventually(async () => (await readDeadLetters(env.kafka, 'pgtest', dlq)).letters.find((l) => l.personId === key), 20_000, 'dead letter');
    expect(Buffer.from(letter.event!, 'base64').toString()).toBe('not avro at all');
    const after = await env.addPerson({});
    await waitResults(after.id, 1);
  });

  it('log-only runs plan and publish but change nothing', async () => {
    const p = await env.addPerson({});
    await waitResults(p.id, 1);
    // The account drifts away in the target (someone removed it by hand): the plan is to create it again.
    await pool.query(`DELETE FROM ${schema}.accounts WHERE person_id = $1`, [p.id]);
    const n = (await effects(p.id)).length;
    const s = await sync(env.cfg, env.kafka, { keyField: 'idautoID', keyValue: p.id, logOnly: true });
    const planned = await eventually(async () => (await resultsFor(p.id)).find((r) => r.runId === s.runId), 20_000, 'planned result');
    expect(planned).toMatchObject({ outcome: 'PLANNED', logOnly: true });
    expect(planned.operations).toEqual([expect.objectContaining({ kind: 'create', outcome: 'PLANNED' })]);
    expect(await account(p.id)).toBeUndefined();
    expect((await effects(p.id)).length).toBe(n);
    // The same run without --log-only converges.
    await sync(env.cfg, env.kafka, { keyField: 'idautoID', keyValue: p.id });
    await eventually(async () => account(p.id), 20_000, 'account re-created');
  });

  it('explain prints what a target would do for one person, and changes nothing', async () => {
    const p = await env.addPerson({});
    await waitResults(p.id, 1);
    await pool.query(`DELETE FROM ${schema}.accounts WHERE person_id = $1`, [p.id]);
    const x = await explain(env.cfg, [pgTarget], 'username', p.username);
    expect(x.personId).toBe(p.id);
    expect(x.targets.map((t) => t.result)).toEqual([expect.objectContaining({ target: 'pgtest', outcome: 'PLANNED', entitled: true })]);
    const text = formatExplain(x);
    expect(text).toContain(`person ${p.id} (${p.username})`);
    expect(text).toMatch(/pgtest: would change \(entitled\)\n {4}entitlement: entitled: affiliation student is in student, employee\n {4}create\n {6}username: ∅ → /);
    expect(await account(p.id)).toBeUndefined();
    await expect(explain(env.cfg, [pgTarget], 'username', 'ingen-slik')).rejects.toThrow(/no person in the directory has username=ingen-slik/);
  });

  it('holds destructive operations beyond the guard, and releases them on command', async () => {
    const people: TestPerson[] = [];
    for (let i = 0; i < 4; i++) people.push(await env.addPerson({ affiliation: 'student' }));
    for (const p of people) await waitResults(p.id, 1);
    const guard = new MassChangeGuard(pool, env.cfg.runtime.stateSchema);
    // Earlier tests disabled up to two accounts in this window; start this one from a clean release.
    await guard.release('pgtest', 'test-reset');
    for (const p of people) await setAffiliation(p, 'alum');
    await eventually(async () => {
      const rs = await decoded();
      return people.every((p) => rs.filter((r) => r.personId === p.id).length >= 3);
    }, 30_000, 'results after losing entitlement');
    const last = async () => Promise.all(people.map(async (p) => (await resultsFor(p.id)).at(-1)!));
    const disabled = await Promise.all(people.map(async (p) => (await resultsFor(p.id)).some((r) => r.operations!.some((o) => o.kind === 'disable' && o.outcome === 'APPLIED'))));
    expect(disabled.filter(Boolean)).toHaveLength(2);
    expect((await last()).filter((r) => r.outcome === 'HELD')).toHaveLength(2);
    const held = (await last()).find((r) => r.outcome === 'HELD')!;
    expect(held.skipReason).toMatch(/mass-change guard.*exceed the limit of 2/);
    expect(held.operations).toEqual([expect.objectContaining({ kind: 'disable', outcome: 'HELD' })]);
    expect(await guard.state('pgtest')).toMatchObject({ tripped: true, held: 2 });
    const enabled = async () => (await Promise.all(people.map((p) => account(p.id)))).filter((a) => a.enabled).length;
    expect(await enabled()).toBe(2);
    // Release: the held people are reprocessed and their accounts disabled.
    const runId = newRunId();
    const ids = await guard.release('pgtest', runId);
    expect(ids.sort()).toEqual((await last()).filter((r) => r.outcome === 'HELD').map((r) => r.personId).sort());
    await reprocessForTarget(env.kafka, env.cfg, ids, 'pgtest', { runId, source: 'guard-release' });
    await eventually(async () => (await enabled()) === 0, 30_000, 'released disables');
    expect((await guard.state('pgtest')).tripped).toBe(false);
  });

  it('reports the seed\'s counters for a run, matching what happened', async () => {
    const fresh = [await env.addPerson({}), await env.addPerson({})];
    for (const p of fresh) await waitResults(p.id, 1);
    await env.modify(env.dn(fresh[0]!.id), 'mail', ['endret@uni.example.no']); // the next run will see nothing to do for it: the live event updates first
    await waitResults(fresh[0]!.id, 2);
    await pool.query(`DELETE FROM ${schema}.accounts WHERE person_id = $1`, [fresh[1]!.id]); // the run must re-create it
    const s = await sync(env.cfg, env.kafka, { all: true });
    const rs = await eventually(async () => {
      const r = await readRunResults(env.kafka, env.cfg.registry.url, env.cfg.kafka.topics.provisioningResult, s.runId);
      return r.length >= s.published && r;
    }, 60_000, 'run results');
    const c = countResults(rs).get('pgtest')!;
    const n = (k: string) => c[k] ?? 0;
    expect(n('total')).toBe(s.published);
    expect(n('add'), JSON.stringify(await resultsFor(fresh[1]!.id))).toBeGreaterThanOrEqual(1); // fresh[1] re-created
    expect(rs.find((r) => r.personId === fresh[1]!.id)!.operations!.map((o) => o.kind)).toEqual(['create']);
    expect(rs.find((r) => r.personId === fresh[0]!.id)!.outcome).toBe('UNCHANGED');
    const byOutcome = (o: ProvisioningResult['outcome']) => rs.filter((r) => r.outcome === o).length;
    expect(n('unchanged')).toBe(byOutcome('UNCHANGED'));
    expect(n('skipped')).toBe(byOutcome('SKIPPED'));
    expect(['add', 'update', 'enable', 'disable', 'unchanged', 'skipped', 'failed', 'held', 'addFail', 'updateFail', 'disableFail', 'enableFail'].reduce((sum, k) => sum + n(k), 0))
      .toBeGreaterThanOrEqual(n('total'));
  });
});
