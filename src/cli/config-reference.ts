import { z } from 'zod';
import { ConfigSchema } from '../config.js';
import { loadTargets } from '../targets/index.js';

/**
 * The configuration reference, generated from the zod schemas (the core's and each target's), so
 * it names every key with its type and default and cannot drift from what is accepted.
 * `tilgang config reference > docs/configuration.md` writes it; a test checks it is current.
 */

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
}

export interface KeyRow { key: string; type: string; required: boolean; default?: unknown; description?: string }

const SECRET = /^a secret/;
const isObject = (s: JsonSchema) => s.type === 'object' || !!s.properties;

function typeOf(s: JsonSchema): string {
  if (s.description && SECRET.test(s.description)) return 'secret: `{ env: VAR }` or `{ file: path }`';
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}`;
  if (isObject(s)) return s.properties ? 'object' : 'map';
  const bounds = [s.minimum !== undefined && s.minimum > -Number.MAX_SAFE_INTEGER ? `≥ ${s.minimum}` : '', s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? `≤ ${s.maximum}` : ''].filter(Boolean).join(', ');
  const base = s.format === 'uri' ? 'URL' : String(s.type ?? 'any');
  return bounds ? `${base} (${bounds})` : base;
}

/** Every key under `prefix`, depth first; objects inside a union (e.g. `ssl: true | {…}`) are walked too. */
export function keyRows(s: JsonSchema, prefix: string, required = true): KeyRow[] {
  const rows: KeyRow[] = [];
  if (prefix) rows.push({ key: prefix, type: typeOf(s), required, default: s.default, description: s.description && !SECRET.test(s.description) ? s.description : undefined });
  if (s.description && SECRET.test(s.description)) return rows;
  const objects = [s, ...(s.anyOf ?? [])].filter((x) => x.properties);
  for (const o of objects) {
    for (const [k, v] of Object.entries(o.properties!)) rows.push(...keyRows(v, prefix ? `${prefix}.${k}` : k, (o.required ?? []).includes(k) && v.default === undefined));
  }
  if (typeof s.additionalProperties === 'object' && isObject(s.additionalProperties) && s.additionalProperties.properties) {
    rows.push(...keyRows(s.additionalProperties, `${prefix}.<name>`, true).map((r) => ({ ...r })));
  }
  return rows;
}

const toJson = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;

function table(rows: KeyRow[]): string {
  const cell = (v: string) => v.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = ['| key | type | default | notes |', '|---|---|---|---|'];
  for (const r of rows) {
    const dflt = r.default !== undefined ? `\`${cell(JSON.stringify(r.default))}\`` : r.required ? '**required**' : '—';
    lines.push(`| \`${r.key}\` | ${r.type} | ${dflt} | ${cell(r.description ?? '')} |`);
  }
  return lines.join('\n');
}

/** The whole reference in Markdown: the core's keys, then each target's block. */
export async function configReference(): Promise<string> {
  const out = [
    '# Configuration reference',
    '',
    'Generated from the configuration schemas by `tilgang config reference`; a test fails when it is not current.',
    'Every key is checked at start: an unknown key, a wrong type, or a plain string where a secret belongs stops the command with the key\'s path.',
    'A secret is never written in the file: `{ env: VARIABLE }` reads an environment variable, `{ file: path }` a file (trimmed).',
    '',
    '## Core',
    '',
    table(keyRows(toJson(ConfigSchema.omit({ targets: true })), '')),
  ];
  for (const [name, t] of await loadTargets()) {
    out.push('', `## targets.${name}`, '', 'Present and without `enabled: false`: the target is enabled and its block is checked at start.', '',
      table(keyRows(toJson(t.config as z.ZodType), `targets.${name}`).slice(1)));
  }
  return `${out.join('\n')}\n`;
}
