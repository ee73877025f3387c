import { describe, expect, it } from 'vitest';
import { parseStatus, statusAfter } from '../../src/consumers/writeback.js';
import type { ProvisioningResult } from '../../src/schemas/generated.js';

const result = (patch: Partial<ProvisioningResult>): ProvisioningResult => ({
  eventId: 'e', sourceEventId: 's', personId: 'p', target: 'moodle', runId: null, mode: 'LIVE', logOnly: false,
  outcome: 'APPLIED', skipReason: null, entitled: true, accountId: '7', operations: [], error: null, counters: {},
  durationMs: 1, processedAt: Date.UTC(2026, 10, 26, 12), ...patch,
});
const empty = { provisionedTo: [], targetStatus: [] };

describe('writeback: the status attributes after a result', () => {
  it('records a provisioned target with the time it became so', () => {
    expect(statusAfter(empty, result({}))).toEqual({ provisionedTo: ['moodle'], targetStatus: ['moodle|2026-11-26T12:00:00.000Z|provisioned|'] });
  });

  it('is idempotent: the same outcome again writes nothing, even from a later result', () => {
    const once = statusAfter(empty, result({}))!;
    expect(statusAfter(once, result({ processedAt: Date.UTC(2026, 10, 27) }))).toBeUndefined();
    expect(statusAfter(once, result({ outcome: 'UNCHANGED' }))).toBeUndefined();
  });

  it('keeps other targets and removes this one when entitlement is lost (the account disabled)', () => {
    const cur = { provisionedTo: ['ad', 'moodle'], targetStatus: ['ad|2026-01-01T00:00:00.000Z|provisioned|', 'moodle|2026-01-01T00:00:00.000Z|provisioned|'] };
    const next = statusAfter(cur, result({ entitled: false }))!;
    expect(next.provisionedTo).toEqual(['ad']);
    expect(next.targetStatus).toContain('ad|2026-01-01T00:00:00.000Z|provisioned|');
    expect(next.targetStatus.map(parseStatus).find((s) => s?.target === 'moodle')?.outcome).toBe('disabled');
  });

  it('a failure keeps the provisioning and records the error on one line', () => {
    const cur = statusAfter(empty, result({}))!;
    const next = statusAfter(cur, result({ outcome: 'FAILED', error: { kind: 'TERMINAL', code: 'invalidparameter', message: 'bad\nemail | here', field: 'email' } }))!;
    expect(next.provisionedTo).toEqual(['moodle']);
    expect(next.targetStatus[0]).toMatch(/^moodle\|[^|]+\|failed\|invalidparameter: bad email here$/);
  });

  it.each(['PLANNED', 'HELD', 'SKIPPED'] as const)('a %s result changes nothing', (outcome) => {
    expect(statusAfter(empty, result({ outcome }))).toBeUndefined();
  });

  it('a log-only result changes nothing', () => {
    expect(statusAfter(empty, result({ logOnly: true }))).toBeUndefined();
  });

  it('records what the target asked to write back with its status, and keeps it while later results carry none', () => {
    const once = statusAfter(empty, result({ target: 'exams', writeback: { userId: '4711' } }))!;
    expect(once.targetStatus).toEqual(['exams|2026-11-26T12:00:00.000Z|provisioned||userId=4711']);
    expect(parseStatus(once.targetStatus[0]!)).toMatchObject({ target: 'exams', outcome: 'provisioned', error: '', recorded: { userId: '4711' } });
    // The same again, or a result that knows nothing to record: no write.
    expect(statusAfter(once, result({ target: 'exams', writeback: { userId: '4711' }, processedAt: Date.UTC(2026, 10, 27) }))).toBeUndefined();
    expect(statusAfter(once, result({ target: 'exams', outcome: 'UNCHANGED' }))).toBeUndefined();
    // A failure records the error and keeps the id; a disable keeps it too.
    const failed = statusAfter(once, result({ target: 'exams', outcome: 'FAILED', error: { kind: 'TERMINAL', code: 'x', message: 'refused', field: null } }))!;
    expect(parseStatus(failed.targetStatus[0]!)).toMatchObject({ outcome: 'failed', error: 'x: refused', recorded: { userId: '4711' } });
    const disabled = statusAfter(once, result({ target: 'exams', entitled: false, writeback: { userId: '4711' } }))!;
    expect(parseStatus(disabled.targetStatus[0]!)).toMatchObject({ outcome: 'disabled', recorded: { userId: '4711' } });
    // A new id is a change; separators in a value cannot break the value's fields.
    const moved = statusAfter(once, result({ target: 'exams', writeback: { userId: '4712|x\ny', 'bad name!': 'v' }, processedAt: Date.UTC(2026, 10, 28) }))!;
    expect(moved.targetStatus).toEqual(['exams|2026-11-28T00:00:00.000Z|provisioned||badname=v|userId=4712 x y']);
  });

  it('reads a status value written before anything was recorded with it', () => {
    expect(parseStatus('moodle|2026-01-01T00:00:00.000Z|failed|code: message')).toEqual({ target: 'moodle', at: '2026-01-01T00:00:00.000Z', outcome: 'failed', error: 'code: message', recorded: {} });
  });
});
