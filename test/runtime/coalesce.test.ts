import { describe, expect, it } from 'vitest';
import { coalesce, finishedPrefix, waves, type ChunkEvent } from '../../src/consumers/coalesce.js';

const ev = (index: number, key: string, work = 'live'): ChunkEvent<string> => ({ index, key, work, event: `${key}${index}` });
const shape = (events: ChunkEvent<string>[]) => coalesce(events).map((w) => `${w.carrier.event}<${w.coalesced.map((c) => c.event).join(',')}`);

describe('coalescing a chunk\'s events', () => {
  it.each([
    { name: 'one person, many events: the last carries them', events: [ev(0, 'a'), ev(1, 'a'), ev(2, 'a')], want: ['a2<a0,a1'] },
    { name: 'interleaved people: one work each, in first-seen order', events: [ev(0, 'a'), ev(1, 'b'), ev(2, 'a'), ev(3, 'b'), ev(4, 'c')], want: ['a2<a0', 'b3<b1', 'c4<'] },
    { name: 'another kind of work is not merged', events: [ev(0, 'a'), ev(1, 'a', 'run1'), ev(2, 'a', 'run1'), ev(3, 'a')], want: ['a0<', 'a2<a1', 'a3<'] },
    { name: 'other people between a person\'s events do not split them', events: [ev(0, 'a'), ev(1, 'b', 'run1'), ev(2, 'a')], want: ['a2<a0', 'b1<'] },
    { name: 'nothing in, nothing out', events: [], want: [] },
  ])('$name', ({ events, want }) => {
    expect(shape(events)).toEqual(want);
  });

  it('a person\'s works fall in successive waves; different people share a wave', () => {
    const works = coalesce([ev(0, 'a'), ev(1, 'a', 'log'), ev(2, 'b'), ev(3, 'a')]);
    expect(waves(works).map((w) => w.map((x) => x.carrier.event))).toEqual([['a0', 'b2'], ['a1'], ['a3']]);
  });

  it.each([
    { finished: [true, true, false, true], want: 2 },
    { finished: [false, true], want: 0 },
    { finished: [true, true], want: 2 },
    { finished: [], want: 0 },
  ])('the offset moves past the finished prefix: $finished → $want', ({ finished, want }) => {
    expect(finishedPrefix(finished)).toBe(want);
  });
});
