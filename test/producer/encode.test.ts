import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { changeEvent } from '../../src/producers/publisher.js';
import { EventCodec } from '../../src/schemas/codec.js';

describe('encoding events a page at a time', () => {
  it('writes the same bytes as the registry client, for small events and ones larger than its buffer', async () => {
    const cfg = loadConfig('tilgang.example.yaml');
    const topic = `test.encode-${randomUUID().slice(0, 8)}.person.changed`;
    const codec = new EventCodec(cfg.registry.url);
    await codec.prepare('PersonChanged', topic);
    const event = (attrs: number) => changeEvent({
      position: '20261129031539.000001Z', csn: undefined, type: 'MODIFY', personId: randomUUID(), oldDn: 'idautoID=x,ou=Accounts,dc=meta',
      newDn: 'idautoID=x,ou=Accounts,dc=meta', changedAttributes: Array.from({ length: attrs }, (_, i) => `attribute${i}`), time: 1_795_000_000_000,
    });
    for (const e of [event(3), event(20_000), event(1)]) {
      const now = codec.encodeNow('PersonChanged', topic, e);
      expect(now.equals(await codec.encode('PersonChanged', topic, e))).toBe(true);
      expect(await codec.decode('PersonChanged', now)).toEqual(e);
    }
  });
});
