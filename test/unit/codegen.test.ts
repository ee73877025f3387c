import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateTypes } from '../../src/schemas/codegen.js';

describe('generated event types', () => {
  it('src/schemas/generated.ts is what avro/ generates (run `npm run avro:types` after changing a schema)', () => {
    expect(readFileSync('src/schemas/generated.ts', 'utf8')).toBe(generateTypes('avro'));
  });

  it('a schema changed without regenerating shows up as a difference', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tilgang-avro-'));
    cpSync('avro', dir, { recursive: true });
    const file = join(dir, 'PersonChanged.avsc');
    const schema = JSON.parse(readFileSync(file, 'utf8')) as { fields: { name: string; type: unknown }[] };
    schema.fields.push({ name: 'addedLater', type: 'string' });
    writeFileSync(file, JSON.stringify(schema));
    const generated = generateTypes(dir);
    expect(generated).toContain('addedLater: string;');
    expect(generated).not.toBe(readFileSync('src/schemas/generated.ts', 'utf8'));
  });
});
