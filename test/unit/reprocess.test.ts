import { describe, expect, it } from 'vitest';
import { onePerPerson, reprocessEvents } from '../../src/consumers/target-group.js';
import type { StreamEvent } from '../../src/spi/index.js';

describe('people an operation asks to reprocess', () => {
  const cause: StreamEvent = { eventId: 'e1', runId: 'run-1', logOnly: false };

  it('are REPROCESS events under the cause\'s run, addressed as asked, each person once per target set', () => {
    const evs = reprocessEvents(cause, [{ people: ['a', 'b', 'a'], targets: ['moodle'] }, { people: ['a'], targets: null }], 'course', 1000);
    expect(evs.map((e) => [e.personId, e.targets, e.changeType, e.mode, e.runId, e.logOnly, e.source, e.changeTime])).toEqual([
      ['a', ['moodle'], 'REPROCESS', 'REPROCESS', 'run-1', false, 'course', 1000],
      ['b', ['moodle'], 'REPROCESS', 'REPROCESS', 'run-1', false, 'course', 1000],
      ['a', null, 'REPROCESS', 'REPROCESS', 'run-1', false, 'course', 1000],
    ]);
    expect(new Set(evs.map((e) => e.eventId)).size).toBe(3);
  });

  it('a person several courses of a chunk ask for is one event per run and target set', () => {
    const c1 = reprocessEvents(cause, [{ people: ['a', 'b'], targets: ['moodle'] }], 'course');
    const c2 = reprocessEvents(cause, [{ people: ['b', 'c'], targets: ['moodle'] }], 'course');
    const other = reprocessEvents({ ...cause, runId: 'run-2' }, [{ people: ['a'], targets: ['moodle'] }], 'course');
    expect(onePerPerson([...c1, ...c2, ...other]).map((e) => `${e.personId}@${e.runId}`)).toEqual(['a@run-1', 'b@run-1', 'c@run-1', 'a@run-2']);
  });
});
