import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector, decodeEvents, eventually, sleep, testEnv, type TestEnv } from '../support/env.js';

function startChild(env: TestEnv, pauseMs: number): { child: ChildProcess; lines: string[] } {
  const lines: string[] = [];
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/producer-child.ts'], {
    env: { ...process.env, TILGANG_TEST_CONFIG: JSON.stringify(env.cfg), TILGANG_TEST_PRODUCER: env.id, TILGANG_TEST_PAUSE_MS: String(pauseMs), TILGANG_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  return { child, lines };
}

describe('producer killed with SIGKILL between a transaction\'s sends and its commit', () => {
  let env: TestEnv;
  let events: Collector;
  beforeAll(async () => {
    env = await testEnv('crash');
    events = await new Collector(env.kafka, env.cfg.kafka.topics.personChanged).start();
  });
  afterAll(async () => {
    await events?.stop();
    await env?.close();
  });

  it('loses no change and publishes none twice', async () => {
    const first = startChild(env, 300);
    await eventually(async () => first.lines.includes('started'), 60_000, 'producer child to start');
    await sleep(300);
    const adding = env.keepAdding(5);
    const people = adding.people;
    // Kill it while a transaction is open (the child pauses after sending, before committing).
    await eventually(async () => first.lines.filter((l) => l === 'in-transaction').length >= 3, 60_000, 'three transactions');
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const atKill = people.length;
    await sleep(500);
    const second = startChild(env, 0);
    await eventually(async () => second.lines.includes('started'), 60_000, 'restarted producer');
    await sleep(1000);
    await adding.stop();
    expect(atKill).toBeGreaterThan(0);
    await events.until((m) => new Set(m.map((x) => x.key?.toString())).size >= people.length, 60_000, 'an event for every person');
    await sleep(1500);
    second.child.kill('SIGTERM');
    const adds = (await decodeEvents(env, events.messages)).filter((e) => e.changeType === 'ADD');
    const byPerson = new Map<string, number>();
    for (const e of adds) byPerson.set(e.personId, (byPerson.get(e.personId) ?? 0) + 1);
    expect(people.filter((p) => !byPerson.has(p))).toEqual([]); // nothing lost
    expect([...byPerson].filter(([, n]) => n > 1)).toEqual([]); // nothing twice
    expect(byPerson.size).toBe(people.length);
  }, 180_000);
});
