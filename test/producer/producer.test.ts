import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Directory } from '../../src/directory/client.js';
import { ChangelogProducer } from '../../src/producers/changelog-producer.js';
import { Collector, decodeEvents, sleep, testEnv, type TestEnv } from '../support/env.js';
import { readSecret } from '../../src/config.js';
import { Attribute, Change, Client } from 'ldapts';

describe('changelog producer against OpenLDAP accesslog and Kafka', () => {
  let env: TestEnv;
  let producer: ChangelogProducer;
  let events: Collector;

  beforeAll(async () => {
    env = await testEnv('producer');
    producer = new ChangelogProducer(env.cfg, env.kafka, { name: env.id, pollMs: 50 });
    await producer.start();
    events = await new Collector(env.kafka, env.cfg.kafka.topics.personChanged).start();
    // No cookie yet: the producer starts with a snapshot (of this empty subtree) and then follows the log.
    await sleep(1500);
  });

  afterAll(async () => {
    await events?.stop();
    await producer?.stop();
    await env?.close();
  });

  const decoded = async () => decodeEvents(env, events.messages);

  it('publishes one event per kind of change, keyed by idautoID, without sensitive data', async () => {
    const p = await env.addPerson({});
    await env.modify(env.dn(p.id), 'mail', ['ny.adresse@uni.example.no']);
    await env.modify(env.dn(p.id), 'idautoPersonNationalID', ['01810054321']);
    await env.admin.modifyDN(env.dn(p.id), `idautoID=${p.id},ou=staff,${env.peopleDn}`).catch(async () => {
      await env.admin.add(`ou=staff,${env.peopleDn}`, { objectClass: 'organizationalUnit', ou: 'staff' });
      await env.admin.modifyDN(env.dn(p.id), `idautoID=${p.id},ou=staff,${env.peopleDn}`);
    });
    await env.admin.del(`idautoID=${p.id},ou=staff,${env.peopleDn}`);
    await events.until((m) => m.filter((x) => x.key?.toString() === p.id).length >= 5, 20_000, 'five events');
    const mine = (await decoded()).filter((e) => e.personId === p.id);
    expect(mine.map((e) => e.changeType)).toEqual(['ADD', 'MODIFY', 'MODIFY', 'MODRDN', 'DELETE']);
    expect(mine[1]!.changedAttributes).toEqual(['mail']);
    expect(mine[2]!.changedAttributes).toEqual([]); // only the national id changed: named nowhere
    expect(mine[3]).toMatchObject({ oldDn: env.dn(p.id), newDn: `idautoID=${p.id},ou=staff,${env.peopleDn}` });
    expect(mine[4]).toMatchObject({ newDn: null, oldDn: `idautoID=${p.id},ou=staff,${env.peopleDn}` });
    for (const e of mine) {
      expect(e.mode).toBe('LIVE');
      expect(e.changelogPosition).toMatch(/^\d{14}\.\d{6}Z$/);
      expect(e.changeTime).toBeGreaterThan(Date.now() - 120_000);
    }
    const raw = events.messages.filter((x) => x.key?.toString() === p.id).map((m) => m.value!.toString('latin1')).join();
    expect(raw).not.toContain('01810054321');
    expect(raw).not.toContain('01810012345');
    // Cookies strictly increase: the order of the log is the order of the topic.
    const cookies = mine.map((e) => e.changelogPosition!);
    expect([...cookies].sort()).toEqual(cookies);
  });

  it('does not republish the status writes of its own service account', async () => {
    const p = await env.addPerson({});
    const tilgang = new Client({ url: env.cfg.directory.url });
    await tilgang.bind(env.cfg.directory.bindDn, readSecret(env.cfg.directory.password, 'pw'));
    await tilgang.modify(env.dn(p.id), new Change({ operation: 'replace', modification: new Attribute({ type: 'tilgangTargetStatus', values: ['moodle|2026-01-01T00:00:00Z|provisioned|'] }) }));
    await tilgang.unbind();
    await env.modify(env.dn(p.id), 'sn', ['Etter-Status']);
    await events.until((m) => m.filter((x) => x.key?.toString() === p.id).length >= 2, 20_000);
    await sleep(500);
    const mine = (await decoded()).filter((e) => e.personId === p.id);
    expect(mine.map((e) => [e.changeType, e.changedAttributes])).toEqual([['ADD', expect.any(Array)], ['MODIFY', ['sn']]]);
    expect(producer.stats.skipped['own-write']).toBeGreaterThanOrEqual(1);
  });

  it('skips entries that are not persons and counts them', async () => {
    const before = producer.stats.skipped['not-a-person'];
    await env.admin.add(`ou=not-people,${env.peopleDn}`, { objectClass: 'organizationalUnit', ou: 'not-people' });
    const p = await env.addPerson({});
    await events.until((m) => m.some((x) => x.key?.toString() === p.id));
    expect(producer.stats.skipped['not-a-person']).toBeGreaterThan(before);
    expect((await decoded()).some((e) => e.newDn?.startsWith('ou=not-people'))).toBe(false);
  });

  it('judges a move by where the person ends up: into the tree an ADD, within it a MODRDN, out of it a DELETE', async () => {
    const outside = `ou=outside-${env.id},${env.cfg.directory.suffix}`;
    await env.admin.add(outside, { objectClass: 'organizationalUnit', ou: `outside-${env.id}` });
    const inside = `ou=moved,${env.peopleDn}`;
    await env.admin.add(inside, { objectClass: 'organizationalUnit', ou: 'moved' });
    const id = randomUUID();
    try {
      // Added elsewhere (no event), then moved into the people tree, within it, and out again.
      await env.admin.add(`idautoID=${id},${outside}`, { objectClass: ['idautoPerson'], idautoID: id, cn: 'Moved Person', sn: 'Person' });
      await env.admin.modifyDN(`idautoID=${id},${outside}`, env.dn(id));
      await env.admin.modifyDN(env.dn(id), `idautoID=${id},${inside}`);
      await env.admin.modifyDN(`idautoID=${id},${inside}`, `idautoID=${id},${outside}`);
      await env.modify(`idautoID=${id},${outside}`, 'sn', ['Elsewhere']); // outside again: no event
      await events.until((m) => m.filter((x) => x.key?.toString() === id).length >= 3, 20_000, 'three events');
      await sleep(500);
      const mine = (await decoded()).filter((e) => e.personId === id);
      expect(mine.map((e) => [e.changeType, e.oldDn, e.newDn])).toEqual([
        ['ADD', `idautoID=${id},${outside}`, env.dn(id)],
        ['MODRDN', env.dn(id), `idautoID=${id},${inside}`],
        ['DELETE', `idautoID=${id},${inside}`, `idautoID=${id},${outside}`],
      ]);
    } finally {
      await env.admin.del(`idautoID=${id},${outside}`).catch(() => {});
      await env.admin.del(outside).catch(() => {});
    }
  });

  it('resumes exactly after its cookie when restarted', async () => {
    await producer.stop();
    const a = await env.addPerson({});
    const b = await env.addPerson({});
    producer = new ChangelogProducer(env.cfg, env.kafka, { name: env.id, pollMs: 50 });
    await producer.start();
    const c = await env.addPerson({});
    await events.until((m) => m.some((x) => x.key?.toString() === c.id), 20_000);
    await sleep(500);
    const all = await decoded();
    for (const p of [a, b, c]) expect(all.filter((e) => e.personId === p.id && e.changeType === 'ADD')).toHaveLength(1);
    // No snapshot on a clean restart: the cookie was found in the log.
    expect(all.filter((e) => e.changeType === 'SNAPSHOT')).toHaveLength(0);
    const cookies = all.filter((e) => e.changelogPosition).map((e) => e.changelogPosition);
    expect(new Set(cookies).size).toBe(cookies.length);
  });

  it('reads its people through the service account only', async () => {
    const d = await Directory.connect(env.cfg);
    expect(d.bindDn).toBe(env.cfg.directory.bindDn);
    await d.close();
  });
});
