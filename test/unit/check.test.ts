import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { checkTarget } from '../../src/consumers/check.js';
import { TerminalError, TransientError, type AnyTarget, type CheckReport } from '../../src/spi/index.js';

/** A target whose only behaviour is its check; the runtime's side of the contract is under test. */
function withCheck(check: () => Promise<CheckReport>) {
  const closed: unknown[] = [];
  const target = { name: 'checked', check, close: async (c: unknown) => { closed.push(c); } } as unknown as AnyTarget;
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => { lines.push(JSON.parse(l)); } });
  return { target, closed, lines, ctx: { config: {}, global: {} as never, log } };
}

describe('the start check the runtime runs', () => {
  it('logs the facts and each warning, and starts', async () => {
    const t = withCheck(async () => ({ facts: { site: 'https://lms.example', release: '4.5' }, warnings: ['function x is not allowed'] }));
    await checkTarget(t.target, 'client', t.ctx);
    expect(t.lines.map((l) => [l.level, l.msg])).toEqual([[40, 'function x is not allowed'], [30, 'target check passed']]);
    expect(t.lines[1]).toMatchObject({ target: 'checked', site: 'https://lms.example', release: '4.5' });
    expect(t.closed).toEqual([]);
  });

  it('a terminal failure stops the start and closes the client', async () => {
    const t = withCheck(async () => { throw new TerminalError('targets.checked: the credentials were refused', 'check', 'token'); });
    await expect(checkTarget(t.target, 'client', t.ctx)).rejects.toThrow('targets.checked: the credentials were refused');
    expect(t.closed).toEqual(['client']);
  });

  it('a system that is down now does not stop the start: a warning, and the client stays open', async () => {
    const t = withCheck(async () => { throw new TransientError('connect ECONNREFUSED', 'ECONNREFUSED'); });
    await checkTarget(t.target, 'client', t.ctx);
    expect(t.lines).toMatchObject([{ level: 40, msg: 'target check could not reach the system; events will be retried', err: 'connect ECONNREFUSED' }]);
    expect(t.closed).toEqual([]);
  });

  it('a target without a check starts without one', async () => {
    const t = withCheck(async () => ({}));
    delete (t.target as { check?: unknown }).check;
    await checkTarget(t.target, 'client', t.ctx);
    expect(t.lines).toEqual([]);
  });
});
