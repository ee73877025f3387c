/**
 * Generates TypeScript types from the Avro schemas in avro/, so the events' types are the schemas'
 * and cannot drift: `npm run avro:types` writes src/schemas/generated.ts, a test checks it is current.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type Avro = string | AvroObject | Avro[];
interface AvroObject { type: Avro; name?: string; fields?: { name: string; type: Avro; doc?: string; default?: unknown }[]; symbols?: string[]; items?: Avro; values?: Avro; logicalType?: string; doc?: string }

export function generateTypes(avroDir: string): string {
  const decls: string[] = [];
  const seen = new Set<string>();
  const ts = (t: Avro): string => {
    if (Array.isArray(t)) return t.map(ts).join(' | ');
    if (typeof t === 'string') {
      const prim: Record<string, string> = { null: 'null', boolean: 'boolean', int: 'number', long: 'number', float: 'number', double: 'number', string: 'string', bytes: 'Buffer' };
      return prim[t] ?? t.split('.').pop()!;
    }
    switch (t.type) {
      case 'record': {
        if (!seen.has(t.name!)) {
          seen.add(t.name!);
          const fields = (t.fields ?? []).map((f) => `${f.doc ? `  /** ${f.doc} */\n` : ''}  ${f.name}${f.default !== undefined ? '?' : ''}: ${ts(f.type)};`).join('\n');
          decls.push(`${t.doc ? `/** ${t.doc} */\n` : ''}export interface ${t.name} {\n${fields}\n}`);
        }
        return t.name!;
      }
      case 'enum':
        if (!seen.has(t.name!)) {
          seen.add(t.name!);
          decls.push(`export type ${t.name} = ${t.symbols!.map((s) => `'${s}'`).join(' | ')};`);
        }
        return t.name!;
      case 'array': return `Array<${ts(t.items!)}>`;
      case 'map': return `Record<string, ${ts(t.values!)}>`;
      default:
        if (t.logicalType === 'timestamp-millis') return 'number';
        return ts(t.type);
    }
  };
  for (const f of readdirSync(avroDir).filter((n) => n.endsWith('.avsc')).sort()) {
    ts(JSON.parse(readFileSync(join(avroDir, f), 'utf8')) as Avro);
  }
  return `// Generated from avro/*.avsc by src/schemas/codegen.ts (npm run avro:types). Do not edit.\n\n${decls.join('\n\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync('src/schemas/generated.ts', generateTypes('avro'));
}
