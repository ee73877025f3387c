import { readFileSync, readdirSync } from 'node:fs';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';

// The event schemas as a subscriber reads them: every field says what it is, and every enum has a
// default symbol, so a symbol added later reads as that default in an older reader instead of failing.
type Avro = string | Avro[] | { type: Avro; name?: string; fields?: { name: string; type: Avro; doc?: string }[]; symbols?: string[]; default?: unknown; items?: Avro; values?: Avro };

const files = readdirSync('avro').filter((f) => f.endsWith('.avsc'));
const schema = (f: string) => JSON.parse(readFileSync(`avro/${f}`, 'utf8')) as Avro;

function walk(t: Avro, path: string, visit: (kind: 'field' | 'enum', path: string, node: any) => void): void {
  if (Array.isArray(t)) return t.forEach((x) => walk(x, path, visit));
  if (typeof t !== 'object') return;
  if (t.type === 'record') for (const f of t.fields ?? []) { visit('field', `${path}.${f.name}`, f); walk(f.type, `${path}.${f.name}`, visit); }
  else if (t.type === 'enum') visit('enum', path, t);
  else if (t.type === 'array') walk(t.items!, `${path}[]`, visit);
  else if (t.type === 'map') walk(t.values!, `${path}{}`, visit);
  else walk(t.type, path, visit);
}

describe('Avro schemas', () => {
  it('has a doc on every field of every schema', () => {
    const missing: string[] = [];
    for (const f of files) walk(schema(f), f, (kind, path, node) => { if (kind === 'field' && !node.doc) missing.push(path); });
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(missing).toEqual([]);
  });

  it('gives every enum a default that is one of its symbols', () => {
    const bad: string[] = [];
    let enums = 0;
    for (const f of files) walk(schema(f), f, (kind, path, node) => { if (kind === 'enum') { enums++; if (!node.symbols.includes(node.default)) bad.push(`${path} (${node.name})`); } });
    expect(enums).toBeGreaterThan(0);
    expect(bad).toEqual([]);
  });

  it('a result written with a newer outcome symbol is read by the current schema as FAILED, not refused', () => {
    const current = avro.Type.forSchema(schema('ProvisioningResult.avsc') as avro.Schema);
    const newer = JSON.parse(readFileSync('avro/ProvisioningResult.avsc', 'utf8'));
    const outcome = newer.fields.find((f: { name: string }) => f.name === 'outcome');
    outcome.type.symbols = [...outcome.type.symbols, 'ESCALATED'];
    const writer = avro.Type.forSchema(newer);
    const bytes = writer.toBuffer({
      eventId: 'e', sourceEventId: 's', personId: 'p', target: 't', runId: null, mode: 'LIVE', logOnly: false, outcome: 'ESCALATED',
      skipReason: null, entitled: null, accountId: null, operations: [], error: null, counters: {}, writeback: {}, durationMs: 1, coalescedInto: null, processedAt: 0,
    });
    const read = current.fromBuffer(bytes, current.createResolver(writer)) as { outcome: string; personId: string };
    expect(read.outcome).toBe('FAILED');
    expect(read.personId).toBe('p');
  });
});
