/**
 * The producer against many writers at once. slapd names a change log entry by the moment its
 * operation arrived (reqStart) but writes it when the operation ends, and writes wait for one
 * another: an operation that arrived first is often logged after one that arrived later. A cookie
 * that passes such an entry before it is written loses that change.
 *
 * TILGANG_PRODUCER_CHANGES sets the size of the run with kills (`npm run test:producer-stress`
 * runs 50,000 changes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../src/lib/kafka.js';
import { AccesslogReader, cookieAfter } from '../../src/producers/changelog.js';
import { ChangelogProducer } from '../../src/producers/changelog-producer.js';
import type { Entry } from 'ldapts';
import { Collector, decodeEvents, eventually, sleep, testEnv, type TestEnv } from '../support/env.js';
import { adminClient, concurrentWriters, deleteSubtree, loggedChanges, logNow, type LoggedChange } from './writers.js';

const CHANGES = Number(process.env.TILGANG_PRODUCER_CHANGES ?? 6000);
const MIN_KILLS = Number(process.env.TILGANG_PRODUCER_MIN_KILLS ?? 3);

/** Commits a cookie for the producer named like the test, as a producer would have. */
async function commitCookie(env: TestEnv, cookie: string | undefined): Promise<void> {
  const admin = env.kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: env.cfg.kafka.topics.producerState, partitions: 1, compact: true }]);
  await admin.disconnect();
  const p = env.kafka.producer();
  await p.connect();
  await p.send({ topic: env.cfg.kafka.topics.producerState, messages: [{ key: env.id, value: JSON.stringify({ cookie, updatedAt: Date.now() }) }] });
  await p.disconnect();
}

/** Each logged change's position as often as a read_committed consumer saw it published. */
async function publishedPositions(env: TestEnv, events: Collector): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (const e of await decodeEvents(env, events.messages)) {
    if (e.changelogPosition) seen.set(e.changelogPosition, (seen.get(e.changelogPosition) ?? 0) + 1);
  }
  return seen;
}

function exactlyOnce(logged: LoggedChange[], seen: Map<string, number>) {
  const want = new Set(logged.map((l) => l.position));
  return {
    lost: logged.filter((l) => !seen.has(l.position)).map((l) => `${l.position} ${l.type} ${l.dn}`),
    twice: [...seen].filter(([, n]) => n > 1).map(([p]) => p),
    unexpected: [...seen.keys()].filter((p) => !want.has(p)),
  };
}

