/**
 * The web dashboard in a real browser: Debian's chromium driven by playwright-core (no browser
 * download), against a running pipeline (producer → pgtest target group → results → writeback and
 * the results store). The page loads, shows live numbers, a person search shows their targets and
 * history, a redrive from the page empties the DLQ, a guard release from the page lets the held
 * disable through. With TILGANG_SCREENSHOTS=<dir> it saves the README's screenshots there.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDeadLetters } from '../../src/consumers/dlq.js';
import { MassChangeGuard } from '../../src/consumers/guard.js';
import { createDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { ResultsRecorder } from '../../src/history/recorder.js';
import { HistoryStore } from '../../src/history/store.js';
import { serveHealth } from '../../src/lib/metrics.js';
import { eventually, testEnv, type TestEnv, type TestPerson } from '../support/env.js';
import { pgAccounts, pgTarget } from '../support/pg-target.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

const CHROMIUM = process.env.TILGANG_CHROMIUM ?? '/usr/bin/chromium';

describe('dashboard in a browser', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  let schema: string;
  let accounts: Awaited<ReturnType<typeof pgAccounts>>;
  let pipe: Pipeline;
  let recorder: ResultsRecorder;
  let store: HistoryStore;
  let dashboard: Dashboard;
  let server: Server;
  let browser: Browser;
  let page: Page;
  let url: string;
  let dlq: string;
  const shots = process.env.TILGANG_SCREENSHOTS;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: scripts/bootstrap.sh installs Debian's chromium (or set TILGANG_CHROMIUM)`);
    env = await testEnv('dashboard', (cfg) => {
      cfg.runtime.maxRetries = 1;
      cfg.runtime.retryBaseMs = 20;
      // Every disable is held: the guard's release is tried from the page.
      cfg.runtime.guard = { maxOperations: 0, maxShare: 1, minAccounts: 1_000_000, windowMinutes: 60, targets: {} };
    });
    dlq = `test.${env.id}.pgtest.dlq`;
    accounts = await pgAccounts(env, { affiliations: ['student', 'employee'] });
    ({ pool, schema } = accounts);
    pipe = await startPipeline(env, pgTarget, { topics: { dlq } });
    const historyGroup = `tilgang.history.${env.id}`;
    recorder = new ResultsRecorder(env.cfg, env.kafka, { groupId: historyGroup });
    await recorder.start();
    store = new HistoryStore(env.cfg, { max: 3 });
    await store.ensure();
    dashboard = createDashboard({
      cfg: env.cfg, kafka: env.kafka, targets: [pgTarget], store, sampleMs: 1000,
      status: {
        groupOf: () => `tilgang.pgtest.${env.id}`, dlqOf: (o) => (o === 'writeback' ? `test.${env.id}.writeback.dlq` : dlq),
        writebackGroup: `tilgang.writeback.${env.id}`, historyGroup, producerName: env.id,
      },
    });
    server = await serveHealth(0, () => [], '127.0.0.1', () => dashboard.handle);
    const a = server.address() as { port: number };
    url = `http://127.0.0.1:${a.port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    if (shots) mkdirSync(shots, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await dashboard?.stop();
    await store?.close();
    await recorder?.stop();
    await pipe?.stop();
    await accounts?.drop();
    await env?.close();
  });

  const card = () => page.locator('#target-pgtest');
  const figure = (f: string) => card().locator(`[data-field="${f}"]`);
  const people: TestPerson[] = [];

  it('loads, and shows the live numbers of the running pipeline', async () => {
    await page.goto(url);
    await expect.poll(() => page.title()).toBe('tilgang dashboard');
    await card().waitFor();
    await expect.poll(() => figure('hour').textContent(), { timeout: 20_000 }).toBe('0');
    expect(await figure('dlq').textContent()).toBe('0');
    // Three people arrive while the page is open: the page follows without a reload.
    for (let i = 0; i < 3; i++) people.push(await env.addPerson({ affiliation: 'student' }));
    for (const p of people) await pipe.waitResults(p.id, 1);
    await expect.poll(() => figure('hour').textContent(), { timeout: 20_000 }).toBe('3');
    await expect.poll(() => card().locator('[data-outcome="APPLIED"] b').textContent(), { timeout: 10_000 }).toBe('3');
    expect(Number(await figure('lag').textContent())).toBeGreaterThanOrEqual(0);
    // The outcome chart has drawn its series (uPlot's legend lists them).
    expect(await card().locator('.u-legend .u-series').count()).toBeGreaterThanOrEqual(7);
    expect(await page.locator('[data-field="producer"]').textContent()).toMatch(/entries behind the change log/);
  });

  it('a person search shows the person\'s targets and history', async () => {
    const p = people[0]!;
    await page.fill('#person-key', p.username);
    await page.click('#person-form button');
    const target = page.locator('#person-result .explain-target[data-target="pgtest"]');
    await target.waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-field="person-id"]').textContent()).toBe(p.id);
    expect(await target.locator('.outcome').textContent()).toBe('unchanged');
    expect(await target.locator('.rule').textContent()).toBe('entitled: affiliation student is in student, employee');
    expect(await target.locator('table.side tr', { hasText: 'mail' }).first().textContent()).toContain(p.mail);
    await expect.poll(() => page.locator('#history tbody tr[data-target="pgtest"][data-outcome="APPLIED"]').count()).toBe(1);
    if (shots) await page.screenshot({ path: join(shots, 'dashboard-person.png'), fullPage: true });
    // Someone the directory does not have: said so on the page.
    await page.fill('#person-key', 'ingen-slik');
    await page.click('#person-form button');
    await expect.poll(() => page.locator('#person-result .err').textContent(), { timeout: 10_000 }).toBe('no person in the directory has username=ingen-slik');
  });

  it('a redrive from the page empties the DLQ', async () => {
    const id = crypto.randomUUID();
    await pool.query(`INSERT INTO ${schema}.faults (person_id, terminal) VALUES ($1, true)`, [id]);
    await env.addPerson({ id, affiliation: 'student' });
    await pipe.waitResults(id, 1);
    await expect.poll(() => figure('dlq').textContent(), { timeout: 20_000 }).toBe('1');
    // The failure is listed with its error.
    await expect.poll(() => page.locator('#failures tbody tr', { hasText: id }).textContent(), { timeout: 10_000 }).toContain('refused: the system refused person');
    if (shots) {
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(shots, 'dashboard.png') });
    }
    await pool.query(`DELETE FROM ${schema}.faults WHERE person_id = $1`, [id]);
    let asked = '';
    page.once('dialog', (d) => { asked = d.message(); void d.accept(); });
    await card().locator('button.redrive').click();
    await expect.poll(() => figure('dlq').textContent(), { timeout: 20_000 }).toBe('0');
    expect(asked).toBe('Send the 1 dead-lettered person(s) of pgtest back to pgtest?');
    expect((await readDeadLetters(env.kafka, 'pgtest', dlq)).letters).toEqual([]);
    await eventually(async () => (await pool.query(`SELECT 1 FROM ${schema}.accounts WHERE person_id = $1`, [id])).rowCount, 20_000, 'the redriven person\'s account');
    // The redrive is a run, with its counters.
    await expect.poll(() => page.locator('#runs tbody tr', { hasText: 'add 1' }).count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
  });

  it('a guard release from the page lets the held disable through, after asking', async () => {
    const p = people[1]!;
    await env.modify(env.dn(p.id), 'idautoPersonAffiliation', ['alum']);
    await env.modify(env.dn(p.id), 'idautoPersonAffiliations', ['alum']);
    await eventually(async () => (await pipe.resultsFor(p.id)).some((r) => r.outcome === 'HELD'), 20_000, 'the held disable');
    await expect.poll(() => card().locator('.guard').textContent(), { timeout: 20_000 }).toMatch(/^guard HOLDING 1 person\(s\)/);
    // Dismissed: nothing happens.
    page.once('dialog', (d) => void d.dismiss());
    await card().locator('button.release').click();
    expect((await new MassChangeGuard(pool, env.cfg.runtime.stateSchema).state('pgtest')).tripped).toBe(true);
    page.once('dialog', (d) => void d.accept());
    await card().locator('button.release').click();
    await expect.poll(() => card().locator('.guard').textContent(), { timeout: 20_000 }).toMatch(/^guard open/);
    await eventually(async () => (await pool.query(`SELECT enabled FROM ${schema}.accounts WHERE person_id = $1`, [p.id])).rows[0]?.enabled === false, 20_000, 'the released disable');
  });
});
