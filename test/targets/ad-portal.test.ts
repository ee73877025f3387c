import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdSession } from '../../src/targets/ad/read.js';
import type { AdConnection } from '../../src/targets/ad/client.js';
import type { AdConfig } from '../../src/targets/ad/config.js';
import { eventually, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { CuttableProxy } from '../support/proxy.js';

// The AD target reads a new manager's reports from the portal directory over a connection of its
// own. After the directory restarts, that connection must be bound again: ldapts reconnects
// anonymously, and an anonymous search of the people finds nothing (noSuchObject).
describe('the AD target\'s portal-directory reads across a directory restart', () => {
  let env: TestEnv;
  let proxy: CuttableProxy;
  let session: AdSession;
  let boss: TestPerson;
  let report: TestPerson;

  beforeAll(async () => {
    env = await testEnv('adportal');
    boss = await env.addPerson({ affiliation: 'employee' });
    report = await env.addPerson({ affiliation: 'employee', extra: { manager: [env.dn(boss.id)] } });
    proxy = new CuttableProxy(Number(new URL(env.cfg.directory.url).port));
    await proxy.open();
    const global = structuredClone(env.cfg);
    global.directory.url = proxy.via(env.cfg.directory.url);
    session = new AdSession(null as unknown as AdConnection, {} as AdConfig, global);
  });
  afterAll(async () => {
    await (await session?.portal().catch(() => undefined))?.unbind().catch(() => {});
    await proxy?.cut().catch(() => {});
    await env?.close();
  });

  const reportsOf = async (p: TestPerson) => (await session.searchPortal(env.cfg.directory.peopleDn, {
    scope: 'sub', filter: `(manager=${env.dn(p.id)})`, attributes: ['idautoID'],
  })).map((e) => String(e.idautoID));

  it('finds the reports before and after the connection is cut and the directory answers again', async () => {
    expect(await reportsOf(boss)).toEqual([report.id]);
    const before = await session.portal();
    await proxy.cut();
    // ldapts sees the connection close; the next search reconnects on its own.
    await eventually(async () => !before.isConnected, 5_000, 'the closed connection noticed');
    await proxy.open(proxy.port);
    expect(await reportsOf(boss)).toEqual([report.id]);
    expect(await reportsOf(boss)).toEqual([report.id]);
  });
});
