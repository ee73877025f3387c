import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { EventCodec, schemaText } from '../../src/schemas/codec.js';

// The public result events are FULL compatible in the registry (each version readable by readers of
// the previous one and the other way round); tilgang's own events BACKWARD. A results subject an
// earlier tilgang left at BACKWARD is tightened to FULL when registered.
const cfg = loadConfig('tilgang.example.yaml');
const url = cfg.registry.url;
const level = async (subject: string) => ((await (await fetch(`${url}/config/${encodeURIComponent(subject)}`)).json()) as { compatibilityLevel: string }).compatibilityLevel;

describe('schema registry compatibility levels', () => {
  it('provisioning.result is registered FULL, person.changed BACKWARD', async () => {
    const id = randomUUID().slice(0, 8);
    const codec = new EventCodec(cfg.registry);
    await codec.register('ProvisioningResult', `test.${id}.provisioning.result`);
    await codec.register('PersonChanged', `test.${id}.person.changed`);
    expect(await level(`test.${id}.provisioning.result-value`)).toBe('FULL');
    expect(await level(`test.${id}.person.changed-value`)).toBe('BACKWARD');
  });

  it('a results subject left at BACKWARD, with the schema before docs and enum defaults, is tightened to FULL and takes the new version', async () => {
    const subject = `test.${randomUUID().slice(0, 8)}.provisioning.result-value`;
    const before = JSON.parse(schemaText('ProvisioningResult'), (k, v) => (k === 'doc' ? undefined : v));
    const strip = (t: any): void => { if (t && typeof t === 'object') { if (t.type === 'enum') delete t.default; Object.values(t).forEach(strip); } };
    strip(before);
    const put = await fetch(`${url}/config/${subject}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' }, body: JSON.stringify({ compatibility: 'BACKWARD' }) });
    expect(put.ok).toBe(true);
    const old = await fetch(`${url}/subjects/${subject}/versions`, { method: 'POST', headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' }, body: JSON.stringify({ schema: JSON.stringify(before) }) });
    expect(old.ok).toBe(true);
    expect(await level(subject)).toBe('BACKWARD');
    const codec = new EventCodec(cfg.registry);
    await codec.register('ProvisioningResult', subject.replace(/-value$/, ''));
    expect(await level(subject)).toBe('FULL');
    const versions = (await (await fetch(`${url}/subjects/${subject}/versions`)).json()) as number[];
    expect(versions).toHaveLength(2);
  });
});
