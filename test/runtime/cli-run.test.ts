import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, testEnv, type TestEnv } from '../support/env.js';

describe('tilgang run --role producer', () => {
  let env: TestEnv;
  afterAll(async () => env?.close());

  it('serves /healthz, /readyz and /metrics, and stops cleanly on SIGTERM', async () => {
    env = await testEnv('clirun');
    const file = join(mkdtempSync(join(tmpdir(), 'tilgang-')), 'tilgang.yaml');
    writeFileSync(file, JSON.stringify(env.cfg)); // JSON is YAML
    const port = 19464 + Math.floor(Math.random() * 500);
    const child = spawn(process.execPath, ['bin/tilgang.js', '-c', file, 'run', '--role', 'producer', '--metrics-port', String(port)], {
      env: { ...process.env, TILGANG_LOG_LEVEL: process.env.CHILD_LOG ?? 'warn' }, stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, body: await res.text() };
    };
    await eventually(async () => (await get('/readyz')).status === 200, 60_000, 'ready');
    expect((await get('/healthz')).body).toBe('ok\n');
    const p = await env.addPerson({});
    await eventually(async () => /tilgang_producer_published_total [1-9]/.test((await get('/metrics')).body), 60_000, 'published metric');
    expect((await get('/metrics')).body).toContain('process_resident_memory_bytes');
    // The dashboard on the same address: the page, its data, and actions refused without the page's header.
    await eventually(async () => (await get('/')).body.includes('<title>tilgang dashboard</title>'), 30_000, 'the dashboard page');
    expect(JSON.parse((await get('/api/status')).body).targets).toContain('moodle');
    const refused = await fetch(`http://127.0.0.1:${port}/api/dlq/moodle/redrive`, { method: 'POST' });
    expect([refused.status, await refused.json()]).toEqual([403, { error: 'actions need the x-tilgang-action header' }]);
    expect(p.id).toBeTruthy();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);
});

describe('tilgang run: the health endpoint before the roles have connected', () => {
  it('answers /healthz at once and /readyz 503 naming what is starting, while Kafka is not reachable', async () => {
    const cfg = JSON.parse(JSON.stringify((await import('../../src/config.js')).loadConfig('tilgang.example.yaml'))) as Record<string, any>;
    cfg.kafka.brokers = ['127.0.0.1:1']; // nothing listens: the producer cannot connect
    const file = join(mkdtempSync(join(tmpdir(), 'tilgang-')), 'tilgang.yaml');
    writeFileSync(file, JSON.stringify(cfg));
    const port = 20000 + Math.floor(Math.random() * 500);
    const child = spawn(process.execPath, ['bin/tilgang.js', '-c', file, 'run', '--role', 'producer', '--metrics-port', String(port)], {
      env: { ...process.env, TILGANG_LOG_LEVEL: 'fatal' }, stdio: ['ignore', 'ignore', 'ignore'],
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      const get = async (path: string) => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        return { status: res.status, body: await res.text() };
      };
      await eventually(async () => (await get('/healthz').catch(() => ({ status: 0 }))).status === 200, 60_000, '/healthz');
      const ready = await get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toBe('not ready: run (roles connecting)\n');
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  }, 120_000);
});
