/**
 * The behaviours every target must have, run through the real runtime (producer → target group →
 * results) against the target's system (its simulator or a real server). A target passes when
 * `conformance(subject)` passes in a test file of its own:
 *
 *   create when entitled (and nothing when not); update each mapped attribute; disable on lost
 *   entitlement and enable when regained, never delete; a duplicate is a terminal error naming the
 *   accounts; a transient failure is retried and applied once; log-only changes nothing; a replay
 *   of the same events changes nothing more; no secret or sensitive value in any result, event, dead
 *   letter or log line. A target with the optional `listManaged` capability lists its accounts
 *   with their person and state, and the orphan check disables one whose person is gone.
 *
 * The subject's configuration must entitle the affiliation `student` and not `alum`.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvedSecrets } from '../../src/config.js';
import { log } from '../../src/lib/log.js';
import { newRunId, PersonEventPublisher, runEvent } from '../../src/producers/publisher.js';
import type { PersonChanged, ProvisioningResult } from '../../src/schemas/generated.js';
import type { AnyTarget, ManagedAccount } from '../../src/spi/index.js';
import { orphans } from '../../src/consumers/orphans.js';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { collect, decodeEvents, testEnv, type TestEnv, type TestPerson } from './env.js';
import { startPipeline, type Pipeline } from './pipeline.js';

/** An account as the kit compares it: enabled or not, and the mapped values by the directory attribute they come from. */
export interface AccountView {
  enabled: boolean;
  attributes: Record<string, string | null | undefined>;
}

/** The directory attributes of a person before it is added (what `plantDuplicate` and `failTransiently` see). */
export type PersonSpec = Pick<TestPerson, 'id' | 'username' | 'mail'>;

export interface SystemUnderTest {
  /** The target's configuration block (`targets.<name>`); entitles `student`, not `alum`. */
  config: Record<string, unknown>;
  /** The person's account, or null. */
  account(p: PersonSpec): Promise<AccountView | null>;
  /** Accounts in the system that are the person's by any key the target matches on. */
  count(p: PersonSpec): Promise<number>;
  /** Writes the system has accepted so far (creates, updates, enables, disables...). */
  writes(): Promise<number>;
  /** Makes, outside tilgang, two accounts that both match the person; returns the names the error must give. */
  plantDuplicate(p: PersonSpec): Promise<string[]>;
  /** The system's next `times` writes for the person fail transiently (a reset, a 503). */
  failTransiently(p: PersonSpec, times: number): Promise<void>;
  /** Directory attributes the target maps, each with a new value to give it. */
  mapped: { attribute: string; value(p: TestPerson): string }[];
  /** Extra directory attributes every person gets (values the mapping reads). */
  extra?: (n: number) => Record<string, string[]>;
  /** Values never to appear in a result or a log line (tokens, passwords), beside the national id. */
  secrets: string[];
  stop(): Promise<void>;
}

export interface ConformanceSubject {
  target: AnyTarget;
  start(env: TestEnv): Promise<SystemUnderTest>;
}

const NATIONAL_ID = '01810012345'; // what the test environment gives every person

/**
 * Every line the process logs from now on, at every level down to debug (a secret logged at a
 * level a test run does not print would still be logged in production). Lines at the level the
 * process prints still go where they went.
 */
export function captureLogs(): { lines: string[]; stop(): void } {
  const lines: string[] = [];
  const root = log as unknown as Record<symbol, unknown>;
  const sym = pino.symbols.streamSym as unknown as symbol;
  const original = root[sym] as { write(s: string): void };
  const printed = log.levelVal;
  const level = log.level;
  log.level = 'debug';
  root[sym] = {
    write: (s: string) => {
      lines.push(s);
      if ((JSON.parse(s) as { level: number }).level >= printed) original.write(s);
    },
  };
  return { lines, stop: () => { root[sym] = original; log.level = level; } };
}

function directoryValue(p: TestPerson, attribute: string): string | undefined {
  const own: Record<string, string> = { givenName: p.givenName, sn: p.sn, mail: p.mail, idautoPersonUserNameMV: p.username };
  return own[attribute] ?? p.extra[attribute]?.[0];
}

