/**
 * Every simulator, as `tilgang sim`, `npm start` and the fault suite start it: faults at seeded
 * rates (the same seed replays the same faults). Creates per person key are counted by each and
 * checked by the fault suite (test/faults/suite.test.ts).
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { faultSettings, type FaultSettingsInput } from '../../src/lib/faults.js';
import type { RunningSimulator } from '../../src/spi/index.js';
import { loadSimulator, loadTargets } from '../../src/targets/index.js';

const FAULTS: FaultSettingsInput = { seed: 42, error5xx: 0.2, tooMany: 0.15, retryAfterSeconds: 3, timeout: 0.1, lostAnswer: 0.05, slow: 0.1, slowMs: 120, holdMs: 50 };

/** What each request got: a status, or 'dropped' when the connection closed unanswered. */
async function probe(url: string, n: number): Promise<{ outcome: string; ms: number; retryAfter?: string }[]> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = Date.now();
    try {
      const r = await request(url, { method: 'GET', headersTimeout: 5_000, bodyTimeout: 5_000 });
      await r.body.text();
      out.push({ outcome: String(r.statusCode), ms: Date.now() - t0, retryAfter: r.headers['retry-after'] as string | undefined });
    } catch {
      out.push({ outcome: 'dropped', ms: Date.now() - t0 });
    }
  }
  return out;
}

const names: string[] = [];
for (const [name] of await loadTargets()) if (await loadSimulator(name)) names.push(name);

describe.each(names)('the %s simulator', (name) => {
  const cfg = loadConfig('tilgang.example.yaml');
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await (await loadSimulator(name))!.start({ port: 0, latency: false, global: cfg, faults: FAULTS });
  });
  afterAll(async () => { await sim?.close(); });

  it('injects 5xx, 429 with Retry-After, dropped and slow answers at the configured rates, the same again for the same seed', async () => {
    expect(sim.faults).toBeDefined();
    const first = await probe(sim.url, 100);
    const c = sim.faults!.counts;
    expect(c.requests).toBe(100);
    const by = (o: string) => first.filter((x) => x.outcome === o).length;
    expect(by('503')).toBe(c.error5xx);
    expect(by('429')).toBe(c.tooMany);
    expect(first.filter((x) => x.outcome === '429').every((x) => x.retryAfter === '3')).toBe(true);
    expect(by('dropped')).toBe(c.timeout + c.lostAnswer);
    // Rates within a wide band of what was asked (100 draws).
    expect(c.error5xx).toBeGreaterThan(8);
    expect(c.error5xx).toBeLessThan(35);
    expect(c.tooMany).toBeGreaterThan(5);
    expect(c.timeout + c.lostAnswer).toBeGreaterThan(5);
    expect(c.slow).toBeGreaterThan(2);
    expect(first.filter((x) => x.ms >= 110).length).toBeGreaterThanOrEqual(c.slow);
    // The same seed again: the same sequence of faults.
    sim.faults!.set(FAULTS);
    const again = await probe(sim.url, 100);
    expect(again.map((x) => x.outcome)).toEqual(first.map((x) => x.outcome));
    // Off: every request is answered by the simulator itself.
    sim.faults!.set(null);
    expect((await probe(sim.url, 20)).every((x) => !['503', '429', 'dropped'].includes(x.outcome))).toBe(true);
  });
});

describe('fault settings', () => {
  it('refuse rates that add up to more than 1 and unknown keys', () => {
    expect(faultSettings.safeParse({ error5xx: 0.6, timeout: 0.6 }).success).toBe(false);
    expect(faultSettings.safeParse({ errors: 0.1 }).success).toBe(false);
    expect(faultSettings.parse({})).toMatchObject({ seed: 1, error5xx: 0, tooMany: 0, timeout: 0, lostAnswer: 0, slow: 0 });
  });
});
