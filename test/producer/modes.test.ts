import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangelogProducer } from '../../src/producers/changelog-producer.js';
import { sync } from '../../src/producers/sync.js';
import { ensureTopics } from '../../src/lib/kafka.js';
import { Collector, decodeEvents, sleep, testEnv, type TestEnv, type TestPerson } from '../support/env.js';

describe('gap in the change log', () => {
  let env: TestEnv;
  afterAll(async () => env?.close());

  it('takes a full snapshot when the cookie is older than the oldest entry left in the log', async () => {
    env = await testEnv('gap');
    const people = [await env.addPerson({}), await env.addPerson({}), await env.addPerson({})];
    // A cookie from long ago, as if tilgang had been down while the log was purged.
    const admin = env.kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic: env.cfg.kafka.topics.producerState, partitions: 1, compact: true }]);
    await admin.disconnect();
    const p = env.kafka.producer();
    await p.connect();
    await p.send({ topic: env.cfg.kafka.topics.producerState, messages: [{ key: env.id, value: JSON.stringify({ cookie: '20000101000000.000000Z#000000#000#000000', updatedAt: 0 }) }] });
    await p.disconnect();

    const events = await new Collector(env.kafka, env.cfg.kafka.topics.personChanged).start();
    const producer = new ChangelogProducer(env.cfg, env.kafka, { name: env.id, pollMs: 50 });
    await producer.start();
    try {
      await events.until((m) => m.length >= 3, 20_000, 'snapshot events');
      const later = await env.addPerson({});
      await events.until((m) => m.some((x) => x.key?.toString() === later.id), 20_000, 'the change after the snapshot');
      const all = await decodeEvents(env, events.messages);
      const snap = all.filter((e) => e.changeType === 'SNAPSHOT');
      expect(snap.map((e) => e.personId).sort()).toEqual(people.map((x) => x.id).sort());
      expect(new Set(snap.map((e) => e.runId)).size).toBe(1);
      expect(snap[0]).toMatchObject({ mode: 'SNAPSHOT', source: 'accesslog-gap' });
      expect(producer.stats.snapshots).toBe(1);
      // The old cookie's changes are not replayed from the log: no ADD for the people of the snapshot.
      expect(all.filter((e) => e.changeType === 'ADD').map((e) => e.personId)).toEqual([later.id]);
    } finally {
      await producer.stop();
      await events.stop();
    }
  });
});

describe('run modes (tilgang sync)', () => {
  let env: TestEnv;
  let people: TestPerson[];
  let events: Collector;
  beforeAll(async () => {
    env = await testEnv('sync');
    people = [];
    for (let i = 0; i < 5; i++) people.push(await env.addPerson({ extra: { idautoPersonUHUserName: [`uh${i}x${env.id.slice(-4)}`] } }));
    events = await new Collector(env.kafka, env.cfg.kafka.topics.personChanged).start();
  });
  afterAll(async () => {
    await events?.stop();
    await env?.close();
  });
  const run = async (runId: string) => (await decodeEvents(env, events.messages)).filter((e) => e.runId === runId);

  it('one person by username, by uh-username and by idautoID', async () => {
    for (const [keyField, keyValue] of [['username', people[0]!.username], ['uh-username', `uh1x${env.id.slice(-4)}`], ['idautoID', people[2]!.id]] as const) {
      const s = await sync(env.cfg, env.kafka, { keyField, keyValue });
      expect(s).toMatchObject({ mode: 'REPROCESS', published: 1 });
      await events.until((m) => m.some((x) => x.value!.includes(s.runId)));
      const [e] = await run(s.runId);
      expect(e).toMatchObject({ changeType: 'REPROCESS', mode: 'REPROCESS', logOnly: false, targets: null, source: 'cli' });
    }
    const ids = (await decodeEvents(env, events.messages)).map((e) => e.personId);
    expect(ids).toEqual(expect.arrayContaining([people[0]!.id, people[1]!.id, people[2]!.id]));
  });

  it('an unknown person is a clear error', async () => {
    await expect(sync(env.cfg, env.kafka, { keyField: 'username', keyValue: 'nobody999' })).rejects.toThrow(/no person in the directory has username=nobody999/);
  });

  it('two people with one username is a duplicate error naming both entries', async () => {
    const twin = await env.addPerson({ username: people[3]!.username });
    await expect(sync(env.cfg, env.kafka, { keyField: 'username', keyValue: people[3]!.username })).rejects.toThrow(new RegExp(`2 people have username=.*duplicate.*${twin.id}`));
  });

  it('--all publishes a snapshot of everyone under one run id, --limit caps it, --log-only and --target ride along', async () => {
    const all = await sync(env.cfg, env.kafka, { all: true });
    expect(all.mode).toBe('SNAPSHOT');
    expect(all.published).toBe(6); // five people and the username twin
    const limited = await sync(env.cfg, env.kafka, { all: true, limit: 2, logOnly: true, targets: ['moodle'] });
    expect(limited.published).toBe(2);
    await events.until((m) => m.filter((x) => x.value!.includes(limited.runId)).length >= 2);
    await sleep(300);
    const a = await run(all.runId);
    expect(a).toHaveLength(6);
    expect(a.every((e) => e.changeType === 'SNAPSHOT' && !e.logOnly)).toBe(true);
    const l = await run(limited.runId);
    expect(l).toHaveLength(2);
    expect(l.every((e) => e.logOnly && JSON.stringify(e.targets) === '["moodle"]')).toBe(true);
  });

  it('--persons-file publishes the listed people and reports the unknown ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tilgang-'));
    const file = join(dir, 'persons.txt');
    writeFileSync(file, `# people to reprocess\n${people[1]!.id}\n${people[4]!.id}\n00000000-0000-0000-0000-000000000000\n`);
    const s = await sync(env.cfg, env.kafka, { personsFile: file });
    expect(s.published).toBe(2);
    expect(s.unknown).toEqual(['00000000-0000-0000-0000-000000000000']);
    await events.until((m) => m.filter((x) => x.value!.includes(s.runId)).length >= 2);
    expect((await run(s.runId)).map((e) => e.personId).sort()).toEqual([people[1]!.id, people[4]!.id].sort());
  });
});