export function conformance(subject: ConformanceSubject): void {
  const name = subject.target.name;
  describe(`target ${name} conforms to the contract`, () => {
    let env: TestEnv;
    let sys: SystemUnderTest;
    let pipe: Pipeline;
    let logs: ReturnType<typeof captureLogs>;
    let entitled: TestPerson;
    let duplicate: TestPerson;
    let n = 0;

    beforeAll(async () => {
      env = await testEnv(`conf-${name}`, (cfg) => {
        cfg.runtime.maxRetries = 3;
        cfg.runtime.retryBaseMs = 20;
      });
      logs = captureLogs();
      sys = await subject.start(env);
      env.cfg.targets = { [name]: sys.config };
      pipe = await startPipeline(env, subject.target, { topics: { dlq: `test.${env.id}.${name}.dlq` } });
    }, 180_000);

    afterAll(async () => {
      logs?.stop();
      await pipe?.stop().catch(() => {});
      await sys?.stop();
      await env?.close();
    });

    const spec = (): PersonSpec & { extra: Record<string, string[]> } => {
      n++;
      const id = crypto.randomUUID();
      return { id, username: `c${id.slice(0, 8)}`, mail: `c${id.slice(0, 8)}@uni.example.no`, extra: sys.extra?.(n) ?? {} };
    };
    const add = async (affiliation: string, s = spec()) => env.addPerson({ ...s, affiliation });
    const results = (p: { id: string }) => pipe.resultsFor(p.id);
    const nextResult = async (p: { id: string }, before: number) => (await pipe.waitResults(p.id, before + 1)).at(-1)!;
    const kinds = (r: ProvisioningResult) => (r.operations ?? []).map((o) => o.kind);
    const setAffiliation = async (p: TestPerson, a: string) => {
      await env.modify(env.dn(p.id), 'idautoPersonAffiliations', [a]);
      await env.modify(env.dn(p.id), 'idautoPersonAffiliation', [a]);
    };

    it('creates the account of an entitled person with the mapped values, and none for one who is not entitled', async () => {
      const w0 = await sys.writes();
      entitled = await add('student');
      const r = await nextResult(entitled, 0);
      expect(r).toMatchObject({ outcome: 'APPLIED', entitled: true, target: name });
      expect(kinds(r)).toEqual(['create']);
      const a = await sys.account(entitled);
      expect(a?.enabled).toBe(true);
      for (const m of sys.mapped) expect(a!.attributes[m.attribute], m.attribute).toBe(directoryValue(entitled, m.attribute));
      expect(await sys.count(entitled)).toBe(1);
      expect(await sys.writes()).toBeGreaterThan(w0);

      const outsider = await add('alum');
      const o = await nextResult(outsider, 0);
      expect(o).toMatchObject({ entitled: false, operations: [] });
      expect(['SKIPPED', 'UNCHANGED']).toContain(o.outcome);
      expect(await sys.count(outsider)).toBe(0);
    });

    it('updates each mapped attribute, one change at a time', async () => {
      expect(sys.mapped.length).toBeGreaterThan(0);
      for (const m of sys.mapped) {
        const value = m.value(entitled);
        const before = (await results(entitled)).length;
        await env.modify(env.dn(entitled.id), m.attribute, [value]);
        const r = await nextResult(entitled, before);
        expect(r.outcome, m.attribute).toBe('APPLIED');
        expect(kinds(r), m.attribute).toEqual(['update']);
        expect((await sys.account(entitled))!.attributes[m.attribute], m.attribute).toBe(value);
      }
      expect(await sys.count(entitled)).toBe(1);
    });

    it('disables on lost entitlement and enables when it is regained; never deletes', async () => {
      // Two modifies, two events, two results; level-triggered, either may be the one that acts
      // (or the runtime does both in one, and the other's result says so).
      const b0 = (await results(entitled)).length;
      await setAffiliation(entitled, 'alum');
      const lost = (await pipe.waitResults(entitled.id, b0 + 2)).slice(b0);
      expect(lost.flatMap(kinds)).toEqual(['disable']);
      for (const r of lost) expect(kinds(r).length > 0 || r.outcome === 'UNCHANGED' || !!r.coalescedInto, JSON.stringify(r)).toBe(true);
      expect((await sys.account(entitled))?.enabled).toBe(false);
      expect(await sys.count(entitled)).toBe(1);

      await setAffiliation(entitled, 'student');
      const regained = (await pipe.waitResults(entitled.id, b0 + 4)).slice(b0 + 2);
      expect(regained.flatMap(kinds)).toEqual(['enable']);
      expect((await sys.account(entitled))?.enabled).toBe(true);
      expect(await sys.count(entitled)).toBe(1);
      for (const m of sys.mapped) expect((await sys.account(entitled))!.attributes[m.attribute]).toBe(m.value(entitled));
    });

    it.skipIf(!subject.target.listManaged)('lists the accounts it manages (optional capability): the orphan check finds one whose person is gone and disables it, never deletes', async () => {
      const p = await add('student');
      expect(kinds(await nextResult(p, 0))).toEqual(['create']);
      const listed = async () => {
        const ctx = { config: TargetGroup.targetConfig(env.cfg, subject.target), global: env.cfg, log };
        const c = await subject.target.connect(ctx);
        try {
          const all: ManagedAccount[] = [];
          for await (const page of subject.target.listManaged!(c, ctx)) all.push(...page);
          return all.filter((a) => a.key.toLowerCase() === p.id.toLowerCase());
        } finally {
          await subject.target.close?.(c);
        }
      };
      expect(await listed()).toEqual([expect.objectContaining({ key: p.id, enabled: true })]);
      // Gone from the directory: an orphan, disabled through the plan and the guard.
      await env.admin.del(env.dn(p.id));
      const found = await orphans(env.cfg, undefined, subject.target);
      expect(found.orphans.filter((o) => o.account.key === p.id)).toEqual([expect.objectContaining({ gone: true, reason: `person ${p.id} is not in the directory` })]);
      const applied = await orphans(env.cfg, undefined, subject.target, { apply: true });
      expect(applied.results!.find((r) => r.personId === p.id)).toMatchObject({ outcome: 'APPLIED', entitled: false });
      expect((await sys.account(p))?.enabled).toBe(false);
      expect(await sys.count(p)).toBe(1);
      expect(await listed()).toEqual([expect.objectContaining({ key: p.id, enabled: false })]);
    });

    it('a duplicate is a terminal error naming the accounts, and nothing is written', async () => {
      const s = spec();
      const names = await sys.plantDuplicate(s);
      expect(names.length).toBeGreaterThanOrEqual(2);
      const w0 = await sys.writes();
      duplicate = await add('student', s);
      const r = await nextResult(duplicate, 0);
      expect(r.outcome).toBe('FAILED');
      expect(r.error?.kind).toBe('TERMINAL');
      for (const nm of names) expect(r.error?.message).toContain(nm);
      expect(await sys.writes()).toBe(w0);
    });

    it('a transient failure is retried and applied once', async () => {
      const s = spec();
      await sys.failTransiently(s, 1);
      const w0 = await sys.writes();
      const l0 = logs.lines.length;
      const p = await add('student', s);
      const r = await nextResult(p, 0);
      expect(r.outcome).toBe('APPLIED');
      expect(kinds(r)).toEqual(['create']);
      expect(await results(p)).toHaveLength(1);
      expect(await sys.count(p)).toBe(1);
      expect(await sys.writes()).toBe(w0 + 1);
      expect((await sys.account(p))?.enabled).toBe(true);
      // It did fail first: the runtime retried.
      expect(logs.lines.slice(l0).some((l) => l.includes('"msg":"transient failure: retrying"'))).toBe(true);
    });

    it('log-only plans and publishes but changes nothing; the same event live applies the plan', async () => {
      // No producer from here on: the directory changes, and only the events this test sends arrive.
      await pipe.producer.stop();
      const m = sys.mapped[0]!;
      const value = `${m.value(entitled)}x`;
      await env.modify(env.dn(entitled.id), m.attribute, [value]);
      const pub = new PersonEventPublisher(env.kafka, env.cfg, `test.conf.${env.id}`);
      await pub.connect();
      try {
        const w0 = await sys.writes();
        const before = (await results(entitled)).length;
        await pub.send([runEvent(entitled.id, { runId: newRunId(), mode: 'REPROCESS', logOnly: true, targets: null, source: 'test' })]);
        const planned = await nextResult(entitled, before);
        expect(planned).toMatchObject({ outcome: 'PLANNED', logOnly: true });
        expect(kinds(planned)).toEqual(['update']);
        expect(planned.operations!.every((o) => o.outcome === 'PLANNED')).toBe(true);
        expect(await sys.writes()).toBe(w0);
        expect((await sys.account(entitled))!.attributes[m.attribute]).toBe(m.value(entitled));

        await pub.send([runEvent(entitled.id, { runId: newRunId(), mode: 'REPROCESS', logOnly: false, targets: null, source: 'test' })]);
        const applied = await nextResult(entitled, before + 1);
        expect(applied.outcome).toBe('APPLIED');
        expect((await sys.account(entitled))!.attributes[m.attribute]).toBe(value);
      } finally {
        await pub.disconnect();
      }
    });

    it('a replay of the same events changes nothing more', async () => {
      const seen = await decodeEvents(env, pipe.events.messages);
      const events: PersonChanged[] = [...new Map(seen.map((e) => [e.eventId, e])).values()];
      expect(events.length).toBeGreaterThanOrEqual(8);
      const byPerson = new Map<string, number>();
      for (const e of events) byPerson.set(e.personId, (await results({ id: e.personId })).length);
      const w0 = await sys.writes();
      const accounts0 = await Promise.all([...byPerson.keys()].map((id) => sys.account({ id, username: '', mail: '' })));
      const pub = new PersonEventPublisher(env.kafka, env.cfg, `test.conf.replay.${env.id}`);
      await pub.connect();
      try {
        await pub.send(events);
      } finally {
        await pub.disconnect();
      }
      const replayed: ProvisioningResult[] = [];
      for (const [id, before] of byPerson) {
        const n = events.filter((e) => e.personId === id).length;
        replayed.push(...(await pipe.waitResults(id, before + n, 'replayed results')).slice(before));
      }
      expect(replayed).toHaveLength(events.length);
      for (const r of replayed) {
        expect(['UNCHANGED', 'SKIPPED', 'FAILED'], `${r.personId}: ${r.outcome}`).toContain(r.outcome);
        if (r.outcome === 'FAILED') expect(r.personId).toBe(duplicate.id);
      }
      expect(await sys.writes()).toBe(w0);
      expect(await Promise.all([...byPerson.keys()].map((id) => sys.account({ id, username: '', mail: '' })))).toEqual(accounts0);
    });

    it('no secret or sensitive value in any result, event, dead letter or log line', async () => {
      // The duplicate's dead letter is there (the kit made one); its bytes are read as text.
      const dead = await collect(env.kafka, `test.${env.id}.${name}.dlq`, (m) => m.length > 0, 10_000);
      expect(dead.length).toBeGreaterThan(0);
      const all = [
        JSON.stringify(await pipe.decoded()), JSON.stringify(await decodeEvents(env, pipe.events.messages)),
        ...dead.map((m) => m.value?.toString('utf8') ?? ''), ...logs.lines,
      ].join('\n');
      // The kit sees the runtime's and the target's lines, debug included.
      expect(logs.lines.length).toBeGreaterThan(0);
      expect(logs.lines.some((l) => l.includes(`"target":"${name}"`))).toBe(true);
      expect(all).toContain(entitled.id);
      const forbidden = [NATIONAL_ID, ...sys.secrets, ...resolvedSecrets()].filter((s) => s.length >= 4);
      expect(forbidden.length).toBeGreaterThan(1);
      for (const s of forbidden) expect(all.includes(s), 'a secret or sensitive value was published or logged').toBe(false);
    });
  });
}
