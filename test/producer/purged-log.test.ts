import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ChangelogProducer } from '../../src/producers/changelog-producer.js';
import { PEOPLE_DN } from '../../src/stack/ldap.js';
import { Collector, decodeEvents, eventually, testEnv, type TestEnv } from '../support/env.js';
import { privateDirectory } from './private-directory.js';

describe('a change log purged while the producer was down', () => {
  let env: TestEnv;
  let dir: Awaited<ReturnType<typeof privateDirectory>> | undefined;
  afterAll(async () => {
    await dir?.stop();
    await env?.close();
  });

  it('purged to nothing after changes the producer never saw: a full snapshot; purged with nothing missed: none', async () => {
    env = await testEnv('purge');
    // The directory's own purge, in seconds instead of days.
    dir = await privateDirectory(env.cfg, { ageSeconds: 2, everySeconds: 1 });
    const { cfg, admin } = dir;
    const add = async () => {
      const id = randomUUID();
      await admin.add(`idautoID=${id},${PEOPLE_DN}`, { objectClass: ['idautoPerson'], idautoID: id, cn: 'Purge Test', sn: 'Test' });
      return id;
    };
    const logSize = async () => (await admin.search(cfg.directory.accesslogDn, { scope: 'one', filter: '(objectClass=auditWriteObject)', attributes: ['1.1'] })).searchEntries.length;
    const events = await new Collector(env.kafka, cfg.kafka.topics.personChanged).start();
    const decoded = async () => decodeEvents(env, events.messages);
    const run = async () => {
      const p = new ChangelogProducer(cfg, env.kafka, { name: env.id, pollMs: 50 });
      await p.start();
      await eventually(async () => p.stats.healthy, 30_000, 'the producer to follow the log');
      return p;
    };
    try {
      const a = await add();
      let p = await run(); // no cookie: a first snapshot
      expect(p.stats.snapshots).toBe(1);
      const b = await add();
      await events.until((m) => m.some((x) => x.key?.toString() === b), 20_000, 'the change after the snapshot');
      await p.stop();

      // While the producer is down a person is added, and the log is purged to nothing.
      const c = await add();
      await eventually(async () => (await logSize()) === 0, 30_000, 'the change log to be purged');
      p = await run();
      expect(p.stats.snapshots).toBe(1);
      // The snapshot's events lie on several partitions: the collector may see c's before the others'.
      await events.until((m) => m.some((x) => x.key?.toString() === c), 20_000, 'the snapshot after the purge');
      const secondRun = async () => {
        const snapshots = (await decoded()).filter((e) => e.changeType === 'SNAPSHOT');
        const runs = [...new Set(snapshots.map((e) => e.runId))];
        return { runs, people: snapshots.filter((e) => e.runId === runs[1]).map((e) => e.personId).sort() };
      };
      await eventually(async () => (await secondRun()).people.length >= 3, 20_000, 'the whole snapshot after the purge');
      const { runs, people } = await secondRun();
      expect(runs).toHaveLength(2);
      expect(people).toEqual([a, b, c].sort());
      await p.stop();

      // Purged again, but nothing was written since the cookie: nothing is missing, no snapshot.
      expect(await logSize()).toBe(0);
      p = await run();
      expect(p.stats.snapshots).toBe(0);
      const d = await add();
      await events.until((m) => m.some((x) => x.key?.toString() === d), 20_000, 'the next change');
      expect((await decoded()).filter((e) => e.personId === d).map((e) => e.changeType)).toEqual(['ADD']);
      await p.stop();
    } finally {
      await events.stop();
    }
  }, 180_000);
});
