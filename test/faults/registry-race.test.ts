import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { EventCodec } from '../../src/schemas/codec.js';

// Workers that start together (a restart of every process, the fault suite) register a new topic's
// subject at once; the registry refuses all but the first ("already exists"), which stopped a worker at start.
describe('the first registration of a subject by several processes at once', () => {
  it('gives every one of them the same schema id', async () => {
    const url = loadConfig('tilgang.example.yaml').registry.url;
    for (let round = 0; round < 3; round++) {
      const topic = `test.race-${Date.now()}-${round}.provisioning.result`;
      const ids = await Promise.all(Array.from({ length: 8 }, () => new EventCodec(url).register('ProvisioningResult', topic)));
      expect(new Set(ids).size).toBe(1);
    }
  });
});
