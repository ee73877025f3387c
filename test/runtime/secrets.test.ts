import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readSecret } from '../../src/config.js';
import { TerminalError, TransientError, type Target } from '../../src/spi/index.js';
import { log } from '../../src/lib/log.js';
import { collect, eventually, testEnv, type TestEnv } from '../support/env.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

const TOKEN = `tok-${randomUUID()}`;
const TOKEN_VAR = `TILGANG_TEST_ECHO_TOKEN_${process.pid}`;

/** People whose every call the system refuses by throwing; the others get a failed operation. */
const throwsFor = new Set<string>();

/**
 * A system that echoes the token it was called with in every error, the way some APIs quote the
 * request back: first a transient failure (logged, retried), then a terminal one.
 */
const echoTarget: Target<{ token: { env: string }; entitlement: { affiliations: string[]; roles: string[] } }, { id: string }, null, unknown, { token: string; calls: Map<string, number> }> = {
  name: 'echo',
  config: z.object({ token: z.object({ env: z.string() }), entitlement: z.object({ affiliations: z.array(z.string()), roles: z.array(z.string()).default([]) }) }),
  essential: () => [],
  async connect({ config }) {
    return { token: readSecret(config.token, 'targets.echo.token'), calls: new Map() };
  },
  desired: (p) => (p.entitled ? { id: p.id } : null),
  async actual() {
    return null;
  },
  plan: (desired) => (desired ? { operations: [{ kind: 'create' }] } : { operations: [], skipReason: 'not entitled' }),
  async apply(_plan, c, _ctx, person) {
    const n = (c.calls.get(person.id) ?? 0) + 1;
    c.calls.set(person.id, n);
    if (n === 1) throw new TransientError(`503 from the system: the key '${c.token}' is rate limited`, 'unavailable');
    if (throwsFor.has(person.id)) throw new TerminalError(`the system refused Bearer ${c.token} for this call`, 'refused');
    return [{ outcome: 'FAILED', error: `invalid credentials (${c.token})` }];
  },
};

describe('secrets in error texts', () => {
  let env: TestEnv;
  let pipe: Pipeline;
  const lines: string[] = [];
  let restore = () => {};

  beforeAll(async () => {
    process.env[TOKEN_VAR] = TOKEN;
    env = await testEnv('secrets', (cfg) => {
      cfg.runtime.maxRetries = 2;
      cfg.runtime.retryBaseMs = 20;
      cfg.targets = { echo: { token: { env: TOKEN_VAR }, entitlement: { affiliations: ['student'] } } };
    });
    // What the logger writes, as written (after every hook and serializer).
    const stream = (log as unknown as Record<symbol, { write(s: string): boolean }>)[pino.symbols.streamSym]!;
    const write = stream.write;
    stream.write = function (s: string) {
      lines.push(s);
      return write.call(this, s);
    };
    restore = () => { stream.write = write; };
    pipe = await startPipeline(env, echoTarget);
  }, 120_000);

  afterAll(async () => {
    restore();
    await pipe?.stop();
    await env?.close();
    delete process.env[TOKEN_VAR];
  });

  it('publishes a target error that echoes the token without it: in the result, the dead letter, the status and the logs', async () => {
    const id = randomUUID();
    throwsFor.add(id);
    const thrower = await env.addPerson({ id });
    const failing = await env.addPerson({});
    const [thrown] = await pipe.waitResults(thrower.id, 1);
    const [failed] = await pipe.waitResults(failing.id, 1);

    // The transient failure was retried (and logged), then the terminal one recorded.
    expect(thrown).toMatchObject({ outcome: 'FAILED', error: expect.objectContaining({ kind: 'TERMINAL', code: 'refused' }) });
    expect(thrown!.error!.message).toBe('the system refused Bearer [redacted] for this call');
    expect(failed).toMatchObject({ outcome: 'FAILED' });
    expect(failed!.operations).toEqual([expect.objectContaining({ kind: 'create', outcome: 'FAILED', error: 'invalid credentials ([redacted])' })]);
    expect(failed!.error!.message).not.toContain(TOKEN);

    // Nowhere in the published bytes: results and dead letters.
    for (const m of pipe.results.messages) expect(m.value!.toString('latin1')).not.toContain(TOKEN);
    const dead = await collect(env.kafka, `test.${env.id}.echo.dlq`, (ms) => ms.length >= 2, 20_000);
    expect(dead.length).toBeGreaterThanOrEqual(2);
    for (const m of dead) expect(m.value!.toString()).not.toContain(TOKEN);

    // The writeback records the error in the directory, scrubbed.
    const status = await eventually(async () => {
      const { searchEntries } = await env.admin.search(env.dn(thrower.id), { scope: 'base', attributes: ['tilgangTargetStatus'] });
      return searchEntries[0]?.tilgangTargetStatus ? String(searchEntries[0].tilgangTargetStatus) : undefined;
    }, 20_000, 'status written back');
    expect(status).toMatch(/^echo\|.*\|failed\|refused: the system refused Bearer \[redacted\] for this call$/);

    // The logs saw the token-echoing text of the transient failure, scrubbed.
    const retried = lines.filter((l) => l.includes('transient failure: retrying'));
    expect(retried.length).toBeGreaterThanOrEqual(1);
    expect(retried.join('\n')).toContain('rate limited');
    expect(retried.join('\n')).toContain('[redacted]');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).not.toContain(TOKEN);
  });

  it('scrubs the token from anything logged, however it is passed', () => {
    const before = lines.length;
    log.warn({ err: new Error(`bad ${TOKEN}`), nested: { list: [`x ${TOKEN} y`] } }, `message with ${TOKEN}`);
    const logged = lines.slice(before).join('\n');
    expect(logged).toContain('message with [redacted]');
    expect(logged).toContain('bad [redacted]');
    expect(logged).toContain('x [redacted] y');
    expect(logged).not.toContain(TOKEN);
  });
});
