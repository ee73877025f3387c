import { describe, expect, it } from 'vitest';
import { redriveTargets, WRITEBACK } from '../../src/consumers/dlq.js';

describe('redrive: who goes back to which target', () => {
  it('sends a target\'s dead-lettered people back to that target, each once', () => {
    const r = redriveTargets('moodle', [{ personId: 'a' }, { personId: 'b' }, { personId: 'a' }, { personId: '' }]);
    expect([...r.byTarget]).toEqual([['moodle', ['a', 'b']]]);
    expect(r.unaddressed).toBe(1);
  });

  it('sends the writeback\'s people back to the target whose result was not recorded; letters without a person or target stay', () => {
    const r = redriveTargets(WRITEBACK, [
      { personId: 'a', resultTarget: 'moodle' }, { personId: 'a', resultTarget: 'ad' }, { personId: 'b', resultTarget: 'moodle' },
      { personId: '', resultTarget: undefined }, { personId: 'c', resultTarget: '' }, { personId: 'a', resultTarget: 'moodle' },
    ]);
    expect(Object.fromEntries(r.byTarget)).toEqual({ moodle: ['a', 'b'], ad: ['a'] });
    expect(r.unaddressed).toBe(2);
  });
});