describe('the producer under concurrent writers', () => {
  const envs: { env: TestEnv; outside: string }[] = [];
  afterAll(async () => {
    for (const { env, outside } of envs) {
      await deleteSubtree(env.cfg, outside);
      await env.close();
    }
  });
  const setup = async (name: string) => {
    const env = await testEnv(name);
    const outside = `ou=outside-${env.id},${env.cfg.directory.suffix}`;
    envs.push({ env, outside });
    return { env, outside };
  };

  it('resumes after a cookie committed before an entry that arrived earlier but was written later, and loses it not', async () => {
    const { env, outside } = await setup('order');
    const start = await logNow(env.cfg);
    // Eight writers at once, some with large values: entries come to be written out of arrival order.
    let logged: LoggedChange[] = [];
    let late = -1;
    for (let round = 0; round < 5 && late < 0; round++) {
      await concurrentWriters(env.cfg, { base: env.peopleDn, outside, clients: 8, changes: 400, bigShare: 0.15 });
      logged = await loggedChanges(env.cfg, start, env.peopleDn);
      // An entry E such that one written after it arrived before it.
      late = logged.findIndex((e, i) => logged.slice(i + 1).some((f) => f.position < e.position));
    }
    expect(late, 'no entry was written out of arrival order: the case this test is about did not arise').toBeGreaterThanOrEqual(0);
    const cut = logged[late]!;
    const behind = logged.slice(late + 1).filter((f) => f.position < cut.position);
    expect(behind.length).toBeGreaterThan(0);

    // The cookie the producer commits once it has read the log up to E (at a moment the entries
    // behind E's name were not written yet), computed by the producer's own rule over the log.
    const c = await adminClient(env.cfg);
    const read: Entry[] = [];
    for await (const page of new AccesslogReader(c, env.cfg.directory.accesslogDn).pages(start, 100)) {
      const upTo = page.findIndex((e) => String(e.reqStart) === cut.position);
      read.push(...(upTo >= 0 ? page.slice(0, upTo + 1) : page));
      if (upTo >= 0) break;
    }
    await c.unbind();
    await commitCookie(env, cookieAfter(start, read));

    const events = await new Collector(env.kafka, env.cfg.kafka.topics.personChanged).start();
    const producer = new ChangelogProducer(env.cfg, env.kafka, { name: env.id, pollMs: 50 });
    await producer.start();
    try {
      const after = logged.slice(late + 1);
      await events.until((m) => m.length >= after.length, 30_000, 'the changes after the cookie').catch(() => {});
      await sleep(1000);
      const seen = await publishedPositions(env, events);
      expect(exactlyOnce(after, seen)).toEqual({ lost: [], twice: [], unexpected: [] });
      for (const f of behind) expect(seen.get(f.position)).toBe(1);
      expect(producer.stats.snapshots).toBe(0);
    } finally {
      await producer.stop();
      await events.stop();
    }
  }, 180_000);

  it(`${CHANGES} changes by 8 writers, the producer killed with SIGKILL at random: every logged change published exactly once`, async () => {
    const { env, outside } = await setup('writers');
    const start = await logNow(env.cfg);
    await commitCookie(env, start);
    const events = await new Collector(env.kafka, env.cfg.kafka.topics.personChanged).start();

    const children: ChildProcess[] = [];
    const startChild = async () => {
      const lines: string[] = [];
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/producer-child.ts'], {
        env: { ...process.env, TILGANG_TEST_CONFIG: JSON.stringify(env.cfg), TILGANG_TEST_PRODUCER: env.id, TILGANG_TEST_PAGE_SIZE: '200', TILGANG_LOG_LEVEL: 'error' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
      await eventually(async () => lines.includes('started'), 60_000, 'producer child to start');
      return { child, lines };
    };

    let writing = true;
    let kills = 0;
    const writers = concurrentWriters(env.cfg, { base: env.peopleDn, outside, clients: 8, changes: CHANGES, bigShare: 0.05, bigBytes: 100_000 })
      .finally(() => { writing = false; });
    // Kill the producer at random moments while the writers write (and after, until enough kills).
    let current = await startChild();
    while (writing || kills < MIN_KILLS) {
      await eventually(async () => current.lines.includes('in-transaction') || !writing, 60_000, 'a transaction');
      await sleep(200 + Math.random() * 1500);
      current.child.kill('SIGKILL');
      await new Promise((r) => (current.child.exitCode !== null || current.child.signalCode ? r(null) : current.child.once('exit', r)));
      kills++;
      current = await startChild();
    }
    const counts = await writers;
    try {
      const logged = await loggedChanges(env.cfg, start, env.peopleDn);
      // Waits for as many events as changes, but compares anyway when they do not come: the lost ones are named.
      await events.until((m) => m.length >= logged.length, 60_000, 'an event for every logged change').catch(() => {});
      await sleep(2000);
      const seen = await publishedPositions(env, events);
      const result = exactlyOnce(logged, seen);
      console.log(`concurrent writers: ${Object.values(counts).reduce((a, b) => a + b, 0)} changes (${JSON.stringify(counts)}), `
        + `${logged.length} logged under the watched base, ${[...seen.values()].reduce((a, b) => a + b, 0)} published, ${kills} kills; `
        + `lost ${result.lost.length}, twice ${result.twice.length}, unexpected ${result.unexpected.length}`);
      expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
      expect(result).toEqual({ lost: [], twice: [], unexpected: [] });
    } finally {
      for (const c of children) c.kill('SIGKILL');
      await events.stop();
    }
  }, Math.max(300_000, CHANGES * 60));
});
