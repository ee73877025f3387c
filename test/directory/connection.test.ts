import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { Directory, DirectoryUnavailableError } from '../../src/directory/client.js';
import { migrate } from '../../src/mv/migrate.js';
import { MvReader, MvUnavailableError } from '../../src/mv/person.js';
import { eventually, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { CuttableProxy } from '../support/proxy.js';

// The directory and MV taken away through a proxy and given back, while idle, in the middle of a
// read, and as a network that goes silent: every call returns (an answer or an error the runtime
// retries), health follows the cut, and afterwards the same reads answer as before.
const TIMEOUT_MS = 2_000;

describe('directory connection cut and restored', () => {
  let env: TestEnv;
  let proxy: CuttableProxy;
  let dir: Directory;
  let people: TestPerson[];

  beforeAll(async () => {
    env = await testEnv('dir-cut');
    people = [await env.addPerson({}), await env.addPerson({})];
    proxy = new CuttableProxy(Number(new URL(env.cfg.directory.url).port));
    await proxy.open();
    const cfg = structuredClone(env.cfg);
    cfg.directory.url = proxy.via(env.cfg.directory.url);
    cfg.directory.timeoutMs = TIMEOUT_MS;
    dir = await Directory.connect(cfg, { probeMs: 100 });
  });

  afterEach(async () => {
    // Each test leaves the proxy open and the directory answering.
    if (!proxy['server']) await proxy.open(proxy.port);
    proxy.resume();
    await eventually(async () => dir.health.ready, 10_000, 'directory ready');
  });

  afterAll(async () => {
    await dir?.close();
    await proxy?.cut();
    await env?.close();
  });

  const readsBack = () => readsBackWith(dir);
  const readsBackWith = async (dir: Directory) => {
    const p = await dir.person(people[0]!.id);
    expect(p?.attrs.idautoPersonUserNameMV).toEqual([people[0]!.username]);
    const many = await dir.readMany(people.map((x) => x.id));
    expect([...many.keys()].sort()).toEqual(people.map((x) => x.id).sort());
  };

  it('while idle: health goes down, reads fail at once as unavailable, and after the restore they bind again and answer', async () => {
    await readsBack();
    expect(dir.health.ready).toBe(true);
    await proxy.cut();
    await eventually(async () => !dir.health.ready, 10_000, 'directory marked down by the probe');
    expect(dir.health.lastError).toMatch(/directory/);
    const during = await dir.person(people[0]!.id).then(() => 'answered', (e) => e);
    expect(during).toBeInstanceOf(DirectoryUnavailableError);
    expect((during as DirectoryUnavailableError).code).toBe('ECONNRESET');
    expect(dir.health.ready).toBe(false);
    await proxy.open(proxy.port);
    await eventually(async () => dir.health.ready, 10_000, 'directory back up');
    // Bound again: an anonymous connection would fail these with noSuchObject (0x20).
    expect(dir.client.isBound).toBe(true);
    await readsBack();
  });

  it('a read in flight when the connection is cut returns an error, not never; the next read answers', async () => {
    await readsBack();
    proxy.stall();
    const inFlight = dir.person(people[1]!.id).then(() => 'answered', (e) => e);
    await eventually(async () => proxy.heldBytes > 0, 5_000, 'the search to be on its way');
    await proxy.cut();
    const outcome = await inFlight;
    expect(outcome).toBeInstanceOf(DirectoryUnavailableError);
    expect((outcome as Error).message).toMatch(/connection was lost|cannot reach/);
    await proxy.open(proxy.port);
    await eventually(async () => dir.health.ready, 10_000, 'directory back up');
    await readsBack();
  });

  it('a network that goes silent: the read times out within the deadline and health goes down; later reads answer', async () => {
    await readsBack();
    proxy.stall();
    const began = Date.now();
    const inFlight = dir.person(people[1]!.id).then(() => 'answered', (e) => e);
    const outcome = await inFlight;
    expect(outcome).toBeInstanceOf(DirectoryUnavailableError);
    // Its own deadline (ETIMEDOUT), or the probe's, a few ms older: ldapts closes a connection on
    // which a call timed out, and the other calls on it end as a lost connection (ECONNRESET).
    expect(['ETIMEDOUT', 'ECONNRESET']).toContain((outcome as DirectoryUnavailableError).code);
    expect(Date.now() - began).toBeLessThan(TIMEOUT_MS + 1_000);
    expect(dir.health.ready).toBe(false);
    proxy.resume();
    await eventually(async () => dir.health.ready, 10_000, 'directory back up');
    await readsBack();
  });

  it('many reads at once across a cut: each one answers or fails as unavailable, and all answer after the restore', async () => {
    proxy.stall();
    const reads = Array.from({ length: 20 }, (_, k) => dir.person(people[k % 2]!.id).then(() => 'answered', (e) => e));
    await eventually(async () => proxy.heldBytes > 0, 5_000, 'searches on their way');
    await proxy.cut();
    const outcomes = await Promise.all(reads);
    for (const o of outcomes) expect(o === 'answered' || o instanceof DirectoryUnavailableError).toBe(true);
    await proxy.open(proxy.port);
    await eventually(async () => dir.health.ready, 10_000, 'directory back up');
    const after = await Promise.all(Array.from({ length: 20 }, (_, k) => dir.person(people[k % 2]!.id)));
    expect(after.map((p) => p?.attrs.idautoID?.[0])).toEqual(Array.from({ length: 20 }, (_, k) => people[k % 2]!.id));
  });

  it('a wave of reads after a cut opens one new connection, bound once, not one per read', async () => {
    // Without the probe, the wave itself is the first to find the connection closed. ldapts
    // reconnects per call on a closed client: a wave that did not wait for one bind would open a
    // socket per read (seen in another client of the same library: 231 sockets for one wave).
    // A proxy of its own: the suite's other client probes through the shared one.
    const own = new CuttableProxy(Number(new URL(env.cfg.directory.url).port));
    const cfg = structuredClone(env.cfg);
    await own.open();
    cfg.directory.url = own.via(env.cfg.directory.url);
    const quiet = await Directory.connect(cfg, { probeMs: false });
    try {
      await readsBackWith(quiet);
      await own.cut();
      await eventually(async () => !quiet.client.isConnected, 5_000, 'the closed connection noticed');
      await own.open(own.port);
      const before = own.accepted;
      const wave = await Promise.all(Array.from({ length: 40 }, (_, k) => quiet.person(people[k % 2]!.id)));
      expect(wave.map((p) => p?.attrs.idautoID?.[0])).toEqual(Array.from({ length: 40 }, (_, k) => people[k % 2]!.id));
      expect(own.accepted - before).toBe(1);
    } finally {
      await quiet.close();
      await own.cut();
    }
  });
});

describe('MV connection cut and restored', () => {
  const url = loadConfig('tilgang.example.yaml').mv.url;
  const schema = `test_mvcut_${randomUUID().slice(0, 8)}`;
  const ids = [randomUUID(), randomUUID()];
  let admin: pg.Pool;
  let proxy: CuttableProxy;
  let mv: MvReader;

  beforeAll(async () => {
    await migrate(url, schema);
    admin = new pg.Pool({ connectionString: url, max: 2 });
    await admin.query(`INSERT INTO ${schema}.org_units VALUES ('140000', NULL, 'faculty', 'Fakultet', 'Faculty', 'FAK', 'FAK')`);
    for (const id of ids) await admin.query(`INSERT INTO ${schema}.persons (idauto_id, username, primary_affiliation, stedkode) VALUES ($1, $2, 'student', '140000')`, [id, `u${id.slice(0, 6)}`]);
    proxy = new CuttableProxy(Number(new URL(url).port));
    await proxy.open();
    mv = new MvReader(proxy.via(url), schema, { timeoutMs: TIMEOUT_MS, probeMs: 100 });
  });

  afterEach(async () => {
    if (!proxy['server']) await proxy.open(proxy.port);
    proxy.resume();
    await eventually(async () => mv.health.ready, 10_000, 'MV ready');
  });

  afterAll(async () => {
    await mv?.close().catch(() => {});
    await proxy?.cut();
    await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin?.end();
  });

  const readsBack = async () => {
    const got = await mv.readMany(ids);
    expect([...got.keys()].sort()).toEqual([...ids].sort());
    expect(got.get(ids[0]!)).toMatchObject({ username: `u${ids[0]!.slice(0, 6)}`, orgUnits: [expect.objectContaining({ stedkode: '140000' })] });
  };

  it('while idle: the pool survives its connections dying, health goes down, and it answers after the restore', async () => {
    await readsBack();
    await proxy.cut();
    await eventually(async () => !mv.health.ready, 10_000, 'MV marked down');
    const during = await mv.readMany(ids).then(() => 'answered', (e) => e);
    expect(during).toBeInstanceOf(MvUnavailableError);
    await proxy.open(proxy.port);
    await eventually(async () => mv.health.ready, 10_000, 'MV back up');
    await readsBack();
  });

  it('a query in flight when the connection is cut returns an error; the next answers', async () => {
    await readsBack();
    proxy.stall();
    const inFlight = mv.readMany(ids).then(() => 'answered', (e) => e);
    await eventually(async () => proxy.heldBytes > 0, 5_000, 'the query on its way');
    await proxy.cut();
    expect(await inFlight).toBeInstanceOf(MvUnavailableError);
    await proxy.open(proxy.port);
    await eventually(async () => mv.health.ready, 10_000, 'MV back up');
    await readsBack();
  });

  it('a network that goes silent: the query times out and health goes down; later queries answer', async () => {
    await readsBack();
    proxy.stall();
    const outcome = await mv.readMany(ids).then(() => 'answered', (e) => e);
    expect(outcome).toBeInstanceOf(MvUnavailableError);
    expect((outcome as MvUnavailableError).code).toBe('ETIMEDOUT');
    expect(mv.health.ready).toBe(false);
    proxy.resume();
    await eventually(async () => mv.health.ready, 10_000, 'MV back up');
    await readsBack();
  });
});
