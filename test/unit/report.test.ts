import { describe, expect, it } from 'vitest';
import { countResults, formatReport } from '../../src/consumers/report.js';
import type { OperationResult, ProvisioningResult } from '../../src/schemas/generated.js';

const op = (kind: string, outcome: OperationResult['outcome'] = 'APPLIED'): OperationResult => ({ kind, changes: [], detail: null, outcome, error: null });
const r = (target: string, outcome: ProvisioningResult['outcome'], operations: OperationResult[] = [], counters: Record<string, number> = {}): ProvisioningResult => ({
  eventId: 'e', sourceEventId: 's', personId: 'p', target, runId: 'run-1', mode: 'SNAPSHOT', logOnly: false, outcome,
  skipReason: null, entitled: true, accountId: null, operations, error: null, counters, durationMs: 1, processedAt: 0,
});

describe('run report: the seed\'s counters from result events', () => {
  const counters = countResults([
    r('moodle', 'APPLIED', [op('create')], { coursesAdded: 3 }),
    r('moodle', 'APPLIED', [op('update'), op('enable')]),
    r('moodle', 'FAILED', [op('create', 'FAILED')]),
    r('moodle', 'FAILED', [op('update'), op('disable', 'FAILED')], { coursesRemoved: 1, coursesRemovedFail: 1 }),
    r('moodle', 'UNCHANGED'),
    r('moodle', 'SKIPPED'),
    r('moodle', 'PLANNED', [op('disable', 'PLANNED')]),
    r('moodle', 'HELD', [op('disable', 'HELD')]),
    r('ad', 'APPLIED', [op('rename'), op('move')]),
  ]);

  it('counts people and operations per target, failures apart', () => {
    expect(counters.get('moodle')).toMatchObject({
      total: 8, skipped: 1, unchanged: 1, add: 1, addFail: 1, update: 2, updateFail: 0, enable: 1, disable: 0, disableFail: 1,
      planned: 1, held: 1, coursesAdded: 3, coursesRemoved: 1, coursesRemovedFail: 1,
    });
    expect(counters.get('ad')).toMatchObject({ total: 1, rename: 1, renameFail: 0, move: 1, moveFail: 0, add: 0 });
  });

  it('prints the seed\'s counters in the seed\'s order, then the target\'s own', () => {
    const text = formatReport('run-1', counters);
    const moodle = text.slice(text.indexOf('  moodle'));
    const names = moodle.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[0]);
    expect(names.slice(0, 15)).toEqual(['total', 'skipped', 'unchanged', 'add', 'addFail', 'update', 'updateFail', 'rename', 'renameFail', 'move', 'moveFail', 'enable', 'enableFail', 'disable', 'disableFail']);
    expect(names.slice(15)).toEqual(['coursesAdded', 'coursesRemoved', 'coursesRemovedFail', 'held', 'planned']);
    expect(text.indexOf('  ad')).toBeLessThan(text.indexOf('  moodle'));
    expect(formatReport('run-2', new Map())).toBe('run run-2: no results yet');
  });
});
