import { describe, expect, it } from 'vitest';
import { SettlingStates } from '../../src/lib/kafka.js';

describe('kafkajs start-up states in the log', () => {
  it.each([
    'The group coordinator is not available',
    'This is not the correct coordinator for this group',
    'Failed to find group coordinator',
    'There is no leader for this topic-partition as we are in the middle of a leadership election',
    'This server does not host this topic-partition',
    'Topic with this name already exists',
    'Topic creation errors Response CreateTopics(key: 19, version: 3)',
  ])('"%s" is expected while young, a warning once it lasts', (text) => {
    let now = 0;
    const s = new SettlingStates(30_000, () => now);
    expect(s.classify(text)).toBe('expected');
    now = 20_000;
    expect(s.classify(text)).toBe('expected');
    now = 31_000;
    expect(s.classify(text)).toBe('lasting');
    // Gone for longer than the grace: the next sighting is a fresh start.
    now = 100_000;
    expect(s.classify(text)).toBe('expected');
  });

  it('leaves every other message alone', () => {
    const s = new SettlingStates();
    expect(s.classify('Producer attempted an operation with an old epoch')).toBeUndefined();
    expect(s.classify('Connection timeout')).toBeUndefined();
  });
});
