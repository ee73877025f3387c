import { describe, expect, it } from 'vitest';
import { onChange, statusLine } from '../../src/cli/demo.js';

type Parts = Parameters<typeof statusLine>[0];
const running = (published: number, cookie: string, results: number, dlq: number, writes: number) => ({
  producer: { stats: { published, cookie } },
  groups: [{ target: { name: 'moodle' }, counts: { results, dlq } }],
  writeback: { counts: { writes } },
}) as unknown as Parts;

describe('demo status line', () => {
  it('says what each part has done', () => {
    expect(statusLine(running(12, '20261129030000.000001Z#000000#000#000000', 10, 1, 9)))
      .toBe('producer: 12 events; moodle: 10 results, 1 dead-lettered; writeback: 9 status writes');
    expect(statusLine({ groups: [] } as unknown as Parts)).toBe('producer: 0 events; no target groups; writeback: 0 status writes');
    expect(statusLine({ ...running(12, 'x', 10, 1, 9), coursesProducer: { stats: { published: 40 } } } as unknown as Parts))
      .toBe('producer: 12 events; courses producer: 40 events; moodle: 10 results, 1 dead-lettered; writeback: 9 status writes');
    expect(statusLine({ ...running(12, 'x', 10, 1, 9), history: { counts: { inserted: 10 } } } as unknown as Parts))
      .toBe('producer: 12 events; moodle: 10 results, 1 dead-lettered; writeback: 9 status writes; results store: 10 recorded');
  });

  it('prints only when something changed, however often it is checked; a moving cookie alone is no change', () => {
    const states = [running(0, 'a', 0, 0, 0), running(0, 'a', 0, 0, 0), running(5, 'b', 0, 0, 0), running(5, 'b', 0, 0, 0),
      running(5, 'b', 5, 0, 0), running(5, 'c', 5, 0, 0), running(5, 'd', 5, 0, 0), running(5, 'd', 5, 0, 4)];
    let i = 0;
    const printed: string[] = [];
    const check = onChange(() => statusLine(states[i]!), (l) => printed.push(l));
    for (; i < states.length; i++) check();
    expect(printed).toEqual([
      'producer: 0 events; moodle: 0 results, 0 dead-lettered; writeback: 0 status writes',
      'producer: 5 events; moodle: 0 results, 0 dead-lettered; writeback: 0 status writes',
      'producer: 5 events; moodle: 5 results, 0 dead-lettered; writeback: 0 status writes',
      'producer: 5 events; moodle: 5 results, 0 dead-lettered; writeback: 4 status writes',
    ]);
  });
});
